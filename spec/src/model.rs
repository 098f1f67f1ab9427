//! The typed service specification, as the reference documents it.
//!
//! Every value keeps its YAML path and position ([`Spanned`]) so that rules and the agent's
//! start-up log can say exactly where a value came from. Values are already converted to
//! their units (bytes, cores, counts); the raw text is kept for messages.

use crate::yaml::Mark;

/// A value with the YAML path and position it was read from.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// YAML path, e.g. `spec.containers[0].name`.
    pub path: String,
    /// Where the value starts in the user's file.
    pub at: Mark,
}

/// The whole document: `spec`, `capabilities`, `serviceRoles`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServiceSpec {
    /// `spec`.
    pub spec: Spec,
    /// `capabilities.securityContext.executeAsCaller` (default false).
    pub execute_as_caller: Option<Spanned<bool>>,
    /// `serviceRoles`.
    pub service_roles: Vec<ServiceRole>,
}

/// `spec`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Spec {
    /// `spec.containers` (required, at least one).
    pub containers: Vec<Container>,
    /// `spec.endpoints`.
    pub endpoints: Vec<Endpoint>,
    /// `spec.volumes`.
    pub volumes: Vec<Volume>,
    /// `spec.logExporters.eventTableConfig.logLevel`.
    pub log_level: Option<Spanned<LogLevel>>,
    /// `spec.platformMonitor.metricConfig.groups`.
    pub metric_groups: Option<Spanned<Vec<Spanned<String>>>>,
}

/// One entry of `spec.containers`.
#[derive(Debug, Clone, PartialEq)]
pub struct Container {
    /// `name`.
    pub name: Spanned<String>,
    /// `image`.
    pub image: Option<Spanned<String>>,
    /// `command` (overrides the image ENTRYPOINT).
    pub command: Vec<Spanned<String>>,
    /// `args` (overrides the image CMD).
    pub args: Vec<Spanned<String>>,
    /// `env`, in file order; values are the scalar text.
    pub env: Vec<(Spanned<String>, Spanned<String>)>,
    /// `readinessProbe`.
    pub readiness_probe: Option<ReadinessProbe>,
    /// `volumeMounts`.
    pub volume_mounts: Vec<VolumeMount>,
    /// `resources.requests`.
    pub requests: Resources,
    /// `resources.limits`.
    pub limits: Resources,
    /// `secrets`.
    pub secrets: Vec<Secret>,
    /// Path of this container, e.g. `spec.containers[1]`.
    pub path: String,
    /// Where the entry starts.
    pub at: Mark,
}

/// `containers.readinessProbe`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReadinessProbe {
    /// `port`.
    pub port: Option<Spanned<u16>>,
    /// `path` (HTTP path).
    pub path: Option<Spanned<String>>,
}

/// One entry of `containers.volumeMounts`.
#[derive(Debug, Clone, PartialEq)]
pub struct VolumeMount {
    /// `name`: a volume of `spec.volumes`.
    pub name: Spanned<String>,
    /// `mountPath`: absolute path in the container.
    pub mount_path: Spanned<String>,
}

/// `resources.requests` or `resources.limits`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Resources {
    /// `memory`, in bytes.
    pub memory: Option<Spanned<u64>>,
    /// `cpu`, in cores (`500m` is 0.5).
    pub cpu: Option<Spanned<f64>>,
    /// `nvidia.com/gpu`, a count.
    pub gpu: Option<Spanned<u32>>,
}

/// One entry of `containers.secrets`.
#[derive(Debug, Clone, PartialEq)]
pub struct Secret {
    /// `snowflakeSecret` (a name) or `snowflakeSecret.objectName`.
    pub object_name: Option<Spanned<String>>,
    /// `snowflakeSecret.objectReference` (native apps).
    pub object_reference: Option<Spanned<String>>,
    /// `secretKeyRef`: `username`, `password` or `secret_string`.
    pub secret_key_ref: Option<Spanned<String>>,
    /// `envVarName`.
    pub env_var_name: Option<Spanned<String>>,
    /// `directoryPath`.
    pub directory_path: Option<Spanned<String>>,
    /// Path of the entry.
    pub path: String,
    /// Where the entry starts.
    pub at: Mark,
}

/// `endpoints.protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `TCP`.
    Tcp,
    /// `HTTP` (the default).
    Http,
    /// `HTTPS` (listed by the older reference).
    Https,
}

/// One entry of `spec.endpoints`.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    /// `name`.
    pub name: Spanned<String>,
    /// `port`.
    pub port: Option<Spanned<u16>>,
    /// `portRange` as `(first, last)`.
    pub port_range: Option<Spanned<(u16, u16)>>,
    /// `public` (default false).
    pub public: Option<Spanned<bool>>,
    /// `protocol` (default HTTP).
    pub protocol: Option<Spanned<Protocol>>,
    /// `corsSettings.Access-Control-Allow-Origin`, when `corsSettings` is present.
    pub cors_allow_origin: Option<Spanned<Vec<Spanned<String>>>>,
    /// Path of the entry.
    pub path: String,
    /// Where the entry starts.
    pub at: Mark,
}

impl Endpoint {
    /// The protocol, applying the reference's default of HTTP.
    pub fn protocol(&self) -> Protocol {
        self.protocol.as_ref().map_or(Protocol::Http, |p| p.value)
    }

    /// Whether the endpoint is public (default false).
    pub fn is_public(&self) -> bool {
        self.public.as_ref().is_some_and(|p| p.value)
    }
}

/// `volumes.source`, with the stage of either stage form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VolumeSource {
    /// `local`: shared by the containers of one service instance.
    Local,
    /// `memory`: RAM-backed, needs `size`.
    Memory,
    /// `block`: block storage, needs `size` in whole Gi.
    Block,
    /// `"@stage"` (Stage Mount v1) or `stage` + `stageConfig.name` (v2).
    Stage {
        /// The stage, with its leading `@`, possibly with a sub-path.
        stage: String,
        /// True for the deprecated `source: "@stage"` form.
        v1: bool,
    },
}

/// One entry of `spec.volumes`.
#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    /// `name`.
    pub name: Spanned<String>,
    /// `source`.
    pub source: Option<Spanned<VolumeSource>>,
    /// `size` in bytes (memory and block volumes).
    pub size: Option<Spanned<u64>>,
    /// `blockConfig` present (only valid for block volumes).
    pub block_config: Option<Spanned<()>>,
    /// `stageConfig` present.
    pub stage_config: Option<Spanned<()>>,
    /// `uid` (stage volumes).
    pub uid: Option<Spanned<u32>>,
    /// `gid` (stage volumes).
    pub gid: Option<Spanned<u32>>,
    /// Path of the entry.
    pub path: String,
    /// Where the entry starts.
    pub at: Mark,
}

/// `spec.logExporters.eventTableConfig.logLevel`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LogLevel {
    /// Export all user logs (current default).
    Info,
    /// Export only stderr.
    Error,
    /// Export nothing.
    None,
}

impl LogLevel {
    /// The spelling used in specs.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Info => "INFO",
            LogLevel::Error => "ERROR",
            LogLevel::None => "NONE",
        }
    }
}

/// One entry of `serviceRoles`.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceRole {
    /// `name`.
    pub name: Option<Spanned<String>>,
    /// `endpoints`: names from `spec.endpoints`.
    pub endpoints: Vec<Spanned<String>>,
    /// Path of the entry.
    pub path: String,
    /// Where the entry starts.
    pub at: Mark,
}
