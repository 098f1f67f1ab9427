//! Discovery: walking the globs, starting new files, noticing files that left the inputs,
//! and keeping the watched folders in line with what the walk listed.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::super::checkpoint::Checkpoint;
use super::super::identity::{FileKey, Fingerprint};
use super::super::names::escaped;
use super::super::open::{OpenRefused, open_checked, open_no_follow, real_path};
use super::super::reader::{FileReader, position_chunk};
use super::super::walk::{Found, SkipReason};
use super::{Tailer, Tracked};
use crate::telemetry::Counters;

/// Compressed rotations are not read (their bytes are not log lines).
const COMPRESSED: [&str; 6] = [".gz", ".zst", ".bz2", ".xz", ".zip", ".lz4"];

/// Paths remembered as already reported skipped; past this the memory is cleared (and a
/// path may be reported again).
const MAX_WARNED: usize = 10_000;

/// Whether `--exclude` and the compressed-rotation rule leave `p` in.
pub(super) fn kept(exclude: &[glob::Pattern], p: &std::path::Path) -> bool {
    let s = p.to_string_lossy();
    if COMPRESSED.iter().any(|c| s.ends_with(c)) {
        return false;
    }
    !exclude.iter().any(|x| x.matches(&s))
}

/// The new name of an open file renamed within its folder (`None` if deleted, moved to
/// another folder, or unknown).
fn renamed_to(path: &std::path::Path, file: &std::fs::File) -> Option<PathBuf> {
    let real = real_path(file)?;
    let dir = path.parent()?;
    let real_dir = std::fs::canonicalize(if dir.as_os_str().is_empty() {
        std::path::Path::new(".")
    } else {
        dir
    })
    .ok()?;
    (real.parent()? == real_dir)
        .then(|| dir.join(real.file_name().unwrap_or_default()))
        .filter(|p| p != path)
}

impl Tailer {
    /// Walks the globs and starts following new files (all of them, or a batch when
    /// running: the rest are started on the next turns, so reading begins at once).
    pub fn discover(&mut self, now: Instant) {
        self.last_glob = Some(now);
        for t in self.files.values_mut() {
            t.seen = false;
        }
        let mut found: Vec<Found> = Vec::new();
        let mut watch: BTreeSet<PathBuf> = BTreeSet::new();
        let mut complete = true;
        for i in 0..self.walks.len() {
            let exclude = self.cfg.exclude.clone();
            let keep = move |p: &std::path::Path| kept(&exclude, p);
            let stop = || self.stop_requested();
            let res =
                self.walks[i].walk(self.cfg.follow_symlinks, self.cfg.walk_limits, &keep, &stop);
            let walk = &self.walks[i];
            if res.dirs.is_empty() {
                watch.insert(walk.deepest_existing());
            } else if walk.is_deep() {
                watch.extend(res.dirs.iter().cloned());
            } else {
                watch.insert(walk.base_dir().to_path_buf());
            }
            complete &= !res.incomplete;
            if let Some(limit) = res.limit_hit {
                let glob = walk.pattern().to_string();
                if self.warned_limits.insert(format!("{glob}\0{limit}")) {
                    tracing::warn!(glob = %glob, limit, max_depth = self.cfg.walk_limits.max_depth, max_entries = self.cfg.walk_limits.max_entries, "Input folder tree is larger than one walk looks at; files past the limit are not found");
                }
            }
            let glob = walk.pattern().to_string();
            self.report_skips(res.skipped);
            let any = !res.files.is_empty();
            let warned = self.warned_missing.entry(glob.clone()).or_default();
            if !any && !*warned && self.first_discovery {
                tracing::info!(glob = %glob, "No file matches input glob yet; watching for it");
                *warned = true;
            } else if any {
                *warned = false;
            }
            found.extend(res.files);
        }
        if let Some(w) = self.watcher.as_mut() {
            w.sync(&watch);
        }
        self.queue.clear();
        for f in found {
            if let Some(t) = self.files.get_mut(&f.key) {
                if t.seen {
                    // Also matched under another name (a link to it): keep the first.
                    continue;
                }
                t.seen = true;
                if t.path != f.path {
                    if t.gone_since.is_none() {
                        tracing::debug!(from = %escaped(&t.path), to = %escaped(&f.path), "File renamed");
                    }
                    self.names.rename(t.key, &t.origin, &t.path, &f.path);
                    t.path = f.path;
                    t.open_path = f.open_path;
                    t.within = f.within;
                    if let Some(r) = t.reader.as_mut() {
                        r.set_path(&t.path);
                    }
                }
                continue;
            }
            self.queue.push_back(f);
        }
        if complete {
            self.mark_gone(now);
        }
        let first = self.first_discovery;
        self.start_queued(now);
        if first {
            self.first_discovery = false;
            self.adopt_moved_checkpoints(now);
        }
    }

