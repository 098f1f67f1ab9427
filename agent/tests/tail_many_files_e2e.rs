//! End to end: a thousand files under `--max-open-files`, files beyond the limit read,
//! and an idle agent using near zero CPU.
//!
//! Every agent runs in its own temporary folder (`logs/` in, `out/` out), its stderr
//! appended to `agent.log` there, shown when a check fails. Helpers: `common/tail.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::agent::{Agent, FIRN, log_tail};
use common::tail::*;

// ---------------------------------------------------------------------------------------
// 4. Many files; idle CPU.

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count)
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &s[s.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 of the file; `rest` starts at field 3.
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    // /proc counts in USER_HZ, 100 on every Linux ABI.
    ticks as f64 / 100.0
}

#[test]
fn a_thousand_files_with_256_open_at_most_and_near_zero_cpu_when_idle() {
    const FILES: usize = 1000;
    const MAX_OPEN: usize = 256;
    let (dir, logs) = run_dir();
    let out = dir.path().join("out");
    let mut args = FOLLOW.to_vec();
    args.extend(["--max-open-files", "256"]);
    let agent = Agent::start(dir.path(), "agent.log", &args);
    let log = agent.log.clone();
    let pid = agent.pid();
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut max = 0;
            while !stop.load(Ordering::SeqCst) {
                max = max.max(open_fds(pid));
                sleep(Duration::from_millis(20));
            }
            max
        })
    };
    let mut rng = Rng(51);
    let mut lines = Vec::new();
    for round in 0..5 {
        for i in 0..FILES {
            let mut f = append_to(&logs.join(format!("f{i:04}.log")));
            let n = rng.between(1, 4) as usize;
            let new = batch(&format!("f{i} r{round}"), lines.len(), n, &mut rng);
            write_lines(&mut f, &new);
            lines.extend(new);
        }
        sleep(rng.millis(100, 600));
    }
    let caught_up = wait_for_lines(&out, &lines, Duration::from_secs(60));
    // Let pending files close, then measure a quiet agent.
    sleep(Duration::from_secs(2));
    let cpu0 = cpu_seconds(pid);
    let t0 = Instant::now();
    sleep(Duration::from_secs(3));
    let idle = (cpu_seconds(pid) - cpu0) / t0.elapsed().as_secs_f64();
    stop.store(true, Ordering::SeqCst);
    let max_fds = sampler.join().unwrap();
    let (status, _) = agent.terminate(Duration::from_secs(10));
    let verdict = exactly_once(&final_counts(&out), &lines);
    eprintln!(
        "{FILES} files: {} lines, at most {max_fds} descriptors open, idle CPU {:.2}% of one core",
        lines.len(),
        idle * 100.0
    );
    assert!(
        verdict.is_ok() && caught_up.is_ok() && status.success(),
        "{verdict:?} {caught_up:?} {status}\n{}",
        log_tail(&log)
    );
    assert!(
        max_fds <= MAX_OPEN + 32,
        "{max_fds} descriptors open with --max-open-files {MAX_OPEN}"
    );
    assert!(
        idle < 0.05,
        "idle agent used {:.2}% of one core over 3s",
        idle * 100.0
    );
}

// ---------------------------------------------------------------------------------------
// Regressions found by the tests above, each pinned on its own.

/// Readers beyond `--max-open-files` were never opened: quiet readers are only closed when
/// more than the limit are open, which never happens, so the files found after the first
/// N were never read, with --once or following.
#[test]
fn files_beyond_max_open_files_were_never_read() {
    let (dir, logs) = run_dir();
    let mut rng = Rng(71);
    let mut lines = Vec::new();
    for i in 0..12 {
        let new = batch(&format!("g{i}"), lines.len(), 5, &mut rng);
        write_lines(&mut append_to(&logs.join(format!("g{i:02}.log"))), &new);
        lines.extend(new);
    }
    let once_out = dir.path().join("once");
    let output = Command::new(FIRN)
        .current_dir(dir.path())
        .args(["--once", "--input", "logs/*.log", "--max-open-files", "4"])
        .arg("--output")
        .arg(&once_out)
        .output()
        .unwrap();
    assert!(output.status.success());
    let once = exactly_once(&final_counts(&once_out), &lines);

    let mut args = FOLLOW.to_vec();
    args.extend(["--max-open-files", "4"]);
    let agent = Agent::start(dir.path(), "agent.log", &args);
    let log = agent.log.clone();
    let out = dir.path().join("out");
    let caught_up = wait_for_lines(&out, &lines, Duration::from_secs(20));
    let (status, _) = agent.terminate(Duration::from_secs(10));
    let follow = exactly_once(&final_counts(&out), &lines);
    assert!(
        once.is_ok() && follow.is_ok() && caught_up.is_ok() && status.success(),
        "12 files, --max-open-files 4\n--once: {once:?}\nfollowing: {follow:?} {caught_up:?}\n{}",
        log_tail(&log)
    );
}

/// With file-system events, the agent's own directory listing (the glob) and file opens
/// raised inotify events (IN_OPEN) that woke it to list and open again: a busy loop, about
/// half a core, while nothing was written.
#[test]
fn an_idle_agent_woke_itself_up_with_its_own_directory_listings() {
    let (dir, logs) = run_dir();
    let mut rng = Rng(91);
    let mut lines = Vec::new();
    for i in 0..20 {
        let new = batch(&format!("i{i}"), lines.len(), 3, &mut rng);
        write_lines(&mut append_to(&logs.join(format!("i{i:02}.log"))), &new);
        lines.extend(new);
    }
    let agent = Agent::start(dir.path(), "agent.log", &FOLLOW);
    let log = agent.log.clone();
    wait_for_lines(&dir.path().join("out"), &lines, Duration::from_secs(20))
        .unwrap_or_else(|e| panic!("{e}\n{}", log_tail(&log)));
    sleep(Duration::from_secs(1));
    let pid = agent.pid();
    let cpu0 = cpu_seconds(pid);
    let t0 = Instant::now();
    sleep(Duration::from_secs(3));
    let idle = (cpu_seconds(pid) - cpu0) / t0.elapsed().as_secs_f64();
    let (status, _) = agent.terminate(Duration::from_secs(10));
    eprintln!("20 idle files: {:.2}% of one core", idle * 100.0);
    assert!(status.success());
    assert!(
        idle < 0.05,
        "idle agent following 20 files used {:.1}% of one core over 3s",
        idle * 100.0
    );
}
