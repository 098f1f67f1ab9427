//! The sink: encodes batches into Parquet in memory and writes each finished file in one pass.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use arrow_array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::ArrowWriterOptions;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use super::config::{OutputMode, SinkConfig};
use super::io::{OsStorage, Storage};
use super::naming::{self, UtcTime};
use crate::columns::{COLUMNS, batch_schema, parquet_schema};

/// Footer key naming the program that wrote the file.
pub const META_WRITER: &str = "firn.writer";
/// Footer key naming the agent instance (process) that wrote the file.
pub const META_INSTANCE: &str = "firn.instance";
/// Footer key naming the agent (stable across restarts) that wrote the file.
pub const META_AGENT_ID: &str = "firn.agent_id";
/// Footer key: when the file was closed, ns since the epoch; the newest file of an agent
/// holds its latest source positions.
pub const META_CLOSED_AT: &str = "firn.closed_at_ns";
/// Footer key holding the row count.
pub const META_ROWS: &str = "firn.rows";
/// Footer key holding the positions of the sources up to the last row in the file (JSON),
/// set by the caller; how the agent resumes after a restart.
pub const META_SOURCE_POSITIONS: &str = "firn.source_positions";

/// What the sink can fail with. Write errors are not among them: those are retried.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Arrow or Parquet refused the data; a bug, not a condition to retry.
    #[error("cannot encode rows as Parquet: {0}")]
    Encode(#[from] parquet::errors::ParquetError),
    /// Files could not be written before the deadline; they are lost with the process.
    #[error(
        "{files} file(s) with {rows} row(s) could not be written to {dir} before the deadline: {last_error}"
    )]
    Undelivered {
        /// Files not written.
        files: usize,
        /// Rows in them.
        rows: u64,
        /// The output folder.
        dir: PathBuf,
        /// The last write error.
        last_error: String,
    },
}

/// A file that reached the output.
#[derive(Debug, Clone)]
pub struct WrittenFile {
    /// Its final path.
    pub path: PathBuf,
    /// Rows in it.
    pub rows: u64,
    /// Its size.
    pub bytes: u64,
    /// Its footer's key-value metadata set by the caller.
    pub metadata: BTreeMap<String, String>,
}

/// Counters of the sink, for the agent's own telemetry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SinkStats {
    /// Files that reached the output.
    pub files_written_total: u64,
    /// Rows in them.
    pub rows_written_total: u64,
    /// Their bytes.
    pub bytes_written_total: u64,
    /// Failed attempts to write a file (each retried).
    pub write_errors_total: u64,
    /// Closed files waiting to be written.
    pub files_pending: usize,
    /// Their bytes.
    pub bytes_pending: u64,
}

/// An in-memory file body in 1 MiB chunks: growing it never copies what is already there.
#[derive(Debug, Default)]
struct ChunkedBuf {
    chunks: Vec<Vec<u8>>,
    len: u64,
}

const CHUNK: usize = 1 << 20;

