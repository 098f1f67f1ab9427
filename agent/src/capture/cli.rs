//! Command-line flags of output capture, flattened into [`crate::cli::Cli`].

use std::ffi::OsString;
use std::path::PathBuf;

use clap::Args;

use crate::cli::parse_duration_arg;

/// Capturing an app's stdout and stderr.
#[derive(Debug, Args)]
#[command(next_help_heading = "Capture")]
pub struct CaptureArgs {
    /// Wrap mode: do not copy the app's output to firn's own stdout and stderr. By default
    /// it is copied, so the platform, which collects what the container prints, still sees
    /// the app's logs.
    #[arg(long)]
    pub no_passthrough: bool,

    /// --stdin: also copy what is read to firn's stdout, as `tee` would. Off by default: the
    /// pipe's reader is firn, and a copy would only print the input again.
    #[arg(long, conflicts_with = "no_passthrough")]
    pub passthrough: bool,

    /// Read log lines from firn's stdin (`app | firn-agent --stdin`) until it ends, then
    /// exit (unless --input files are followed too). Not copied to stdout unless
    /// --passthrough. With --once: the same, read to the end and exit.
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
    /// finish before it is killed (SIGKILL) and firn flushes and exits. The app runs in a
    /// process group of its own: SIGTERM and SIGKILL go to the processes it started too.
    /// Keep it under the platform's 30s grace period. Default 25s.
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
