//! `firn-collector`: the fleet side (OTLP receiver, Prometheus scraper, offline analysis).
//!
//! Not built yet: this binary only says so, so that nobody mistakes it for a working
//! collector. The Parquet it will write is the agent's (`firn-schemas`).

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!(
        "firn-collector {}: the fleet collector is not built yet.\n\
         Use firn-agent, which writes the same event-table Parquet (firn-agent --help).",
        env!("CARGO_PKG_VERSION")
    );
    ExitCode::from(2)
}
