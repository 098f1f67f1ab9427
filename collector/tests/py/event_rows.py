"""Reads event-table Parquet below a folder with pyarrow (and checks it with DuckDB), and prints
its LOG rows as one JSON object, for the end-to-end tests to compare: readers we did not write.

usage: event_rows.py DIR
prints {"rows": [{ts, observed, value, record, record_attributes, resource_attributes, scope}],
        "duckdb_log_rows": N, "duckdb_repeated_values": N}
JSON columns are parsed, so key order does not matter to the comparison.
"""
import json
import pathlib
import sys

import duckdb
import pyarrow.parquet as pq

root = pathlib.Path(sys.argv[1])
files = sorted(p for p in root.rglob("*.parquet") if not p.name.startswith("."))


def parsed(v):
    return None if v is None else json.loads(v)


rows = []
for f in files:
    t = pq.read_table(f)
    ts = t.column("TIMESTAMP").cast("int64").to_pylist()
    obs = t.column("OBSERVED_TIMESTAMP").cast("int64").to_pylist()
    cols = {c: t.column(c).to_pylist() for c in
            ["RECORD_TYPE", "VALUE", "RECORD", "RECORD_ATTRIBUTES", "RESOURCE_ATTRIBUTES", "SCOPE"]}
    for i in range(t.num_rows):
        if cols["RECORD_TYPE"][i] != "LOG":
            continue
        rows.append({
            "ts": ts[i],
            "observed": obs[i],
            "value": parsed(cols["VALUE"][i]),
            "record": parsed(cols["RECORD"][i]),
            "record_attributes": parsed(cols["RECORD_ATTRIBUTES"][i]),
            "resource_attributes": parsed(cols["RESOURCE_ATTRIBUTES"][i]),
            "scope": parsed(cols["SCOPE"][i]),
        })

out = {"rows": rows, "duckdb_log_rows": 0, "duckdb_repeated_values": 0}
if files:
    con = duckdb.connect()
    rel = "read_parquet([{}], union_by_name=true, hive_partitioning=false)".format(
        ",".join("'{}'".format(str(f).replace("'", "''")) for f in files))
    out["duckdb_log_rows"] = con.execute(
        f"SELECT count(*) FROM {rel} WHERE RECORD_TYPE = 'LOG'").fetchone()[0]
    out["duckdb_repeated_values"] = con.execute(
        f"SELECT count(*) FROM (SELECT VALUE FROM {rel} WHERE RECORD_TYPE = 'LOG' "
        "GROUP BY VALUE HAVING count(*) > 1)").fetchone()[0]
json.dump(out, sys.stdout)
