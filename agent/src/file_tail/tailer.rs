//! Follows files: discovery by glob (woken by file-system events, with polling that always
//! works), identity across renames, rotation, truncation, bounded descriptors, and delivery
//! with checkpointed positions.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use super::checkpoint::{Checkpoint, Prev, Recovered};
use super::identity::{FileKey, Fingerprint};
use super::lines::LinePos;
use super::reader::{FileReader, ReadOutcome, ReaderConfig};
use crate::pipeline::Sender;
use crate::shutdown::{Shutdown, Stage};
use crate::telemetry::Counters;

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
    /// A last line without a newline is emitted after the file has been quiet this long.
    /// Default 1 s.
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
            idle_flush: Duration::from_secs(1),
            rotate_wait: Duration::from_secs(5),
            max_open_files: 512,
            read_budget: 1 << 20,
            fingerprint_bytes: 1024,
            start_at_end: false,
            use_events: true,
        }
    }
}

/// The name a file was first followed under, and what it held before its last truncation.
type OriginHint = (PathBuf, Option<Prev>);

/// Compressed rotations are not read (their bytes are not log lines).
const COMPRESSED: [&str; 6] = [".gz", ".zst", ".bz2", ".xz", ".zip", ".lz4"];

#[derive(Debug)]
struct Tracked {
    key: FileKey,
    /// Where it was last seen by discovery.
    path: PathBuf,
    /// The name it was first followed under (kept across restarts in its checkpoint): a
    /// rotated copy is recognised by its relation to this name.
    origin: PathBuf,
    /// Identity and position before the last in-place truncation (copytruncate).
    prev: Option<Prev>,
    reader: Option<FileReader>,
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
    tx: Sender,
    counters: Arc<Counters>,
    files: BTreeMap<FileKey, Tracked>,
    /// Checkpoints recovered at start, not yet claimed by a file.
    recovered: BTreeMap<String, Checkpoint>,
    /// Recovered checkpoints whose inode now holds other content (copytruncate while the
    /// agent was down): a copy with their fingerprint resumes from them.
    orphans: Vec<Checkpoint>,
    /// Files that look like a copy still being written, and since when.
    deferred: HashMap<FileKey, Instant>,
    /// Shutting down or ending `--once`: nothing more is deferred.
    finishing: bool,
    first_discovery: bool,
    buf: Vec<u8>,
    last_glob: Option<Instant>,
    warned_missing: HashMap<String, bool>,
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
            cfg,
            tx,
            counters,
            files: BTreeMap::new(),
            recovered: recovered.checkpoints.clone(),
            orphans: Vec::new(),
            deferred: HashMap::new(),
            finishing: false,
            first_discovery: true,
            buf: vec![0u8; 256 << 10],
            last_glob: None,
            warned_missing: HashMap::new(),
        }
    }

    /// Files followed now.
    pub fn watched(&self) -> usize {
        self.files.len()
    }

    fn matches(&self, p: &Path) -> bool {
        let s = p.to_string_lossy();
        if COMPRESSED.iter().any(|c| s.ends_with(c)) {
            return false;
        }
        !self.cfg.exclude.iter().any(|x| x.matches_path(p))
    }

    /// Expands the globs and starts following new files.
    pub fn discover(&mut self, now: Instant) {
        self.last_glob = Some(now);
        for t in self.files.values_mut() {
            t.seen = false;
        }
        let mut found: Vec<(PathBuf, std::fs::Metadata)> = Vec::new();
        for pattern in &self.cfg.include {
            let Ok(paths) = glob::glob(pattern.as_str()) else {
                continue;
            };
            let mut any = false;
            for p in paths.flatten() {
                // stat follows symlinks: a link and its target are one file.
                let Ok(meta) = std::fs::metadata(&p) else {
                    continue;
                };
                if !meta.is_file() || !self.matches(&p) {
                    continue;
                }
                any = true;
                found.push((p, meta));
            }
            let warned = self
                .warned_missing
                .entry(pattern.as_str().to_string())
                .or_default();
            if !any && !*warned && self.first_discovery {
                tracing::info!(glob = %pattern, "No file matches input glob yet; watching for it");
                *warned = true;
            } else if any {
                *warned = false;
            }
        }
        for (path, meta) in found {
            let key = FileKey::of(&meta);
            if let Some(t) = self.files.get_mut(&key) {
                t.seen = true;
                if t.path != path {
                    if t.gone_since.is_none() {
                        tracing::debug!(from = %t.path.display(), to = %path.display(), "File renamed");
                    }
                    t.path = path;
                }
                continue;
            }
            self.start(path, &meta, now);
        }
        let mut gone = 0;
        for t in self.files.values_mut() {
            if !t.seen && t.gone_since.is_none() {
                t.gone_since = Some(now);
                gone += 1;
                tracing::debug!(path = %t.path.display(), "File left the inputs (rotated or deleted); reading it to its end");
            }
            if t.seen && t.gone_since.is_some() {
                // Back under an input name (a rotation chain matched by the globs).
                t.gone_since = None;
            }
        }
        Counters::add(&self.counters.files_rotated_total, gone);
        if self.first_discovery {
            self.first_discovery = false;
            self.adopt_moved_checkpoints(now);
        }
        self.counters.files_watched.store(
            self.files.len() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// At start, files with a checkpoint that no input matches any more were renamed while
    /// the agent was down (rotation): find them beside their old path and read them to
    /// their end before letting them go.
    fn adopt_moved_checkpoints(&mut self, now: Instant) {
        let pending: Vec<(String, Checkpoint)> =
            std::mem::take(&mut self.recovered).into_iter().collect();
        for (key_s, cp) in pending {
            let Some(dir) = cp.path.parent() else {
                continue;
            };
            let Ok(rd) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut adopted = false;
            for e in rd.flatten() {
                let p = e.path();
                let Ok(meta) = std::fs::metadata(&p) else {
                    continue;
                };
                if !meta.is_file() || FileKey::of(&meta).to_key() != key_s {
                    continue;
                }
                let key = FileKey::of(&meta);
                if self.files.contains_key(&key) {
                    break;
                }
                let Ok(file) = File::open(&p) else { break };
                let Ok(fp) = Fingerprint::of_len(&file, cp.fp_len) else {
                    break;
                };
                if cp.matches(&fp) && cp.offset <= meta.len() {
                    tracing::info!(path = %p.display(), was = %cp.path.display(), "Reading the rest of a file rotated while the agent was down");
                    self.recovered.insert(key_s.clone(), cp.clone());
                    self.start(p, &meta, now);
                    if let Some(t) = self.files.get_mut(&key) {
                        t.gone_since = Some(now);
                    }
                    adopted = true;
                }
                break;
            }
            if !adopted {
                // Gone for good: stop carrying its position.
                let mut chunk = crate::pipeline::ChunkBuilder::default().take(0, None);
                chunk.position = Some((key_s, serde_json::Value::Null));
                let _ = self.tx.send(crate::pipeline::Msg::Logs(chunk));
            }
        }
    }

    /// Where to start reading a newly seen file, with its origin name and pre-truncation
    /// state when its own checkpoint gives them; `None` to look again later (a copy still
    /// being written).
    fn start_pos(
        &mut self,
        path: &Path,
        file: &File,
        size: u64,
        key: FileKey,
        may_defer: bool,
    ) -> Option<(LinePos, Option<OriginHint>)> {
        // A checkpoint at offset 0 says nothing (it matches any content of a reused inode):
        // let the copy detection decide.
        if let Some(cp) = self
            .recovered
            .remove(&key.to_key())
            .filter(|cp| cp.offset > 0)
        {
            match Fingerprint::of_len(file, cp.fp_len) {
                Ok(now_fp) if cp.matches(&now_fp) && cp.offset <= size => {
                    return Some((cp.pos(), Some((cp.path.clone(), cp.prev.clone()))));
                }
                Ok(now_fp) if cp.matches(&now_fp) => {
                    Counters::add(&self.counters.files_truncated_total, 1);
                    tracing::info!(path = %path.display(), "File is shorter than its checkpoint (truncated while the agent was down); reading from its start");
                    return Some((LinePos::default(), None));
                }
                _ => {
                    tracing::debug!(path = %path.display(), "Checkpoint is for earlier content of this inode; reading from the start");
                    self.orphans.push(cp);
                }
            }
        }
        self.start_pos_of_new(path, file, size, may_defer)
            .map(|p| (p, None))
    }

    /// Where to start a file that has no checkpoint of its own: where its original was read
    /// to if it is a copy, else its start (or end, with `--start-at end`).
    fn start_pos_of_new(
        &self,
        path: &Path,
        file: &File,
        size: u64,
        may_defer: bool,
    ) -> Option<LinePos> {
        // A copy made by copytruncate: same first bytes as a file being read under a name
        // it extends (app.log -> app.log.1). Start where the original was read to.
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // A copy is written from its start, so it may be seen shorter than where the original
        // was read to, or even shorter than the fingerprint: wait for it (`may_defer`, a
        // few seconds) rather than read from 0 what was read already. A copy that stays
        // shorter holds nothing new: start at its end.
        let at = |pos: LinePos| {
            if pos.offset <= size {
                Some(pos)
            } else if may_defer {
                None
            } else {
                Some(LinePos {
                    offset: size,
                    skipping: false,
                })
            }
        };
        for t in self.files.values() {
            let related = is_rotated_name(&name, &t.origin) || is_rotated_name(&name, &t.path);
            if !related || t.fp.len == 0 {
                continue;
            }
            if t.fp.len > size {
                // Too short to compare fingerprints: compare its bytes with the original's
                // first bytes, and wait only for a copy that starts the same.
                if may_defer
                    && t.reader
                        .as_ref()
                        .is_some_and(|r| same_start(file, r.file(), size))
                {
                    return None;
                }
                continue;
            }
            let pos = t.reader.as_ref().map_or(t.closed_at, FileReader::committed);
            if Fingerprint::of_len(file, t.fp.len).is_ok_and(|f| f == t.fp) {
                let start = at(pos);
                if let Some(p) = start {
                    tracing::info!(copy = %path.display(), of = %t.path.display(), offset = p.offset, "Copy of a file being read (copytruncate); reading it from where the original was read to");
                }
                return start;
            }
        }
        // The same, for a copy made while the agent was down: the original's checkpoint is
        // an orphan (its inode now holds new content) or not claimed (it was deleted since).
        // The original may already have been seen truncated: its state before that counts.
        let prevs: Vec<Checkpoint> = self
            .files
            .values()
            .filter_map(|t| t.prev.as_ref().map(|p| p.as_checkpoint(&t.origin)))
            .chain(
                self.orphans
                    .iter()
                    .chain(self.recovered.values())
                    .filter_map(|cp| cp.prev.as_ref().map(|p| p.as_checkpoint(&cp.path))),
            )
            .collect();
        let is_copy_of = |cp: &Checkpoint| {
            cp.fp_len > 0
                && cp.fp_len <= size
                && is_rotated_name(&name, &cp.path)
                && Fingerprint::of_len(file, cp.fp_len).is_ok_and(|f| cp.matches(&f))
        };
        if let Some(cp) = self
            .orphans
            .iter()
            .chain(self.recovered.values())
            .chain(prevs.iter())
            .find(|cp| is_copy_of(cp))
        {
            let start = at(cp.pos());
            if let Some(p) = start {
                tracing::info!(copy = %path.display(), of = %cp.path.display(), offset = p.offset, "Copy of a file rotated while the agent was down; reading it from the original's checkpoint");
            }
            return start;
        }
        if self.first_discovery && self.cfg.start_at_end {
            return Some(LinePos {
                offset: size,
                skipping: false,
            });
        }
        Some(LinePos::default())
    }

    fn start(&mut self, path: PathBuf, meta: &std::fs::Metadata, now: Instant) {
        let key = FileKey::of(meta);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) => {
                Counters::add(&self.counters.read_errors_total, 1);
                tracing::warn!(path = %path.display(), error = %e, "Cannot open input file; will retry");
                return;
            }
        };
        // The file may have been replaced between stat and open.
        let Ok(fmeta) = file.metadata() else { return };
        if FileKey::of(&fmeta) != key {
            return;
        }
        let size = fmeta.len();
        let fp = Fingerprint::of(&file, size, self.cfg.fingerprint_bytes).unwrap_or_default();
        let may_defer = !self.finishing
            && self.deferred.get(&key).is_none_or(|since| {
                now.duration_since(*since) < self.cfg.rotate_wait.max(Duration::from_secs(2))
            });
        let Some((pos, hint)) = self.start_pos(&path, &file, size, key, may_defer) else {
            if let std::collections::hash_map::Entry::Vacant(e) = self.deferred.entry(key) {
                tracing::debug!(path = %path.display(), size, "A copy still being written; waiting for it");
                e.insert(now);
            }
            return;
        };
        self.deferred.remove(&key);
        let (origin, prev) = hint.unwrap_or_else(|| (path.clone(), None));
        let identity = Checkpoint::identity(&origin, &fp, prev.as_ref());
        let open_count = self.files.values().filter(|t| t.reader.is_some()).count();
        let reader = if open_count < self.cfg.max_open_files {
            match FileReader::from_file(
                file,
                &path,
                key.to_key(),
                identity.clone(),
                pos,
                &self.cfg.reader,
            ) {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "Cannot read input file");
                    return;
                }
            }
        } else {
            None
        };
        // Checkpoint the starting position now, ahead of anything that reading other files
        // may send: a truncated original's reset must not become durable before its copy's
        // position.
        if self
            .tx
            .send(crate::pipeline::Msg::Logs(super::reader::position_chunk(
                key.to_key(),
                identity,
                pos,
            )))
            .is_err()
        {
            return;
        }
        Counters::add(&self.counters.files_opened_total, 1);
        tracing::info!(path = %path.display(), offset = pos.offset, "Following file");
        self.files.insert(
            key,
            Tracked {
                key,
                path,
                origin,
                prev,
                reader,
                fp,
                closed_at: pos,
                size,
                last_growth: now,
                gone_since: None,
                seen: true,
            },
        );
    }

    /// One pass over every file: check for truncation, read what is new, flush idle
    /// partial lines, let go of rotated files that are done. Returns the bytes read, or
    /// `None` when the sink is gone.
    pub fn read_pass(&mut self, now: Instant) -> Option<u64> {
        let mut total = 0;
        self.make_room();
        let mut open_count = self.files.values().filter(|t| t.reader.is_some()).count();
        let keys: Vec<FileKey> = self.files.keys().copied().collect();
        let mut release = Vec::new();
        for key in keys {
            let Some(t) = self.files.get_mut(&key) else {
                continue;
            };
            if t.reader.is_none() {
                if !reopen(t, &self.cfg, open_count) {
                    continue;
                }
                open_count += 1;
            }
            let Some(reader) = t.reader.as_mut() else {
                continue;
            };
            let meta = match reader.file().metadata() {
                Ok(m) => m,
                Err(_) => continue,
            };
            let size = meta.len();
            if size < reader.read_offset()
                || (size != t.size && fingerprint_changed(&t.fp, reader.file()))
            {
                Counters::add(&self.counters.files_truncated_total, 1);
                tracing::info!(path = %t.path.display(), size, "File truncated (copytruncate?); reading it again from its start");
                let Ok((alive, before)) =
                    reader.restart_from_zero(&self.tx, &self.counters, &self.cfg.reader)
                else {
                    continue;
                };
                if !alive {
                    return None;
                }
                if before.offset > 0 {
                    t.prev = Some(Prev::new(&t.fp, before));
                }
                t.fp = Fingerprint::of(reader.file(), size, self.cfg.fingerprint_bytes)
                    .unwrap_or_default();
                reader.set_identity(Checkpoint::identity(&t.origin, &t.fp, t.prev.as_ref()));
            } else if t.fp.len < self.cfg.fingerprint_bytes && size > t.fp.len {
                // Grow the fingerprint with the file, up to its full length.
                if let Ok(fp) = Fingerprint::of(reader.file(), size, self.cfg.fingerprint_bytes) {
                    t.fp = fp;
                    reader.set_identity(Checkpoint::identity(&t.origin, &t.fp, t.prev.as_ref()));
                }
            }
            if meta.nlink() == 0 && t.gone_since.is_none() {
                t.gone_since = Some(now);
            }
            t.size = size;
            let n = match reader.read_available(
                &mut self.buf,
                self.cfg.read_budget,
                &self.tx,
                &self.counters,
            ) {
                Ok(ReadOutcome::Read(n)) => n,
                Ok(ReadOutcome::Closed) => return None,
                Err(e) => {
                    Counters::add(&self.counters.read_errors_total, 1);
                    tracing::warn!(path = %t.path.display(), error = %e, "Read error; will retry");
                    0
                }
            };
            total += n;
            if n > 0 {
                t.last_growth = now;
            } else if reader.has_partial()
                && now.duration_since(t.last_growth) >= self.cfg.idle_flush
                && !reader.flush_partial(&self.tx, &self.counters)
            {
                return None;
            }
            if let Some(since) = t.gone_since {
                let quiet = now.duration_since(since.max(t.last_growth));
                if n == 0 && quiet >= self.cfg.rotate_wait {
                    release.push(key);
                }
            }
        }
        for key in release {
            if let Some(mut t) = self.files.remove(&key) {
                Counters::add(&self.counters.files_released_total, 1);
                // A copy of it may still turn up (copytruncate, then delete): remember what
                // it held, for a while.
                let pos = t.reader.as_ref().map_or(t.closed_at, FileReader::committed);
                let remember = [
                    t.prev.as_ref().map(|p| p.as_checkpoint(&t.origin)),
                    (t.fp.len > 0).then(|| Prev::new(&t.fp, pos).as_checkpoint(&t.origin)),
                ];
                for cp in remember.into_iter().flatten() {
                    if self.orphans.len() >= 256 {
                        self.orphans.remove(0);
                    }
                    self.orphans.push(cp);
                }
                tracing::info!(path = %t.path.display(), "Done with file (rotated or deleted, read to its end)");
                if let Some(mut r) = t.reader.take()
                    && (!r.flush_partial(&self.tx, &self.counters) || !r.forget(&self.tx))
                {
                    return None;
                }
            }
        }
        Some(total)
    }

    /// Frees descriptors for files that wait closed with new data, by closing the readers
    /// that have been quiet longest (read to their end, no partial line): with more files
    /// than `max_open_files`, every file gets its turn and none is starved.
    fn make_room(&mut self) {
        let open = self.files.values().filter(|t| t.reader.is_some()).count();
        let free = self.cfg.max_open_files.saturating_sub(open);
        let waiting = self
            .files
            .values()
            .filter(|t| t.reader.is_none())
            .filter(|t| {
                std::fs::metadata(&t.path)
                    .is_ok_and(|m| FileKey::of(&m) == t.key && m.len() > t.closed_at.offset)
            })
            .count();
        if waiting <= free {
            return;
        }
        let mut quiet: Vec<(Instant, FileKey)> = self
            .files
            .values()
            .filter(|t| {
                t.gone_since.is_none()
                    && t.reader
                        .as_ref()
                        .is_some_and(|r| !r.has_partial() && r.read_offset() >= t.size)
            })
            .map(|t| (t.last_growth, t.key))
            .collect();
        quiet.sort();
        for (_, key) in quiet.into_iter().take(waiting - free) {
            if let Some(t) = self.files.get_mut(&key)
                && let Some(r) = t.reader.take()
            {
                t.closed_at = r.committed();
            }
        }
    }

    /// Reads every file to its current end and finishes partial lines: at shutdown or at
    /// the end of `--once`. Returns false when the sink is gone.
    pub fn finish(&mut self) -> bool {
        if !self.deferred.is_empty() {
            // Copies still being written when we stop: start them now rather than never.
            self.finishing = true;
            self.discover(Instant::now());
        }
        loop {
            match self.read_pass(Instant::now()) {
                None => return false,
                Some(0) => break,
                Some(_) => {}
            }
        }
        for t in self.files.values_mut() {
            if let Some(r) = t.reader.as_mut()
                && !r.flush_partial(&self.tx, &self.counters)
            {
                return false;
            }
        }
        true
    }

    /// Follows the files until shutdown. A graceful stop reads what is there and finishes
    /// partial lines; an immediate one stops at once.
    pub fn run(mut self, shutdown: &Shutdown) {
        let (wake_tx, wake_rx) = channel::<()>();
        let _watcher = if self.cfg.use_events {
            start_watcher(&self.cfg.include, wake_tx)
        } else {
            None
        };
        let events = _watcher.is_some();
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
            "Following input files"
        );
        let mut woken = true;
        loop {
            match shutdown.stage() {
                Stage::Immediate => return,
                Stage::Graceful => {
                    self.discover(Instant::now());
                    self.finish();
                    return;
                }
                Stage::Running => {}
            }
            let now = Instant::now();
            if woken
                || self
                    .last_glob
                    .is_none_or(|t| now.duration_since(t) >= self.cfg.glob_interval)
            {
                self.discover(now);
            }
            let Some(n) = self.read_pass(now) else { return };
            woken = false;
            if n == 0 {
                woken = wait(&wake_rx, idle_wait, shutdown);
            }
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

/// Whether `name` is what rotation makes of `orig`'s name: `app.log` -> `app.log.1`,
/// `app.log-20240101`, `app.log_old`.
fn is_rotated_name(name: &str, orig: &Path) -> bool {
    let orig = orig
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    name.len() > orig.len()
        && name.starts_with(orig.as_ref())
        && matches!(name.as_bytes()[orig.len()], b'.' | b'-' | b'_')
}

/// Whether the first `len` bytes of `a` and `b` are the same (`len` is at most a
/// fingerprint's length).
fn same_start(a: &File, b: &File, len: u64) -> bool {
    use std::os::unix::fs::FileExt;
    let len = usize::try_from(len).unwrap_or(0);
    let (mut x, mut y) = (vec![0u8; len], vec![0u8; len]);
    a.read_exact_at(&mut x, 0).is_ok() && b.read_exact_at(&mut y, 0).is_ok() && x == y
}

fn fingerprint_changed(fp: &Fingerprint, file: &File) -> bool {
    fp.len > 0 && !fp.matches(file).unwrap_or(true)
}

/// Reopens a reader closed to save descriptors, when its file has grown.
fn reopen(t: &mut Tracked, cfg: &TailConfig, open_count: usize) -> bool {
    if open_count >= cfg.max_open_files {
        return false;
    }
    let Ok(meta) = std::fs::metadata(&t.path) else {
        return false;
    };
    if FileKey::of(&meta) != t.key || meta.len() <= t.closed_at.offset {
        return false;
    }
    match FileReader::open(
        &t.path,
        t.key.to_key(),
        Checkpoint::identity(&t.origin, &t.fp, t.prev.as_ref()),
        t.closed_at,
        &cfg.reader,
    ) {
        Ok(r) => {
            t.reader = Some(r);
            true
        }
        Err(_) => false,
    }
}

/// The folder a glob starts in: its components before the first wildcard.
fn static_prefix(pattern: &str) -> PathBuf {
    let mut out = PathBuf::new();
    for comp in Path::new(pattern).components() {
        let s = comp.as_os_str().to_string_lossy();
        if s.contains(['*', '?', '[', '{']) {
            break;
        }
        out.push(comp);
    }
    if out.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        out
    }
}

