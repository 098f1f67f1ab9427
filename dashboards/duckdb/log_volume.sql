-- Log volume by severity over time: lines per hour and severity.
SELECT date_trunc('hour', ts) AS hour_start, severity, count(*) AS lines
FROM logs
GROUP BY date_trunc('hour', ts), severity
ORDER BY hour_start, severity;
