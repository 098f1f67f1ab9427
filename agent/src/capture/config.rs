//! Validated capture settings.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use super::Stream;
use super::cli::CaptureArgs;
use crate::level_filter::LogLevel;

/// What is captured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureMode {
    /// Nothing (file inputs only).
    Off,
    /// A child process started by firn.
    Wrap {
        /// The program, looked up on PATH.
        program: OsString,
        /// Its arguments.
        args: Vec<OsString>,
    },
    /// firn's own stdin, as one stream.
    Stdin {
        /// The `log.iostream` its lines get.
        stream: Stream,
    },
}

/// Everything capture runs with.
#[derive(Debug, Clone)]
pub struct CaptureConfig {
    /// What is captured.
    pub mode: CaptureMode,
    /// SPCS logLevel. Default INFO.
    pub log_level: LogLevel,
    /// Copy captured output to firn's stdout/stderr. Default: on for a wrapped app
    /// (`--no-passthrough` turns it off), off for stdin (`--passthrough` turns it on).
    pub passthrough: bool,
    /// Status metrics interval (`--metrics-interval`, set by the agent's config). Default 30 s.
    pub metrics_interval: Duration,
    /// Write the `status` metric group for a wrapped app. Default true.
    pub status_metrics: bool,
    /// Time from the forwarded SIGTERM to SIGKILL. Default 25 s.
    pub child_grace: Duration,
    /// Reading after the child's exit, for pipes that grandchildren hold open. Default 2 s.
    pub drain_timeout: Duration,
    /// Where `memory.events` is read. Default `/sys/fs/cgroup`.
    pub cgroup_dir: PathBuf,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        Self {
            mode: CaptureMode::Off,
            log_level: LogLevel::Info,
            passthrough: true,
            metrics_interval: Duration::from_secs(30),
            status_metrics: true,
            child_grace: Duration::from_secs(25),
            drain_timeout: Duration::from_secs(2),
            cgroup_dir: PathBuf::from("/sys/fs/cgroup"),
        }
    }
}

/// A capture flag that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CaptureConfigError {
    /// `--child-grace` over the platform's grace period.
    #[error(
        "--child-grace {0:?} leaves no time to flush before the platform's 30s kill: use at most 29s"
    )]
    ChildGrace(Duration),
    /// `--drain-timeout` absurdly long.
    #[error("--drain-timeout {0:?} is too long: use at most 60s")]
    DrainTimeout(Duration),
    /// `--once` with a wrapped app.
    #[error(
        "--once reads its inputs to their end and exits; a wrapped app (-- COMMAND) runs until it exits: drop --once"
    )]
    WithOnce,
    /// An empty program name.
    #[error("the command after -- is empty: give the program to run, e.g. -- python3 app.py")]
    EmptyProgram,
}

impl CaptureConfig {
    /// Checks the flags. `once` is `--once`.
    ///
    /// # Errors
    /// Names the flag that is wrong and what to use instead.
    pub fn from_args(
        a: &CaptureArgs,
        log_level: LogLevel,
        once: bool,
    ) -> Result<Self, CaptureConfigError> {
        if a.child_grace > Duration::from_secs(29) {
            return Err(CaptureConfigError::ChildGrace(a.child_grace));
        }
        if a.drain_timeout > Duration::from_secs(60) {
            return Err(CaptureConfigError::DrainTimeout(a.drain_timeout));
        }
        let mode = match (a.command.split_first(), a.stdin) {
            (Some((program, args)), _) => {
                if program.is_empty() {
                    return Err(CaptureConfigError::EmptyProgram);
                }
                CaptureMode::Wrap {
                    program: program.clone(),
                    args: args.to_vec(),
                }
            }
            (None, true) => CaptureMode::Stdin {
                stream: a.stdin_stream,
            },
            (None, false) => CaptureMode::Off,
        };
        // --stdin --once is --stdin: stdin is read to its end, then firn exits.
        if once && matches!(mode, CaptureMode::Wrap { .. }) {
            return Err(CaptureConfigError::WithOnce);
        }
        // Passthrough keeps a wrapped app's output where the platform looks for it; a
        // pipe into firn has no one else to show it to.
        let passthrough = match mode {
            CaptureMode::Stdin { .. } => a.passthrough,
            _ => !a.no_passthrough,
        };
        Ok(Self {
            mode,
            log_level,
            passthrough,
            metrics_interval: Duration::from_secs(30),
            status_metrics: true,
            child_grace: a.child_grace,
            drain_timeout: a.drain_timeout,
            cgroup_dir: a.cgroup_dir.clone(),
        })
    }
}
