//! Writes finished files on a thread of their own, in order, retrying failures with backoff,
//! so the sink encodes the next file while one is written and fsynced.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

use super::config::{OutputMode, SinkConfig};
use super::file::{ChunkedBuf, WrittenFile};
use super::io::Storage;
use super::naming::{self, UtcTime};

/// A file closed by the sink, waiting to be written.
#[derive(Debug)]
pub(super) struct SealedFile {
    pub(super) body: ChunkedBuf,
    pub(super) opened: UtcTime,
    pub(super) seq: u64,
    pub(super) rows: u64,
    pub(super) metadata: std::collections::BTreeMap<String, String>,
    pub(super) attempts: u32,
    pub(super) next_try: Instant,
}

/// What the sink asks of the worker.
#[derive(Debug)]
pub(super) enum Job {
    /// Write this file after those before it.
    File(SealedFile),
    /// Try every file that is due now, then answer.
    Barrier(Sender<()>),
    /// Keep trying until everything is written or the deadline passes, then stop.
    Close(Instant),
}

/// What the worker tells the sink.
#[derive(Debug)]
pub(super) enum Report {
    /// A file reached the output.
    Written(WrittenFile),
    /// An attempt failed (it will be retried).
    WriteError,
    /// The worker stopped after `Close`; what it could not write.
    Closed(Option<(usize, u64, String)>),
    /// With `fail_fast`: a write failed in a way retrying cannot cure.
    Permanent(String),
}

/// Errors no retry cures: the output folder is not writable or not a folder.
pub(super) fn is_permanent(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EACCES | libc::EPERM | libc::EROFS | libc::ENOTDIR)
    )
}

#[derive(Debug, Default)]
struct DirState {
    files: usize,
    spill: usize,
}

#[derive(Debug)]
struct Episode {
    failures: u64,
    since: Instant,
    last_error: String,
}

/// Owns the storage and the queue of files to write.
#[derive(Debug)]
pub(super) struct Worker {
    cfg: SinkConfig,
    storage: Box<dyn Storage>,
    sealed: VecDeque<SealedFile>,
    dirs: HashMap<PathBuf, DirState>,
    episode: Option<Episode>,
    reports: Sender<Report>,
    /// Failed attempts whose removal failed too: tried again after each file written.
    stale: Vec<PathBuf>,
    /// A permanent error seen with `fail_fast`: nothing more is tried.
    permanent: Option<String>,
}

impl Worker {
    pub(super) fn new(cfg: SinkConfig, storage: Box<dyn Storage>) -> (Self, Receiver<Report>) {
        let (reports, rx) = channel();
        (
            Self {
                cfg,
                storage,
                sealed: VecDeque::new(),
                dirs: HashMap::new(),
                episode: None,
                reports,
                stale: Vec::new(),
                permanent: None,
            },
            rx,
        )
    }

    /// Runs the worker on its own thread until the sink is dropped or closes it.
    pub(super) fn run(mut self, jobs: &Receiver<Job>) {
        loop {
            let job = match self.sealed.front() {
                Some(front) => {
                    let wait = front.next_try.saturating_duration_since(Instant::now());
                    match jobs.recv_timeout(wait) {
                        Ok(j) => Some(j),
                        Err(RecvTimeoutError::Timeout) => None,
                        // The sink is gone without closing (a crash test, or a panic): files
                        // not yet written are dropped, as a kill would.
                        Err(RecvTimeoutError::Disconnected) => return,
                    }
                }
                None => match jobs.recv() {
                    Ok(j) => Some(j),
                    Err(_) => return,
                },
            };
            match job {
                Some(Job::Close(deadline)) => {
                    self.close(deadline);
                    return;
                }
                Some(j) => self.handle(j),
                None => self.write_pending(Instant::now()),
            }
        }
    }

    /// Handles one job (also used when no thread could be started).
    pub(super) fn handle(&mut self, job: Job) {
        match job {
            Job::File(f) => {
                self.sealed.push_back(f);
                self.write_pending(Instant::now());
            }
            Job::Barrier(reply) => {
                self.write_pending(Instant::now());
                let _ = reply.send(());
            }
            Job::Close(deadline) => self.close(deadline),
        }
    }

