-- Error rate: lines, errors (ERROR and FATAL) and their share per hour.
-- Snowflake (a Snowsight tile): over FIRN_EVENTS, the table schemas/snowflake/event_table.sql
-- creates and loads, or over an event table (the same columns): replace FIRN_EVENTS with its
-- name. The same panel as dashboards/duckdb/error_rate.sql.
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
)
SELECT date_trunc('hour', ts) AS hour_start,
       count(*) AS lines,
       sum(CASE WHEN severity_number >= 17 THEN 1 ELSE 0 END) AS errors,
       round(sum(CASE WHEN severity_number >= 17 THEN 1 ELSE 0 END) / count(*), 4) AS error_rate
FROM logs
GROUP BY date_trunc('hour', ts)
ORDER BY hour_start;
