//! At most `max_open_files` descriptors: files that wait closed with new data get a
//! descriptor from the readers quiet longest, so with more files than descriptors every
//! file gets its turn and none is starved.

use std::time::Instant;

use super::super::checkpoint::Checkpoint;
use super::super::identity::FileKey;
use super::super::open::open_checked;
use super::super::reader::FileReader;
use super::{TailConfig, Tailer, Tracked};

/// Whether a closed file has grown past where it was closed (looked at by its open path,
/// without following a link: discovery resolved it).
fn has_grown(t: &Tracked) -> bool {
    std::fs::symlink_metadata(&t.open_path)
        .is_ok_and(|m| FileKey::of(&m) == t.key && m.len() > t.closed_at.offset)
}

impl Tailer {
    /// Frees descriptors for files that wait closed with new data, by closing the readers
    /// that have been quiet longest (read to their end, no partial line).
    pub(super) fn make_room(&mut self) {
        let free = self.cfg.max_open_files.saturating_sub(self.open);
        if self.files.len() <= self.cfg.max_open_files {
            return;
        }
        let waiting = self
            .files
            .values()
            .filter(|t| t.reader.is_none())
            .filter(|t| has_grown(t))
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
                self.open -= 1;
            }
        }
    }
}

/// Reopens a reader closed to save descriptors, when its file has grown. Returns whether it
/// is open now.
pub(super) fn reopen(t: &mut Tracked, cfg: &TailConfig, open_count: usize) -> bool {
    if open_count >= cfg.max_open_files || !has_grown(t) {
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
            t.reader = Some(r);
            true
        }
        Err(_) => false,
    }
}
