//! A local write-ahead spool: rows and the source positions they reach, made durable together
//! about once a second, long before the Parquet file that will hold them is written.
//!
//! Each [`Spool::commit`] appends one Arrow IPC stream (the batch, with the commit's sequence
//! number, time and positions in the stream's schema metadata) to the current segment file
//! (`seg-<first seq>.arrows`) and fsyncs it. A writer passes the commit's sequence number to
//! its output; once the output file holding a commit is durably written, [`Spool::covered`]
//! records that (in `state.json`, with that commit's positions) and deletes the segments it
//! covers. [`Spool::open`] replays what is not covered, keeps positions even when every
//! output file was deleted since (a purged stage), and cuts a torn tail (a crash in the
//! middle of an append) at the last complete commit, saying what it dropped.
//!
//! ```
//! use firn_schemas::{BatchBuilder, Row, Severity};
//! use firn_schemas::spool::{Spool, SpoolConfig};
//! let dir = tempfile::tempdir().unwrap();
//! let (mut spool, rec) = Spool::open(SpoolConfig::new(dir.path()), None).unwrap();
//! assert!(rec.commits.is_empty());
//! let mut rows = BatchBuilder::new();
//! rows.append(&Row::log(1_700_000_000_000_000_000, Severity::Info, "hello"));
//! let seq = spool.commit(&rows.finish().unwrap(), r#"{"a.log":10}"#).unwrap();
//! drop(spool); // a crash: nothing covered yet
//! let (_, rec) = Spool::open(SpoolConfig::new(dir.path()), None).unwrap();
//! assert_eq!(rec.commits[0].seq, seq);
//! assert_eq!(rec.positions.as_deref(), Some(r#"{"a.log":10}"#));
//! ```

mod segment;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use arrow_array::RecordBatch;
pub use segment::Commit;
use segment::{SegmentInfo, list_segments, read_segment, segment_name};

/// Footer key of an output file: the last spool commit whose rows it holds.
pub const META_SPOOL_COMMIT: &str = "firn.spool_commit";

/// Where and how much.
#[derive(Debug, Clone)]
pub struct SpoolConfig {
    /// The folder (created). One writer per folder.
    pub dir: PathBuf,
    /// Past this many bytes of segments, [`Spool::commit`] refuses with
    /// [`SpoolError::Full`] until covered segments are deleted. Default 1 GiB.
    pub max_bytes: u64,
    /// A segment file is closed past this size. Default 16 MiB.
    pub segment_bytes: u64,
    /// The rows' schema. Default [`batch_schema`](crate::batch_schema).
    pub schema: arrow_schema::SchemaRef,
    /// Keep each uncovered commit's positions in memory, for [`Spool::covered`] to record.
    /// Default true. A writer whose output files hold the positions too passes them to
    /// [`Spool::covered_at`] instead and sets this false: with thousands of sources the map
    /// is megabytes, once per commit.
    pub remember_positions: bool,
}

impl SpoolConfig {
    /// Defaults in `dir`.
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            max_bytes: 1 << 30,
            segment_bytes: 16 << 20,
            schema: crate::batch_schema(),
            remember_positions: true,
        }
    }
}

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// A file system call failed.
    #[error("spool {path}: cannot {doing}: {source}")]
    Io {
        doing: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Arrow could not encode a batch.
    #[error("spool: cannot encode a batch: {0}")]
    Encode(#[from] arrow_schema::ArrowError),
    /// The spool holds `max_bytes` already.
    #[error(
        "spool {dir} is full ({bytes} bytes of {max} allowed); waiting for output files to be written"
    )]
    Full { dir: PathBuf, bytes: u64, max: u64 },
}

impl SpoolError {
    fn io(doing: &'static str, path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            doing,
            path: path.to_path_buf(),
            source,
        }
    }

    /// The OS error number of a failed call, if that is what it was.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Self::Io { source, .. } => source.raw_os_error(),
            _ => None,
        }
    }
}

/// A torn tail cut at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Torn {
    /// The segment.
    pub path: PathBuf,
    /// Where its last complete commit ends.
    pub kept_bytes: u64,
    /// Bytes dropped after that (and whole later segments that do not follow on).
    pub dropped_bytes: u64,
    /// Why the rest could not be read.
    pub reason: String,
}

