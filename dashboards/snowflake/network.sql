-- Network: the latest egress counters of each container (the platform's network group).
-- Snowflake (a Snowsight tile): over FIRN_EVENTS, the table schemas/snowflake/event_table.sql
-- creates and loads, or over an event table (the same columns): replace FIRN_EVENTS with its
-- name. The same panel as dashboards/duckdb/network.sql.
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
    WHERE name LIKE 'network.%'
)
SELECT service, container,
       max(CASE WHEN name = 'network.egress.received.bytes' THEN value END) AS received_bytes,
       max(CASE WHEN name = 'network.egress.transmitted.bytes' THEN value END) AS transmitted_bytes,
       max(CASE WHEN name = 'network.egress.denied.packets' THEN value END) AS denied_packets
FROM latest
WHERE rn = 1
GROUP BY service, container
ORDER BY service, container;
