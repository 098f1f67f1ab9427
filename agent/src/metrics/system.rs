//! `system` (CPU and memory use) and `system_limits` (limits and requests) of the cgroup.

use crate::pipeline::MetricValue;

use super::Sampler;
use super::cgroup::Dir;
use super::config::Group;
use super::sample::{Sample, int};

/// v1 `memory.limit_in_bytes` at or above this is the "unlimited" sentinel
/// (`PAGE_COUNTER_MAX` pages, 9223372036854771712 with 4 KiB pages).
const V1_UNLIMITED: u64 = 1 << 62;

/// The platform's default CPU request, cores (SPCS.md §5).
const DEFAULT_CPU_REQUEST: f64 = 0.5;
/// The platform's default memory request, bytes (0.5 GiB).
const DEFAULT_MEMORY_REQUEST: u64 = 512 << 20;

impl Sampler {
    /// CPU time used by the cgroup so far, ns.
    fn cpu_used_ns(&mut self) -> Option<u64> {
        const M: &str = "container.cpu.usage";
        match self.cgroup.cpuacct.clone()? {
            Dir::V2(d) => self
                .files
                .keyed(&d.join("cpu.stat"), "usage_usec", M)
                .map(|us| us.saturating_mul(1000)),
            Dir::V1(d) => self.files.number(&d.join("cpuacct.usage"), M),
        }
    }

    /// The working set, as the kubelet counts it: usage less inactive file cache.
    fn memory_working_set(&mut self) -> Option<u64> {
        const M: &str = "container.memory.usage";
        let (usage, stat, key) = match self.cgroup.memory.clone()? {
            Dir::V2(d) => (
                d.join("memory.current"),
                d.join("memory.stat"),
                "inactive_file",
            ),
            Dir::V1(d) => (
                d.join("memory.usage_in_bytes"),
                d.join("memory.stat"),
                "total_inactive_file",
            ),
        };
        let usage = self.files.number(&usage, M)?;
        let inactive = self.files.keyed(&stat, key, M)?;
        Some(usage.saturating_sub(inactive))
    }

    /// `container.cpu.usage` and `container.memory.usage`.
    pub(super) fn sample_system(&mut self, mono_ns: u64, out: &mut Vec<Sample>) {
        let g = Group::System;
        if let Some(ns) = self.cpu_used_ns()
            && let Some((d, secs)) = self.rates.delta("cpu", ns, mono_ns)
        {
            #[allow(clippy::cast_precision_loss)]
            let cores = d as f64 / 1e9 / secs;
            out.push(Sample::new(
                g,
                "container.cpu.usage",
                "cpu cores",
                MetricValue::Double(cores),
            ));
        }
        if let Some(b) = self.memory_working_set() {
            out.push(Sample::new(g, "container.memory.usage", "bytes", int(b)));
        }
        self.sample_gpu_usage(out);
    }

    /// The CPU limit in cores: the quota, or the node's cores when there is none.
    pub(super) fn cpu_limit(&mut self) -> Option<f64> {
        const M: &str = "container.cpu.limit";
        let node = self.node.map(|n| n.cpus);
        match self.cgroup.cpu.clone() {
            None => node,
            Some(Dir::V2(d)) => {
                let path = d.join("cpu.max");
                // No cpu.max: the cpu controller is not enabled here (or this is the root
                // cgroup), so nothing limits the cgroup below the node.
                let Ok(text) = std::fs::read_to_string(&path) else {
                    return node;
                };
                let mut it = text.split_whitespace();
                match (it.next(), it.next().and_then(|p| p.parse::<u64>().ok())) {
                    (Some("max"), _) => node,
                    (Some(q), Some(period)) if period > 0 => match q.parse::<u64>() {
                        #[allow(clippy::cast_precision_loss)]
                        Ok(q) => Some(q as f64 / period as f64),
                        Err(_) => {
                            self.files.report(&path, M, "unexpected content");
                            None
                        }
                    },
                    _ => {
                        self.files.report(&path, M, "unexpected content");
                        None
                    }
                }
            }
            Some(Dir::V1(d)) => {
                let qpath = d.join("cpu.cfs_quota_us");
                let q = self.files.read(&qpath, M)?;
                let q: i64 = match q.trim().parse() {
                    Ok(q) => q,
                    Err(_) => {
                        self.files.report(&qpath, M, "not a number");
                        return None;
                    }
                };
                if q < 0 {
                    return node;
                }
                let period = self.files.number(&d.join("cpu.cfs_period_us"), M)?;
                #[allow(clippy::cast_precision_loss)]
                (period > 0).then(|| q as f64 / period as f64)
            }
        }
    }

    /// The memory limit in bytes, or the node's memory when there is none.
    pub(super) fn memory_limit(&mut self) -> Option<u64> {
        const M: &str = "container.memory.limit";
        let node = self.node.map(|n| n.memory_bytes);
        match self.cgroup.memory.clone() {
            None => node,
            Some(Dir::V2(d)) => {
                let path = d.join("memory.max");
                let Ok(text) = std::fs::read_to_string(&path) else {
                    return node;
                };
                match text.trim() {
                    "max" => node,
                    t => {
                        let v = t.parse().ok();
                        if v.is_none() {
                            self.files.report(&path, M, "unexpected content");
                        }
                        v
                    }
                }
            }
            Some(Dir::V1(d)) => {
                let v = self.files.number(&d.join("memory.limit_in_bytes"), M)?;
                if v >= V1_UNLIMITED { node } else { Some(v) }
            }
        }
    }

    /// `container.{cpu,memory}.{limit,requested}`.
    pub(super) fn sample_limits(&mut self, out: &mut Vec<Sample>) {
        let g = Group::SystemLimits;
        let spec = self.cfg.resources;
        if let Some(cpu) = self.cpu_limit() {
            out.push(Sample::new(
                g,
                "container.cpu.limit",
                "cpu cores",
                MetricValue::Double(cpu),
            ));
            let req = spec
                .cpu_requested
                .unwrap_or_else(|| DEFAULT_CPU_REQUEST.min(cpu));
            out.push(Sample::new(
                g,
                "container.cpu.requested",
                "cpu cores",
                MetricValue::Double(req),
            ));
        }
        if let Some(mem) = self.memory_limit() {
            out.push(Sample::new(g, "container.memory.limit", "bytes", int(mem)));
            let req = spec
                .memory_requested
                .unwrap_or_else(|| DEFAULT_MEMORY_REQUEST.min(mem));
            out.push(Sample::new(
                g,
                "container.memory.requested",
                "bytes",
                int(req),
            ));
        }
        self.sample_gpu_limits(out);
    }
}
