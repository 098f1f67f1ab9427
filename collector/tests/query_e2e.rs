//! `firn-collector query` end to end: the real binary over real firn Parquet (the fleet of
//! `common/fixture.rs`, and files the real agent wrote), answers worked out by hand from the
//! fixture, the same SQL through DuckDB agreeing, pruning shown by `--stats`, SQL errors with
//! their position and exit code 2.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::fixture;
use serde_json::{Value, json};

fn firn_query(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_firn-collector"))
        .arg("query")
        .arg("--data")
        .arg(data)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn firn_query_stdin(data: &Path, sql: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_firn-collector"))
        .arg("query")
        .arg("--data")
        .arg(data)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(sql.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// The JSON result of `sql`: one object per row.
fn json_result(data: &Path, sql: &str) -> Vec<serde_json::Map<String, Value>> {
    let out = firn_query(data, &["--format", "json", sql]);
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    v.as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_object().unwrap().clone())
        .collect()
}

/// The rows of `sql` as arrays in the SELECT list's order.
fn rows(data: &Path, sql: &str, columns: &[&str]) -> Vec<Vec<Value>> {
    json_result(data, sql)
        .into_iter()
        .map(|o| {
            columns
                .iter()
                .map(|c| o.get(*c).cloned().unwrap_or(Value::Null))
                .collect()
        })
        .collect()
}

fn fleet() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fixture::write_fleet(dir.path());
    dir
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// README (query): the views and `attr` give the answers the fixture's rows imply.
#[test]
fn views_and_attr_answer_as_worked_out_by_hand() {
    let dir = fleet();
    let d = dir.path();
    assert_eq!(
        rows(d, "SELECT count(*) AS n FROM logs", &["n"]),
        [[json!(35)]]
    );
    assert_eq!(
        rows(d, "SELECT count(*) AS n FROM metrics", &["n"]),
        [[json!(16)]]
    );
    assert_eq!(
        rows(
            d,
            "SELECT severity, count(*) AS n FROM logs GROUP BY severity ORDER BY severity",
            &["severity", "n"]
        ),
        [
            [json!("DEBUG"), json!(1)],
            [json!("ERROR"), json!(2)],
            [json!("FATAL"), json!(1)],
            [json!("INFO"), json!(30)],
            [json!("WARN"), json!(1)],
        ]
    );
    assert_eq!(
        rows(
            d,
            "SELECT container, count(*) AS n FROM logs WHERE severity_number >= 17 \
             GROUP BY container ORDER BY container",
            &["container", "n"]
        ),
        [[json!("api"), json!(1)], [json!("worker"), json!(2)]]
    );
    // A record attribute whose key has dots, as in Snowflake's RECORD_ATTRIBUTES['user.id'];
    // attr(VALUE) is the line itself.
    assert_eq!(
        rows(
            d,
            "SELECT attr(VALUE) AS line, attr(RECORD_ATTRIBUTES, 'log.file.path') AS f, \
             attr(RESOURCE_ATTRIBUTES, 'snow.service.container.name') AS c FROM events \
             WHERE attr(RECORD_ATTRIBUTES, 'user.id') = 'u-7'",
            &["line", "f", "c"]
        ),
        [[json!("GET /cart 200"), json!("/logs/api.log"), json!("api")]]
    );
    // Nested keys, and a metric attribute.
    assert_eq!(
        rows(
            d,
            "SELECT attr(RECORD, 'metric', 'name') AS name, \
             attr(RECORD_ATTRIBUTES, 'reason') AS reason, TRY_CAST(VALUE AS DOUBLE) AS value \
             FROM events WHERE attr(RECORD, 'metric', 'name') LIKE 'container.state.%' ORDER BY name",
            &["name", "reason", "value"]
        ),
        [
            [
                json!("container.state.last.finished.exitcode"),
                json!(null),
                json!(137.0)
            ],
            [
                json!("container.state.last.finished.reason"),
                json!("FailedWithOOM"),
                json!(1.0)
            ],
        ]
    );
    // A time range: the worker's hour (00:00 to 01:00 on 2026-12-01) holds its 4 lines.
    assert_eq!(
        rows(
            d,
            "SELECT count(*) AS n, min(message) AS first FROM logs \
             WHERE ts >= TIMESTAMP '2026-12-01 00:00:00' AND ts < TIMESTAMP '2026-12-01 01:00:00'",
            &["n", "first"]
        ),
        [[json!(4), json!("job 1 done")]]
    );
    // The folders: date and hour of every file.
    assert_eq!(
        rows(
            d,
            "SELECT date, hour, count(*) AS n FROM events GROUP BY date, hour ORDER BY date, hour",
            &["date", "hour", "n"]
        ),
        [
            [json!("2026-11-30"), json!(23), json!(7)],
            [json!("2026-12-01"), json!(0), json!(11)],
            [json!("2026-12-01"), json!(1), json!(33)],
        ]
    );
    assert_eq!(
        rows(
            d,
            "SELECT ts, stream, file FROM logs WHERE severity = 'FATAL'",
            &["ts", "stream", "file"]
        ),
        [[
            json!("2026-12-01T00:08:00"),
            json!("stderr"),
            json!("/logs/worker.log")
        ]]
    );
}

/// The same queries through DuckDB (schemas/duckdb/views.sql, its `attr` macro) and through
/// `firn-collector query` give the same answers: counts, group-bys, JSON attribute filters,
/// time ranges, folders.
#[test]
fn query_agrees_with_duckdb() {
    let dir = fleet();
    let d = dir.path();
    let queries = [
        "SELECT count(*) AS n FROM events",
        "SELECT RECORD_TYPE, count(*) AS n FROM events GROUP BY RECORD_TYPE ORDER BY RECORD_TYPE",
        "SELECT service, container, severity, count(*) AS n FROM logs \
         GROUP BY service, container, severity ORDER BY container, severity",
        "SELECT message FROM logs WHERE attr(attributes, 'user.id') = 'u-7'",
        "SELECT file, stream, count(*) AS n FROM logs GROUP BY file, stream ORDER BY file, stream",
        "SELECT count(*) AS n FROM logs WHERE ts >= TIMESTAMP '2026-12-01 00:00:00' \
         AND ts < TIMESTAMP '2026-12-01 01:00:00'",
        "SELECT name, unit, metric_type, max(value) AS top, count(*) AS n FROM metrics \
         GROUP BY name, unit, metric_type ORDER BY name",
        "SELECT date, hour, count(*) AS n FROM events GROUP BY date, hour ORDER BY date, hour",
        "SELECT date_trunc('hour', ts) AS h, count(*) AS n FROM logs GROUP BY h ORDER BY h",
        "SELECT attr(attributes, 'reason') AS reason, value FROM metrics \
         WHERE name = 'container.state.last.finished.reason'",
        "SELECT attr(RECORD, 'metric', 'unit') AS unit, count(*) AS n FROM events \
         WHERE RECORD_TYPE = 'METRIC' GROUP BY unit ORDER BY unit",
        "SELECT ts, message FROM logs WHERE container = 'api' AND message LIKE 'tick 1%' \
         ORDER BY ts DESC LIMIT 3",
        "SELECT count(*) AS n FROM logs WHERE date = DATE '2026-12-01' AND hour = 1",
    ];
    let mut py = Command::new("python3")
        .arg(repo_root().join("collector/tests/py/duckdb_query.py"))
        .arg(d)
        .arg(repo_root().join("schemas/duckdb/views.sql"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    py.stdin
        .take()
        .unwrap()
        .write_all(serde_json::to_string(&queries).unwrap().as_bytes())
        .unwrap();
    let out = py.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "duckdb_query.py (needs `pip install -r requirements-test.txt`): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let duck: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    for (sql, answer) in queries.iter().zip(&duck) {
        assert!(answer.get("error").is_none(), "DuckDB: {sql}: {answer}");
        let columns: Vec<&str> = answer["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        let ours = rows(d, sql, &columns);
        let theirs: Vec<Vec<Value>> = answer["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_array().unwrap().clone())
            .collect();
        assert!(!theirs.is_empty(), "{sql}: no rows to compare");
        assert_eq!(
            ours.len(),
            theirs.len(),
            "{sql}\nours {ours:?}\nduckdb {theirs:?}"
        );
        for (a, b) in ours.iter().zip(&theirs) {
            for (x, y) in a.iter().zip(b) {
                let same = match (x.as_f64(), y.as_f64()) {
                    (Some(p), Some(q)) => (p - q).abs() <= 1e-9 * q.abs().max(1.0),
                    _ => x == y,
                };
                assert!(same, "{sql}\nours {a:?}\nduckdb {b:?}");
            }
        }
    }
}

fn stats_line(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr);
    err.lines()
        .find(|l| l.starts_with("read "))
        .unwrap_or_else(|| panic!("no stats line in {err}"))
        .to_string()
}

/// README (query): a filter on date/hour reads only that folder's files; a filter on ts
/// skips the other files by their TIMESTAMP statistics. `--stats` says so.
#[test]
fn folders_and_statistics_prune_what_is_read() {
    let dir = fleet();
    let d = dir.path();
    let out = firn_query(
        d,
        &[
            "--stats",
            "SELECT count(*) AS n FROM logs WHERE date = '2026-12-01' AND hour = 0",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("| 4 "), "{text}");
    let line = stats_line(&out);
    assert!(
        line.starts_with("read 1 of 4 files (3 skipped by date/hour folders, 0 by statistics)"),
        "{line}"
    );

    // Only file d has lines at or after 01:10 (the ticks); a, b and c end earlier.
    let out = firn_query(
        d,
        &[
            "--stats",
            "SELECT count(*) AS n FROM logs WHERE ts >= TIMESTAMP '2026-12-01 01:10:00'",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("| 25 "), "{text}");
    let line = stats_line(&out);
    assert!(
        line.starts_with("read 1 of 4 files (0 skipped by date/hour folders, 3 by statistics)"),
        "{line}"
    );

    // --explain shows the plan with its metrics and the same line.
    let out = firn_query(
        d,
        &[
            "--explain",
            "SELECT count(*) AS n FROM logs WHERE date = '2026-12-01' AND hour = 0",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("DataSourceExec"), "{text}");
    assert!(text.contains("read 1 of 4 files"), "{text}");
}

/// README (query): SQL errors say where, on stderr, with exit code 2; no panic.
#[test]
fn sql_errors_say_where_and_exit_2() {
    let dir = fleet();
    let d = dir.path();
    let cases: [(&str, &[&str]); 5] = [
        // Parse error: FORM reads as an alias, so `logs` is where it goes wrong.
        (
            "SELECT count(*)\nFORM logs",
            &[
                "Expected: end of statement, found: logs",
                "line 2, column 6",
                "| FORM logs",
            ],
        ),
        // Unknown column: its position and the name.
        ("SELECT sevrity FROM logs", &["sevrity", "line 1, column 8"]),
        // Unknown table.
        ("SELECT * FROM nope", &["nope"]),
        // attr on something that is not text.
        ("SELECT attr(1, 'a')", &["attr"]),
        // Writing is refused.
        (
            "CREATE TABLE t AS SELECT 1",
            &["only queries run here", "DDL not supported"],
        ),
    ];
    for (sql, expect) in cases {
        let out = firn_query(d, &[sql]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{sql}: {err}");
        assert!(!err.contains("panicked"), "{sql}: {err}");
        for e in expect {
            assert!(err.contains(e), "{sql}: expected {e:?} in {err}");
        }
    }
    // A deep expression is an error or an answer, never a crash.
    // (`-` reads the SQL from stdin: it is longer than one argument may be.)
    let deep = format!("SELECT {} AS x", vec!["1"; 60_000].join(" + "));
    let out = firn_query_stdin(d, &deep);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("at most 1000 are accepted"), "{err}");
    // Up to the limit it is an answer.
    let out = firn_query_stdin(d, &format!("SELECT {} AS x", vec!["1"; 800].join(" + ")));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("| 800 |"));
    let huge = format!("SELECT {} AS x", vec!["1"; 200_000].join(" + "));
    let out = firn_query_stdin(d, &huge);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bytes; at most"));
    // A folder that does not exist.
    let out = firn_query(&d.join("missing"), &["SELECT 1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing"));
}

/// README (query): a Parquet file still being written (no footer yet: a stage-mode file under
/// its final name) is left out instead of failing the query.
#[test]
fn a_file_without_its_footer_is_left_out() {
    let dir = fleet();
    let d = dir.path();
    let hour = d.join("date=2026-12-01/hour=00");
    let src = std::fs::read_dir(&hour)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let bytes = std::fs::read(&src).unwrap();
    std::fs::write(
        hour.join("firn-being-written.parquet"),
        &bytes[..bytes.len() / 2],
    )
    .unwrap();
    assert_eq!(
        rows(d, "SELECT count(*) AS n FROM logs", &["n"]),
        [[json!(35)]]
    );
}

/// README (query): a table shows at most --max-rows rows (1000) and says how many it left out;
/// csv prints them all.
#[test]
fn a_table_is_cut_at_max_rows() {
    let dir = fleet();
    let d = dir.path();
    let sql = "SELECT message FROM logs ORDER BY ts";
    let out = firn_query(d, &["--max-rows", "5", sql]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(text.matches("| ").count(), 6, "{text}"); // header and 5 rows
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("30 more rows not shown"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = firn_query(d, &["--max-rows", "5", "--format", "csv", sql]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 36);
    // The default shows all 35.
    let out = firn_query(d, &[sql]);
    assert!(String::from_utf8_lossy(&out.stderr).is_empty());
}

/// README (query): past --memory-limit a query stops with "Resources exhausted" (exit 2)
/// instead of growing. 1 KiB (not the default 512 MiB) so the fixture is enough to pass it.
#[test]
fn memory_limit_stops_a_query() {
    let dir = fleet();
    let out = firn_query(
        dir.path(),
        &[
            "--memory-limit",
            "1KiB",
            "SELECT message, count(*) AS n FROM logs GROUP BY message ORDER BY n DESC",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Resources exhausted"));
}

/// README (query): --data may name one date= or hour= folder, or a flat folder of files.
#[test]
fn data_may_be_one_folder_of_the_layout() {
    let dir = fleet();
    let d = dir.path();
    let sql = "SELECT date, hour, count(*) AS n FROM events GROUP BY date, hour ORDER BY hour";
    let cols = ["date", "hour", "n"];
    assert_eq!(
        rows(&d.join("date=2026-12-01"), sql, &cols),
        [
            [json!("2026-12-01"), json!(0), json!(11)],
            [json!("2026-12-01"), json!(1), json!(33)],
        ]
    );
    assert_eq!(
        rows(&d.join("date=2026-12-01/hour=01"), sql, &cols),
        [[json!("2026-12-01"), json!(1), json!(33)]]
    );
    let flat = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(d.join("date=2026-11-30/hour=23")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), flat.path().join(e.file_name())).unwrap();
    }
    assert_eq!(
        rows(flat.path(), sql, &cols),
        [[json!(null), json!(null), json!(7)]]
    );
}

/// README (query): --format csv and json; an empty result still names its columns.
#[test]
fn csv_and_json_formats() {
    let dir = fleet();
    let d = dir.path();
    let out = firn_query(
        d,
        &[
            "--format",
            "csv",
            "SELECT container, count(*) AS n FROM logs GROUP BY container ORDER BY container",
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "container,n\napi,31\nworker,4\n"
    );
    let out = firn_query(
        d,
        &["--format", "csv", "SELECT message FROM logs WHERE false"],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "message\n");
    let out = firn_query(
        d,
        &["--format", "json", "SELECT message FROM logs WHERE false"],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]");
    // The table is the default.
    let out = firn_query(d, &["SELECT 'x' AS a"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("| a |") && text.contains("| x |"), "{text}");
}

/// Files the real agent wrote from hand-written log lines read back with the answers the
/// lines imply. Needs the agent's binary, built by `cargo test --workspace` (or
/// `cargo build -p firn-agent`).
#[test]
fn reads_what_the_agent_wrote() {
    let exe = std::env::current_exe().unwrap();
    let agent = exe
        .parent()
        .and_then(Path::parent)
        .map(|p| p.join("firn-agent"))
        .unwrap();
    assert!(
        agent.exists(),
        "{} is missing: run `cargo build -p firn-agent` (cargo test --workspace builds it)",
        agent.display()
    );
    let work = tempfile::tempdir().unwrap();
    let logs = work.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(
        logs.join("app.log"),
        "2026-12-01T10:00:00Z INFO starting\n\
         2026-12-01T10:00:01Z ERROR cannot connect to db\n\
         2026-12-01T10:00:02Z WARN retrying\n\
         {\"body\":\"user logged in\",\"severity_text\":\"INFO\",\"attributes\":{\"user.id\":\"u-1\"},\"timestamp\":\"2026-12-01T10:00:03Z\"}\n",
    )
    .unwrap();
    let out = work.path().join("out");
    let status = Command::new(&agent)
        .args(["--once", "--input"])
        .arg(logs.join("*.log"))
        .arg("--output")
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(
        rows(
            &out,
            "SELECT ts, severity, message FROM logs ORDER BY ts",
            &["ts", "severity", "message"]
        ),
        [
            [
                json!("2026-12-01T10:00:00"),
                json!("INFO"),
                json!("2026-12-01T10:00:00Z INFO starting")
            ],
            [
                json!("2026-12-01T10:00:01"),
                json!("ERROR"),
                json!("2026-12-01T10:00:01Z ERROR cannot connect to db")
            ],
            [
                json!("2026-12-01T10:00:02"),
                json!("WARN"),
                json!("2026-12-01T10:00:02Z WARN retrying")
            ],
            [
                json!("2026-12-01T10:00:03"),
                json!("INFO"),
                json!("user logged in")
            ],
        ]
    );
    assert_eq!(
        rows(
            &out,
            "SELECT attr(attributes, 'user.id') AS u, file FROM logs WHERE attr(attributes, 'user.id') IS NOT NULL",
            &["u", "file"]
        ),
        [[json!("u-1"), json!(logs.join("app.log").to_string_lossy())]]
    );
}
