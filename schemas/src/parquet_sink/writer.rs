//! The sink: encodes batches into Parquet in memory and writes each finished file in one pass.

use std::collections::{BTreeMap, VecDeque};
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Instant, SystemTime};

use arrow_array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::ArrowWriterOptions;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use super::config::SinkConfig;
use super::file::{
    ChunkedBuf, META_AGENT_ID, META_CLOSED_AT, META_INSTANCE, META_ROWS, META_WRITER, WrittenFile,
};
use super::io::{OsStorage, Storage};
use super::io_worker::{Job, Report, SealedFile, Worker};
use super::naming::{self, UtcTime};
use crate::columns::{COLUMNS, batch_schema, parquet_schema};

/// What the sink can fail with. Write errors are not among them: those are retried.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Arrow or Parquet refused the data; a bug, not a condition to retry.
    #[error("cannot encode rows as Parquet: {0}")]
    Encode(#[from] parquet::errors::ParquetError),
    /// With `fail_fast`: a write failed in a way no retry cures.
    #[error(
        "cannot write to the output folder {dir}: {error}; retrying will not help: fix the folder (permissions, a read-only mount, a file where a folder should be) or give another --output"
    )]
    Permanent {
        /// The output folder.
        dir: PathBuf,
        /// The failed call.
        error: String,
    },
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

#[derive(Debug)]
struct OpenFile {
    writer: ArrowWriter<ChunkedBuf>,
    opened: UtcTime,
    opened_at: Instant,
    rows: u64,
    metadata: BTreeMap<String, String>,
}

/// Writes event-table batches into Parquet files in the output folder.
///
/// Each file is encoded in memory (compressed, in 1 MiB chunks) while it is open and written
/// out in one sequential pass when it is closed, by size or by age, by a thread of its own
/// (so the next file is encoded meanwhile; files are written in the order they were closed):
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
    props: Arc<WriterProperties>,
    current: Option<OpenFile>,
    next_seq: u64,
    stats: SinkStats,
    written: Vec<WrittenFile>,
    io: Io,
    reports: Receiver<Report>,
    /// Files handed to the worker and not yet reported written: (bytes, rows) each.
    pending: VecDeque<(u64, u64)>,
    /// Set when the worker stopped after a close.
    undelivered: Option<Option<(usize, u64, String)>>,
    /// A permanent write error (with `fail_fast`).
    permanent: Option<String>,
}

/// Where closed files go to be written.
#[derive(Debug)]
enum Io {
    /// The worker thread.
    Thread(Option<Sender<Job>>, Option<std::thread::JoinHandle<()>>),
    /// No thread could be started: written on the caller's thread.
    Inline(Box<Worker>),
}

