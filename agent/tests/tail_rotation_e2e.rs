//! End to end: files rotated by rename (and still written) or deleted while open are read
//! to their end, every line exactly once.
//!
//! Every agent runs in its own temporary folder (`logs/` in, `out/` out), its stderr
//! appended to `agent.log` there, shown when a check fails. Helpers: `common/tail.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::thread::sleep;
use std::time::{Duration, Instant};

use common::agent::{Agent, log_tail};
use common::tail::*;

// ---------------------------------------------------------------------------------------
// 3. Rotation, copytruncate, delete.

#[test]
fn a_file_renamed_out_of_the_glob_and_still_written_is_read_to_its_end() {
    let (dir, logs) = run_dir();
    let out = dir.path().join("out");
    let agent = Agent::start(dir.path(), "agent.log", &FOLLOW);
    let log = agent.log.clone();
    let mut rng = Rng(21);
    let mut lines = Vec::new();
    let mut f = append_to(&logs.join("app.log"));
    for _ in 0..4 {
        let new = batch("old", lines.len(), 500, &mut rng);
        write_lines(&mut f, &new);
        lines.extend(new);
        sleep(Duration::from_millis(50));
    }
    std::fs::rename(logs.join("app.log"), logs.join("app.log.1")).unwrap();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(1) {
        let l = numbered("renamed", lines.len(), &mut rng);
        write_lines(&mut f, std::slice::from_ref(&l));
        lines.push(l);
        sleep(Duration::from_millis(20));
    }
    let mut g = append_to(&logs.join("app.log"));
    let new = batch("new", lines.len(), 2000, &mut rng);
    write_lines(&mut g, &new);
    lines.extend(new);
    let caught_up = wait_for_lines(&out, &lines, Duration::from_secs(30));
    let (status, _) = agent.terminate(Duration::from_secs(10));
    let verdict = exactly_once(&final_counts(&out), &lines);
    assert!(
        verdict.is_ok() && caught_up.is_ok() && status.success(),
        "{verdict:?} {caught_up:?} {status}\n{}",
        log_tail(&log)
    );
}

#[test]
fn a_file_deleted_while_open_has_its_lines_delivered() {
    let (dir, logs) = run_dir();
    let out = dir.path().join("out");
    let agent = Agent::start(dir.path(), "agent.log", &FOLLOW);
    let log = agent.log.clone();
    let mut rng = Rng(41);
    let path = logs.join("app.log");
    let mut f = append_to(&path);
    let mut lines = vec![numbered("opened", 0, &mut rng)];
    write_lines(&mut f, &lines);
    // Once its first line is out, the agent holds the file open.
    wait_for_lines(&out, &lines, Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}\n{}", log_tail(&log)));
    let more: Vec<String> = (1..50_000).map(|i| numbered("d", i, &mut rng)).collect();
    write_lines(&mut f, &more);
    lines.extend(more);
    std::fs::remove_file(&path).unwrap();
    drop(f);
    let caught_up = wait_for_lines(&out, &lines, Duration::from_secs(30));
    let (status, _) = agent.terminate(Duration::from_secs(10));
    let verdict = exactly_once(&final_counts(&out), &lines);
    assert!(
        verdict.is_ok() && caught_up.is_ok() && status.success(),
        "{verdict:?} {caught_up:?} {status}\n{}",
        log_tail(&log)
    );
}
