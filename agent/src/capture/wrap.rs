//! Wrap mode: firn starts the app, captures its stdout and stderr, forwards signals to it,
//! reports its status, and exits with its exit code.

use std::ffi::OsString;
use std::process::Stdio;
use std::sync::Arc;

use firn_schemas::parquet_sink::naming::now_ns;
use rustix::process::{Pid, Signal, kill_process};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::CaptureError;
use super::config::CaptureConfig;
use super::group::Group;
use super::status::{FinishReason, StatusMetrics, exit_code, read_oom_kills};
use super::stream::{Passthrough, PumpEnd, send_msg};
use super::{Stream, StreamSettings};
use crate::pipeline::{Msg, Sender};
use crate::shutdown::{Shutdown, Stage};
use crate::telemetry::Counters;

/// The app could not be started.
#[derive(Debug, thiserror::Error)]
#[error("cannot start {program:?}: {source}; {hint}")]
pub struct SpawnError {
    /// The program as given after `--`.
    pub program: String,
    /// Why.
    #[source]
    pub source: std::io::Error,
    hint: &'static str,
}

impl SpawnError {
    fn new(program: &OsString, source: std::io::Error) -> Self {
        let hint = match source.kind() {
            std::io::ErrorKind::NotFound => {
                "check the name, and that it is installed and on PATH (or give its full path)"
            }
            std::io::ErrorKind::PermissionDenied => "check that it is executable (chmod +x)",
            _ => "check the command after --",
        };
        Self {
            program: program.to_string_lossy().into_owned(),
            source,
            hint,
        }
    }

    /// What a shell exits with here: 127 when the program is not found, 126 otherwise.
    pub fn exit_code(&self) -> u8 {
        if self.source.kind() == std::io::ErrorKind::NotFound {
            127
        } else {
            126
        }
    }
}

/// Signals passed on to the app as they arrive. SIGTERM and SIGINT are not here: they go
/// through [`Shutdown`], which forwards SIGTERM and then enforces the grace period.
const FORWARDED: [(i32, Signal); 5] = [
    (libc::SIGHUP, Signal::HUP),
    (libc::SIGQUIT, Signal::QUIT),
    (libc::SIGUSR1, Signal::USR1),
    (libc::SIGUSR2, Signal::USR2),
    (libc::SIGWINCH, Signal::WINCH),
];

fn signal_child(pid: Option<Pid>, sig: Signal, counters: &Counters) {
    let Some(pid) = pid else { return };
    match kill_process(pid, sig) {
        Ok(()) => Counters::add(&counters.child_signals_forwarded_total, 1),
        // ESRCH: the app has just exited; its exit is reported by wait().
        Err(e) => {
            tracing::debug!(pid = pid.as_raw_nonzero().get(), signal = ?sig, error = %e, "Cannot signal the app")
        }
    }
}

