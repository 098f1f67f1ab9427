//! Follows files: discovery by one walker (woken by file-system events, with polling that
//! always works), identity across renames, rotation, truncation, bounded descriptors, and
//! delivery with checkpointed positions.
//!
//! The work is split by seam: `discovery.rs` (walking the globs, starting files, watching
//! folders), `copies.rs` (where a new file starts: its checkpoint, or where its original was
//! read to if it is a copy), `reading.rs` (the read loop, truncation, release) and
//! `fd_limit.rs` (at most `max_open_files` descriptors, none starved).

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use super::checkpoint::{Checkpoint, Prev, Recovered};
use super::identity::{FileKey, Fingerprint};
use super::lines::LinePos;
use super::reader::{FileReader, ReaderConfig};
use super::walk::{FollowSymlinks, Found, GlobWalk, WalkLimits};
use super::watch::DirWatcher;
use crate::pipeline::Sender;
use crate::shutdown::{Shutdown, Stage};
use crate::telemetry::Counters;

mod copies;
mod discovery;
mod episodes;
mod fd_limit;
mod reading;

#[cfg(test)]
mod tests;

/// Settings of the tailer.
#[derive(Debug, Clone)]
pub struct TailConfig {
    /// Files to follow.
    pub include: Vec<glob::Pattern>,
    /// Files to leave out.
    pub exclude: Vec<glob::Pattern>,
    /// How to read each file.
    pub reader: ReaderConfig,
    /// How often open files are checked for growth when file-system events are not
    /// available. Default 250 ms. With events, a safety check runs every second.
    pub poll_interval: Duration,
    /// How often the globs are expanded again. Default 1 s.
    pub glob_interval: Duration,
    /// A last line without a newline is emitted after the file has been quiet this long
    /// (`--partial-line-timeout`). Default 5 s.
    pub idle_flush: Duration,
    /// A file renamed out of the inputs or deleted is read until it has been quiet this long,
    /// then let go. Default 5 s.
    pub rotate_wait: Duration,
    /// At most this many files are held open; quiet ones are closed and reopened when they
    /// grow. Default 512.
    pub max_open_files: usize,
    /// Bytes read from one file before moving to the next, so none is starved. Default 1 MiB.
    pub read_budget: u64,
    /// Bytes of a file's start in its fingerprint. Default 1 KiB.
    pub fingerprint_bytes: u64,
    /// Files found at start with no checkpoint are read from their end, not their start.
    pub start_at_end: bool,
    /// Use file-system events (inotify) to wake up early. Default true.
    pub use_events: bool,
    /// Which symlinks discovery follows. Default: those pointing inside the glob's base
    /// folder.
    pub follow_symlinks: FollowSymlinks,
    /// Bounds of one walk of a glob (depth, entries).
    pub walk_limits: WalkLimits,
}

impl TailConfig {
    /// Defaults for `include`.
    pub fn new(include: Vec<glob::Pattern>, reader: ReaderConfig) -> Self {
        Self {
            include,
            exclude: Vec::new(),
            reader,
            poll_interval: Duration::from_millis(250),
            glob_interval: Duration::from_secs(1),
            idle_flush: Duration::from_secs(5),
            rotate_wait: Duration::from_secs(5),
            max_open_files: 512,
            read_budget: 1 << 20,
            fingerprint_bytes: 1024,
            start_at_end: false,
            use_events: true,
            follow_symlinks: FollowSymlinks::Inside,
            walk_limits: WalkLimits::default(),
        }
    }
}

/// The name a file was first followed under, and what it held before its last truncation.
type OriginHint = (PathBuf, Option<Prev>);

/// New files started per turn of the loop, so reading starts before thousands of files are
/// all opened.
const START_BATCH: usize = 256;

#[derive(Debug)]
struct Tracked {
    key: FileKey,
    /// Where it was last seen by discovery.
    path: PathBuf,
    /// The path it is opened by (its resolved target when `path` is a link).
    open_path: PathBuf,
    /// The resolved base folder it must stay inside (`None`: any).
    within: Option<Arc<Path>>,
    /// The name it was first followed under (kept across restarts in its checkpoint): a
    /// rotated copy is recognised by its relation to this name.
    origin: PathBuf,
    /// Identity and position before the last in-place truncation (copytruncate).
    prev: Option<Prev>,
    /// Boxed: most followed files are idle and closed, and an open reader is large.
    reader: Option<Box<FileReader>>,
    fp: Fingerprint,
    /// Position to reopen at when the reader was closed to free a descriptor.
    closed_at: LinePos,
    size: u64,
    last_growth: Instant,
    /// No longer matched by the inputs, or deleted, since then.
    gone_since: Option<Instant>,
    /// Seen by the current discovery pass.
    seen: bool,
}

