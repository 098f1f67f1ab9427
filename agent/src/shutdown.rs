//! One shutdown signal for every part of the agent, sync or async.
//!
//! The first SIGTERM or SIGINT asks for a graceful stop: sources read what is left, a
//! wrapped child gets the signal and is waited for, the sink writes everything. A second one
//! asks to stop now: sources stop at once and the sink makes a best-effort flush.

use std::sync::Arc;
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
}

impl Default for Shutdown {
    fn default() -> Self {
        Self::new(Duration::from_secs(30))
    }
}

impl Shutdown {
    /// Running, with `grace` between the first signal and a kill.
    pub fn new(grace: Duration) -> Self {
        let (tx, rx) = watch::channel(Stage::Running);
        Self {
            tx: Arc::new(tx),
            rx,
            grace,
        }
    }

    /// Moves to `stage` if that is further than now.
    pub fn request(&self, stage: Stage) {
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
