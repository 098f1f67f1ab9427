//! The agent's settings, derived from a validated spec and the agent container's name.
//!
//! Every value says where it came from (a YAML path, or `default`), so the agent's start-up
//! log can report e.g. `log_level=ERROR source=spec.logExporters.eventTableConfig.logLevel`.

use serde::Serialize;

use crate::check::ValidSpec;
use crate::model::{LogLevel, VolumeSource};

#[cfg(test)]
mod tests;

/// Default name of the agent container, as `inject` writes it.
pub const DEFAULT_AGENT: &str = "logging-agent";

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sourced<T> {
    /// The value.
    pub value: T,
    /// YAML path it was read from, or `default`.
    pub source: String,
}

impl<T> Sourced<T> {
    fn new(value: T, source: impl Into<String>) -> Self {
        Self {
            value,
            source: source.into(),
        }
    }
}

/// Resource amounts of the agent container.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Amounts {
    /// CPU in cores (`500m` is 0.5).
    pub cpu_cores: Option<Sourced<f64>>,
    /// Memory in bytes.
    pub memory_bytes: Option<Sourced<u64>>,
    /// GPU count.
    pub gpus: Option<Sourced<u32>>,
}

/// What the agent needs to know from the spec.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentSettings {
    /// The agent container's name.
    pub container: String,
    /// Which logs Snowflake exports; the agent applies the same level. Default INFO.
    pub log_level: Sourced<LogLevel>,
    /// Platform metric groups the spec enables; empty when `platformMonitor` is absent.
    pub metric_groups: Sourced<Vec<String>>,
    /// Globs of log files to tail: `<mountPath>/**/*.log` for each `local` volume the
    /// agent container mounts, in mount order.
    pub watch: Vec<Sourced<String>>,
    /// The agent container's mount paths of `local` volumes, in mount order: where the
    /// agent keeps its spool when the output is a stage.
    pub local_dirs: Vec<Sourced<String>>,
    /// Where to write Parquet: the agent's mount path of a stage volume (first one).
    pub output_dir: Option<Sourced<String>>,
    /// `resources.requests` of the agent container.
    pub requests: Amounts,
    /// `resources.limits` of the agent container.
    pub limits: Amounts,
}

/// The agent container is not in the spec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the spec has no container named `{name}` (containers: {known}); pass the agent container's name or run `spec inject` first"
)]
pub struct SettingsError {
    /// The name looked for.
    pub name: String,
    /// The containers the spec has.
    pub known: String,
}

/// Derive the agent's settings from `spec` for the container `agent` (default
/// [`DEFAULT_AGENT`]).
///
/// # Errors
/// [`SettingsError`] if no container has that name.
pub fn agent_settings(
    spec: &ValidSpec,
    agent: Option<&str>,
) -> Result<AgentSettings, SettingsError> {
    let s = &spec.spec().spec;
    let name = agent.unwrap_or(DEFAULT_AGENT);
    let Some(c) = s.containers.iter().find(|c| c.name.value == name) else {
        return Err(SettingsError {
            name: name.to_string(),
            known: s
                .containers
                .iter()
                .map(|c| c.name.value.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        });
    };
    let log_level = s.log_level.as_ref().map_or_else(
        || Sourced::new(LogLevel::Info, "default"),
        |l| Sourced::new(l.value, l.path.clone()),
    );
    let metric_groups = s.metric_groups.as_ref().map_or_else(
        || Sourced::new(Vec::new(), "default"),
        |g| {
            Sourced::new(
                g.value.iter().map(|x| x.value.clone()).collect(),
                g.path.clone(),
            )
        },
    );
    let mut watch = Vec::new();
    let mut local_dirs = Vec::new();
    let mut output_dir = None;
    for m in &c.volume_mounts {
        let Some(src) = s
            .volumes
            .iter()
            .find(|v| v.name.value == m.name.value)
            .and_then(|v| v.source.as_ref())
        else {
            continue;
        };
        match src.value {
            VolumeSource::Local => {
                let base = m.mount_path.value.trim_end_matches('/');
                local_dirs.push(Sourced::new(
                    m.mount_path.value.clone(),
                    m.mount_path.path.clone(),
                ));
                watch.push(Sourced::new(
                    format!("{base}/**/*.log"),
                    m.mount_path.path.clone(),
                ));
            }
            VolumeSource::Stage { .. } if output_dir.is_none() => {
                output_dir = Some(Sourced::new(
                    m.mount_path.value.clone(),
                    m.mount_path.path.clone(),
                ));
            }
            _ => {}
        }
    }
    let amounts = |r: &crate::model::Resources| Amounts {
        cpu_cores: r
            .cpu
            .as_ref()
            .map(|v| Sourced::new(v.value, v.path.clone())),
        memory_bytes: r
            .memory
            .as_ref()
            .map(|v| Sourced::new(v.value, v.path.clone())),
        gpus: r
            .gpu
            .as_ref()
            .map(|v| Sourced::new(v.value, v.path.clone())),
    };
    Ok(AgentSettings {
        container: name.to_string(),
        log_level,
        metric_groups,
        watch,
        local_dirs,
        output_dir,
        requests: amounts(&c.requests),
        limits: amounts(&c.limits),
    })
}
