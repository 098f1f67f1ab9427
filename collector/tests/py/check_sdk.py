"""Checks the rows firn-collector wrote for sdk_send.py, field by field, with pyarrow and
DuckDB. Usage: check_sdk.py OUTPUT_DIR IDS_JSON. Expected values are written by hand from
what sdk_send.py sent and the layout in SPCS.md section 4."""
import glob
import json
import os
import sys

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

out, ids = sys.argv[1], json.loads(sys.argv[2])
files = [f for f in glob.glob(os.path.join(out, "**", "*.parquet"), recursive=True)
         if not os.path.basename(f).startswith(".")]
assert files, f"no Parquet files in {out}"
table = pa.concat_tables([pq.read_table(f) for f in files])
# Nanosecond timestamps as integers (Python's datetime has only microseconds).
for name in ("TIMESTAMP", "START_TIMESTAMP", "OBSERVED_TIMESTAMP"):
    i = table.schema.get_field_index(name)
    table = table.set_column(i, name, table.column(name).cast(pa.int64()))
rows = table.to_pylist()
J = lambda v: None if v is None else json.loads(v)
ts = lambda v: v


def expect(cond, what):
    if not cond:
        print(f"FAILED: {what}", file=sys.stderr)
        sys.exit(1)


def one(kind, pred, what):
    found = [r for r in rows if r["RECORD_TYPE"] == kind and pred(r)]
    expect(len(found) == 1, f"exactly one {kind} row for {what}, found {len(found)}")
    return found[0]


for r in rows:
    res = J(r["RESOURCE_ATTRIBUTES"])
    expect(res["service.name"] == "sdk-test", f"service.name in {res}")
    expect(res["snow.service.name"] == "echo", f"snow.service.name in {res}")

# Logs
log = one("LOG", lambda r: J(r["VALUE"]) == "disk sda full", "the warning")
rec = J(log["RECORD"])
expect(rec["severity_number"] == 13, f"WARN is severity 13: {rec}")
expect(rec["severity_text"] in ("WARN", "WARNING"), f"severity text: {rec}")
expect(J(log["RECORD_ATTRIBUTES"])["user.id"] == 42, f"log attributes {log['RECORD_ATTRIBUTES']}")
expect(J(log["TRACE"]) == {"trace_id": ids["trace_id"], "span_id": ids["checkout"]}, f"log TRACE {log['TRACE']}")
expect(J(log["SCOPE"])["name"] == "app", f"log SCOPE {log['SCOPE']}")
expect(ts(log["TIMESTAMP"]) > 1_600_000_000 * 10**9, "log TIMESTAMP is a real time")

# Spans
checkout = one("SPAN", lambda r: J(r["RECORD"])["name"] == "checkout", "checkout")
rec = J(checkout["RECORD"])
expect(rec["kind"] == "SPAN_KIND_SERVER", f"checkout kind {rec}")
expect("parent_span_id" not in rec, f"checkout is a root span {rec}")
expect(J(checkout["TRACE"]) == {"trace_id": ids["trace_id"], "span_id": ids["checkout"]}, "checkout TRACE")
expect(J(checkout["RECORD_ATTRIBUTES"]) == {"http.method": "GET"}, "checkout attributes")
expect(J(checkout["SCOPE"]) == {"name": "shop", "version": "1.2.3"}, f"span SCOPE {checkout['SCOPE']}")
expect(ts(checkout["START_TIMESTAMP"]) <= ts(checkout["TIMESTAMP"]), "span start <= end")
db = one("SPAN", lambda r: J(r["RECORD"])["name"] == "db", "db")
rec = J(db["RECORD"])
expect(rec["kind"] == "SPAN_KIND_CLIENT", f"db kind {rec}")
expect(rec["parent_span_id"] == ids["checkout"], f"db parent {rec}")
expect(rec["status"] == {"code": "STATUS_CODE_ERROR", "message": "boom"}, f"db status {rec}")
ev = one("SPAN_EVENT", lambda r: True, "retry")
expect(J(ev["RECORD"]) == {"name": "retry"}, f"event RECORD {ev['RECORD']}")
expect(J(ev["RECORD_ATTRIBUTES"]) == {"attempt": 2}, "event attributes")
expect(J(ev["TRACE"]) == J(checkout["TRACE"]), "event TRACE is its span's")

