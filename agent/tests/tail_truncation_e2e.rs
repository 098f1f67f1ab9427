//! End to end: copytruncate, with the copy matched by the inputs, whole or seen half
//! written: every line exactly once.
//!
//! Every agent runs in its own temporary folder (`logs/` in, `out/` out), its stderr
//! appended to `agent.log` there, shown when a check fails. Helpers: `common/tail.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::agent::{Agent, log_tail};
use common::tail::*;

// ---------------------------------------------------------------------------------------
// copytruncate.

#[test]
fn copytruncate_with_the_copy_watched_delivers_every_line_exactly_once() {
    let (dir, logs) = run_dir();
    let out = dir.path().join("out");
    let mut args = FOLLOW;
    args[1] = "logs/app.log*";
    let agent = Agent::start(dir.path(), "agent.log", &args);
    let log = agent.log.clone();
    let mut rng = Rng(31);
    let mut lines = Vec::new();
    let base = logs.join("app.log");
    let mut f = append_to(&base);
    for round in 0..4 {
        for _ in 0..rng.between(2, 6) {
            let n = rng.between(100, 2000) as usize;
            let new = batch(&format!("r{round}"), lines.len(), n, &mut rng);
            write_lines(&mut f, &new);
            lines.extend(new);
            sleep(rng.millis(10, 200));
        }
        // Let the agent catch up before some copies, not before others.
        if round % 2 == 0 {
            wait_for_lines(&out, &lines, Duration::from_secs(30))
                .unwrap_or_else(|e| panic!("{e}\n{}", log_tail(&log)));
        }
        for k in (1..=round).rev() {
            std::fs::rename(
                logs.join(format!("app.log.{k}")),
                logs.join(format!("app.log.{}", k + 1)),
            )
            .unwrap();
        }
        std::fs::copy(&base, logs.join("app.log.1")).unwrap();
        OpenOptions::new()
            .write(true)
            .open(&base)
            .unwrap()
            .set_len(0)
            .unwrap();
        sleep(rng.millis(0, 1500));
    }
    let tail = batch("last", lines.len(), 500, &mut rng);
    write_lines(&mut f, &tail);
    lines.extend(tail);
    let caught_up = wait_for_lines(&out, &lines, Duration::from_secs(30));
    let (status, _) = agent.terminate(Duration::from_secs(10));
    let verdict = exactly_once(&final_counts(&out), &lines);
    assert!(
        verdict.is_ok() && caught_up.is_ok() && status.success(),
        "{verdict:?} {caught_up:?} {status}\n{}",
        log_tail(&log)
    );
}

/// copytruncate copies a big file for a while; the copy, seen half written, was not
/// recognised as a copy (shorter than where the original was read to) and was read again
/// from its start: every line of the original came out twice.
#[test]
fn a_copy_seen_half_written_by_copytruncate_was_read_again_from_its_start() {
    let (dir, logs) = run_dir();
    let out = dir.path().join("out");
    let mut args = FOLLOW;
    args[1] = "logs/app.log*";
    let agent = Agent::start(dir.path(), "agent.log", &args);
    let log = agent.log.clone();
    let mut rng = Rng(81);
    let base = logs.join("app.log");
    let mut f = append_to(&base);
    let mut lines = batch("orig", 0, 20_000, &mut rng);
    write_lines(&mut f, &lines);
    wait_for_lines(&out, &lines, Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}\n{}", log_tail(&log)));
    // Copy as logrotate does, a block at a time.
    let content = std::fs::read(&base).unwrap();
    let mut copy = File::create(logs.join("app.log.1")).unwrap();
    for block in content.chunks(64 << 10) {
        copy.write_all(block).unwrap();
        sleep(Duration::from_millis(20));
    }
    drop(copy);
    OpenOptions::new()
        .write(true)
        .open(&base)
        .unwrap()
        .set_len(0)
        .unwrap();
    let new = batch("after", lines.len(), 1000, &mut rng);
    write_lines(&mut f, &new);
    lines.extend(new);
    let caught_up = wait_for_lines(&out, &lines, Duration::from_secs(30));
    // Wait until the agent has decided where the copy starts (it says so, right or wrong):
    // after SIGTERM it reads every file it follows to its end, so a wrong second reading
    // is in the output when it exits.
    let t0 = Instant::now();
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("app.log.1")
    {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the copy was never seen\n{}",
            log_tail(&log)
        );
        sleep(Duration::from_millis(100));
    }
    let (status, _) = agent.terminate(Duration::from_secs(10));
    let verdict = exactly_once(&final_counts(&out), &lines);
    assert!(
        verdict.is_ok() && caught_up.is_ok() && status.success(),
        "{verdict:?} {caught_up:?} {status}\n{}",
        log_tail(&log)
    );
}

/// A copy made while the agent is still behind on its original, truncated a moment later
/// (logrotate's copytruncate while the app writes fast): the copy started where the original
/// was read to when the copy was seen, while the original went on being read up to its
/// truncation, so the lines between came out twice (the spool kill -9 copytruncate test's
/// "24 lines twice, about 1 run in 6"). `FOLLOW`'s short file age only makes the rows show
/// sooner; the race does not depend on it.
#[test]
fn a_copy_made_while_its_original_is_still_being_read_repeats_nothing() {
    let (dir, logs) = run_dir();
    let out = dir.path().join("out");
    let mut args = FOLLOW;
    args[1] = "logs/app.log*";
    let agent = Agent::start(dir.path(), "agent.log", &args);
    let log = agent.log.clone();
    let mut rng = Rng(97);
    let base = logs.join("app.log");
    let mut f = append_to(&base);
    let mut lines = batch("warm", 0, 10, &mut rng);
    write_lines(&mut f, &lines);
    wait_for_lines(&out, &lines, Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{e}\n{}", log_tail(&log)));
    // A burst that takes the agent a few seconds to read, copied at once and truncated a
    // moment later, while the agent is still reading the original.
    let burst = batch("burst", lines.len(), 300_000, &mut rng);
    write_lines(&mut f, &burst);
    lines.extend(burst);
    std::fs::copy(&base, logs.join("app.log.1")).unwrap();
    sleep(Duration::from_millis(300));
    OpenOptions::new()
        .write(true)
        .open(&base)
        .unwrap()
        .set_len(0)
        .unwrap();
    let new = batch("after", lines.len(), 1000, &mut rng);
    write_lines(&mut f, &new);
    lines.extend(new);
    let caught_up = wait_for_lines(&out, &lines, Duration::from_secs(120));
    let (status, _) = agent.terminate(Duration::from_secs(20));
    let verdict = exactly_once(&final_counts(&out), &lines);
    assert!(
        verdict.is_ok() && caught_up.is_ok() && status.success(),
        "{verdict:?} {caught_up:?} {status}\n{}",
        log_tail(&log)
    );
}
