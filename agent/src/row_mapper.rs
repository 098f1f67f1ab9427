//! The one mapper from a decoded line to a LOG row, used by every source (files, captured
//! streams, stdin): a structured line (SPCS.md §3) gives its own columns, any other line is
//! VALUE whole with its recognised or its stream's severity; the logLevel filter
//! ([`LogLevel::admits`]) decides once per record whether the row is kept.

use std::path::Path;

use firn_schemas::{JsonText, ObjectWriter, Severity};

use crate::level_filter::{LogLevel, RowFacts, Source, Stream};
use crate::line_semantics::Recognizer;
use crate::pipeline::ChunkBuilder;
use crate::structured;
use crate::telemetry::Counters;

/// How a line was altered on its way in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineFlags {
    /// Cut to the record limit.
    pub truncated: bool,
    /// One part of a line over the limit.
    pub split: bool,
    /// Had bytes that are not UTF-8 (replaced by U+FFFD).
    pub invalid_utf8: bool,
}

impl LineFlags {
    /// Either's flags.
    pub fn or(self, o: LineFlags) -> LineFlags {
        LineFlags {
            truncated: self.truncated || o.truncated,
            split: self.split || o.split,
            invalid_utf8: self.invalid_utf8 || o.invalid_utf8,
        }
    }

    /// Counts one raw line with these flags.
    pub fn count(self, counters: &Counters) {
        if self.invalid_utf8 {
            Counters::add(&counters.invalid_utf8_lines_total, 1);
        }
        if self.truncated {
            Counters::add(&counters.lines_truncated_total, 1);
        }
        if self.split {
            Counters::add(&counters.lines_split_total, 1);
        }
    }
}

const FLAG_KEYS: [&str; 4] = [
    "",
    "log.record.truncated",
    "log.record.split",
    "log.record.invalid_utf8",
];

/// RECORD_ATTRIBUTES of one source's rows, built once: `log.file.path` for files,
/// `log.iostream` when the stream is known, and a flag when the record was altered.
#[derive(Debug, Clone)]
pub struct RowAttrs {
    /// [stream: none, stdout, stderr][flag: none, truncated, split, invalid_utf8]
    table: [[JsonText; 4]; 3],
}

impl RowAttrs {
    /// The attributes of the rows of the file at `path`.
    pub fn file(path: &Path) -> Self {
        // Bytes that are not UTF-8 shown as `\xNN`, so such names stay told apart.
        Self::build(Some(&crate::file_tail::names::escaped(path)))
    }

    /// The attributes of captured output's rows.
    pub fn captured() -> Self {
        Self::build(None)
    }

    fn build(path: Option<&str>) -> Self {
        let make = |stream: Option<&str>, flag: &str| {
            let mut o = ObjectWriter::new();
            if let Some(p) = path {
                o.string("log.file.path", p);
            }
            if let Some(s) = stream {
                o.string("log.iostream", s);
            }
            if !flag.is_empty() {
                o.raw(flag, "true");
            }
            o.finish()
        };
        let row = |stream| FLAG_KEYS.map(|f| make(stream, f));
        Self {
            table: [row(None), row(Some("stdout")), row(Some("stderr"))],
        }
    }

    /// The attributes for a stream and flags; one flag is named, the most telling.
    pub fn get(&self, stream: Option<Stream>, flags: LineFlags) -> &JsonText {
        let s = match stream {
            None => 0,
            Some(Stream::Stdout) => 1,
            Some(Stream::Stderr) => 2,
        };
        let f = if flags.invalid_utf8 {
            3
        } else if flags.truncated {
            1
        } else if flags.split {
            2
        } else {
            0
        };
        &self.table[s][f]
    }
}

/// One record after unframing and joining.
#[derive(Debug, Clone, Copy)]
pub struct DecodedLine<'a> {
    /// Its text.
    pub text: &'a str,
    /// Its stream, when known.
    pub stream: Option<Stream>,
    /// Its own time (ns since the epoch): the runtime's or the line's; `None` takes `now`.
    pub ts: Option<i64>,
    /// The severity recognised in its text (files only).
    pub severity: Option<Severity>,
    /// How it was altered.
    pub flags: LineFlags,
}

/// Maps one source's records to rows and filters them.
#[derive(Debug, Clone)]
pub struct RowMapper {
    source: Source,
    level: LogLevel,
    attrs: RowAttrs,
}

impl RowMapper {
    /// A mapper for rows of `source`, kept by `level`, with `attrs`.
    pub fn new(source: Source, level: LogLevel, attrs: RowAttrs) -> Self {
        Self {
            source,
            level,
            attrs,
        }
    }

    /// Rows from now on carry `attrs` (a file was renamed).
    pub fn set_attrs(&mut self, attrs: RowAttrs) {
        self.attrs = attrs;
    }

    /// Whether no row can pass (`NONE`): callers may skip work.
    pub fn exports_nothing(&self) -> bool {
        self.level == LogLevel::None
    }

    /// Adds `line` to `out` as a row, or counts it as filtered. Returns whether it was kept.
    /// A line that is not structured is read by `recognizer` (files), when given, for its
    /// own time and severity; a runtime's time (`line.ts`) wins over the text's.
    pub fn push(
        &self,
        line: &DecodedLine<'_>,
        now_ns: i64,
        out: &mut ChunkBuilder,
        counters: &Counters,
        recognizer: Option<&mut Recognizer>,
    ) -> bool {
        if self.exports_nothing() {
            Counters::add(&counters.log_rows_filtered_total, 1);
            return false;
        }
        // A truncated or split line is a fragment: JSON cut short is not a record.
        let parsed = if line.flags.truncated || line.flags.split {
            None
        } else {
            structured::parse(line.text)
        };
        let mut line = *line;
        if parsed.is_none()
            && let Some(r) = recognizer
        {
            let seen = r.recognize(line.text, now_ns);
            if seen.own_time {
                Counters::add(&counters.lines_time_recognised_total, 1);
            }
            if seen.own_severity {
                Counters::add(&counters.lines_severity_recognised_total, 1);
            }
            line.ts = line.ts.or(seen.ts);
            line.severity = line.severity.or(seen.severity);
        }
        let facts = RowFacts {
            source: self.source,
            stream: line.stream,
            structured: parsed.is_some(),
            severity: match &parsed {
                Some(s) => s.severity,
                None => line.severity,
            },
        };
        if !self.level.admits(&facts) {
            Counters::add(&counters.log_rows_filtered_total, 1);
            return false;
        }
        let attrs = self.attrs.get(line.stream, line.flags);
        let default = Stream::default_severity(line.stream);
        let ts = line.ts.unwrap_or(now_ns);
        match parsed {
            Some(s) => s.push_row(out, attrs, default, ts),
            None => out.push(
                line.text,
                ts,
                line.severity.unwrap_or(default).record(),
                Some(attrs),
                None,
            ),
        }
        true
    }
}
