//! End to end: the real `firn-agent` binary wrapping real child processes (or reading
//! stdin), its Parquet output read back row by row.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use arrow_array::types::Int32Type;
use arrow_array::{Array, DictionaryArray, RecordBatch, StringArray};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde_json::Value;

const FIRN: &str = env!("CARGO_BIN_EXE_firn-agent");

/// One event-table row, JSON columns parsed.
#[derive(Debug, Clone)]
struct Row {
    record_type: String,
    record: Value,
    attrs: Value,
    scope: Value,
    value: Value,
}

impl Row {
    fn stream(&self) -> &str {
        self.attrs["log.iostream"].as_str().unwrap_or("")
    }
    fn text(&self) -> &str {
        self.value.as_str().unwrap_or("")
    }
    fn severity(&self) -> &str {
        self.record["severity_text"].as_str().unwrap_or("")
    }
    fn metric(&self) -> &str {
        self.record["metric"]["name"].as_str().unwrap_or("")
    }
}

fn strings(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let col = batch.column_by_name(name).unwrap();
    if let Some(s) = col.as_any().downcast_ref::<StringArray>() {
        return (0..s.len())
            .map(|i| s.is_valid(i).then(|| s.value(i).to_string()))
            .collect();
    }
    let d = col
        .as_any()
        .downcast_ref::<DictionaryArray<Int32Type>>()
        .expect("string or dictionary column");
    let values = d.values().as_any().downcast_ref::<StringArray>().unwrap();
    (0..d.len())
        .map(|i| {
            d.is_valid(i)
                .then(|| values.value(d.keys().value(i) as usize).to_string())
        })
        .collect()
}

fn parquet_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            parquet_files(&p, out);
        } else if p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("firn-") && n.ends_with(".parquet"))
        {
            out.push(p);
        }
    }
}

/// Every row under `dir`, files in name order (the sequence number orders them).
fn read_rows(dir: &Path) -> Vec<Row> {
    let mut files = Vec::new();
    parquet_files(dir, &mut files);
    files.sort_by_key(|p| p.file_name().map(|n| n.to_os_string()));
    let json = |s: Option<String>| s.map_or(Value::Null, |s| serde_json::from_str(&s).unwrap());
    let mut rows = Vec::new();
    for f in files {
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&f).unwrap())
            .unwrap()
            .build()
            .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            let [kind, record, attrs, scope, value] = [
                "RECORD_TYPE",
                "RECORD",
                "RECORD_ATTRIBUTES",
                "SCOPE",
                "VALUE",
            ]
            .map(|c| strings(&batch, c));
            let columns = kind
                .into_iter()
                .zip(record)
                .zip(attrs)
                .zip(scope)
                .zip(value);
            for ((((k, r), a), s), v) in columns {
                rows.push(Row {
                    record_type: k.unwrap(),
                    record: json(r),
                    attrs: json(a),
                    scope: json(s),
                    value: json(v),
                });
            }
        }
    }
    rows
}

fn logs<'a>(rows: &'a [Row], stream: &str) -> Vec<&'a Row> {
    rows.iter()
        .filter(|r| r.record_type == "LOG" && r.stream() == stream)
        .collect()
}

fn metric<'a>(rows: &'a [Row], name: &str) -> Vec<&'a Row> {
    rows.iter()
        .filter(|r| r.record_type == "METRIC" && r.metric() == name)
        .collect()
}

fn firn(out: &Path) -> Command {
    let mut c = Command::new(FIRN);
    c.arg("--output").arg(out).arg("--quiet");
    c
}

fn write_script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

/// Writes interleaved stdout and stderr as fast as it can: `out i` / `err i`, and on
/// stdout every 1000th line a structured ERROR record; exits with argv[2].
const INTERLEAVED: &str = r#"
import json, sys
n, code = int(sys.argv[1]), int(sys.argv[2])
out, err = sys.stdout, sys.stderr
for i in range(n):
    out.write(f"out {i}\n")
    err.write(f"err {i}\n")
    if i % 1000 == 0:
        out.write(json.dumps({"body": f"structured {i}", "severity_text": "ERROR",
                              "attributes": {"i": i}, "scope": {"name": "app"}}) + "\n")
    if i % 97 == 0:
        out.flush(); err.flush()
sys.exit(code)
"#;

const N: usize = 20_000;

fn run_interleaved(level: &str) -> (Output, Vec<Row>) {
    let dir = tempfile::tempdir().unwrap();
    let script = write_script(dir.path(), "app.py", INTERLEAVED);
    let out = dir.path().join("out");
    let output = firn(&out)
        .args(["--log-level", level, "--no-passthrough", "--"])
        .arg("python3")
        .arg(&script)
        .arg(N.to_string())
        .arg("7")
        .output()
        .unwrap();
    let rows = read_rows(&out);
    (output, rows)
}

