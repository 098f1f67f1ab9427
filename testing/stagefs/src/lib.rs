//! A FUSE file system with the rules of a Snowflake stage mount (SPCS.md §7), for tests.
//!
//! It passes every call through to a backing folder, except those a stage does not allow,
//! which it refuses with `EPERM` and records as a [`Refusal`]:
//! - `rename` (and `link`, `symlink`);
//! - opening with `O_APPEND`;
//! - a write anywhere but at the current end of the file;
//! - opening an existing file for writing (a closed file is never reopened);
//! - changing the size of a file other than through the handle that created it, or to a size
//!   other than its current one (no truncation).
//!
//! It mounts as type `fuse`, so the agent's `--output-mode auto` picks stage mode on it.
//!
//! ```no_run
//! let m = firn_stagefs::mount("/tmp/backing".as_ref(), "/tmp/stage".as_ref()).unwrap();
//! // ... run the agent with --output /tmp/stage/out ...
//! assert!(m.refusals().is_empty());
//! m.unmount().unwrap();
//! ```
#![forbid(unsafe_code)]

mod fs;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

pub use fs::StageFs;

/// One call the file system refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// `rename`, `append`, `write`, `reopen`, `truncate`, `link`.
    pub op: &'static str,
    /// The path inside the mount.
    pub path: PathBuf,
    /// Why, in words.
    pub detail: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "refused {} of {}: {}",
            self.op,
            self.path.display(),
            self.detail
        )
    }
}

/// What went wrong mounting.
#[derive(Debug, thiserror::Error)]
pub enum MountError {
    /// `/dev/fuse` is missing or cannot be opened.
    #[error(
        "cannot use FUSE here: /dev/fuse: {0}; load the fuse module or run with --device /dev/fuse"
    )]
    NoFuse(#[source] std::io::Error),
    /// The backing folder is not a folder.
    #[error("cannot use {path} as the backing folder: {source}")]
    Backing {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// mount(2) or fusermount3 failed.
    #[error(
        "cannot mount on {path}: {source} (as non-root, install Debian's fuse3 for fusermount3)"
    )]
    Mount {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The refusals seen so far, shared between the file system and its owner.
#[derive(Debug, Clone, Default)]
pub struct Refusals(Arc<Mutex<Vec<Refusal>>>);

impl Refusals {
    pub(crate) fn push(&self, r: Refusal) {
        eprintln!("firn-stagefs: {r}");
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(r);
    }

    /// Every refusal so far, oldest first.
    pub fn all(&self) -> Vec<Refusal> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Whether FUSE can be used here: `/dev/fuse` opens for reading and writing.
///
/// # Errors
/// [`MountError::NoFuse`] when it cannot.
pub fn fuse_available() -> Result<(), MountError> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/fuse")
        .map(drop)
        .map_err(MountError::NoFuse)
}

/// A mounted stage file system served by a thread of this process; unmounted on drop.
#[derive(Debug)]
pub struct Mounted {
    session: Option<fuser::BackgroundSession>,
    refusals: Refusals,
    mountpoint: PathBuf,
}

impl Mounted {
    /// Every call refused so far.
    pub fn refusals(&self) -> Vec<Refusal> {
        self.refusals.all()
    }

    /// Where it is mounted.
    pub fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }

    /// Unmounts and waits for the serving thread.
    ///
    /// # Errors
    /// When umount(2) fails (a process still has a file open there).
    pub fn unmount(mut self) -> std::io::Result<()> {
        match self.session.take() {
            Some(s) => s.umount_and_join(),
            None => Ok(()),
        }
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if let Some(s) = self.session.take() {
            let _ = s.umount_and_join();
        }
    }
}

/// The mount options: type `fuse.firn-stagefs`, any user may enter (the agent may run as
/// another user than the test).
pub fn config() -> fuser::Config {
    let mut cfg = fuser::Config::default();
    cfg.mount_options = vec![
        fuser::MountOption::FSName("firn-stagefs".into()),
        fuser::MountOption::Subtype("firn-stagefs".into()),
    ];
    cfg.acl = fuser::SessionACL::All;
    cfg
}

/// Mounts a stage file system over `backing` at `mountpoint`, served by a background thread.
///
/// # Errors
/// When FUSE is not available, `backing` is not a folder, or the mount fails.
pub fn mount(backing: &Path, mountpoint: &Path) -> Result<Mounted, MountError> {
    fuse_available()?;
    let refusals = Refusals::default();
    let fs = StageFs::new(backing, refusals.clone()).map_err(|source| MountError::Backing {
        path: backing.to_path_buf(),
        source,
    })?;
    let session =
        fuser::spawn_mount(fs, mountpoint, &config()).map_err(|source| MountError::Mount {
            path: mountpoint.to_path_buf(),
            source,
        })?;
    Ok(Mounted {
        session: Some(session),
        refusals,
        mountpoint: mountpoint.to_path_buf(),
    })
}
