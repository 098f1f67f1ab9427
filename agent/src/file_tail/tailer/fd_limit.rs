//! At most `max_open_files` descriptors: files that wait closed with new data get a
//! descriptor from the readers quiet longest, so with more files than descriptors every
//! file gets its turn and none is starved.

use std::time::Instant;

use super::super::checkpoint::Checkpoint;
use super::super::identity::FileKey;
use super::super::open::open_checked;
use super::super::reader::FileReader;
use super::{TailConfig, Tailer, Tracked};

/// Whether a closed file holds data past where it was closed: known from its size when last
/// looked at, else (when `look`) from a stat by its open path, without following a link
/// (discovery resolved it). Looking at every closed file on every pass would make a pass
/// cost a stat per file: with thousands of files, start-up would be quadratic.
fn has_grown(t: &mut Tracked, look: bool) -> bool {
    if t.size > t.closed_at.offset {
        return true;
    }
    if !look {
        return false;
    }
    match std::fs::symlink_metadata(&t.open_path) {
        Ok(m) if FileKey::of(&m) == t.key => {
            t.size = m.len();
            t.size > t.closed_at.offset
        }
        _ => false,
    }
}

impl Tailer {
    /// Frees descriptors for files that wait closed with new data, by closing the readers
    /// that have been quiet longest (read to their end, no partial line).
    pub(super) fn make_room(&mut self, look: bool) {
        let free = self.cfg.max_open_files.saturating_sub(self.open);
        if self.files.len() <= self.cfg.max_open_files {
            return;
        }
        let mut waiting = 0;
        for t in self.files.values_mut() {
            if t.reader.is_none() && has_grown(t, look) {
                waiting += 1;
            }
        }
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
                self.open -= 1;
            }
        }
    }
}

/// Reopens a reader closed to save descriptors, when its file has grown. Returns whether it
/// is open now.
pub(super) fn reopen(t: &mut Tracked, cfg: &TailConfig, open_count: usize, look: bool) -> bool {
    if open_count >= cfg.max_open_files || !has_grown(t, look) {
        return false;
    }
    let Ok(file) = open_checked(&t.open_path, t.key, t.within.as_deref()) else {
        return false;
    };
    match FileReader::from_file(
        file,
        &t.path,
        t.key.to_key(),
        Checkpoint::identity(&t.origin, &t.fp, t.prev.as_ref()),
        t.closed_at,
        &cfg.reader,
    ) {
        Ok(r) => {
            t.reader = Some(Box::new(r));
            true
        }
        Err(_) => false,
    }
}