# Metrics
def metric(name):
    return one("METRIC", lambda r: J(r["RECORD"])["metric"]["name"] == name, name)

m = metric("requests")
rec = J(m["RECORD"])
expect(rec["metric"] == {"name": "requests", "description": "Requests served", "unit": "1"}, f"counter metric {rec}")
expect(rec["metric_type"] == "sum" and rec["is_monotonic"] is True, f"counter is a monotonic sum {rec}")
expect(rec["aggregation_temporality"] == "AGGREGATION_TEMPORALITY_CUMULATIVE", f"temporality {rec}")
expect(rec["value_type"] == "INT", f"value type {rec}")
expect(J(m["VALUE"]) == 5, f"counter value {m['VALUE']}")
expect(J(m["RECORD_ATTRIBUTES"]) == {"route": "/a"}, "counter attributes")
expect(m["START_TIMESTAMP"] is not None and ts(m["START_TIMESTAMP"]) <= ts(m["TIMESTAMP"]), "sum START_TIMESTAMP")
expect(J(m["SCOPE"])["name"] == "shop.metrics", "metric scope")

g = metric("temperature")
rec = J(g["RECORD"])
expect(rec["metric_type"] == "gauge" and rec["value_type"] == "DOUBLE", f"gauge {rec}")
expect(rec["metric"]["unit"] == "Cel", f"gauge unit {rec}")
expect(J(g["VALUE"]) == 21.5, f"gauge value {g['VALUE']}")
expect(J(g["RECORD_ATTRIBUTES"]) == {"room": "lab"}, "gauge attributes")

h = metric("latency")
rec = J(h["RECORD"])
expect(rec["metric_type"] == "histogram", f"histogram {rec}")
expect(rec["metric"]["unit"] == "ms", f"histogram unit {rec}")
v = J(h["VALUE"])
expect(v["count"] == 2 and v["sum"] == 20 and v["min"] == 5 and v["max"] == 15, f"histogram value {v}")
expect(len(v["bucket_counts"]) == len(v["explicit_bounds"]) + 1, f"buckets {v}")
expect(sum(v["bucket_counts"]) == 2, f"bucket counts {v}")
bounds = v["explicit_bounds"]
expect(v["bucket_counts"][bounds.index(5.0)] == 1, f"5 falls in the bucket (0, 5] {v}")

# The same through DuckDB's own Parquet and JSON readers.
con = duckdb.connect()
pattern = os.path.join(out, "**", "*.parquet")
got = con.execute(
    f"""SELECT RECORD_TYPE, count(*) FROM read_parquet('{pattern}') GROUP BY 1 ORDER BY 1"""
).fetchall()
expect(dict(got) == {"LOG": 1, "METRIC": 3, "SPAN": 2, "SPAN_EVENT": 1}, f"row counts by type {got}")
got = con.execute(
    f"""SELECT json_extract_string(RECORD, '$.metric.name'), VALUE::VARCHAR,
               json_extract_string(RECORD, '$.metric_type')
        FROM read_parquet('{pattern}') WHERE RECORD_TYPE = 'METRIC'
          AND json_extract_string(RECORD, '$.metric_type') IN ('sum', 'gauge') ORDER BY 1"""
).fetchall()
expect(got == [("requests", "5", "sum"), ("temperature", "21.5", "gauge")], f"DuckDB metrics {got}")
got = con.execute(
    f"""SELECT json_extract_string(TRACE, '$.span_id') FROM read_parquet('{pattern}')
        WHERE RECORD_TYPE = 'SPAN' AND json_extract_string(RECORD, '$.parent_span_id') = '{ids["checkout"]}'"""
).fetchall()
expect(got == [(ids["db"],)], f"DuckDB finds the child span by parent id {got}")
print("ok", len(rows), "rows")
