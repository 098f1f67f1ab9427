//! File identity: (device, inode) while a file is open, plus a fingerprint of its first
//! bytes so a checkpoint is not applied to a different file that reused the inode.
//!
//! The fingerprint covers the first `min(size, N)` bytes and records how many it covers, so
//! it is right for empty files and files shorter than N, and grows with the file. Two
//! different files with identical first bytes are still told apart by their inodes.

use std::fs::File;
use std::hash::Hasher;
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};

/// (device, inode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileKey {
    /// st_dev.
    pub dev: u64,
    /// st_ino.
    pub ino: u64,
}

impl FileKey {
    /// The key of an open file or a stat result.
    pub fn of(meta: &std::fs::Metadata) -> Self {
        Self {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }

    /// `dev:ino`, the checkpoint key.
    pub fn to_key(self) -> String {
        format!("{}:{}", self.dev, self.ino)
    }
}

/// A hash of a file's first `len` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fingerprint {
    /// Bytes covered.
    pub len: u64,
    /// FNV-1a 64 of them (stable across releases, unlike std's hasher).
    pub hash: u64,
}

/// FNV-1a, 64 bit.
#[derive(Debug)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

impl Fingerprint {
    /// Fingerprints the first `min(size, max)` bytes of `file`.
    ///
    /// # Errors
    /// When the file cannot be read.
    pub fn of(file: &File, size: u64, max: u64) -> io::Result<Self> {
        Self::of_len(file, size.min(max))
    }

    /// Fingerprints exactly the first `len` bytes (fewer if the file is shorter now).
    ///
    /// # Errors
    /// When the file cannot be read.
    pub fn of_len(file: &File, len: u64) -> io::Result<Self> {
        let mut buf = vec![0u8; usize::try_from(len).unwrap_or(0)];
        let mut got = 0;
        while got < buf.len() {
            match file.read_at(&mut buf[got..], got as u64) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        let mut h = Fnv(0xcbf2_9ce4_8422_2325);
        h.write(&buf[..got]);
        Ok(Self {
            len: got as u64,
            hash: h.finish(),
        })
    }

    /// Whether `file` still starts with the bytes this fingerprint covers.
    ///
    /// # Errors
    /// When the file cannot be read.
    pub fn matches(&self, file: &File) -> io::Result<bool> {
        Ok(Self::of_len(file, self.len)? == *self)
    }

    /// The hash in hex, for checkpoints.
    pub fn hex(&self) -> String {
        format!("{:016x}", self.hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn covers_short_and_empty_files_and_grows() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a");
        let mut f = File::create(&p).unwrap();
        let r = File::open(&p).unwrap();
        let empty = Fingerprint::of(&r, 0, 1024).unwrap();
        assert_eq!(empty.len, 0);
        f.write_all(b"abc").unwrap();
        let short = Fingerprint::of(&r, 3, 1024).unwrap();
        assert_eq!(short.len, 3);
        assert!(empty.matches(&r).unwrap() && short.matches(&r).unwrap());
        f.write_all(b"def").unwrap();
        assert!(short.matches(&r).unwrap(), "a grown file keeps its prefix");
        let other = dir.path().join("b");
        std::fs::write(&other, b"abX").unwrap();
        assert!(!short.matches(&File::open(&other).unwrap()).unwrap());
    }

    #[test]
    fn identical_first_bytes_are_told_apart_by_inode() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), b"same header\n").unwrap();
        std::fs::write(dir.path().join("b"), b"same header\n").unwrap();
        let a = FileKey::of(&std::fs::metadata(dir.path().join("a")).unwrap());
        let b = FileKey::of(&std::fs::metadata(dir.path().join("b")).unwrap());
        assert_ne!(a, b);
    }
}
