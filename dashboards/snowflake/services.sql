-- Services and containers seen: log lines, errors (ERROR and FATAL), metric points, first and last seen.
-- Snowflake (a Snowsight tile): over FIRN_EVENTS, the table schemas/snowflake/event_table.sql
-- creates and loads, or over an event table (the same columns): replace FIRN_EVENTS with its
-- name. The same panel as dashboards/duckdb/services.sql.
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
SELECT service, container,
       sum(lines) AS log_lines, sum(errors) AS errors, sum(points) AS metric_points,
       min(ts) AS first_seen, max(ts) AS last_seen
FROM (
    SELECT service, container, ts, 1 AS lines,
           CASE WHEN severity_number >= 17 THEN 1 ELSE 0 END AS errors, 0 AS points
    FROM logs
    UNION ALL
    SELECT service, container, ts, 0 AS lines, 0 AS errors, 1 AS points
    FROM metrics
) AS seen
GROUP BY service, container
ORDER BY service, container;
