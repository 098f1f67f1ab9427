//! Where each file stands, recorded in the footer of the Parquet file that holds its lines
//! (`firn.source_positions`), and recovered from the newest of this agent's files at start.
//!
//! A file's lines and its position become durable together, when the Parquet file is closed
//! and written: after a kill -9 the agent resumes from the last closed file, so every line
//! lands exactly once. A stage volume cannot hold a state file rewritten in place
//! (SPCS.md §7), which is why the positions live in the data files themselves.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use firn_schemas::parquet_sink::naming::{is_output_file, may_be_from_agent};
use firn_schemas::parquet_sink::{
    META_AGENT_ID, META_CLOSED_AT, META_SOURCE_POSITIONS, read_footer_metadata,
};

use super::identity::Fingerprint;
use super::lines::LinePos;

/// One file's checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    /// The path it was last read by (a hint for finding it after a rename).
    pub path: PathBuf,
    /// Bytes the fingerprint covers.
    pub fp_len: u64,
    /// The fingerprint, hex.
    pub fp: String,
    /// Where to resume.
    pub offset: u64,
    /// Resume inside an over-long line.
    #[serde(default)]
    pub skipping: bool,
    /// What the file held before it was last truncated in place, so a copy made by
    /// copytruncate is recognised even after a restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<Prev>,
}

/// A file's identity and position before it was truncated.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Prev {
    /// Bytes the fingerprint covers.
    pub fp_len: u64,
    /// The fingerprint, hex.
    pub fp: String,
    /// Where reading had got to.
    pub offset: u64,
}

impl Prev {
    /// From a fingerprint and a position.
    pub fn new(fp: &Fingerprint, pos: LinePos) -> Self {
        Self {
            fp_len: fp.len,
            fp: fp.hex(),
            offset: pos.offset,
        }
    }

    /// As a checkpoint of `path` (for copy detection).
    pub fn as_checkpoint(&self, path: &Path) -> Checkpoint {
        Checkpoint {
            path: path.to_path_buf(),
            fp_len: self.fp_len,
            fp: self.fp.clone(),
            offset: self.offset,
            skipping: false,
            prev: None,
        }
    }
}

impl Checkpoint {
    /// The identity fields stored next to the position.
    pub fn identity(
        path: &Path,
        fp: &Fingerprint,
        prev: Option<&Prev>,
    ) -> serde_json::Map<String, serde_json::Value> {
        let mut m = serde_json::Map::new();
        m.insert("path".into(), path.to_string_lossy().into_owned().into());
        m.insert("fp_len".into(), fp.len.into());
        m.insert("fp".into(), fp.hex().into());
        if let Some(p) = prev.and_then(|p| serde_json::to_value(p).ok()) {
            m.insert("prev".into(), p);
        }
        m
    }

    /// Where to resume.
    pub fn pos(&self) -> LinePos {
        LinePos {
            offset: self.offset,
            skipping: self.skipping,
        }
    }

    /// Whether this checkpoint belongs to a file with fingerprint state `fp_of_len`.
    pub fn matches(&self, fp_of_len: &Fingerprint) -> bool {
        fp_of_len.len == self.fp_len && fp_of_len.hex() == self.fp
    }
}

/// What recovery found.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Every file's checkpoint, by `dev:ino`, as the sink stores them.
    pub positions: BTreeMap<String, serde_json::Value>,
    /// The parsed checkpoints.
    pub checkpoints: BTreeMap<String, Checkpoint>,
    /// The file they came from.
    pub from: Option<PathBuf>,
    /// Leftovers of an interrupted write that were removed.
    pub removed: Vec<PathBuf>,
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for e in rd {
        let e = e?;
        let ft = e.file_type()?;
        if ft.is_dir() {
            walk(&e.path(), out)?;
        } else if ft.is_file() {
            out.push(e.path());
        }
    }
    Ok(())
}

/// Finds this agent's newest complete file that carries source positions under `out_dir`
/// and reads them.
/// Removes this agent's leftovers of an interrupted write: hidden temporary files (local
/// mode) and files without a valid footer (a stage write cut short).
///
/// # Errors
/// When the output folder cannot be listed.
pub fn recover(out_dir: &Path, agent_id: &str) -> io::Result<Recovered> {
    let mut files = Vec::new();
    walk(out_dir, &mut files)?;
    let mut rec = Recovered::default();
    let mut own: Vec<(String, PathBuf)> = Vec::new();
    for path in files {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !may_be_from_agent(name, agent_id) {
            continue;
        }
        if name.starts_with('.') && name.ends_with(".tmp") {
            if std::fs::remove_file(&path).is_ok() {
                rec.removed.push(path);
            }
            continue;
        }
        if is_output_file(name) {
            // firn-YYYYMMDDTHHMMSSZ-...: the time the file was opened.
            let opened = name.get(5..21).unwrap_or("").to_string();
            own.push((opened, path));
        }
    }
    // One process closes its files in the order it opens them, and a later process opens
    // later: so the newest file is among those opened last. Read footers newest first and
    // stop past the first second that has a complete file.
    own.sort_by(|a, b| b.cmp(a));
    let mut best: Option<(i64, PathBuf, BTreeMap<String, String>)> = None;
    let mut found_second: Option<String> = None;
    for (opened, path) in own {
        if found_second.as_ref().is_some_and(|s| *s != opened) {
            break;
        }
        match read_footer_metadata(&path) {
            Ok(meta) => {
                // A file without positions (written by a run that followed no file, or by a
                // version that left them out of metrics-only files) says nothing about where
                // the files stand: resume from the newest one that does.
                if meta.get(META_AGENT_ID).map(String::as_str) != Some(agent_id)
                    || !meta.contains_key(META_SOURCE_POSITIONS)
                {
                    continue;
                }
                let closed: i64 = meta
                    .get(META_CLOSED_AT)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                if best.as_ref().is_none_or(|(c, _, _)| closed > *c) {
                    best = Some((closed, path, meta));
                }
                found_second = Some(opened);
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "Removing a partial output file left by an interrupted write; its lines will be read again");
                if std::fs::remove_file(&path).is_ok() {
                    rec.removed.push(path);
                }
            }
        }
    }
    if let Some((_, path, meta)) = best {
        if let Some(json) = meta.get(META_SOURCE_POSITIONS) {
            match serde_json::from_str::<BTreeMap<String, serde_json::Value>>(json) {
                Ok(p) => {
                    for (k, v) in &p {
                        if let Ok(c) = serde_json::from_value::<Checkpoint>(v.clone()) {
                            rec.checkpoints.insert(k.clone(), c);
                        }
                    }
                    rec.positions = p;
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "Unreadable source positions; files will be read from the start")
                }
            }
        }
        rec.from = Some(path);
    }
    Ok(rec)
}
