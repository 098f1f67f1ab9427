//! Reads one file from a position, cutting it into lines and records, and sends them as
//! chunks that carry the file's position after the last finished record.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use firn_schemas::parquet_sink::naming::now_ns;

use super::decode::{DecodeConfig, Decoder};
use super::lines::{Dropped, LinePos, LineSplitter, LongLines};
use crate::pipeline::{ChunkBuilder, Msg, Sender};
use crate::telemetry::Counters;

/// How a read ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadOutcome {
    /// Read this many bytes and stopped at the end of the file or the budget.
    Read(u64),
    /// The receiving side is gone (the agent is stopping).
    Closed,
}

/// Settings every reader shares.
#[derive(Debug, Clone)]
pub struct ReaderConfig {
    /// Longest line.
    pub max_line_bytes: usize,
    /// What happens to longer ones.
    pub long_lines: LongLines,
    /// Record framing, joining and filtering.
    pub decode: Arc<DecodeConfig>,
}

/// One open file being read.
#[derive(Debug)]
pub struct FileReader {
    path: PathBuf,
    key: String,
    file: File,
    splitter: LineSplitter,
    decoder: Decoder,
    chunk: ChunkBuilder,
    /// The position last sent to the sink.
    sent: Option<LinePos>,
    /// Extra fields of this file's checkpoint (identity), merged into the position.
    identity: serde_json::Map<String, serde_json::Value>,
}

impl FileReader {
    /// Opens `path` and positions it at `pos`. `key` names the file in checkpoints and
    /// `identity` is stored beside its position.
    ///
    /// # Errors
    /// When the file cannot be opened or seeked.
    pub fn open(
        path: &Path,
        key: String,
        identity: serde_json::Map<String, serde_json::Value>,
        pos: LinePos,
        cfg: &ReaderConfig,
    ) -> io::Result<Self> {
        let file = File::open(path)?;
        Self::from_file(file, path, key, identity, pos, cfg)
    }

    /// Like [`open`](Self::open), for a file already open.
    ///
    /// # Errors
    /// When the file cannot be seeked.
    pub fn from_file(
        mut file: File,
        path: &Path,
        key: String,
        identity: serde_json::Map<String, serde_json::Value>,
        pos: LinePos,
        cfg: &ReaderConfig,
    ) -> io::Result<Self> {
        file.seek(SeekFrom::Start(pos.offset))?;
        Ok(Self {
            path: path.to_path_buf(),
            key,
            file,
            splitter: LineSplitter::new(cfg.max_line_bytes, cfg.long_lines, pos),
            decoder: Decoder::new(cfg.decode.clone(), path, pos),
            chunk: ChunkBuilder::default(),
            // Record the starting position too: a file opened past its start (a copy, a
            // checkpoint) must be checkpointed even if nothing new is read.
            sent: None,
            identity,
        })
    }

    /// The path the file was opened by.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads on under a new name (the file was renamed): rows say the path their bytes
    /// are read from.
    pub fn set_path(&mut self, path: &Path) {
        self.path = path.to_path_buf();
        self.decoder.set_path(path);
    }

    /// The open file.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// How far the file has been read (lines not yet finished included).
    pub fn read_offset(&self) -> u64 {
        self.splitter.pos().offset + self.splitter.partial_len() as u64
    }

    /// The position after the last finished record: where a restart resumes.
    pub fn committed(&self) -> LinePos {
        self.decoder.committed()
    }

    /// Whether a line or record is unfinished.
    pub fn has_partial(&self) -> bool {
        self.splitter.partial_len() > 0 || self.decoder.has_pending()
    }

    /// Reads what the file holds now, up to about `max_bytes`, sending records as chunks
    /// fill. `buf` is scratch space shared between readers.
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
        while total < max_bytes {
            let n = match self.file.read(buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            Counters::add(&counters.bytes_read_total, n as u64);
            total += n as u64;
            self.feed(Some(&buf[..n]), counters);
            if self.chunk.is_full() && !self.send(tx) {
                return Ok(ReadOutcome::Closed);
            }
        }
        if !self.send(tx) {
            return Ok(ReadOutcome::Closed);
        }
        Ok(ReadOutcome::Read(total))
    }

    /// Finishes an unfinished last line and record (after an idle time, at shutdown, or
    /// before the file is let go). Returns false when the sink is gone.
    pub fn flush_partial(&mut self, tx: &Sender, counters: &Counters) -> bool {
        self.feed(None, counters);
        self.send(tx)
    }

