//! Capturing an app's stdout and stderr as LOG rows, the way SPCS does for every container
//! (SPCS.md §1–§3), plus the `status` metrics of the app (§5).
//!
//! Two ways in:
//! - **wrap**: `firn-agent [OPTIONS] -- COMMAND [ARGS...]`. firn starts the app as its child
//!   ([`wrap`]), reads its stdout and stderr as two streams, copies them through to its own
//!   stdout/stderr (unless `--no-passthrough`), forwards signals, reports
//!   `container.state.*` metrics, and exits with the app's exit code.
//! - **stdin**: `app | firn-agent --stdin`. One stream, `log.iostream` = `--stdin-stream`
//!   (default `stdout`, since a pipe carries the writer's stdout).
//!
//! Each stream is read by a [`stream::Pump`]: bytes are cut into lines by the file tailer's
//! bounded [`LineSplitter`](crate::file_tail::lines::LineSplitter), a line that is a
//! structured JSON record is mapped by [`structured::parse`](crate::structured::parse), the
//! SPCS `logLevel` ([`LogLevel`](crate::level_filter::LogLevel)) decides whether it is
//! exported, and rows go to the sink thread in chunks. Order is kept within a stream.
//!
//! Shutdown: the app runs in a process group of its own; the first SIGTERM is forwarded to
//! the group, which gets `--child-grace` (25 s) before SIGKILL. Capture runs until the app
//! exits and its pipes end (or `--drain-timeout` after its exit, when a process it started
//! still holds them). A second signal kills the group and flushes what was read.
//!
//! See `README.md` beside this file for flags, examples and limits.

pub mod cli;
pub mod config;
mod group;
mod status;
mod stdin;
mod stream;
pub mod wrap;

use std::sync::Arc;

use tokio::task::JoinHandle;

pub use config::{CaptureConfig, CaptureConfigError, CaptureMode};

use crate::file_tail::lines::LongLines;
use crate::level_filter::LogLevel;
use crate::pipeline::Sender;
use crate::shutdown::Shutdown;
use crate::telemetry::Counters;

pub use crate::level_filter::Stream;

/// Line limits shared with the file inputs (`--max-line-bytes`, `--long-lines`).
#[derive(Debug, Clone, Copy)]
pub struct StreamSettings {
    /// Longest line, bytes.
    pub max_line_bytes: usize,
    /// What happens to longer ones.
    pub long_lines: LongLines,
}

impl StreamSettings {
    fn pump(
        self,
        stream: Stream,
        level: LogLevel,
        passthrough: Option<stream::Passthrough>,
    ) -> stream::Pump {
        stream::Pump {
            rules: stream::LineRules::new(stream, level),
            max_line_bytes: self.max_line_bytes,
            long_lines: self.long_lines,
            passthrough,
        }
    }
}

/// What a capture source can fail with (a wrapped app that cannot start is not an error of
/// firn's: it ends with the app's exit code).
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The thread that reads stdin could not be started.
    #[error("cannot start the thread reading stdin")]
    StdinThread(#[source] std::io::Error),
    /// The task reading stdin failed (panicked or was cancelled).
    #[error("the stdin capture task failed")]
    StdinTask(#[source] tokio::task::JoinError),
    /// The signals to forward to the wrapped app cannot be listened for.
    #[error("cannot listen for the signals to forward to the wrapped app")]
    Signals(#[source] std::io::Error),
}

/// A running source: its name and its task, which yields a wrapped app's exit code.
pub type Source = (&'static str, JoinHandle<anyhow::Result<Option<u8>>>);

/// Starts the capture sources `cfg` asks for (none, the wrapped app, or stdin), cutting
/// lines as `settings` say.
pub fn spawn_sources(
    cfg: &CaptureConfig,
    settings: StreamSettings,
    tx: &Sender,
    counters: &Arc<Counters>,
    shutdown: &Shutdown,
) -> Vec<Source> {
    let capture = Arc::new(cfg.clone());
    let (tx, counters, shutdown) = (tx.clone(), counters.clone(), shutdown.clone());
    match &cfg.mode {
        CaptureMode::Off => Vec::new(),
        CaptureMode::Wrap { program, args } => vec![(
            "wrapped app",
            tokio::spawn({
                let run = wrap::run(
                    capture,
                    program.clone(),
                    args.clone(),
                    settings,
                    tx,
                    counters,
                    shutdown,
                );
                async move { Ok(run.await?) }
            }),
        )],
        CaptureMode::Stdin { stream } => vec![(
            "stdin",
            tokio::spawn({
                let run = stdin::run(capture, *stream, settings, tx, counters, shutdown);
                async move { Ok(run.await?) }
            }),
        )],
    }
}

#[cfg(test)]
mod tests;
