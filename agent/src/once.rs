//! `--once`: read every matching file to its end, write, report, exit.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use firn_schemas::ParquetSink;

use crate::config::AgentConfig;
use crate::file_tail::lines::LinePos;
use crate::file_tail::{FileReader, ReadOutcome};
use crate::pipeline::{SinkReport, SinkSettings, spawn_sink};
use crate::telemetry::Counters;

/// What a `--once` run did.
#[derive(Debug)]
pub struct OnceReport {
    /// Files read.
    pub inputs: Vec<PathBuf>,
    /// The sink's report.
    pub sink: SinkReport,
}

/// The files the globs match now, minus the excluded ones, sorted, without duplicates.
pub fn expand(cfg: &AgentConfig) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for pattern in &cfg.inputs {
        let matches = match glob::glob(pattern.as_str()) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(glob = %pattern, error = %e, "Cannot expand input glob");
                continue;
            }
        };
        let before = out.len();
        for entry in matches {
            match entry {
                Ok(p) if p.is_file() => {
                    if !cfg.excludes.iter().any(|x| x.matches_path(&p)) {
                        out.push(p);
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "Cannot read a folder while expanding input glob")
                }
            }
        }
        if out.len() == before {
            tracing::warn!(glob = %pattern, "No file matches input glob");
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Runs `--once`.
///
/// # Errors
/// When no file matches, the sink cannot start, or rows could not be written.
pub fn run(cfg: &AgentConfig, counters: &Arc<Counters>) -> anyhow::Result<OnceReport> {
    let files = expand(cfg);
    if files.is_empty() {
        bail!(
            "no file matches {}",
            cfg.inputs
                .iter()
                .map(|p| format!("'{p}'"))
                .collect::<Vec<_>>()
                .join(" or ")
        );
    }
    let sink = ParquetSink::new(cfg.sink.clone());
    let (tx, handle) = spawn_sink(
        sink,
        cfg.resource.to_json(),
        SinkSettings::default(),
        Box::new(|w| tracing::debug!(path = %w.path.display(), rows = w.rows, "Wrote file")),
    )
    .context("cannot start the sink thread")?;
    let mut buf = vec![0u8; 256 << 10];
    for path in &files {
        let key = path.to_string_lossy().into_owned();
        let mut reader = match FileReader::open(
            path,
            key,
            LinePos::default(),
            cfg.max_line_bytes,
            cfg.long_lines,
        ) {
            Ok(r) => r,
            Err(e) => {
                Counters::add(&counters.read_errors_total, 1);
                tracing::warn!(path = %path.display(), error = %e, "Cannot open input file; skipping it");
                continue;
            }
        };
        Counters::add(&counters.files_opened_total, 1);
        let outcome = match reader.read_available(&mut buf, u64::MAX, &tx, counters) {
            Ok(ReadOutcome::Eof) => reader.flush_partial(&tx, counters),
            Ok(ReadOutcome::Closed) => ReadOutcome::Closed,
            Err(e) => {
                Counters::add(&counters.read_errors_total, 1);
                tracing::warn!(path = %path.display(), error = %e, "Read error; the rest of the file is skipped");
                reader.flush_partial(&tx, counters)
            }
        };
        if outcome == ReadOutcome::Closed {
            break;
        }
    }
    drop(tx);
    let sink = handle
        .join()
        .map_err(|_| anyhow::anyhow!("the sink thread panicked"))?;
    Ok(OnceReport {
        inputs: files,
        sink,
    })
}