    /// Cuts `data` into lines and records; `None` finishes the unfinished line and record.
    fn feed(&mut self, data: Option<&[u8]>, counters: &Counters) {
        let Self {
            splitter,
            decoder,
            chunk,
            ..
        } = self;
        let ts = now_ns();
        let mut line = |l: super::lines::RawLine<'_>| decoder.line(&l, ts, chunk, counters);
        let mut drop = |d| count_drop(d, counters);
        match data {
            Some(d) => splitter.push(d, &mut line, &mut drop),
            None => {
                splitter.flush_partial(&mut line, &mut drop);
                decoder.flush(ts, chunk, counters);
            }
        }
    }

    /// The file was truncated in place: the lines read are delivered, then reading restarts
    /// at offset 0. Returns whether the sink is still there, and where reading had got to:
    /// the start of the line the truncation cut, if it cut one.
    ///
    /// A cut line (its start read, its rest truncated away) is not sent as a fragment: a
    /// copytruncate copy that the inputs match holds it whole and is read from that start
    /// (`tailer/copies.rs`); without one its rest is gone, and it is counted in
    /// `lines_cut_by_truncation_total` and logged.
    ///
    /// # Errors
    /// When the file cannot be seeked.
    pub fn restart_from_zero(
        &mut self,
        tx: &Sender,
        counters: &Counters,
        cfg: &ReaderConfig,
    ) -> io::Result<(bool, LinePos)> {
        let cut = self.splitter.partial_len();
        {
            // The record in progress is made of whole lines: finish it.
            let Self { decoder, chunk, .. } = self;
            decoder.flush(now_ns(), chunk, counters);
        }
        let alive = self.send(tx);
        let before = self.committed();
        if cut > 0 {
            Counters::add(&counters.lines_cut_by_truncation_total, 1);
            tracing::info!(path = %super::names::escaped(&self.path), offset = before.offset, bytes_read = cut, "A line was cut by the truncation: read whole from a copy if the inputs match one, else its start is dropped");
        }
        self.file.seek(SeekFrom::Start(0))?;
        self.splitter = LineSplitter::new(cfg.max_line_bytes, cfg.long_lines, LinePos::default());
        self.decoder = Decoder::new(cfg.decode.clone(), &self.path, LinePos::default());
        Ok((alive, before))
    }

    /// Replaces the identity stored with the position (the fingerprint grew).
    pub fn set_identity(&mut self, identity: serde_json::Map<String, serde_json::Value>) {
        self.identity = identity;
        self.sent = None;
    }

    /// Sends the lines gathered and the committed position, if either changed. Returns
    /// false when the sink is gone.
    pub fn send(&mut self, tx: &Sender) -> bool {
        let pos = self.decoder.committed();
        if self.chunk.is_empty() && self.sent == Some(pos) {
            return true;
        }
        let mut v = self.identity.clone();
        v.insert("offset".into(), pos.offset.into());
        if pos.skipping {
            v.insert("skipping".into(), true.into());
        }
        let chunk = self.chunk.take(
            now_ns(),
            Some((self.key.clone(), serde_json::Value::Object(v))),
        );
        self.sent = Some(pos);
        tx.send(Msg::Logs(chunk)).is_ok()
    }

    /// Tells the sink to forget this file's position (it is gone for good).
    pub fn forget(self, tx: &Sender) -> bool {
        let mut chunk = ChunkBuilder::default().take(now_ns(), None);
        chunk.position = Some((self.key, serde_json::Value::Null));
        tx.send(Msg::Logs(chunk)).is_ok()
    }
}

/// A chunk with no line that records `key`'s position (with its identity fields).
pub(crate) fn position_chunk(
    key: String,
    mut identity: serde_json::Map<String, serde_json::Value>,
    pos: LinePos,
) -> crate::pipeline::LogChunk {
    identity.insert("offset".into(), pos.offset.into());
    if pos.skipping {
        identity.insert("skipping".into(), true.into());
    }
    ChunkBuilder::default().take(now_ns(), Some((key, serde_json::Value::Object(identity))))
}

fn count_drop(d: Dropped, counters: &Counters) {
    match d {
        Dropped::LongLine(bytes) => {
            Counters::add(&counters.long_lines_dropped_total, 1);
            Counters::add(&counters.long_lines_dropped_bytes, bytes);
        }
    }
}
