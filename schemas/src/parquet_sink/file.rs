//! What one output file is, apart from how it is encoded or written: its body in memory,
//! the keys of its footer, and what is reported once it reached the output. A leaf: the
//! writer and its file thread both use it, and it uses neither.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::PathBuf;

/// Footer key naming the program that wrote the file.
pub const META_WRITER: &str = "firn.writer";
/// Footer key naming the agent instance (process) that wrote the file.
pub const META_INSTANCE: &str = "firn.instance";
/// Footer key naming the agent (stable across restarts) that wrote the file.
pub const META_AGENT_ID: &str = "firn.agent_id";
/// Footer key: when the file was closed, ns since the epoch; the newest file of an agent
/// holds its latest source positions.
pub const META_CLOSED_AT: &str = "firn.closed_at_ns";
/// Footer key holding the row count.
pub const META_ROWS: &str = "firn.rows";
/// Footer key holding the positions of the sources up to the last row in the file (JSON),
/// set by the caller; how the agent resumes after a restart.
pub const META_SOURCE_POSITIONS: &str = "firn.source_positions";

/// A file that reached the output.
#[derive(Debug, Clone)]
pub struct WrittenFile {
    /// Its final path.
    pub path: PathBuf,
    /// Rows in it.
    pub rows: u64,
    /// Its size.
    pub bytes: u64,
    /// Its footer's key-value metadata set by the caller.
    pub metadata: BTreeMap<String, String>,
}

/// An in-memory file body in 1 MiB chunks: growing it never copies what is already there.
#[derive(Debug, Default)]
pub(crate) struct ChunkedBuf {
    pub(crate) chunks: Vec<Vec<u8>>,
    pub(crate) len: u64,
}

const CHUNK: usize = 1 << 20;

impl Write for ChunkedBuf {
    fn write(&mut self, mut buf: &[u8]) -> io::Result<usize> {
        let n = buf.len();
        while !buf.is_empty() {
            let need_new = self.chunks.last().is_none_or(|c| c.len() == c.capacity());
            if need_new {
                self.chunks.push(Vec::with_capacity(CHUNK));
            }
            if let Some(c) = self.chunks.last_mut() {
                let take = (c.capacity() - c.len()).min(buf.len());
                c.extend_from_slice(&buf[..take]);
                buf = &buf[take..];
            }
        }
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
