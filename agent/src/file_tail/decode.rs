//! Turns raw lines of a file into records: container-runtime formats (CRI, Docker json-file)
//! are unwrapped, partial lines and multiline records are joined, structured JSON lines are
//! mapped to columns (SPCS.md §3), and the logLevel filter is applied.
//!
//! It also tracks the position after the last *finished* record: a record still being joined
//! is not yet safe to checkpoint past, so a restart re-reads it whole.

use std::borrow::Cow;
use std::sync::Arc;

use regex::Regex;

use super::lines::{LinePos, RawLine};
use crate::level_filter::{LogLevel, Source, Stream};
use crate::line_semantics::{Recognizer, SemanticsConfig};
use crate::pipeline::ChunkBuilder;
use crate::row_mapper::{DecodedLine, LineFlags as Flags, RowAttrs, RowMapper};
use crate::structured;
use crate::telemetry::Counters;

/// How a file's lines are framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Decided per file from its first line: CRI, Docker json-file, or plain.
    #[default]
    Auto,
    /// One record per line. A line that is a JSON object with a `body` is structured
    /// (as the platform does for every line), any other line is kept whole.
    Plain,
    /// The same as plain: named for users who know their files are JSON lines.
    Json,
    /// Kubernetes CRI: `<RFC 3339 time> <stdout|stderr> <P|F> <message>`; P parts are joined.
    Cri,
    /// Docker json-file: `{"log":"...\n","stream":"stdout","time":"..."}`; parts without a
    /// final newline are joined.
    Docker,
}

/// A `--format` that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown format {0:?}: use auto, plain, json, cri or docker")]
pub struct UnknownFormat(pub String);

impl std::str::FromStr for Format {
    type Err = UnknownFormat;
    fn from_str(s: &str) -> Result<Self, UnknownFormat> {
        match s {
            "auto" => Ok(Self::Auto),
            "plain" | "text" => Ok(Self::Plain),
            "json" => Ok(Self::Json),
            "cri" => Ok(Self::Cri),
            "docker" => Ok(Self::Docker),
            _ => Err(UnknownFormat(s.to_string())),
        }
    }
}

/// Settings shared by every file.
#[derive(Debug, Clone)]
pub struct DecodeConfig {
    /// The framing.
    pub format: Format,
    /// A line matching this starts a record; other lines join the record before them.
    pub multiline_start: Option<Regex>,
    /// Which records are kept.
    pub level: LogLevel,
    /// Longest record (a joined record is cut there and marked truncated).
    pub max_record_bytes: usize,
    /// How event times and levels are recognised in plain lines.
    pub semantics: Arc<SemanticsConfig>,
    /// Settings of the config file's `[[input]]` sections: a file matching one of a
    /// section's globs (the first such section) is decoded with its settings instead.
    pub per_input: Vec<(Vec<glob::Pattern>, Arc<DecodeConfig>)>,
}

impl Default for DecodeConfig {
    fn default() -> Self {
        Self {
            format: Format::Auto,
            multiline_start: None,
            level: LogLevel::Info,
            max_record_bytes: 16 << 10,
            semantics: Arc::default(),
            per_input: Vec::new(),
        }
    }
}

impl DecodeConfig {
    /// The settings the file at `path` is decoded with.
    pub fn for_path(self: &Arc<Self>, path: &std::path::Path) -> Arc<Self> {
        let opts = glob::MatchOptions {
            require_literal_separator: false,
            ..glob::MatchOptions::new()
        };
        self.per_input
            .iter()
            .find(|(globs, _)| globs.iter().any(|g| g.matches_path_with(path, opts)))
            .map_or_else(|| self.clone(), |(_, c)| c.clone())
    }
}

/// A record being joined from several lines.
#[derive(Debug)]
struct Pending {
    text: String,
    ts: Option<i64>,
    stream: Option<Stream>,
    flags: Flags,
    end: LinePos,
    /// Joined because the runtime marked the line partial (vs. a multiline pattern).
    partial: bool,
}