fn check_status_metrics(rows: &[Row], code: i64, reason: &str) {
    let exit = metric(rows, "container.state.last.finished.exitcode");
    assert_eq!(exit.len(), 1, "one exit code row");
    assert_eq!(exit[0].value, Value::from(code));
    assert_eq!(exit[0].scope["name"], "firn.status");
    let reasons = metric(rows, "container.state.last.finished.reason");
    assert_eq!(reasons[0].attrs["reason"], reason);
    let running: Vec<_> = metric(rows, "container.state.running")
        .iter()
        .map(|r| r.value.as_i64().unwrap())
        .collect();
    assert_eq!(running.first(), Some(&1), "reported running at start");
    assert_eq!(running.last(), Some(&0), "reported stopped at exit");
    assert_eq!(metric(rows, "container.restarts")[0].value, Value::from(0));
}

#[test]
fn level_info_captures_both_streams_in_order_row_by_row() {
    let (output, rows) = run_interleaved("INFO");
    assert_eq!(output.status.code(), Some(7), "{output:?}");
    let out = logs(&rows, "stdout");
    let err = logs(&rows, "stderr");
    assert_eq!(err.len(), N);
    for (i, r) in err.iter().enumerate() {
        assert_eq!(r.text(), format!("err {i}"));
        assert_eq!(r.severity(), "ERROR");
        assert_eq!(r.record["severity_number"], 17);
    }
    assert_eq!(out.len(), N + N / 1000);
    let mut plain = 0;
    for r in &out {
        if r.text().starts_with("structured ") {
            let i = r.attrs["i"].as_i64().unwrap();
            assert_eq!(r.text(), format!("structured {i}"));
            assert_eq!(i as usize, plain - 1, "a record follows its plain line");
            assert_eq!(r.severity(), "ERROR");
            assert_eq!(r.scope["name"], "app");
        } else {
            assert_eq!(r.text(), format!("out {plain}"));
            assert_eq!(r.severity(), "INFO");
            assert_eq!(r.attrs, serde_json::json!({"log.iostream": "stdout"}));
            plain += 1;
        }
    }
    check_status_metrics(&rows, 7, "Failed");
}

#[test]
fn level_error_keeps_only_stderr_and_error_records() {
    let (output, rows) = run_interleaved("ERROR");
    assert_eq!(output.status.code(), Some(7));
    let err = logs(&rows, "stderr");
    assert_eq!(err.len(), N);
    assert!(
        err.iter()
            .enumerate()
            .all(|(i, r)| r.text() == format!("err {i}"))
    );
    let out = logs(&rows, "stdout");
    let expected: Vec<String> = (0..N)
        .step_by(1000)
        .map(|i| format!("structured {i}"))
        .collect();
    assert_eq!(out.iter().map(|r| r.text()).collect::<Vec<_>>(), expected);
    check_status_metrics(&rows, 7, "Failed");
}

#[test]
fn level_none_writes_no_log_row_but_status_metrics() {
    let (output, rows) = run_interleaved("NONE");
    assert_eq!(output.status.code(), Some(7));
    assert!(rows.iter().all(|r| r.record_type != "LOG"));
    check_status_metrics(&rows, 7, "Failed");
}

#[test]
fn passthrough_copies_the_apps_output_to_firns_own_streams() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let output = firn(&out)
        .args(["--", "sh", "-c", "echo to-stdout; echo to-stderr >&2"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "to-stdout\n");
    assert!(String::from_utf8_lossy(&output.stderr).contains("to-stderr\n"));
    let rows = read_rows(&out);
    assert_eq!(logs(&rows, "stdout")[0].text(), "to-stdout");
    check_status_metrics(&rows, 0, "Done");
}

fn signal(child: &Child, sig: rustix::process::Signal) {
    let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
    rustix::process::kill_process(pid, sig).unwrap();
}

/// Starts firn with passthrough on and waits for the app's `ready` on firn's stdout.
fn start_until_ready(
    out: &Path,
    extra: &[&str],
    script: &str,
) -> (Child, std::thread::JoinHandle<String>) {
    let mut child = firn(out)
        .args(extra)
        .args(["--", "sh", "-c", script])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !String::from_utf8_lossy(&seen).contains("ready\n") {
        assert_eq!(
            stdout.read(&mut byte).unwrap(),
            1,
            "firn's stdout ended before ready"
        );
        seen.push(byte[0]);
    }
    // Keep draining, so passthrough never blocks on a full pipe.
    let rest = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    (child, rest)
}

