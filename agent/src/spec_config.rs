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

/// The one rule for a setting both a flag and the spec give: the flag when given explicitly
/// (on the command line or in its environment variable), else the spec's value (with where
/// in the spec it stood), else the flag's default, unreported. `id` is the clap argument id
/// and the flag's spelling.
fn explicit_or_spec<T>(
    m: &ArgMatches,
    (id, flag): (&'static str, &str),
    value: &mut T,
    from_spec: Option<(T, String)>,
    show: impl Fn(&T) -> String,
) -> Option<Origin> {
    if explicit(m, id) {
        return Some(Origin {
            name: id,
            value: show(value),
            source: flag.into(),
        });
    }
    let (v, source) = from_spec?;
    *value = v;
    Some(Origin {
        name: id,
        value: show(value),
        source,
    })
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

    let level = settings.log_level.clone();
    out.extend(explicit_or_spec(
        m,
        ("log_level", "--log-level"),
        &mut cli.input.log_level,
        Some((LogLevel::from(level.value), level.source)),
        |l| l.as_str().into(),
    ));
    let groups = settings.metric_groups.clone();
    out.extend(explicit_or_spec(
        m,
        ("metric_groups", "--metric-groups"),
        &mut cli.spec.metric_groups,
        Some((groups.value, groups.source)),
        |g| g.join(","),
    ));
    let watch = (!settings.watch.is_empty()).then(|| {
        (
            settings.watch.iter().map(|w| w.value.clone()).collect(),
            settings
                .watch
                .iter()
                .map(|w| w.source.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        )
    });
    out.extend(explicit_or_spec(
        m,
        ("inputs", "--input"),
        &mut cli.input.inputs,
        watch,
        |i| i.join(" "),
    ));
    out.extend(explicit_or_spec(
        m,
        ("output", "--output"),
        &mut cli.output.output,
        settings
            .output_dir
            .as_ref()
            .map(|d| (PathBuf::from(&d.value), d.source.clone())),
        |p| p.display().to_string(),
    ));

    cli.spec.local_dirs = settings
        .local_dirs
        .iter()
        .map(|d| PathBuf::from(&d.value))
        .collect();
    cli.metrics.spec_resources = crate::metrics::config::SpecResources {
        cpu_requested: settings.requests.cpu_cores.as_ref().map(|c| c.value),
        memory_requested: settings.requests.memory_bytes.as_ref().map(|m| m.value),
    };
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

/// Checks `--metric-groups`; an empty list means the default, `status`; `all` is every
/// group and `none` no group.
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
        if g.is_empty() || g == "none" {
            continue;
        }
        if g == "all" {
            for a in METRIC_GROUPS {
                if !out.iter().any(|o| o == a) {
                    out.push(a.to_string());
                }
            }
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
