//! The platform metric groups (SPCS.md §5): `system`, `system_limits`, `status`, `network`
//! and `storage`, with the platform's names, units and attributes, sampled from inside any
//! container.
//!
//! - [`cgroup`] finds the sampled cgroup (firn's own, or `--cgroup`) on cgroup v2, v1 or
//!   hybrid hosts from `/proc/self/cgroup` and `/proc/self/mountinfo`.
//! - [`system`](self) reads CPU and memory use and limits; `network` reads `/proc/net`;
//!   `storage` statvfs and the cgroup's block I/O; `status` reports firn's own container.
//! - [`sample::Rates`] turns counters into rates across samples: no row for a counter's
//!   first sample, and a counter that went down (reset) restarts from 0.
//!
//! A [`Sampler`] yields [`Sample`]s; [`spawn`] samples every `--metrics-interval` on a
//! thread of its own and sends them to the sink as METRIC rows (gauges, one TIMESTAMP per
//! sample, scope `firn.<group>`). A file that cannot be read skips its metric and is
//! reported once. See `README.md` beside this file.

pub mod cgroup;
pub mod config;
mod gpu;
pub mod health;
pub mod http;
mod network;
pub mod prom;
pub mod sample;
mod status;
mod storage;
mod system;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use firn_schemas::parquet_sink::naming::now_ns;
use firn_schemas::{JsonText, MetricType, ObjectWriter, ValueType, metric_record};

pub use cgroup::Cgroup;
pub use config::{Group, MetricsArgs, MetricsConfig};
pub use network::{established_on, parse_net_dev, passive_opens};
pub use sample::Sample;

use crate::pipeline::{MetricPoint, MetricValue, Msg, Sender};
use crate::shutdown::Shutdown;
use crate::telemetry::Counters;

/// The node's capacity, the limit when a cgroup sets none.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Node {
    /// Online CPUs.
    pub cpus: f64,
    /// Total memory, bytes.
    pub memory_bytes: u64,
}

impl Node {
    /// The machine's CPUs and memory (sysinfo: `/proc/stat`, `/proc/meminfo`), which a
    /// container sees unchanged. `None` (logged) when they cannot be read.
    pub fn detect() -> Option<Self> {
        use sysinfo::{CpuRefreshKind, MemoryRefreshKind, RefreshKind, System};
        let sys = System::new_with_specifics(
            RefreshKind::nothing()
                .with_cpu(CpuRefreshKind::nothing())
                .with_memory(MemoryRefreshKind::nothing().with_ram()),
        );
        match sys {
            #[allow(clippy::cast_precision_loss)]
            Ok(sys) if !sys.cpus().is_empty() && sys.total_memory() > 0 => Some(Self {
                cpus: sys.cpus().len() as f64,
                memory_bytes: sys.total_memory(),
            }),
            Ok(_) => {
                tracing::warn!(
                    "The node's CPUs and memory are unknown (/proc/stat, /proc/meminfo); limits without a cgroup limit are not reported"
                );
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "The node's CPUs and memory are unknown; limits without a cgroup limit are not reported");
                None
            }
        }
    }
}

/// Samples the configured groups.
#[derive(Debug)]
pub struct Sampler {
    cfg: MetricsConfig,
    /// `/`, or a fixture tree in tests: `/proc` and `/sys` are read below it.
    host: PathBuf,
    cgroup: Cgroup,
    node: Option<Node>,
    files: sample::Files,
    rates: sample::Rates,
    gpus: gpu::Gpus,
}

impl Sampler {
    /// A sampler over the cgroup `cgroup`, reading `/proc` and `/sys` below `host`.
    pub fn new(cfg: MetricsConfig, host: &Path, cgroup: Cgroup, node: Option<Node>) -> Self {
        Self {
            cfg,
            host: host.to_path_buf(),
            cgroup,
            node,
            files: sample::Files::default(),
            rates: sample::Rates::default(),
            gpus: gpu::Gpus::none(),
        }
    }

    /// A sampler of this machine: finds the cgroup from `/proc/self`.
    pub fn for_this_machine(cfg: MetricsConfig) -> Self {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let cg = cgroup::discover(
            &read("/proc/self/cgroup"),
            &read("/proc/self/mountinfo"),
            Path::new("/"),
            cfg.cgroup.as_deref(),
        );
        let wants_gpu = cfg.has(Group::System) || cfg.has(Group::SystemLimits);
        let mut s = Self::new(cfg, Path::new("/"), cg, Node::detect());
        if wants_gpu {
            s.gpus = gpu::Gpus::load();
        }
        s
    }

    /// The cgroup sampled.
    pub fn cgroup(&self) -> &Cgroup {
        &self.cgroup
    }

    /// The node's capacity.
    pub fn node(&self) -> Option<Node> {
        self.node
    }

    /// Problems reported so far (each missing or unreadable file once).
    pub fn problems(&self) -> u64 {
        self.files.problems
    }

    /// One sample of every configured group; `mono_ns` is a monotonic clock (rates are
    /// averaged over its difference from the previous sample).
    pub fn sample(&mut self, mono_ns: u64) -> Vec<Sample> {
        let mut out = Vec::new();
        for g in self.cfg.groups.clone() {
            match g {
                Group::System => self.sample_system(mono_ns, &mut out),
                Group::SystemLimits => self.sample_limits(&mut out),
                Group::Status if !self.cfg.wraps_app => self.sample_status(&mut out),
                Group::Status => {}
                Group::Network => self.sample_network(mono_ns, &mut out),
                Group::Storage => self.sample_storage(mono_ns, &mut out),
            }
        }
        out
    }
}

