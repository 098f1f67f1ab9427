//! The Snowflake event-table schema, defined once, its row builder, and the Parquet sink.
//!
//! ```
//! use firn_schemas::{BatchBuilder, Row, Severity, ParquetSink, SinkConfig, OutputMode};
//! let dir = tempfile::tempdir().unwrap();
//! let mut sink = ParquetSink::new(SinkConfig::new(dir.path(), OutputMode::Local));
//! let mut rows = BatchBuilder::new();
//! rows.append(&Row::log(1_700_000_000_000_000_000, Severity::Info, "hello"));
//! sink.write(&rows.finish().unwrap(), &[]).unwrap();
//! sink.close(std::time::Instant::now()).unwrap();
//! assert_eq!(sink.stats().rows_written_total, 1);
//! ```

pub mod artifacts;
mod builder;
pub mod columns;
mod json;
#[cfg(feature = "otlp")]
pub mod otlp;
pub mod parquet_sink;
pub mod spool;
pub mod units;
pub mod views;

pub use builder::{
    BatchBuilder, MetricType, RecordType, Row, Severity, Value, ValueType, metric_record,
};
pub use columns::{COLUMNS, Column, ColumnKind, batch_schema, file_schema, parquet_schema};
pub use json::{JsonText, ObjectWriter, push_json_string, write_json_string};
pub use parquet_sink::{
    OutputMode, OutputModeChoice, ParquetSink, SinkConfig, SinkError, SinkStats, WrittenFile,
};
