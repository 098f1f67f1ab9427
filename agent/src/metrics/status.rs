//! `status` for firn's own container when it wraps no app (a wrapped app's status comes from
//! capture, which sees it start and end): firn runs, so its container is running.

use super::Sampler;
use super::config::Group;
use super::sample::{Sample, int};

impl Sampler {
    /// `container.state.*` and `container.restarts` of a running container. firn cannot
    /// see its own restarts (the platform restarts the container, and firn with it), so
    /// restarts is 0, as for a wrapped app.
    pub(super) fn sample_status(&mut self, out: &mut Vec<Sample>) {
        let g = Group::Status;
        for (name, unit, v) in [
            ("container.state.running", "boolean", 1),
            ("container.state.pending", "boolean", 0),
            ("container.state.started", "boolean", 1),
            ("container.state.finished", "boolean", 0),
            ("container.restarts", "restarts", 0),
        ] {
            out.push(Sample::new(g, name, unit, int(v)));
        }
    }
}
