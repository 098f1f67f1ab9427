#!/usr/bin/env python3
"""Runs SQL with DuckDB over firn's Parquet through schemas/duckdb/views.sql.

    duckdb_query.py DATA_DIR VIEWS_SQL < queries.json

stdin: a JSON list of SQL texts. stdout: a JSON list, per query {"columns": [...], "rows":
[[...], ...]} or {"error": "..."}; timestamps and dates as ISO text (as firn-collector's JSON
output writes them), so the two engines' answers compare as plain JSON.
"""
import datetime
import decimal
import json
import os
import sys

import duckdb


def plain(v):
    if isinstance(v, datetime.datetime):
        return v.isoformat()
    if isinstance(v, datetime.date):
        return v.isoformat()
    if isinstance(v, decimal.Decimal):
        return float(v)
    return v


def main() -> int:
    data, views = sys.argv[1], sys.argv[2]
    queries = json.load(sys.stdin)
    con = duckdb.connect()
    con.execute("SET VARIABLE firn_files = ?", [os.path.join(data, "**", "*.parquet")])
    with open(views) as f:
        con.execute(f.read())
    out = []
    for sql in queries:
        try:
            cur = con.execute(sql)
            cols = [d[0] for d in cur.description]
            rows = [[plain(v) for v in r] for r in cur.fetchall()]
            out.append({"columns": cols, "rows": rows})
        except Exception as e:  # reported per query, so one bad query does not hide the rest
            out.append({"error": str(e)})
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
