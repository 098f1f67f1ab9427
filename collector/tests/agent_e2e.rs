//! firn-agent -> firn-collector, both real processes on loopback: the collector's Parquet holds
//! the agent's rows as the agent's own Parquet does, nothing is lost while the collector is
//! down, and a batch the agent sends again after its answer was lost is written once, also
//! across a collector restart (`kill -9`).
//!
//! The agent binary is the one built beside this crate's (`cargo test --workspace` builds
//! both; alone: `cargo build -p firn-agent` first), or `FIRN_AGENT_BIN`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Collector, TOKEN, counter, free_port, python, wait_until};
use serde_json::{Value, json};

fn agent_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("FIRN_AGENT_BIN") {
        return p.into();
    }
    let p = Path::new(env!("CARGO_BIN_EXE_firn-collector")).with_file_name("firn-agent");
    assert!(
        p.exists(),
        "{} is missing: run `cargo build -p firn-agent` (or set FIRN_AGENT_BIN)",
        p.display()
    );
    p
}

/// A running agent, killed if a check fails first.
struct Agent {
    child: Option<Child>,
    log: PathBuf,
}

impl Agent {
    fn start(dir: &Path, args: &[&str]) -> Agent {
        let log = dir.join("agent.log");
        let err = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let child = Command::new(agent_bin())
            .current_dir(dir)
            .args(args)
            .env("OTEL_RESOURCE_ATTRIBUTES", "service.name=shop,team=core")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .unwrap();
        Agent {
            child: Some(child),
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM; the exit must be clean.
    fn stop(mut self) {
        let mut child = self.child.take().unwrap();
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        let status = child.wait().unwrap();
        assert!(status.success(), "agent exit {status}:\n{}", self.log());
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
            eprintln!("agent log:\n{}", self.log());
        }
    }
}

/// The lossy proxy (tests/py/lossy_proxy.py), killed when dropped.
struct Proxy {
    child: Child,
    port: u16,
}

impl Proxy {
    fn start(target: u16, control: &Path) -> Proxy {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/lossy_proxy.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(target.to_string())
            .arg(control)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().expect("the proxy's port");
        Proxy { child, port }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn append(p: &Path, lines: &[String]) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(p)
        .unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
    f.sync_all().unwrap();
}

fn plain(tag: &str, from: usize, n: usize) -> Vec<String> {
    (from..from + n)
        .map(|i| format!("plain {tag} {i}"))
        .collect()
}

/// Structured lines: body, severity and attributes of the app's own (SPCS.md §3).
fn structured(from: usize, n: usize) -> Vec<String> {
    (from..from + n)
        .map(|i| {
            json!({"body": format!("json {i}"), "severity_text": "WARN",
                   "attributes": {"user": format!("u{i}"), "n": i}})
            .to_string()
        })
        .collect()
}

/// LOG rows below `dir`, read by pyarrow, and DuckDB's counts.
fn rows(dir: &Path) -> (Vec<Value>, u64, u64) {
    let out: Value = serde_json::from_str(&python("event_rows.py", &[dir.to_str().unwrap()]))
        .expect("event_rows.py prints JSON");
    (
        out["rows"].as_array().unwrap().clone(),
        out["duckdb_log_rows"].as_u64().unwrap(),
        out["duckdb_repeated_values"].as_u64().unwrap(),
    )
}

/// How many times each log line (VALUE) is below `dir`, read by the Rust reader (fast enough
/// to poll).
fn value_counts(dir: &Path) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in common::read_rows(dir) {
        if r.record_type == "LOG" {
            let v: Value = serde_json::from_str(r.view().value.unwrap_or("null")).unwrap();
            *m.entry(v.as_str().unwrap_or_default().to_string())
                .or_default() += 1;
        }
    }
    m
}

fn sorted(mut v: Vec<Value>) -> Vec<Value> {
    v.sort_by_key(|r| (r["value"].to_string(), r["ts"].as_i64()));
    v
}

fn agent_args(endpoint: &str) -> Vec<&str> {
    vec![
        "--input",
        "logs/*.log",
        "--output",
        "agent_out",
        "--otlp-endpoint",
        endpoint,
        "--otlp-token-file",
        "token",
    ]
}

/// The README's promise with default flags: an agent tailing files and exporting to
/// firn-collector; the collector's Parquet holds the same LOG rows as the agent's own (body,
/// severity, timestamps, resource and record attributes, scope). The collector is down for a
/// while in the middle (killed with -9): the agent waits and retries, nothing is lost, nothing
/// is written twice.
#[test]
fn agent_rows_reach_the_collector_as_in_the_agents_own_parquet_across_a_collector_outage() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir(dir.join("logs")).unwrap();
    std::fs::write(dir.join("token"), format!("{TOKEN}\n")).unwrap();
    let col_out = dir.join("collector_out");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let endpoint = format!("http://{listen}");
    let collector = Collector::start_at(&col_out, &listen, &[]);
    let agent = Agent::start(dir, &agent_args(&endpoint));

