//! Command-line flags of output capture, flattened into [`crate::cli::Cli`].

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Args;

use crate::cli::parse_duration_arg;

/// Capturing an app's stdout and stderr.
#[derive(Debug, Args)]
#[command(next_help_heading = "Capture")]
pub struct CaptureArgs {
    /// Do not copy the captured output to firn's own stdout and stderr (by default it is
    /// copied, so the platform's own log export keeps working).
    #[arg(long)]
    pub no_passthrough: bool,

    /// Read log lines from firn's stdin (`app | firn-agent --stdin`) until it ends.
    #[arg(long, conflicts_with = "command")]
    pub stdin: bool,

    /// The `log.iostream` of lines read with --stdin: stdout or stderr. With --log-level
    /// ERROR, only stderr lines (and structured ERROR/FATAL records) are kept.
    #[arg(
        long,
        value_name = "STREAM",
        default_value = "stdout",
        requires = "stdin"
    )]
    pub stdin_stream: super::Stream,

    /// After the first SIGTERM, how long the wrapped app (or the --stdin writer) gets to
    /// finish before it is killed (SIGKILL) and firn flushes and exits. Keep it under the
    /// platform's 30s grace period. Default 25s.
    #[arg(long, value_name = "DURATION", default_value = "25s", value_parser = parse_duration_arg)]
    pub child_grace: std::time::Duration,

    /// After the wrapped app exits, how long to keep reading its stdout/stderr when a
    /// process it started still holds them open. Default 2s.
    #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration_arg)]
    pub drain_timeout: std::time::Duration,

    /// The cgroup v2 folder whose `memory.events` tells OOM kills apart from other kills.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "/sys/fs/cgroup",
        hide = true
    )]
    pub cgroup_dir: PathBuf,

    /// The app to run and capture: `firn-agent [OPTIONS] -- COMMAND [ARGS...]`. firn
    /// becomes its parent, forwards signals to it and exits with its exit code.
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}
