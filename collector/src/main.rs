//! `firn-collector`: see the library's docs.

use firn_collector::{cli, query, receive, serve};

use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let default = match (cli.quiet, cli.verbose) {
        (true, _) => "warn",
        (false, 0) => "info",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .compact()
        .init();
    let result = match &cli.command {
        cli::Command::Receive(args) => receive::run(args),
        cli::Command::Query(args) => query::run(args, cli.verbose > 0).map_err(anyhow::Error::from),
        cli::Command::Serve(args) => serve::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("firn-collector: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
