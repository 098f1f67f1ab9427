//! End to end: what the real `firn-agent` makes of a file's lines: records joined by
//! `--multiline-start`, severities and times recognised in plain lines, `--log-level ERROR`
//! on files. Each run reads real files with `--once` and its Parquet output is read back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{OutRow, read_rows};

const FIRN: &str = env!("CARGO_BIN_EXE_firn-agent");

/// Writes `files` (name, text) under a new `logs/` folder; returns the run's folder.
fn logs(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("logs")).unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join("logs").join(name), text).unwrap();
    }
    dir
}

/// Runs `--once` over `logs/*.log` with `extra` flags; returns the LOG rows in file order.
fn once(dir: &Path, extra: &[&str]) -> Vec<OutRow> {
    let out = dir.join("out");
    let output = Command::new(FIRN)
        .current_dir(dir)
        .args(["--once", "--input", "logs/*.log", "--output"])
        .arg(&out)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "--once failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    read_rows(&out)
        .into_iter()
        .filter(|r| r.record_type == "LOG")
        .collect()
}

fn values(rows: &[OutRow]) -> Vec<String> {
    rows.iter()
        .map(|r| r.value.as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn multiline_start_joins_a_java_stack_trace_into_one_row() {
    let text = "\
2026-12-01 10:00:00,001 INFO  [main] c.e.App - started
2026-12-01 10:00:01,002 ERROR [main] c.e.App - payment failed
java.lang.IllegalStateException: card declined
\tat com.example.Pay.charge(Pay.java:42)
\tat com.example.App.main(App.java:7)
Caused by: java.io.IOException: timeout
\t... 2 more
2026-12-01 10:00:02,003 INFO  [main] c.e.App - retrying
";
    let dir = logs(&[("app.log", text)]);
    let rows = once(dir.path(), &["--multiline-start", r"^\d{4}-\d{2}-\d{2} "]);
    assert_eq!(
        values(&rows),
        [
            "2026-12-01 10:00:00,001 INFO  [main] c.e.App - started",
            "2026-12-01 10:00:01,002 ERROR [main] c.e.App - payment failed\n\
             java.lang.IllegalStateException: card declined\n\
             \tat com.example.Pay.charge(Pay.java:42)\n\
             \tat com.example.App.main(App.java:7)\n\
             Caused by: java.io.IOException: timeout\n\
             \t... 2 more",
            "2026-12-01 10:00:02,003 INFO  [main] c.e.App - retrying",
        ]
    );
    for r in &rows {
        assert_eq!(
            r.attributes["log.file.path"]
                .as_str()
                .map(|p| p.ends_with("logs/app.log")),
            Some(true)
        );
    }
    // Without the flag every line is its own row.
    let dir = logs(&[("app.log", text)]);
    assert_eq!(once(dir.path(), &[]).len(), 8);
}

/// Lines of many formats in one file: recognition re-learns at each change of layout.
const MIXED: &str = r#"2026-12-01 10:00:00,001 INFO  [main] c.e.App - started
2026-12-01 10:00:01,002 ERROR [main] c.e.App - payment failed
2026-12-01 10:00:02,003 WARN  [main] c.e.App - slow
2026-12-01 10:00:03,004 FATAL [main] c.e.App - cannot bind
2026-12-01 10:00:04,005 DEBUG [main] c.e.App - tick
2026-12-01 10:00:04,006 INFO  [main] c.e.App - error count is 0
2026/12/01 10:00:05 [error] 1#1: upstream failed
2026/12/01 10:00:06 [notice] 1#1: reopening logs
E1201 10:00:07.000000    4711 controller.go:114] sync failed
I1201 10:00:08.000000    4711 controller.go:115] synced
level=error ts=2026-12-01T10:00:09Z msg="db down"
level=info ts=2026-12-01T10:00:10Z msg="db up"
{"level":"fatal","time":"2026-12-01T10:00:11Z","msg":"panic"}
{"level":"warn","time":"2026-12-01T10:00:12Z","msg":"meh"}
2026-12-01 10:00:13,000 - app - CRITICAL - shutting down
2026-12-01 10:00:14,000 - app - INFO - bye
a plain line with no level at all
"#;

