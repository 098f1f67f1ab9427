//! The one mapping between OTLP (logs, traces, metrics) and event-table rows, both ways.
//! Enabled by the `otlp` feature; used by `firn-collector` and the agent's OTLP export.
//!
//! Layout, following Snowflake's "Event table columns" reference (SPCS.md §4); where it is
//! silent, OTLP's field names in snake_case:
//!
//! | OTLP | column |
//! |---|---|
//! | resource attributes | RESOURCE_ATTRIBUTES (NULL when none) |
//! | scope name, version, dropped_attributes_count | SCOPE `{"name", "version", ...}` |
//! | scope attributes | SCOPE_ATTRIBUTES |
//! | trace_id, span_id (hex) | TRACE `{"trace_id", "span_id"}` |
//! | log record | LOG row: TIMESTAMP = time (else observed time), OBSERVED_TIMESTAMP = observed time, RECORD `{severity_text, severity_number, event_name, flags, dropped_attributes_count}`, RECORD_ATTRIBUTES, VALUE = body (any `AnyValue` as JSON) |
//! | span | SPAN row: TIMESTAMP = end, START_TIMESTAMP = start, RECORD `{name, kind: "SPAN_KIND_*", parent_span_id, status {code: "STATUS_CODE_*", message}, trace_state, flags, dropped_{attributes,events,links}_count, links [...]}`, RECORD_ATTRIBUTES |
//! | span event | SPAN_EVENT row after its span: its time, the span's TRACE, RECORD `{name, dropped_attributes_count}`, RECORD_ATTRIBUTES |
//! | metric data point | METRIC row: TIMESTAMP = time, START_TIMESTAMP = start time, RECORD `{metric {name, description, unit, metadata}, metric_type, value_type ("INT"/"DOUBLE", gauge and sum), aggregation_temporality ("AGGREGATION_TEMPORALITY_*"), is_monotonic (sum), flags}`, RECORD_ATTRIBUTES = point attributes, VALUE = the number, or for `histogram` `{count, sum, min, max, bucket_counts, explicit_bounds}`, `exponential_histogram` `{count, sum, min, max, scale, zero_count, zero_threshold, positive {offset, bucket_counts}, negative}`, `summary` `{count, sum, quantile_values [{quantile, value}]}`; EXEMPLARS `[{time_unix_nano, value, trace_id, span_id, filtered_attributes}]` |
//!
//! Attributes come back in key order (they are a map). Not kept (the table has no place
//! for them): schema URLs, the resource's
//! `dropped_attributes_count` and entity refs, the type of `bytes` values (they come back
//! as base64 strings), duplicate attribute keys (the last wins), NaN and infinities (JSON
//! `null`), and a log record's zero `time_unix_nano` (TIMESTAMP falls back to the observed
//! or the receive time).
//!
//! ```
//! use firn_schemas::BatchBuilder;
//! use firn_schemas::otlp::{logs_to_rows, owned_rows, rows_to_otlp};
//! use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
//! use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
//! let req = ExportLogsServiceRequest {
//!     resource_logs: vec![ResourceLogs {
//!         scope_logs: vec![ScopeLogs {
//!             log_records: vec![LogRecord {
//!                 time_unix_nano: 1_700_000_000_000_000_000,
//!                 severity_text: "INFO".into(),
//!                 ..Default::default()
//!             }],
//!             ..Default::default()
//!         }],
//!         ..Default::default()
//!     }],
//! };
//! let mut b = BatchBuilder::new();
//! assert_eq!(logs_to_rows(&req, &mut b, 0).rows, 1);
//! let rows = owned_rows(&b.finish().unwrap()).unwrap();
//! let back = rows_to_otlp(rows.iter().map(|r| r.view())).unwrap();
//! assert_eq!(back.logs, req);
//! ```

mod from_rows;
mod json;
mod metrics;
mod metrics_back;
mod names;
mod read;
mod to_rows;

#[cfg(test)]
mod tests;

pub use from_rows::{FromRowsError, OtlpRequests, RowView, batch_to_otlp, rows_to_otlp};
pub use metrics::metrics_to_rows;
pub use read::{OwnedRow, owned_rows};
pub use to_rows::{Mapped, attributes_over, logs_to_rows, traces_to_rows};

/// The generated OTLP types this mapping speaks, re-exported so users need not pin a
/// matching `opentelemetry-proto` themselves.
pub use opentelemetry_proto::tonic as proto;
