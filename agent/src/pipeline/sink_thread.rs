//! The one thread that owns the batch builder and the Parquet sink.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use firn_schemas::parquet_sink::META_SOURCE_POSITIONS;
use firn_schemas::spool::{META_SPOOL_COMMIT, Spool};
use firn_schemas::{
    BatchBuilder, JsonText, ParquetSink, Row, SinkError, SinkStats, Value, WrittenFile,
};
use serde_json::value::{RawValue, to_raw_value};

use super::spool_commit::Spooler;
use super::{LogChunk, MetricPoint, MetricValue, Msg, Sender};

/// How the sink thread batches.
#[derive(Debug, Clone)]
pub struct SinkSettings {
    /// A batch goes to the sink at this many rows. Default 8,192.
    pub batch_rows: usize,
    /// ... or at this many bytes of values. Default 4 MiB.
    pub batch_bytes: usize,
    /// ... or when its oldest row is this old. Default 1 s.
    pub batch_age: Duration,
    /// At the end, how long to keep retrying files that cannot be written, when there is no
    /// `shutdown` (whose deadline rules otherwise). Default 25 s.
    pub close_timeout: Duration,
    /// Messages waiting in the channel before senders block. Default 8.
    pub channel_capacity: usize,
    /// Source positions recovered at start.
    pub initial_positions: BTreeMap<String, serde_json::Value>,
    /// Every file carries the whole position map (`firn.source_positions`), whatever rows it
    /// holds: a file of only metrics (the agent's telemetry after a quiet spell, the snapshot
    /// at exit) is as good a place to resume from as any. Default true; false for an agent
    /// that follows no file, so its files do not hide an earlier run's positions.
    pub carry_positions: bool,
    /// When set, the thread stops at once without writing the open file, as a kill -9
    /// would: for crash tests.
    pub abort: Option<Arc<AtomicBool>>,
    /// The agent's shutdown: while the output cannot take more (disk full), a stop request
    /// must still end the thread by the shutdown's deadline, or senders would wait forever.
    pub shutdown: Option<crate::shutdown::Shutdown>,
    /// A second output (the OTLP export) that must take each batch before it, and the
    /// positions it moves, are written to Parquet.
    pub forward: Option<super::ForwardSlot>,
    /// The write-ahead spool: each batch is committed to it before the Parquet sink takes
    /// it, and what it holds to replay is written first. None: no spool.
    pub spool: Option<super::SpoolSlot>,
}

impl Default for SinkSettings {
    fn default() -> Self {
        Self {
            batch_rows: 8192,
            batch_bytes: 4 << 20,
            batch_age: Duration::from_secs(1),
            close_timeout: Duration::from_secs(25),
            channel_capacity: 8,
            initial_positions: BTreeMap::new(),
            carry_positions: true,
            abort: None,
            shutdown: None,
            forward: None,
            spool: None,
        }
    }
}

/// What the sink thread did, when it ends.
#[derive(Debug)]
pub struct SinkReport {
    /// The sink's counters.
    pub stats: SinkStats,
    /// Set when files could not be written before the close timeout.
    pub error: Option<SinkError>,
    /// Rows still queued for the sink when it stopped at the shutdown deadline: never
    /// written (read again at the next start).
    pub dropped_rows: u64,
}

/// Starts the sink thread. It ends when every [`Sender`] is dropped, after writing
/// everything it received. `on_written` is told of each file as it lands.
///
/// # Errors
/// When the thread cannot be spawned.
pub fn spawn_sink(
    sink: ParquetSink,
    resource: Option<JsonText>,
    mut settings: SinkSettings,
    on_written: Box<dyn FnMut(&WrittenFile) + Send>,
) -> std::io::Result<(Sender, JoinHandle<SinkReport>)> {
    // A batch is an eighth of a file at most: a file closes before a batch that would take
    // it past its size limit, never in the middle of one (which would split the positions
    // it carries), so it ends within about a batch of the limit.
    let eighth = usize::try_from(sink.config().max_file_bytes / 8).unwrap_or(usize::MAX);
    settings.batch_bytes = settings.batch_bytes.min(eighth.max(1));
    let (tx, rx) = sync_channel(settings.channel_capacity.max(1));
    let positions = std::mem::take(&mut settings.initial_positions)
        .into_iter()
        .filter_map(|(k, v)| Some((k, to_raw_value(&v).ok()?)))
        .collect();
    let spool = settings.spool.take().and_then(|s| s.take());
    let handle = std::thread::Builder::new()
        .name("firn-sink".into())
        .spawn(move || {
            let (spooler, replay) = match spool {
                Some(s) => {
                    let (sp, replay) = Spooler::new(s);
                    (Some(sp), replay)
                }
                None => (None, Vec::new()),
            };
            SinkThread {
                sink,
                resource,
                settings,
                builder: BatchBuilder::new(),
                positions,
                positions_dirty: false,
                oldest: None,
                on_written,
                gave_up: false,
                spooler,
            }
            .run(rx, replay)
        })?;
    Ok((tx, handle))
}