/// Follows the files matched by the inputs.
#[derive(Debug)]
pub struct Tailer {
    cfg: TailConfig,
    walks: Vec<GlobWalk>,
    tx: Sender,
    counters: Arc<Counters>,
    files: BTreeMap<FileKey, Tracked>,
    /// Files followed, by the file names they are known under (origin and current): a new
    /// file's possible originals are found without looking at every file.
    names: copies::NameIndex,
    /// Readers open now.
    open: usize,
    /// Checkpoints recovered at start, not yet claimed by a file.
    recovered: BTreeMap<String, Checkpoint>,
    /// Recovered checkpoints whose inode now holds other content (copytruncate while the
    /// agent was down): a copy with their fingerprint resumes from them.
    orphans: Vec<Checkpoint>,
    /// Files that look like a copy still being written, and since when.
    deferred: HashMap<FileKey, Instant>,
    /// Found by the last walk, not started yet.
    queue: VecDeque<Found>,
    /// New files started per turn; all at once outside `run`.
    start_batch: usize,
    /// Files started since the last summary line.
    started_since_summary: (usize, usize),
    /// Shutting down or ending `--once`: nothing more is deferred.
    finishing: bool,
    first_discovery: bool,
    buf: Vec<u8>,
    last_glob: Option<Instant>,
    warned_missing: HashMap<String, bool>,
    /// Paths already reported as skipped (each is said once).
    warned_skips: HashSet<PathBuf>,
    warned_limits: HashSet<String>,
    watcher: Option<DirWatcher>,
    /// Files that cannot be opened or read now.
    errors: episodes::ErrorEpisodes,
    shutdown: Option<Shutdown>,
    /// When closed files were last looked at for growth.
    last_closed_look: Option<Instant>,
    /// After a graceful stop was asked for: the last walk ends by then.
    last_walk_deadline: Option<Instant>,
}

impl Tailer {
    /// A tailer sending to `tx`, resuming from `recovered`.
    pub fn new(
        cfg: TailConfig,
        recovered: &Recovered,
        tx: Sender,
        counters: Arc<Counters>,
    ) -> Self {
        Self {
            walks: cfg.include.iter().map(GlobWalk::new).collect(),
            cfg,
            tx,
            counters,
            files: BTreeMap::new(),
            names: copies::NameIndex::default(),
            open: 0,
            recovered: recovered.checkpoints.clone(),
            orphans: Vec::new(),
            deferred: HashMap::new(),
            queue: VecDeque::new(),
            start_batch: usize::MAX,
            started_since_summary: (0, 0),
            finishing: false,
            first_discovery: true,
            buf: vec![0u8; 256 << 10],
            last_glob: None,
            warned_missing: HashMap::new(),
            warned_skips: HashSet::new(),
            warned_limits: HashSet::new(),
            watcher: None,
            errors: episodes::ErrorEpisodes::default(),
            shutdown: None,
            last_closed_look: None,
            last_walk_deadline: None,
        }
    }

    /// Files followed now.
    pub fn watched(&self) -> usize {
        self.files.len()
    }

    /// Input files that could not be opened or read at the last attempt.
    pub fn unreadable(&self) -> Vec<PathBuf> {
        self.errors.failing()
    }

    /// Follows the files until shutdown. A graceful stop reads what is there and finishes
    /// partial lines; an immediate one stops at once.
    pub fn run(mut self, shutdown: &Shutdown) {
        self.shutdown = Some(shutdown.clone());
        self.start_batch = START_BATCH;
        let (wake_tx, wake_rx) = channel::<()>();
        if self.cfg.use_events {
            match DirWatcher::new(wake_tx) {
                Ok(w) => self.watcher = Some(w),
                Err(e) => {
                    tracing::warn!(error = %e, "File-system events unavailable; polling instead");
                }
            }
        }
        let events = self.watcher.is_some();
        let idle_wait = if events {
            Duration::from_secs(1).max(self.cfg.poll_interval)
        } else {
            self.cfg.poll_interval
        };
        tracing::info!(
            wake_on = if events {
                "inotify events, and a check every second"
            } else {
                "polling only"
            },
            glob_every_ms = self.cfg.glob_interval.as_millis() as u64,
            follow_symlinks = %self.cfg.follow_symlinks,
            "Following input files"
        );
        let mut woken = true;
        loop {
            match shutdown.stage() {
                Stage::Immediate => return,
                Stage::Graceful => {
                    // One last look for new files, bounded: the stop must not wait on a walk.
                    self.last_walk_deadline = Some(Instant::now() + Duration::from_secs(1));
                    self.discover(Instant::now());
                    self.finish();
                    return;
                }
                Stage::Running => {}
            }
            let now = Instant::now();
            if !self.queue.is_empty() {
                self.start_queued(now);
            } else if woken
                || self
                    .last_glob
                    .is_none_or(|t| now.duration_since(t) >= self.cfg.glob_interval)
            {
                self.discover(now);
            }
            let Some(n) = self.read_pass(now) else { return };
            woken = false;
            if n == 0 && self.queue.is_empty() {
                woken = wait(&wake_rx, idle_wait, shutdown);
            }
        }
    }

    /// Whether a walk should end now: a stop was asked for (a graceful one leaves its last
    /// walk a second).
    fn stop_requested(&self) -> bool {
        match self.shutdown.as_ref().map(Shutdown::stage) {
            None | Some(Stage::Running) => false,
            Some(Stage::Immediate) => true,
            Some(Stage::Graceful) => self.last_walk_deadline.is_none_or(|d| Instant::now() >= d),
        }
    }
}

fn wait(rx: &Receiver<()>, d: Duration, shutdown: &Shutdown) -> bool {
    let end = Instant::now() + d;
    loop {
        if shutdown.is_requested() {
            return false;
        }
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        match rx.recv_timeout(left.min(Duration::from_millis(100))) {
            Ok(()) => {
                while rx.try_recv().is_ok() {}
                return true;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                std::thread::sleep(left.min(Duration::from_millis(100)));
            }
        }
    }
}