/// What [`Spool::open`] found.
#[derive(Debug, Default)]
pub struct Recovery {
    /// Commits not covered by a written output file, oldest first: write them out again.
    pub commits: Vec<Commit>,
    /// The newest positions the spool knows (of the last commit, or of the last covered one).
    pub positions: Option<String>,
    /// The newest covered commit.
    pub covered: u64,
    /// A torn tail, cut.
    pub torn: Option<Torn>,
}

/// Counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpoolStats {
    /// Bytes of segment files now.
    pub bytes: u64,
    /// Segment files now.
    pub segments: usize,
    /// Commits made.
    pub commits_total: u64,
    /// fsync calls made.
    pub fsyncs_total: u64,
    /// Time spent in commits (write + fsync), µs.
    pub commit_micros_total: u64,
    /// The slowest commit so far, µs.
    pub commit_micros_max: u64,
}

/// The segment commits go to. Its file is opened for each commit and closed after it: an
/// idle agent holds no file open for writing (which would keep the volume from being
/// remounted read-only, or a stuck file system from being unmounted).
#[derive(Debug)]
struct Current {
    info: SegmentInfo,
}

/// The spool of one writer.
#[derive(Debug)]
pub struct Spool {
    cfg: SpoolConfig,
    /// Closed and current segments, oldest first (the current one is last).
    segments: VecDeque<SegmentInfo>,
    current: Option<Current>,
    next_seq: u64,
    covered: u64,
    /// Positions of commits not yet covered, to record with the cover.
    positions: VecDeque<(u64, String)>,
    stats: SpoolStats,
}

#[derive(serde::Serialize, serde::Deserialize, Default)]
struct State {
    covered: u64,
    positions: Option<String>,
}

const STATE: &str = "state.json";

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

fn sync_dir(dir: &Path) -> Result<(), SpoolError> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| SpoolError::io("fsync the folder", dir, e))
}

