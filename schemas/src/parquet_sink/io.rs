//! The file operations the sink performs, behind a trait so tests can record them and
//! inject failures (a full disk, a failing stage) without root or a real small disk.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// A file opened for writing by [`Storage::create_new`].
pub trait OutputFile: Write + Send {
    /// Makes the written bytes durable (fsync).
    ///
    /// # Errors
    /// As the OS reports them.
    fn sync(&mut self) -> io::Result<()>;
}

impl OutputFile for File {
    fn sync(&mut self) -> io::Result<()> {
        self.sync_all()
    }
}

/// Every file-system operation the sink uses.
pub trait Storage: Send + std::fmt::Debug {
    /// `mkdir -p`.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Creates a file that must not exist yet (O_CREAT|O_EXCL) and opens it for writing.
    fn create_new(&self, path: &Path) -> io::Result<Box<dyn OutputFile>>;
    /// Renames within one folder.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a file.
    fn remove_file(&self, path: &Path) -> io::Result<()>;
    /// Makes a folder's entries durable (fsync on the folder).
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// How many entries a folder has (0 if it does not exist).
    fn count_entries(&self, dir: &Path) -> io::Result<usize>;
}

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsStorage;

impl Storage for OsStorage {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        fs::create_dir_all(dir)
    }

    fn create_new(&self, path: &Path) -> io::Result<Box<dyn OutputFile>> {
        let f = OpenOptions::new().write(true).create_new(true).open(path)?;
        Ok(Box::new(f))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }

    fn count_entries(&self, dir: &Path) -> io::Result<usize> {
        match fs::read_dir(dir) {
            Ok(rd) => Ok(rd.count()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(e),
        }
    }
}

/// One operation seen by [`RecordingStorage`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `create_dir_all`.
    CreateDir(PathBuf),
    /// `create_new`: the path did not exist.
    CreateNew(PathBuf),
    /// Bytes written to a file created before.
    Write(PathBuf, usize),
    /// fsync of a file.
    Sync(PathBuf),
    /// The file was closed.
    Close(PathBuf),
    /// `rename(from, to)`.
    Rename(PathBuf, PathBuf),
    /// `remove_file`.
    Remove(PathBuf),
    /// fsync of a folder.
    SyncDir(PathBuf),
}

/// Failures to inject.
#[derive(Debug, Default, Clone)]
pub struct Faults {
    /// Writes fail with "No space left on device" once this many bytes were written in
    /// total, until the budget is raised.
    pub space_left: Option<u64>,
    /// This many next removals fail with "Device or resource busy".
    pub failing_removes: u32,
}

#[derive(Debug, Default)]
struct Shared {
    ops: Vec<Op>,
    written: u64,
    faults: Faults,
}

/// Wraps the real file system, records every operation, and injects failures.
#[derive(Debug, Default, Clone)]
pub struct RecordingStorage {
    shared: Arc<Mutex<Shared>>,
}

impl RecordingStorage {
    /// A recorder with no faults.
    pub fn new() -> Self {
        Self::default()
    }

    /// The operations so far.
    pub fn ops(&self) -> Vec<Op> {
        self.lock().ops.clone()
    }

    /// Sets how many more bytes may be written before writes fail with ENOSPC
    /// (`None`: unlimited).
    pub fn set_space_left(&self, bytes: Option<u64>) {
        let mut s = self.lock();
        s.faults.space_left = bytes.map(|b| s.written + b);
    }

    /// Makes the next `n` removals fail.
    pub fn set_failing_removes(&self, n: u32) {
        self.lock().faults.failing_removes = n;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        // A panic while holding the lock can only come from a test assertion.
        self.shared.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn record(&self, op: Op) {
        self.lock().ops.push(op);
    }
}

struct RecordingFile {
    inner: File,
    path: PathBuf,
    storage: RecordingStorage,
}

impl Write for RecordingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = {
            let mut s = self.storage.lock();
            let allowed = match s.faults.space_left {
                Some(limit) => limit.saturating_sub(s.written).min(buf.len() as u64) as usize,
                None => buf.len(),
            };
            if allowed == 0 && !buf.is_empty() {
                return Err(io::Error::from_raw_os_error(libc::ENOSPC));
            }
            s.written += allowed as u64;
            allowed
        };
        let n = self.inner.write(&buf[..n])?;
        self.storage.record(Op::Write(self.path.clone(), n));
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl OutputFile for RecordingFile {
    fn sync(&mut self) -> io::Result<()> {
        self.storage.record(Op::Sync(self.path.clone()));
        self.inner.sync_all()
    }
}

impl Drop for RecordingFile {
    fn drop(&mut self) {
        self.storage.record(Op::Close(self.path.clone()));
    }
}

impl Storage for RecordingStorage {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.record(Op::CreateDir(dir.to_path_buf()));
        OsStorage.create_dir_all(dir)
    }

    fn create_new(&self, path: &Path) -> io::Result<Box<dyn OutputFile>> {
        let inner = OpenOptions::new().write(true).create_new(true).open(path)?;
        self.record(Op::CreateNew(path.to_path_buf()));
        Ok(Box::new(RecordingFile {
            inner,
            path: path.to_path_buf(),
            storage: self.clone(),
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.record(Op::Rename(from.to_path_buf(), to.to_path_buf()));
        OsStorage.rename(from, to)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.record(Op::Remove(path.to_path_buf()));
        {
            let mut s = self.lock();
            if s.faults.failing_removes > 0 {
                s.faults.failing_removes -= 1;
                return Err(io::Error::from_raw_os_error(libc::EBUSY));
            }
        }
        OsStorage.remove_file(path)
    }

    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.record(Op::SyncDir(dir.to_path_buf()));
        OsStorage.sync_dir(dir)
    }

    fn count_entries(&self, dir: &Path) -> io::Result<usize> {
        OsStorage.count_entries(dir)
    }
}
