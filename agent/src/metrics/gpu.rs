//! GPU metrics inside `system` and `system_limits`, through NVML (`libnvidia-ml.so.1`)
//! loaded at run time: no build-time dependency on the NVIDIA driver, and without it no GPU
//! rows and one info line.

use std::path::Path;

use nvml_wrapper::Nvml;

use crate::pipeline::MetricValue;

use super::Sampler;
use super::config::Group;
use super::sample::{Sample, int};

/// The library the NVIDIA driver installs (the unversioned `.so` is a development link).
const LIB: &str = "libnvidia-ml.so.1";

/// NVML, when the driver is there.
pub(super) struct Gpus(Option<Nvml>);

impl std::fmt::Debug for Gpus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Gpus(nvml)"
        } else {
            "Gpus(none)"
        })
    }
}

impl Gpus {
    /// No GPU support (fixture tests).
    pub(super) fn none() -> Self {
        Self(None)
    }

    /// Loads NVML; without it, one info line and no GPU rows.
    pub(super) fn load() -> Self {
        match Nvml::builder().lib_path(std::ffi::OsStr::new(LIB)).init() {
            Ok(n) => {
                let count = n.device_count().unwrap_or(0);
                tracing::info!(gpus = count, library = LIB, "NVML loaded: GPU metrics on");
                Self(Some(n))
            }
            Err(e) => {
                tracing::info!(library = LIB, reason = %e, "No NVIDIA driver: no GPU rows");
                Self(None)
            }
        }
    }
}

/// (index, memory used, memory total, utilization 0-100) of each GPU NVML shows.
type GpuFigures = (u32, u64, u64, u32);

impl Sampler {
    fn gpu_figures(&mut self, metric: &str) -> Vec<GpuFigures> {
        let Some(nvml) = &self.gpus.0 else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut problems = Vec::new();
        match nvml.device_count() {
            Ok(n) => {
                for i in 0..n {
                    let figures = nvml.device_by_index(i).and_then(|d| {
                        let m = d.memory_info()?;
                        let u = d.utilization_rates()?;
                        Ok((i, m.used, m.total, u.gpu))
                    });
                    match figures {
                        Ok(f) => out.push(f),
                        Err(e) => problems.push(format!("GPU {i}: {e}")),
                    }
                }
            }
            Err(e) => problems.push(format!("device count: {e}")),
        }
        for p in problems {
            self.files.report(Path::new(LIB), metric, &p);
        }
        out
    }

    /// `container.gpu.memory.usage` (bytes) and `container.gpu.utilization` (ratio) per GPU.
    pub(super) fn sample_gpu_usage(&mut self, out: &mut Vec<Sample>) {
        for (i, used, _, util) in self.gpu_figures("container.gpu.utilization") {
            let g = Group::System;
            out.push(
                Sample::new(g, "container.gpu.memory.usage", "bytes", int(used))
                    .with("gpu", i.to_string()),
            );
            out.push(
                Sample::new(
                    g,
                    "container.gpu.utilization",
                    "ratio",
                    MetricValue::Double(f64::from(util) / 100.0),
                )
                .with("gpu", i.to_string()),
            );
        }
    }

    /// `container.gpu.limit`, `.requested` (each GPU the container sees is one it was given,
    /// and the platform requires a GPU request equal to the limit) and
    /// `container.gpu.memory.capacity` per GPU.
    pub(super) fn sample_gpu_limits(&mut self, out: &mut Vec<Sample>) {
        for (i, _, total, _) in self.gpu_figures("container.gpu.limit") {
            let g = Group::SystemLimits;
            out.push(
                Sample::new(g, "container.gpu.limit", "gpus", int(1)).with("gpu", i.to_string()),
            );
            out.push(
                Sample::new(g, "container.gpu.requested", "gpus", int(1))
                    .with("gpu", i.to_string()),
            );
            out.push(
                Sample::new(g, "container.gpu.memory.capacity", "bytes", int(total))
                    .with("gpu", i.to_string()),
            );
        }
    }
}