fn start_watcher(
    include: &[glob::Pattern],
    wake: std::sync::mpsc::Sender<()>,
) -> Option<notify::RecommendedWatcher> {
    use notify::{RecursiveMode, Watcher};
    let mut watcher =
        match notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            // Opens, reads and closes are our own listing and reading: waking on them
            // would make the agent spin.
            if let Ok(ev) = res
                && matches!(ev.kind, notify::EventKind::Access(_))
            {
                return;
            }
            let _ = wake.send(());
        }) {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(error = %e, "File-system events unavailable; polling instead");
                return None;
            }
        };
    let mut watched = 0;
    for p in include {
        let mut dir = static_prefix(p.as_str());
        if dir.is_file() {
            dir.pop();
        }
        // Watch the nearest existing folder, so a folder created later is still seen.
        while !dir.exists() && dir.pop() {}
        if dir.as_os_str().is_empty() {
            dir = PathBuf::from(".");
        }
        match watcher.watch(&dir, RecursiveMode::Recursive) {
            Ok(()) => watched += 1,
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "Cannot watch folder for events (inotify limit?); polling it")
            }
        }
    }
    (watched > 0).then_some(watcher)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_prefixes() {
        assert_eq!(static_prefix("/logs/**/*.log"), PathBuf::from("/logs"));
        assert_eq!(
            static_prefix("/logs/app.log"),
            PathBuf::from("/logs/app.log")
        );
        assert_eq!(static_prefix("*.log"), PathBuf::from("."));
    }
}
