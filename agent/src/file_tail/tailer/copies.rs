//! Where a newly seen file starts: its own checkpoint; or, for a copy made by copytruncate
//! (same first bytes as a file read under a name it extends: `app.log` -> `app.log.1`),
//! where its original was read to; else its start (or end, with `--start-at end`).

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::super::checkpoint::Checkpoint;
use super::super::identity::{FileKey, Fingerprint};
use super::super::lines::LinePos;
use super::super::names::escaped;
use super::{OriginHint, Tailer};
use crate::telemetry::Counters;

/// Files by the file names they are known under (their origin's and their current one), so
/// the possible originals of a new name are found by its prefixes, not by a scan of every
/// file: start-up stays linear in the number of files.
#[derive(Debug, Default)]
pub(super) struct NameIndex {
    by_name: HashMap<OsString, Vec<FileKey>>,
}

impl NameIndex {
    fn add(&mut self, key: FileKey, p: &Path) {
        if let Some(n) = p.file_name() {
            let v = self.by_name.entry(n.to_os_string()).or_default();
            if !v.contains(&key) {
                v.push(key);
            }
        }
    }

    fn remove_name(&mut self, key: FileKey, p: &Path) {
        if let Some(n) = p.file_name()
            && let Some(v) = self.by_name.get_mut(n)
        {
            v.retain(|k| *k != key);
            if v.is_empty() {
                self.by_name.remove(n);
            }
        }
    }

    /// A file started under `path`, first followed as `origin`.
    pub(super) fn insert(&mut self, key: FileKey, origin: &Path, path: &Path) {
        self.add(key, origin);
        self.add(key, path);
    }

    /// A file first followed as `origin` renamed from `from` to `to` (its origin name stays).
    pub(super) fn rename(&mut self, key: FileKey, origin: &Path, from: &Path, to: &Path) {
        if from.file_name() != origin.file_name() {
            self.remove_name(key, from);
        }
        self.add(key, to);
    }

    /// A file let go.
    pub(super) fn remove(&mut self, key: FileKey, origin: &Path, path: &Path) {
        self.remove_name(key, origin);
        self.remove_name(key, path);
    }

    /// Files known under a name that `name` is a rotation of.
    pub(super) fn originals_of(&self, name: &OsStr) -> Vec<FileKey> {
        let b = name.as_bytes();
        let mut out = Vec::new();
        for (i, c) in b.iter().enumerate() {
            if i > 0
                && matches!(c, b'.' | b'-' | b'_')
                && let Some(v) = self.by_name.get(OsStr::from_bytes(&b[..i]))
            {
                for k in v {
                    if !out.contains(k) {
                        out.push(*k);
                    }
                }
            }
        }
        out
    }
}

/// Whether `name` is what rotation makes of `orig`'s name: `app.log` -> `app.log.1`,
/// `app.log-20240101`, `app.log_old`.
pub(super) fn is_rotated_name(name: &OsStr, orig: &Path) -> bool {
    let (name, orig) = (
        name.as_bytes(),
        orig.file_name().map(OsStr::as_bytes).unwrap_or_default(),
    );
    name.len() > orig.len()
        && name.starts_with(orig)
        && matches!(name[orig.len()], b'.' | b'-' | b'_')
}

/// Whether the first `len` bytes of `a` and `b` are the same (`len` is at most a
/// fingerprint's length).
pub(super) fn same_start(a: &File, b: &File, len: u64) -> bool {
    use std::os::unix::fs::FileExt;
    let len = usize::try_from(len).unwrap_or(0);
    let (mut x, mut y) = (vec![0u8; len], vec![0u8; len]);
    a.read_exact_at(&mut x, 0).is_ok() && b.read_exact_at(&mut y, 0).is_ok() && x == y
}

impl Tailer {
    /// Where to start reading a newly seen file, with its origin name and pre-truncation
    /// state when its own checkpoint gives them; `None` to look again later (a copy still
    /// being written).
    pub(super) fn start_pos(
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
                    tracing::info!(path = %escaped(path), "File is shorter than its checkpoint (truncated while the agent was down); reading from its start");
                    return Some((LinePos::default(), None));
                }
                _ => {
                    tracing::debug!(path = %escaped(path), "Checkpoint is for earlier content of this inode; reading from the start");
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
        let name = path.file_name().unwrap_or_default();
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
        let originals = self.names.originals_of(name);
        for t in originals.iter().filter_map(|k| self.files.get(k)) {
            if t.fp.len == 0 {
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
            let pos = t.reader.as_ref().map_or(t.closed_at, |r| r.committed());
            if Fingerprint::of_len(file, t.fp.len).is_ok_and(|f| f == t.fp) {
                // The original is not seen truncated yet, and is still read meanwhile: what
                // it is read through until its truncation would come out again from the
                // copy if the copy started where the original is read to now. Wait (a few
                // seconds at most) for the truncation: the original's state before it
                // (`prevs` below) is where the copy starts. A plain copy that is never
                // followed by a truncation starts, after the wait, where the original is
                // read to then.
                if may_defer && t.reader.is_some() {
                    return None;
                }
                let start = at(pos);
                if let Some(p) = start {
                    tracing::info!(copy = %escaped(path), of = %escaped(&t.path), offset = p.offset, "Copy of a file being read (copytruncate); reading it from where the original was read to");
                }
                return start;
            }
        }
        // The same, for a copy made while the agent was down: the original's checkpoint is
        // an orphan (its inode now holds new content) or not claimed (it was deleted since).
        // The original may already have been seen truncated: its state before that counts.
        let prevs: Vec<Checkpoint> = originals
            .iter()
            .filter_map(|k| self.files.get(k))
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
                && is_rotated_name(name, &cp.path)
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
                tracing::info!(copy = %escaped(path), of = %cp.path.display(), offset = p.offset, "Copy of a file rotated while the agent was down; reading it from the original's checkpoint");
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn rotated_names() {
        let orig = PathBuf::from("/logs/app.log");
        for n in ["app.log.1", "app.log-20240101", "app.log_old"] {
            assert!(is_rotated_name(OsStr::new(n), &orig), "{n}");
        }
        for n in ["app.log", "app.logx", "xapp.log.1", "app"] {
            assert!(!is_rotated_name(OsStr::new(n), &orig), "{n}");
        }
    }

    #[test]
    fn the_name_index_finds_originals_by_prefix_only() {
        let mut ix = NameIndex::default();
        let k = |i| FileKey { dev: 1, ino: i };
        ix.insert(k(1), Path::new("/a/app.log"), Path::new("/a/app.log"));
        ix.insert(k(2), Path::new("/a/app.log.1"), Path::new("/a/app.log.1"));
        ix.insert(k(3), Path::new("/a/other.log"), Path::new("/a/other.log"));
        assert_eq!(ix.originals_of(OsStr::new("app.log.1.gz")), [k(1), k(2)]);
        assert_eq!(
            ix.originals_of(OsStr::new("app.log")),
            Vec::<FileKey>::new()
        );
        ix.rename(
            k(1),
            Path::new("/a/app.log"),
            Path::new("/a/app.log"),
            Path::new("/a/app.log.2"),
        );
        // Still known by its origin name.
        assert_eq!(ix.originals_of(OsStr::new("app.log.1")), [k(1)]);
        ix.remove(k(1), Path::new("/a/app.log"), Path::new("/a/app.log.2"));
        assert!(ix.originals_of(OsStr::new("app.log.1")).is_empty());
    }
}
