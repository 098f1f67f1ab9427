//! End to end: README promises about files that had no test (issue 17): files with identical
//! first KiB across rotation and restart, compressed rotations skipped, `--exclude`, a file
//! renamed out of the glob while the agent was down, new files found within about a second.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::agent::{Agent, FIRN, log_tail, wait_until};
use common::{append, line_counts};

fn run_dir() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    (dir, logs)
}

fn rows(out: &Path) -> usize {
    line_counts(out).values().sum()
}

/// The same 40 lines (2 KiB, past the 1 KiB fingerprint) at the head of every file.
fn head() -> Vec<String> {
    (0..40)
        .map(|i| format!("shared header line {i:02} {}", "x".repeat(24)))
        .collect()
}

fn tagged(tag: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{tag} line {i}")).collect()
}

const FOLLOW: [&str; 8] = [
    "-i",
    "logs/*.log*",
    "-o",
    "out",
    "--max-file-age",
    "200ms",
    "--agent-id",
    "e2e",
];

#[test]
fn two_files_with_identical_first_kib_rotated_across_a_restart_are_each_read_once() {
    let (dir, logs) = run_dir();
    let out = dir.path().join("out");
    let mut want: BTreeMap<String, usize> = BTreeMap::new();
    let add = |want: &mut BTreeMap<String, usize>, p: &Path, lines: Vec<String>| {
        append(p, &lines);
        for l in lines {
            *want.entry(l).or_default() += 1;
        }
    };
    add(&mut want, &logs.join("a.log"), head());
    add(&mut want, &logs.join("b.log"), head());
    add(&mut want, &logs.join("a.log"), tagged("a1", 10));
    add(&mut want, &logs.join("b.log"), tagged("b1", 10));
    let agent = Agent::start(dir.path(), "agent.log", &FOLLOW);
    let total = |w: &BTreeMap<String, usize>| w.values().sum::<usize>();
    let n = total(&want);
    wait_until(
        "first generation out",
        &agent.log,
        Duration::from_secs(30),
        || rows(&out) >= n,
    );
    let (status, _) = agent.terminate(Duration::from_secs(10));
    assert!(status.success());
    // Down: both rotated by rename, written on, and new files with the same head made.
    std::fs::rename(logs.join("a.log"), logs.join("a.log.1")).unwrap();
    std::fs::rename(logs.join("b.log"), logs.join("b.log.1")).unwrap();
    add(&mut want, &logs.join("a.log.1"), tagged("a1-late", 5));
    add(&mut want, &logs.join("b.log.1"), tagged("b1-late", 5));
    add(&mut want, &logs.join("a.log"), head());
    add(&mut want, &logs.join("b.log"), head());
    add(&mut want, &logs.join("a.log"), tagged("a2", 10));
    add(&mut want, &logs.join("b.log"), tagged("b2", 10));
    let agent = Agent::start(dir.path(), "agent.log", &FOLLOW);
    let n = total(&want);
    wait_until(
        "second generation out",
        &agent.log,
        Duration::from_secs(30),
        || rows(&out) >= n,
    );
    let log = agent.log.clone();
    let (status, _) = agent.terminate(Duration::from_secs(10));
    assert!(status.success());
    assert_eq!(line_counts(&out), want, "{}", log_tail(&log));
}

fn once(dir: &Path, args: &[&str]) -> String {
    let o = Command::new(FIRN)
        .current_dir(dir)
        .arg("--once")
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{text}");
    text
}

#[test]
fn compressed_rotations_are_skipped() {
    let (dir, logs) = run_dir();
    append(&logs.join("app.log"), &tagged("plain", 3));
    append(&logs.join("app.log.1"), &tagged("rotated", 2));
    let gz = Command::new("gzip")
        .arg("-k")
        .arg(logs.join("app.log.1"))
        .status()
        .unwrap();
    assert!(gz.success());
    std::fs::remove_file(logs.join("app.log.1")).unwrap();
    std::fs::write(
        logs.join("app.log.2.zst"),
        b"\x28\xb5\x2f\xfd not really zstd\n",
    )
    .unwrap();
    let text = once(dir.path(), &["-i", "logs/app.log*", "-o", "out"]);
    let got: Vec<String> = line_counts(&dir.path().join("out")).into_keys().collect();
    assert_eq!(got, tagged("plain", 3), "{text}");
}

