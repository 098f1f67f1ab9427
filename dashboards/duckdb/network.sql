-- Network: the latest egress counters of each container (the platform's network group).
WITH latest AS (
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
