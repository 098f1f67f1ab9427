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
