//! End to end: line cases (long lines under each policy, CRI, Docker, JSON, a last line
//! without a newline, a 300 MiB line) in follow mode and with `--once`.
//!
//! Every agent runs in its own temporary folder (`logs/` in, `out/` out), its stderr
//! appended to `agent.log` there, shown when a check fails. Helpers: `common/tail.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::agent::{Agent, FIRN, log_tail};
use common::tail::*;
use common::{OutRow, read_rows};

// ---------------------------------------------------------------------------------------
// 2. Line cases, in follow mode and with --once.

const LIMIT: usize = 16 << 10;

/// The plain file: lines at and over the 16 KiB limit, invalid UTF-8, CRLF, and a last line
/// without a newline.
fn plain_log() -> Vec<u8> {
    let mut v = Vec::new();
    let line = |v: &mut Vec<u8>, body: &[u8], end: &[u8]| {
        v.extend_from_slice(body);
        v.extend_from_slice(end);
    };
    line(&mut v, "a".repeat(LIMIT).as_bytes(), b"\n");
    line(&mut v, "b".repeat(LIMIT + 1).as_bytes(), b"\n");
    line(&mut v, "c".repeat(20_000).as_bytes(), b"\r\n");
    line(&mut v, "d".repeat(LIMIT).as_bytes(), b"\r\n");
    // A cut at the limit would fall inside the first `é`.
    line(
        &mut v,
        format!("{}{}", "x".repeat(LIMIT - 1), "é".repeat(10)).as_bytes(),
        b"\n",
    );
    line(&mut v, b"bad \xff\xfe end", b"\n");
    line(&mut v, b"windows line", b"\r\n");
    line(&mut v, b"no newline at the end", b"");
    v
}

const CRI_LOG: &str = "\
2024-05-01T12:00:00.000000001Z stdout P first part, \n\
2024-05-01T12:00:00.000000002Z stdout P second part, \n\
2024-05-01T12:00:00.000000003Z stdout F last part\n\
2024-05-01T12:00:01Z stderr F an error line\n";

const DOCKER_LOG: &str = r#"{"log":"docker hello\n","stream":"stdout","time":"2024-05-01T12:00:00.5Z"}
{"log":"docker part a ","stream":"stderr","time":"2024-05-01T12:00:01Z"}
{"log":"part b\n","stream":"stderr","time":"2024-05-01T12:00:01.1Z"}
"#;

const JSON_LOG: &str = r#"{"body":"structured hello","severity_text":"WARN","attributes":{"user":"bob","n":3},"timestamp":"2024-05-01T12:00:03Z","dropped":"field"}
{"body":{"k":[1,2]},"severity_text":"DEBUG"}
not json {"body":
"#;

/// 2024-05-01T12:00:00Z in ns.
const NOON: i64 = 1_714_564_800_000_000_000;

fn write_case_files(logs: &Path) {
    std::fs::write(logs.join("plain.log"), plain_log()).unwrap();
    std::fs::write(logs.join("cri.log"), CRI_LOG).unwrap();
    std::fs::write(logs.join("docker.log"), DOCKER_LOG).unwrap();
    std::fs::write(logs.join("json.log"), JSON_LOG).unwrap();
}

/// The rows read from `name`, in order.
fn rows_of<'a>(rows: &'a [OutRow], name: &str) -> Vec<&'a OutRow> {
    rows.iter()
        .filter(|r| {
            r.record_type == "LOG"
                && r.attributes["log.file.path"]
                    .as_str()
                    .is_some_and(|p| p.ends_with(name))
        })
        .collect()
}

const FLAG_NAMES: [&str; 3] = [
    "log.record.truncated",
    "log.record.split",
    "log.record.invalid_utf8",
];

fn flag(r: &OutRow) -> &'static str {
    let set: Vec<&str> = FLAG_NAMES
        .into_iter()
        .filter(|f| r.attributes.get(*f).is_some())
        .collect();
    for f in &set {
        assert_eq!(r.attributes[*f], true, "{f} is true when set");
    }
    assert!(set.len() <= 1, "at most one flag: {set:?}");
    set.first().map_or("", |f| f.rsplit('.').next().unwrap())
}

