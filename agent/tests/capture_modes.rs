//! How `--stdin` combines with `--once` and passthrough, and what wrap mode's signals
//! reach: real processes, Parquet read back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const FIRN: &str = env!("CARGO_BIN_EXE_firn-agent");

fn firn(out: &Path) -> Command {
    let mut c = Command::new(FIRN);
    c.arg("--output").arg(out).arg("--quiet");
    c
}

/// Runs firn with `args`, `input` on its stdin.
fn with_stdin(out: &Path, args: &[&str], input: &str) -> Output {
    let mut child = firn(out)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A firn that refuses its flags exits without reading: a broken pipe here is fine.
    let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    child.wait_with_output().unwrap()
}

fn log_values(out: &Path) -> Vec<String> {
    common::read_rows(out)
        .into_iter()
        .filter(|r| r.record_type == "LOG")
        .filter_map(|r| r.value.as_str().map(str::to_string))
        .collect()
}

/// Regression (issue 8): `--stdin` copied all its input to stdout by default, so
/// `app | firn-agent --stdin` printed the app's output again. Opt-in with --passthrough.
#[test]
fn stdin_copied_all_input_to_stdout_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let run = with_stdin(&out, &["--stdin"], "one\ntwo\nthree\n");
    assert_eq!(run.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&run.stdout), "");
    assert_eq!(log_values(&out), ["one", "two", "three"]);

    let out = dir.path().join("out2");
    let run = with_stdin(&out, &["--stdin", "--passthrough"], "one\ntwo\n");
    assert_eq!(run.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&run.stdout), "one\ntwo\n");
    assert_eq!(log_values(&out), ["one", "two"]);
}

/// Regression (issue 8): `--stdin --once` said "give at least one --input GLOB". They
/// combine: stdin is read to its end, written, and firn exits. With --input too, the
/// error says the two do not combine.
#[test]
fn stdin_once_asked_for_an_input_glob() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let run = with_stdin(&out, &["--stdin", "--once"], "a\nb\nlast without newline");
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_eq!(log_values(&out), ["a", "b", "last without newline"]);

    let run = with_stdin(
        &dir.path().join("out3"),
        &["--stdin", "--once", "--input", "/nonexistent/*.log"],
        "x\n",
    );
    assert_eq!(run.status.code(), Some(2));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("--once with --stdin reads stdin to its end"),
        "{err}"
    );
}
