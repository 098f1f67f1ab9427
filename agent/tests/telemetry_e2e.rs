//! End to end: what the agent says about itself in its output, with default flags. The
//! README promises the agent's counters as `firn.*` METRIC rows (scope `firn.agent`) and a
//! footer naming the instance that wrote each file (`firn.instance`); issue 17 found neither
//! tested. Expected values are counted by hand from what each test writes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use common::agent::{Agent, log_tail};
use common::{OutRow, lines, parquet_files, read_rows};
use firn_schemas::parquet_sink::{META_AGENT_ID, META_INSTANCE, read_footer_metadata};

const ARGS: [&str; 4] = ["--input", "logs/*.log", "--output", "out"];

fn write(p: &Path, bytes: &[u8]) -> u64 {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(p)
        .unwrap();
    f.write_all(bytes).unwrap();
    bytes.len() as u64
}

fn text(ls: &[String]) -> Vec<u8> {
    ls.iter()
        .flat_map(|l| format!("{l}\n").into_bytes())
        .collect()
}

/// The `firn.*` METRIC rows by metric name (every row of each name).
fn firn_metrics(rows: &[OutRow]) -> BTreeMap<String, Vec<&OutRow>> {
    let mut m: BTreeMap<String, Vec<&OutRow>> = BTreeMap::new();
    for r in rows.iter().filter(|r| r.record_type == "METRIC") {
        let name = r.record["metric"]["name"].as_str().unwrap_or_default();
        if name.starts_with("firn.") {
            m.entry(name.to_string()).or_default().push(r);
        }
    }
    m
}

/// The agent reads a file with a long line and a line that is not UTF-8, the file is rotated
/// by rename, the new one truncated in place (copytruncate) and written again. At SIGTERM the
/// agent writes its counters as METRIC rows: one row per counter (the run is shorter than
/// the 60 s `--telemetry-interval`), each what the agent did.
#[test]
fn the_agents_counters_are_written_as_firn_metric_rows_that_say_what_it_did() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let app = logs.join("app.log");
    // Phase 1: 20 plain lines, one line past the 16 KiB record limit, one not UTF-8.
    let mut bytes = write(&app, &text(&lines("first", 20)));
    bytes += write(&app, &[&[b'x'; 20_000][..], b"\n"].concat());
    bytes += write(&app, b"not utf-8 \xff\xfe here\n");
    let agent = Agent::start(dir.path(), "agent.log", &ARGS);
    agent.wait_for_log("Following file", 1, Duration::from_secs(30));
    // Phase 2: rotation by rename (app.log.1 leaves the glob), then a new app.log.
    std::fs::rename(&app, logs.join("app.log.1")).unwrap();
    bytes += write(&app, &text(&lines("second", 5)));
    agent.wait_for_log("Following file", 2, Duration::from_secs(30));
    // The rotated file is let go after 5 s of quiet.
    agent.wait_for_log("Done with file", 1, Duration::from_secs(30));
    // Phase 3: copytruncate of the new file, then 3 more lines.
    std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&app)
        .unwrap();
    agent.wait_for_log("File truncated", 1, Duration::from_secs(30));
    bytes += write(&app, &text(&lines("third", 3)));
    let log = agent.log.clone();
    let (status, _) = agent.terminate(Duration::from_secs(30));
    assert!(status.success(), "{status}\n{}", log_tail(&log));
    let log_text = std::fs::read_to_string(&log).unwrap();

    let rows = read_rows(&dir.path().join("out"));
    let log_rows = rows.iter().filter(|r| r.record_type == "LOG").count();
    assert_eq!(log_rows, 20 + 1 + 1 + 5 + 3, "{log_text}");
    let metrics = firn_metrics(&rows);
    let value = |name: &str| -> i64 {
        let rs = metrics
            .get(name)
            .unwrap_or_else(|| panic!("no {name} row; rows: {:?}", metrics.keys()));
        assert_eq!(rs.len(), 1, "{name}: one row per counter in a short run");
        rs[0].value.as_i64().unwrap()
    };
    // What the agent did, counted by hand from the writes above.
    let want: [(&str, i64); 14] = [
        ("firn.lines_read_total", 30),
        ("firn.bytes_read_total", bytes as i64),
        ("firn.files_opened_total", 2),
        ("firn.lines_truncated_total", 1),
        ("firn.lines_split_total", 0),
        ("firn.long_lines_dropped_total", 0),
        ("firn.invalid_utf8_lines_total", 1),
        ("firn.read_errors_total", 0),
        ("firn.files_skipped_total", 0),
        ("firn.log_rows_filtered_total", 0),
        ("firn.files_rotated_total", 1),
        ("firn.files_truncated_total", 1),
        ("firn.files_released_total", 1),
        ("firn.files_watched", 1),
    ];
    for (name, v) in want {
        assert_eq!(value(name), v, "{name}\n{log_text}");
        // The log's last telemetry line says the same (it lists non-zero counters).
        let short = name.trim_start_matches("firn.");
        if v > 0 {
            assert!(
                log_text.contains(&format!("{short}={v}")),
                "{short}={v} not in the log\n{log_text}"
            );
        }
    }
    // Lines read = log rows written (nothing filtered or dropped with default flags).
    assert_eq!(value("firn.lines_read_total"), log_rows as i64);
    // Every firn.* row: scope firn.agent, an INT value, sums with their start time, the four
    // levels as gauges without one.
    let gauges = [
        "firn.files_watched",
        "firn.otlp_records_queued",
        "firn.spool_bytes",
        "firn.spool_segments",
    ];
    assert!(metrics.len() >= 30, "{:?}", metrics.keys());
    for (name, rs) in &metrics {
        let r = rs[0];
        assert_eq!(r.scope["name"], "firn.agent", "{name}");
        assert_eq!(r.record["value_type"], "INT", "{name}");
        let gauge = gauges.contains(&name.as_str());
        let kind = if gauge { "gauge" } else { "sum" };
        assert_eq!(r.record["metric_type"], kind, "{name}");
        assert_eq!(r.start.is_none(), gauge, "{name}: START_TIMESTAMP");
        if let Some(s) = r.start {
            assert!(s <= r.timestamp, "{name}: starts after its time");
        }
    }
}