fn now_ns() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    i64::try_from(d.as_nanos()).unwrap()
}

/// 2026-12-01T10:00:00Z in ns.
const T10: i64 = 1_796_119_200_000_000_000;
const S: i64 = 1_000_000_000;

#[test]
fn log_level_error_keeps_exactly_the_error_and_fatal_lines_of_a_mixed_file() {
    let dir = logs(&[("app.log", MIXED)]);
    let before = now_ns();
    let rows = once(dir.path(), &["--log-level", "ERROR"]);
    let got: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.value.as_str().unwrap().to_string(),
                r.record["severity_text"].as_str().unwrap().to_string(),
                r.timestamp,
            )
        })
        .collect();
    let want = [
        (
            "2026-12-01 10:00:01,002 ERROR [main] c.e.App - payment failed",
            "ERROR",
            T10 + S + 2_000_000,
        ),
        (
            "2026-12-01 10:00:03,004 FATAL [main] c.e.App - cannot bind",
            "FATAL",
            T10 + 3 * S + 4_000_000,
        ),
        (
            "2026/12/01 10:00:05 [error] 1#1: upstream failed",
            "ERROR",
            T10 + 5 * S,
        ),
        (
            "E1201 10:00:07.000000    4711 controller.go:114] sync failed",
            "ERROR",
            T10 + 7 * S,
        ),
        (
            r#"level=error ts=2026-12-01T10:00:09Z msg="db down""#,
            "ERROR",
            T10 + 9 * S,
        ),
        (
            r#"{"level":"fatal","time":"2026-12-01T10:00:11Z","msg":"panic"}"#,
            "FATAL",
            T10 + 11 * S,
        ),
        (
            "2026-12-01 10:00:13,000 - app - CRITICAL - shutting down",
            "ERROR",
            T10 + 13 * S,
        ),
    ];
    let want: Vec<_> = want
        .iter()
        .map(|(v, s, t)| (v.to_string(), s.to_string(), *t))
        .collect();
    assert_eq!(got, want);
    // OBSERVED_TIMESTAMP is when firn read the line (this run), not the line's time.
    for r in &rows {
        assert!(r.observed >= before, "{r:?}");
    }
}

#[test]
fn every_line_of_a_mixed_file_gets_its_own_time_and_level_with_default_flags() {
    let dir = logs(&[("app.log", MIXED)]);
    let rows = once(dir.path(), &[]);
    let sev: Vec<_> = rows
        .iter()
        .map(|r| r.record["severity_text"].as_str().unwrap())
        .collect();
    assert_eq!(
        sev,
        [
            "INFO", "ERROR", "WARN", "FATAL", "DEBUG", "INFO", "ERROR", "INFO", "ERROR", "INFO",
            "ERROR", "INFO", "FATAL", "WARN", "ERROR", "INFO", "INFO"
        ]
    );
    let secs: Vec<_> = rows.iter().map(|r| (r.timestamp - T10) / S).collect();
    // The last line has no time: it takes the time of the record before it.
    assert_eq!(
        secs,
        [0, 1, 2, 3, 4, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 14]
    );
}

#[test]
fn parse_none_leaves_time_and_severity_as_read() {
    let dir = logs(&[("app.log", MIXED)]);
    let before = now_ns();
    let rows = once(dir.path(), &["--parse", "none"]);
    assert_eq!(rows.len(), 17);
    for r in &rows {
        assert_eq!(r.record["severity_text"], "INFO");
        assert!(r.timestamp >= before, "{r:?}");
    }
    // And with nothing recognised, ERROR keeps no plain line of a file.
    let dir = logs(&[("app.log", MIXED)]);
    let rows = once(dir.path(), &["--parse", "none", "--log-level", "ERROR"]);
    assert_eq!(rows.len(), 0);
}