    append(&dir.join("logs/plain.log"), &plain("a", 0, 300));
    append(&dir.join("logs/app.log"), &structured(0, 200));
    wait_until("500 lines at the collector", || {
        value_counts(&col_out).len() == 500
    });

    collector.kill9();
    append(&dir.join("logs/plain.log"), &plain("b", 0, 300));
    append(&dir.join("logs/app.log"), &structured(200, 100));
    let t = Instant::now();
    while !agent.log().contains("trying again") {
        assert!(t.elapsed() < Duration::from_secs(30), "{}", agent.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    // Down a while longer: the agent keeps the batch and keeps trying.
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        value_counts(&col_out).len() == 500,
        "nothing new while the collector is down"
    );
    let collector = Collector::start_at(&col_out, &listen, &[]);
    wait_until("900 lines at the collector", || {
        value_counts(&col_out).len() == 900
    });
    agent.stop();
    collector.stop();

    let (from_agent, agent_n, agent_rep) = rows(&dir.join("agent_out"));
    let (at_collector, col_n, col_rep) = rows(&col_out);
    assert_eq!(
        (agent_n, agent_rep),
        (900, 0),
        "agent: rows, repeated lines"
    );
    assert_eq!(
        (col_n, col_rep),
        (900, 0),
        "collector: rows, repeated lines"
    );

    // Written by hand from the inputs and SPCS.md §3: what each kind of line must become.
    let by_value: BTreeMap<String, &Value> = at_collector
        .iter()
        .map(|r| (r["value"].as_str().unwrap().to_string(), r))
        .collect();
    for i in 0..300 {
        let r = by_value[&format!("json {i}")];
        assert_eq!(r["record"]["severity_text"], "WARN", "{r}");
        assert_eq!(r["record"]["severity_number"], 13, "{r}");
        assert_eq!(r["record_attributes"]["user"], format!("u{i}"), "{r}");
        assert_eq!(r["record_attributes"]["n"], i, "{r}");
        assert!(
            r["record_attributes"]["log.file.path"]
                .as_str()
                .unwrap()
                .ends_with("logs/app.log"),
            "{r}"
        );
    }
    for tag in ["a", "b"] {
        for i in 0..300 {
            let r = by_value[&format!("plain {tag} {i}")];
            assert_eq!(r["record"]["severity_text"], "INFO", "{r}");
        }
    }
    for r in &at_collector {
        assert_eq!(r["resource_attributes"]["service.name"], "shop", "{r}");
        assert_eq!(r["resource_attributes"]["team"], "core", "{r}");
        assert!(r["ts"].as_i64().unwrap() > 1_700_000_000_000_000_000, "{r}");
        assert!(r["observed"].as_i64().unwrap() >= r["ts"].as_i64().unwrap() - 60_000_000_000);
    }
    // And field by field the same as the agent's own rows.
    let (a, c) = (sorted(from_agent), sorted(at_collector));
    assert_eq!(a.len(), c.len());
    for (x, y) in a.iter().zip(&c) {
        assert_eq!(x, y, "agent row vs collector row");
    }
}

/// Exactly once through a lost answer: the collector writes a batch, its answer never reaches
/// the agent (a proxy closes the connection), the agent sends the batch again with the same
/// `firn-batch-seq`, and the collector drops it. Once with the collector running throughout
/// (its memory), once with a `kill -9` and restart between the write and the resend (the
/// numbers in its files' footers).
///
/// Special setting: the lossy proxy between agent and collector. A lost answer cannot be
/// made on demand otherwise; everything else runs with default flags.
#[test]
fn a_batch_resent_after_a_lost_answer_is_written_once_also_across_a_collector_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir(dir.join("logs")).unwrap();
    std::fs::write(dir.join("token"), format!("{TOKEN}\n")).unwrap();
    let control = dir.join("proxy");
    std::fs::create_dir(&control).unwrap();
    let col_out = dir.join("collector_out");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let collector = Collector::start_at(&col_out, &listen, &[]);
    let proxy = Proxy::start(port, &control);
    let endpoint = format!("http://127.0.0.1:{}", proxy.port);
    let agent = Agent::start(dir, &agent_args(&endpoint));
    let log = dir.join("logs/app.log");
    let set_mode = |m: &str| std::fs::write(control.join("mode"), m).unwrap();
    let dropped = || {
        std::fs::read_to_string(control.join("dropped"))
            .unwrap_or_default()
            .lines()
            .count()
    };

