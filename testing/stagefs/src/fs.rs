//! The file system: a pass-through to a backing folder that refuses what a stage refuses.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::{self, File, Metadata, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{
    Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, LockOwner,
    OpenAccMode, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory,
    ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite, Request, TimeOrNow, WriteFlags,
};

use crate::{Refusal, Refusals};

/// No caching of names or attributes: a test reads sizes while the agent writes.
const TTL: Duration = Duration::ZERO;

/// An open file.
#[derive(Debug)]
struct Handle {
    file: File,
    ino: u64,
    /// Only the handle that created a file may write to it.
    writer: bool,
}

#[derive(Debug, Default)]
struct State {
    /// FUSE inode -> backing path. FUSE inodes are the backing inodes, the root's is 1.
    paths: HashMap<u64, PathBuf>,
    handles: HashMap<u64, Handle>,
    next_fh: u64,
    root_ino: u64,
}

/// The stage file system over one backing folder.
#[derive(Debug)]
pub struct StageFs {
    root: PathBuf,
    state: Mutex<State>,
    refusals: Refusals,
}

fn errno(e: &io::Error) -> Errno {
    Errno::from_i32(e.raw_os_error().unwrap_or(libc::EIO))
}

fn system_time(secs: i64, nsecs: i64) -> SystemTime {
    let d = Duration::new(secs.unsigned_abs(), u32::try_from(nsecs).unwrap_or(0));
    if secs >= 0 {
        UNIX_EPOCH + d
    } else {
        UNIX_EPOCH - d
    }
}

