//! `--once`: read every matching file to its end, write, report, exit.
//!
//! Files are read whole each time (no checkpoint is resumed): `--once` is for batches and
//! trials; following files with exactly-once delivery is the daemon's job.

use std::sync::Arc;
use std::time::Instant;

use anyhow::bail;

use crate::config::AgentConfig;
use crate::file_tail::Tailer;
use crate::file_tail::checkpoint::Recovered;
use crate::pipeline::SinkReport;
use crate::telemetry::Counters;

/// What a `--once` run did.
#[derive(Debug)]
pub struct OnceReport {
    /// Files read.
    pub files: usize,
    /// The Parquet files written.
    pub written: Vec<std::path::PathBuf>,
    /// The sink's report.
    pub sink: SinkReport,
    /// Input files that could not be opened or read (the run must fail, naming them).
    pub unreadable: Vec<std::path::PathBuf>,
}

/// Runs `--once`.
///
/// # Errors
/// When no file matches, the sink cannot start, or rows could not be written.
pub fn run(cfg: &AgentConfig, counters: &Arc<Counters>) -> anyhow::Result<OnceReport> {
    let written = Arc::new(std::sync::Mutex::new(Vec::new()));
    let started = crate::sink_setup::start(cfg, counters, None, {
        let written = written.clone();
        Box::new(move |w| {
            tracing::debug!(path = %w.path.display(), rows = w.rows, "Wrote file");
            if let Ok(mut v) = written.lock() {
                v.push(w.path.clone());
            }
        })
    })?;
    let (tx, handle) = (started.tx, started.handle);
    let mut tail_cfg = cfg.tail.clone();
    tail_cfg.start_at_end = false;
    let mut tailer = Tailer::new(tail_cfg, &Recovered::default(), tx, counters.clone());
    tailer.discover(Instant::now());
    let files = tailer.watched();
    if files == 0 && tailer.unreadable().is_empty() {
        drop(tailer);
        let _ = handle.join();
        bail!(
            "no file matches {}",
            cfg.inputs
                .iter()
                .map(|p| format!("'{p}'"))
                .collect::<Vec<_>>()
                .join(" or ")
        );
    }
    tailer.finish();
    let unreadable = tailer.unreadable();
    drop(tailer);
    let sink = handle
        .join()
        .map_err(|_| anyhow::anyhow!("the sink thread panicked"))?;
    let written = written
        .lock()
        .map(|mut v| std::mem::take(&mut *v))
        .unwrap_or_default();
    Ok(OnceReport {
        files,
        written,
        sink,
        unreadable,
    })
}
