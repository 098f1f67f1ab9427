#!/usr/bin/env python3
"""Query firn's Parquet output with DuckDB through the views in schemas/duckdb/views.sql.

    python3 dashboards/duckdb/query.py OUTPUT_DIR                 # a summary
    python3 dashboards/duckdb/query.py OUTPUT_DIR "SELECT ..."    # any SQL over events, logs, metrics

Needs `pip install duckdb`.
"""
import os
import sys

try:
    import duckdb
except ImportError:
    sys.exit("query.py needs DuckDB: python3 -m pip install duckdb")

HERE = os.path.dirname(os.path.abspath(__file__))
VIEWS = os.path.join(HERE, "..", "..", "schemas", "duckdb", "views.sql")

SUMMARY = [
    ("Rows by type", "SELECT RECORD_TYPE, count(*) AS rows FROM events GROUP BY ALL ORDER BY rows DESC"),
    ("Log lines by file and severity",
     "SELECT coalesce(file, stream) AS source, severity, count(*) AS lines FROM logs GROUP BY ALL ORDER BY ALL"),
    ("Latest log lines", "SELECT ts, severity, coalesce(file, stream) AS source, left(message, 80) AS message "
                         "FROM logs ORDER BY ts DESC LIMIT 8"),
]


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(sys.argv) >= 2 else 2
    out = sys.argv[1]
    glob = os.path.join(out, "**", "*.parquet")
    con = duckdb.connect()
    con.execute("SET VARIABLE firn_files = ?", [glob])
    with open(VIEWS) as f:
        con.execute(f.read())
    if len(sys.argv) > 2:
        print(con.sql(sys.argv[2]))
        return 0
    for title, sql in SUMMARY:
        print(f"-- {title}")
        print(con.sql(sql))
    return 0


if __name__ == "__main__":
    sys.exit(main())
