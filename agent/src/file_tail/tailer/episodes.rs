//! Input files that cannot be read: said once when it starts, then again at a slowing
//! interval while it lasts (with how many attempts failed), and once when it ends, so a
//! file that stays unreadable does not fill the log every second.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::super::names::escaped;

/// The first repeat of a warning comes this long after the first; each later one twice as
/// long after, up to [`MAX_REPEAT`].
const FIRST_REPEAT: Duration = Duration::from_secs(10);
const MAX_REPEAT: Duration = Duration::from_secs(600);

#[derive(Debug)]
struct Episode {
    since: Instant,
    next_log: Instant,
    every: Duration,
    attempts: u64,
}

/// Files in an episode of errors, by path.
#[derive(Debug, Default)]
pub(super) struct ErrorEpisodes {
    open: HashMap<PathBuf, Episode>,
}

impl ErrorEpisodes {
    /// Records a failure on `path`; returns whether it starts an episode (count it then).
    pub(super) fn failed(
        &mut self,
        path: &Path,
        what: &str,
        error: &dyn std::fmt::Display,
    ) -> bool {
        let now = Instant::now();
        match self.open.get_mut(path) {
            None => {
                tracing::warn!(path = %escaped(path), error = %error, "{what}; will retry, and say when it works again");
                self.open.insert(
                    path.to_path_buf(),
                    Episode {
                        since: now,
                        next_log: now + FIRST_REPEAT,
                        every: FIRST_REPEAT,
                        attempts: 1,
                    },
                );
                true
            }
            Some(ep) => {
                ep.attempts += 1;
                if now >= ep.next_log {
                    tracing::warn!(path = %escaped(path), error = %error, attempts = ep.attempts, for_s = ep.since.elapsed().as_secs(), "{what}; still failing");
                    ep.every = (ep.every * 2).min(MAX_REPEAT);
                    ep.next_log = now + ep.every;
                }
                false
            }
        }
    }

    /// Records a success on `path`, ending its episode if it had one.
    pub(super) fn ok(&mut self, path: &Path) {
        if self.open.is_empty() {
            return;
        }
        if let Some(ep) = self.open.remove(path) {
            tracing::info!(path = %escaped(path), attempts = ep.attempts, after_s = ep.since.elapsed().as_secs(), "Input file can be read again");
        }
    }

    /// Forgets `path` (it is gone).
    pub(super) fn forget(&mut self, path: &Path) {
        self.open.remove(path);
    }

    /// Files failing now.
    pub(super) fn failing(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = self.open.keys().cloned().collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_episode_is_counted_once_and_ends_on_success() {
        let mut e = ErrorEpisodes::default();
        let p = Path::new("/logs/a.log");
        assert!(e.failed(p, "Cannot open input file", &"denied"));
        assert!(!e.failed(p, "Cannot open input file", &"denied"));
        assert_eq!(e.failing(), [p.to_path_buf()]);
        e.ok(p);
        assert!(e.failing().is_empty());
        assert!(
            e.failed(p, "Cannot open input file", &"denied"),
            "a new episode"
        );
    }
}
