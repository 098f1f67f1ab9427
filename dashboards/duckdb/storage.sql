-- Storage: the latest usage and capacity of each volume of each container.
WITH latest AS (
    SELECT service, container, attr(attributes, 'volume') AS volume, name, value,
           row_number() OVER (PARTITION BY service, container, attr(attributes, 'volume'), name
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