/// One line after unframing.
struct Piece<'a> {
    text: Cow<'a, str>,
    ts: Option<i64>,
    stream: Option<Stream>,
    partial: bool,
}

/// Decodes one file's lines.
#[derive(Debug)]
pub struct Decoder {
    cfg: Arc<DecodeConfig>,
    format: Format,
    mapper: RowMapper,
    recognizer: Recognizer,
    pending: Option<Pending>,
    committed: LinePos,
}

impl Decoder {
    /// Rows decoded from now on say `path` (the file was renamed).
    pub fn set_path(&mut self, path: &std::path::Path) {
        self.mapper.set_attrs(RowAttrs::file(path));
    }

    /// A decoder for the file at `path`, read from `pos`.
    pub fn new(cfg: Arc<DecodeConfig>, path: &std::path::Path, pos: LinePos) -> Self {
        let cfg = cfg.for_path(path);
        let format = cfg.format;
        let mapper = RowMapper::new(Source::File, cfg.level, RowAttrs::file(path));
        Self {
            recognizer: Recognizer::new(cfg.semantics.clone()),
            cfg,
            format,
            mapper,
            pending: None,
            committed: pos,
        }
    }

    /// The position after the last finished record: safe to resume from.
    pub fn committed(&self) -> LinePos {
        self.committed
    }

    /// Whether a record is being joined.
    pub fn has_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Takes one raw line.
    pub fn line(
        &mut self,
        raw: &RawLine<'_>,
        now_ns: i64,
        out: &mut ChunkBuilder,
        counters: &Counters,
    ) {
        Counters::add(&counters.lines_read_total, 1);
        let text = raw.text();
        let flags = Flags {
            truncated: raw.truncated,
            split: raw.split,
            invalid_utf8: matches!(text, Cow::Owned(_)),
        };
        flags.count(counters);
        if self.format == Format::Auto {
            if text.trim().is_empty() {
                // Nothing to decide on yet.
                self.emit_piece(plain(text), flags, raw.pos, now_ns, out, counters);
                return;
            }
            self.format = detect(&text);
        }
        let piece = match self.format {
            Format::Cri => parse_cri(&text).unwrap_or_else(|| plain(text.clone())),
            Format::Docker => parse_docker(&text).unwrap_or_else(|| plain(text.clone())),
            _ => plain(text.clone()),
        };
        self.emit_piece(piece, flags, raw.pos, now_ns, out, counters);
    }

    fn emit_piece(
        &mut self,
        piece: Piece<'_>,
        flags: Flags,
        pos: LinePos,
        now_ns: i64,
        out: &mut ChunkBuilder,
        counters: &Counters,
    ) {
        // Continue a runtime-partial record.
        if let Some(p) = &mut self.pending
            && p.partial
        {
            append(p, &piece.text, "", flags, pos, self.cfg.max_record_bytes);
            if !piece.partial {
                self.finish_pending(now_ns, out, counters);
            }
            return;
        }
        if let Some(re) = &self.cfg.multiline_start {
            let starts = re.is_match(&piece.text);
            if !starts && let Some(p) = &mut self.pending {
                append(p, &piece.text, "\n", flags, pos, self.cfg.max_record_bytes);
                return;
            }
            self.finish_pending(now_ns, out, counters);
            self.pending = Some(start_pending(&piece, flags, pos, self.cfg.max_record_bytes));
            return;
        }
        if piece.partial {
            self.pending = Some(start_pending(&piece, flags, pos, self.cfg.max_record_bytes));
            return;
        }
        self.emit(
            &piece.text,
            piece.ts,
            piece.stream,
            flags,
            pos,
            now_ns,
            out,
            counters,
        );
    }

    /// Finishes a record being joined: at idle time, at shutdown, or before a file is let go.
    pub fn flush(&mut self, now_ns: i64, out: &mut ChunkBuilder, counters: &Counters) {
        self.finish_pending(now_ns, out, counters);
    }

    /// Moves the committed position without a record (bytes skipped or dropped).
    pub fn skip_to(&mut self, pos: LinePos) {
        if self.pending.is_none() {
            self.committed = pos;
        }
    }

