//! Sources → sink thread → Parquet.
//!
//! Sources (file readers, captured streams, metric samplers) turn their input into
//! [`LogChunk`]s and [`MetricPoint`]s and send them over a bounded channel to one sink
//! thread, which appends them to Arrow batches and hands those to the
//! [`ParquetSink`](firn_schemas::ParquetSink). A full channel blocks the sender: that is the
//! backpressure that keeps memory bounded when the output is slow or full.

mod chunk;
mod forward;
mod sink_thread;
mod spool_commit;

pub use chunk::{ChunkBuilder, LogChunk, LogLine, MetricPoint, MetricValue};
pub use forward::{Forward, ForwardSlot, Undelivered};
pub use sink_thread::{SinkReport, SinkSettings, spawn_sink};
pub use spool_commit::{SpoolSetup, SpoolSlot};

/// What a source sends to the sink thread.
#[derive(Debug)]
pub enum Msg {
    /// Log lines of one source.
    Logs(LogChunk),
    /// Metric data points.
    Metrics(Vec<MetricPoint>),
}

/// The sending side, cloned by every source.
pub type Sender = std::sync::mpsc::SyncSender<Msg>;
