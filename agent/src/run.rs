//! The long-running agent: starts the sink and every configured source, handles signals,
//! and stops in order (sources finish, then the sink writes everything).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::task::JoinHandle;

use crate::config::AgentConfig;
use crate::file_tail::Tailer;
use crate::pipeline::Msg;
use crate::shutdown::Stage;
use crate::shutdown::{Shutdown, listen_for_signals};
use crate::telemetry::{self, Counters};
use firn_schemas::parquet_sink::naming::now_ns;

/// Runs until the sources end or a signal stops the agent.
///
/// # Errors
/// When a part cannot start; problems while running are logged and counted instead.
pub fn run(cfg: &AgentConfig, counters: &Arc<Counters>) -> anyhow::Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("firn-rt")
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(run_async(cfg, counters))
}

async fn run_async(cfg: &AgentConfig, counters: &Arc<Counters>) -> anyhow::Result<ExitCode> {
    // One deadline for the whole shutdown, inside the platform's 30 s (SPCS.md §9), after
    // a wrapped app's (or stdin's) --child-grace.
    let mut shutdown = Shutdown::new(Duration::from_secs(30));
    if !matches!(cfg.capture.mode, crate::capture::CaptureMode::Off) {
        shutdown = shutdown.with_child_grace(cfg.capture.child_grace);
    }
    listen_for_signals(shutdown.clone()).context("cannot install signal handlers")?;
    let started = crate::sink_setup::start(cfg, counters, Some(&shutdown), {
        let c = counters.clone();
        Box::new(move |w| {
            tracing::debug!(path = %w.path.display(), rows = w.rows, "Wrote file");
            Counters::add(&c.output_files_written_total, 1);
            Counters::add(&c.output_rows_written_total, w.rows);
            Counters::add(&c.output_bytes_written_total, w.bytes);
        })
    })?;
    let (tx, sink, recovered) = (started.tx, started.handle, started.recovered);
    // Each source is a task; one that wraps a child reports the child's exit code.
    let mut sources: Vec<(&str, JoinHandle<anyhow::Result<Option<u8>>>)> = Vec::new();
    // Files.
    if !cfg.inputs.is_empty() {
        let tailer = Tailer::new(cfg.tail.clone(), &recovered, tx.clone(), counters.clone());
        let sd = shutdown.clone();
        sources.push((
            "files",
            tokio::task::spawn_blocking(move || {
                tailer.run(&sd);
                Ok(None)
            }),
        ));
    }
    // Captured output: a wrapped app (-- COMMAND) or stdin.
    let settings = crate::capture::StreamSettings {
        max_line_bytes: cfg.max_line_bytes,
        long_lines: cfg.long_lines,
    };
    sources.extend(crate::capture::spawn_sources(
        &cfg.capture,
        settings,
        &tx,
        counters,
        &shutdown,
    ));
    if sources.is_empty() {
        drop(tx);
        let _ = tokio::task::spawn_blocking(move || sink.join()).await;
        anyhow::bail!(
            "nothing to follow: give --input GLOB (add --once to read files to their end and exit), --stdin, or -- COMMAND to run and capture"
        );
    }
    // The platform metric groups, on a thread of their own, and --http-listen.
    let latest = crate::metrics::Latest::default();
    let sampler = crate::metrics::spawn(&cfg.metrics, &tx, counters, &shutdown, &latest);
    if let Some(addr) = cfg.metrics.http_listen {
        crate::metrics::serve_http(addr, cfg, counters, &latest, &shutdown)
            .await
            .with_context(|| format!("cannot serve --http-listen {addr}"))?;
    }
    // The agent's own counters: in its log and as METRIC rows beside the data.
    let telemetry = {
        let (tx, counters, shutdown) = (tx.clone(), counters.clone(), shutdown.clone());
        let every = cfg.telemetry_interval;
        tokio::spawn(async move {
            let start = now_ns();
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    () = shutdown.reached(Stage::Graceful) => break,
                }
                tracing::info!(counters = %telemetry::describe(&counters), "Telemetry");
                let points = telemetry::metric_points(&counters, start, now_ns());
                let tx = tx.clone();
                // The channel may be full (backpressure): do not block a runtime thread.
                if tokio::task::spawn_blocking(move || tx.send(Msg::Metrics(points)))
                    .await
                    .map_or(true, |r| r.is_err())
                {
                    break;
                }
            }
            start
        })
    };
    let mut exit = ExitCode::SUCCESS;
    for (name, task) in sources {
        match task.await {
            Ok(Ok(Some(code))) => exit = ExitCode::from(code),
            Ok(Ok(None)) => {}
            Ok(Err(e)) => {
                tracing::error!(source = name, error = %format!("{e:#}"), "Source failed");
                exit = ExitCode::from(1);
            }
            Err(e) => {
                tracing::error!(source = name, error = %e, "Source task panicked");
                exit = ExitCode::from(1);
            }
        }
    }
    shutdown.request(Stage::Graceful);
    let start = telemetry.await.unwrap_or_else(|_| now_ns());
    // A last snapshot, so the output says what this run read and dropped.
    let _ = tx.send(Msg::Metrics(telemetry::metric_points(
        counters,
        start,
        now_ns(),
    )));
    drop(tx);
    if let Some(s) = sampler {
        let _ = tokio::task::spawn_blocking(move || s.join()).await;
    }
    let report = tokio::task::spawn_blocking(move || sink.join())
        .await
        .context("the sink thread could not be joined")?
        .map_err(|_| anyhow::anyhow!("the sink thread panicked"))?;
    let stats = &report.stats;
    tracing::info!(counters = %telemetry::describe(counters), "Telemetry");
    tracing::info!(
        files = stats.files_written_total,
        rows = stats.rows_written_total,
        bytes = stats.bytes_written_total,
        "Stopped"
    );
    if report.error.is_some() || report.dropped_rows > 0 {
        let (files, rows) = match &report.error {
            Some(firn_schemas::SinkError::Undelivered { files, rows, .. }) => (*files, *rows),
            _ => (0, 0),
        };
        let error = report.error.as_ref().map(ToString::to_string);
        tracing::error!(
            files_not_written = files,
            rows_in_them = rows,
            rows_still_queued = report.dropped_rows,
            rows_not_delivered = rows + report.dropped_rows,
            error = error.as_deref().unwrap_or(""),
            "Rows were not delivered"
        );
        return Ok(ExitCode::from(1));
    }
    Ok(exit)
}