    /// Writes the files that are due (for a worker without a thread of its own).
    pub(super) fn retry_due(&mut self, now: Instant) {
        self.write_pending(now);
    }

    fn close(&mut self, deadline: Instant) {
        loop {
            let now = Instant::now();
            self.write_pending(now);
            let Some(next) = self.sealed.front() else {
                self.retry_stale();
                let _ = self.reports.send(Report::Closed(None));
                return;
            };
            if now >= deadline || self.permanent.is_some() {
                let _ = self.reports.send(Report::Closed(Some((
                    self.sealed.len(),
                    self.sealed.iter().map(|f| f.rows).sum(),
                    self.permanent.clone().unwrap_or_else(|| {
                        self.episode
                            .as_ref()
                            .map_or_else(String::new, |e| e.last_error.clone())
                    }),
                ))));
                return;
            }
            let wake = next.next_try.min(deadline);
            std::thread::sleep(
                wake.saturating_duration_since(now)
                    .max(Duration::from_millis(10)),
            );
        }
    }

    /// Writes closed files in order; stops at the first that fails or is not due.
    fn write_pending(&mut self, now: Instant) {
        if self.permanent.is_some() {
            return;
        }
        while let Some(f) = self.sealed.front() {
            if f.next_try > now {
                return;
            }
            let Some(mut f) = self.sealed.pop_front() else {
                return;
            };
            match self.write_file(&f) {
                Ok(path) => {
                    if let Some(e) = self.episode.take() {
                        tracing::info!(
                            dir = %self.cfg.dir.display(),
                            failures = e.failures,
                            seconds = e.since.elapsed().as_secs(),
                            "Output writable again"
                        );
                    }
                    let _ = self.reports.send(Report::Written(WrittenFile {
                        path,
                        rows: f.rows,
                        bytes: f.body.len,
                        metadata: f.metadata,
                    }));
                }
                Err((path, err)) => {
                    let _ = self.reports.send(Report::WriteError);
                    if self.cfg.fail_fast && is_permanent(&err) {
                        let msg = format!("{}: {err}", path.display());
                        tracing::error!(path = %path.display(), error = %err, "Cannot write output file, and retrying will not help");
                        self.permanent = Some(msg.clone());
                        let _ = self.reports.send(Report::Permanent(msg));
                        self.sealed.push_front(f);
                        return;
                    }
                    f.attempts += 1;
                    let backoff = Duration::from_millis(500)
                        .saturating_mul(1 << f.attempts.min(6))
                        .min(Duration::from_secs(30));
                    f.next_try = now + backoff;
                    match &mut self.episode {
                        None => {
                            tracing::warn!(
                                path = %path.display(),
                                error = %err,
                                rows = f.rows,
                                "Cannot write output file; keeping it in memory and retrying"
                            );
                            self.episode = Some(Episode {
                                failures: 1,
                                since: now,
                                last_error: format!("{}: {err}", path.display()),
                            });
                        }
                        Some(e) => {
                            e.failures += 1;
                            e.last_error = format!("{}: {err}", path.display());
                            tracing::debug!(path = %path.display(), error = %err, "Retry failed");
                        }
                    }
                    self.sealed.push_front(f);
                    return;
                }
            }
        }
    }

    /// The folder for a file opened at `opened`, spilling to `part-N/` once a folder holds
    /// `max_files_per_dir` entries.
    fn target_dir(&mut self, opened: &UtcTime) -> io::Result<PathBuf> {
        let base = if self.cfg.partition_by_hour {
            self.cfg.dir.join(opened.partition())
        } else {
            self.cfg.dir.clone()
        };
        if !self.dirs.contains_key(&base) {
            let files = self.storage.count_entries(&base)?;
            self.dirs.insert(base.clone(), DirState { files, spill: 0 });
        }
        let limit = self.cfg.max_files_per_dir.max(1);
        loop {
            let Some(state) = self.dirs.get_mut(&base) else {
                return Ok(base);
            };
            let dir = if state.spill == 0 {
                base.clone()
            } else {
                base.join(format!("part-{}", state.spill))
            };
            if state.files < limit {
                state.files += 1;
                return Ok(dir);
            }
            state.spill += 1;
            let next = base.join(format!("part-{}", state.spill));
            // Part folders count only their own files.
            state.files = self.storage.count_entries(&next)?;
        }
    }

