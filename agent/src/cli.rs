//! Command-line arguments, as typed by the user (validated into `config::AgentConfig`).

use std::path::PathBuf;

use clap::{Args, Parser};

/// firn collects a container's logs and writes them as Snowflake event-table rows in
/// Parquet, on a local disk or a stage volume.
///
/// Examples:
///
///   Read files once and exit (prints what it wrote and how to query it):
///     firn-agent --once --input 'examples/logs/**/*.log' --output out/
///
///   Follow an app's log folder as an SPCS sidecar, writing to a stage mount:
///     firn-agent --input '/logs/**/*.log' --output /stage/events
///
///   Take the settings from the service specification the sidecar runs in:
///     firn-agent --spec /etc/firn/spec.yaml
///
///   Wrap the app and capture its stdout and stderr:
///     firn-agent --output /stage/events -- python app.py
///
///   Check a spec, or add firn to it as a sidecar:
///     firn-agent spec check service.yaml
///     firn-agent spec inject service.yaml --app app --stage @logs_stage
#[derive(Debug, Parser)]
#[command(
    name = "firn-agent",
    version,
    about,
    long_about,
    verbatim_doc_comment,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// Work on SPCS service specifications instead of collecting.
    #[command(subcommand)]
    pub subcommand: Option<Subcommand>,

    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub output: OutputArgs,

    #[command(flatten)]
    pub capture: crate::capture::cli::CaptureArgs,

    #[command(flatten)]
    pub spec: SpecArgs,

    #[command(flatten)]
    pub metrics: crate::metrics::MetricsArgs,

    #[command(flatten)]
    pub otlp: crate::otlp_export::OtlpArgs,

    /// Set a resource attribute on every row, e.g. snow.service.container.name=app.
    /// Repeatable; wins over SNOWFLAKE_* and OTEL_RESOURCE_ATTRIBUTES.
    #[arg(long = "resource-attribute", value_name = "KEY=VALUE", value_parser = crate::resource::parse_pair, help_heading = "Agent")]
    pub resource_attributes: Vec<(String, String)>,

    /// How often firn logs its own counters and writes them as METRIC rows (scope
    /// firn.agent): lines read, truncated, filtered, dropped, files written, ...
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration_arg, help_heading = "Agent")]
    pub telemetry_interval: std::time::Duration,

    /// Read settings from this TOML file: any flag by its long name (`log-level = "ERROR"`),
    /// and `[[input]]` sections with their own paths, exclude, format, multiline-start,
    /// parse, timezone, timestamp-format, severity-regex and log-level. Flags given on the
    /// command line win. Check one with `firn-agent validate --config FILE`.
    #[arg(long, value_name = "FILE", env = "FIRN_CONFIG", help_heading = "Agent")]
    pub config: Option<PathBuf>,

    /// The config file's `[[input]]` sections (set after parsing).
    #[arg(skip)]
    pub input_sections: Vec<crate::config_file::InputSection>,

    /// More log output (-v: debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true, help_heading = "Agent")]
    pub verbose: u8,

    /// Only warnings and errors in firn's own log.
    #[arg(
        short,
        long,
        global = true,
        conflicts_with = "verbose",
        help_heading = "Agent"
    )]
    pub quiet: bool,
}

/// Subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum Subcommand {
    /// Check, render or inject into an SPCS service specification.
    #[command(subcommand)]
    Spec(firn_spec::SpecCommand),
    /// Check a config file (and --spec): print the resolved settings, where each came
    /// from, and the files each input matches; then exit.
    Validate(crate::config_file::validate::ValidateArgs),
}

/// Settings taken from a service specification.
#[derive(Debug, Args)]
#[command(next_help_heading = "Service specification")]
pub struct SpecArgs {
    /// Take settings from this SPCS service specification: the log level from
    /// logExporters, metric groups from platformMonitor, the files to read from the agent
    /// container's mounts of `local` volumes, the output from its mount of a stage volume.
    /// Flags given explicitly win; the start-up log says where each setting came from.
    #[arg(long, value_name = "FILE")]
    pub spec: Option<PathBuf>,

