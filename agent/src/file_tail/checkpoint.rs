//! Where each file stands, recorded in the footer of the Parquet file that holds its lines
//! (`firn.source_positions`), and recovered from the newest of this agent's files at start.
//!
//! A file's lines and its position become durable together: committed to the write-ahead
//! spool about once a second (`schemas::spool`, whose positions win at start when newer, see
//! `crate::sink_setup`), and in the footer of the Parquet file that holds them. A stage volume
//! cannot hold a state file rewritten in place (SPCS.md §7), which is why the positions also
//! live in the data files themselves: with no spool, or a spool lost, the agent resumes from
//! its last closed file.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use firn_schemas::parquet_sink::META_SOURCE_POSITIONS;
use firn_schemas::parquet_sink::leftovers::scan_own_files;
use firn_schemas::spool::META_SPOOL_COMMIT;

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
    /// This agent's files that could not be read or removed, with why (each logged).
    pub left: Vec<(PathBuf, String)>,
    /// The newest spool commit that file holds (`firn.spool_commit`), if it was spooled.
    pub spool_commit: Option<u64>,
}

impl Recovered {
    /// Takes the positions from a map as the sink stores it (`firn.source_positions`),
    /// replacing any found so far. `from` names where it came from, for the log.
    ///
    /// # Errors
    /// When `json` is not such a map (the positions are then left as they were).
    pub fn set_positions(&mut self, json: &str) -> Result<(), serde_json::Error> {
        let p = serde_json::from_str::<BTreeMap<String, serde_json::Value>>(json)?;
        self.checkpoints = p
            .iter()
            .filter_map(|(k, v)| {
                serde_json::from_value::<Checkpoint>(v.clone())
                    .ok()
                    .map(|c| (k.clone(), c))
            })
            .collect();
        self.positions = p;
        Ok(())
    }
}

/// Finds this agent's newest complete file that carries source positions under `out_dir`
/// and reads them. Removes every leftover of this agent's interrupted writes: temporary files
/// (local mode) and files that are not complete Parquet (a stage write cut short). Files of
/// other agents, and files that cannot be read, are left alone.
///
/// # Errors
/// When the output folder cannot be listed.
pub fn recover(out_dir: &Path, agent_id: &str) -> io::Result<Recovered> {
    let own = scan_own_files(out_dir, agent_id, META_SOURCE_POSITIONS)?;
    let mut rec = Recovered {
        removed: own.removed,
        left: own.left,
        ..Recovered::default()
    };
    if let Some((path, meta)) = own.newest {
        if let Some(json) = meta.get(META_SOURCE_POSITIONS)
            && let Err(e) = rec.set_positions(json)
        {
            tracing::warn!(path = %path.display(), error = %e, "Unreadable source positions; files will be read from the start");
        }
        rec.spool_commit = meta.get(META_SPOOL_COMMIT).and_then(|s| s.parse().ok());
        rec.from = Some(path);
    }
    Ok(rec)
}