impl Spool {
    /// Opens (creating) the spool in `cfg.dir`, cuts a torn tail, deletes covered segments
    /// and returns what must be written out again. `covered_hint` is the newest commit the
    /// output's own files say they hold (a crash can come between writing a file and
    /// recording it here).
    ///
    /// # Errors
    /// When the folder cannot be created, listed or written.
    pub fn open(
        cfg: SpoolConfig,
        covered_hint: Option<u64>,
    ) -> Result<(Spool, Recovery), SpoolError> {
        std::fs::create_dir_all(&cfg.dir)
            .map_err(|e| SpoolError::io("create the folder", &cfg.dir, e))?;
        let state_path = cfg.dir.join(STATE);
        let state: State = match std::fs::read(&state_path) {
            Ok(b) => serde_json::from_slice(&b).unwrap_or_else(|e| {
                tracing::warn!(path = %state_path.display(), error = %e, "Unreadable spool state; replaying every segment");
                State::default()
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => State::default(),
            Err(e) => return Err(SpoolError::io("read", &state_path, e)),
        };
        let covered = state.covered.max(covered_hint.unwrap_or(0));
        let mut rec = Recovery {
            covered,
            positions: state.positions,
            ..Recovery::default()
        };
        let mut spool = Spool {
            cfg,
            segments: VecDeque::new(),
            current: None,
            next_seq: covered + 1,
            covered,
            positions: VecDeque::new(),
            stats: SpoolStats::default(),
        };
        spool.recover(&mut rec)?;
        spool.update_stats();
        Ok((spool, rec))
    }

    fn recover(&mut self, rec: &mut Recovery) -> Result<(), SpoolError> {
        let files =
            list_segments(&self.cfg.dir).map_err(|e| SpoolError::io("list", &self.cfg.dir, e))?;
        let mut expect: Option<u64> = None;
        let mut cut = false;
        for (path, first) in files {
            if cut || expect.is_some_and(|e| first != e) {
                // A gap: what follows does not continue the commits kept so far.
                let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
                add_dropped(rec, &path, bytes, "does not follow the commits before it");
                let _ = std::fs::remove_file(&path);
                cut = true;
                continue;
            }
            let read = read_segment(&path, &self.cfg.schema)
                .map_err(|e| SpoolError::io("read", &path, e))?;
            if let Some(reason) = read.torn {
                cut = true;
                let dropped = read.file_bytes - read.good_bytes;
                add_dropped(rec, &path, dropped, &reason);
                if let Some(t) = rec.torn.as_mut()
                    && t.path == path
                {
                    t.kept_bytes = read.good_bytes;
                }
                truncate(&path, read.good_bytes)?;
            }
            let Some(last) = read.commits.last().map(|c| c.seq) else {
                let _ = std::fs::remove_file(&path);
                continue;
            };
            expect = Some(last + 1);
            self.next_seq = self.next_seq.max(last + 1);
            if let Some(c) = read.commits.last()
                && (last > self.covered || rec.positions.is_none())
            {
                rec.positions = Some(c.positions.clone());
            }
            if last <= self.covered {
                let _ = std::fs::remove_file(&path);
                continue;
            }
            let bytes = read.good_bytes;
            for c in read.commits {
                if c.seq > self.covered {
                    self.positions.push_back((c.seq, c.positions.clone()));
                    rec.commits.push(c);
                }
            }
            self.segments.push_back(SegmentInfo { path, last, bytes });
        }
        Ok(())
    }

    fn update_stats(&mut self) {
        self.stats.bytes = self.segments.iter().map(|s| s.bytes).sum::<u64>()
            + self.current.as_ref().map_or(0, |c| c.info.bytes);
        self.stats.segments = self.segments.len() + usize::from(self.current.is_some());
    }

    /// Counters now.
    pub fn stats(&self) -> SpoolStats {
        self.stats.clone()
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.cfg.dir
    }

    /// Whether a commit would be refused for want of room.
    pub fn is_full(&self) -> bool {
        self.stats.bytes >= self.cfg.max_bytes
    }

    /// Appends `batch` and `positions` (the writer's source positions after these rows,
    /// opaque here) as one commit and fsyncs it. Returns the commit's sequence number, to be
    /// stored with the rows in the output ([`META_SPOOL_COMMIT`]).
    ///
    /// # Errors
    /// [`SpoolError::Full`] past `max_bytes`; a failed write or fsync (the commit is undone,
    /// so it can be retried with the same rows).
    pub fn commit(&mut self, batch: &RecordBatch, positions: &str) -> Result<u64, SpoolError> {
        if self.is_full() {
            return Err(SpoolError::Full {
                dir: self.cfg.dir.clone(),
                bytes: self.stats.bytes,
                max: self.cfg.max_bytes,
            });
        }
        let t0 = Instant::now();
        let seq = self.next_seq;
        if self
            .current
            .as_ref()
            .is_some_and(|c| c.info.bytes >= self.cfg.segment_bytes)
        {
            self.close_current();
        }
        if self.current.is_none() {
            self.open_segment(seq)?;
        }
        let Some(cur) = self.current.as_mut() else {
            return Err(SpoolError::io(
                "open a segment",
                &self.cfg.dir,
                std::io::Error::other("no segment"),
            ));
        };
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(&cur.info.path)
            .map_err(|e| SpoolError::io("open", &cur.info.path, e))?;
        let path = &cur.info.path;
        let mut out = std::io::BufWriter::with_capacity(256 << 10, &file);
        let r = segment::write_commit(&mut out, batch, seq, now_ns(), positions)
            .map_err(|e| match e {
                arrow_schema::ArrowError::IoError(_, io) => SpoolError::io("append to", path, io),
                e => SpoolError::Encode(e),
            })
            .and_then(|()| {
                out.flush()
                    .map_err(|e| SpoolError::io("append to", path, e))
            })
            .and_then(|()| {
                file.sync_data()
                    .map_err(|e| SpoolError::io("fsync", path, e))
            })
            .and_then(|()| {
                file.metadata()
                    .map(|m| m.len())
                    .map_err(|e| SpoolError::io("stat", path, e))
            });
        drop(out);
        self.stats.fsyncs_total += 1;
        let len = match r {
            Ok(len) => len,
            Err(e) => {
                // Undo the partial append, so the next commit follows a complete one. If even
                // that fails, leave the segment: its torn tail is cut at the next start, and
                // the next commit starts a new segment.
                if file.set_len(cur.info.bytes).is_err() {
                    self.close_current();
                }
                return Err(e);
            }
        };
        cur.info.bytes = len;
        cur.info.last = seq;
        self.next_seq += 1;
        if self.cfg.remember_positions {
            self.positions.push_back((seq, positions.to_string()));
        }
        let us = u64::try_from(t0.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.stats.commits_total += 1;
        self.stats.commit_micros_total += us;
        self.stats.commit_micros_max = self.stats.commit_micros_max.max(us);
        self.update_stats();
        Ok(seq)
    }

    fn open_segment(&mut self, first: u64) -> Result<(), SpoolError> {
        let path = self.cfg.dir.join(segment_name(first));
        std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&path)
            .map_err(|e| SpoolError::io("create", &path, e))?;
        sync_dir(&self.cfg.dir)?;
        self.stats.fsyncs_total += 1;
        self.current = Some(Current {
            info: SegmentInfo {
                path,
                last: first.saturating_sub(1),
                bytes: 0,
            },
        });
        Ok(())
    }

    fn close_current(&mut self) {
        if let Some(c) = self.current.take() {
            if c.info.bytes == 0 {
                let _ = std::fs::remove_file(&c.info.path);
            } else {
                self.segments.push_back(c.info);
            }
        }
    }

    /// Records that every commit up to `seq` is in durably written output, and deletes the
    /// segments that holds only such commits. The positions of `seq` are kept, so a restart
    /// after every output file was deleted does not read those rows again.
    ///
    /// # Errors
    /// When the state file cannot be written (the segments are then kept).
    pub fn covered(&mut self, seq: u64) -> Result<(), SpoolError> {
        self.covered_at(seq, None)
    }

    /// As [`covered`](Self::covered), recording `positions` (those of commit `seq`, as the
    /// output file holding it stores them) when given, else the remembered ones.
    ///
    /// # Errors
    /// When the state file cannot be written (the segments are then kept).
    pub fn covered_at(&mut self, seq: u64, positions: Option<&str>) -> Result<(), SpoolError> {
        if seq <= self.covered {
            return Ok(());
        }
        let mut remembered = None;
        while self.positions.front().is_some_and(|(s, _)| *s <= seq) {
            remembered = self.positions.pop_front().map(|(_, p)| p);
        }
        let positions = positions.map(str::to_string).or(remembered);
        let state = State {
            covered: seq,
            positions,
        };
        if state.positions.is_some() {
            self.write_state(&state)?;
        }
        self.covered = seq;
        if self.current.as_ref().is_some_and(|c| c.info.last <= seq) {
            self.close_current();
        }
        while self.segments.front().is_some_and(|s| s.last <= seq) {
            if let Some(s) = self.segments.pop_front()
                && let Err(e) = std::fs::remove_file(&s.path)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(path = %s.path.display(), error = %e, "Cannot delete a spool segment already written out; it is deleted at the next start");
            }
        }
        self.update_stats();
        Ok(())
    }

    fn write_state(&mut self, state: &State) -> Result<(), SpoolError> {
        let tmp = self.cfg.dir.join(".state.json.tmp");
        let path = self.cfg.dir.join(STATE);
        let json = serde_json::to_vec(state).unwrap_or_default();
        let write = || -> std::io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(&json)?;
            f.sync_data()?;
            std::fs::rename(&tmp, &path)
        };
        write().map_err(|e| SpoolError::io("write", &path, e))?;
        sync_dir(&self.cfg.dir)?;
        self.stats.fsyncs_total += 2;
        Ok(())
    }

    /// How long ago the oldest uncovered commit was made, for a writer's file age.
    pub fn oldest_uncovered_age(commits: &[Commit]) -> Option<Duration> {
        let oldest = commits.iter().map(|c| c.committed_at_ns).min()?;
        let age = now_ns().saturating_sub(oldest).max(0);
        Some(Duration::from_nanos(u64::try_from(age).unwrap_or(0)))
    }
}

fn add_dropped(rec: &mut Recovery, path: &Path, bytes: u64, reason: &str) {
    match &mut rec.torn {
        Some(t) => t.dropped_bytes += bytes,
        None => {
            rec.torn = Some(Torn {
                path: path.to_path_buf(),
                kept_bytes: 0,
                dropped_bytes: bytes,
                reason: reason.to_string(),
            });
        }
    }
}

fn truncate(path: &Path, len: u64) -> Result<(), SpoolError> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|f| {
            f.set_len(len)?;
            f.sync_all()
        })
        .map_err(|e| SpoolError::io("cut the torn tail of", path, e))
}