    /// Files followed but not found by a complete walk have left the inputs (rotated or
    /// deleted): read them to their end, then let them go.
    fn mark_gone(&mut self, now: Instant) {
        let mut gone = 0;
        for t in self.files.values_mut() {
            if !t.seen && t.gone_since.is_none() {
                t.gone_since = Some(now);
                gone += 1;
                // Renamed out of the inputs: rows read from now on say where they are read.
                if let Some(r) = t.reader.as_mut()
                    && let Some(to) = renamed_to(&t.path, r.file())
                {
                    tracing::debug!(from = %escaped(&t.path), to = %escaped(&to), "File renamed out of the inputs");
                    self.names.rename(t.key, &t.origin, &t.path, &to);
                    r.set_path(&to);
                    t.path = to;
                }
                tracing::debug!(path = %escaped(&t.path), "File left the inputs (rotated or deleted); reading it to its end");
            }
            if t.seen && t.gone_since.is_some() {
                // Back under an input name (a rotation chain matched by the globs).
                t.gone_since = None;
            }
        }
        Counters::add(&self.counters.files_rotated_total, gone);
    }

    /// Starts the next batch of files found by the last walk.
    pub(super) fn start_queued(&mut self, now: Instant) {
        let mut n = 0;
        while n < self.start_batch {
            let Some(f) = self.queue.pop_front() else {
                break;
            };
            if self.files.contains_key(&f.key) {
                continue;
            }
            self.start(f, now);
            n += 1;
        }
        let (started, resumed) = self.started_since_summary;
        if self.queue.is_empty() && started > 0 {
            self.started_since_summary = (0, 0);
            if started > 1 {
                tracing::info!(
                    files = started,
                    resumed,
                    followed = self.files.len(),
                    "Following new files"
                );
            }
        }
        self.counters.files_watched.store(
            self.files.len() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// Says once per path why a matched name is not read.
    fn report_skips(&mut self, skipped: Vec<(PathBuf, SkipReason)>) {
        for (path, reason) in skipped {
            if self.warned_skips.len() >= MAX_WARNED {
                self.warned_skips.clear();
            }
            if !self.warned_skips.insert(path.clone()) {
                continue;
            }
            Counters::add(&self.counters.files_skipped_total, 1);
            match &reason {
                SkipReason::LinkOutside { target } => {
                    tracing::warn!(link = %escaped(&path), target = %escaped(target), "Not following a symlink that points outside the input's base folder (--follow-symlinks any to allow)");
                }
                SkipReason::LinkRefused => {
                    tracing::warn!(link = %escaped(&path), "Not following a symlink (--follow-symlinks none)");
                }
                SkipReason::NotRegular(_) => {
                    tracing::warn!(path = %escaped(&path), reason = %reason, "Skipping input that is not a regular file");
                }
            }
        }
    }

    /// At start, files with a checkpoint that no input matches any more were renamed while
    /// the agent was down (rotation): find them beside their old path and read them to
    /// their end before letting them go.
    fn adopt_moved_checkpoints(&mut self, now: Instant) {
        let pending: Vec<(String, Checkpoint)> =
            std::mem::take(&mut self.recovered).into_iter().collect();
        for (key_s, cp) in pending {
            if !self.adopt_moved(&key_s, &cp, now) {
                // Gone for good: stop carrying its position.
                let mut chunk = crate::pipeline::ChunkBuilder::default().take(0, None);
                chunk.position = Some((key_s, serde_json::Value::Null));
                let _ = self.tx.send(crate::pipeline::Msg::Logs(chunk));
            }
        }
    }

    /// Looks for the file of checkpoint `cp` beside its old path; starts it if found.
    fn adopt_moved(&mut self, key_s: &str, cp: &Checkpoint, now: Instant) -> bool {
        let Some(dir) = cp.path.parent() else {
            return false;
        };
        let Ok(rd) = std::fs::read_dir(dir) else {
            return false;
        };
        for e in rd.flatten() {
            let p = e.path();
            // A rotated file is a regular file: a link here is not followed.
            let Ok(meta) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if !meta.is_file() || FileKey::of(&meta).to_key() != key_s {
                continue;
            }
            let key = FileKey::of(&meta);
            if self.files.contains_key(&key) {
                return false;
            }
            let Ok(file) = open_no_follow(&p) else {
                return false;
            };
            let Ok(fp) = Fingerprint::of_len(&file, cp.fp_len) else {
                return false;
            };
            if !(cp.matches(&fp) && cp.offset <= meta.len()) {
                return false;
            }
            tracing::info!(path = %escaped(&p), was = %cp.path.display(), "Reading the rest of a file rotated while the agent was down");
            self.recovered.insert(key_s.to_string(), cp.clone());
            let found = Found {
                path: p.clone(),
                open_path: p,
                key,
                len: meta.len(),
                within: None,
            };
            self.start(found, now);
            if let Some(t) = self.files.get_mut(&key) {
                t.gone_since = Some(now);
                return true;
            }
            return false;
        }
        false
    }

    fn open_failed(&mut self, path: &std::path::Path, e: &OpenRefused) {
        if self.errors.failed(path, "Cannot open input file", e) {
            Counters::add(&self.counters.read_errors_total, 1);
        }
    }

    fn open_ok(&mut self, path: &std::path::Path) {
        self.errors.ok(path);
    }

    /// Opens a newly found file and starts following it.
    fn start(&mut self, found: Found, now: Instant) {
        let Found {
            path,
            open_path,
            key,
            within,
            ..
        } = found;
        let file = match open_checked(&open_path, key, within.as_deref()) {
            Ok(f) => f,
            Err(e) if e.is_gone() => return,
            Err(e @ OpenRefused::Replaced(_)) => {
                tracing::debug!(error = %e, "File changed between discovery and open");
                return;
            }
            Err(e) => {
                self.open_failed(&path, &e);
                return;
            }
        };
        self.open_ok(&path);
        let Ok(fmeta) = file.metadata() else { return };
        let size = fmeta.len();
        let fp = Fingerprint::of(&file, size, self.cfg.fingerprint_bytes).unwrap_or_default();
        let may_defer = !self.finishing
            && self.deferred.get(&key).is_none_or(|since| {
                now.duration_since(*since) < self.cfg.rotate_wait.max(Duration::from_secs(2))
            });
        let Some((pos, hint)) = self.start_pos(&path, &file, size, key, may_defer) else {
            if let std::collections::hash_map::Entry::Vacant(e) = self.deferred.entry(key) {
                tracing::debug!(path = %escaped(&path), size, "A copy still being written, or of a file not seen truncated yet; waiting for it");
                e.insert(now);
            }
            return;
        };
        self.deferred.remove(&key);
        let resumed = hint.is_some();
        let (origin, prev) = hint.unwrap_or_else(|| (path.clone(), None));
        let identity = Checkpoint::identity(&origin, &fp, prev.as_ref());
        let reader = if self.open < self.cfg.max_open_files {
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
                    tracing::warn!(path = %escaped(&path), error = %e, "Cannot read input file");
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
            .send(crate::pipeline::Msg::Logs(position_chunk(
                key.to_key(),
                identity,
                pos,
            )))
            .is_err()
        {
            return;
        }
        Counters::add(&self.counters.files_opened_total, 1);
        // Thousands of files at start make one summary line, not one line each.
        if self.queue.is_empty() && self.started_since_summary.0 == 0 {
            tracing::info!(path = %escaped(&path), offset = pos.offset, "Following file");
        } else {
            tracing::debug!(path = %escaped(&path), offset = pos.offset, "Following file");
        }
        self.started_since_summary.0 += 1;
        self.started_since_summary.1 += usize::from(resumed);
        if reader.is_some() {
            self.open += 1;
        }
        self.names.insert(key, &origin, &path);
        self.files.insert(
            key,
            Tracked {
                key,
                path,
                open_path,
                within,
                origin,
                prev,
                reader: reader.map(Box::new),
                fp,
                closed_at: pos,
                size,
                last_growth: now,
                gone_since: None,
                seen: true,
            },
        );
    }
}
