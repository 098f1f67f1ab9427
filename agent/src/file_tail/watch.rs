//! File-system events (inotify) to wake discovery and reading early. Only folders the walker
//! listed are watched, each on its own (never a recursive watch of a whole tree): the same
//! rule as discovery decides which folders count, and a glob whose folder does not exist yet
//! watches the deepest existing folder of its literal prefix, never above it. Polling always
//! works without events.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::mpsc::Sender;

use notify::{RecursiveMode, Watcher};

/// Folders watched at most; beyond, folders are found by the regular glob pass only.
pub const MAX_WATCHES: usize = 8192;

/// The folders being watched, kept in line with what discovery lists.
#[derive(Debug)]
pub struct DirWatcher {
    inner: notify::RecommendedWatcher,
    watched: BTreeSet<PathBuf>,
    warned_full: bool,
    warned_error: bool,
}

impl DirWatcher {
    /// A watcher that sends to `wake` on every event other than an access.
    ///
    /// # Errors
    /// When events are not available (no inotify, or its instance limit reached).
    pub fn new(wake: Sender<()>) -> notify::Result<Self> {
        let inner = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            // Opens, reads and closes are our own listing and reading: waking on them would
            // make the agent spin.
            if let Ok(ev) = res
                && matches!(ev.kind, notify::EventKind::Access(_))
            {
                return;
            }
            let _ = wake.send(());
        })?;
        Ok(Self {
            inner,
            watched: BTreeSet::new(),
            warned_full: false,
            warned_error: false,
        })
    }

    /// Folders watched now.
    pub fn len(&self) -> usize {
        self.watched.len()
    }

    /// Whether nothing is watched.
    pub fn is_empty(&self) -> bool {
        self.watched.is_empty()
    }

    /// Watches exactly `wanted` (the first [`MAX_WATCHES`] of them).
    pub fn sync(&mut self, wanted: &BTreeSet<PathBuf>) {
        let gone: Vec<PathBuf> = self.watched.difference(wanted).cloned().collect();
        for d in gone {
            // The kernel drops the watch of a deleted folder by itself.
            let _ = self.inner.unwatch(&d);
            self.watched.remove(&d);
        }
        for d in wanted {
            if self.watched.contains(d) {
                continue;
            }
            if self.watched.len() >= MAX_WATCHES {
                if !self.warned_full {
                    self.warned_full = true;
                    tracing::warn!(
                        folders = wanted.len(),
                        watched = MAX_WATCHES,
                        "More input folders than watches allowed; the others are looked at by the glob pass only (about every second)"
                    );
                }
                break;
            }
            match self.inner.watch(d, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    self.watched.insert(d.clone());
                }
                Err(e) => {
                    if !self.warned_error {
                        self.warned_error = true;
                        tracing::warn!(dir = %super::names::escaped(d), error = %e, "Cannot watch folder for events (inotify limit?); polling it");
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn watches_only_the_folders_asked_for_and_wakes_on_a_new_file() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a"), d.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let mut w = DirWatcher::new(tx).unwrap();
        w.sync(&[a.clone(), b.clone()].into_iter().collect());
        assert_eq!(w.len(), 2);
        w.sync(&[a.clone()].into_iter().collect());
        assert_eq!(w.len(), 1);
        while rx.try_recv().is_ok() {}
        std::fs::write(b.join("x.log"), "x\n").unwrap();
        assert!(rx.recv_timeout(Duration::from_millis(500)).is_err());
        std::fs::write(a.join("x.log"), "x\n").unwrap();
        assert!(rx.recv_timeout(Duration::from_secs(10)).is_ok());
    }
}
