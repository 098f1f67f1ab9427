//! `firn-collector receive`: OTLP over HTTP and gRPC into event-table Parquet.
//! See README.md beside this file.

pub mod auth;
pub mod decode;
pub mod dedup;
pub mod grpc;
pub mod http;
pub mod ingest;
pub mod limits;

use std::sync::Arc;

use anyhow::Context as _;
use firn_schemas::parquet_sink::resolve_mode;
use firn_schemas::{OutputModeChoice, ParquetSink, SinkConfig};

use crate::cli::ReceiveArgs;
use crate::telemetry::Counters;

pub use auth::Token;
pub use ingest::Ingest;

/// Batches that may wait for the Parquet writer before requests get 503.
const WRITER_QUEUE: usize = 64;

/// Agents whose last batch number is kept for dropping resends; past it the least recently
/// seen is forgotten. Bounds memory and the footer (about 60 bytes an agent).
const DEDUP_AGENTS: usize = 10_000;

/// The stamps already written, from this collector's newest complete file that has them;
/// leftovers of interrupted writes are removed on the way.
fn restore_dedup(dir: &std::path::Path, collector_id: &str) -> Arc<dedup::Dedup> {
    let found = match firn_schemas::parquet_sink::leftovers::scan_own_files(
        dir,
        collector_id,
        dedup::META_BATCH_SEQS,
    ) {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "Cannot list the output folder; resent batches written before this start are not recognised");
            return dedup::Dedup::new(DEDUP_AGENTS);
        }
    };
    let Some((path, meta)) = found.newest else {
        return dedup::Dedup::new(DEDUP_AGENTS);
    };
    let text = meta.get(dedup::META_BATCH_SEQS).map_or("", String::as_str);
    match dedup::Dedup::restore(text, DEDUP_AGENTS) {
        Ok(d) => {
            tracing::info!(file = %path.display(), agents = d.agents(), "Restored the last batch number of each agent");
            d
        }
        Err(e) => {
            tracing::warn!(file = %path.display(), error = %e, "Cannot read the batch numbers in a footer; resent batches written before this start are not recognised");
            dedup::Dedup::new(DEDUP_AGENTS)
        }
    }
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "firn-collector".into())
}

/// Runs the receiver (and the scrapers) until SIGTERM or Ctrl-C.
///
/// # Errors
/// When it cannot start: no token, an address in use, an output it cannot create.
pub fn run(args: &ReceiveArgs) -> anyhow::Result<()> {
    let token = if args.insecure_no_auth {
        tracing::warn!("Accepting requests without a token (--insecure-no-auth)");
        None
    } else {
        Some(Arc::new(Token::load(
            args.token_file.as_deref(),
            std::env::var("FIRN_TOKEN").ok(),
        )?))
    };
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("cannot create the output folder {}", args.output.display()))?;
    let (mode, why) = resolve_mode(OutputModeChoice::Auto, &args.output);
    let mut cfg = SinkConfig::new(&args.output, mode);
    cfg.set_agent_id(args.collector_id.as_deref().unwrap_or(&host_name()));
    let dedup = restore_dedup(&args.output, &cfg.agent_id);
    cfg.writer_name = format!("firn-collector {}", env!("CARGO_PKG_VERSION"));
    let counters = Arc::new(Counters::default());
    let limits = limits::Limits {
        max_rows: args.max_rows_per_request,
        max_attributes: args.max_attributes,
        max_value_bytes: usize::try_from(args.max_attribute_value_bytes).unwrap_or(usize::MAX),
    };
    let (ingest, writer) = ingest::Ingest::start(
        ParquetSink::new(cfg),
        limits,
        args.max_concurrent_requests,
        WRITER_QUEUE,
        dedup,
        counters.clone(),
    )
    .context("cannot start the Parquet writer thread")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    rt.block_on(serve(args, ingest, token, &why))?;
    drop(rt);
    // Every sender is gone: the writer finishes its queue and closes the sink.
    let _ = writer.join();
    tracing::info!("Stopped");
    Ok(())
}

async fn serve(
    args: &ReceiveArgs,
    ingest: ingest::Ingest,
    token: Option<Arc<Token>>,
    mode_why: &str,
) -> anyhow::Result<()> {
    let term = crate::signals::term_signal();
    let http_listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {} (--listen)", args.listen))?;
    let grpc_listener = if args.grpc_listen == "off" {
        None
    } else {
        let addr: std::net::SocketAddr = args.grpc_listen.parse().with_context(|| {
            format!(
                "--grpc-listen {:?} is not host:port or off",
                args.grpc_listen
            )
        })?;
        Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} (--grpc-listen)"))?,
        )
    };
    let scrapers = crate::scrape::start(args, ingest.counters.clone(), ingest.clone())?;
    tracing::info!(
        http = %http_listener.local_addr().map(|a| a.to_string()).unwrap_or_default(),
        grpc = %grpc_listener.as_ref().and_then(|l| l.local_addr().ok()).map(|a| a.to_string()).unwrap_or_else(|| "off".into()),
        output = %args.output.display(),
        output_mode = mode_why,
        auth = if token.is_some() { "bearer token" } else { "none" },
        "Starting firn-collector {}",
        env!("CARGO_PKG_VERSION")
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let wait = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|v| *v).await;
    };
    let state = Arc::new(http::HttpState {
        ingest: ingest.clone(),
        token: token.clone(),
        max_body_bytes: args.max_body_bytes,
        max_decompressed_bytes: args.max_decompressed_bytes,
    });
    let http = axum::serve(http_listener, http::router(state))
        .with_graceful_shutdown(wait(stop_rx.clone()));
    let grpc_task = grpc_listener.map(|l| {
        let g = grpc::Grpc::new(ingest.clone(), token);
        let max = usize::try_from(args.max_decompressed_bytes).unwrap_or(usize::MAX);
        tokio::spawn(grpc::serve(g, l, max, wait(stop_rx.clone())))
    });
    drop(ingest);
    let http_task = tokio::spawn(async move { http.await });
    crate::signals::shutdown_signal(term).await;
    tracing::info!("Stopping: finishing requests in progress");
    let _ = stop_tx.send(true);
    drop(scrapers);
    http_task.await?.context("the HTTP server failed")?;
    if let Some(t) = grpc_task {
        t.await?.context("the gRPC server failed")?;
    }
    Ok(())
}
