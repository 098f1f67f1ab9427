//! The read loop: one pass over every file checks for truncation, reads what is new,
//! flushes idle partial lines and lets go of rotated files that are done.

use std::os::unix::fs::MetadataExt;
use std::time::Instant;

use super::super::checkpoint::{Checkpoint, Prev};
use super::super::identity::{FileKey, Fingerprint};
use super::super::names::escaped;
use super::super::reader::ReadOutcome;
use super::Tailer;
use super::fd_limit::reopen;
use crate::telemetry::Counters;

fn fingerprint_changed(fp: &Fingerprint, file: &std::fs::File) -> bool {
    fp.len > 0 && !fp.matches(file).unwrap_or(true)
}

impl Tailer {
    /// One pass over every file: check for truncation, read what is new, flush idle
    /// partial lines, let go of rotated files that are done. Returns the bytes read, or
    /// `None` when the sink is gone.
    pub fn read_pass(&mut self, now: Instant) -> Option<u64> {
        let mut total = 0;
        // Closed files are looked at (a stat each) at most every glob interval.
        let look = self
            .last_closed_look
            .is_none_or(|t| now.duration_since(t) >= self.cfg.glob_interval);
        if look {
            self.last_closed_look = Some(now);
        }
        self.make_room(look);
        let keys: Vec<FileKey> = self.files.keys().copied().collect();
        let mut release = Vec::new();
        for key in keys {
            let (n, done) = self.read_one(key, now, look)?;
            total += n;
            if done {
                release.push(key);
            }
        }
        for key in release {
            if !self.release(key) {
                return None;
            }
        }
        Some(total)
    }

    /// Reads one file. Returns the bytes read and whether it is done (gone and quiet long
    /// enough), or `None` when the sink is gone.
    fn read_one(&mut self, key: FileKey, now: Instant, look: bool) -> Option<(u64, bool)> {
        let Some(t) = self.files.get_mut(&key) else {
            return Some((0, false));
        };
        if t.reader.is_none() {
            if !reopen(t, &self.cfg, self.open, look) {
                return Some((0, false));
            }
            self.open += 1;
        }
        let Some(reader) = t.reader.as_mut() else {
            return Some((0, false));
        };
        let Ok(meta) = reader.file().metadata() else {
            return Some((0, false));
        };
        let size = meta.len();
        if size < reader.read_offset()
            || (size != t.size && fingerprint_changed(&t.fp, reader.file()))
        {
            Counters::add(&self.counters.files_truncated_total, 1);
            tracing::info!(path = %escaped(&t.path), size, "File truncated (copytruncate?); reading it again from its start");
            let Ok((alive, before)) =
                reader.restart_from_zero(&self.tx, &self.counters, &self.cfg.reader)
            else {
                return Some((0, false));
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
            Ok(ReadOutcome::Read(n)) => {
                self.errors.ok(&t.path);
                n
            }
            Ok(ReadOutcome::Closed) => return None,
            Err(e) => {
                if self.errors.failed(&t.path, "Cannot read input file", &e) {
                    Counters::add(&self.counters.read_errors_total, 1);
                }
                0
            }
        };
        if n > 0 {
            t.last_growth = now;
        } else if reader.has_partial()
            && now.duration_since(t.last_growth) >= self.cfg.idle_flush
            && !reader.flush_partial(&self.tx, &self.counters)
        {
            return None;
        }
        let done = t.gone_since.is_some_and(|since| {
            n == 0 && now.duration_since(since.max(t.last_growth)) >= self.cfg.rotate_wait
        });
        Some((n, done))
    }

    /// Lets go of a file read to its end after it left the inputs. Returns false when the
    /// sink is gone.
    fn release(&mut self, key: FileKey) -> bool {
        let Some(mut t) = self.files.remove(&key) else {
            return true;
        };
        self.names.remove(key, &t.origin, &t.path);
        self.errors.forget(&t.path);
        Counters::add(&self.counters.files_released_total, 1);
        // A copy of it may still turn up (copytruncate, then delete): remember what it
        // held, for a while.
        let pos = t.reader.as_ref().map_or(t.closed_at, |r| r.committed());
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
        tracing::info!(path = %escaped(&t.path), "Done with file (rotated or deleted, read to its end)");
        if let Some(mut r) = t.reader.take() {
            self.open -= 1;
            if !r.flush_partial(&self.tx, &self.counters) || !r.forget(&self.tx) {
                return false;
            }
        }
        true
    }

    /// Reads every file to its current end and finishes partial lines: at shutdown or at
    /// the end of `--once`. Returns false when the sink is gone.
    pub fn finish(&mut self) -> bool {
        self.start_batch = usize::MAX;
        self.start_queued(Instant::now());
        if !self.deferred.is_empty() {
            // Copies still being written when we stop: start them now rather than never.
            self.finishing = true;
            self.discover(Instant::now());
        }
        loop {
            // Every closed file is looked at on each of these passes.
            self.last_closed_look = None;
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
}
