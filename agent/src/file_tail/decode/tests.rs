use super::*;
use crate::pipeline::LogChunk;

fn cfg(format: Format, multiline: Option<&str>, level: LogLevel) -> Arc<DecodeConfig> {
    Arc::new(DecodeConfig {
        format,
        multiline_start: multiline.map(|m| Regex::new(m).unwrap()),
        level,
        max_record_bytes: 256,
        ..DecodeConfig::default()
    })
}

struct Rows {
    chunk: LogChunk,
    committed: LinePos,
}

impl Rows {
    fn texts(&self) -> Vec<String> {
        self.chunk.iter().map(|(t, _)| t.to_string()).collect()
    }
    fn attr(&self, i: usize) -> serde_json::Value {
        let l = &self.chunk.lines[i];
        serde_json::from_str(l.attributes.as_ref().unwrap().as_str()).unwrap()
    }
    fn record(&self, i: usize) -> serde_json::Value {
        serde_json::from_str(self.chunk.lines[i].record.as_str()).unwrap()
    }
}

fn run(cfg: Arc<DecodeConfig>, lines: &[&str], flush: bool) -> Rows {
    let mut d = Decoder::new(cfg, std::path::Path::new("/l/a.log"), LinePos::default());
    let mut out = ChunkBuilder::default();
    let counters = Counters::default();
    let mut off = 0;
    for l in lines {
        off += l.len() as u64 + 1;
        let raw = RawLine {
            bytes: l.as_bytes(),
            pos: LinePos {
                offset: off,
                skipping: false,
            },
            truncated: false,
            split: false,
        };
        d.line(&raw, 7, &mut out, &counters);
    }
    if flush {
        d.flush(7, &mut out, &counters);
    }
    Rows {
        committed: d.committed(),
        chunk: out.take(0, None),
    }
}

#[test]
fn plain_lines_carry_the_file_path() {
    let r = run(
        cfg(Format::Auto, None, LogLevel::Info),
        &["hello", "world"],
        false,
    );
    assert_eq!(r.texts(), ["hello", "world"]);
    assert_eq!(r.attr(0), serde_json::json!({"log.file.path": "/l/a.log"}));
    assert_eq!(r.record(0)["severity_text"], "INFO");
    assert_eq!(r.committed.offset, 12);
}

#[test]
fn structured_lines_map_to_columns_and_keep_the_path() {
    let r = run(
        cfg(Format::Auto, None, LogLevel::Info),
        &[
            r#"{"body":"boom","severity_text":"ERROR","attributes":{"k":"v"},"timestamp":"1970-01-01T00:00:01Z"}"#,
        ],
        false,
    );
    assert_eq!(r.texts(), ["boom"]);
    assert_eq!(r.record(0)["severity_number"], 17);
    assert_eq!(
        r.attr(0),
        serde_json::json!({"log.file.path": "/l/a.log", "k": "v"})
    );
    assert_eq!(r.chunk.lines[0].timestamp_ns, 1_000_000_000);
}

#[test]
fn cri_partials_are_joined_and_streams_kept() {
    let lines = [
        "2024-01-01T00:00:00.000000001Z stdout P hel",
        "2024-01-01T00:00:00.000000002Z stdout F lo",
        "2024-01-01T00:00:00.000000003Z stderr F oops",
    ];
    let r = run(cfg(Format::Auto, None, LogLevel::Info), &lines, false);
    assert_eq!(r.texts(), ["hello", "oops"]);
    assert_eq!(r.attr(0)["log.iostream"], "stdout");
    assert_eq!(r.attr(1)["log.iostream"], "stderr");
    assert_eq!(r.record(1)["severity_text"], "ERROR");
    assert_eq!(r.chunk.lines[0].timestamp_ns, 1_704_067_200_000_000_001);
}

#[test]
fn a_partial_record_is_not_committed_until_finished() {
    let lines = [
        "2024-01-01T00:00:00Z stdout F one",
        "2024-01-01T00:00:00Z stdout P tw",
    ];
    let r = run(cfg(Format::Cri, None, LogLevel::Info), &lines, false);
    assert_eq!(r.texts(), ["one"]);
    assert_eq!(r.committed.offset, lines[0].len() as u64 + 1);
}

#[test]
fn docker_json_file_lines() {
    let lines = [
        r#"{"log":"part one ","stream":"stderr","time":"2024-01-01T00:00:00Z"}"#,
        r#"{"log":"and two\n","stream":"stderr","time":"2024-01-01T00:00:00Z"}"#,
        r#"{"log":"{\"body\":\"structured\",\"severity_text\":\"WARN\"}\n","stream":"stdout","time":"2024-01-01T00:00:00Z"}"#,
    ];
    let r = run(cfg(Format::Auto, None, LogLevel::Info), &lines, false);
    assert_eq!(r.texts(), ["part one and two", "structured"]);
    assert_eq!(r.attr(0)["log.iostream"], "stderr");
    assert_eq!(r.record(1)["severity_text"], "WARN");
}

#[test]
fn multiline_joins_a_stack_trace_and_flushes_at_the_end() {
    let lines = [
        "2024-01-01 ERROR boom",
        "Traceback (most recent call last):",
        "  File \"x.py\", line 1",
        "2024-01-01 INFO next",
    ];
    let r = run(
        cfg(Format::Plain, Some(r"^\d{4}-"), LogLevel::Info),
        &lines,
        false,
    );
    assert_eq!(
        r.texts(),
        ["2024-01-01 ERROR boom\nTraceback (most recent call last):\n  File \"x.py\", line 1"]
    );
    let r = run(
        cfg(Format::Plain, Some(r"^\d{4}-"), LogLevel::Info),
        &lines,
        true,
    );
    assert_eq!(r.texts().len(), 2);
}

