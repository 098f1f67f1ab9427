//! End to end: the real `firn-agent` binary exporting OTLP/HTTP to a small receiver written
//! in Python with `opentelemetry-proto` (tests/data/otlp_receiver.py), which decodes every
//! request with code we did not write and records it. Loopback only.
//!
//! Each test runs in its own temporary folder: `logs/` in, `out/` Parquet, `requests.jsonl`
//! what the receiver saw, `agent.log` the agent's stderr (shown when a check fails).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, HashSet};
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const FIRN: &str = env!("CARGO_BIN_EXE_firn-agent");

fn receiver_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/otlp_receiver.py")
}

/// The Python receiver, killed when dropped.
struct Receiver {
    child: Child,
    port: u16,
}

impl Receiver {
    fn start(dir: &Path, schedule: &str, extra: &[&str]) -> Receiver {
        Self::start_on(dir, schedule, extra, 0)
    }

    fn start_on(dir: &Path, schedule: &str, extra: &[&str], port: u16) -> Receiver {
        let mut child = Command::new("python3")
            .arg(receiver_script())
            .args([
                "--schedule",
                schedule,
                "--port",
                &port.to_string(),
                "--record",
            ])
            .arg(dir.join("requests.jsonl"))
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 with opentelemetry-proto (pip install -r requirements-test.txt)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("the receiver did not start: {line:?}"));
        Receiver { child, port }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn requests(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("requests.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Every log record the receiver accepted.
fn accepted_logs(dir: &Path) -> Vec<Value> {
    requests(dir)
        .into_iter()
        .filter(|r| r["answer"] == "200")
        .flat_map(|r| r["logs"].as_array().cloned().unwrap_or_default())
        .collect()
}

fn bodies(dir: &Path) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in accepted_logs(dir) {
        *m.entry(r["body"].as_str().unwrap_or("").to_string())
            .or_insert(0) += 1;
    }
    m
}

fn agent_log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("agent.log")).unwrap_or_default()
}

fn spawn_agent(dir: &Path, args: &[&str]) -> Child {
    let err = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("agent.log"))
        .unwrap();
    Command::new(FIRN)
        .current_dir(dir)
        .args(args)
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(err)
        .spawn()
        .unwrap()
}

