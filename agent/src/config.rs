//! Validated settings: runtime code never sees an unchecked value.

use std::path::PathBuf;

use anyhow::{Context, bail};
use firn_schemas::parquet_sink::{SinkConfig, parse_compression, resolve_mode};
use firn_schemas::{OutputMode, units::format_bytes};

use std::sync::Arc;

use crate::cli::Cli;
use crate::file_tail::lines::LongLines;
use crate::file_tail::{DecodeConfig, ReaderConfig, TailConfig};
use crate::level_filter::LogLevel;
use crate::resource::Resource;

/// Everything the agent runs with.
#[derive(Debug)]
pub struct AgentConfig {
    /// Globs of files to read.
    pub inputs: Vec<glob::Pattern>,
    /// Globs of files to leave out.
    pub excludes: Vec<glob::Pattern>,
    /// Read to the end and exit.
    pub once: bool,
    /// Longest record, bytes.
    pub max_line_bytes: usize,
    /// What happens to longer lines.
    pub long_lines: LongLines,
    /// SPCS logLevel.
    pub log_level: LogLevel,
    /// How files are followed.
    pub tail: TailConfig,
    /// The Parquet sink's settings.
    pub sink: SinkConfig,
    /// Why the output mode is what it is.
    pub mode_reason: String,
    /// RESOURCE_ATTRIBUTES.
    pub resource: Resource,
    /// Platform metric groups to sample.
    pub metric_groups: Vec<String>,
    /// The platform metric groups' sampler and the HTTP endpoint.
    pub metrics: crate::metrics::MetricsConfig,
    /// How often the agent's own counters are logged and written.
    pub telemetry_interval: std::time::Duration,
    /// Captured stdout/stderr (wrap or stdin mode), logLevel, status metrics.
    pub capture: crate::capture::CaptureConfig,
    /// OTLP export, when asked for.
    pub otlp: Option<crate::otlp_export::OtlpConfig>,
    /// Where the write-ahead spool lives (daemon mode only; `--once` uses none).
    pub spool: crate::spool_place::SpoolPlace,
    /// How often rows are committed to the spool.
    pub commit_interval: std::time::Duration,
    /// The spool's size limit, bytes.
    pub spool_max_bytes: u64,
}

