-- Services and containers seen: log lines, errors (ERROR and FATAL), metric points, first and last seen.
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
