//! The README's first screen and Quickstart commands, run as written (default flags, the
//! bundled example files, paths relative to the repository root), each checked against the
//! promise written next to it.
//!
//! Covered elsewhere: following files and `kill -9` (`tail_kill_e2e.rs`), wrap mode and
//! `--stdin` (`capture.rs`), `spec inject ... --app app --stage @logs_stage` and `--spec`
//! (`spec_e2e.rs`). The first screen's second command (`pip install ... && cargo test`) is
//! the test suite itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn agent() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_firn-agent"));
    c.current_dir(root());
    c
}

/// Rows per source file, counted with DuckDB through the README's views.
fn rows_per_file(out: &Path) -> BTreeMap<String, usize> {
    let sql = "SELECT file, count(*) FROM logs GROUP BY file ORDER BY file";
    let run = Command::new("python3")
        .current_dir(root())
        .args(["dashboards/duckdb/query.py"])
        .arg(out)
        .arg(format!(
            "COPY ({sql}) TO '/dev/stdout' (FORMAT csv, HEADER false)"
        ))
        .output()
        .expect("python3 runs");
    assert!(
        run.status.success(),
        "query.py failed (needs `pip install -r requirements-test.txt`): {}",
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8(run.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.rsplit_once(','))
        .filter_map(|(f, n)| Some((f.trim_matches('"').to_string(), n.parse().ok()?)))
        .collect()
}

/// README, first screen: `cargo run --release -p firn-agent -- --once --input
/// 'examples/logs/**/*' --output out/` "prints where the Parquet went and how to query it".
#[test]
fn readme_first_screen_once_over_the_example_logs() {
    let out = tempfile::tempdir().unwrap();
    let run = agent()
        .args(["--once", "--input", "examples/logs/**/*", "--output"])
        .arg(out.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(!common::parquet_files(out.path()).is_empty());
    for f in common::parquet_files(out.path()) {
        assert!(stdout.contains(&f.display().to_string()), "{stdout}");
    }
    let hint = format!(
        "python3 dashboards/duckdb/query.py {}",
        out.path().display()
    );
    assert!(stdout.contains(&hint), "{stdout}");

    // Every line of every example file is one row (the last line of edge-cases.log has no
    // newline and is written at the end of the run; its long line is one, truncated, row).
    let want: BTreeMap<String, usize> = [
        ("examples/logs/app/access.log", 400),
        ("examples/logs/app/app.log", 404),
        ("examples/logs/app/edge-cases.log", 5),
        ("examples/logs/worker/worker.jsonl", 200),
    ]
    .into_iter()
    .map(|(f, n)| (f.to_string(), n))
    .collect();
    assert_eq!(rows_per_file(out.path()), want);
}

/// README, Quickstart: `python3 dashboards/duckdb/query.py out/` (a summary) and with a
/// query, and the DuckDB SQL over `schemas/duckdb/views.sql`.
#[test]
fn readme_quickstart_queries() {
    let out = tempfile::tempdir().unwrap();
    let run = agent()
        .args(["--once", "--input", "examples/logs/app/*.log", "--output"])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(run.status.success());

    let query = |extra: &[&str]| {
        let r = Command::new("python3")
            .current_dir(root())
            .arg("dashboards/duckdb/query.py")
            .arg(out.path())
            .args(extra)
            .output()
            .unwrap();
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        String::from_utf8(r.stdout).unwrap()
    };
    let summary = query(&[]);
    for title in [
        "Rows by type",
        "Log lines by file and severity",
        "Latest log lines",
    ] {
        assert!(summary.contains(title), "{summary}");
    }
    let by_severity = query(&["SELECT severity, count(*) FROM logs GROUP BY ALL"]);
    assert!(by_severity.contains("INFO"), "{by_severity}");

    // The README's DuckDB snippet; `.read` is the DuckDB shell's, so the file is run here.
    let script = format!(
        "import duckdb\n\
         c = duckdb.connect()\n\
         c.execute(\"SET VARIABLE firn_files = '{}/**/*.parquet'\")\n\
         c.execute(open('schemas/duckdb/views.sql').read())\n\
         rows = c.sql('SELECT ts, severity, file, message FROM logs ORDER BY ts DESC LIMIT 20').fetchall()\n\
         print(len(rows))\n",
        out.path().display()
    );
    let r = Command::new("python3")
        .current_dir(root())
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(String::from_utf8_lossy(&r.stdout).trim(), "20");
}

/// README, Quickstart: `firn-agent spec check service.yaml`, and "`examples/spcs/service.yaml`
/// is an app with firn as its `logging-agent` sidecar".
#[test]
fn readme_quickstart_spec_check_of_the_example() {
    let run = agent()
        .args(["spec", "check", "examples/spcs/service.yaml"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{err}");
    assert!(err.contains("valid (0 errors, 0 warnings)"), "{err}");
    let text = std::fs::read_to_string(root().join("examples/spcs/service.yaml")).unwrap();
    assert!(text.contains("- name: logging-agent") && text.contains("firn-agent"));
}