impl AgentConfig {
    /// Checks the arguments and fills in what they leave to the environment.
    ///
    /// # Errors
    /// Names the argument that is wrong and why.
    pub fn from_cli(cli: &Cli, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let pattern = |flag: &str, s: &String| {
            glob::Pattern::new(s).with_context(|| format!("{flag} {s:?} is not a valid glob"))
        };
        let inputs = cli
            .input
            .inputs
            .iter()
            .map(|s| pattern("--input", s))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut excludes = cli
            .input
            .excludes
            .iter()
            .map(|s| pattern("--exclude", s))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut inputs = inputs;
        for s in &cli.input_sections {
            inputs.extend(
                s.paths
                    .iter()
                    .filter(|p| !inputs.contains(p))
                    .cloned()
                    .collect::<Vec<_>>(),
            );
            excludes.extend(s.exclude.iter().cloned());
        }
        if cli.input.once && cli.capture.stdin && !inputs.is_empty() {
            bail!(
                "--once with --stdin reads stdin to its end and exits; it does not also read --input files: run two commands, one --once --input GLOB and one --stdin"
            );
        }
        if inputs.is_empty() && cli.input.once && !cli.capture.stdin {
            bail!(
                "--once needs something to read: give at least one --input GLOB (e.g. --input '/logs/**/*.log'), or --stdin"
            );
        }
        let max_line_bytes = usize::try_from(cli.input.max_line_bytes)
            .ok()
            .filter(|n| (16..=(64 << 20)).contains(n))
            .with_context(|| {
                format!(
                    "--max-line-bytes {} is out of range: use 16B to 64MiB",
                    format_bytes(cli.input.max_line_bytes)
                )
            })?;
        let out = &cli.output;
        let compression = parse_compression(&out.compression)
            .map_err(|e| anyhow::anyhow!("--compression: {e}"))?;
        if out.max_file_size < 64 << 10 {
            bail!("--max-file-size must be at least 64KiB");
        }
        if out.row_group_rows == 0 {
            bail!("--row-group-rows must be at least 1");
        }
        let dir = absolute(&out.output);
        let (mode, mode_reason) = resolve_mode(out.output_mode, &dir);
        let mut sink = SinkConfig::new(dir, mode);
        sink.compression = compression;
        sink.max_file_bytes = out.max_file_size;
        sink.max_file_age = out.max_file_age;
        sink.row_group_rows = out.row_group_rows;
        sink.writer_name = format!("firn-agent {}", env!("CARGO_PKG_VERSION"));
        let multiline_start = cli
            .input
            .multiline_start
            .as_deref()
            .map(regex::Regex::new)
            .transpose()
            .context("--multiline-start is not a valid regular expression")?;
        let severity_regex = cli
            .input
            .severity_regex
            .as_deref()
            .map(|r| {
                let re = regex::Regex::new(r)
                    .with_context(|| format!("--severity-regex {r:?} is not a valid regular expression"))?;
                if re.captures_len() < 2 {
                    bail!("--severity-regex {r:?} has no group: mark the level word, e.g. (?P<level>\\w+)");
                }
                Ok(re)
            })
            .transpose()?;
        let semantics = Arc::new(crate::line_semantics::SemanticsConfig {
            parse: cli.input.parse,
            timezone: cli.input.timezone,
            timestamp_format: cli.input.timestamp_format.clone(),
            severity_regex,
        });
        let mut decode = DecodeConfig {
            format: cli.input.format,
            multiline_start,
            level: cli.input.log_level,
            max_record_bytes: max_line_bytes,
            semantics,
            per_input: Vec::new(),
        };
        decode.per_input = cli
            .input_sections
            .iter()
            .map(|s| (s.paths.clone(), Arc::new(s.decode(&decode))))
            .collect();
        let reader = ReaderConfig {
            max_line_bytes,
            long_lines: cli.input.long_lines,
            decode: Arc::new(decode),
        };
        let mut tail = TailConfig::new(inputs.clone(), reader);
        tail.exclude = excludes.clone();
        tail.poll_interval = cli
            .input
            .poll_interval
            .max(std::time::Duration::from_millis(10));
        tail.max_open_files = cli.input.max_open_files.max(1);
        tail.start_at_end = cli.input.start_at == "end";
        tail.use_events = !cli.input.no_events;
        tail.follow_symlinks = cli.input.follow_symlinks;
        tail.idle_flush = cli.input.partial_line_timeout;
        if let Some(id) = &out.agent_id {
            if firn_schemas::parquet_sink::naming::sanitize_id(id).is_empty() {
                bail!("--agent-id {id:?} has no letter or digit");
            }
            sink.set_agent_id(id);
        }
        // --once reads files whole and writes before it exits: no spool, and a write error no
        // retry can cure ends it at once.
        sink.fail_fast = cli.input.once;
        let spool = if cli.input.once {
            crate::spool_place::SpoolPlace {
                dir: None,
                reason: "--once".into(),
                warning: None,
            }
        } else {
            crate::spool_place::place(
                out.spool.as_deref(),
                sink.mode,
                &sink.dir,
                &sink.agent_id,
                &cli.spec.local_dirs,
                |d| {
                    // The nearest folder that exists decides the file system.
                    let existing = d.ancestors().find(|a| a.exists()).unwrap_or(d);
                    firn_schemas::parquet_sink::mount_of(existing).is_some_and(|m| m.is_fuse())
                },
            )?
        };
        if let Some(d) = &spool.dir {
            // The spool is never read as input, whatever the globs say.
            let g = glob::Pattern::escape(&d.to_string_lossy());
            tail.exclude.push(
                glob::Pattern::new(&format!("{g}/**"))
                    .with_context(|| format!("the spool folder {} as a glob", d.display()))?,
            );
        }
        if out.commit_interval.is_zero()
            || out.commit_interval > std::time::Duration::from_secs(3600)
        {
            bail!("--commit-interval must be between 1ms and 1h");
        }
        if out.spool_max_size < 1 << 20 {
            bail!("--spool-max-size must be at least 1MiB");
        }
        let metric_groups = crate::spec_config::metric_groups(&cli.spec.metric_groups)?;
        let otlp = crate::otlp_export::OtlpConfig::resolve(&cli.otlp, &env)
            .map_err(|e| anyhow::anyhow!("OTLP export: {e}"))?;
        let mut resource = Resource::from_env(&env);
        for (k, v) in &cli.resource_attributes {
            resource.set(k, v, "--resource-attribute");
        }
        Ok(Self {
            inputs,
            excludes,
            // --stdin --once runs as --stdin, which ends when stdin does.
            once: cli.input.once && !cli.capture.stdin,
            max_line_bytes,
            long_lines: cli.input.long_lines,
            log_level: cli.input.log_level,
            tail,
            sink,
            mode_reason,
            resource,
            otlp,
            capture: {
                let mut c = crate::capture::CaptureConfig::from_args(
                    &cli.capture,
                    cli.input.log_level,
                    cli.input.once,
                )?;
                c.status_metrics = metric_groups.iter().any(|g| g == "status");
                c.metrics_interval = cli.metrics.metrics_interval;
                c
            },
            metrics: crate::metrics::MetricsConfig::from_args(
                &cli.metrics,
                &metric_groups,
                !cli.capture.command.is_empty(),
            )?,
            metric_groups,
            spool,
            commit_interval: out.commit_interval,
            spool_max_bytes: out.spool_max_size,
            telemetry_interval: cli
                .telemetry_interval
                .max(std::time::Duration::from_secs(1)),
        })
    }

    /// The start-up log line's fields.
    pub fn describe_output(&self) -> String {
        format!(
            "{} (mode {}: {}; {}; files closed at {} or {:?})",
            self.sink.dir.display(),
            match self.sink.mode {
                OutputMode::Local => "local",
                OutputMode::Stage => "stage",
            },
            self.mode_reason,
            firn_schemas::parquet_sink::describe_compression(self.sink.compression),
            format_bytes(self.sink.max_file_bytes),
            self.sink.max_file_age
        )
    }
}

fn absolute(p: &std::path::Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().map_or_else(|_| p.to_path_buf(), |d| d.join(p))
    }
}
