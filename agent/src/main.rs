//! `firn-agent`: the sidecar binary.

use firn_agent::{cli, config, once, telemetry};

use std::process::ExitCode;
use std::sync::Arc;

use firn_schemas::units::format_bytes;
use tracing_subscriber::EnvFilter;

fn init_logging(cli: &cli::Cli) {
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
        // Colours only for a person at a terminal, not in log files and collectors.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .compact()
        .init();
}

fn main() -> ExitCode {
    let (mut cli, matches) =
        match firn_agent::config_file::validate::resolve(std::env::args_os().collect()) {
            Ok((cli, matches, _)) => (cli, matches),
            Err(e) => match e.downcast::<clap::Error>() {
                Ok(e) => e.exit(),
                Err(e) => {
                    eprintln!("firn-agent: error: {e:#}");
                    return ExitCode::from(2);
                }
            },
        };
    match &cli.subcommand {
        Some(cli::Subcommand::Spec(cmd)) => {
            let code = firn_spec::run(cmd, &mut std::io::stdout(), &mut std::io::stderr());
            return ExitCode::from(u8::try_from(code).unwrap_or(1));
        }
        Some(cli::Subcommand::Validate(v)) => {
            return match firn_agent::config_file::validate::run(v, &mut std::io::stdout()) {
                Ok(code) => ExitCode::from(code),
                Err(e) => {
                    eprintln!("firn-agent: error: {e:#}");
                    ExitCode::from(2)
                }
            };
        }
        None => {}
    }
    init_logging(&cli);
    match run(&mut cli, &matches) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("firn-agent: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: &mut cli::Cli, matches: &clap::ArgMatches) -> anyhow::Result<ExitCode> {
    let origins = firn_agent::spec_config::apply(cli, matches)?;
    let cfg = config::AgentConfig::from_cli(cli, |k| std::env::var(k).ok())?;
    tracing::info!(
        inputs = %cfg.inputs.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(" "),
        output = %cfg.describe_output(),
        log_level = cfg.log_level.as_str(),
        metric_groups = %cfg.metric_groups.join(","),
        resource = %cfg.resource.describe(),
        "Starting firn-agent {}",
        env!("CARGO_PKG_VERSION")
    );
    for o in &origins {
        tracing::info!(setting = o.name, value = %o.value, source = %o.source, "Setting (with --spec)");
    }
    let counters = Arc::new(telemetry::Counters::default());
    if !cfg.once {
        return firn_agent::run::run(&cfg, &counters);
    }
    let report = once::run(&cfg, &counters)?;
    let stats = &report.sink.stats;
    let read = counters
        .bytes_read_total
        .load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "firn-agent: read {} line(s), {} from {} file(s); wrote {} row(s) in {} Parquet file(s), {}, under {}",
        counters
            .lines_read_total
            .load(std::sync::atomic::Ordering::Relaxed),
        format_bytes(read),
        report.files,
        stats.rows_written_total,
        stats.files_written_total,
        format_bytes(stats.bytes_written_total),
        cfg.sink.dir.display()
    );
    for path in &report.written {
        println!("  {}", path.display());
    }
    for (name, value) in counters.snapshot() {
        if value > 0 && !name.ends_with("lines_read_total") && !name.ends_with("bytes_read_total") {
            println!("  {name} = {value}");
        }
    }
    if stats.files_written_total > 0 {
        println!(
            "Query them (needs `pip install duckdb`):\n  python3 dashboards/duckdb/query.py {}",
            cfg.sink.dir.display()
        );
    }
    if let Some(e) = report.sink.error {
        eprintln!("firn-agent: error: {e}");
        return Ok(ExitCode::from(1));
    }
    if !report.unreadable.is_empty() {
        for p in &report.unreadable {
            eprintln!(
                "firn-agent: error: could not read {} (see the warning above); its lines are not in the output",
                firn_agent::file_tail::names::escaped(p)
            );
        }
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