impl StageFs {
    /// A file system over `backing`, which must be a folder.
    ///
    /// # Errors
    /// When `backing` cannot be read or is not a folder.
    pub fn new(backing: &Path, refusals: Refusals) -> io::Result<StageFs> {
        let root = backing.canonicalize()?;
        let md = fs::metadata(&root)?;
        if !md.is_dir() {
            return Err(io::Error::new(io::ErrorKind::NotADirectory, "not a folder"));
        }
        let mut state = State {
            next_fh: 1,
            root_ino: md.ino(),
            ..State::default()
        };
        state.paths.insert(INodeNo::ROOT.0, root.clone());
        Ok(StageFs {
            root,
            state: Mutex::new(state),
            refusals,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn path_of(&self, ino: INodeNo) -> Result<PathBuf, Errno> {
        self.lock().paths.get(&ino.0).cloned().ok_or(Errno::ENOENT)
    }

    /// The path as seen inside the mount, for refusal records.
    fn shown(&self, p: &Path) -> PathBuf {
        Path::new("/").join(p.strip_prefix(&self.root).unwrap_or(p))
    }

    fn refuse(&self, op: &'static str, path: &Path, detail: String) -> Errno {
        self.refusals.push(Refusal {
            op,
            path: self.shown(path),
            detail,
        });
        Errno::EPERM
    }

    /// The attributes of `path`, remembering its inode.
    fn attr_of(&self, path: &Path) -> Result<FileAttr, Errno> {
        let md = fs::symlink_metadata(path).map_err(|e| errno(&e))?;
        let mut st = self.lock();
        let ino = if md.ino() == st.root_ino {
            INodeNo::ROOT.0
        } else {
            md.ino()
        };
        st.paths.insert(ino, path.to_path_buf());
        Ok(attr(ino, &md))
    }

    fn child(&self, parent: INodeNo, name: &OsStr) -> Result<PathBuf, Errno> {
        Ok(self.path_of(parent)?.join(name))
    }

    fn new_handle(&self, file: File, ino: u64, writer: bool) -> FileHandle {
        let mut st = self.lock();
        let fh = st.next_fh;
        st.next_fh += 1;
        st.handles.insert(fh, Handle { file, ino, writer });
        FileHandle(fh)
    }

    fn with_handle<T>(
        &self,
        fh: FileHandle,
        f: impl FnOnce(&Handle) -> Result<T, Errno>,
    ) -> Result<T, Errno> {
        let st = self.lock();
        let h = st.handles.get(&fh.0).ok_or(Errno::EBADF)?;
        f(h)
    }

    /// A size change is allowed only through an open creating handle, to the current size.
    fn check_resize(&self, ino: INodeNo, path: &Path, size: u64) -> Result<(), Errno> {
        let current = fs::metadata(path).map_err(|e| errno(&e))?.len();
        let writing = self
            .lock()
            .handles
            .values()
            .any(|h| h.ino == ino.0 && h.writer);
        if !writing {
            return Err(self.refuse(
                "truncate",
                path,
                format!("a closed file of {current} bytes cannot be resized to {size}"),
            ));
        }
        if size != current {
            return Err(self.refuse(
                "truncate",
                path,
                format!("a file being written ({current} bytes) cannot be resized to {size}"),
            ));
        }
        Ok(())
    }

    fn do_setattr(
        &self,
        ino: INodeNo,
        mode: Option<u32>,
        size: Option<u64>,
        mtime: Option<TimeOrNow>,
    ) -> Result<FileAttr, Errno> {
        let path = self.path_of(ino)?;
        if let Some(size) = size {
            self.check_resize(ino, &path, size)?;
        }
        if let Some(mode) = mode {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode & 0o7777))
                .map_err(|e| errno(&e))?;
        }
        if let Some(t) = mtime {
            let t = match t {
                TimeOrNow::SpecificTime(t) => t,
                TimeOrNow::Now => SystemTime::now(),
            };
            // Touching a file changes no content; allowed.
            if let Ok(f) = File::open(&path) {
                let _ = f.set_modified(t);
            }
        }
        self.attr_of(&path)
    }

    fn do_create(
        &self,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        flags: i32,
    ) -> Result<(FileAttr, FileHandle), Errno> {
        let path = self.child(parent, name)?;
        if flags & libc::O_APPEND != 0 {
            return Err(self.refuse("append", &path, "opened with O_APPEND".into()));
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(mode & 0o7777)
            .open(&path)
            .map_err(|e| {
                if e.kind() == io::ErrorKind::AlreadyExists {
                    self.refuse("reopen", &path, "created again while it exists".into())
                } else {
                    errno(&e)
                }
            })?;
        let attr = self.attr_of(&path)?;
        let fh = self.new_handle(file, attr.ino.0, true);
        Ok((attr, fh))
    }

    fn do_open(&self, ino: INodeNo, flags: OpenFlags) -> Result<FileHandle, Errno> {
        let path = self.path_of(ino)?;
        if flags.0 & libc::O_APPEND != 0 {
            return Err(self.refuse("append", &path, "opened with O_APPEND".into()));
        }
        if flags.acc_mode() != OpenAccMode::O_RDONLY {
            return Err(self.refuse(
                "reopen",
                &path,
                "an existing file opened for writing".into(),
            ));
        }
        if flags.0 & libc::O_TRUNC != 0 {
            return Err(self.refuse("truncate", &path, "opened with O_TRUNC".into()));
        }
        let file = File::open(&path).map_err(|e| errno(&e))?;
        Ok(self.new_handle(file, ino.0, false))
    }

    fn do_write(
        &self,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
    ) -> Result<u32, Errno> {
        let path = self.path_of(ino)?;
        let (file, writer) = self.with_handle(fh, |h| {
            Ok((h.file.try_clone().map_err(|e| errno(&e))?, h.writer))
        })?;
        if !writer {
            return Err(self.refuse("reopen", &path, "a write through a read handle".into()));
        }
        let end = file.metadata().map_err(|e| errno(&e))?.len();
        if offset != end {
            return Err(self.refuse(
                "write",
                &path,
                format!(
                    "{} bytes at offset {offset}, not at the end ({end})",
                    data.len()
                ),
            ));
        }
        file.write_all_at(data, offset).map_err(|e| errno(&e))?;
        u32::try_from(data.len()).map_err(|_| Errno::EINVAL)
    }

    fn do_readdir(&self, ino: INodeNo) -> Result<Vec<(u64, FileType, std::ffi::OsString)>, Errno> {
        let path = self.path_of(ino)?;
        let mut out = vec![
            (ino.0, FileType::Directory, ".".into()),
            (ino.0, FileType::Directory, "..".into()),
        ];
        for e in fs::read_dir(&path).map_err(|e| errno(&e))? {
            let e = e.map_err(|e| errno(&e))?;
            let Ok(md) = e.metadata() else { continue };
            out.push((md.ino(), kind(&md), e.file_name()));
        }
        Ok(out)
    }
}

fn kind(md: &Metadata) -> FileType {
    let ft = md.file_type();
    if ft.is_dir() {
        FileType::Directory
    } else if ft.is_symlink() {
        FileType::Symlink
    } else {
        FileType::RegularFile
    }
}

fn attr(ino: u64, md: &Metadata) -> FileAttr {
    FileAttr {
        ino: INodeNo(ino),
        size: md.len(),
        blocks: md.blocks(),
        atime: system_time(md.atime(), md.atime_nsec()),
        mtime: system_time(md.mtime(), md.mtime_nsec()),
        ctime: system_time(md.ctime(), md.ctime_nsec()),
        crtime: system_time(md.mtime(), md.mtime_nsec()),
        kind: kind(md),
        perm: u16::try_from(md.mode() & 0o7777).unwrap_or(0o644),
        nlink: u32::try_from(md.nlink()).unwrap_or(1),
        uid: md.uid(),
        gid: md.gid(),
        rdev: u32::try_from(md.rdev()).unwrap_or(0),
        flags: 0,
        blksize: u32::try_from(md.blksize()).unwrap_or(4096),
    }
}

impl Filesystem for StageFs {
    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match self.child(parent, name).and_then(|p| self.attr_of(&p)) {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        match self.path_of(ino).and_then(|p| self.attr_of(&p)) {
            Ok(a) => reply.attr(&TTL, &a),
            Err(e) => reply.error(e),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        _uid: Option<u32>,
        _gid: Option<u32>,
        size: Option<u64>,
        _atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        match self.do_setattr(ino, mode, size, mtime) {
            Ok(a) => reply.attr(&TTL, &a),
            Err(e) => reply.error(e),
        }
    }

    fn mkdir(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        let r = self.child(parent, name).and_then(|p| {
            fs::create_dir(&p).map_err(|e| errno(&e))?;
            let _ = fs::set_permissions(&p, fs::Permissions::from_mode(mode & 0o7777));
            self.attr_of(&p)
        });
        match r {
            Ok(a) => reply.entry(&TTL, &a, Generation(0)),
            Err(e) => reply.error(e),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match self
            .child(parent, name)
            .and_then(|p| fs::remove_file(p).map_err(|e| errno(&e)))
        {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match self
            .child(parent, name)
            .and_then(|p| fs::remove_dir(p).map_err(|e| errno(&e)))
        {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        _flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let from = self.child(parent, name).unwrap_or_else(|_| name.into());
        let to = self
            .child(newparent, newname)
            .unwrap_or_else(|_| newname.into());
        let to = self.shown(&to);
        reply.error(self.refuse("rename", &from, format!("to {}", to.display())));
    }

    fn link(
        &self,
        _req: &Request,
        ino: INodeNo,
        _newparent: INodeNo,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        let from = self.path_of(ino).unwrap_or_else(|_| newname.into());
        reply.error(self.refuse("link", &from, "hard links are not supported".into()));
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        match self.do_open(ino, flags) {
            Ok(fh) => reply.opened(fh, FopenFlags::empty()),
            Err(e) => reply.error(e),
        }
    }

    fn create(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        match self.do_create(parent, name, mode, flags) {
            Ok((a, fh)) => reply.created(&TTL, &a, Generation(0), fh, FopenFlags::empty()),
            Err(e) => reply.error(e),
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let r = self.with_handle(fh, |h| {
            let mut buf = vec![0; size as usize];
            let mut n = 0;
            while n < buf.len() {
                match h.file.read_at(&mut buf[n..], offset + n as u64) {
                    Ok(0) => break,
                    Ok(k) => n += k,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(errno(&e)),
                }
            }
            buf.truncate(n);
            Ok(buf)
        });
        match r {
            Ok(b) => reply.data(&b),
            Err(e) => reply.error(e),
        }
    }

    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        match self.do_write(ino, fh, offset, data) {
            Ok(n) => reply.written(n),
            Err(e) => reply.error(e),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        self.lock().handles.remove(&fh.0);
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        match self.with_handle(fh, |h| h.file.sync_all().map_err(|e| errno(&e))) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        match self.do_readdir(ino) {
            Ok(entries) => {
                let skip = usize::try_from(offset).unwrap_or(usize::MAX);
                for (i, (ino, kind, name)) in entries.into_iter().enumerate().skip(skip) {
                    if reply.add(INodeNo(ino), i as u64 + 1, kind, name) {
                        break;
                    }
                }
                reply.ok();
            }
            Err(e) => reply.error(e),
        }
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let r = self.path_of(ino).and_then(|p| {
            File::open(p)
                .and_then(|f| f.sync_all())
                .map_err(|e| errno(&e))
        });
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(e),
        }
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        match nix::sys::statvfs::statvfs(&self.root) {
            Ok(s) => reply.statfs(
                s.blocks(),
                s.blocks_free(),
                s.blocks_available(),
                s.files(),
                s.files_free(),
                u32::try_from(s.block_size()).unwrap_or(4096),
                u32::try_from(s.name_max()).unwrap_or(255),
                u32::try_from(s.fragment_size()).unwrap_or(4096),
            ),
            Err(e) => reply.error(Errno::from_i32(e as i32)),
        }
    }

    fn access(&self, _req: &Request, _ino: INodeNo, _mask: fuser::AccessFlags, reply: ReplyEmpty) {
        reply.ok();
    }
}
