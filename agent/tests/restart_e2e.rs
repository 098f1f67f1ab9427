//! End to end: where a restarted agent resumes. Every output file carries the whole map of
//! source positions, so the newest file is a good place to resume from even when it holds
//! only metrics (the agent's telemetry during a quiet spell, or its snapshot at exit).
//!
//! The tests with default flags take one to three minutes (they run side by side): the
//! defects they pin show only after a quiet spell longer than the default `--max-file-age`
//! (60 s).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::agent::{Agent, log_tail, wait_until};
use common::{append, line_counts, lines, log_values_of_file, parquet_files};
use firn_schemas::parquet_sink::{META_SOURCE_POSITIONS, read_footer_metadata};

/// Complete output files that hold no LOG row.
fn metrics_only_files(out: &Path) -> Vec<std::path::PathBuf> {
    parquet_files(out)
        .into_iter()
        .filter(|p| log_values_of_file(p).is_ok_and(|v| v.is_empty()))
        .collect()
}

/// Each of `expected` once, nothing else.
fn assert_exactly_once(out: &Path, expected: &[String], log: &Path) {
    let counts = line_counts(out);
    let want: BTreeMap<String, usize> = expected.iter().map(|l| (l.clone(), 1)).collect();
    assert_eq!(
        counts,
        want,
        "LOG rows by VALUE and count\n{}",
        log_tail(log)
    );
}

/// Every output file carries `firn.source_positions`, naming the input file.
fn assert_every_file_carries_positions(out: &Path) {
    let files = parquet_files(out);
    assert!(!files.is_empty());
    for p in files {
        let meta = read_footer_metadata(&p).unwrap();
        let pos = meta
            .get(META_SOURCE_POSITIONS)
            .unwrap_or_else(|| panic!("{} has no {META_SOURCE_POSITIONS}", p.display()));
        assert!(pos.contains("a.log"), "{}: {pos}", p.display());
    }
}

/// The restarted agent: waits until it follows the input, then stops it with SIGTERM, which
/// reads what is left, writes everything and exits.
fn restart_and_stop(dir: &Path, log_name: &str, args: &[&str]) {
    let agent = Agent::start(dir, log_name, args);
    agent.wait_for_log("Following file", 1, Duration::from_secs(30));
    let log = agent.log.clone();
    let (status, _) = agent.terminate(Duration::from_secs(30));
    assert!(status.success(), "{status}\n{}", log_tail(&log));
}

/// Issue 16 item 5, issue 8 item 1: SIGTERM after a quiet spell longer than
/// `--max-file-age` wrote the exit snapshot into a metrics-only file without positions; the
/// next start resumed from it (`files=0`) and read every input again. Default flags.
#[test]
fn a_sigterm_after_a_quiet_spell_then_restart_does_not_read_inputs_again() {
    let dir = tempfile::tempdir().unwrap();
    let (d, out) = (dir.path(), dir.path().join("out"));
    std::fs::create_dir(d.join("logs")).unwrap();
    let first = lines("first", 10);
    append(&d.join("logs/a.log"), &first);
    let args = ["--input", "logs/*.log", "--output", "out"];
    let agent = Agent::start(d, "run1.log", &args);
    // The file holding the lines closes at the default --max-file-age (60 s); the spell is
    // quiet from the first second on.
    wait_until(
        "the lines are written",
        &agent.log,
        Duration::from_secs(120),
        || line_counts(&out).len() == first.len(),
    );
    let (status, _) = agent.terminate(Duration::from_secs(30));
    assert!(status.success());
    // The regression's precondition: the newest file holds only metrics.
    assert!(
        !metrics_only_files(&out).is_empty(),
        "no metrics-only file: {:?}",
        parquet_files(&out)
    );
    let second = lines("second", 5);
    append(&d.join("logs/a.log"), &second);
    restart_and_stop(d, "run2.log", &args);
    let all: Vec<String> = first.iter().chain(&second).cloned().collect();
    assert_exactly_once(&out, &all, &d.join("run2.log"));
    assert_every_file_carries_positions(&out);
}

/// Issue 8 item 1: a kill -9 after a metrics-only file closed made the next start read
/// every input again. Default flags: the lines' file closes at about 61 s; the telemetry of
/// the quiet spell that follows goes to a file of its own (closed at about 121 s, or 181 s
/// when the 60 s telemetry made it into the lines' file), then the agent is killed.
#[test]
fn a_kill_9_after_a_metrics_only_file_then_restart_does_not_read_inputs_again() {
    let dir = tempfile::tempdir().unwrap();
    let (d, out) = (dir.path(), dir.path().join("out"));
    std::fs::create_dir(d.join("logs")).unwrap();
    let first = lines("first", 10);
    append(&d.join("logs/a.log"), &first);
    let args = ["--input", "logs/*.log", "--output", "out"];
    let agent = Agent::start(d, "run1.log", &args);
    wait_until(
        "a metrics-only file is written after the lines",
        &agent.log,
        Duration::from_secs(240),
        || line_counts(&out).len() == first.len() && !metrics_only_files(&out).is_empty(),
    );
    agent.kill9();
    let second = lines("second", 5);
    append(&d.join("logs/a.log"), &second);
    restart_and_stop(d, "run2.log", &args);
    let all: Vec<String> = first.iter().chain(&second).cloned().collect();
    assert_exactly_once(&out, &all, &d.join("run2.log"));
    assert_every_file_carries_positions(&out);
}

/// The same as the SIGTERM case, fast (`--max-file-age 1s --telemetry-interval 2s`, the
/// issue's reproduction), so a regression shows in seconds as well.
#[test]
fn a_restart_after_a_short_quiet_spell_does_not_read_inputs_again() {
    let dir = tempfile::tempdir().unwrap();
    let (d, out) = (dir.path(), dir.path().join("out"));
    std::fs::create_dir(d.join("logs")).unwrap();
    let first = lines("first", 10);
    append(&d.join("logs/a.log"), &first);
    let args = [
        "--input",
        "logs/*.log",
        "--output",
        "out",
        "--max-file-age",
        "1s",
        "--telemetry-interval",
        "2s",
    ];
    let agent = Agent::start(d, "run1.log", &args);
    wait_until(
        "a metrics-only file after the lines",
        &agent.log,
        Duration::from_secs(60),
        || line_counts(&out).len() == first.len() && !metrics_only_files(&out).is_empty(),
    );
    let (status, _) = agent.terminate(Duration::from_secs(30));
    assert!(status.success());
    let second = lines("second", 5);
    append(&d.join("logs/a.log"), &second);
    restart_and_stop(d, "run2.log", &args);
    let all: Vec<String> = first.iter().chain(&second).cloned().collect();
    assert_exactly_once(&out, &all, &d.join("run2.log"));
    assert_every_file_carries_positions(&out);
}