    append(&log, &plain("a", 0, 100));
    wait_until("100 lines", || value_counts(&col_out).len() == 100);

    // 1. Collector up throughout.
    set_mode("drop");
    append(&log, &plain("b", 0, 100));
    wait_until("an answer dropped", || dropped() == 1);
    wait_until("the dropped batch written", || {
        value_counts(&col_out).len() == 200
    });
    set_mode("pass");
    wait_until("the resend dropped by the collector", || {
        counter(
            collector.http,
            "firn_collector_resent_batches_dropped_total",
        ) == 1
    });

    // 2. The collector killed between the write and the resend.
    set_mode("drop");
    append(&log, &plain("c", 0, 100));
    wait_until("a second answer dropped", || dropped() == 2);
    wait_until("the dropped batch written", || {
        value_counts(&col_out).len() == 300
    });
    collector.kill9();
    let collector = Collector::start_at(&col_out, &listen, &[]);
    set_mode("pass");
    wait_until("the resend dropped by the restarted collector", || {
        counter(
            collector.http,
            "firn_collector_resent_batches_dropped_total",
        ) == 1
    });

    append(&log, &plain("d", 0, 100));
    wait_until("400 lines", || value_counts(&col_out).len() == 400);
    agent.stop();
    collector.stop();
    drop(proxy);

    let counts = value_counts(&col_out);
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "written more than once: {twice:?}");
    let (_, n, repeated) = rows(&col_out);
    assert_eq!((n, repeated), (400, 0), "DuckDB: LOG rows, repeated lines");
    let (_, n, repeated) = rows(&dir.join("agent_out"));
    assert_eq!((n, repeated), (400, 0), "the agent's own Parquet");
}

/// Both token files rotated while running (as a secret mount or SPCS's session token file
/// is replaced): the collector's `--token-file` and the agent's `--otlp-token-file` are read
/// again, so lines written after the rotation arrive with no restart, and the old token is
/// refused.
#[test]
fn rotated_token_files_take_effect_without_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::create_dir(dir.join("logs")).unwrap();
    std::fs::write(dir.join("token"), "old-token\n").unwrap();
    let col_token = dir.join("collector_token");
    std::fs::write(&col_token, "old-token\n").unwrap();
    let col_out = dir.join("collector_out");
    let collector = Collector::start(&col_out, &["--token-file", col_token.to_str().unwrap()]);
    let endpoint = format!("http://{}", collector.http);
    let agent = Agent::start(dir, &agent_args(&endpoint));
    let log = dir.join("logs/app.log");
    append(&log, &plain("before", 0, 50));
    wait_until("50 lines", || value_counts(&col_out).len() == 50);

    // Replaced by rename, as secret mounts do; the agent is idle meanwhile.
    for p in [col_token.clone(), dir.join("token")] {
        let tmp = p.with_extension("new");
        std::fs::write(&tmp, "new-token-after-rotation\n").unwrap();
        std::fs::rename(&tmp, &p).unwrap();
    }
    append(&log, &plain("after", 0, 50));
    wait_until("100 lines", || value_counts(&col_out).len() == 100);
    let old = common::request(
        collector.http,
        "POST",
        "/v1/logs",
        &[
            ("Content-Type", "application/json"),
            ("Authorization", "Bearer old-token"),
        ],
        b"{}",
    );
    assert_eq!(
        old.status, 401,
        "the old token is refused after the rotation"
    );
    agent.stop();
    collector.stop();
    assert!(value_counts(&col_out).values().all(|n| *n == 1));
}
