-- Error rate: lines, errors (ERROR and FATAL) and their share per hour.
SELECT date_trunc('hour', ts) AS hour_start,
       count(*) AS lines,
       sum(CASE WHEN severity_number >= 17 THEN 1 ELSE 0 END) AS errors,
       round(sum(CASE WHEN severity_number >= 17 THEN 1 ELSE 0 END) / count(*), 4) AS error_rate
FROM logs
GROUP BY date_trunc('hour', ts)
ORDER BY hour_start;
