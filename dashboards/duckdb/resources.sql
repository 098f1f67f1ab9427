-- CPU and memory per container against its limit: the latest value of each.
WITH latest AS (
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