#[test]
fn sigterm_reaches_the_app_and_everything_it_writes_after_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let script = r#"
        trap 'i=0; while [ $i -lt 500 ]; do echo "bye $i"; echo "bye-err $i" >&2; i=$((i+1)); done; exit 42' TERM
        echo ready
        while :; do sleep 0.05; done
    "#;
    let (mut child, rest) = start_until_ready(&out, &[], script);
    signal(&child, rustix::process::Signal::TERM);
    let status = child.wait().unwrap();
    rest.join().unwrap();
    assert_eq!(status.code(), Some(42));
    let rows = read_rows(&out);
    let out_lines: Vec<_> = logs(&rows, "stdout")
        .iter()
        .map(|r| r.text().to_string())
        .collect();
    let mut expected = vec!["ready".to_string()];
    expected.extend((0..500).map(|i| format!("bye {i}")));
    assert_eq!(out_lines, expected);
    // SIGTERM goes to the app's process group, so the shell's `sleep` gets it too, and
    // dash reports that on stderr ("Terminated"); the trap's 500 lines all arrive.
    let err_lines: Vec<_> = logs(&rows, "stderr")
        .iter()
        .map(|r| r.text().to_string())
        .filter(|t| t != "Terminated")
        .collect();
    let expected_err: Vec<_> = (0..500).map(|i| format!("bye-err {i}")).collect();
    assert_eq!(err_lines, expected_err);
    check_status_metrics(&rows, 42, "Failed");
}

#[test]
fn an_app_killed_by_sigterm_gives_128_plus_15() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    // `exec sleep`: the default action of SIGTERM ends the app.
    let (mut child, rest) = start_until_ready(&out, &[], "echo ready; exec sleep 30");
    signal(&child, rustix::process::Signal::TERM);
    let status = child.wait().unwrap();
    rest.join().unwrap();
    assert_eq!(status.code(), Some(143));
    check_status_metrics(&read_rows(&out), 143, "Failed");
}

#[test]
fn an_app_ignoring_sigterm_is_killed_after_the_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let script = "trap '' TERM; echo ready; while :; do sleep 0.05; done";
    let (mut child, rest) = start_until_ready(&out, &["--child-grace", "1s"], script);
    let t = Instant::now();
    signal(&child, rustix::process::Signal::TERM);
    let status = child.wait().unwrap();
    rest.join().unwrap();
    assert_eq!(status.code(), Some(137));
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    let rows = read_rows(&out);
    assert_eq!(logs(&rows, "stdout")[0].text(), "ready");
}

#[test]
fn a_second_sigterm_stops_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let script = "trap '' TERM; echo ready; while :; do sleep 0.05; done";
    let (mut child, rest) = start_until_ready(&out, &["--child-grace", "20s"], script);
    let t = Instant::now();
    signal(&child, rustix::process::Signal::TERM);
    std::thread::sleep(Duration::from_millis(200));
    signal(&child, rustix::process::Signal::TERM);
    let status = child.wait().unwrap();
    rest.join().unwrap();
    assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());
    assert_eq!(status.code(), Some(137));
    assert_eq!(logs(&read_rows(&out), "stdout")[0].text(), "ready");
}

#[test]
fn a_missing_command_is_named_and_exits_127() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let output = firn(&out)
        .args(["--", "no-such-command-xyz"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(127));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no-such-command-xyz"), "{stderr}");
    assert!(stderr.contains("PATH"), "{stderr}");
    let rows = read_rows(&out);
    assert_eq!(
        metric(&rows, "container.state.last.finished.reason")[0].attrs["reason"],
        "FailedToStart"
    );
}

#[test]
fn grandchildren_holding_the_pipes_do_not_keep_firn_alive() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let t = Instant::now();
    let output = firn(&out)
        .args(["--no-passthrough", "--drain-timeout", "500ms", "--"])
        .args(["sh", "-c", "sleep 20 & echo parent done; exit 3"])
        .output()
        .unwrap();
    assert!(t.elapsed() < Duration::from_secs(8), "{:?}", t.elapsed());
    assert_eq!(output.status.code(), Some(3));
    let rows = read_rows(&out);
    assert_eq!(logs(&rows, "stdout")[0].text(), "parent done");
}

