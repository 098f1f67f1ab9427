//! Every SQL file in `dashboards/` over real firn Parquet (the fixture of
//! `common/fixture.rs`): the DuckDB panels with DuckDB, answers written by hand; the Snowflake
//! panels (no Snowflake here) parsed by sqlglot, transpiled to DuckDB and run, giving the
//! same answers; the Grafana JSON being what its generator builds from the DuckDB panels.
//! See `tests/py/dashboards_check.py`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

#[test]
fn dashboard_sql_answers_on_real_parquet() {
    let dir = tempfile::tempdir().unwrap();
    common::fixture::write_fleet(dir.path());
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let out = Command::new("python3")
        .arg(root.join("collector/tests/py/dashboards_check.py"))
        .arg(dir.path())
        .arg(root)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "dashboards_check.py failed (needs `pip install -r requirements-test.txt`):\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("dashboards ok"), "{stdout}");

    // The DuckDB panels run unchanged in `firn-collector query` too (same views, attr).
    let rows = [
        ("services.sql", 2),
        ("log_volume.sql", 8),
        ("error_rate.sql", 3),
        ("resources.sql", 2),
        ("restarts.sql", 1),
        ("network.sql", 1),
        ("storage.sql", 1),
        ("log_search.sql", 20),
    ];
    for (file, n) in rows {
        let sql = std::fs::read_to_string(root.join("dashboards/duckdb").join(file)).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_firn-collector"))
            .args(["query", "--format", "json", "--data"])
            .arg(dir.path())
            .arg(sql.trim().trim_end_matches(';'))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{file}: {err}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v.as_array().unwrap().len(), n, "{file}: {v}");
    }
}