    /// The agent's container in --spec.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "logging-agent",
        requires = "spec"
    )]
    pub container: String,

    /// A template value for --spec, as in `USING (name=>value)`: NAME=VALUE, where VALUE is
    /// alphanumeric or JSON. Repeatable.
    #[arg(long = "using", value_name = "NAME=VALUE", requires = "spec")]
    pub using: Vec<String>,

    /// Platform metric groups to sample, comma-separated: system, system_limits, status,
    /// network, storage, or all, or none (spec.platformMonitor.metricConfig.groups).
    /// Default: status.
    #[arg(long, value_name = "GROUPS", value_delimiter = ',')]
    pub metric_groups: Vec<String>,

    /// The agent container's `local` volume mounts in --spec (set after parsing).
    #[arg(skip)]
    pub local_dirs: Vec<PathBuf>,
}

/// What to read.
#[derive(Debug, Args)]
#[command(next_help_heading = "Input")]
pub struct InputArgs {
    /// Files to read, as a glob (`**` matches any depth). Repeatable.
    #[arg(short, long = "input", value_name = "GLOB")]
    pub inputs: Vec<String>,

    /// Files to leave out, as a glob matched against the whole path. Repeatable.
    #[arg(long = "exclude", value_name = "GLOB")]
    pub excludes: Vec<String>,

    /// Read the --input files to their end, write everything, print a summary and exit.
    /// With --stdin (and no --input): read stdin to its end, write, exit.
    #[arg(long)]
    pub once: bool,

    /// Longest log record; longer lines are handled by --long-lines. The platform's own
    /// limit is 16KiB.
    #[arg(long, value_name = "SIZE", default_value = "16KiB", value_parser = parse_size_arg)]
    pub max_line_bytes: u64,

    /// What to do with a line longer than --max-line-bytes: keep its head and mark it
    /// (truncate), cut it into several rows (split), or drop it (drop). Each is counted.
    #[arg(long, value_name = "POLICY", default_value = "truncate")]
    pub long_lines: crate::file_tail::lines::LongLines,

    /// How lines are framed: auto (per file: CRI, Docker json-file or plain), plain, json,
    /// cri or docker. In every format a JSON line with a `body` is a structured record.
    #[arg(long, value_name = "FORMAT", default_value = "auto")]
    pub format: crate::file_tail::Format,

    /// A line matching this regular expression starts a record; other lines join the one
    /// before (stack traces). E.g. '^\d{4}-\d{2}-\d{2}'.
    #[arg(long, value_name = "REGEX")]
    pub multiline_start: Option<String>,

    /// SPCS logLevel, for files and captured output: INFO exports every log row; NONE no
    /// log rows (metrics still flow); ERROR keeps the stderr stream (captured, or named by a
    /// CRI/Docker file) and records of severity ERROR or FATAL: structured records stating
    /// it, and file lines whose recognised level is ERROR or FATAL (a plain captured stdout
    /// line is never kept, as on the platform). Filtered rows are counted.
    #[arg(
        long,
        value_name = "LEVEL",
        default_value = "INFO",
        env = "FIRN_LOG_LEVEL"
    )]
    pub log_level: crate::level_filter::LogLevel,

    /// Recognition of each file line's own event time (TIMESTAMP) and level (severity):
    /// auto (learned per file from its lines: ISO 8601, syslog, Apache/Nginx, log4j, Python,
    /// glog, logcat, logfmt, JSON, epoch, ...) or none (TIMESTAMP is the read time, severity
    /// the stream's). OBSERVED_TIMESTAMP is always the read time.
    #[arg(long, value_name = "MODE", default_value = "auto")]
    pub parse: crate::line_semantics::ParseMode,

    /// The zone of times written without one: UTC or a fixed offset such as +01:00.
    #[arg(long, value_name = "ZONE", default_value = "UTC")]
    pub timezone: crate::line_semantics::Timezone,

    /// A time layout recognition does not know, strftime-like, tried first at each line's
    /// start: %Y %y %m %b %d %e %H %M %S %f (fraction) %z %a %s, e.g. '%d.%m.%Y %H:%M:%S'.
    #[arg(long, value_name = "FORMAT")]
    pub timestamp_format: Option<crate::line_semantics::TimestampFormat>,

    /// A regular expression whose group `level` (or first group) is the line's level word,
    /// instead of the one recognition finds, e.g. ' lvl=(?P<level>\w+)'.
    #[arg(long, value_name = "REGEX")]
    pub severity_regex: Option<String>,

    /// Where to start in files found at first start that have no checkpoint: beginning or
    /// end. Files that appear later are always read from their beginning.
    #[arg(long, value_name = "WHERE", default_value = "beginning", value_parser = ["beginning", "end"])]
    pub start_at: String,

    /// How often files are checked for growth when file-system events are unavailable.
    #[arg(long, value_name = "DURATION", default_value = "250ms", value_parser = parse_duration_arg)]
    pub poll_interval: std::time::Duration,

    /// Most files held open at once; quiet files are closed and reopened when they grow.
    #[arg(long, value_name = "N", default_value_t = 512)]
    pub max_open_files: usize,

    /// Do not use file-system events (inotify); poll only.
    #[arg(long)]
    pub no_events: bool,

    /// Which symlinks (to files or folders) the inputs follow: inside (only a link whose
    /// target resolves inside the base folder of the glob that matched it, the glob's part
    /// before its first wildcard), any, or none. A link not followed is logged once at WARN.
    #[arg(long, value_name = "WHICH", default_value = "inside")]
    pub follow_symlinks: crate::file_tail::FollowSymlinks,

    /// A last line without a newline is written once its file has been quiet this long.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration_arg)]
    pub partial_line_timeout: std::time::Duration,
}