/// Checks every case file's rows; `how` names the run in messages.
fn check_cases(rows: &[OutRow], policy: &str, how: &str) {
    let [a, b, c, d, x] = ["a", "b", "c", "d", "x"].map(|s| s.repeat(LIMIT));
    let mut want: Vec<(String, &str)> = vec![(a, "")];
    match policy {
        "truncate" => want.extend([
            (b, "truncated"),
            (c, "truncated"),
            (d, ""),
            (x[..LIMIT - 1].to_string(), "truncated"),
        ]),
        "split" => want.extend([
            (b, "split"),
            ("b".into(), "split"),
            (c, "split"),
            ("c".repeat(20_000 - LIMIT), "split"),
            (d, ""),
            (x[..LIMIT - 1].to_string(), "split"),
            ("é".repeat(10), "split"),
        ]),
        "drop" => want.push((d, "")),
        _ => unreachable!(),
    }
    want.extend([
        ("bad \u{FFFD}\u{FFFD} end".to_string(), "invalid_utf8"),
        ("windows line".to_string(), ""),
        ("no newline at the end".to_string(), ""),
    ]);
    let got: Vec<(String, &str)> = rows_of(rows, "plain.log")
        .into_iter()
        .map(|r| {
            (
                r.value.as_str().unwrap_or("<not text>").to_string(),
                flag(r),
            )
        })
        .collect();
    let show = |v: &[(String, &str)]| {
        v.iter()
            .map(|(s, f)| format!("{} [{f}]", short(s)))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        show(&got),
        show(&want),
        "{how}, --long-lines {policy}: plain.log rows"
    );
    assert_eq!(got, want, "{how}, --long-lines {policy}: plain.log rows");

    let cri = rows_of(rows, "cri.log");
    let cri_v: Vec<_> = cri
        .iter()
        .map(|r| {
            (
                r.value.as_str().unwrap(),
                r.attributes["log.iostream"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        cri_v,
        [
            ("first part, second part, last part", "stdout"),
            ("an error line", "stderr")
        ],
        "{how}: CRI partial lines joined"
    );
    assert_eq!(
        cri[0].timestamp,
        NOON + 1,
        "{how}: CRI time of the first part"
    );
    assert_eq!(cri[1].record["severity_text"], "ERROR", "{how}: CRI stderr");

    let docker = rows_of(rows, "docker.log");
    let docker_v: Vec<_> = docker
        .iter()
        .map(|r| {
            (
                r.value.as_str().unwrap(),
                r.attributes["log.iostream"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        docker_v,
        [
            ("docker hello", "stdout"),
            ("docker part a part b", "stderr")
        ],
        "{how}: Docker json-file lines"
    );
    assert_eq!(
        docker[0].timestamp,
        NOON + 500_000_000,
        "{how}: Docker time"
    );

    let json = rows_of(rows, "json.log");
    assert_eq!(json.len(), 3, "{how}: JSON rows {json:?}");
    assert_eq!(json[0].value, "structured hello", "{how}");
    assert_eq!(json[0].record["severity_text"], "WARN", "{how}");
    assert_eq!(json[0].attributes["user"], "bob", "{how}");
    assert_eq!(json[0].attributes["n"], 3, "{how}");
    assert_eq!(json[0].timestamp, NOON + 3_000_000_000, "{how}");
    assert_eq!(json[1].value, serde_json::json!({"k": [1, 2]}), "{how}");
    assert_eq!(json[1].record["severity_text"], "DEBUG", "{how}");
    assert_eq!(json[2].value, r#"not json {"body":"#, "{how}");
    assert_eq!(json[2].record["severity_text"], "INFO", "{how}");
}

/// Runs `--once` over `logs/*.log` into a new output folder; returns its rows.
fn once(dir: &Path, out: &str, extra: &[&str]) -> Vec<OutRow> {
    let output = Command::new(FIRN)
        .current_dir(dir)
        .args(["--once", "--input", "logs/*.log", "--output", out])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "--once failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    read_rows(&dir.join(out))
}

#[test]
fn line_cases_with_once_under_each_long_line_policy() {
    let (dir, logs) = run_dir();
    write_case_files(&logs);
    for policy in ["truncate", "split", "drop"] {
        let rows = once(
            dir.path(),
            &format!("out-{policy}"),
            &["--long-lines", policy],
        );
        check_cases(&rows, policy, "--once");
    }
}

#[test]
fn line_cases_in_follow_mode() {
    let (dir, logs) = run_dir();
    let agent = Agent::start(dir.path(), "agent.log", &FOLLOW);
    // Written once the agent follows the (empty) folder, so they are found as new files.
    agent.wait_for_log("Following input files", 1, Duration::from_secs(30));
    write_case_files(&logs);
    // 8 plain rows, 2 CRI, 2 Docker, 3 JSON.
    wait_for_rows(
        &dir.path().join("out"),
        15,
        Duration::from_secs(30),
        &agent.log,
    );
    let log = agent.log.clone();
    let (status, _) = agent.terminate(Duration::from_secs(10));
    assert!(status.success(), "{status}\n{}", log_tail(&log));
    check_cases(&read_rows(&dir.path().join("out")), "truncate", "follow");
}

/// A last line without a newline is emitted once the file has been quiet for
/// `--partial-line-timeout` (5 s by default); its rest, written later, is a row of its own,
/// and the head is not emitted again, neither by the same agent nor by one restarted after a
/// kill -9.
fn partial_last_line(kill_between: bool, extra: &[&str], quiet: Duration) {
    let (dir, logs) = run_dir();
    let out = dir.path().join("out");
    let args: Vec<&str> = FOLLOW.iter().chain(extra).copied().collect();
    let agent = Agent::start(dir.path(), "agent.log", &args);
    let log = agent.log.clone();
    let mut f = append_to(&logs.join("app.log"));
    f.write_all(b"first\nhead of a line").unwrap();
    let t0 = Instant::now();
    wait_for_rows(&out, 2, Duration::from_secs(30), &log);
    let took = t0.elapsed();
    assert!(
        took >= quiet - Duration::from_millis(50),
        "the unfinished line was emitted after {took:?}, before the file was quiet for {quiet:?}"
    );
    let agent = if kill_between {
        agent.kill9();
        Agent::start(dir.path(), "agent.log", &args)
    } else {
        agent
    };
    f.write_all(b" and its rest\nnext\n").unwrap();
    wait_for_rows(&out, 4, Duration::from_secs(30), &log);
    let (status, _) = agent.terminate(Duration::from_secs(10));
    assert!(status.success());
    // Stopped: every row it would ever write is out, a wrong extra one included.
    assert_eq!(
        values(&out),
        ["first", "head of a line", " and its rest", "next"],
        "{}",
        log_tail(&log)
    );
}

#[test]
fn a_last_line_without_newline_is_emitted_when_idle_and_not_again_when_it_ends() {
    partial_last_line(false, &[], Duration::from_secs(5));
}

#[test]
fn a_last_line_without_newline_is_not_emitted_again_after_kill_9_and_restart() {
    // A shorter timeout (a setting of its own) keeps this variant quick.
    partial_last_line(
        true,
        &["--partial-line-timeout", "1s"],
        Duration::from_secs(1),
    );
}

#[test]
fn a_300_mib_line_without_newline_keeps_memory_under_64_mib() {
    let (dir, logs) = run_dir();
    {
        let mut f = File::create(logs.join("huge.log")).unwrap();
        let block = vec![b'x'; 1 << 20];
        for _ in 0..300 {
            f.write_all(&block).unwrap();
        }
    }
    let mut child = Command::new(FIRN)
        .current_dir(dir.path())
        .args(["--once", "--input", "logs/*.log", "--output", "out"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut peak = 0;
    let status = loop {
        if let Some(kib) = common::peak_rss_kib(pid) {
            peak = peak.max(kib);
        }
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        sleep(Duration::from_millis(10));
    };
    assert!(status.success());
    eprintln!("peak RSS over a 300 MiB line: {} KiB", peak);
    assert!(
        peak < 64 << 10,
        "peak RSS {peak} KiB reading a 300 MiB line"
    );
    let v = values(&dir.path().join("out"));
    assert_eq!(v.len(), 1);
    assert_eq!(v[0], "x".repeat(LIMIT));
}
