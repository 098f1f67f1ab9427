-- CPU and memory per container against its limit: the latest value of each.
-- Snowflake (a Snowsight tile): over FIRN_EVENTS, the table schemas/snowflake/event_table.sql
-- creates and loads, or over an event table (the same columns): replace FIRN_EVENTS with its
-- name. The same panel as dashboards/duckdb/resources.sql.
WITH logs AS (
    SELECT "TIMESTAMP" AS ts,
           RECORD:severity_text::STRING AS severity,
           RECORD:severity_number::INT AS severity_number,
           VALUE::STRING AS message,
           RECORD_ATTRIBUTES:"log.iostream"::STRING AS stream,
           RECORD_ATTRIBUTES:"log.file.path"::STRING AS file,
           RESOURCE_ATTRIBUTES:"snow.service.name"::STRING AS service,
           RESOURCE_ATTRIBUTES:"snow.service.container.name"::STRING AS container
    FROM FIRN_EVENTS
    WHERE RECORD_TYPE = 'LOG'
),
metrics AS (
    SELECT "TIMESTAMP" AS ts,
           RECORD:metric.name::STRING AS name,
           TRY_TO_DOUBLE(VALUE::STRING) AS value,
           RECORD_ATTRIBUTES AS attributes,
           RESOURCE_ATTRIBUTES:"snow.service.name"::STRING AS service,
           RESOURCE_ATTRIBUTES:"snow.service.container.name"::STRING AS container
    FROM FIRN_EVENTS
    WHERE RECORD_TYPE = 'METRIC'
),
latest AS (
    SELECT service, container, name, value,
           row_number() OVER (PARTITION BY service, container, name ORDER BY ts DESC) AS rn
    FROM metrics
    WHERE name IN ('container.cpu.usage', 'container.cpu.limit',
                   'container.memory.usage', 'container.memory.limit')
)
SELECT service, container,
       max(CASE WHEN name = 'container.cpu.usage' THEN value END) AS cpu_cores,
       max(CASE WHEN name = 'container.cpu.limit' THEN value END) AS cpu_limit,
       round(100 * max(CASE WHEN name = 'container.cpu.usage' THEN value END)
             / max(CASE WHEN name = 'container.cpu.limit' THEN value END), 1) AS cpu_pct,
       max(CASE WHEN name = 'container.memory.usage' THEN value END) AS memory_bytes,
       max(CASE WHEN name = 'container.memory.limit' THEN value END) AS memory_limit_bytes,
       round(100 * max(CASE WHEN name = 'container.memory.usage' THEN value END)
             / max(CASE WHEN name = 'container.memory.limit' THEN value END), 1) AS memory_pct
FROM latest
WHERE rn = 1
GROUP BY service, container
ORDER BY service, container;
