//! End to end: the output's disk fills up, local mode (issue 17). The README (Output) says:
//! when a write fails the file stays in memory and is retried with backoff under a new name;
//! the error is logged once per episode with the path; past 16 MiB of files waiting, reading
//! pauses until they drain. After space returns every line is there exactly once.
//!
//! The output is a tmpfs of the test's own, filled to its last byte: mounting needs root (CI
//! runs as root). Where it cannot be mounted the test says so on stderr, and fails when
//! FIRN_REQUIRE_ROOT_TESTS=1 (CI).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::agent::{Agent, log_tail, wait_until};
use common::root::{cannot_run, fill, mount_tmpfs};
use common::tail::{Rng, Tally, exactly_once, final_counts};
use common::{append, lines, parquet_files};

/// Where the agent `pid` has read `input` to: the offset of its descriptor for it.
fn read_offset(pid: u32, input: &Path) -> Option<u64> {
    for e in std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.flatten() {
        if std::fs::read_link(e.path()).ok().as_deref() == Some(input) {
            let info =
                std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{}", e.file_name().to_str()?))
                    .ok()?;
            return info
                .lines()
                .find_map(|l| l.strip_prefix("pos:"))
                .and_then(|v| v.trim().parse().ok());
        }
    }
    None
}

/// `n` lines of 200 random hex digits: they compress to about half, so 128 MiB of them make
/// far more than 16 MiB of Parquet.
fn hex_lines(tag: &str, n: usize, rng: &mut Rng) -> Vec<String> {
    (0..n)
        .map(|i| {
            let mut s = format!("{tag} {i:07} ");
            for _ in 0..25 {
                s.push_str(&format!("{:08x}", rng.next() as u32));
            }
            s
        })
        .collect()
}

#[test]
fn a_full_output_disk_pauses_reading_retries_under_a_new_name_logs_once_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (logs, out) = (d.join("logs"), d.join("out"));
    std::fs::create_dir_all(&logs).unwrap();
    // Room for everything the test writes, once the filler is gone.
    let _mount = match mount_tmpfs(&out, "192m") {
        Ok(m) => m,
        Err(e) => return cannot_run("full output disk", &e),
    };
    let input = logs.join("app.log");
    let before = lines("before", 100);
    append(&input, &before);
    // Special settings: the spool on another disk (by default it lies in the output folder,
    // whose disk this test fills: that is the spool's own test in spool_e2e.rs), and files
    // closed every second so that writes fail within a short test.
    let args = [
        "--input",
        "logs/*.log",
        "--output",
        "out",
        "--spool",
        "spool",
        "--max-file-age",
        "1s",
    ];
    let mut agent = Agent::start(d, "agent.log", &args);
    let pid = agent.pid();
    wait_until(
        "the first lines written",
        &agent.log,
        Duration::from_secs(30),
        || {
            let mut t = Tally::default();
            t.refresh(&out);
            t.has_all(&before)
        },
    );
    let filler = out.join("filler");
    fill(&filler);

    // 128 MiB of lines while the disk is full: 16 MiB of waiting files hold well under half.
    let mut rng = Rng(17);
    let full = hex_lines("full", 128 << 20 >> 8, &mut rng);
    append(&input, &full);
    let size = std::fs::metadata(&input).unwrap().len();
    agent.wait_for_log(
        "Cannot write output file; keeping it in memory and retrying",
        1,
        Duration::from_secs(30),
    );
    // Reading pauses: the agent's offset in the input stops short of its end.
    let (mut last, mut since) = (None, Instant::now());
    wait_until(
        "reading paused",
        &agent.log,
        Duration::from_secs(120),
        || {
            let now = read_offset(pid, &input);
            if now != last {
                (last, since) = (now, Instant::now());
            }
            since.elapsed() > Duration::from_secs(4)
        },
    );
    let paused_at = last.expect("the agent holds the input open");
    assert!(
        paused_at < size / 2,
        "reading went on to {paused_at} of {size} bytes with the output disk full\n{}",
        log_tail(&agent.log)
    );
    // Retries have failed meanwhile (backoff from 1 s): still one message for the episode.
    sleep(Duration::from_secs(4));
    let text = agent.log_text();
    assert_eq!(
        text.matches("Cannot write output file").count(),
        1,
        "one message per episode\n{}",
        log_tail(&agent.log)
    );
    assert!(
        text.contains(&out.display().to_string()),
        "the message names the path\n{}",
        log_tail(&agent.log)
    );
    assert!(agent.try_wait().is_none(), "the agent exited");

    // Space returns: the waiting files are written, reading resumes, nothing is lost.
    std::fs::remove_file(&filler).unwrap();
    agent.wait_for_log("Output writable again", 1, Duration::from_secs(60));
    let all: Vec<String> = before.iter().chain(&full).cloned().collect();
    wait_until(
        "every line written",
        &agent.log,
        Duration::from_secs(180),
        || {
            let mut t = Tally::default();
            t.refresh(&out);
            t.has_all(&all)
        },
    );
    let log = agent.log.clone();
    let (status, _) = agent.terminate(Duration::from_secs(30));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{status}\n{}", log_tail(&log));
    let failures: u64 = text
        .lines()
        .find(|l| l.contains("Output writable again"))
        .and_then(|l| l.split("failures=").nth(1))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(
        failures >= 2,
        "failures={failures}: the retries were not tried\n{text}"
    );
    let counts: HashMap<String, usize> = final_counts(&out);
    exactly_once(&counts, &all).unwrap_or_else(|e| panic!("{e}\n{}", log_tail(&log)));
    // A retried file has a new name (`-r<N>`), and no partial file is left.
    let names: Vec<String> = parquet_files(&out)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().any(|n| n.contains("-r")
            && n.ends_with(".parquet")
            && n.rsplit_once("-r").is_some_and(|(_, r)| r
                .trim_end_matches(".parquet")
                .parse::<u32>()
                .is_ok_and(|k| k >= 1))),
        "no file written under a retry's name: {names:?}"
    );
    let mut leftovers = Vec::new();
    let mut stack = vec![out.clone()];
    while let Some(p) = stack.pop() {
        for e in std::fs::read_dir(&p).unwrap().flatten() {
            let path = e.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().ends_with(".tmp") {
                leftovers.push(path);
            }
        }
    }
    assert!(leftovers.is_empty(), "partial files left: {leftovers:?}");
}