fn writer_properties(cfg: &SinkConfig) -> WriterProperties {
    let mut b = WriterProperties::builder()
        .set_compression(cfg.compression)
        .set_max_row_group_row_count(Some(cfg.row_group_rows.max(1)))
        // A page being filled is counted at its size before compression when a file's size
        // is estimated: small files get small pages, so the estimate stays close (1 MiB, the
        // Parquet default, from 8 MiB files up).
        .set_data_page_size_limit(page_size_limit(cfg.max_file_bytes))
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

/// Data page size for files of `max_file_bytes`: an eighth of it, from 8 KiB to 1 MiB.
fn page_size_limit(max_file_bytes: u64) -> usize {
    usize::try_from(max_file_bytes / 8)
        .unwrap_or(usize::MAX)
        .clamp(8 << 10, 1 << 20)
}

/// An upper bound on a footer: the schema and file metadata, each row group's column
/// chunks with their statistics and page indexes, and the key-value metadata.
fn footer_estimate(row_groups: usize, meta_bytes: u64) -> u64 {
    // Measured: 1.0 KiB and 1.2 KiB per row group of 13 columns; the page indexes grow
    // with the pages, about 64 of them in a file whatever its limit (pages are an eighth
    // of it, compressing to less).
    const FIXED: u64 = 3 << 10;
    const PER_ROW_GROUP: u64 = 2 << 10;
    FIXED + PER_ROW_GROUP * row_groups as u64 + meta_bytes
}

/// The bytes of a batch's values as plainly encoded: what it adds to a file at most
/// (before compression; lengths and offsets included).
fn raw_bytes(batch: &RecordBatch) -> u64 {
    use arrow_array::Array;
    batch
        .columns()
        .iter()
        .map(|c| {
            let rows = c.len() as u64;
            match c.as_any().downcast_ref::<arrow_array::StringArray>() {
                Some(s) => {
                    let o = s.value_offsets();
                    let data = match (o.first(), o.last()) {
                        (Some(a), Some(b)) => u64::try_from(b - a).unwrap_or(0),
                        _ => 0,
                    };
                    data + 4 * rows
                }
                None => 8 * rows,
            }
        })
        .sum()
}

impl ParquetSink {
    /// A sink writing through the real file system.
    pub fn new(cfg: SinkConfig) -> Self {
        Self::with_storage(cfg, Box::new(OsStorage))
    }

    /// A sink writing through `storage`.
    pub fn with_storage(cfg: SinkConfig, storage: Box<dyn Storage>) -> Self {
        Self::start(cfg, storage, |f| {
            std::thread::Builder::new()
                .name("firn-files".into())
                .spawn(f)
        })
    }

    /// As [`with_storage`](Self::with_storage), starting the file thread with `spawn`. When
    /// `spawn` fails, files are written on the sink's own thread, through the same storage
    /// and with the same reports: slower (encoding waits for each write), never lost.
    pub(super) fn start(
        cfg: SinkConfig,
        storage: Box<dyn Storage>,
        spawn: impl FnOnce(Box<dyn FnOnce() + Send>) -> io::Result<std::thread::JoinHandle<()>>,
    ) -> Self {
        let props = Arc::new(writer_properties(&cfg));
        let (worker, reports) = Worker::new(cfg.clone(), storage);
        let (jobs, jobs_rx) = channel();
        // The worker goes to the thread only once it runs: a failed spawn drops the closure,
        // and the worker (with its storage and report sender) must outlive that.
        let (hand_over, take) = channel::<Worker>();
        let io = match spawn(Box::new(move || {
            if let Ok(w) = take.recv() {
                w.run(&jobs_rx);
            }
        })) {
            Ok(handle) => {
                // The thread holds the receiving end until the worker arrives.
                let _ = hand_over.send(worker);
                Io::Thread(Some(jobs), Some(handle))
            }
            Err(e) => {
                tracing::warn!(error = %e, "Cannot start the file-writing thread; writing files on the sink's thread");
                Io::Inline(Box::new(worker))
            }
        };
        Self {
            cfg,
            props,
            current: None,
            next_seq: 0,
            stats: SinkStats::default(),
            written: Vec::new(),
            io,
            reports,
            pending: VecDeque::new(),
            undelivered: None,
            permanent: None,
        }
    }

    fn send(&mut self, job: Job) {
        match &mut self.io {
            Io::Thread(tx, _) => {
                // The worker only stops after Close, or when the sink is dropped.
                if let Some(tx) = tx {
                    let _ = tx.send(job);
                }
            }
            Io::Inline(w) => w.handle(job),
        }
    }

    /// Takes in what the worker has reported.
    fn drain_reports(&mut self) {
        while let Ok(r) = self.reports.try_recv() {
            self.apply(r);
        }
    }

    fn apply(&mut self, r: Report) {
        match r {
            Report::Written(w) => {
                self.pending.pop_front();
                self.stats.files_written_total += 1;
                self.stats.rows_written_total += w.rows;
                self.stats.bytes_written_total += w.bytes;
                self.written.push(w);
            }
            Report::WriteError => self.stats.write_errors_total += 1,
            Report::Permanent(e) => self.permanent = Some(e),
            Report::Closed(u) => self.undelivered = Some(u),
        }
    }

    /// Waits until the worker has tried every file that is due.
    fn barrier(&mut self) {
        let (tx, rx) = channel();
        self.send(Job::Barrier(tx));
        let _ = rx.recv();
        self.drain_reports();
    }

    /// The settings.
    pub fn config(&self) -> &SinkConfig {
        &self.cfg
    }

    /// Counters so far.
    pub fn stats(&mut self) -> SinkStats {
        self.drain_reports();
        let mut s = self.stats.clone();
        s.files_pending = self.pending.len();
        s.bytes_pending = self.pending.iter().map(|p| p.0).sum();
        s
    }

    /// Files written since the last call.
    pub fn take_written(&mut self) -> Vec<WrittenFile> {
        self.drain_reports();
        std::mem::take(&mut self.written)
    }

    /// Rows accepted but not yet in a written file.
    pub fn rows_in_flight(&mut self) -> u64 {
        self.drain_reports();
        self.current.as_ref().map_or(0, |c| c.rows) + self.pending.iter().map(|p| p.1).sum::<u64>()
    }

    /// True while closed files wait beyond `max_pending_bytes`: producers should pause.
    pub fn is_backpressured(&mut self) -> bool {
        self.drain_reports();
        self.pending.iter().map(|p| p.0).sum::<u64>() >= self.cfg.max_pending_bytes
    }

    /// Appends a batch (of [`batch_schema`]) to the open file, opening one if needed, and sets
    /// footer metadata of that file (`metadata` replaces earlier values of the same keys, so
    /// source positions written with a batch describe the file that holds it). Closes the
    /// file when it reaches its size limit, then tries to write closed files.
    ///
    /// A file stays under `max_file_bytes`, footer included. A batch that fits even if it
    /// did not compress at all is appended; near the limit, the open row group is cut (so
    /// the file's size is known exactly) and the batch is encoded on the side to learn its
    /// size: it is appended if that fits, or starts the next file, whole. Only a batch too
    /// big for an empty file is split; only its last part carries `metadata`, so positions
    /// never claim rows that are not written yet (after a crash between the parts, those
    /// rows are read again rather than lost).
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
        let limit = self.cfg.max_file_bytes;
        let mut rest = batch.clone();
        loop {
            let rows = rest.num_rows();
            let has_rows = self.current.as_ref().is_some_and(|f| f.rows > 0);
            let mut fits = rows == 0
                || raw_bytes(&rest) <= limit.saturating_sub(self.estimated_size(metadata));
            let mut take = rows;
            if !fits {
                // Near the limit: cut the row group, so what the file holds is measured, not
                // estimated, and learn what the batch takes once encoded.
                if let Some(f) = &mut self.current
                    && f.writer.in_progress_rows() > 0
                {
                    f.writer.flush()?;
                }
                let headroom = limit.saturating_sub(self.estimated_size(metadata));
                if has_rows && headroom < limit / 32 {
                    self.seal()?;
                    continue;
                }
                let encoded = self.encoded_size(&rest)?;
                fits = encoded <= headroom;
                let new_meta = metadata
                    .iter()
                    .map(|(k, v)| (k.len() + v.len()) as u64)
                    .sum();
                let empty_file = limit.saturating_sub(footer_estimate(1, new_meta));
                if !fits && has_rows && encoded <= empty_file {
                    // It fits a file of its own: close this one, the batch starts the next.
                    self.seal()?;
                    continue;
                }
                if !fits && (has_rows || headroom >= limit / 4) {
                    // Bigger than a whole file: the share that fits here, checked (rows
                    // differ in size).
                    let share = (rows as u64).saturating_mul(headroom) / encoded.max(1);
                    take = usize::try_from(share).unwrap_or(rows).min(rows - 1);
                    while take > 0 && self.encoded_size(&rest.slice(0, take))? > headroom {
                        take = take * 3 / 4;
                    }
                    if take == 0 {
                        if has_rows {
                            self.seal()?;
                            continue;
                        }
                        // One row bigger than a quarter of a file: it goes alone.
                        take = 1;
                    }
                }
                // Otherwise the footer alone is near the limit (positions of very many
                // files): the batch goes whole rather than a few rows per file.
            }
            let last = take == rows;
            let file = self.open_file()?;
            if take > 0 {
                file.writer.write(&rest.slice(0, take))?;
                file.rows += take as u64;
            }
            // Earlier parts of a split batch carry none of its metadata: a restart resumes
            // from the newest file that has positions, before them.
            if last {
                for (k, v) in metadata {
                    file.metadata.insert((*k).to_string(), v.clone());
                }
            }
            // A file that is full is closed by the next batch, which measures it first: the
            // estimate overstates what was just appended (counted before compression).
            if !last {
                self.seal()?;
            }
            if last {
                break;
            }
            rest = rest.slice(take, rows - take);
        }
        self.drain_reports();
        Ok(())
    }

    /// What `batch` takes encoded as a row group of its own, with this sink's settings.
    fn encoded_size(&self, batch: &RecordBatch) -> Result<u64, SinkError> {
        let options = ArrowWriterOptions::new()
            .with_properties((*self.props).clone())
            .with_parquet_schema(parquet_schema())
            .with_skip_arrow_metadata(true);
        let mut w = ArrowWriter::try_new_with_options(io::sink(), batch_schema(), options)?;
        w.write(batch)?;
        w.flush()?;
        // Less the 4-byte magic that starts a file.
        Ok(w.bytes_written().saturating_sub(4) as u64)
    }

    /// The open file, opening one if there is none.
    fn open_file(&mut self) -> Result<&mut OpenFile, SinkError> {
        if self.current.is_none() {
            let options = ArrowWriterOptions::new()
                .with_properties((*self.props).clone())
                .with_parquet_schema(parquet_schema())
                .with_skip_arrow_metadata(true);
            let writer =
                ArrowWriter::try_new_with_options(ChunkedBuf::default(), batch_schema(), options)?;
            self.current = Some(OpenFile {
                writer,
                opened: UtcTime::from_system(SystemTime::now()),
                opened_at: Instant::now(),
                rows: 0,
                metadata: BTreeMap::new(),
            });
        }
        match &mut self.current {
            Some(f) => Ok(f),
            None => unreachable!("opened above"),
        }
    }

    /// What the open file would take if it were closed now, with `metadata` set: its
    /// encoded pages (the page being filled counted before compression, so this is an upper
    /// bound) plus its footer.
    fn estimated_size(&self, metadata: &[(&str, String)]) -> u64 {
        let new: u64 = metadata
            .iter()
            .map(|(k, v)| (k.len() + v.len()) as u64)
            .sum();
        match &self.current {
            None => footer_estimate(1, new),
            Some(f) => {
                let kept: u64 = f
                    .metadata
                    .iter()
                    .filter(|(k, _)| !metadata.iter().any(|(n, _)| n == k))
                    .map(|(k, v)| (k.len() + v.len()) as u64)
                    .sum();
                (f.writer.bytes_written() + f.writer.in_progress_size()) as u64
                    + footer_estimate(f.writer.flushed_row_groups().len() + 1, kept + new)
            }
        }
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
        // Without a thread of its own the worker retries only when asked.
        if let Io::Inline(w) = &mut self.io {
            w.retry_due(now);
        }
        self.drain_reports();
        Ok(())
    }

    /// Closes the open file now, whatever its size or age, and hands it to the writer
    /// thread without waiting for the write (a full spool needs it written to make room).
    ///
    /// # Errors
    /// Only when Parquet cannot finish the file.
    pub fn close_open_file(&mut self) -> Result<(), SinkError> {
        self.seal()?;
        self.drain_reports();
        Ok(())
    }

    /// Rows in the open file (not yet closed).
    pub fn open_file_rows(&self) -> u64 {
        self.current.as_ref().map_or(0, |c| c.rows)
    }

    /// A write error that retrying cannot cure, when [`SinkConfig::fail_fast`] is set.
    pub fn permanent_error(&mut self) -> Option<String> {
        self.drain_reports();
        self.permanent.clone()
    }

    /// Closes the open file now (whatever its size or age) and tries to write it.
    ///
    /// # Errors
    /// Only when Parquet cannot finish the file.
    pub fn flush(&mut self) -> Result<(), SinkError> {
        self.seal()?;
        self.barrier();
        Ok(())
    }

    /// Closes the open file and keeps trying to write every closed file until `deadline`.
    ///
    /// # Errors
    /// [`SinkError::Undelivered`] when files remain at the deadline.
    pub fn close(&mut self, deadline: Instant) -> Result<(), SinkError> {
        self.seal()?;
        if self.undelivered.is_none() {
            self.send(Job::Close(deadline));
            while self.undelivered.is_none() {
                match self.reports.recv() {
                    Ok(r) => self.apply(r),
                    // The worker is gone: nothing more will be written.
                    Err(_) => break,
                }
            }
        }
        if let Some(error) = self.permanent.clone() {
            return Err(SinkError::Permanent {
                dir: self.cfg.dir.clone(),
                error,
            });
        }
        match self.undelivered.clone().flatten() {
            None if self.pending.is_empty() => Ok(()),
            None => Err(SinkError::Undelivered {
                files: self.pending.len(),
                rows: self.pending.iter().map(|p| p.1).sum(),
                dir: self.cfg.dir.clone(),
                last_error: "the file-writing thread stopped".into(),
            }),
            Some((files, rows, last_error)) => Err(SinkError::Undelivered {
                files,
                rows,
                dir: self.cfg.dir.clone(),
                last_error,
            }),
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
        self.pending.push_back((body.len, f.rows));
        self.send(Job::File(SealedFile {
            body,
            opened: f.opened,
            seq,
            rows: f.rows,
            metadata: f.metadata,
            attempts: 0,
            // Due at once.
            next_try: f.opened_at,
        }));
        Ok(())
    }
}

impl Drop for ParquetSink {
    /// Stops the file thread and waits for it: a file it is writing is finished, files not
    /// started are dropped (`close` is how everything gets written). Nothing is written
    /// after the sink is gone, as after a kill.
    fn drop(&mut self) {
        if let Io::Thread(tx, handle) = &mut self.io {
            drop(tx.take());
            if let Some(h) = handle.take() {
                let _ = h.join();
            }
        }
    }
}
