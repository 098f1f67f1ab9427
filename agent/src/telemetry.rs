//! The agent's own counters: what it read, what it changed, and what it could not deliver.
//!
//! Each counter's name carries its unit (`_total`, `_bytes`). They are logged at exit and
//! periodically, and written as METRIC rows (scope `firn.agent`) next to the data.

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($($name:ident: $doc:literal,)*) => {
        /// Counters shared by every part of the agent.
        #[derive(Debug, Default)]
        pub struct Counters {
            $(#[doc = $doc] pub $name: AtomicU64,)*
        }

        impl Counters {
            /// Every counter with its name, in a stable order.
            pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
                vec![$((concat!("firn.", stringify!($name)), self.$name.load(Ordering::Relaxed)),)*]
            }
        }
    };
}

counters! {
    files_opened_total: "Files opened for reading.",
    lines_read_total: "Lines read from every source.",
    bytes_read_total: "Bytes read from every source.",
    lines_truncated_total: "Lines cut to the record limit (policy truncate).",
    lines_split_total: "Parts emitted for lines over the limit (policy split).",
    long_lines_dropped_total: "Lines dropped for being over the limit (policy drop).",
    long_lines_dropped_bytes: "Bytes of those lines.",
    invalid_utf8_lines_total: "Lines with bytes that are not UTF-8, kept with U+FFFD in their place.",
    read_errors_total: "Errors reading a source.",
    files_skipped_total: "Input names matched but not read: symlinks refused by --follow-symlinks, FIFOs, sockets, devices.",
    log_rows_filtered_total: "Log records left out by the logLevel filter.",
    lines_time_recognised_total: "File records whose own event time was recognised in their text.",
    lines_severity_recognised_total: "File records whose own level was recognised in their text.",
    files_rotated_total: "Files seen renamed or deleted while being read (rotation).",
    files_truncated_total: "Files seen truncated (copytruncate); reading restarted at 0.",
    lines_cut_by_truncation_total: "Lines whose start was read when their file was truncated: read whole from a copy the inputs match, else dropped (their rest was truncated away).",
    files_released_total: "Files read to their end and let go after leaving the inputs.",
    files_watched: "Files being followed now (a gauge).",
    output_files_written_total: "Parquet files written to the output.",
    output_rows_written_total: "Rows in them.",
    output_bytes_written_total: "Their bytes.",
    passthrough_write_errors_total: "Failed copies of captured output to firn's own stdout/stderr (copying then stops).",
    capture_streams_abandoned_total: "Captured streams given up while still open (held by a grandchild, or shutdown).",
    child_signals_forwarded_total: "Signals sent to the wrapped app.",
    metric_samples_total: "Samples of the platform metric groups taken.",
    metric_rows_total: "Platform metric rows sent to the output.",
    metric_problems_total: "Platform metric sources that could not be read (each reported once; the metric is skipped).",
    otlp_records_sent_total: "Records the OTLP collector acknowledged.",
    otlp_records_retried_total: "Records in OTLP requests tried again (429, 502, 503, 504, no answer), once per retry.",
    otlp_records_refused_total: "Records the OTLP collector refused for good (other 4xx/5xx, partial success); dropped.",
    otlp_records_queued: "Records of the current batch not yet acknowledged by the OTLP collector (a gauge).",
    otlp_requests_total: "OTLP requests made, retries included.",
    otlp_request_latency_ms_total: "Time spent in them, ms (divide by otlp_requests_total for the mean latency).",
    spool_commits_total: "Commits to the write-ahead spool (rows and positions, fsynced together).",
    spool_commit_micros_total: "Time spent in them (write and fsync), µs (divide by spool_commits_total for the mean latency).",
    spool_fsyncs_total: "fsync calls the spool made.",
    spool_bytes: "Bytes the spool holds now (a gauge).",
    spool_segments: "Segment files the spool holds now (a gauge).",
    spool_rows_replayed_total: "Rows replayed from the spool into the output at start (read before a crash, not yet in a written file).",
}

