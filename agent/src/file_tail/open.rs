//! Opening a discovered file so that what is read is what discovery checked: the resolved
//! path is opened without following a link in its last component (`O_NOFOLLOW`) and without
//! blocking (`O_NONBLOCK`: a FIFO swapped in does not hang the agent), then the opened
//! descriptor's (device, inode) must be the one discovery saw, and, unless every link may be
//! followed, the path the kernel gives for the descriptor must be inside the input's base
//! folder. A link swapped after discovery therefore cannot redirect the read.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use super::identity::FileKey;
use super::names::escaped;

/// Why a discovered file was not opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenRefused {
    /// The open itself failed (permissions, gone, a link where none was allowed).
    #[error("cannot open {}: {source}", escaped(.path))]
    Io {
        /// The path opened.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// It is no longer a regular file.
    #[error("{} is no longer a regular file", escaped(.0))]
    NotRegular(PathBuf),
    /// Another file is there now (replaced, or a link swapped, since discovery).
    #[error("{} was replaced since it was found; looking again", escaped(.0))]
    Replaced(PathBuf),
    /// The opened file lies outside the input's base folder (a folder on its path was
    /// swapped for a link since discovery).
    #[error("{} resolves to {} outside the input's base folder", escaped(.path), escaped(.real))]
    Outside {
        /// The path opened.
        path: PathBuf,
        /// Where the descriptor really is.
        real: PathBuf,
    },
}

impl OpenRefused {
    /// Whether the file is simply not there to open (gone since discovery): not worth a
    /// warning.
    pub fn is_gone(&self) -> bool {
        matches!(self, Self::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}

/// Opens `path` for reading without following a final symlink and without blocking.
///
/// # Errors
/// As `open(2)`; `ELOOP` when the last component is a symlink.
pub fn open_no_follow(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
}

/// Opens `open_path`, which discovery found as the regular file `key`, checking that the
/// opened file is that one and (with `within`) lies inside that folder.
///
/// # Errors
/// [`OpenRefused`] says why it was not opened.
pub fn open_checked(
    open_path: &Path,
    key: FileKey,
    within: Option<&Path>,
) -> Result<File, OpenRefused> {
    let file = open_no_follow(open_path).map_err(|source| OpenRefused::Io {
        path: open_path.to_path_buf(),
        source,
    })?;
    let meta = file.metadata().map_err(|source| OpenRefused::Io {
        path: open_path.to_path_buf(),
        source,
    })?;
    if !meta.is_file() {
        return Err(OpenRefused::NotRegular(open_path.to_path_buf()));
    }
    if FileKey::of(&meta) != key {
        return Err(OpenRefused::Replaced(open_path.to_path_buf()));
    }
    if let Some(base) = within
        && let Some(real) = real_path(&file)
        && !real.starts_with(base)
    {
        return Err(OpenRefused::Outside {
            path: open_path.to_path_buf(),
            real,
        });
    }
    Ok(file)
}

/// Where the kernel says an open file is (`/proc/self/fd/N`); `None` where /proc is not
/// mounted or the file has been deleted since.
pub fn real_path(file: &File) -> Option<PathBuf> {
    let p = std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).ok()?;
    let deleted = p.as_os_str().as_encoded_bytes().ends_with(b" (deleted)");
    (!deleted).then_some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(p: &Path) -> FileKey {
        FileKey::of(&std::fs::metadata(p).unwrap())
    }

    #[test]
    fn a_link_in_the_last_component_is_not_followed() {
        let d = tempfile::tempdir().unwrap();
        let target = d.path().join("t.log");
        std::fs::write(&target, "x\n").unwrap();
        let link = d.path().join("l.log");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let e = open_checked(&link, key(&target), None).unwrap_err();
        assert!(matches!(e, OpenRefused::Io { .. }), "{e}");
        assert!(open_checked(&target, key(&target), None).is_ok());
    }

    #[test]
    fn a_file_replaced_since_discovery_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.log");
        std::fs::write(&p, "one\n").unwrap();
        let k = key(&p);
        let tmp = d.path().join("b.log");
        std::fs::write(&tmp, "two\n").unwrap();
        std::fs::rename(&tmp, &p).unwrap();
        assert!(matches!(
            open_checked(&p, k, None),
            Err(OpenRefused::Replaced(_))
        ));
    }

    #[test]
    fn a_folder_swapped_for_a_link_to_outside_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let base = d.path().join("base");
        let outside = d.path().join("outside");
        std::fs::create_dir_all(base.join("sub")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("a.log"), "secret\n").unwrap();
        // Discovery saw base/sub/a.log as the outside file's inode (a swap between its
        // look and its stat); the open through the swapped folder must still be refused.
        std::fs::remove_dir(base.join("sub")).unwrap();
        std::os::unix::fs::symlink(&outside, base.join("sub")).unwrap();
        let p = base.join("sub/a.log");
        let real_base = std::fs::canonicalize(&base).unwrap();
        let e = open_checked(&p, key(&p), Some(&real_base)).unwrap_err();
        assert!(matches!(e, OpenRefused::Outside { .. }), "{e}");
        assert!(open_checked(&p, key(&p), None).is_ok());
    }

    #[test]
    fn a_fifo_is_not_opened_for_reading() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f.log");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&p)
                .status()
                .unwrap()
                .success()
        );
        // Opened without blocking, and refused as not a regular file.
        let e = open_checked(&p, key(&p), None).unwrap_err();
        assert!(matches!(e, OpenRefused::NotRegular(_)), "{e}");
    }
}
