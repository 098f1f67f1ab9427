-- Log search: set the filters in params (NULL: any), newest first, 20 lines a page
-- (OFFSET 20 for the next).
WITH params AS (
    SELECT CAST(NULL AS VARCHAR) AS service,
           'api' AS container,
           CAST(NULL AS VARCHAR) AS stream,
           9 AS min_severity_number,                 -- INFO and above
           'tick' AS text,
           TIMESTAMP '1970-01-01 00:00:00' AS ts_from,
           TIMESTAMP '2100-01-01 00:00:00' AS ts_to
)
SELECT l.ts, l.severity, l.service, l.container, l.stream, l.file, l.message
FROM logs AS l, params AS p
WHERE (p.service IS NULL OR l.service = p.service)
  AND (p.container IS NULL OR l.container = p.container)
  AND (p.stream IS NULL OR l.stream = p.stream)
  AND l.severity_number >= p.min_severity_number
  AND (p.text IS NULL OR contains(lower(l.message), lower(p.text)))
  AND l.ts >= p.ts_from AND l.ts < p.ts_to
ORDER BY l.ts DESC, l.message
LIMIT 20 OFFSET 0;