impl Counters {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// A counter's unit, in UCUM as OpenTelemetry writes units: `By` for bytes, `{file}` for
/// the files gauge, `1` for counts.
fn unit_of(name: &str) -> &'static str {
    if name.contains("bytes") {
        "By"
    } else if name.ends_with("_ms_total") {
        "ms"
    } else if name.ends_with("_micros_total") {
        "us"
    } else if name.ends_with("files_watched") {
        "{file}"
    } else {
        "1"
    }
}

/// The counters as METRIC rows (scope `firn.agent`): cumulative sums since `start_ns`, and
/// `files_watched` as a gauge.
pub fn metric_points(
    c: &Counters,
    start_ns: i64,
    now_ns: i64,
) -> Vec<crate::pipeline::MetricPoint> {
    use firn_schemas::{JsonText, MetricType, ValueType, metric_record};
    use std::collections::HashMap;
    use std::sync::OnceLock;
    static RECORDS: OnceLock<HashMap<&'static str, JsonText>> = OnceLock::new();
    static SCOPE: OnceLock<JsonText> = OnceLock::new();
    let snapshot = c.snapshot();
    let records = RECORDS.get_or_init(|| {
        snapshot
            .iter()
            .map(|(name, _)| {
                let unit = unit_of(name);
                let kind = if is_gauge(name) {
                    MetricType::Gauge
                } else {
                    MetricType::Sum
                };
                (*name, metric_record(name, unit, kind, ValueType::Int))
            })
            .collect()
    });
    let scope = SCOPE.get_or_init(|| JsonText::string_object([("name", "firn.agent")]));
    snapshot
        .into_iter()
        .filter_map(|(name, v)| {
            let record = records.get(name)?.clone();
            let gauge = is_gauge(name);
            Some(crate::pipeline::MetricPoint {
                timestamp_ns: now_ns,
                start_ns: (!gauge).then_some(start_ns),
                record,
                attributes: None,
                scope: Some(scope.clone()),
                value: crate::pipeline::MetricValue::Int(i64::try_from(v).unwrap_or(i64::MAX)),
            })
        })
        .collect()
}

/// Counters that are levels, not running totals.
pub fn is_gauge(name: &str) -> bool {
    name.ends_with("files_watched")
        || name.ends_with("otlp_records_queued")
        || name.ends_with("spool_bytes")
        || name.ends_with("spool_segments")
}

/// The non-zero counters as `name=value` pairs, for the log.
pub fn describe(c: &Counters) -> String {
    c.snapshot()
        .into_iter()
        .filter(|(_, v)| *v > 0)
        .map(|(n, v)| format!("{}={v}", n.trim_start_matches("firn.")))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    /// Issue 8 item 7: byte counters had unit "1". Every firn.* metric's unit, by hand.
    #[test]
    fn every_firn_metric_has_its_unit() {
        let c = Counters::default();
        let points = metric_points(&c, 0, 1);
        assert_eq!(points.len(), c.snapshot().len());
        for p in points {
            let rec: serde_json::Value = serde_json::from_str(p.record.as_str()).unwrap();
            let name = rec["metric"]["name"].as_str().unwrap().to_string();
            let unit = rec["metric"]["unit"].as_str().unwrap().to_string();
            let want = match name.as_str() {
                "firn.bytes_read_total"
                | "firn.long_lines_dropped_bytes"
                | "firn.output_bytes_written_total"
                | "firn.spool_bytes" => "By",
                "firn.spool_commit_micros_total" => "us",
                "firn.files_watched" => "{file}",
                "firn.otlp_request_latency_ms_total" => "ms",
                n => {
                    assert!(!n.contains("bytes"), "{n} counts bytes: add it above");
                    "1"
                }
            };
            assert_eq!(unit, want, "{name}");
        }
    }
}
