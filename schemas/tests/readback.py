"""Checks firn's Parquet files with pyarrow and DuckDB: readers firn did not write.

Called by readback.rs with the output folder and the DuckDB views file.
"""
import glob
import json
import os
import sys

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

out, views = sys.argv[1], sys.argv[2]
files = sorted(glob.glob(os.path.join(out, "**", "*.parquet"), recursive=True))
assert files, f"no parquet file under {out}"

COLUMNS = ["TIMESTAMP", "START_TIMESTAMP", "OBSERVED_TIMESTAMP", "TRACE", "RESOURCE",
           "RESOURCE_ATTRIBUTES", "SCOPE", "SCOPE_ATTRIBUTES", "RECORD_TYPE", "RECORD",
           "RECORD_ATTRIBUTES", "VALUE", "EXEMPLARS"]
JSON_COLUMNS = set(COLUMNS) - {"TIMESTAMP", "START_TIMESTAMP", "OBSERVED_TIMESTAMP", "RECORD_TYPE"}

# --- pyarrow: Parquet logical types, straight from the footer ---
pf = pq.ParquetFile(files[0])
schema = pf.schema
assert [schema.column(i).name for i in range(len(schema))] == COLUMNS, schema
for i in range(len(schema)):
    col = schema.column(i)
    lt = col.logical_type
    if col.name.endswith("TIMESTAMP"):
        assert col.physical_type == "INT64", col
        assert lt.type == "TIMESTAMP", lt
        d = json.loads(lt.to_json())
        assert d["isAdjustedToUTC"] is False and d["timeUnit"] == "nanoseconds", d
    elif col.name in JSON_COLUMNS:
        assert lt.type == "JSON", (col.name, lt)
    else:
        assert lt.type == "STRING", (col.name, lt)
meta = pf.metadata.metadata
assert meta[b"firn.writer"].startswith(b"firn "), meta
assert meta[b"firn.rows"] == b"1201", meta

table = pa.concat_tables([pq.read_table(f) for f in files])
assert table.num_rows == 1201, table.num_rows
ts_type = table.schema.field("TIMESTAMP").type
assert pa.types.is_timestamp(ts_type) and ts_type.unit == "ns" and ts_type.tz is None, ts_type
# Nanoseconds do not fit Python datetimes: compare the raw integers.
for name in ("TIMESTAMP", "START_TIMESTAMP", "OBSERVED_TIMESTAMP"):
    i = table.schema.get_field_index(name)
    table = table.set_column(i, name, table.column(name).cast(pa.int64()))
rows = table.to_pylist()
kinds = {}
for r in rows:
    kinds[r["RECORD_TYPE"]] = kinds.get(r["RECORD_TYPE"], 0) + 1
assert kinds == {"LOG": 1000, "METRIC": 200, "EVENT": 1}, kinds


def j(v):
    # pyarrow may hand JSON columns back as str or as an extension scalar's storage
    return None if v is None else json.loads(v)


first = rows[0]
assert first["TIMESTAMP"] == 1_763_900_000_123_456_789, first["TIMESTAMP"]
assert j(first["VALUE"]) == 'request 0 served "quoted" \\ tab\t café', first["VALUE"]
assert j(first["RECORD"]) == {"severity_text": "ERROR", "severity_number": 17}, first["RECORD"]
assert j(first["RECORD_ATTRIBUTES"]) == {"log.iostream": "stderr"}
assert j(first["TRACE"])["span_id"] == "00f067aa0ba902b7"
assert j(first["RESOURCE_ATTRIBUTES"])["snow.service.name"] == "echo_service"
assert j(first["SCOPE"]) == {"name": "orders"}
# Absent values are NULL, never "".
for r in rows:
    for c in JSON_COLUMNS:
        assert r[c] != "", (c, r)
assert first["RESOURCE"] is None and first["EXEMPLARS"] is None and first["START_TIMESTAMP"] is None
assert rows[1]["TRACE"] is None

# --- DuckDB: raw read and the generated views ---
con = duckdb.connect()
con.execute("SET VARIABLE firn_files = ?", [os.path.join(out, "**", "*.parquet")])
with open(views) as f:
    con.execute(f.read())
n = con.execute("SELECT count(*) FROM events").fetchone()[0]
assert n == 1201, n
t = con.execute("SELECT typeof(\"TIMESTAMP\") FROM events LIMIT 1").fetchone()[0]
assert t in ("TIMESTAMP_NS", "TIMESTAMP"), t
logs = con.execute("SELECT count(*), count(*) FILTER (WHERE severity = 'ERROR'), "
               "count(*) FILTER (WHERE stream = 'stderr'), any_value(service) FROM logs").fetchone()
assert logs == (1000, 100, 100, "echo_service"), logs
msg = con.execute("SELECT message FROM logs ORDER BY ts LIMIT 1").fetchone()[0]
assert msg == 'request 0 served "quoted" \\ tab\t café', msg
m = con.execute("SELECT name, unit, metric_type, sum(value), count(*) FROM metrics GROUP BY ALL ORDER BY name").fetchall()
assert m == [("container.cpu.usage", "cpu", "gauge", 0.25 * sum(range(100)), 100),
             ("container.restarts", "restarts", "sum", float(sum(range(100))), 100)], m
start = con.execute("SELECT count(*) FROM metrics WHERE start_ts IS NOT NULL").fetchone()[0]
assert start == 100, start
ev = con.execute("SELECT RECORD->>'name', VALUE->>'version' FROM events WHERE RECORD_TYPE = 'EVENT'").fetchone()
assert ev == ("deploy", "1.2.3"), ev
print("readback ok:", len(files), "file(s),", n, "rows")
