//! How `receive` and `serve` stop: SIGTERM (the platform's stop) or Ctrl-C.

/// SIGTERM's handler, installed before `receive` or `serve` says it has started, so a SIGTERM
/// that follows the "Starting" line at once is a clean stop rather than the default action
/// (the process killed mid-start, as a loaded machine showed in `tests/crash.rs`).
pub(crate) fn term_signal() -> Option<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok()
}

/// Waits for that SIGTERM, or for Ctrl-C.
pub(crate) async fn shutdown_signal(term: Option<tokio::signal::unix::Signal>) {
    let term = async {
        match term {
            Some(mut s) => {
                s.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
}
