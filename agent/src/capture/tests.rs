use std::io::Write;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, sync_channel};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use clap::Parser;
use firn_schemas::Severity;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::watch;

use super::status::{FinishReason, exit_code, read_oom_kills};
use super::stream::{LineRules, Passthrough, Pump, PumpEnd};
use super::*;
use crate::file_tail::lines::{LinePos, RawLine};
use crate::pipeline::{ChunkBuilder, Msg};
use crate::structured::merge_attributes;

/// A row as the sink would see it: (value, json_value, record, attributes, scope, ts).
type Seen = (String, bool, String, Option<String>, Option<String>, i64);

fn rows(chunk: &mut ChunkBuilder) -> Vec<Seen> {
    let c = chunk.take(0, None);
    c.iter()
        .map(|(t, l)| {
            (
                t.to_string(),
                l.json_value,
                l.record.as_str().to_string(),
                l.attributes.as_ref().map(|a| a.as_str().to_string()),
                l.scope.as_ref().map(|a| a.as_str().to_string()),
                l.timestamp_ns,
            )
        })
        .collect()
}

fn line(bytes: &[u8]) -> RawLine<'_> {
    RawLine {
        bytes,
        pos: LinePos::default(),
        truncated: false,
        split: false,
    }
}

fn push(stream: Stream, level: LogLevel, lines: &[&[u8]]) -> (Vec<Seen>, Counters) {
    let rules = LineRules::new(stream, level);
    let counters = Counters::default();
    let mut chunk = ChunkBuilder::default();
    for l in lines {
        rules.push_line(&mut chunk, &line(l), 42, &counters);
    }
    (rows(&mut chunk), counters)
}