    fn finish_pending(&mut self, now_ns: i64, out: &mut ChunkBuilder, counters: &Counters) {
        if let Some(p) = self.pending.take() {
            self.emit(
                &p.text, p.ts, p.stream, p.flags, p.end, now_ns, out, counters,
            );
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn emit(
        &mut self,
        text: &str,
        ts: Option<i64>,
        stream: Option<Stream>,
        flags: Flags,
        end: LinePos,
        now_ns: i64,
        out: &mut ChunkBuilder,
        counters: &Counters,
    ) {
        self.committed = end;
        let line = DecodedLine {
            text,
            stream,
            ts,
            severity: None,
            flags,
        };
        self.mapper
            .push(&line, now_ns, out, counters, Some(&mut self.recognizer));
    }
}

fn plain(text: Cow<'_, str>) -> Piece<'_> {
    Piece {
        text,
        ts: None,
        stream: None,
        partial: false,
    }
}

fn start_pending(piece: &Piece<'_>, flags: Flags, pos: LinePos, max: usize) -> Pending {
    let mut p = Pending {
        text: String::new(),
        ts: piece.ts,
        stream: piece.stream,
        flags: Flags::default(),
        end: pos,
        partial: piece.partial,
    };
    append(&mut p, &piece.text, "", flags, pos, max);
    p
}

fn append(p: &mut Pending, text: &str, sep: &str, flags: Flags, pos: LinePos, max: usize) {
    p.end = pos;
    p.flags = p.flags.or(flags);
    let room = max.saturating_sub(p.text.len());
    let add = sep.len() + text.len();
    if add <= room {
        p.text.push_str(sep);
        p.text.push_str(text);
    } else {
        p.flags.truncated = true;
        let mut whole = String::with_capacity(add);
        whole.push_str(sep);
        whole.push_str(text);
        let mut cut = room.min(whole.len());
        while !whole.is_char_boundary(cut) {
            cut -= 1;
        }
        p.text.push_str(&whole[..cut]);
    }
}

fn detect(first: &str) -> Format {
    if parse_cri(first).is_some() {
        Format::Cri
    } else if parse_docker(first).is_some() {
        Format::Docker
    } else {
        Format::Plain
    }
}

fn parse_cri(line: &str) -> Option<Piece<'_>> {
    let mut it = line.splitn(4, ' ');
    let ts = structured::parse_rfc3339(it.next()?)?;
    let stream = match it.next()? {
        "stdout" => Stream::Stdout,
        "stderr" => Stream::Stderr,
        _ => return None,
    };
    let partial = match it.next()? {
        "P" => true,
        "F" => false,
        _ => return None,
    };
    Some(Piece {
        text: Cow::Borrowed(it.next().unwrap_or("")),
        ts: Some(ts),
        stream: Some(stream),
        partial,
    })
}

#[derive(serde::Deserialize)]
struct DockerLine<'a> {
    #[serde(borrow)]
    log: Cow<'a, str>,
    #[serde(borrow)]
    stream: Option<Cow<'a, str>>,
    #[serde(borrow)]
    time: Option<Cow<'a, str>>,
}

fn parse_docker(line: &str) -> Option<Piece<'static>> {
    if !line.trim_start().starts_with("{\"log\"") {
        return None;
    }
    let d: DockerLine<'_> = serde_json::from_str(line).ok()?;
    let partial = !d.log.ends_with('\n');
    let text = d.log.strip_suffix('\n').unwrap_or(&d.log);
    let text = text.strip_suffix('\r').unwrap_or(text).to_string();
    Some(Piece {
        text: Cow::Owned(text),
        ts: d.time.as_deref().and_then(structured::parse_rfc3339),
        stream: match d.stream.as_deref() {
            Some("stderr") => Some(Stream::Stderr),
            Some("stdout") => Some(Stream::Stdout),
            _ => None,
        },
        partial,
    })
}

#[cfg(test)]
mod tests;
