//! The views `events`, `logs` and `metrics`, defined once and written out as SQL for each
//! engine that reads firn's files: DuckDB (`schemas/duckdb/views.sql`) and DataFusion
//! (`schemas/datafusion/views.sql`, loaded by `firn-collector query` and `serve`).
//!
//! The engines differ only in how they reach into JSON text: DuckDB with `->>`, DataFusion
//! with the collector's `attr(json, 'key', ...)`. Both get `attr` (DuckDB as a macro), so a
//! query written with it runs on either.
//!
//! `date` (DATE) and `hour` (INTEGER) are the hive-style folders a file lies in
//! (`date=YYYY-MM-DD/hour=HH/`, the hour the writer opened the file, UTC). A filter on them
//! skips whole folders without opening a file; a filter on `ts` skips files and row groups by
//! their TIMESTAMP statistics.

use std::fmt::Write as _;

use crate::columns::{COLUMNS, ColumnKind};

/// How a view column is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewExpr {
    /// An event-table column as it is.
    Column(&'static str),
    /// Text at a key path inside a JSON column (no keys: the value itself, unquoted).
    Json(&'static str, &'static [&'static str]),
    /// [`ViewExpr::Json`] cast to a SQL type, NULL where it does not convert.
    JsonAs(&'static str, &'static [&'static str], &'static str),
    /// A JSON column's text cast to a SQL type, NULL where it does not convert.
    ColumnAs(&'static str, &'static str),
    /// A column of the underlying files' relation (the partition columns).
    Partition(&'static str),
}

/// One column of a view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewColumn {
    /// Its name in the view.
    pub name: &'static str,
    /// How it is computed.
    pub expr: ViewExpr,
    /// What it holds, for the docs.
    pub doc: &'static str,
}

/// A view over `events`, keeping rows of one RECORD_TYPE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct View {
    /// The view's name.
    pub name: &'static str,
    /// RECORD_TYPE of its rows.
    pub record_type: &'static str,
    /// Its columns in order.
    pub columns: &'static [ViewColumn],
}

macro_rules! vc {
    ($name:literal, $expr:expr, $doc:literal) => {
        ViewColumn {
            name: $name,
            expr: $expr,
            doc: $doc,
        }
    };
}

use ViewExpr::{Column, ColumnAs, Json, JsonAs, Partition};

/// The partition columns every view ends with.
pub const PARTITION_COLUMNS: [ViewColumn; 2] = [
    vc!(
        "date",
        Partition("date"),
        "The `date=` folder of the file (UTC day the file was opened)."
    ),
    vc!(
        "hour",
        Partition("hour"),
        "The `hour=` folder of the file (0-23)."
    ),
];

/// `logs`: one row per log line.
pub const LOGS: View = View {
    name: "logs",
    record_type: "LOG",
    columns: &[
        vc!(
            "ts",
            Column("TIMESTAMP"),
            "When the line was written (UTC)."
        ),
        vc!(
            "observed_ts",
            Column("OBSERVED_TIMESTAMP"),
            "When it was read (UTC)."
        ),
        vc!(
            "severity",
            Json("RECORD", &["severity_text"]),
            "TRACE, DEBUG, INFO, WARN, ERROR or FATAL."
        ),
        vc!(
            "severity_number",
            JsonAs("RECORD", &["severity_number"], "INTEGER"),
            "OpenTelemetry severity number (INFO = 9, ERROR = 17)."
        ),
        vc!("message", Json("VALUE", &[]), "The line."),
        vc!(
            "stream",
            Json("RECORD_ATTRIBUTES", &["log.iostream"]),
            "stdout or stderr (captured streams and container logs)."
        ),
        vc!(
            "file",
            Json("RECORD_ATTRIBUTES", &["log.file.path"]),
            "The file the line was read from."
        ),
        vc!(
            "service",
            Json("RESOURCE_ATTRIBUTES", &["snow.service.name"]),
            "SPCS service name."
        ),
        vc!(
            "container",
            Json("RESOURCE_ATTRIBUTES", &["snow.service.container.name"]),
            "SPCS container name."
        ),
        vc!("scope", Json("SCOPE", &["name"]), "Instrumentation scope."),
        vc!(
            "attributes",
            Column("RECORD_ATTRIBUTES"),
            "All record attributes (JSON)."
        ),
        vc!(
            "resource",
            Column("RESOURCE_ATTRIBUTES"),
            "All resource attributes (JSON)."
        ),
    ],
};

/// `metrics`: one row per metric data point.
pub const METRICS: View = View {
    name: "metrics",
    record_type: "METRIC",
    columns: &[
        vc!("ts", Column("TIMESTAMP"), "When the value was taken (UTC)."),
        vc!(
            "start_ts",
            Column("START_TIMESTAMP"),
            "Start of a sum's interval."
        ),
        vc!(
            "name",
            Json("RECORD", &["metric", "name"]),
            "Metric name (container.cpu.usage, ...)."
        ),
        vc!("unit", Json("RECORD", &["metric", "unit"]), "Its unit."),
        vc!(
            "metric_type",
            Json("RECORD", &["metric_type"]),
            "gauge, sum, histogram, ..."
        ),
        vc!(
            "value",
            ColumnAs("VALUE", "DOUBLE"),
            "The number (NULL for histograms)."
        ),
        vc!(
            "attributes",
            Column("RECORD_ATTRIBUTES"),
            "Data point attributes (JSON)."
        ),
        vc!(
            "service",
            Json("RESOURCE_ATTRIBUTES", &["snow.service.name"]),
            "SPCS service name."
        ),
        vc!(
            "container",
            Json("RESOURCE_ATTRIBUTES", &["snow.service.container.name"]),
            "SPCS container name."
        ),
        vc!(
            "resource",
            Column("RESOURCE_ATTRIBUTES"),
            "All resource attributes (JSON)."
        ),
    ],
};

/// The views over `events`.
pub const VIEWS: [View; 2] = [LOGS, METRICS];

/// The SQL dialect a rendering is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// DuckDB: files through `read_parquet(getvariable('firn_files'), ...)`, JSON with `->>`.
    DuckDb,
    /// DataFusion in `firn-collector`: files through the table `firn_files`, JSON with `attr`.
    DataFusion,
}

fn sql_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The text at `keys` inside JSON column `col`, as the engine writes it.
fn json_expr(engine: Engine, col: &str, keys: &[&str]) -> String {
    match engine {
        Engine::DataFusion => {
            let mut s = format!("attr({col}");
            for k in keys {
                let _ = write!(s, ", {}", sql_str(k));
            }
            s.push(')');
            s
        }
        Engine::DuckDb => {
            let key = |k: &str| {
                if k.contains('.') {
                    sql_str(&format!("$.\"{k}\""))
                } else {
                    sql_str(k)
                }
            };
            match keys.split_last() {
                None => format!("{col} ->> '$'"),
                Some((last, path)) => {
                    let mut s = col.to_string();
                    for k in path {
                        let _ = write!(s, " -> {}", key(k));
                    }
                    let _ = write!(s, " ->> {}", key(last));
                    s
                }
            }
        }
    }
}

fn column_sql(engine: Engine, c: &ViewColumn) -> String {
    let body = match c.expr {
        Column(col) => {
            if col == "TIMESTAMP" {
                "\"TIMESTAMP\"".to_string()
            } else {
                col.to_string()
            }
        }
        Json(col, keys) => json_expr(engine, col, keys),
        JsonAs(col, keys, ty) => format!("TRY_CAST({} AS {ty})", json_expr(engine, col, keys)),
        ColumnAs(col, ty) => format!("TRY_CAST({col} AS {ty})"),
        Partition(p) => return p.to_string(),
    };
    format!("{body} AS {}", c.name)
}

/// The DuckDB macro `attr(json, 'key', ...)` with up to three keys, the same as the
/// collector's function.
const DUCKDB_ATTR: &str = "CREATE OR REPLACE MACRO attr(j) AS json_extract_string(j, '$'),\n\
    \x20   (j, k1) AS json_extract_string(j, '$.\"' || k1 || '\"'),\n\
    \x20   (j, k1, k2) AS json_extract_string(j, '$.\"' || k1 || '\".\"' || k2 || '\"'),\n\
    \x20   (j, k1, k2, k3) AS json_extract_string(j, '$.\"' || k1 || '\".\"' || k2 || '\".\"' || k3 || '\"');\n\n";

/// The views as SQL for `engine`.
pub fn views_sql(engine: Engine) -> String {
    let mut s = String::from("-- Generated by firn-schemas (schemas/src/views.rs); do not edit.\n");
    match engine {
        Engine::DuckDb => s.push_str(
            "-- Views over firn's Parquet files. First say where they are:\n\
             --   SET VARIABLE firn_files = 'out/**/*.parquet';\n\
             -- then run this file (duckdb -init schemas/duckdb/views.sql, or .read it).\n\
             -- The files must lie in firn's date=YYYY-MM-DD/hour=HH/ folders.\n\n",
        ),
        Engine::DataFusion => s.push_str(
            "-- The views firn-collector query and serve define over the table firn_files\n\
             -- (every Parquet file below --data, with its date= and hour= folders).\n\n",
        ),
    }
    if engine == Engine::DuckDb {
        s.push_str(
            "-- attr(json, 'key', ...): the text at a key path, as in firn-collector query.\n",
        );
        s.push_str(DUCKDB_ATTR);
    }
    s.push_str("CREATE OR REPLACE VIEW events AS\nSELECT\n");
    for c in COLUMNS.iter() {
        let expr = match (engine, c.kind) {
            (Engine::DuckDb, ColumnKind::Json) => format!("CAST({0} AS JSON) AS {0}", c.name),
            _ if c.name == "TIMESTAMP" => "\"TIMESTAMP\"".to_string(),
            _ => c.name.to_string(),
        };
        let _ = writeln!(s, "    {expr},");
    }
    for (i, p) in PARTITION_COLUMNS.iter().enumerate() {
        let sep = if i + 1 < PARTITION_COLUMNS.len() {
            ","
        } else {
            ""
        };
        let _ = writeln!(s, "    {}{sep}", column_sql(engine, p));
    }
    match engine {
        Engine::DuckDb => s.push_str(
            "FROM read_parquet(getvariable('firn_files'), union_by_name = true,\n\
             \x20   hive_partitioning = true, hive_types = {'date': DATE, 'hour': INTEGER});\n",
        ),
        Engine::DataFusion => s.push_str("FROM firn_files;\n"),
    }
    for v in VIEWS.iter() {
        let _ = write!(s, "\nCREATE OR REPLACE VIEW {} AS\nSELECT\n", v.name);
        let all: Vec<&ViewColumn> = v.columns.iter().chain(PARTITION_COLUMNS.iter()).collect();
        for (i, c) in all.iter().enumerate() {
            let sep = if i + 1 < all.len() { "," } else { "" };
            let _ = writeln!(s, "    {}{sep}", column_sql(engine, c));
        }
        let _ = writeln!(
            s,
            "FROM events\nWHERE RECORD_TYPE = {};",
            sql_str(v.record_type)
        );
    }
    s
}

/// The statements of [`views_sql`] one by one (engines that run one statement at a time).
pub fn views_statements(engine: Engine) -> Vec<String> {
    let sql = views_sql(engine);
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in sql.lines() {
        if line.trim_start().starts_with("--") {
            continue;
        }
        cur.push_str(line);
        cur.push('\n');
        if line.trim_end().ends_with(';') {
            out.push(
                std::mem::take(&mut cur)
                    .trim()
                    .trim_end_matches(';')
                    .to_string(),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_paths_per_engine() {
        assert_eq!(
            json_expr(Engine::DuckDb, "RECORD", &["metric", "name"]),
            "RECORD -> 'metric' ->> 'name'"
        );
        assert_eq!(
            json_expr(Engine::DuckDb, "RECORD_ATTRIBUTES", &["log.file.path"]),
            "RECORD_ATTRIBUTES ->> '$.\"log.file.path\"'"
        );
        assert_eq!(json_expr(Engine::DuckDb, "VALUE", &[]), "VALUE ->> '$'");
        assert_eq!(
            json_expr(Engine::DataFusion, "RECORD", &["metric", "name"]),
            "attr(RECORD, 'metric', 'name')"
        );
        assert_eq!(json_expr(Engine::DataFusion, "VALUE", &[]), "attr(VALUE)");
    }

    #[test]
    fn each_engine_gets_the_same_views_and_columns() {
        for engine in [Engine::DuckDb, Engine::DataFusion] {
            let stmts = views_statements(engine);
            let views: Vec<&str> = stmts
                .iter()
                .filter_map(|s| s.strip_prefix("CREATE OR REPLACE VIEW "))
                .map(|s| s.split_whitespace().next().unwrap_or(""))
                .collect();
            assert_eq!(views, ["events", "logs", "metrics"], "{engine:?}");
        }
    }
}
