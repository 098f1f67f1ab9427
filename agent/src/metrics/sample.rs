//! What a group's sampling yields, how files are read (a missing one reported once), and
//! rates from counters across samples.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::pipeline::MetricValue;

use super::config::Group;

/// One metric's value in one sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The group it belongs to.
    pub group: Group,
    /// The platform's name, e.g. `container.cpu.usage`.
    pub name: &'static str,
    /// The platform's unit.
    pub unit: &'static str,
    /// RECORD_ATTRIBUTES, e.g. `[("volume", "logs")]`.
    pub attrs: Vec<(&'static str, String)>,
    /// VALUE.
    pub value: MetricValue,
}

impl Sample {
    /// A sample without attributes.
    pub fn new(group: Group, name: &'static str, unit: &'static str, value: MetricValue) -> Self {
        Self {
            group,
            name,
            unit,
            attrs: Vec::new(),
            value,
        }
    }

    /// The same with an attribute.
    #[must_use]
    pub fn with(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.attrs.push((key, value.into()));
        self
    }
}

/// An INT value from a count.
pub(crate) fn int(v: u64) -> MetricValue {
    MetricValue::Int(i64::try_from(v).unwrap_or(i64::MAX))
}

/// Reads the files metrics come from; a file that cannot be read or parsed is reported
/// once (a warning naming the metric it skips), and again only after it came back.
#[derive(Debug, Default)]
pub struct Files {
    reported: HashSet<PathBuf>,
    /// Problems reported so far (for the agent's telemetry).
    pub problems: u64,
}

impl Files {
    /// The file's text, or `None` (reported once).
    pub fn read(&mut self, path: &Path, metric: &str) -> Option<String> {
        match std::fs::read_to_string(path) {
            Ok(t) => {
                if self.reported.remove(path) {
                    tracing::info!(path = %path.display(), metric, "Metric source readable again");
                }
                Some(t)
            }
            Err(e) => {
                self.report(path, metric, &e.to_string());
                None
            }
        }
    }

    /// Reports a problem with `path` once; later calls for the same path are silent.
    pub fn report(&mut self, path: &Path, metric: &str, why: &str) {
        if self.reported.insert(path.to_path_buf()) {
            self.problems += 1;
            tracing::warn!(path = %path.display(), metric, reason = why, "Metric not sampled (reported once)");
        }
    }

    /// A file holding one number.
    pub fn number(&mut self, path: &Path, metric: &str) -> Option<u64> {
        let text = self.read(path, metric)?;
        let v = text.trim().parse().ok();
        if v.is_none() {
            self.report(path, metric, &format!("not a number: {:?}", text.trim()));
        }
        v
    }

    /// The value of `key` in a `key value` file (`cpu.stat`, `memory.stat`).
    pub fn keyed(&mut self, path: &Path, key: &str, metric: &str) -> Option<u64> {
        let text = self.read(path, metric)?;
        let v = super::cgroup::keyed(&text, key);
        if v.is_none() {
            self.report(path, metric, &format!("no {key} line"));
        }
        v
    }
}

/// Counters seen at the previous sample, to turn them into deltas and rates.
#[derive(Debug, Default)]
pub struct Rates {
    prev: HashMap<String, (u64, u64)>,
}

impl Rates {
    /// How much `key` grew since the previous sample and over how many seconds; `None` on
    /// its first sample (no rate yet). A counter that went down was reset (the cgroup or
    /// interface was re-created) or wrapped: it is taken to have restarted from 0, so the
    /// delta is its value now (as Prometheus' `rate()` does), never a negative number.
    pub fn delta(&mut self, key: &str, value: u64, mono_ns: u64) -> Option<(u64, f64)> {
        let prev = match self.prev.get_mut(key) {
            Some(p) => std::mem::replace(p, (value, mono_ns)),
            None => {
                self.prev.insert(key.to_string(), (value, mono_ns));
                return None;
            }
        };
        #[allow(clippy::cast_precision_loss)]
        let secs = mono_ns.saturating_sub(prev.1) as f64 / 1e9;
        if secs <= 0.0 {
            return None;
        }
        let delta = if value >= prev.0 {
            value - prev.0
        } else {
            value
        };
        Some((delta, secs))
    }

    /// The per-second rate of `key`; `None` on its first sample.
    pub fn rate(&mut self, key: &str, value: u64, mono_ns: u64) -> Option<f64> {
        #[allow(clippy::cast_precision_loss)]
        self.delta(key, value, mono_ns).map(|(d, s)| d as f64 / s)
    }

    /// Forgets counters not seen since `keep` returned true for them (interfaces gone).
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        self.prev.retain(|k, _| keep(k));
    }
}