fn spawn_forwarder(pid: Option<Pid>, counters: Arc<Counters>) -> std::io::Result<JoinHandle<()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut listeners = Vec::new();
    for (raw, sig) in FORWARDED {
        listeners.push((signal(SignalKind::from_raw(raw))?, sig));
    }
    Ok(tokio::spawn(async move {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Signal>(8);
        for (mut l, sig) in listeners {
            let tx = tx.clone();
            tokio::spawn(async move {
                while l.recv().await.is_some() {
                    if tx.send(sig).await.is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        while let Some(sig) = rx.recv().await {
            signal_child(pid, sig, &counters);
        }
    }))
}

/// After the app exited in a shutdown: waits until the rest of its process group is gone,
/// or until `deadline` (the end of the grace period) or a second signal, then SIGKILLs it.
async fn stop_group(group: Group, deadline: Instant, shutdown: &Shutdown, counters: &Counters) {
    let mut poll = tokio::time::interval(std::time::Duration::from_millis(50));
    loop {
        if !group.alive() {
            return;
        }
        tokio::select! {
            _ = poll.tick() => {}
            () = tokio::time::sleep_until(deadline) => break,
            () = shutdown.reached(Stage::Immediate) => break,
        }
    }
    if group.alive() {
        tracing::warn!(
            "Processes the app started did not exit within the grace period; killing its process group"
        );
        group.signal(Signal::KILL, counters);
    }
}

/// Runs the wrapped app to its end. Returns its exit code (127/126 when it cannot start),
/// which becomes firn's. When it ends, the whole agent is asked to stop.
///
/// # Errors
/// Only when signal handlers cannot be installed; a failed start is an exit code.
pub(crate) async fn run(
    cfg: Arc<CaptureConfig>,
    program: OsString,
    args: Vec<OsString>,
    settings: StreamSettings,
    tx: Sender,
    counters: Arc<Counters>,
    shutdown: Shutdown,
) -> Result<Option<u8>, CaptureError> {
    let status = StatusMetrics::default();
    // The `status` metric group may be switched off (--metric-groups, platformMonitor).
    let send_status = |points: Vec<crate::pipeline::MetricPoint>| {
        let on = cfg.status_metrics;
        let tx = &tx;
        async move {
            if on {
                let _ = send_msg(tx, Msg::Metrics(points), || false).await;
            }
        }
    };
    let oom_before = read_oom_kills(&cfg.cgroup_dir);
    let mut child = match tokio::process::Command::new(&program)
        .args(&args)
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // A group of its own, so shutdown's signals reach what the app started too.
        .process_group(0)
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            let err = SpawnError::new(&program, e);
            let code = err.exit_code();
            // Printed plainly as well as logged: it is the one line a user needs to see.
            tracing::debug!(exit_code = code, "{err}");
            eprintln!("firn-agent: error: {err}");
            let points = status.finished(now_ns(), code, FinishReason::FailedToStart);
            send_status(points).await;
            shutdown.request(Stage::Graceful);
            return Ok(Some(code));
        }
    };
    let pid = child.id().and_then(|p| Pid::from_raw(p as i32));
    tracing::info!(
        pid = pid.map_or(0, |p| p.as_raw_nonzero().get()),
        command = %program.to_string_lossy(),
        log_level = cfg.log_level.as_str(),
        "Started the app"
    );
    let (stop_tx, stop_rx) = watch::channel(None);
    let mut pumps = Vec::new();
    for (stream, pipe) in [
        (
            Stream::Stdout,
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ),
        (
            Stream::Stderr,
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ),
    ] {
        let Some(pipe) = pipe else { continue };
        let passthrough: Option<Passthrough> = cfg.passthrough.then(|| match stream {
            Stream::Stdout => Box::new(std::io::stdout()) as Passthrough,
            Stream::Stderr => Box::new(std::io::stderr()) as Passthrough,
        });
        let pump = settings.pump(stream, cfg.log_level, passthrough);
        pumps.push((
            stream,
            tokio::spawn(pump.run(pipe, tx.clone(), counters.clone(), stop_rx.clone())),
        ));
    }
    let group = pid.map(Group::led_by);
    if let Some(g) = group {
        g.take_terminal();
    }
    let signal_group = |sig: Signal| match group {
        Some(g) => g.signal(sig, &counters),
        None => signal_child(pid, sig, &counters),
    };
    let forwarder = spawn_forwarder(pid, counters.clone()).map_err(CaptureError::Signals)?;
    send_status(status.running(now_ns())).await;

    let mut tick = tokio::time::interval(cfg.metrics_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is immediate: the start was just reported
    let mut kill_at: Option<Instant> = None;
    let mut killed = false;
    let far = Instant::now() + std::time::Duration::from_secs(86_400 * 365);
    let exit = loop {
        tokio::select! {
            r = child.wait() => break r,
            _ = tick.tick() => {
                send_status(status.running(now_ns())).await;
            }
            () = shutdown.reached(Stage::Graceful), if kill_at.is_none() => {
                tracing::info!(grace_s = cfg.child_grace.as_secs_f64(), "Forwarding SIGTERM to the app's process group; it gets the grace period to exit");
                signal_group(Signal::TERM);
                kill_at = Some(Instant::now() + cfg.child_grace);
            }
            () = shutdown.reached(Stage::Immediate), if !killed => {
                tracing::warn!("Killing the app and its process group (second signal)");
                signal_group(Signal::KILL);
                killed = true;
                let _ = stop_tx.send(Some(Instant::now()));
            }
            () = tokio::time::sleep_until(kill_at.unwrap_or(far)), if kill_at.is_some() && !killed => {
                tracing::warn!(grace_s = cfg.child_grace.as_secs_f64(), "The app did not exit within its grace period; killing its process group");
                signal_group(Signal::KILL);
                killed = true;
            }
        }
    };
    forwarder.abort();
    // In a shutdown, what the app started gets the rest of the grace period, then SIGKILL.
    if let (Some(g), Some(deadline), false) = (group, kill_at, killed) {
        stop_group(g, deadline, &shutdown, &counters).await;
    }
    let code = match exit {
        Ok(s) => exit_code(s),
        Err(e) => {
            tracing::error!(error = %e, "Cannot wait for the app");
            1
        }
    };
    // The pipes normally end with the app; a process it started may hold them open.
    let linger = if shutdown.stage() >= Stage::Immediate {
        std::time::Duration::ZERO
    } else {
        cfg.drain_timeout
    };
    let _ = stop_tx.send(Some(Instant::now() + linger));
    for (stream, pump) in pumps {
        match pump.await {
            Ok(PumpEnd::Eof) => {}
            Ok(PumpEnd::Abandoned) => {
                Counters::add(&counters.capture_streams_abandoned_total, 1);
                tracing::warn!(
                    stream = stream.as_str(),
                    drain_s = linger.as_secs_f64(),
                    "The app exited but its stream is still open (a process it started holds it); stopped reading it"
                );
            }
            Ok(PumpEnd::SinkClosed) => {
                tracing::warn!(
                    stream = stream.as_str(),
                    "Output stopped before the stream ended; its last lines may be missing"
                );
            }
            Err(e) => tracing::error!(stream = stream.as_str(), error = %e, "Capture task failed"),
        }
    }
    let reason = FinishReason::from_exit(code, oom_before, read_oom_kills(&cfg.cgroup_dir));
    tracing::info!(exit_code = code, reason = reason.as_str(), "The app exited");
    send_status(status.finished(now_ns(), code, reason)).await;
    // The container's main process is gone: the rest of the agent stops too.
    shutdown.request(Stage::Graceful);
    Ok(Some(code))
}