    fn write_file(&mut self, f: &SealedFile) -> Result<PathBuf, (PathBuf, io::Error)> {
        let dir = self
            .target_dir(&f.opened)
            .map_err(|e| (self.cfg.dir.clone(), e))?;
        let name = naming::file_name(&f.opened, &self.cfg.instance_id, f.seq, f.attempts);
        let path = dir.join(&name);
        let storage = &*self.storage;
        let body = &f.body;
        // What a failed attempt left behind: our own partial file, which no reader may take
        // for a whole one.
        let (result, leftover) = match self.cfg.mode {
            OutputMode::Local => {
                let tmp = dir.join(naming::temp_name(&name));
                let r = write_local(storage, &dir, &tmp, &path, body);
                let left = r.is_err().then(|| tmp.clone());
                (r.map_err(|e| (tmp, e)), left)
            }
            OutputMode::Stage => {
                let r = write_stage(storage, &dir, &path, body);
                let left = r
                    .as_ref()
                    .err()
                    .filter(|e| e.kind() != io::ErrorKind::AlreadyExists)
                    .map(|_| path.clone());
                (r.map_err(|e| (path.clone(), e)), left)
            }
        };
        if let Some(p) = leftover {
            self.discard(p);
        }
        if result.is_err()
            && let Some(state) = self.dirs.get_mut(&dir)
        {
            state.files = state.files.saturating_sub(1);
        }
        if result.is_ok() {
            self.retry_stale();
        }
        result.map(|()| path)
    }

    /// Removes a failed attempt, trying again a little later; when that fails too, logs it
    /// and keeps it to try again after the next file written (and recovery at the next start
    /// removes it at the latest).
    fn discard(&mut self, path: PathBuf) {
        let storage = &*self.storage;
        match super::leftovers::remove_with_retry(&path, |p| storage.remove_file(p)) {
            Ok(()) => {}
            Err(e) => {
                tracing::error!(path = %path.display(), error = %e, "Cannot remove the partial file of a failed write; will try again after the next file is written");
                self.stale.push(path);
            }
        }
    }

    fn retry_stale(&mut self) {
        let storage = &*self.storage;
        self.stale.retain(|p| match storage.remove_file(p) {
            Ok(()) => {
                tracing::info!(path = %p.display(), "Removed the partial file of a failed write");
                false
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => false,
            Err(_) => true,
        });
    }
}

fn write_body(out: &mut dyn Write, body: &ChunkedBuf) -> io::Result<()> {
    for c in &body.chunks {
        out.write_all(c)?;
    }
    out.flush()
}

fn write_local(
    storage: &dyn Storage,
    dir: &Path,
    tmp: &Path,
    path: &Path,
    body: &ChunkedBuf,
) -> io::Result<()> {
    storage.create_dir_all(dir)?;
    let mut f = storage.create_new(tmp)?;
    write_body(&mut *f, body)?;
    f.sync()?;
    drop(f);
    storage.rename(tmp, path)?;
    storage.sync_dir(dir)
}

fn write_stage(
    storage: &dyn Storage,
    dir: &Path,
    path: &Path,
    body: &ChunkedBuf,
) -> io::Result<()> {
    storage.create_dir_all(dir)?;
    let mut f = storage.create_new(path)?;
    write_body(&mut *f, body)?;
    match f.sync() {
        // FUSE file systems may not implement fsync; the close below is what uploads.
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::ENOSYS | libc::EINVAL | libc::ENOTSUP)
            ) => {}
        r => r?,
    }
    drop(f);
    Ok(())
}