struct SinkThread {
    sink: ParquetSink,
    resource: Option<JsonText>,
    settings: SinkSettings,
    builder: BatchBuilder,
    /// Each followed file's position as JSON text: a few hundred bytes less than a parsed
    /// value, for each of thousands of files.
    positions: BTreeMap<String, Box<RawValue>>,
    positions_dirty: bool,
    oldest: Option<Instant>,
    on_written: Box<dyn FnMut(&WrittenFile) + Send>,
    /// The forward output gave up on a batch at a stop: nothing more is written, so no
    /// position moves past rows it does not have.
    gave_up: bool,
    spooler: Option<Spooler>,
}

impl SinkThread {
    fn run(mut self, rx: Receiver<Msg>, replay: Vec<firn_schemas::spool::Commit>) -> SinkReport {
        let tick = Duration::from_millis(200);
        let mut last_tick = Instant::now();
        let mut error = self.replay(replay).err();
        let mut dropped_rows = 0;
        while error.is_none() {
            if self
                .settings
                .abort
                .as_ref()
                .is_some_and(|a| a.load(Ordering::Relaxed))
            {
                self.collect_written();
                return SinkReport {
                    stats: self.sink.stats(),
                    error: None,
                    dropped_rows: 0,
                };
            }
            if self.spooler.as_ref().is_some_and(|s| s.held.is_some()) {
                // Read nothing until the spool takes the held batch.
                if let Err(e) = self.retry_held() {
                    error = Some(e);
                    break;
                }
                if self.gave_up {
                    break;
                }
                continue;
            }
            if self.sink.permanent_error().is_some() {
                // Closing reports it.
                break;
            }
            if self.sink.is_backpressured() {
                // Leave messages in the channel: senders block until files get written.
                if self.stuck_past_shutdown() {
                    dropped_rows = rx
                        .try_iter()
                        .map(|m| match m {
                            Msg::Logs(c) => c.lines.len() as u64,
                            Msg::Metrics(p) => p.len() as u64,
                        })
                        .sum();
                    tracing::error!(
                        rows_not_written = dropped_rows,
                        "Stopping at the shutdown deadline while the output takes nothing; rows still queued are not written (files are read again from their checkpoints at the next start)"
                    );
                    break;
                }
                std::thread::sleep(tick);
                if let Err(e) = self.sink.tick(Instant::now()) {
                    error = Some(e);
                    break;
                }
                self.collect_written();
                continue;
            }
            match rx.recv_timeout(tick) {
                Ok(Msg::Logs(chunk)) => self.append_logs(chunk),
                Ok(Msg::Metrics(points)) => self.append_metrics(&points),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            let full = self.builder.len() >= self.settings.batch_rows
                || self.builder.approx_bytes() >= self.settings.batch_bytes;
            let old = self
                .oldest
                .is_some_and(|t| t.elapsed() >= self.settings.batch_age);
            if (full || old)
                && let Err(e) = self.flush_batch()
            {
                error = Some(e);
                break;
            }
            if self.gave_up {
                break;
            }
            if last_tick.elapsed() >= tick {
                last_tick = Instant::now();
                if let Err(e) = self.sink.tick(last_tick) {
                    error = Some(e);
                    break;
                }
                self.collect_written();
            }
        }
        if error.is_none() {
            error = self.flush_batch().err();
        }
        if let Some(sp) = &mut self.spooler {
            sp.drop_held();
        }
        if let Err(e) = self.sink.close(self.close_deadline()) {
            error.get_or_insert(e);
        }
        self.collect_written();
        SinkReport {
            stats: self.sink.stats(),
            error,
            dropped_rows,
        }
    }

    /// Whether a stop was asked for and waiting must end: at the shutdown's deadline (at
    /// once for an immediate stop).
    fn stuck_past_shutdown(&self) -> bool {
        use crate::shutdown::Stage;
        let Some(sd) = &self.settings.shutdown else {
            return false;
        };
        match sd.stage() {
            Stage::Running => false,
            Stage::Immediate => true,
            Stage::Graceful => sd.deadline().is_some_and(|d| Instant::now() >= d),
        }
    }

    /// Until when the final close keeps trying: the shutdown's deadline (2 s at most after
    /// an immediate stop), or `close_timeout` from now without a shutdown.
    fn close_deadline(&self) -> Instant {
        use crate::shutdown::Stage;
        let now = Instant::now();
        let Some(sd) = &self.settings.shutdown else {
            return now + self.settings.close_timeout;
        };
        let deadline = sd
            .deadline()
            .unwrap_or_else(|| now + self.settings.close_timeout);
        if sd.stage() == Stage::Immediate {
            deadline.min(now + Duration::from_secs(2))
        } else {
            deadline
        }
    }

    /// Hands `batch` to the forward output; gives up once the abort flag is set, at an
    /// immediate stop, or at the shutdown's deadline.
    fn forward(
        &self,
        slot: &super::ForwardSlot,
        batch: &arrow_array::RecordBatch,
    ) -> Result<(), super::Undelivered> {
        let give_up = || {
            if self
                .settings
                .abort
                .as_ref()
                .is_some_and(|a| a.load(Ordering::Relaxed))
            {
                return true;
            }
            self.stuck_past_shutdown()
        };
        let mut f = slot
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f.forward(batch, &give_up)
    }

    fn collect_written(&mut self) {
        for w in self.sink.take_written() {
            if let Some(sp) = &mut self.spooler
                && let Some(seq) = w
                    .metadata
                    .get(META_SPOOL_COMMIT)
                    .and_then(|s| s.parse().ok())
            {
                sp.covered(
                    seq,
                    w.metadata.get(META_SOURCE_POSITIONS).map(String::as_str),
                );
            }
            // Told, not kept: a daemon writes files for days.
            (self.on_written)(&w);
        }
    }

    /// Writes the spool's commits not yet in a written file, oldest first, as a file of
    /// their own, closed at once. Kept open and aged from the oldest commit instead, every
    /// life of an agent that keeps crashing would encode every row since the last written
    /// file again (each life longer than the one before, until reading starves: the kill -9
    /// test lost lines that way); written at once, a start costs what the last life read.
    fn replay(&mut self, commits: Vec<firn_schemas::spool::Commit>) -> Result<(), SinkError> {
        let Some(age) = Spool::oldest_uncovered_age(&commits) else {
            return Ok(());
        };
        let mut rows = 0;
        for c in &commits {
            rows += c.batch.num_rows() as u64;
            self.write_committed(&c.batch, &c.positions, c.seq)?;
        }
        self.sink.close_open_file()?;
        if let Some(sp) = &self.spooler {
            sp.replayed(rows);
        }
        tracing::info!(
            commits = commits.len(),
            rows,
            oldest_seconds = age.as_secs(),
            "Replayed the spool into the output"
        );
        Ok(())
    }

    /// Hands a committed batch to the Parquet sink with the positions it reaches ("" when
    /// not carried) and its commit number.
    fn write_committed(
        &mut self,
        batch: &arrow_array::RecordBatch,
        positions: &str,
        seq: u64,
    ) -> Result<(), SinkError> {
        let mut meta = vec![(META_SPOOL_COMMIT, seq.to_string())];
        if !positions.is_empty() {
            meta.push((META_SOURCE_POSITIONS, positions.to_string()));
        }
        self.sink.write(batch, &meta)?;
        self.collect_written();
        Ok(())
    }

    /// While the spool refuses the held batch: retries it, keeps writing files (which makes
    /// room), and gives it up at a stop.
    fn retry_held(&mut self) -> Result<(), SinkError> {
        let stop = self
            .settings
            .abort
            .as_ref()
            .is_some_and(|a| a.load(Ordering::Relaxed))
            || self.stuck_past_shutdown();
        let Some(sp) = self.spooler.as_mut() else {
            return Ok(());
        };
        if stop {
            sp.drop_held();
            self.gave_up = true;
            return Ok(());
        }
        if let Some((held, seq)) = sp.retry(Instant::now()) {
            return self.write_committed(&held.batch, &held.positions, seq);
        }
        if sp.just_refused() {
            // The open file's rows are what fills the spool: write it now, not at its age.
            self.sink.close_open_file()?;
        }
        std::thread::sleep(Duration::from_millis(50));
        self.sink.tick(Instant::now())?;
        self.collect_written();
        Ok(())
    }

    fn append_logs(&mut self, chunk: LogChunk) {
        if !chunk.lines.is_empty() {
            self.oldest.get_or_insert_with(Instant::now);
        }
        for (text, line) in chunk.iter() {
            self.builder.append(&Row {
                timestamp_ns: line.timestamp_ns,
                start_timestamp_ns: None,
                observed_timestamp_ns: Some(chunk.observed_ns),
                trace: None,
                resource_attributes: self.resource.as_ref(),
                scope: line.scope.as_ref(),
                record_type: firn_schemas::RecordType::Log,
                record: Some(&line.record),
                record_attributes: line.attributes.as_ref(),
                value: if line.json_value {
                    Value::Json(text)
                } else {
                    Value::Text(text)
                },
            });
        }
        match chunk.position {
            Some((key, serde_json::Value::Null)) => {
                self.positions.remove(&key);
                self.positions_dirty = true;
            }
            Some((key, pos)) => {
                if let Ok(raw) = to_raw_value(&pos) {
                    self.positions.insert(key, raw);
                    self.positions_dirty = true;
                }
            }
            None => {}
        }
    }

    fn append_metrics(&mut self, points: &[MetricPoint]) {
        if !points.is_empty() {
            self.oldest.get_or_insert_with(Instant::now);
        }
        for p in points {
            self.builder.append(&Row {
                timestamp_ns: p.timestamp_ns,
                start_timestamp_ns: p.start_ns,
                observed_timestamp_ns: Some(p.timestamp_ns),
                trace: None,
                resource_attributes: self.resource.as_ref(),
                scope: p.scope.as_ref(),
                record_type: firn_schemas::RecordType::Metric,
                record: Some(&p.record),
                record_attributes: p.attributes.as_ref(),
                value: match p.value {
                    MetricValue::Int(i) => Value::Int(i),
                    MetricValue::Double(d) => Value::Double(d),
                },
            });
        }
    }

    fn flush_batch(&mut self) -> Result<(), SinkError> {
        self.oldest = None;
        if self.gave_up || (self.builder.is_empty() && !self.positions_dirty) {
            return Ok(());
        }
        let batch = self
            .builder
            .finish()
            .map_err(|e| SinkError::Encode(e.into()))?;
        if batch.num_rows() > 0
            && let Some(slot) = self.settings.forward.clone()
            && let Err(e) = self.forward(&slot, &batch)
        {
            tracing::error!(error = %e, "Stopping with rows not delivered; they are not written to Parquet either, and files are read again from their checkpoints at the next start");
            self.gave_up = true;
            self.positions_dirty = false;
            return Ok(());
        }
        // Every source's latest position, in every file, so the newest file alone tells
        // where to resume, even when it holds no log row.
        let json = if self.settings.carry_positions || self.positions_dirty {
            serde_json::to_string(&self.positions).unwrap_or_default()
        } else {
            String::new()
        };
        self.positions_dirty = false;
        if let Some(sp) = &mut self.spooler {
            // Durable first: the rows and the positions they reach, together.
            return match sp.commit(&batch, &json) {
                Some(seq) => self.write_committed(&batch, &json, seq),
                None => Ok(()),
            };
        }
        let mut meta = Vec::new();
        if !json.is_empty() {
            meta.push((META_SOURCE_POSITIONS, json));
        }
        self.sink.write(&batch, &meta)?;
        self.collect_written();
        Ok(())
    }
}
