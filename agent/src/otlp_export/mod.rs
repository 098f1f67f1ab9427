//! OTLP export: the rows the agent writes to Parquet, also (or only) sent as OTLP/HTTP
//! protobuf to any OpenTelemetry collector or to firn-collector.
//!
//! The sink thread hands each finished batch to [`OtlpExporter`] (a
//! [`crate::pipeline::Forward`]) before it writes the batch, and the source positions the batch
//! moves, to Parquet. The exporter maps rows with the one shared mapping
//! ([`firn_schemas::otlp::batch_to_otlp`]), sends requests of up to `--otlp-batch` records and
//! retries until the collector takes them. While it retries the sink thread waits, the
//! bounded channel fills and reading pauses: a collector that is down loses nothing, and a
//! position only moves once Parquet and the collector both have the rows. See README.md.

mod config;
mod exporter;
mod retry;
mod token;

#[cfg(test)]
mod tests;

pub use config::{OtlpArgs, OtlpConfig, OtlpConfigError, SignalConfig, parse_headers};
pub use exporter::{AGENT_ID_HEADER, BATCH_SEQ_HEADER, ExporterError, OtlpExporter};
pub use retry::{
    MAX_RETRY_AFTER, Outcome, backoff, classify, parse_retry_after, parse_retry_after_at,
    server_message,
};
pub use token::{TokenError, TokenFile};

/// The OTLP exporter for the sink thread, when export is on.
pub fn forward_slot(
    cfg: &crate::config::AgentConfig,
    counters: &std::sync::Arc<crate::telemetry::Counters>,
) -> Option<crate::pipeline::ForwardSlot> {
    let o = cfg.otlp.as_ref()?;
    tracing::info!(
        logs = %o.logs.url,
        metrics = %o.metrics.url,
        gzip = o.logs.gzip,
        batch = o.batch,
        origin = %o.logs.origin,
        "Sending OTLP/HTTP protobuf"
    );
    let e = OtlpExporter::new(o.clone(), &cfg.sink.agent_id, counters.clone());
    Some(crate::pipeline::ForwardSlot::new(e))
}
