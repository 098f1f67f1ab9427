-- Restarts and the last exit of each container: latest restart count, reason and exit code.
WITH latest AS (
    SELECT service, container, name, attr(attributes, 'reason') AS reason, value,
           row_number() OVER (PARTITION BY service, container, name ORDER BY ts DESC) AS rn
    FROM metrics
    WHERE name IN ('container.restarts', 'container.state.last.finished.exitcode')
       OR (name = 'container.state.last.finished.reason' AND value = 1)
)
SELECT service, container,
       max(CASE WHEN name = 'container.restarts' THEN value END) AS restarts,
       max(CASE WHEN name = 'container.state.last.finished.reason' THEN reason END) AS last_exit_reason,
       max(CASE WHEN name = 'container.state.last.finished.exitcode' THEN value END) AS last_exit_code
FROM latest
WHERE rn = 1
GROUP BY service, container
ORDER BY service, container;