#[test]
fn exclude_leaves_matching_files_out() {
    let (dir, logs) = run_dir();
    append(&logs.join("app.log"), &tagged("app", 2));
    append(&logs.join("debug-1.log"), &tagged("debug", 2));
    std::fs::create_dir_all(logs.join("sub")).unwrap();
    append(&logs.join("sub/x.log"), &tagged("sub", 1));
    let text = once(
        dir.path(),
        &[
            "-i",
            "logs/**/*.log",
            "--exclude",
            "logs/debug-*",
            "-o",
            "out",
        ],
    );
    let got: Vec<String> = line_counts(&dir.path().join("out")).into_keys().collect();
    let mut want = tagged("app", 2);
    want.extend(tagged("sub", 1));
    assert_eq!(got, want, "{text}");
}

#[test]
fn a_file_renamed_out_of_the_glob_while_the_agent_was_down_is_read_to_its_end_once() {
    let (dir, logs) = run_dir();
    let out = dir.path().join("out");
    let args = [
        "-i",
        "logs/app.log",
        "-o",
        "out",
        "--max-file-age",
        "200ms",
        "--agent-id",
        "e2e",
    ];
    append(&logs.join("app.log"), &tagged("before", 5));
    let agent = Agent::start(dir.path(), "agent.log", &args);
    wait_until(
        "first lines out",
        &agent.log,
        Duration::from_secs(30),
        || rows(&out) >= 5,
    );
    let (status, _) = agent.terminate(Duration::from_secs(10));
    assert!(status.success());
    append(&logs.join("app.log"), &tagged("late", 3));
    std::fs::rename(logs.join("app.log"), logs.join("app.log.1")).unwrap();
    append(&logs.join("app.log"), &tagged("new", 2));
    let agent = Agent::start(dir.path(), "agent.log", &args);
    wait_until(
        "every line out",
        &agent.log,
        Duration::from_secs(30),
        || rows(&out) >= 10,
    );
    let log = agent.log.clone();
    let (status, _) = agent.terminate(Duration::from_secs(10));
    assert!(status.success());
    let mut want: BTreeMap<String, usize> = BTreeMap::new();
    for l in tagged("before", 5)
        .into_iter()
        .chain(tagged("late", 3))
        .chain(tagged("new", 2))
    {
        want.insert(l, 1);
    }
    assert_eq!(line_counts(&out), want, "{}", log_tail(&log));
}

/// How long after its creation a new file is followed (the agent says "Following file").
fn found_after(extra: &[&str]) -> Duration {
    let (dir, logs) = run_dir();
    let mut args = vec!["-i", "logs/*.log", "-o", "out"];
    args.extend(extra);
    let agent = Agent::start(dir.path(), "agent.log", &args);
    agent.wait_for_log("No file matches", 1, Duration::from_secs(20));
    let t0 = Instant::now();
    append(&logs.join("new.log"), &tagged("n", 1));
    agent.wait_for_log("Following file", 1, Duration::from_secs(20));
    t0.elapsed()
}

#[test]
fn new_files_are_found_within_about_a_second_with_default_flags() {
    let took = found_after(&[]);
    eprintln!("found after {took:?}");
    // inotify wakes it at once; the bound leaves room for a loaded test machine.
    assert!(took < Duration::from_millis(2500), "{took:?}");
}

#[test]
fn new_files_are_found_within_about_a_second_when_polling() {
    // --no-events: the once-a-second glob pass alone (overlay, network and FUSE folders).
    let took = found_after(&["--no-events"]);
    eprintln!("found after {took:?}");
    assert!(took < Duration::from_millis(3000), "{took:?}");
}