#[test]
fn an_app_that_closes_stdout_is_still_captured_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let output = firn(&out)
        .args(["--no-passthrough", "--"])
        .args([
            "sh",
            "-c",
            "echo first; exec 1>&-; echo still here >&2; sleep 0.5; echo bye >&2; exit 5",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(5));
    let rows = read_rows(&out);
    assert_eq!(logs(&rows, "stdout")[0].text(), "first");
    let err: Vec<_> = logs(&rows, "stderr")
        .iter()
        .map(|r| r.text().to_string())
        .collect();
    assert_eq!(err, ["still here", "bye"]);
}

/// Deterministic bytes of every value, newlines included.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn binary_output_becomes_rows_with_invalid_bytes_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let data = noise(256 << 10);
    let file = dir.path().join("noise.bin");
    std::fs::write(&file, &data).unwrap();
    let output = firn(&out)
        .args(["--no-passthrough", "--max-line-bytes", "64KiB", "--", "cat"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let expected: Vec<String> = data
        .split(|b| *b == b'\n')
        .map(|l| String::from_utf8_lossy(l.strip_suffix(b"\r").unwrap_or(l)).into_owned())
        .collect();
    // A trailing newline leaves no last line.
    let expected = match data.last() {
        Some(b'\n') => &expected[..expected.len() - 1],
        _ => &expected[..],
    };
    let rows = read_rows(&out);
    let got: Vec<_> = logs(&rows, "stdout")
        .iter()
        .map(|r| r.text().to_string())
        .collect();
    assert_eq!(got.len(), expected.len());
    assert_eq!(got, expected);
    assert!(
        logs(&rows, "stdout")
            .iter()
            .any(|r| r.attrs["log.record.invalid_utf8"] == true)
    );
}

#[test]
fn a_100_mib_line_without_newline_keeps_memory_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut child = firn(&out)
        .args(["--no-passthrough", "--"])
        .args([
            "sh",
            "-c",
            "head -c 104857600 /dev/zero | tr '\\0' x; echo; echo after",
        ])
        .spawn()
        .unwrap();
    let mut peak = 0;
    let status = loop {
        if let Some(kib) = common::peak_rss_kib(child.id()) {
            peak = peak.max(kib);
        }
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    assert!(peak < 60 << 10, "peak RSS {peak} KiB for a 100 MiB line");
    let rows = read_rows(&out);
    let lines = logs(&rows, "stdout");
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].text().len(), 16 << 10);
    assert_eq!(lines[0].attrs["log.record.truncated"], true);
    assert_eq!(lines[1].text(), "after");
}

#[test]
fn stdin_mode_reads_a_pipe_as_one_stream() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let mut child = firn(&out)
        .args([
            "--stdin",
            "--stdin-stream",
            "stderr",
            "--log-level",
            "ERROR",
            "--no-passthrough",
        ])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    for i in 0..5000 {
        writeln!(input, "line {i}").unwrap();
    }
    write!(input, "{{\"body\":\"last\",\"severity_text\":\"INFO\"}}").unwrap();
    drop(input);
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let rows = read_rows(&out);
    let got = logs(&rows, "stderr");
    assert_eq!(got.len(), 5001);
    assert!(
        got[..5000]
            .iter()
            .enumerate()
            .all(|(i, r)| r.text() == format!("line {i}"))
    );
    assert_eq!(got[5000].text(), "last");
    assert_eq!(got[5000].severity(), "INFO");
}

#[test]
fn an_oom_kill_is_reported_as_failed_with_oom() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let cgroup = dir.path().join("cgroup");
    std::fs::create_dir(&cgroup).unwrap();
    let events = cgroup.join("memory.events");
    std::fs::write(&events, "oom 0\noom_kill 0\n").unwrap();
    // Stands in for the kernel: bump oom_kill, then die by SIGKILL.
    let script = format!(
        "printf 'oom 1\\noom_kill 1\\n' > '{}'; kill -9 $$",
        events.display()
    );
    let output = firn(&out)
        .arg("--cgroup-dir")
        .arg(&cgroup)
        .args(["--no-passthrough", "--", "sh", "-c", &script])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(137));
    check_status_metrics(&read_rows(&out), 137, "FailedWithOOM");
}

#[test]
fn status_metrics_are_written_every_interval_while_the_app_runs() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let output = firn(&out)
        .args(["--no-passthrough", "--metrics-interval", "1s", "--"])
        .args(["sh", "-c", "sleep 2.5"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let rows = read_rows(&out);
    let running: Vec<_> = metric(&rows, "container.state.running")
        .iter()
        .map(|r| r.value.as_i64().unwrap())
        .collect();
    // At start, at 1 s and 2 s, and 0 at exit.
    assert_eq!(running, [1, 1, 1, 0]);
    check_status_metrics(&rows, 0, "Done");
}