#[test]
fn joined_records_are_bounded() {
    let long = "y".repeat(150);
    let lines = ["start", long.as_str(), long.as_str()];
    let r = run(
        cfg(Format::Plain, Some("^start"), LogLevel::Info),
        &lines,
        true,
    );
    assert_eq!(r.texts()[0].len(), 256);
    assert_eq!(r.attr(0)["log.record.truncated"], true);
}

#[test]
fn error_level_keeps_only_errors() {
    let lines = [
        "plain info line",
        r#"{"body":"bad","severity_text":"ERROR"}"#,
        r#"{"body":"meh","severity_text":"WARN"}"#,
        "2024-01-01T00:00:00Z stderr F from stderr",
        "2024-01-01T00:00:00Z stdout F from stdout",
    ];
    let r = run(cfg(Format::Plain, None, LogLevel::Error), &lines, false);
    assert_eq!(r.texts(), ["bad"]);
    let r = run(cfg(Format::Cri, None, LogLevel::Error), &lines[3..], false);
    assert_eq!(r.texts(), ["from stderr"]);
    let r = run(cfg(Format::Plain, None, LogLevel::None), &lines, false);
    assert!(r.texts().is_empty());
    // Filtered records still move the position.
    assert_eq!(
        r.committed.offset,
        lines.iter().map(|l| l.len() as u64 + 1).sum::<u64>()
    );
}

/// Issue 17: the file path and the capture path judged this record differently (dropped
/// from a file, kept when captured); SPCS.md §2 keeps the stderr stream whole.
#[test]
fn a_warn_record_on_a_cri_stderr_line_is_kept_at_error_as_when_captured() {
    let lines = [
        r#"2024-01-01T00:00:00Z stderr F {"body":"slow disk","severity_text":"WARN"}"#,
        r#"2024-01-01T00:00:00Z stdout F {"body":"meh","severity_text":"WARN"}"#,
        r#"2024-01-01T00:00:00Z stdout F {"body":"bad","severity_text":"ERROR"}"#,
    ];
    let r = run(cfg(Format::Auto, None, LogLevel::Error), &lines, false);
    assert_eq!(r.texts(), ["slow disk", "bad"]);
    assert_eq!(r.record(0)["severity_text"], "WARN");
    assert_eq!(r.attr(0)["log.iostream"], "stderr");
}

fn rows_of(parse: crate::line_semantics::ParseMode, lines: &[Vec<u8>]) -> Vec<String> {
    let cfg = Arc::new(DecodeConfig {
        format: Format::Plain,
        multiline_start: None,
        level: LogLevel::Info,
        max_record_bytes: 256,
        semantics: Arc::new(crate::line_semantics::SemanticsConfig {
            parse,
            ..Default::default()
        }),
        ..DecodeConfig::default()
    });
    let mut d = Decoder::new(cfg, std::path::Path::new("/l/a.log"), LinePos::default());
    let mut out = ChunkBuilder::default();
    let counters = Counters::default();
    for l in lines {
        let raw = RawLine {
            bytes: l,
            pos: LinePos::default(),
            truncated: false,
            split: false,
        };
        d.line(&raw, i64::MAX, &mut out, &counters);
    }
    out.take(0, None)
        .iter()
        .map(|(t, _)| t.to_string())
        .collect()
}

fn line_bytes() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
    use proptest::prelude::*;
    prop_oneof![
        proptest::collection::vec(any::<u8>().prop_filter("no newline", |b| *b != b'\n'), 0..120),
        "[0-9 :\\-/.,TZz+<>\\[\\]A-Za-z=\"{}#|\t]{0,80}".prop_map(String::into_bytes),
        "(<1[0-9]{1,2}>1? )?(20[0-9]{2}[-/][01][0-9][-/][0-3][0-9][T ][0-2][0-9]:[0-5][0-9]:[0-6][0-9]([.,][0-9]{1,12})?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?|[IWEF][01][0-9][0-3][0-9] [0-9:.]{8,15}|1[0-9]{9,12}(\\.[0-9]+)?) ?(ERROR|warn|\\[crit\\]|X)? .{0,20}"
            .prop_map(String::into_bytes),
    ]
}

proptest::proptest! {
    /// Recognition never panics and never changes VALUE: the rows' texts are those read
    /// with recognition off.
    #[test]
    fn recognition_never_panics_nor_changes_value(
        lines in proptest::collection::vec(line_bytes(), 1..24)
    ) {
        let on = rows_of(crate::line_semantics::ParseMode::Auto, &lines);
        let off = rows_of(crate::line_semantics::ParseMode::None, &lines);
        proptest::prop_assert_eq!(on, off);
    }

    /// Any text at any read time: no panic, and a time only where the text has digits.
    #[test]
    fn the_recognizer_never_panics(
        line in line_bytes(),
        now in proptest::prelude::any::<i64>(),
    ) {
        let mut r = crate::line_semantics::Recognizer::new(Arc::default());
        let text = String::from_utf8_lossy(&line);
        let seen = r.recognize(&text, now);
        if seen.own_time {
            proptest::prop_assert!(text.bytes().any(|b| b.is_ascii_digit()));
        }
    }
}
