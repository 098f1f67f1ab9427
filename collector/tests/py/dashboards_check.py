#!/usr/bin/env python3
"""Runs every SQL file in dashboards/ over real firn Parquet (the fixture of
collector/tests/common/fixture.rs) and checks the answers.

    dashboards_check.py DATA_DIR REPO_ROOT

- dashboards/duckdb/*.sql: run with DuckDB over schemas/duckdb/views.sql; answers written
  by hand from the fixture.
- dashboards/snowflake/*.sql: cannot run here (no Snowflake). Parsed with sqlglot's
  snowflake dialect, transpiled to DuckDB and run over a table FIRN_EVENTS holding the same
  rows (JSON columns as JSON); the answers must equal the DuckDB panel's. One gap is bridged
  before running: Snowflake's ::STRING of a VARIANT string is its text, DuckDB's CAST of JSON
  to TEXT keeps the quotes, so such casts become ->> (JSON text) here.
- dashboards/grafana/firn.json: what build.py makes, each panel's SQL a DuckDB file.
Prints "dashboards ok".
"""
import datetime as dt
import glob
import json
import os
import subprocess
import sys

import duckdb
import sqlglot
from sqlglot import exp

DATA, ROOT = sys.argv[1], sys.argv[2]
D = os.path.join(ROOT, "dashboards")
MIB, GIB = 1048576.0, 1073741824.0


def t(h, m=0, s=0):
    day = dt.datetime(2026, 11, 30)
    return day + dt.timedelta(hours=h, minutes=m, seconds=s)


EXPECTED = {
    "services.sql": [("shop", "api", 31, 1, 9, t(23, 10), t(25, 10, 25)),
                     ("shop", "worker", 4, 2, 7, t(24, 5), t(24, 9))],
    "log_volume.sql": [(t(23), "ERROR", 1), (t(23), "INFO", 1), (t(23), "WARN", 1),
                       (t(24), "ERROR", 1), (t(24), "FATAL", 1), (t(24), "INFO", 2),
                       (t(25), "DEBUG", 1), (t(25), "INFO", 27)],
    "error_rate.sql": [(t(23), 3, 1, 0.3333), (t(24), 4, 2, 0.5), (t(25), 28, 0, 0.0)],
    "resources.sql": [("shop", "api", 0.75, 2.0, 37.5, 100 * MIB, 512 * MIB, 19.5),
                      ("shop", "worker", 1.5, 2.0, 75.0, 500 * MIB, 512 * MIB, 97.7)],
    "restarts.sql": [("shop", "worker", 3.0, "FailedWithOOM", 137.0)],
    "network.sql": [("shop", "api", 1000.0, 2000.0, None)],
    "storage.sql": [("shop", "api", "logs", GIB, 10 * GIB, 10.0)],
    "log_search.sql": None,  # checked by its messages below
}


def norm(rows):
    out = []
    for r in rows:
        out.append(tuple(float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v for v in r))
    return out


def same(a, b):
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if len(x) != len(y):
            return False
        for p, q in zip(x, y):
            if isinstance(p, float) and isinstance(q, float):
                if abs(p - q) > 1e-9 * max(1.0, abs(q)):
                    return False
            elif p != q:
                return False
    return True


def to_duckdb(sql):
    """Snowflake -> DuckDB with sqlglot, bridging the ::STRING gap (see the module docs)."""
    tree = sqlglot.parse_one(sql, read="snowflake")

    def fix(node):
        if isinstance(node, exp.Cast) and node.to.this in (exp.DataType.Type.TEXT, exp.DataType.Type.VARCHAR):
            inner = node.this
            if isinstance(inner, exp.JSONExtract):
                return exp.JSONExtractScalar(this=inner.this, expression=inner.expression)
            if isinstance(inner, exp.Column) and inner.name.upper() == "VALUE":
                return exp.JSONExtractScalar(this=inner, expression=exp.Literal.string("$"))
        return node

    return tree.transform(fix).sql(dialect="duckdb")


def main():
    con = duckdb.connect()
    con.execute("SET VARIABLE firn_files = ?", [os.path.join(DATA, "**", "*.parquet")])
    with open(os.path.join(ROOT, "schemas", "duckdb", "views.sql")) as f:
        con.execute(f.read())
    con.execute("CREATE TABLE FIRN_EVENTS AS SELECT * EXCLUDE (date, hour) FROM events")

    files = sorted(os.path.basename(p) for p in glob.glob(os.path.join(D, "duckdb", "*.sql")))
    assert files == sorted(EXPECTED), f"panels {files} vs expected {sorted(EXPECTED)}"
    for f in files:
        with open(os.path.join(D, "duckdb", f)) as fh:
            got = norm(con.execute(fh.read()).fetchall())
        if f == "log_search.sql":
            msgs = [r[6] for r in got]
            assert msgs == [f"tick {i}" for i in range(25, 5, -1)], f"{f}: {msgs}"
        else:
            assert same(got, norm(EXPECTED[f])), f"duckdb/{f}:\n got  {got}\n want {norm(EXPECTED[f])}"

        sf_path = os.path.join(D, "snowflake", f)
        with open(sf_path) as fh:
            sf = fh.read()
        translated = to_duckdb(sf)
        try:
            theirs = norm(con.execute(translated).fetchall())
        except Exception as e:
            raise AssertionError(f"snowflake/{f} transpiled does not run: {e}\n{translated}")
        ours = got
        assert same(theirs, ours), f"snowflake/{f} differs:\n snowflake {theirs}\n duckdb    {ours}"

    sf_files = sorted(os.path.basename(p) for p in glob.glob(os.path.join(D, "snowflake", "*.sql")))
    assert sf_files == files, f"snowflake panels {sf_files} vs duckdb {files}"

    built = subprocess.run([sys.executable, os.path.join(D, "grafana", "build.py")],
                           capture_output=True, text=True, check=True).stdout
    with open(os.path.join(D, "grafana", "firn.json")) as fh:
        checked_in = fh.read()
    assert built == checked_in, "dashboards/grafana/firn.json is stale: run build.py"
    board = json.loads(checked_in)
    for p in board["panels"]:
        name = p["description"].split("/")[-1]
        with open(os.path.join(D, "duckdb", name)) as fh:
            assert p["targets"][0]["rawSql"] == fh.read(), name
    assert len(board["panels"]) == len(files)
    print("dashboards ok")


if __name__ == "__main__":
    main()