/// Where and how to write.
#[derive(Debug, Args)]
#[command(next_help_heading = "Output")]
pub struct OutputArgs {
    /// Folder for the Parquet files (hive-style date=/hour= folders are made below it).
    #[arg(short, long, value_name = "DIR", default_value = "firn-out")]
    pub output: PathBuf,

    /// local: temporary file, fsync, rename. stage: each file written once under its final
    /// name and never touched again (stage volumes allow no rename or append). auto: stage
    /// when DIR is on a FUSE mount, local otherwise.
    #[arg(long, value_name = "MODE", default_value = "auto")]
    pub output_mode: firn_schemas::OutputModeChoice,

    /// Parquet compression: zstd, zstd:LEVEL (1-22), snappy or none.
    #[arg(long, value_name = "CODEC", default_value = "zstd:1")]
    pub compression: String,

    /// Largest output file, footer included: a file closes before a batch that would take
    /// it past this. Files are built in memory, so this also bounds memory.
    #[arg(long, value_name = "SIZE", default_value = "8MiB", value_parser = parse_size_arg)]
    pub max_file_size: u64,

    /// Close a file once it has been open this long.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration_arg)]
    pub max_file_age: std::time::Duration,

    /// Rows per Parquet row group.
    #[arg(long, value_name = "ROWS", default_value_t = 65_536)]
    pub row_group_rows: usize,

    /// Names this agent in its files' names and footers, so after a restart it resumes from
    /// its own files and no other agent's, and removes only its own leftovers (the id is
    /// matched exactly: `app` never touches the files of `app-2`). Two agents running at
    /// once in one output folder need different ids. Default: the host name (stable across
    /// container restarts in SPCS).
    #[arg(long, value_name = "ID", env = "FIRN_AGENT_ID")]
    pub agent_id: Option<String>,

    /// The write-ahead spool: every --commit-interval the rows read and the positions they
    /// reach are fsynced here, so a kill -9 or a crash loop loses and repeats nothing. The
    /// spool goes in DIR/<agent id>; `none` switches it off. Default: a hidden folder under
    /// a local output (`.firn-spool/<agent id>`); for a stage output, the agent container's
    /// `local` volume with --spec, else none (with a warning).
    #[arg(long, value_name = "DIR")]
    pub spool: Option<String>,

    /// How often rows read are committed to the spool (and how old a batch gets).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration_arg)]
    pub commit_interval: std::time::Duration,

    /// Most bytes the spool holds; when full, reading pauses until output files are
    /// written (nothing is dropped).
    #[arg(long, value_name = "SIZE", default_value = "1GiB", value_parser = parse_size_arg)]
    pub spool_max_size: u64,
}

/// A size flag: `16KiB`, `8MiB`, `100` (bytes).
///
/// # Errors
/// When `s` is not a size.
pub fn parse_size_arg(s: &str) -> Result<u64, firn_schemas::units::UnitError> {
    firn_schemas::units::parse_size(s)
}

/// A duration flag: `250ms`, `60s`, `5m`. The one parser every duration flag uses.
///
/// # Errors
/// When `s` is not a duration.
pub fn parse_duration_arg(s: &str) -> Result<std::time::Duration, firn_schemas::units::UnitError> {
    firn_schemas::units::parse_duration(s)
}