#[test]
fn unstructured_stdout_is_info_and_stderr_is_error() {
    let (out, _) = push(Stream::Stdout, LogLevel::Info, &[b"hello"]);
    assert_eq!(out[0].0, "hello");
    assert_eq!(out[0].2, Severity::Info.record().as_str());
    assert_eq!(out[0].3.as_deref(), Some(r#"{"log.iostream":"stdout"}"#));
    assert_eq!(out[0].5, 42);
    let (err, _) = push(Stream::Stderr, LogLevel::Info, &[b"oops"]);
    assert_eq!(err[0].2, Severity::Error.record().as_str());
    assert_eq!(err[0].3.as_deref(), Some(r#"{"log.iostream":"stderr"}"#));
}

#[test]
fn level_error_keeps_stderr_and_structured_errors_only() {
    let lines: [&[u8]; 4] = [
        b"plain",
        br#"{"body":"bad","severity_text":"ERROR"}"#,
        br#"{"body":"worse","severity_text":"fatal"}"#,
        br#"{"body":"meh","severity_text":"WARN"}"#,
    ];
    let (out, c) = push(Stream::Stdout, LogLevel::Error, &lines);
    let values: Vec<_> = out.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(values, ["bad", "worse"]);
    assert_eq!(c.log_rows_filtered_total.load(Ordering::Relaxed), 2);
    // The stream decides for stderr, whatever a structured line says.
    let (err, c) = push(Stream::Stderr, LogLevel::Error, &lines);
    assert_eq!(err.len(), 4);
    assert_eq!(c.log_rows_filtered_total.load(Ordering::Relaxed), 0);
}

#[test]
fn level_none_exports_no_log_row_but_counts_lines() {
    let (out, c) = push(Stream::Stderr, LogLevel::None, &[b"a", b"b"]);
    assert!(out.is_empty());
    assert_eq!(c.log_rows_filtered_total.load(Ordering::Relaxed), 2);
    assert_eq!(c.lines_read_total.load(Ordering::Relaxed), 2);
}

#[test]
fn structured_line_maps_every_field_and_keeps_our_iostream() {
    let l = br#"{"body":{"k":[1,2]},"severity_text":"WARN","attributes":{"user":"x","log.iostream":"fake"},"scope":{"name":"app.db"},"timestamp":"2024-05-01T12:00:00.5Z","extra":1}"#;
    let (out, _) = push(Stream::Stdout, LogLevel::Info, &[l]);
    let (value, json, record, attrs, scope, ts) = &out[0];
    assert_eq!(value, r#"{"k":[1,2]}"#);
    assert!(json);
    assert_eq!(record, Severity::Warn.record().as_str());
    let attrs: serde_json::Value = serde_json::from_str(attrs.as_deref().unwrap()).unwrap();
    assert_eq!(
        attrs,
        serde_json::json!({"user": "x", "log.iostream": "stdout"})
    );
    assert_eq!(scope.as_deref(), Some(r#"{"name":"app.db"}"#));
    assert_eq!(*ts, 1_714_564_800_500_000_000);
}

#[test]
fn structured_line_without_severity_takes_the_streams() {
    let (out, _) = push(Stream::Stderr, LogLevel::Info, &[br#"{"body":"x"}"#]);
    assert_eq!(out[0].0, "x");
    assert!(!out[0].1);
    assert_eq!(out[0].2, Severity::Error.record().as_str());
}

#[test]
fn json_without_body_or_broken_json_is_kept_whole() {
    let (out, _) = push(
        Stream::Stdout,
        LogLevel::Info,
        &[br#"{"msg":"no body"}"#, br#"{"body":"cut"#],
    );
    assert_eq!(out[0].0, r#"{"msg":"no body"}"#);
    assert_eq!(out[1].0, r#"{"body":"cut"#);
}

#[test]
fn a_truncated_json_line_is_not_parsed_as_a_record() {
    let rules = LineRules::new(Stream::Stdout, LogLevel::Info);
    let counters = Counters::default();
    let mut chunk = ChunkBuilder::default();
    let l = RawLine {
        truncated: true,
        ..line(br#"{"body":"x"}"#)
    };
    rules.push_line(&mut chunk, &l, 1, &counters);
    let out = rows(&mut chunk);
    assert_eq!(out[0].0, r#"{"body":"x"}"#);
    assert!(
        out[0]
            .3
            .as_deref()
            .unwrap()
            .contains("log.record.truncated")
    );
    assert_eq!(counters.lines_truncated_total.load(Ordering::Relaxed), 1);
}

#[test]
fn merge_keeps_app_keys_under_ours() {
    let app = firn_schemas::JsonText::from_json_unchecked(r#"{"a":1,"log.iostream":"x"}"#);
    let ours = firn_schemas::JsonText::from_json_unchecked(r#"{"log.iostream":"stderr"}"#);
    let m: serde_json::Value =
        serde_json::from_str(merge_attributes(&app, &ours).as_str()).unwrap();
    assert_eq!(m, serde_json::json!({"a": 1, "log.iostream": "stderr"}));
}

// ---- the pump, on in-memory streams ----

fn pump(stream: Stream, level: LogLevel, max: usize, passthrough: Option<Passthrough>) -> Pump {
    StreamSettings {
        max_line_bytes: max,
        long_lines: LongLines::Truncate,
    }
    .pump(stream, level, passthrough)
}

fn drain(rx: &Receiver<Msg>) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    while let Ok(m) = rx.try_recv() {
        if let Msg::Logs(c) = m {
            for (t, l) in c.iter() {
                out.push((t.to_string(), l.attributes.as_ref().map(|a| a.to_string())));
            }
        }
    }
    out
}

async fn run_pump(
    p: Pump,
    input: impl AsyncRead + Unpin,
    stop: watch::Receiver<Option<tokio::time::Instant>>,
) -> (PumpEnd, Vec<(String, Option<String>)>, Arc<Counters>) {
    let (tx, rx) = sync_channel(1024);
    let counters = Arc::new(Counters::default());
    let end = p.run(input, tx, counters.clone(), stop).await;
    (end, drain(&rx), counters)
}

#[tokio::test]
async fn binary_and_invalid_utf8_become_marked_rows() {
    let input: &[u8] = b"ok\n\xff\xfe\x00bin\r\nlast without newline";
    let (_tx, stop) = watch::channel(None);
    let (end, out, c) = run_pump(
        pump(Stream::Stdout, LogLevel::Info, 1024, None),
        input,
        stop,
    )
    .await;
    assert_eq!(end, PumpEnd::Eof);
    assert_eq!(out.len(), 3);
    assert_eq!(out[1].0, "\u{fffd}\u{fffd}\u{0}bin");
    assert!(
        out[1]
            .1
            .as_deref()
            .unwrap()
            .contains("log.record.invalid_utf8")
    );
    assert_eq!(out[2].0, "last without newline");
    assert_eq!(c.invalid_utf8_lines_total.load(Ordering::Relaxed), 1);
}

/// Endless bytes without a newline, generated on the fly.
struct Endless {
    left: u64,
}

impl AsyncRead for Endless {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = (buf.remaining() as u64).min(self.left) as usize;
        buf.put_slice(&vec![b'x'; n]);
        self.left -= n as u64;
        Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn a_100_mib_line_without_newline_is_cut_to_the_limit() {
    let (_tx, stop) = watch::channel(None);
    let input = Endless { left: 100 << 20 };
    let (end, out, c) = run_pump(
        pump(Stream::Stderr, LogLevel::Info, 16 << 10, None),
        input,
        stop,
    )
    .await;
    assert_eq!(end, PumpEnd::Eof);
    assert_eq!(out.len(), 1, "one truncated row, the rest skipped");
    assert_eq!(out[0].0.len(), 16 << 10);
    assert!(
        out[0]
            .1
            .as_deref()
            .unwrap()
            .contains("log.record.truncated")
    );
    assert_eq!(c.bytes_read_total.load(Ordering::Relaxed), 100 << 20);
}

#[tokio::test]
async fn a_stream_held_open_is_abandoned_at_the_deadline_with_its_lines_kept() {
    let (mut w, r) = tokio::io::duplex(1024);
    tokio::io::AsyncWriteExt::write_all(&mut w, b"before exit\npartial")
        .await
        .unwrap();
    let (tx, stop) = watch::channel(None);
    let task = tokio::spawn(run_pump(
        pump(Stream::Stdout, LogLevel::Info, 1024, None),
        r,
        stop,
    ));
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    tx.send(Some(
        tokio::time::Instant::now() + std::time::Duration::from_millis(100),
    ))
    .unwrap();
    let (end, out, _) = tokio::time::timeout(std::time::Duration::from_secs(5), task)
        .await
        .expect("the pump stops at its deadline")
        .unwrap();
    drop(w);
    assert_eq!(end, PumpEnd::Abandoned);
    let values: Vec<_> = out.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(values, ["before exit", "partial"]);
}

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn passthrough_copies_every_byte_even_when_rows_are_filtered() {
    let input: &[u8] = b"a\n\xffb\nno newline";
    let copy = Shared::default();
    let (_tx, stop) = watch::channel(None);
    let p = pump(
        Stream::Stdout,
        LogLevel::None,
        1024,
        Some(Box::new(copy.clone())),
    );
    let (_, out, _) = run_pump(p, input, stop).await;
    assert!(out.is_empty());
    assert_eq!(copy.0.lock().unwrap().as_slice(), input);
}

// ---- status ----

#[test]
fn finish_reasons() {
    assert_eq!(
        FinishReason::from_exit(0, Some(0), Some(1)),
        FinishReason::Done
    );
    assert_eq!(
        FinishReason::from_exit(137, Some(2), Some(3)),
        FinishReason::FailedWithOom
    );
    assert_eq!(
        FinishReason::from_exit(137, Some(3), Some(3)),
        FinishReason::Failed
    );
    assert_eq!(FinishReason::from_exit(1, None, None), FinishReason::Failed);
}

#[test]
fn exit_codes_follow_the_shell() {
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(exit_code(std::process::ExitStatus::from_raw(3 << 8)), 3);
    assert_eq!(
        exit_code(std::process::ExitStatus::from_raw(libc::SIGKILL)),
        137
    );
    assert_eq!(
        exit_code(std::process::ExitStatus::from_raw(libc::SIGTERM)),
        143
    );
}

#[test]
fn oom_kills_are_read_from_memory_events() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(read_oom_kills(dir.path()), None);
    std::fs::write(
        dir.path().join("memory.events"),
        "low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\noom_group_kill 0\n",
    )
    .unwrap();
    assert_eq!(read_oom_kills(dir.path()), Some(2));
}

// ---- flags ----

fn config(args: &[&str]) -> Result<CaptureConfig, CaptureConfigError> {
    let cli = crate::cli::Cli::try_parse_from(args).unwrap();
    CaptureConfig::from_args(&cli.capture, cli.input.log_level, cli.input.once)
}

#[test]
fn flags_select_the_mode() {
    let c = config(&[
        "firn-agent",
        "--log-level",
        "error",
        "--",
        "python3",
        "app.py",
        "-v",
    ])
    .unwrap();
    assert_eq!(c.log_level, LogLevel::Error);
    assert!(c.passthrough);
    assert_eq!(
        c.mode,
        CaptureMode::Wrap {
            program: "python3".into(),
            args: vec!["app.py".into(), "-v".into()]
        }
    );
    let c = config(&[
        "firn-agent",
        "--stdin",
        "--stdin-stream",
        "stderr",
        "--no-passthrough",
    ])
    .unwrap();
    assert_eq!(
        c.mode,
        CaptureMode::Stdin {
            stream: Stream::Stderr
        }
    );
    assert!(!c.passthrough);
    assert_eq!(config(&["firn-agent"]).unwrap().mode, CaptureMode::Off);
}

/// Regression (issue 8): `--stdin` copied all its input to stdout by default. Passthrough
/// stays on for a wrapped app (the platform reads what the container prints) and is
/// opt-in for stdin.
#[test]
fn stdin_passed_its_input_through_by_default() {
    assert!(!config(&["firn-agent", "--stdin"]).unwrap().passthrough);
    assert!(
        config(&["firn-agent", "--stdin", "--passthrough"])
            .unwrap()
            .passthrough
    );
    assert!(config(&["firn-agent", "--", "app"]).unwrap().passthrough);
    assert!(
        !config(&["firn-agent", "--no-passthrough", "--", "app"])
            .unwrap()
            .passthrough
    );
    assert!(
        crate::cli::Cli::try_parse_from(["firn-agent", "--passthrough", "--no-passthrough"])
            .is_err()
    );
    // --stdin --once is --stdin: allowed.
    assert!(config(&["firn-agent", "--stdin", "--once"]).is_ok());
}

#[test]
fn bad_flags_are_named() {
    assert_eq!(
        config(&["firn-agent", "--once", "-i", "x", "--", "app"]).unwrap_err(),
        CaptureConfigError::WithOnce
    );
    let e = config(&["firn-agent", "--child-grace", "40s", "--", "app"]).unwrap_err();
    assert!(e.to_string().contains("--child-grace"));
    assert!(crate::cli::Cli::try_parse_from(["firn-agent", "--stdin", "--", "app"]).is_err());
    assert!(crate::cli::Cli::try_parse_from(["firn-agent", "--log-level", "DEBUG"]).is_err());
}

/// The same record as in `a_warn_record_on_a_cri_stderr_line_is_kept_at_error_as_when_captured`
/// (file_tail/decode/tests.rs), captured: the two paths agree.
#[test]
fn a_warn_record_on_stderr_is_kept_at_error_as_when_read_from_a_cri_file() {
    let (err, _) = push(
        Stream::Stderr,
        LogLevel::Error,
        &[br#"{"body":"slow disk","severity_text":"WARN"}"#],
    );
    assert_eq!(err.len(), 1);
    assert_eq!(err[0].0, "slow disk");
    assert_eq!(err[0].2, Severity::Warn.record().as_str());
}

/// `/proc/PID/stat` as the process-group check reads it.
#[test]
fn stat_lines_are_read_after_the_command() {
    use super::group::running_member;
    assert!(running_member("42 (sh) S 1 40 40 0 -1", 40));
    assert!(!running_member("42 (sh) Z 1 40 40 0 -1", 40));
    assert!(!running_member("42 (sh) S 1 41 41 0 -1", 40));
    // A command name with spaces and parentheses.
    assert!(running_member("42 (a ) b (c) R 1 40 40 0", 40));
    assert!(!running_member("garbage", 40));
}