impl Write for ChunkedBuf {
    fn write(&mut self, mut buf: &[u8]) -> io::Result<usize> {
        let n = buf.len();
        while !buf.is_empty() {
            let need_new = self.chunks.last().is_none_or(|c| c.len() == c.capacity());
            if need_new {
                self.chunks.push(Vec::with_capacity(CHUNK));
            }
            if let Some(c) = self.chunks.last_mut() {
                let take = (c.capacity() - c.len()).min(buf.len());
                c.extend_from_slice(&buf[..take]);
                buf = &buf[take..];
            }
        }
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[derive(Debug)]
struct OpenFile {
    writer: ArrowWriter<ChunkedBuf>,
    opened: UtcTime,
    opened_at: Instant,
    rows: u64,
    metadata: BTreeMap<String, String>,
}

#[derive(Debug)]
struct SealedFile {
    body: ChunkedBuf,
    opened: UtcTime,
    seq: u64,
    rows: u64,
    metadata: BTreeMap<String, String>,
    attempts: u32,
    next_try: Instant,
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

/// Writes event-table batches into Parquet files in the output folder.
///
/// Each file is encoded in memory (compressed, in 1 MiB chunks) while it is open and written
/// out in one sequential pass when it is closed, by size or by age:
/// - in `local` mode as a hidden temporary file, fsynced, then renamed: no reader ever sees a
///   partial file;
/// - in `stage` mode under its final name, created once and never reopened or renamed, as a
///   stage volume requires.
///
/// A failed write (disk full, stage error) leaves the body in memory and is retried with
/// backoff under a new name; nothing already written is touched. While more than
/// `max_pending_bytes` wait, [`is_backpressured`](Self::is_backpressured) tells producers to
/// pause, which keeps memory bounded.
#[derive(Debug)]
pub struct ParquetSink {
    cfg: SinkConfig,
    storage: Box<dyn Storage>,
    props: Arc<WriterProperties>,
    current: Option<OpenFile>,
    sealed: VecDeque<SealedFile>,
    next_seq: u64,
    dirs: HashMap<PathBuf, DirState>,
    stats: SinkStats,
    written: Vec<WrittenFile>,
    episode: Option<Episode>,
}

fn writer_properties(cfg: &SinkConfig) -> WriterProperties {
    let mut b = WriterProperties::builder()
        .set_compression(cfg.compression)
        .set_max_row_group_row_count(Some(cfg.row_group_rows.max(1)))
        .set_created_by(format!(
            "{} (parquet-rs {})",
            cfg.writer_name,
            parquet::file::properties::DEFAULT_CREATED_BY
        ))
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_dictionary_enabled(true);
    for c in COLUMNS.iter() {
        if c.kind != crate::columns::ColumnKind::Json {
            continue;
        }
        let path = ColumnPath::from(c.name);
        // Min/max of JSON text prunes nothing and costs a compare per value.
        b = b.set_column_statistics_enabled(path.clone(), EnabledStatistics::None);
        // Repeated values gain from a dictionary; log lines and trace ids do not, and trying
        // costs time on the hottest column.
        if !c.dictionary {
            b = b.set_column_dictionary_enabled(path, false);
        }
    }
    let ts = ColumnPath::from("TIMESTAMP");
    b = b.set_column_statistics_enabled(ts, EnabledStatistics::Page);
    b.build()
}

impl ParquetSink {
    /// A sink writing through the real file system.
    pub fn new(cfg: SinkConfig) -> Self {
        Self::with_storage(cfg, Box::new(OsStorage))
    }

    /// A sink writing through `storage`.
    pub fn with_storage(cfg: SinkConfig, storage: Box<dyn Storage>) -> Self {
        let props = Arc::new(writer_properties(&cfg));
        Self {
            cfg,
            storage,
            props,
            current: None,
            sealed: VecDeque::new(),
            next_seq: 0,
            dirs: HashMap::new(),
            stats: SinkStats::default(),
            written: Vec::new(),
            episode: None,
        }
    }

    /// The settings.
    pub fn config(&self) -> &SinkConfig {
        &self.cfg
    }

    /// Counters so far.
    pub fn stats(&self) -> SinkStats {
        let mut s = self.stats.clone();
        s.files_pending = self.sealed.len();
        s.bytes_pending = self.sealed.iter().map(|f| f.body.len).sum();
        s
    }

    /// Files written since the last call.
    pub fn take_written(&mut self) -> Vec<WrittenFile> {
        std::mem::take(&mut self.written)
    }

    /// Rows accepted but not yet in a written file.
    pub fn rows_in_flight(&self) -> u64 {
        self.current.as_ref().map_or(0, |c| c.rows)
            + self.sealed.iter().map(|f| f.rows).sum::<u64>()
    }

    /// True while closed files wait beyond `max_pending_bytes`: producers should pause.
    pub fn is_backpressured(&self) -> bool {
        self.sealed.iter().map(|f| f.body.len).sum::<u64>() >= self.cfg.max_pending_bytes
    }

    /// Appends a batch (of [`batch_schema`]) to the open file, opening one if needed, and sets
    /// footer metadata of that file (`metadata` replaces earlier values of the same keys, so
    /// source positions written with a batch describe the file that holds it). Closes the
    /// file when it reaches its size limit, then tries to write closed files.
    ///
    /// # Errors
    /// Only when Parquet cannot encode the batch.
    pub fn write(
        &mut self,
        batch: &RecordBatch,
        metadata: &[(&str, String)],
    ) -> Result<(), SinkError> {
        if batch.num_rows() == 0 && metadata.is_empty() {
            return Ok(());
        }
        let file = match &mut self.current {
            Some(f) => f,
            None => {
                let options = ArrowWriterOptions::new()
                    .with_properties((*self.props).clone())
                    .with_parquet_schema(parquet_schema())
                    .with_skip_arrow_metadata(true);
                let writer = ArrowWriter::try_new_with_options(
                    ChunkedBuf::default(),
                    batch_schema(),
                    options,
                )?;
                self.current.insert(OpenFile {
                    writer,
                    opened: UtcTime::from_system(SystemTime::now()),
                    opened_at: Instant::now(),
                    rows: 0,
                    metadata: BTreeMap::new(),
                })
            }
        };
        if batch.num_rows() > 0 {
            file.writer.write(batch)?;
            file.rows += batch.num_rows() as u64;
        }
        for (k, v) in metadata {
            file.metadata.insert((*k).to_string(), v.clone());
        }
        let size = file.writer.bytes_written() + file.writer.in_progress_size();
        if size as u64 >= self.cfg.max_file_bytes {
            self.seal()?;
        }
        self.write_pending(Instant::now());
        Ok(())
    }

    /// Closes the open file if it is older than `max_file_age`, and retries closed files
    /// whose time has come. Call it about once a second.
    ///
    /// # Errors
    /// Only when Parquet cannot finish a file.
    pub fn tick(&mut self, now: Instant) -> Result<(), SinkError> {
        if let Some(f) = &self.current
            && now.duration_since(f.opened_at) >= self.cfg.max_file_age
        {
            self.seal()?;
        }
        self.write_pending(now);
        Ok(())
    }

    /// Closes the open file now (whatever its size or age) and tries to write it.
    ///
    /// # Errors
    /// Only when Parquet cannot finish the file.
    pub fn flush(&mut self) -> Result<(), SinkError> {
        self.seal()?;
        self.write_pending(Instant::now());
        Ok(())
    }

    /// Closes the open file and keeps trying to write every closed file until `deadline`.
    ///
    /// # Errors
    /// [`SinkError::Undelivered`] when files remain at the deadline.
    pub fn close(&mut self, deadline: Instant) -> Result<(), SinkError> {
        self.seal()?;
        loop {
            let now = Instant::now();
            self.write_pending(now);
            let Some(next) = self.sealed.front() else {
                return Ok(());
            };
            if now >= deadline {
                return Err(SinkError::Undelivered {
                    files: self.sealed.len(),
                    rows: self.sealed.iter().map(|f| f.rows).sum(),
                    dir: self.cfg.dir.clone(),
                    last_error: self
                        .episode
                        .as_ref()
                        .map_or_else(String::new, |e| e.last_error.clone()),
                });
            }
            let wake = next.next_try.min(deadline);
            std::thread::sleep(
                wake.saturating_duration_since(now)
                    .max(Duration::from_millis(10)),
            );
        }
    }

    fn seal(&mut self) -> Result<(), SinkError> {
        let Some(mut f) = self.current.take() else {
            return Ok(());
        };
        if f.rows == 0 && f.metadata.is_empty() {
            return Ok(());
        }
        // A file with no rows but new metadata is still written: it carries source
        // positions that moved without rows (lines filtered out, a copy opened past its
        // start), and losing them would mean reading those lines again after a restart.
        let mut kv = vec![
            KeyValue::new(META_WRITER.to_string(), self.cfg.writer_name.clone()),
            KeyValue::new(META_INSTANCE.to_string(), self.cfg.instance_id.clone()),
            KeyValue::new(META_AGENT_ID.to_string(), self.cfg.agent_id.clone()),
            KeyValue::new(META_CLOSED_AT.to_string(), naming::now_ns().to_string()),
            KeyValue::new(META_ROWS.to_string(), f.rows.to_string()),
        ];
        kv.extend(
            f.metadata
                .iter()
                .map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
        );
        for k in kv {
            f.writer.append_key_value_metadata(k);
        }
        let body = f.writer.into_inner()?;
        let seq = self.next_seq;
        self.next_seq += 1;
        self.sealed.push_back(SealedFile {
            body,
            opened: f.opened,
            seq,
            rows: f.rows,
            metadata: f.metadata,
            attempts: 0,
            // Due at once, whatever `now` the caller passes next.
            next_try: f.opened_at,
        });
        Ok(())
    }

    /// Writes closed files in order; stops at the first that fails or is not due.
    fn write_pending(&mut self, now: Instant) {
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
                    self.stats.files_written_total += 1;
                    self.stats.rows_written_total += f.rows;
                    self.stats.bytes_written_total += f.body.len;
                    self.written.push(WrittenFile {
                        path,
                        rows: f.rows,
                        bytes: f.body.len,
                        metadata: f.metadata,
                    });
                }
                Err((path, err)) => {
                    self.stats.write_errors_total += 1;
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
        let result = match self.cfg.mode {
            OutputMode::Local => {
                let tmp = dir.join(naming::temp_name(&name));
                let r = write_local(storage, &dir, &tmp, &path, body);
                if r.is_err() {
                    let _ = storage.remove_file(&tmp);
                }
                r.map_err(|e| (tmp, e))
            }
            OutputMode::Stage => {
                let r = write_stage(storage, &dir, &path, body);
                if let Err(e) = &r
                    && e.kind() != io::ErrorKind::AlreadyExists
                {
                    // Our own partial file: no reader may take it for a whole one.
                    let _ = storage.remove_file(&path);
                }
                r.map_err(|e| (path.clone(), e))
            }
        };
        if result.is_err()
            && let Some(state) = self.dirs.get_mut(&dir)
        {
            state.files = state.files.saturating_sub(1);
        }
        result.map(|()| path)
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
