#!/usr/bin/env python3
"""Builds firn.json, the Grafana dashboard, from the DuckDB panels in dashboards/duckdb/.

    python3 dashboards/grafana/build.py > dashboards/grafana/firn.json

Each panel runs its file's SQL unchanged through the DuckDB data source plugin
(motherduck-duckdb-datasource), whose "Init SQL" loads the views (see README.md here). A
test (collector/tests/dashboards_sql.rs) checks firn.json is what this script builds, and
runs every panel's SQL over real firn Parquet.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DUCKDB = os.path.join(HERE, "..", "duckdb")

# (file, title, panel type, width, height): the same panels as the web dashboard.
PANELS = [
    ("services.sql", "Services and containers", "table", 24, 6),
    ("log_volume.sql", "Log volume by severity (per hour)", "barchart", 12, 8),
    ("error_rate.sql", "Error rate (per hour)", "barchart", 12, 8),
    ("resources.sql", "CPU and memory against limits", "table", 12, 6),
    ("restarts.sql", "Restarts and last exit", "table", 12, 6),
    ("network.sql", "Network", "table", 12, 6),
    ("storage.sql", "Storage", "table", 12, 6),
    ("log_search.sql", "Log search (edit params in the query)", "table", 24, 10),
]


def build():
    panels = []
    x = y = 0
    row_h = 0
    for i, (file, title, kind, w, h) in enumerate(PANELS):
        with open(os.path.join(DUCKDB, file)) as f:
            sql = f.read()
        if x + w > 24:
            x, y, row_h = 0, y + row_h, 0
        panels.append({
            "id": i + 1,
            "type": kind,
            "title": title,
            "description": f"dashboards/duckdb/{file}",
            "gridPos": {"x": x, "y": y, "w": w, "h": h},
            "datasource": {"type": "motherduck-duckdb-datasource", "uid": "${datasource}"},
            "targets": [{"refId": "A", "rawSql": sql, "format": "table",
                         "datasource": {"type": "motherduck-duckdb-datasource", "uid": "${datasource}"}}],
        })
        x += w
        row_h = max(row_h, h)
    return {
        "title": "firn: logs and platform metrics",
        "uid": "firn-overview",
        "schemaVersion": 39,
        "time": {"from": "now-7d", "to": "now"},
        "refresh": "1m",
        "tags": ["firn", "snowflake", "spcs"],
        "templating": {"list": [{
            "name": "datasource", "label": "DuckDB with firn's views", "type": "datasource",
            "query": "motherduck-duckdb-datasource",
        }]},
        "panels": panels,
    }


if __name__ == "__main__":
    json.dump(build(), sys.stdout, indent=2)
    sys.stdout.write("\n")