fn wait_until(what: &str, dir: &Path, limit: Duration, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + limit;
    while !f() {
        assert!(
            Instant::now() < end,
            "timed out waiting for {what}\nagent log:\n{}",
            agent_log(dir)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `n` CRI lines: even ones on stdout, odd ones on stderr, every fifth a structured WARN.
fn write_lines(path: &Path, from: usize, n: usize) -> Vec<String> {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    let mut texts = Vec::new();
    for i in from..from + n {
        let stream = if i.is_multiple_of(2) {
            "stdout"
        } else {
            "stderr"
        };
        let text = format!("line {i:06}");
        if i.is_multiple_of(5) {
            let json = format!(r#"{{"body":"{text}","severity_text":"WARN"}}"#);
            writeln!(f, "2024-05-01T12:00:00.000000000Z {stream} F {json}").unwrap();
        } else {
            writeln!(f, "2024-05-01T12:00:00.000000000Z {stream} F {text}").unwrap();
        }
        texts.push(text);
    }
    f.sync_all().unwrap();
    texts
}

fn sigterm(child: &mut Child) {
    let pid = rustix::process::Pid::from_raw(i32::try_from(child.id()).unwrap()).unwrap();
    let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
}

fn kill9(child: &mut Child) {
    child.kill().unwrap();
    child.wait().unwrap();
}

/// The severity and stream each line must arrive with (SPCS.md §3: stderr lines are ERROR,
/// a structured line keeps its own severity).
fn expected_severity(i: usize) -> (&'static str, &'static str) {
    let stream = if i.is_multiple_of(2) {
        "stdout"
    } else {
        "stderr"
    };
    let sev = if i.is_multiple_of(5) {
        "WARN"
    } else if i.is_multiple_of(2) {
        "INFO"
    } else {
        "ERROR"
    };
    (stream, sev)
}

#[test]
fn otlp_every_line_arrives_once_through_503_then_dropped_connections() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir(dir.join("logs")).unwrap();
    let texts = write_lines(&dir.join("logs/app.log"), 0, 3000);
    let rx = Receiver::start(dir, "503:10,drop:10,200", &[]);
    // Default export settings: only the endpoint is given.
    let mut agent = spawn_agent(
        dir,
        &[
            "--once",
            "--input",
            "logs/*.log",
            "--output",
            "out",
            "--resource-attribute",
            "snow.service.name=svc",
            "--otlp-endpoint",
            &rx.url(),
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(180);
    while agent.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "agent did not finish\n{}",
            agent_log(dir)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(agent.wait().unwrap().success(), "{}", agent_log(dir));
    // Every line exactly once, with its stream, severity and the resource attributes.
    let logs = accepted_logs(dir);
    let got = bodies(dir);
    assert_eq!(got.len(), texts.len(), "lines missing\n{}", agent_log(dir));
    assert!(
        got.values().all(|&n| n == 1),
        "duplicates: {:?}",
        got.iter().filter(|e| *e.1 > 1).take(5).collect::<Vec<_>>()
    );
    for r in &logs {
        let body = r["body"].as_str().unwrap();
        let i: usize = body.trim_start_matches("line ").parse().unwrap();
        let (stream, sev) = expected_severity(i);
        assert_eq!(r["attributes"]["log.iostream"], stream, "{r}");
        assert_eq!(r["severity_text"], sev, "{r}");
        assert_eq!(r["resource"]["snow.service.name"], "svc", "{r}");
    }
    // Backoff visible: the failed tries come further and further apart, not in a hot loop.
    let all = requests(dir);
    let failed: Vec<f64> = all
        .iter()
        .filter(|r| r["answer"] != "200" && r["path"] == "/v1/logs")
        .map(|r| r["t"].as_f64().unwrap())
        .collect();
    let gaps: Vec<f64> = failed.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        failed.len() >= 4 && failed.len() < 40,
        "tries during the outage: {gaps:?}"
    );
    let max_gap = gaps.iter().cloned().fold(0.0, f64::max);
    assert!(
        max_gap >= 2.0 && gaps[0] < max_gap,
        "no backoff in {gaps:?}"
    );
    assert!(
        all.iter().any(|r| r["answer"] == "drop"),
        "the drop phase was not reached"
    );
    // Every try of one request carries the agent id and the same sequence number.
    assert!(
        all.iter()
            .all(|r| r["agent"].is_string() && r["seq"].is_string())
    );
    let log = agent_log(dir);
    assert!(
        log.contains("trying again") && log.contains("HTTP 503"),
        "{log}"
    );
    // Parquet too: the same lines, once.
    assert_eq!(
        common::read_rows(&dir.join("out"))
            .iter()
            .filter(|r| r.record_type == "LOG")
            .count(),
        texts.len()
    );
}

/// RFC 9110 §10.2.3: `Retry-After` may be an HTTP date. The receiver answers 503 with a date
/// 4 s ahead (whole seconds, so at least 3 s): the agent's next try of that request comes no
/// sooner, where its own first backoff would be a quarter of a second.
#[test]
fn otlp_retry_after_as_an_http_date_is_waited_for() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir(dir.join("logs")).unwrap();
    let texts = write_lines(&dir.join("logs/app.log"), 0, 20);
    let rx = Receiver::start(dir, "503:0.2,200", &["--retry-after-date", "4"]);
    let agent = spawn_agent(
        dir,
        &[
            "--once",
            "--input",
            "logs/*.log",
            "--output",
            "out",
            "--otlp-endpoint",
            &rx.url(),
        ],
    );
    let out = agent.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", agent_log(dir));
    let reqs = requests(dir);
    let first = reqs
        .iter()
        .find(|r| r["answer"] == "503")
        .expect("a 503 answer");
    let again = reqs
        .iter()
        .find(|r| r["seq"] == first["seq"] && r["answer"] == "200")
        .expect("the same request again, taken");
    let gap = again["t"].as_f64().unwrap() - first["t"].as_f64().unwrap();
    assert!(
        gap >= 2.9,
        "tried again after {gap:.2} s:\n{}",
        agent_log(dir)
    );
    let got = bodies(dir);
    assert!(texts.iter().all(|t| got.get(t) == Some(&1)), "{got:?}");
}

#[test]
fn otlp_refused_batch_is_logged_counted_and_the_next_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir(dir.join("logs")).unwrap();
    let texts = write_lines(&dir.join("logs/app.log"), 0, 50);
    let rx = Receiver::start(dir, "200", &["--refuse-request", "2"]);
    // Batches of 10 (special setting: so that one refused request is a known tenth).
    let agent = spawn_agent(
        dir,
        &[
            "--once",
            "--input",
            "logs/*.log",
            "--output",
            "out",
            "--otlp-endpoint",
            &rx.url(),
            "--otlp-batch",
            "10",
        ],
    );
    let out = agent.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", agent_log(dir));
    let got = bodies(dir);
    let missing: Vec<&String> = texts.iter().filter(|t| !got.contains_key(*t)).collect();
    assert_eq!(missing, texts[10..20].iter().collect::<Vec<_>>());
    let log = agent_log(dir);
    assert!(
        log.contains("record 7 has a bad attribute") && log.contains("400"),
        "{log}"
    );
    assert!(
        stdout.contains("firn.otlp_records_refused_total = 10"),
        "{stdout}"
    );
    assert!(
        stdout.contains("firn.otlp_records_sent_total = 40"),
        "{stdout}"
    );
}

#[test]
fn otlp_kill9_while_the_receiver_is_down_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir(dir.join("logs")).unwrap();
    let texts = write_lines(&dir.join("logs/app.log"), 0, 500);
    let down = Receiver::start(dir, "503", &[]);
    let port = down.port;
    let url = down.url();
    let args = [
        "--input",
        "logs/*.log",
        "--output",
        "out",
        "--otlp-endpoint",
        &url,
    ];
    let mut agent = spawn_agent(dir, &args);
    wait_until("two refused tries", dir, Duration::from_secs(60), || {
        requests(dir).len() >= 2
    });
    kill9(&mut agent);
    drop(down);
    let _up = Receiver::start_on(dir, "200", &[], port);
    let mut agent = spawn_agent(dir, &args);
    wait_until("every line", dir, Duration::from_secs(90), || {
        bodies(dir).len() == texts.len()
    });
    sigterm(&mut agent);
    assert!(agent.wait().unwrap().success(), "{}", agent_log(dir));
    // Nothing was taken before the kill, so every line exactly once.
    let got = bodies(dir);
    assert!(got.values().all(|&n| n == 1), "{got:?}");
}

#[test]
fn otlp_kill9_while_the_receiver_is_up_duplicates_only_unfinished_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir(dir.join("logs")).unwrap();
    let log = dir.join("logs/app.log");
    let rx = Receiver::start(dir, "200", &[]);
    let url = rx.url();
    // Files close after 2 s (special setting: so that some positions are durable at the
    // kill and some are not).
    let args = [
        "--input",
        "logs/*.log",
        "--output",
        "out",
        "--max-file-age",
        "2s",
        "--otlp-endpoint",
        &url,
    ];
    let mut agent = spawn_agent(dir, &args);
    let mut texts = Vec::new();
    for k in 0..10 {
        texts.extend(write_lines(&log, k * 200, 200));
        std::thread::sleep(Duration::from_millis(500));
    }
    wait_until("some lines", dir, Duration::from_secs(60), || {
        bodies(dir).len() >= 1000
    });
    kill9(&mut agent);
    // Rows whose file (with their position) was complete at the kill must not come again.
    let durable: HashSet<String> = common::read_rows(&dir.join("out"))
        .into_iter()
        .filter(|r| r.record_type == "LOG")
        .map(|r| r.value.as_str().unwrap_or("").to_string())
        .collect();
    let before = bodies(dir);
    let mut agent = spawn_agent(dir, &args);
    texts.extend(write_lines(&log, 2000, 500));
    wait_until("every line", dir, Duration::from_secs(90), || {
        let got = bodies(dir);
        texts.iter().all(|t| got.contains_key(t))
    });
    sigterm(&mut agent);
    assert!(agent.wait().unwrap().success(), "{}", agent_log(dir));
    let got = bodies(dir);
    let dups: Vec<&String> = got.iter().filter(|e| *e.1 > 1).map(|e| e.0).collect();
    for d in &dups {
        assert!(
            before.contains_key(*d),
            "{d} duplicated but not sent before the kill"
        );
        assert!(
            !durable.contains(*d),
            "{d} was durable in Parquet, yet sent again"
        );
    }
    assert!(got.values().all(|&n| n <= 2));
}
