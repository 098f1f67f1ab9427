//! The firn sidecar: sources → filter → batch → Parquet sink.
//!
//! The binary (`main.rs`) parses arguments and calls into these modules; integration tests
//! use them directly.

pub mod capture;
pub mod cli;
pub mod config;
pub mod config_file;
pub mod file_tail;
pub mod level_filter;
pub mod line_semantics;
pub mod metrics;
pub mod once;
pub mod otlp_export;
pub mod pipeline;
pub mod resource;
pub mod row_mapper;
pub mod run;
pub mod shutdown;
pub mod sink_setup;
pub mod spec_config;
pub mod spool_place;
pub mod structured;
pub mod telemetry;
