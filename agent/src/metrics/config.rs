//! Flags of the platform metric groups (flattened into [`crate::cli::Cli`]) and their
//! validated form.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

/// Sampling the platform metric groups (SPCS.md §5) and serving `/healthcheck`, `/metrics`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Metrics")]
pub struct MetricsArgs {
    /// How often every metric group (--metric-groups) is sampled; rates are averaged over
    /// this interval. The platform samples about every 30s. At least 1s.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration_arg)]
    pub metrics_interval: Duration,

    /// The cgroup to sample, as /proc/PID/cgroup shows it (e.g. /kubepods/pod1/ctr), looked
    /// up below every cgroup mount. Default: firn's own cgroup, which is the app's when firn
    /// wraps it (-- COMMAND) and the sidecar's own container otherwise.
    #[arg(long, value_name = "PATH")]
    pub cgroup: Option<String>,

    /// A port whose established inbound connections are counted
    /// (network.ingress.connections.active): PORT or ENDPOINT=PORT (the attribute `endpoint`
    /// is ENDPOINT, or the port number). Repeatable.
    #[arg(long = "metric-port", value_name = "[ENDPOINT=]PORT", value_parser = parse_port)]
    pub metric_ports: Vec<Endpoint>,

    /// A volume for the storage group: NAME=PATH or NAME:TYPE=PATH, TYPE one of local,
    /// memory, block, stage (default: memory on tmpfs, stage on FUSE, local otherwise).
    /// Repeatable.
    #[arg(long = "volume", value_name = "NAME[:TYPE]=PATH", value_parser = parse_volume)]
    pub volumes: Vec<Volume>,

    /// Serve GET /healthcheck and GET /metrics (Prometheus text) on this address, e.g.
    /// 0.0.0.0:9090. Off by default.
    #[arg(long, value_name = "ADDR")]
    pub http_listen: Option<SocketAddr>,

    /// `resources.requests` of the agent's container, from --spec.
    #[arg(skip)]
    pub spec_resources: SpecResources,
}

/// A port counted for `network.ingress.connections.active`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The `endpoint` attribute.
    pub name: String,
    /// TCP port.
    pub port: u16,
}

/// `volume_type` of the storage group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VolumeType {
    /// Node-local disk shared by the instance's containers.
    Local,
    /// tmpfs.
    Memory,
    /// A block storage volume.
    Block,
    /// A stage mount (FUSE).
    Stage,
}

impl VolumeType {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Memory => "memory",
            Self::Block => "block",
            Self::Stage => "stage",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "local" => Self::Local,
            "memory" => Self::Memory,
            "block" => Self::Block,
            "stage" => Self::Stage,
            _ => return None,
        })
    }
}

/// A volume of the storage group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    /// The `volume` attribute.
    pub name: String,
    /// Where it is mounted in firn's container.
    pub path: PathBuf,
    /// Given type, or `None` to tell it from the file system.
    pub kind: Option<VolumeType>,
}

/// A platform metric group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Group {
    /// CPU and memory use (and GPU).
    System,
    /// Limits and requests.
    SystemLimits,
    /// Container state.
    Status,
    /// Network traffic and connections.
    Network,
    /// Volumes.
    Storage,
}

impl Group {
    /// Every group, in the platform's order.
    pub const ALL: [Self; 5] = [
        Self::System,
        Self::SystemLimits,
        Self::Status,
        Self::Network,
        Self::Storage,
    ];

    /// The name in `--metric-groups` and the spec.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::System => "system",
            Self::SystemLimits => "system_limits",
            Self::Status => "status",
            Self::Network => "network",
            Self::Storage => "storage",
        }
    }

    /// The group named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == s)
    }
}

/// Resources the spec gives the sampled container (`containers.resources`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SpecResources {
    /// `requests.cpu`, cores.
    pub cpu_requested: Option<f64>,
    /// `requests.memory`, bytes.
    pub memory_requested: Option<u64>,
}

