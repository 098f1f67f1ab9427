//! Reads one file from a position, cutting it into lines and sending them as chunks.

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use firn_schemas::{JsonText, ObjectWriter, Severity, parquet_sink::naming::now_ns};

use super::lines::{Dropped, LinePos, LineSplitter, LongLines, RawLine};
use crate::pipeline::{ChunkBuilder, Msg, Sender};
use crate::telemetry::Counters;

/// RECORD_ATTRIBUTES of a file's rows, built once per file.
#[derive(Debug, Clone)]
pub struct FileAttrs {
    plain: JsonText,
    truncated: JsonText,
    split: JsonText,
    invalid_utf8: JsonText,
}

impl FileAttrs {
    /// `{"log.file.path": path}` and its marked variants.
    pub fn new(path: &Path) -> Self {
        let p = path.to_string_lossy();
        let with = |flag: &str| {
            let mut o = ObjectWriter::new();
            o.string("log.file.path", &p);
            if !flag.is_empty() {
                o.raw(flag, "true");
            }
            o.finish()
        };
        Self {
            plain: with(""),
            truncated: with("log.record.truncated"),
            split: with("log.record.split"),
            invalid_utf8: with("log.record.invalid_utf8"),
        }
    }
}

/// How a read ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadOutcome {
    /// Reached the current end of the file.
    Eof,
    /// The receiving side is gone (the agent is stopping).
    Closed,
}

/// One open file being read.
#[derive(Debug)]
pub struct FileReader {
    path: PathBuf,
    key: String,
    file: File,
    splitter: LineSplitter,
    attrs: FileAttrs,
    chunk: ChunkBuilder,
}

impl FileReader {
    /// Opens `path` and positions it at `pos`. `key` names the file in checkpoints.
    ///
    /// # Errors
    /// When the file cannot be opened or seeked.
    pub fn open(
        path: &Path,
        key: String,
        pos: LinePos,
        max_line_bytes: usize,
        long_lines: LongLines,
    ) -> io::Result<Self> {
        let mut file = File::open(path)?;
        file.seek(SeekFrom::Start(pos.offset))?;
        Ok(Self {
            path: path.to_path_buf(),
            key,
            file,
            splitter: LineSplitter::new(max_line_bytes, long_lines, pos),
            attrs: FileAttrs::new(path),
            chunk: ChunkBuilder::default(),
        })
    }

    /// The file's path as opened.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where reading stands after the lines delivered.
    pub fn pos(&self) -> LinePos {
        self.splitter.pos()
    }

    /// Reads what the file holds now, up to `max_bytes`, sending lines as they fill chunks.
    /// `buf` is scratch space shared between readers.
    ///
    /// # Errors
    /// When reading fails.
    pub fn read_available(
        &mut self,
        buf: &mut [u8],
        max_bytes: u64,
        tx: &Sender,
        counters: &Counters,
    ) -> io::Result<ReadOutcome> {
        let mut total = 0u64;
        loop {
            let n = match self.file.read(buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            Counters::add(&counters.bytes_read_total, n as u64);
            let Self {
                splitter,
                chunk,
                attrs,
                ..
            } = self;
            let ts = now_ns();
            splitter.push(
                &buf[..n],
                &mut |l| push_line(chunk, attrs, &l, ts, counters),
                &mut |d| count_drop(d, counters),
            );
            if self.chunk.is_full() && self.send(tx).is_err() {
                return Ok(ReadOutcome::Closed);
            }
            total += n as u64;
            if total >= max_bytes {
                return self
                    .send(tx)
                    .map(|()| ReadOutcome::Eof)
                    .or(Ok(ReadOutcome::Closed));
            }
        }
        match self.send(tx) {
            Ok(()) => Ok(ReadOutcome::Eof),
            Err(()) => Ok(ReadOutcome::Closed),
        }
    }

    /// Emits a last line that has no newline yet.
    pub fn flush_partial(&mut self, tx: &Sender, counters: &Counters) -> ReadOutcome {
        let Self {
            splitter,
            chunk,
            attrs,
            ..
        } = self;
        let ts = now_ns();
        splitter.flush_partial(
            &mut |l| push_line(chunk, attrs, &l, ts, counters),
            &mut |d| count_drop(d, counters),
        );
        match self.send(tx) {
            Ok(()) => ReadOutcome::Eof,
            Err(()) => ReadOutcome::Closed,
        }
    }

    /// Bytes of an unfinished last line held.
    pub fn partial_len(&self) -> usize {
        self.splitter.partial_len()
    }

    fn send(&mut self, tx: &Sender) -> Result<(), ()> {
        let pos = self.splitter.pos();
        if self.chunk.is_empty() {
            return Ok(());
        }
        let position = serde_json::to_value(pos)
            .ok()
            .map(|v| (self.key.clone(), v));
        let chunk = self.chunk.take(now_ns(), position);
        tx.send(Msg::Logs(chunk)).map_err(|_| ())
    }
}

fn count_drop(d: Dropped, counters: &Counters) {
    match d {
        Dropped::LongLine(bytes) => {
            Counters::add(&counters.long_lines_dropped_total, 1);
            Counters::add(&counters.long_lines_dropped_bytes, bytes);
        }
    }
}

fn push_line(
    chunk: &mut ChunkBuilder,
    attrs: &FileAttrs,
    l: &RawLine<'_>,
    ts: i64,
    counters: &Counters,
) {
    Counters::add(&counters.lines_read_total, 1);
    let text = String::from_utf8_lossy(l.bytes);
    let attributes = if matches!(text, Cow::Owned(_)) {
        Counters::add(&counters.invalid_utf8_lines_total, 1);
        &attrs.invalid_utf8
    } else if l.truncated {
        Counters::add(&counters.lines_truncated_total, 1);
        &attrs.truncated
    } else if l.split {
        Counters::add(&counters.lines_split_total, 1);
        &attrs.split
    } else {
        &attrs.plain
    };
    if l.truncated && matches!(text, Cow::Owned(_)) {
        Counters::add(&counters.lines_truncated_total, 1);
    }
    chunk.push(&text, ts, Severity::Info.record(), Some(attributes), None);
}
