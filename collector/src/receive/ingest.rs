//! From a decoded request to durable rows: check limits, map to rows, hand the batch to the
//! writer thread, and wait until the file holding it is closed and synced.
//!
//! The writer commits in groups: it takes every batch waiting in its queue, writes them into
//! one Parquet file, closes it (fsync, rename, fsync of the folder) and only then answers
//! all of their requests. So an OK means the rows are in a closed file, and a busy
//! collector writes fewer, larger files.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arrow_array::RecordBatch;
use firn_schemas::otlp::{Mapped, logs_to_rows, metrics_to_rows, traces_to_rows};
use firn_schemas::{BatchBuilder, ParquetSink};
use tokio::sync::{Semaphore, oneshot};

use super::decode::Export;
use super::dedup::{Check, Dedup, META_BATCH_SEQS, Stamp};
use super::limits::{LimitError, Limits};
use crate::telemetry::Counters;

/// Why a request was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Over a limit.
    #[error(transparent)]
    Limit(#[from] LimitError),
    /// Too many requests in progress (429).
    #[error("too many requests in progress; retry later")]
    Busy,
    /// The writer's queue is full or the writer is gone (503).
    #[error("{0}; retry later")]
    Unavailable(String),
}

/// A batch waiting for the writer, and who to tell when it is durable.
struct Job {
    batch: RecordBatch,
    /// The sender's stamp, when it sent one (queued in [`Dedup`]).
    stamp: Option<Stamp>,
    done: oneshot::Sender<Result<(), String>>,
}

/// Takes a queued stamp out of [`Dedup`] unless the writer thread took it over.
struct Queued<'a> {
    dedup: &'a Dedup,
    stamp: Option<Stamp>,
}

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        if let Some(s) = &self.stamp {
            self.dedup.abandon(s);
        }
    }
}

/// The shared entry point of the HTTP and gRPC servers.
#[derive(Clone)]
pub struct Ingest {
    limits: Limits,
    queue: SyncSender<Job>,
    permits: Arc<Semaphore>,
    dedup: Arc<Dedup>,
    /// Counters shared with `/metrics`.
    pub counters: Arc<Counters>,
}

impl std::fmt::Debug for Ingest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ingest")
            .field("limits", &self.limits)
            .finish()
    }
}

fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Ingest {
    /// Starts the writer thread over `sink`. `queue` batches may wait for it; past that,
    /// requests are answered 503. `dedup` holds the stamps already written (restored from
    /// the newest file at start).
    pub fn start(
        sink: ParquetSink,
        limits: Limits,
        max_concurrent: usize,
        queue: usize,
        dedup: Arc<Dedup>,
        counters: Arc<Counters>,
    ) -> std::io::Result<(Self, std::thread::JoinHandle<()>)> {
        let (tx, rx) = sync_channel(queue.max(1));
        let c = counters.clone();
        let d = dedup.clone();
        let handle = std::thread::Builder::new()
            .name("parquet-writer".into())
            .spawn(move || writer_loop(sink, rx, &d, &c))?;
        Ok((
            Self {
                limits,
                queue: tx,
                permits: Arc::new(Semaphore::new(max_concurrent.max(1))),
                dedup,
                counters,
            },
            handle,
        ))
    }

    /// A permit to work on one request, or [`IngestError::Busy`].
    pub fn permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, IngestError> {
        self.permits
            .clone()
            .try_acquire_owned()
            .map_err(|_| IngestError::Busy)
    }

    /// Checks, maps and durably writes a request; what it became is returned for the
    /// answer's `partial_success`. A request with a `stamp` already written is answered as
    /// written without writing it again (see [`super::dedup`]).
    pub async fn export(&self, req: Export, stamp: Option<Stamp>) -> Result<Mapped, IngestError> {
        self.limits.check(&req)?;
        if let Some(s) = &stamp {
            match self.dedup.check(s) {
                Check::New => {}
                Check::Duplicate => {
                    self.counters
                        .add("firn_collector_resent_batches_dropped_total", "", 1);
                    tracing::info!(agent = %s.agent, seq = s.seq, "Dropped a batch sent again after it was written (its answer was lost)");
                    return Ok(Mapped::default());
                }
                Check::InFlight => {
                    return Err(IngestError::Unavailable(format!(
                        "an earlier try of batch {} from {} is still being written",
                        s.seq, s.agent
                    )));
                }
            }
        }
        let mut queued = Queued {
            dedup: &self.dedup,
            stamp,
        };
        let mut b = BatchBuilder::new();
        let mapped = match &req {
            Export::Logs(r) => logs_to_rows(r, &mut b, now_ns()),
            Export::Metrics(r) => metrics_to_rows(r, &mut b),
            Export::Traces(r) => traces_to_rows(r, &mut b),
        };
        drop(req);
        if mapped.rows == 0 {
            return Ok(mapped);
        }
        let batch = b
            .finish()
            .map_err(|e| IngestError::Unavailable(format!("cannot build rows: {e}")))?;
        let (done, wait) = oneshot::channel();
        let job = Job {
            batch,
            stamp: queued.stamp.clone(),
            done,
        };
        match self.queue.try_send(job) {
            // The writer thread owns the stamp now.
            Ok(()) => queued.stamp = None,
            Err(TrySendError::Full(_)) => {
                return Err(IngestError::Unavailable(
                    "the Parquet writer is behind".into(),
                ));
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(IngestError::Unavailable(
                    "the Parquet writer stopped".into(),
                ));
            }
        }
        match wait.await {
            Ok(Ok(())) => Ok(mapped),
            Ok(Err(e)) => Err(IngestError::Unavailable(e)),
            Err(_) => Err(IngestError::Unavailable(
                "the Parquet writer stopped".into(),
            )),
        }
    }
}

/// Takes every waiting batch, writes them into one file, closes it, answers them.
fn writer_loop(mut sink: ParquetSink, rx: Receiver<Job>, dedup: &Dedup, counters: &Counters) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while let Ok(j) = rx.try_recv() {
            jobs.push(j);
        }
        let result = write_group(&mut sink, &jobs, dedup);
        if let Err(e) = &result {
            tracing::error!(error = %e, requests = jobs.len(), "Cannot write rows; requests answered 503");
        }
        for f in sink.take_written() {
            counters.add("firn_collector_files_written_total", "", 1);
            tracing::debug!(path = %f.path.display(), rows = f.rows, bytes = f.bytes, "Wrote file");
        }
        for j in jobs {
            let _ = j.done.send(result.clone());
        }
    }
    if let Err(e) = sink.close(Instant::now() + Duration::from_secs(20)) {
        tracing::error!(error = %e, "Cannot close the Parquet output");
    }
}

/// Writes the group into one file and closes it. When the group holds stamped batches, the
/// file that ends it carries the stamps' footer (serialised once per group).
fn write_group(sink: &mut ParquetSink, jobs: &[Job], dedup: &Dedup) -> Result<(), String> {
    for (i, j) in jobs.iter().enumerate() {
        if let Err(e) = sink.write(&j.batch, &[]) {
            // This batch and the rest are not in the sink: their resends are new.
            for s in jobs[i..].iter().filter_map(|j| j.stamp.as_ref()) {
                dedup.abandon(s);
            }
            return Err(e.to_string());
        }
        if let Some(s) = &j.stamp {
            dedup.written(s);
        }
    }
    if jobs.iter().any(|j| j.stamp.is_some()) {
        let empty = RecordBatch::new_empty(firn_schemas::batch_schema());
        sink.write(&empty, &[(META_BATCH_SEQS, dedup.footer())])
            .map_err(|e| e.to_string())?;
    }
    sink.flush().map_err(|e| e.to_string())?;
    match sink.rows_in_flight() {
        0 => {
            // Files reach the output in order: everything handed over is on disk now.
            dedup.settle();
            Ok(())
        }
        n => Err(format!(
            "{n} rows could not be written to {} yet",
            sink.config().dir.display()
        )),
    }
}
