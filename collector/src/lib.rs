//! `firn-collector`: the fleet side. `receive` takes OTLP over HTTP and gRPC and scrapes
//! Prometheus endpoints, and writes the same event-table Parquet as firn-agent.
//!
//! Folders by job: `receive/` (OTLP servers, limits, the durable writer), `scrape/`
//! (Prometheus), `query/` (SQL over the
//! Parquet files with DataFusion), `serve/` (the web dashboard over the same engine). The OTLP <-> row mapping itself lives in `firn_schemas::otlp`, shared with
//! the agent.

pub mod cli;
pub mod query;
pub mod receive;
pub mod scrape;
pub mod serve;
mod signals;
pub mod telemetry;
