//! The `status` metric group (SPCS.md §5) for a wrapped app: firn is the app's parent, so
//! it knows when the app runs and how it ended, as the platform's kubelet would.

use std::path::Path;
use std::process::ExitStatus;

use firn_schemas::{JsonText, MetricType, ObjectWriter, ValueType, metric_record};

use crate::pipeline::{MetricPoint, MetricValue};

/// Why the app stopped, as `container.state.last.finished.reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FinishReason {
    /// Exit code 0.
    Done,
    /// Any other exit.
    Failed,
    /// A failure while the cgroup's `oom_kill` count rose.
    FailedWithOom,
    /// The program could not be started.
    FailedToStart,
}

impl FinishReason {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Done => "Done",
            Self::Failed => "Failed",
            Self::FailedWithOom => "FailedWithOOM",
            Self::FailedToStart => "FailedToStart",
        }
    }

    /// Decides the reason from the exit code and the `oom_kill` counts read before start
    /// and after exit (`None` where cgroup v2 is not readable).
    pub(crate) fn from_exit(code: u8, oom_before: Option<u64>, oom_after: Option<u64>) -> Self {
        if code == 0 {
            return Self::Done;
        }
        match (oom_before, oom_after) {
            (Some(b), Some(a)) if a > b => Self::FailedWithOom,
            _ => Self::Failed,
        }
    }
}

/// The exit code a shell would report: the code, or 128 + the signal that killed it.
pub(crate) fn exit_code(status: ExitStatus) -> u8 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => u8::try_from(c & 0xff).unwrap_or(1),
        (None, Some(sig)) => u8::try_from((128 + sig) & 0xff).unwrap_or(1),
        (None, None) => 1,
    }
}

/// `oom_kill` from `<cgroup_dir>/memory.events` (cgroup v2); `None` when absent.
pub(crate) fn read_oom_kills(cgroup_dir: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(cgroup_dir.join("memory.events")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|v| v.trim().parse().ok())
}

/// The status metrics' RECORDs and SCOPE, built once.
#[derive(Debug)]
pub(crate) struct StatusMetrics {
    running: JsonText,
    started: JsonText,
    finished: JsonText,
    restarts: JsonText,
    exitcode: JsonText,
    reason: JsonText,
    scope: JsonText,
}

impl Default for StatusMetrics {
    fn default() -> Self {
        let gauge =
            |name: &str, unit: &str| metric_record(name, unit, MetricType::Gauge, ValueType::Int);
        Self {
            running: gauge("container.state.running", "boolean"),
            started: gauge("container.state.started", "boolean"),
            finished: gauge("container.state.finished", "boolean"),
            restarts: gauge("container.restarts", "restarts"),
            exitcode: gauge("container.state.last.finished.exitcode", "integer"),
            reason: gauge("container.state.last.finished.reason", "boolean"),
            scope: JsonText::string_object([("name", "firn.status")]),
        }
    }
}

impl StatusMetrics {
    fn point(
        &self,
        record: &JsonText,
        ts: i64,
        value: i64,
        attrs: Option<JsonText>,
    ) -> MetricPoint {
        MetricPoint {
            timestamp_ns: ts,
            start_ns: None,
            record: record.clone(),
            attributes: attrs,
            scope: Some(self.scope.clone()),
            value: MetricValue::Int(value),
        }
    }

    /// While the app runs. firn never restarts it, so `container.restarts` is 0.
    pub(crate) fn running(&self, ts: i64) -> Vec<MetricPoint> {
        vec![
            self.point(&self.running, ts, 1, None),
            self.point(&self.started, ts, 1, None),
            self.point(&self.finished, ts, 0, None),
            self.point(&self.restarts, ts, 0, None),
        ]
    }

    /// Once the app ended (or could not start: `code` is then 127 or 126).
    pub(crate) fn finished(&self, ts: i64, code: u8, reason: FinishReason) -> Vec<MetricPoint> {
        let mut attrs = ObjectWriter::new();
        attrs.string("reason", reason.as_str());
        vec![
            self.point(&self.running, ts, 0, None),
            self.point(&self.started, ts, 0, None),
            self.point(&self.finished, ts, 1, None),
            self.point(&self.restarts, ts, 0, None),
            self.point(&self.exitcode, ts, i64::from(code), None),
            self.point(&self.reason, ts, 1, Some(attrs.finish())),
        ]
    }
}
