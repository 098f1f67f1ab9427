//! Stdin mode: `app | firn-agent --stdin`. firn's stdin is one stream, read until it ends.

use std::io::Read;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::CaptureError;
use super::config::CaptureConfig;
use super::stream::PumpEnd;
use super::{Stream, StreamSettings};
use crate::pipeline::Sender;
use crate::shutdown::{Shutdown, Stage};
use crate::telemetry::Counters;

/// Bytes read on a plain thread, handed to the async pump.
///
/// tokio's own `stdin()` reads on the runtime's blocking pool, and a runtime waits for its
/// blocking tasks when it is dropped: a writer that never closes the pipe would keep firn
/// from exiting after SIGTERM. A detached thread does not hold the exit up.
#[derive(Debug)]
pub(crate) struct ChannelReader {
    rx: mpsc::Receiver<Vec<u8>>,
    pending: Vec<u8>,
    at: usize,
}

impl ChannelReader {
    /// Starts a thread reading `input` into a channel of a few 64 KiB blocks (bounded, so
    /// a slow sink slows the reads instead of filling memory).
    ///
    /// # Errors
    /// When the thread cannot be spawned.
    pub(crate) fn spawn(mut input: impl Read + Send + 'static) -> std::io::Result<Self> {
        let (tx, rx) = mpsc::channel::<Vec<u8>>(4);
        std::thread::Builder::new()
            .name("firn-stdin".into())
            .spawn(move || {
                loop {
                    let mut buf = vec![0u8; 64 << 10];
                    match input.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            buf.truncate(n);
                            if tx.blocking_send(buf).is_err() {
                                break;
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            tracing::warn!(error = %e, "Cannot read stdin; treating it as ended");
                            break;
                        }
                    }
                }
            })?;
        Ok(Self {
            rx,
            pending: Vec::new(),
            at: 0,
        })
    }
}

impl AsyncRead for ChannelReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.at >= self.pending.len() {
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(block)) => {
                    self.pending = block;
                    self.at = 0;
                }
                // The thread ended: end of stream.
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
        let n = buf.remaining().min(self.pending.len() - self.at);
        let at = self.at;
        buf.put_slice(&self.pending[at..at + n]);
        self.at += n;
        Poll::Ready(Ok(()))
    }
}

/// Reads stdin to its end. After the first SIGTERM it keeps reading for the child grace
/// period (the writer is usually being stopped too); a second signal stops it at once.
///
/// # Errors
/// When the reading thread cannot be started.
pub(crate) async fn run(
    cfg: Arc<CaptureConfig>,
    stream: Stream,
    settings: StreamSettings,
    tx: Sender,
    counters: Arc<Counters>,
    shutdown: Shutdown,
) -> Result<Option<u8>, CaptureError> {
    let input = ChannelReader::spawn(std::io::stdin()).map_err(CaptureError::StdinThread)?;
    // Passing stdin through goes to stdout whatever its iostream: it is firn's only input.
    let passthrough = cfg
        .passthrough
        .then(|| Box::new(std::io::stdout()) as super::stream::Passthrough);
    let pump = settings.pump(stream, cfg.log_level, passthrough);
    let (stop_tx, stop_rx) = watch::channel(None);
    let mut task = tokio::spawn(pump.run(input, tx, counters.clone(), stop_rx));
    let end = tokio::select! {
        r = &mut task => r,
        () = shutdown.reached(Stage::Graceful) => {
            let _ = stop_tx.send(Some(Instant::now() + cfg.child_grace));
            tokio::select! {
                r = &mut task => r,
                () = shutdown.reached(Stage::Immediate) => {
                    let _ = stop_tx.send(Some(Instant::now()));
                    task.await
                }
            }
        }
    };
    match end {
        Ok(PumpEnd::Eof) => tracing::info!("Stdin ended"),
        Ok(PumpEnd::Abandoned) => {
            Counters::add(&counters.capture_streams_abandoned_total, 1);
            tracing::warn!("Stopped reading stdin before it ended (shutdown)");
        }
        Ok(PumpEnd::SinkClosed) => tracing::warn!("Output stopped before stdin ended"),
        Err(e) => return Err(CaptureError::StdinTask(e)),
    }
    Ok(None)
}
