//! The collector's own counters, served as Prometheus text on `GET /metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

/// Counters by name and label set.
#[derive(Debug, Default)]
pub struct Counters {
    values: Mutex<BTreeMap<(&'static str, String), u64>>,
}

/// Help text of each counter, for the exposition.
const HELP: &[(&str, &str)] = &[
    (
        "firn_collector_requests_total",
        "OTLP requests answered, by signal and HTTP status.",
    ),
    (
        "firn_collector_records_received_total",
        "Rows written from OTLP requests, by signal.",
    ),
    (
        "firn_collector_records_rejected_total",
        "Records refused in partial_success answers.",
    ),
    (
        "firn_collector_request_bytes_total",
        "Request body bytes as received.",
    ),
    (
        "firn_collector_refused_total",
        "Requests refused, by reason.",
    ),
    (
        "firn_collector_files_written_total",
        "Parquet files written.",
    ),
    (
        "firn_collector_resent_batches_dropped_total",
        "Requests of firn agents already written (same firn-agent-id and firn-batch-seq), answered 200 and not written again.",
    ),
    (
        "firn_collector_scrapes_total",
        "Prometheus scrapes, by result.",
    ),
    (
        "firn_collector_scraped_samples_total",
        "Samples written from Prometheus scrapes.",
    ),
];

impl Counters {
    /// Adds `n` to `name{labels}`; `labels` is Prometheus label text, e.g. `signal="logs"`.
    pub fn add(&self, name: &'static str, labels: &str, n: u64) {
        if let Ok(mut v) = self.values.lock() {
            *v.entry((name, labels.to_string())).or_default() += n;
        }
    }

    /// The value of `name{labels}`.
    pub fn get(&self, name: &'static str, labels: &str) -> u64 {
        self.values
            .lock()
            .ok()
            .and_then(|v| v.get(&(name, labels.to_string())).copied())
            .unwrap_or(0)
    }

    /// Prometheus text exposition of every counter.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let Ok(values) = self.values.lock() else {
            return out;
        };
        for (name, help) in HELP {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for ((n, labels), v) in values.iter() {
                if n != name {
                    continue;
                }
                if labels.is_empty() {
                    let _ = writeln!(out, "{name} {v}");
                } else {
                    let _ = writeln!(out, "{name}{{{labels}}} {v}");
                }
            }
        }
        out
    }
}