/// Everything the sampler runs with.
#[derive(Debug, Clone)]
pub struct MetricsConfig {
    /// Groups to sample (status only for firn's own container when it wraps nothing).
    pub groups: Vec<Group>,
    /// Sampling interval. Default 30 s.
    pub interval: Duration,
    /// `--cgroup`, or `None` for firn's own.
    pub cgroup: Option<String>,
    /// Ports counted for connections.
    pub endpoints: Vec<Endpoint>,
    /// Volumes of the storage group.
    pub volumes: Vec<Volume>,
    /// `--http-listen`.
    pub http_listen: Option<SocketAddr>,
    /// From the spec.
    pub resources: SpecResources,
    /// Whether firn wraps an app (its status is then reported by capture).
    pub wraps_app: bool,
}

/// A metrics flag that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MetricsConfigError {
    /// `--metrics-interval` too short.
    #[error(
        "--metrics-interval {0:?} is too short: use at least 1s (the platform samples every ~30s)"
    )]
    Interval(Duration),
    /// `--cgroup` not absolute.
    #[error("--cgroup {0:?} must start with / as in /proc/PID/cgroup (e.g. /kubepods/pod1/ctr)")]
    Cgroup(String),
    /// Two volumes with one name.
    #[error("--volume {0:?} is given twice: each volume needs its own name")]
    DuplicateVolume(String),
}

impl MetricsConfig {
    /// Checks the flags; `groups` come from `--metric-groups` or the spec.
    ///
    /// # Errors
    /// Names the flag that is wrong.
    pub fn from_args(
        a: &MetricsArgs,
        groups: &[String],
        wraps_app: bool,
    ) -> Result<Self, MetricsConfigError> {
        if a.metrics_interval < Duration::from_secs(1) {
            return Err(MetricsConfigError::Interval(a.metrics_interval));
        }
        if let Some(c) = a.cgroup.as_ref().filter(|c| !c.starts_with('/')) {
            return Err(MetricsConfigError::Cgroup(c.clone()));
        }
        for (i, v) in a.volumes.iter().enumerate() {
            if a.volumes[..i].iter().any(|w| w.name == v.name) {
                return Err(MetricsConfigError::DuplicateVolume(v.name.clone()));
            }
        }
        Ok(Self {
            groups: groups.iter().filter_map(|g| Group::parse(g)).collect(),
            interval: a.metrics_interval,
            cgroup: a.cgroup.clone(),
            endpoints: a.metric_ports.clone(),
            volumes: a.volumes.clone(),
            http_listen: a.http_listen,
            resources: a.spec_resources,
            wraps_app,
        })
    }

    /// Whether `g` is sampled.
    pub fn has(&self, g: Group) -> bool {
        self.groups.contains(&g)
    }
}

fn parse_duration_arg(s: &str) -> Result<Duration, String> {
    firn_schemas::units::parse_duration(s).map_err(|e| e.to_string())
}

fn parse_port(s: &str) -> Result<Endpoint, String> {
    let (name, port) = match s.split_once('=') {
        Some((n, p)) => (n.trim(), p.trim()),
        None => (s.trim(), s.trim()),
    };
    let port: u16 =
        port.parse().ok().filter(|p| *p > 0).ok_or_else(|| {
            format!("expected PORT or ENDPOINT=PORT with PORT in 1-65535, got {s:?}")
        })?;
    if name.is_empty() {
        return Err(format!("the endpoint name in {s:?} is empty"));
    }
    Ok(Endpoint {
        name: name.to_string(),
        port,
    })
}

fn parse_volume(s: &str) -> Result<Volume, String> {
    let Some((head, path)) = s.split_once('=') else {
        return Err(format!("expected NAME=PATH or NAME:TYPE=PATH, got {s:?}"));
    };
    let (name, kind) = match head.split_once(':') {
        Some((n, t)) => {
            let kind = VolumeType::parse(t.trim()).ok_or_else(|| {
                format!("unknown volume type {t:?} in {s:?}: use local, memory, block or stage")
            })?;
            (n.trim(), Some(kind))
        }
        None => (head.trim(), None),
    };
    if name.is_empty() || path.is_empty() {
        return Err(format!("expected NAME=PATH or NAME:TYPE=PATH, got {s:?}"));
    }
    Ok(Volume {
        name: name.to_string(),
        path: PathBuf::from(path),
        kind,
    })
}
