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

fn wait_for_file(p: &Path) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Ok(s) = std::fs::read_to_string(p)
            && s.ends_with('\n')
        {
            return s.trim().to_string();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} never appeared",
            p.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Whether `pid` runs (a zombie has exited).
fn running(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X")
    })
}

fn sigterm(pid: u32) {
    let pid = rustix::process::Pid::from_raw(pid as i32).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
}

/// Regression (issue 16): wrap mode signalled only its direct child, so a process the app
/// started that ignores SIGTERM outlived firn. The app now runs in a process group of its
/// own; SIGTERM goes to the group, and SIGKILL to what is left when the grace period ends.
#[test]
fn a_grandchild_ignoring_sigterm_survived_firn() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let pidfile = dir.path().join("grandchild.pid");
    // The app (sh) starts a grandchild that ignores SIGTERM (and so do its `sleep`s), then
    // waits; the app itself dies of SIGTERM.
    let app = format!(
        "sh -c 'trap \"\" TERM; echo $$ > {p}.tmp; mv {p}.tmp {p}; while :; do sleep 0.1; done' & wait",
        p = pidfile.display()
    );
    let mut child = firn(&out)
        // 1s instead of 25s: the grandchild is killed when the grace period ends.
        .args([
            "--no-passthrough",
            "--child-grace",
            "1s",
            "--",
            "sh",
            "-c",
            &app,
        ])
        .spawn()
        .unwrap();
    let grandchild: i32 = wait_for_file(&pidfile).parse().unwrap();
    assert!(running(grandchild));
    sigterm(child.id());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143), "the app died of SIGTERM");
    // Reaped by init once killed; give it a moment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while running(grandchild) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let survived = running(grandchild);
    if survived {
        // Clean up after a failing run: this test started it.
        let pid = rustix::process::Pid::from_raw(grandchild).unwrap();
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }
    assert!(!survived, "the grandchild {grandchild} outlived firn");
}

/// The group's SIGTERM reaches a grandchild that handles it: it gets to write its last
/// line, which is captured, before the app's grace period ends.
#[test]
fn a_grandchild_gets_the_sigterm_and_its_last_words_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let ready = dir.path().join("ready");
    let app = format!(
        "sh -c 'trap \"echo grandchild got TERM; exit 0\" TERM; echo $$ > {r}.tmp; mv {r}.tmp {r}; while :; do sleep 0.1; done' & wait",
        r = ready.display()
    );
    let mut child = firn(&out)
        .args(["--no-passthrough", "--", "sh", "-c", &app])
        .spawn()
        .unwrap();
    let grandchild: i32 = wait_for_file(&ready).parse().unwrap();
    sigterm(child.id());
    assert_eq!(child.wait().unwrap().code(), Some(143));
    let rows = log_values(&out);
    if running(grandchild) {
        // Clean up after a failing run: this test started it.
        let pid = rustix::process::Pid::from_raw(grandchild).unwrap();
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }
    assert!(
        rows.contains(&"grandchild got TERM".to_string()),
        "{rows:?}"
    );
}