/// Every file's footer names the instance that wrote it: `<agent id>-<pid>-<8 hex>` with the
/// default agent id, the host name; the file's name carries the same instance; a restarted
/// agent is a new instance.
#[test]
fn each_file_footer_names_the_instance_that_wrote_it() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string();
    assert!(
        !host.is_empty() && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'),
        "this test expects a host name that is its own agent id: {host:?}"
    );
    let out = dir.path().join("out");
    let mut seen = Vec::new();
    for run in ["a", "b"] {
        write(&logs.join("app.log"), &text(&lines(run, 3)));
        let agent = Agent::start(dir.path(), "agent.log", &ARGS);
        let pid = agent.pid();
        agent.wait_for_log("Following file", 1, Duration::from_secs(30));
        let log = agent.log.clone();
        let (status, _) = agent.terminate(Duration::from_secs(30));
        assert!(status.success(), "{status}\n{}", log_tail(&log));
        let new: Vec<_> = parquet_files(&out)
            .into_iter()
            .filter(|p| !seen.contains(p))
            .collect();
        assert_eq!(new.len(), 1, "run {run}: {new:?}");
        let meta = read_footer_metadata(&new[0]).unwrap();
        let instance = meta.get(META_INSTANCE).cloned().unwrap_or_default();
        let prefix = format!("{host}-{pid}-");
        let random = instance.strip_prefix(&prefix).unwrap_or_else(|| {
            panic!("run {run}: firn.instance {instance:?} is not {prefix}<8 hex>")
        });
        assert!(
            random.len() == 8 && random.bytes().all(|b| b.is_ascii_hexdigit()),
            "run {run}: firn.instance {instance:?}"
        );
        assert_eq!(meta.get(META_AGENT_ID), Some(&host), "run {run}");
        let name = new[0].file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.contains(&format!("-{instance}-")),
            "run {run}: {name} does not carry {instance}"
        );
        seen.extend(new);
    }
}
