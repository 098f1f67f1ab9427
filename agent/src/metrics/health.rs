//! Whether the agent makes progress, for `GET /healthcheck` (the spec's `readinessProbe`).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::shutdown::Shutdown;
use crate::telemetry::Counters;

/// Rows that should reach the output: lines read less those filtered or dropped, plus
/// platform metric rows.
fn rows_in(c: &Counters) -> u64 {
    let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    (get(&c.lines_read_total) + get(&c.metric_rows_total))
        .saturating_sub(get(&c.log_rows_filtered_total) + get(&c.long_lines_dropped_total))
}

#[derive(Debug)]
struct Seen {
    files: u64,
    rows_in: u64,
    at: Instant,
}

/// Healthy while rows that came in reach the output: unhealthy when rows came in after the
/// last file was written and no file has been written for longer than `stall` (the
/// output is unwritable, full or stuck), and while the agent stops.
#[derive(Debug, Clone)]
pub struct Health {
    counters: Arc<Counters>,
    shutdown: Shutdown,
    stall: Duration,
    output: String,
    seen: Arc<Mutex<Seen>>,
}

impl Health {
    /// `stall`: how long rows may wait for a file (a file is closed after
    /// `--max-file-age` at the latest, so that plus a margin).
    pub fn new(
        counters: Arc<Counters>,
        shutdown: Shutdown,
        stall: Duration,
        output: String,
    ) -> Self {
        let seen = Seen {
            files: counters.output_files_written_total.load(Ordering::Relaxed),
            rows_in: rows_in(&counters),
            at: Instant::now(),
        };
        Self {
            counters,
            shutdown,
            stall,
            output,
            seen: Arc::new(Mutex::new(seen)),
        }
    }

    /// `Ok(summary)` when healthy, `Err(reason)` when not.
    ///
    /// # Errors
    /// The reason the agent is not healthy.
    pub fn check(&self) -> Result<String, String> {
        if self.shutdown.is_requested() {
            return Err("stopping".into());
        }
        let files = self
            .counters
            .output_files_written_total
            .load(Ordering::Relaxed);
        let now_in = rows_in(&self.counters);
        let mut seen = self
            .seen
            .lock()
            .map_err(|_| "health state poisoned".to_string())?;
        if files != seen.files {
            *seen = Seen {
                files,
                rows_in: now_in,
                at: Instant::now(),
            };
        }
        let waiting = now_in.saturating_sub(seen.rows_in);
        let quiet = seen.at.elapsed();
        if waiting > 0 && quiet > self.stall {
            return Err(format!(
                "no output file written for {}s while {waiting} row(s) came in: the output {} takes nothing (unwritable, full or gone?)",
                quiet.as_secs(),
                self.output
            ));
        }
        Ok(format!(
            "ok: {files} file(s) written, {waiting} row(s) since the last one"
        ))
    }
}
