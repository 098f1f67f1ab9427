//! The sink thread's side of the write-ahead spool (`schemas::spool`): each batch and the
//! source positions it reaches are committed (appended and fsynced together) before the
//! Parquet sink takes the batch; a file written covers the commits it holds; at start the
//! commits not yet in a written file are replayed into the output.
//!
//! A commit the spool refuses (full, or an append that failed: ENOSPC, EIO) is held and
//! retried with backoff; meanwhile the sink thread reads nothing more, so the sources pause
//! (backpressure) and nothing is dropped.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use firn_schemas::spool::{Commit, Spool, SpoolError};

use crate::telemetry::Counters;

/// An opened spool and what it holds to replay, for [`super::SinkSettings::spool`].
#[derive(Debug)]
pub struct SpoolSetup {
    /// The spool.
    pub spool: Spool,
    /// Commits not yet in a written output file, oldest first.
    pub replay: Vec<Commit>,
    /// Where its counters go.
    pub counters: Arc<Counters>,
}

/// A [`SpoolSetup`] that settings can hold (`Clone`, `Debug`); the sink thread takes it.
#[derive(Debug, Clone)]
pub struct SpoolSlot(pub Arc<Mutex<Option<SpoolSetup>>>);

impl SpoolSlot {
    /// Wraps a set-up spool.
    pub fn new(s: SpoolSetup) -> Self {
        Self(Arc::new(Mutex::new(Some(s))))
    }

    pub(super) fn take(&self) -> Option<SpoolSetup> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }
}

/// A batch the spool refused, held until it takes it.
#[derive(Debug)]
pub(super) struct Held {
    pub(super) batch: RecordBatch,
    /// The positions it reaches, as the footer stores them ("" when not carried).
    pub(super) positions: String,
}

#[derive(Debug)]
struct Episode {
    since: Instant,
    failures: u64,
    next_try: Instant,
}

/// The spool as the sink thread uses it.
#[derive(Debug)]
pub(super) struct Spooler {
    spool: Spool,
    counters: Arc<Counters>,
    /// Refused and waiting: nothing more is read until it is committed.
    pub(super) held: Option<Held>,
    episode: Option<Episode>,
}

impl Spooler {
    pub(super) fn new(setup: SpoolSetup) -> (Self, Vec<Commit>) {
        let s = Self {
            spool: setup.spool,
            counters: setup.counters,
            held: None,
            episode: None,
        };
        s.publish();
        (s, setup.replay)
    }

    /// Commits `batch`; its sequence number, or `None` when the spool refused it (it is then
    /// held, and the caller must stop reading until [`retry`](Self::retry) takes it).
    pub(super) fn commit(&mut self, batch: &RecordBatch, positions: &str) -> Option<u64> {
        match self.spool.commit(batch, positions) {
            Ok(seq) => {
                self.publish();
                Some(seq)
            }
            Err(e) => {
                self.refused(&e);
                self.held = Some(Held {
                    batch: batch.clone(),
                    positions: positions.to_string(),
                });
                None
            }
        }
    }

    /// Whether a refused episode just began (the caller closes its open file early, so
    /// the segments it covers can go).
    pub(super) fn just_refused(&self) -> bool {
        self.episode.as_ref().is_some_and(|e| e.failures == 1)
    }

    /// Tries the held batch again when its time has come: `Some((held, seq))` once taken.
    pub(super) fn retry(&mut self, now: Instant) -> Option<(Held, u64)> {
        if self.episode.as_ref().is_some_and(|e| now < e.next_try) {
            return None;
        }
        let held = self.held.take()?;
        match self.spool.commit(&held.batch, &held.positions) {
            Ok(seq) => {
                if let Some(e) = self.episode.take() {
                    tracing::info!(
                        dir = %self.spool.dir().display(),
                        failures = e.failures,
                        seconds = e.since.elapsed().as_secs(),
                        "Spool takes commits again; reading resumes"
                    );
                }
                self.publish();
                Some((held, seq))
            }
            Err(e) => {
                self.refused(&e);
                self.held = Some(held);
                None
            }
        }
    }

    fn refused(&mut self, e: &SpoolError) {
        let now = Instant::now();
        match &mut self.episode {
            None => {
                tracing::warn!(error = %e, "Cannot commit to the spool; reading paused until it can (nothing is dropped)");
                self.episode = Some(Episode {
                    since: now,
                    failures: 1,
                    next_try: now + Duration::from_millis(200),
                });
            }
            Some(ep) => {
                ep.failures += 1;
                let backoff = Duration::from_millis(200)
                    .saturating_mul(1 << ep.failures.min(5))
                    .min(Duration::from_secs(5));
                ep.next_try = now + backoff;
                tracing::debug!(error = %e, "Spool commit retry failed");
            }
        }
        self.publish();
    }

    /// Records that every commit up to `seq` is in a written file, whose footer holds
    /// `positions`.
    pub(super) fn covered(&mut self, seq: u64, positions: Option<&str>) {
        if let Err(e) = self.spool.covered_at(seq, positions) {
            tracing::warn!(error = %e, seq, "Cannot record a written file in the spool; its segments are kept and deleted at the next cover");
        }
        self.publish();
    }

    /// Gives up the held batch at a stop: its rows and positions were never durable, so
    /// they are read again from their sources at the next start.
    pub(super) fn drop_held(&mut self) {
        if let Some(h) = self.held.take() {
            tracing::error!(
                rows = h.batch.num_rows(),
                "Stopping with a batch the spool could not take; its lines are read again from their sources at the next start"
            );
        }
    }

    fn publish(&self) {
        let s = self.spool.stats();
        let c = &self.counters;
        c.spool_commits_total
            .store(s.commits_total, Ordering::Relaxed);
        c.spool_commit_micros_total
            .store(s.commit_micros_total, Ordering::Relaxed);
        c.spool_fsyncs_total
            .store(s.fsyncs_total, Ordering::Relaxed);
        c.spool_bytes.store(s.bytes, Ordering::Relaxed);
        c.spool_segments.store(s.segments as u64, Ordering::Relaxed);
    }

    /// Counts rows replayed at start.
    pub(super) fn replayed(&self, rows: u64) {
        Counters::add(&self.counters.spool_rows_replayed_total, rows);
    }
}
