//! `--spec FILE`: the agent's settings from the service specification it runs in
//! (log level, metric groups, files to read, output folder), with explicit flags winning.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::ArgMatches;
use clap::parser::ValueSource;

use crate::cli::Cli;
use crate::level_filter::LogLevel;

/// One setting, its value and where it came from, for the start-up log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The setting.
    pub name: &'static str,
    /// Its value, for people.
    pub value: String,
    /// `spec.…` path, `--flag`, or `default`.
    pub source: String,
}

fn explicit(m: &ArgMatches, id: &str) -> bool {
    matches!(
        m.value_source(id),
        Some(ValueSource::CommandLine | ValueSource::EnvVariable)
    )
}

/// Reads `cli.spec.spec`, checks it, and fills in every setting the user did not give
/// explicitly. Returns where each setting came from.
///
/// # Errors
/// When the file cannot be read, does not pass `spec check`, or has no such container.
pub fn apply(cli: &mut Cli, m: &ArgMatches) -> anyhow::Result<Vec<Origin>> {
    let Some(path) = cli.spec.spec.clone() else {
        return Ok(Vec::new());
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read --spec {}", path.display()))?;
    let values = firn_spec::template::Values::from_pairs(&cli.spec.using)
        .map_err(|e| anyhow::anyhow!("--using: {e}"))?;
    let report = firn_spec::check(&text, &firn_spec::CheckOptions { values, job: false });
    let name = path.display().to_string();
    for f in &report.findings {
        eprintln!("{}", f.to_text(&name));
    }
    let Some(valid) = report.valid else {
        bail!(
            "--spec {name} is not a valid service specification (findings above; `firn-agent spec check {name}` shows them again)"
        );
    };
    let settings = firn_spec::agent_settings(&valid, Some(&cli.spec.container))?;
    let mut out = Vec::new();

    if explicit(m, "log_level") {
        out.push(Origin {
            name: "log_level",
            value: cli.input.log_level.as_str().into(),
            source: "--log-level".into(),
        });
    } else {
        let level = match settings.log_level.value {
            firn_spec::model::LogLevel::Info => LogLevel::Info,
            firn_spec::model::LogLevel::Error => LogLevel::Error,
            firn_spec::model::LogLevel::None => LogLevel::None,
        };
        cli.input.log_level = level;
        out.push(Origin {
            name: "log_level",
            value: level.as_str().into(),
            source: settings.log_level.source.clone(),
        });
    }

    if explicit(m, "metric_groups") {
        out.push(Origin {
            name: "metric_groups",
            value: cli.spec.metric_groups.join(","),
            source: "--metric-groups".into(),
        });
    } else {
        cli.spec.metric_groups = settings.metric_groups.value.clone();
        out.push(Origin {
            name: "metric_groups",
            value: cli.spec.metric_groups.join(","),
            source: settings.metric_groups.source.clone(),
        });
    }

    if explicit(m, "inputs") {
        out.push(Origin {
            name: "inputs",
            value: cli.input.inputs.join(" "),
            source: "--input".into(),
        });
    } else if !settings.watch.is_empty() {
        cli.input.inputs = settings.watch.iter().map(|w| w.value.clone()).collect();
        out.push(Origin {
            name: "inputs",
            value: cli.input.inputs.join(" "),
            source: settings
                .watch
                .iter()
                .map(|w| w.source.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        });
    }

    if explicit(m, "output") {
        out.push(Origin {
            name: "output",
            value: cli.output.output.display().to_string(),
            source: "--output".into(),
        });
    } else if let Some(dir) = &settings.output_dir {
        cli.output.output = PathBuf::from(&dir.value);
        out.push(Origin {
            name: "output",
            value: dir.value.clone(),
            source: dir.source.clone(),
        });
    }

    for (what, amounts) in [
        ("requests", &settings.requests),
        ("limits", &settings.limits),
    ] {
        if let Some(c) = &amounts.cpu_cores {
            out.push(Origin {
                name: if what == "requests" {
                    "cpu_requested"
                } else {
                    "cpu_limit"
                },
                value: format!("{} cores", c.value),
                source: c.source.clone(),
            });
        }
        if let Some(mem) = &amounts.memory_bytes {
            out.push(Origin {
                name: if what == "requests" {
                    "memory_requested"
                } else {
                    "memory_limit"
                },
                value: firn_schemas::units::format_bytes(mem.value),
                source: mem.source.clone(),
            });
        }
    }
    Ok(out)
}

/// Metric groups the platform defines (SPCS.md §5).
pub const METRIC_GROUPS: [&str; 5] = ["system", "system_limits", "status", "network", "storage"];

/// Checks `--metric-groups`; an empty list means the default, `status`.
///
/// # Errors
/// Names an unknown group.
pub fn metric_groups(given: &[String]) -> anyhow::Result<Vec<String>> {
    if given.is_empty() {
        return Ok(vec!["status".into()]);
    }
    let mut out = Vec::new();
    for g in given {
        let g = g.trim().to_ascii_lowercase();
        if g.is_empty() {
            continue;
        }
        if !METRIC_GROUPS.contains(&g.as_str()) {
            bail!(
                "--metric-groups: unknown group {g:?}; the platform's groups are {}",
                METRIC_GROUPS.join(", ")
            );
        }
        if !out.contains(&g) {
            out.push(g);
        }
    }
    Ok(out)
}
