-- Storage: the latest usage and capacity of each volume of each container.
-- Snowflake (a Snowsight tile): over FIRN_EVENTS, the table schemas/snowflake/event_table.sql
-- creates and loads, or over an event table (the same columns): replace FIRN_EVENTS with its
-- name. The same panel as dashboards/duckdb/storage.sql.
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
    SELECT service, container, attributes:volume::STRING AS volume, name, value,
           row_number() OVER (PARTITION BY service, container, attributes:volume::STRING, name
                              ORDER BY ts DESC) AS rn
    FROM metrics
    WHERE name IN ('volume.usage', 'volume.capacity')
)
SELECT service, container, volume,
       max(CASE WHEN name = 'volume.usage' THEN value END) AS used_bytes,
       max(CASE WHEN name = 'volume.capacity' THEN value END) AS capacity_bytes,
       round(100 * max(CASE WHEN name = 'volume.usage' THEN value END)
             / max(CASE WHEN name = 'volume.capacity' THEN value END), 1) AS used_pct
FROM latest
WHERE rn = 1
GROUP BY service, container, volume
ORDER BY service, container, volume;