/// Turns samples into METRIC rows: one RECORD per metric, built once.
#[derive(Debug, Default)]
pub struct Rows {
    records: HashMap<(&'static str, bool), JsonText>,
    scopes: HashMap<Group, JsonText>,
}

impl Rows {
    /// The samples as points, all with TIMESTAMP `ts_ns`.
    pub fn points(&mut self, samples: &[Sample], ts_ns: i64) -> Vec<MetricPoint> {
        samples
            .iter()
            .map(|s| {
                let double = matches!(s.value, MetricValue::Double(_));
                let record = self
                    .records
                    .entry((s.name, double))
                    .or_insert_with(|| {
                        let vt = if double {
                            ValueType::Double
                        } else {
                            ValueType::Int
                        };
                        metric_record(s.name, s.unit, MetricType::Gauge, vt)
                    })
                    .clone();
                let scope = self
                    .scopes
                    .entry(s.group)
                    .or_insert_with(|| {
                        JsonText::string_object([(
                            "name",
                            format!("firn.{}", s.group.as_str()).as_str(),
                        )])
                    })
                    .clone();
                let attributes = (!s.attrs.is_empty()).then(|| {
                    let mut o = ObjectWriter::new();
                    for (k, v) in &s.attrs {
                        o.string(k, v);
                    }
                    o.finish()
                });
                MetricPoint {
                    timestamp_ns: ts_ns,
                    start_ns: None,
                    record,
                    attributes,
                    scope: Some(scope),
                    value: s.value,
                }
            })
            .collect()
    }
}

/// The latest sample of every metric, for `GET /metrics`.
pub type Latest = Arc<Mutex<Vec<Sample>>>;

/// Samples every `cfg.interval` on a thread of its own until shutdown, sending METRIC rows
/// to the sink and keeping the latest sample in `latest`. Returns `None` when no group
/// needs sampling here.
pub fn spawn(
    cfg: &MetricsConfig,
    tx: &Sender,
    counters: &Arc<Counters>,
    shutdown: &Shutdown,
    latest: &Latest,
) -> Option<std::thread::JoinHandle<()>> {
    let needed = cfg
        .groups
        .iter()
        .any(|g| *g != Group::Status || !cfg.wraps_app);
    if !needed {
        return None;
    }
    let mut sampler = Sampler::for_this_machine(cfg.clone());
    tracing::info!(
        cgroup = %sampler.cgroup().describe(),
        node_cpus = ?sampler.node().map(|n| n.cpus),
        node_memory_bytes = ?sampler.node().map(|n| n.memory_bytes),
        groups = %cfg.groups.iter().map(|g| g.as_str()).collect::<Vec<_>>().join(","),
        interval = ?cfg.interval,
        "Sampling platform metrics"
    );
    let (tx, counters, shutdown, latest) = (
        tx.clone(),
        counters.clone(),
        shutdown.clone(),
        latest.clone(),
    );
    let every = cfg.interval;
    let spawned = std::thread::Builder::new()
        .name("firn-metrics".into())
        .spawn(move || {
            let epoch = Instant::now();
            let mut rows = Rows::default();
            let mut reported = 0;
            let mut last = false;
            loop {
                // TIMESTAMP and the clock of the rates are read together, so rates times
                // the TIMESTAMP intervals give the amounts, however long sampling takes.
                let ts = now_ns();
                let mono = u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
                let samples = sampler.sample(mono);
                let points = rows.points(&samples, ts);
                Counters::add(&counters.metric_samples_total, 1);
                Counters::add(&counters.metric_rows_total, points.len() as u64);
                Counters::add(
                    &counters.metric_problems_total,
                    sampler.problems() - reported,
                );
                reported = sampler.problems();
                if let Ok(mut l) = latest.lock() {
                    *l = samples;
                }
                if (!points.is_empty() && tx.send(Msg::Metrics(points)).is_err()) || last {
                    break;
                }
                // At a stop, one last sample: the rates then cover the run to its end.
                last = shutdown.sleep(every);
            }
        });
    match spawned {
        Ok(h) => Some(h),
        Err(e) => {
            tracing::error!(error = %e, "Cannot start the metrics thread; platform metrics are not sampled");
            None
        }
    }
}

/// Starts `--http-listen`: `/healthcheck` from the agent's progress, `/metrics` from its
/// counters and `latest`.
///
/// # Errors
/// When the address cannot be bound.
pub async fn serve_http(
    addr: std::net::SocketAddr,
    cfg: &crate::config::AgentConfig,
    counters: &Arc<Counters>,
    latest: &Latest,
    shutdown: &Shutdown,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    // A file is closed after --max-file-age at the latest; rows waiting longer than that
    // and a margin mean the output takes nothing.
    let stall = cfg.sink.max_file_age + std::time::Duration::from_secs(10);
    let endpoints = http::Endpoints {
        health: health::Health::new(
            counters.clone(),
            shutdown.clone(),
            stall,
            cfg.sink.dir.display().to_string(),
        ),
        counters: counters.clone(),
        latest: latest.clone(),
        resource: Arc::new(
            cfg.resource
                .pairs()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ),
    };
    http::serve(addr, endpoints, shutdown.clone()).await
}

#[cfg(test)]
mod tests;
