//! One shutdown signal for every part of the agent, sync or async.
//!
//! The first SIGTERM or SIGINT asks for a graceful stop: sources read what is left, a
//! wrapped child gets the signal and is waited for, the sink writes everything. A second one
//! asks to stop now: sources stop at once and the sink makes a best-effort flush.
//!
//! The whole shutdown has one deadline, set when the first stop is asked for: every part
//! that waits (the sink for an output that takes nothing, the export for its collector, the
//! final close) gives up at it, so the summary of what was not delivered is logged and the
//! agent exits before the platform's SIGKILL.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// How far shutdown has gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// Running.
    Running,
    /// Finish what is in hand, then stop.
    Graceful,
    /// Stop now.
    Immediate,
}

/// A cloneable handle on the agent's shutdown state.
#[derive(Debug, Clone)]
pub struct Shutdown {
    tx: Arc<watch::Sender<Stage>>,
    rx: watch::Receiver<Stage>,
    /// When the platform will kill us: 30 s after the first SIGTERM (SPCS.md §9).
    grace: Duration,
    /// From the first stop to the deadline of the whole shutdown.
    budget: Duration,
    /// When the first stop was asked for.
    since: Arc<Mutex<Option<Instant>>>,
}

/// What the exit itself needs after the deadline: the summary, joining threads, leaving.
pub const EXIT_MARGIN: Duration = Duration::from_secs(3);

impl Default for Shutdown {
    fn default() -> Self {
        Self::new(Duration::from_secs(30))
    }
}

impl Shutdown {
    /// Running, with `grace` between the first signal and a kill; the shutdown's deadline
    /// is [`EXIT_MARGIN`] before the kill.
    pub fn new(grace: Duration) -> Self {
        let (tx, rx) = watch::channel(Stage::Running);
        Self {
            tx: Arc::new(tx),
            rx,
            grace,
            budget: grace.saturating_sub(EXIT_MARGIN),
            since: Arc::new(Mutex::new(None)),
        }
    }

    /// Gives a wrapped app `child_grace` after the first signal before it is killed: the
    /// deadline moves to just after that if it came earlier (`--child-grace` is at most 1 s
    /// short of the grace period, so the deadline stays inside it).
    #[must_use]
    pub fn with_child_grace(mut self, child_grace: Duration) -> Self {
        let after_child = child_grace + Duration::from_millis(500);
        self.budget = self
            .budget
            .max(after_child)
            .min(self.grace.saturating_sub(Duration::from_millis(300)));
        self
    }

    /// When the whole shutdown must be over: a fixed time after the first stop. None while
    /// running.
    pub fn deadline(&self) -> Option<Instant> {
        let since = *self.since.lock().unwrap_or_else(|p| p.into_inner());
        since.map(|t| t + self.budget)
    }

    /// Moves to `stage` if that is further than now.
    pub fn request(&self, stage: Stage) {
        if stage > Stage::Running {
            self.since
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_or_insert_with(Instant::now);
        }
        self.tx.send_if_modified(|s| {
            if stage > *s {
                *s = stage;
                true
            } else {
                false
            }
        });
    }

    /// The current stage.
    pub fn stage(&self) -> Stage {
        *self.rx.borrow()
    }

    /// Whether any stop was asked for.
    pub fn is_requested(&self) -> bool {
        self.stage() != Stage::Running
    }

    /// The grace period.
    pub fn grace(&self) -> Duration {
        self.grace
    }

    /// Waits until the stage is at least `stage`.
    pub async fn reached(&self, stage: Stage) {
        let mut rx = self.rx.clone();
        let _ = rx.wait_for(|s| *s >= stage).await;
    }

    /// Sleeps for `d` on a plain thread, waking early when a stop is asked for. Returns
    /// whether a stop was asked for.
    pub fn sleep(&self, d: Duration) -> bool {
        let end = Instant::now() + d;
        loop {
            if self.is_requested() {
                return true;
            }
            let now = Instant::now();
            if now >= end {
                return false;
            }
            std::thread::sleep((end - now).min(Duration::from_millis(20)));
        }
    }
}

/// Turns SIGTERM and SIGINT into shutdown stages: the first graceful, the second immediate.
///
/// # Errors
/// When the signal handlers cannot be installed.
pub fn listen_for_signals(shutdown: Shutdown) -> std::io::Result<tokio::task::JoinHandle<()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(tokio::spawn(async move {
        let mut count = 0;
        loop {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            count += 1;
            if count == 1 {
                tracing::info!(
                    signal = name,
                    grace_s = shutdown.grace().as_secs(),
                    "Stopping: finishing what was read, then exiting"
                );
                shutdown.request(Stage::Graceful);
            } else {
                tracing::warn!(signal = name, "Stopping now: best-effort flush");
                shutdown.request(Stage::Immediate);
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_deadline_from_the_first_stop_inside_the_grace_period() {
        let sd = Shutdown::new(Duration::from_secs(30));
        assert_eq!(sd.deadline(), None);
        let t0 = Instant::now();
        sd.request(Stage::Graceful);
        let d = sd.deadline().unwrap();
        assert!(d >= t0 + Duration::from_secs(27) && d < t0 + Duration::from_millis(27_100));
        // A second signal does not move it.
        std::thread::sleep(Duration::from_millis(20));
        sd.clone().request(Stage::Immediate);
        assert_eq!(sd.deadline(), Some(d));
    }

    #[test]
    fn a_wrapped_app_gets_its_child_grace_before_the_deadline() {
        let t0 = Instant::now();
        let at = |child: u64| {
            let sd =
                Shutdown::new(Duration::from_secs(30)).with_child_grace(Duration::from_secs(child));
            sd.request(Stage::Graceful);
            sd.deadline().unwrap().duration_since(t0)
        };
        // The default 25 s leaves the usual deadline; 29 s (the most allowed) moves it to
        // just after the kill, still inside the 30 s.
        assert!(at(25) >= Duration::from_secs(27) && at(25) < Duration::from_millis(27_100));
        assert!(at(29) >= Duration::from_millis(29_500) && at(29) < Duration::from_secs(30));
    }
}
