//! One captured stream (a child's stdout or stderr, or firn's stdin): bytes → lines →
//! filtered LOG rows → chunks for the sink, with an optional copy of the bytes to firn's own
//! stdout/stderr.

use std::borrow::Cow;
use std::io::Write;
use std::time::Duration;

use firn_schemas::parquet_sink::naming::now_ns;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::watch;
use tokio::time::Instant;

use super::Stream;
use crate::file_tail::lines::{Dropped, LinePos, LineSplitter, LongLines, RawLine};
use crate::level_filter::{LogLevel, Source};
use crate::pipeline::{ChunkBuilder, Msg, Sender};
use crate::row_mapper::{DecodedLine, LineFlags, RowAttrs, RowMapper};
use crate::telemetry::Counters;

/// A pipe holds 64 KiB on Linux: reading that much at once empties it in one call.
const READ_BUF_BYTES: usize = 64 << 10;

/// A last line without a newline is written out after this long without new bytes, so a
/// prompt or a crash message that lacks `\n` is not held back indefinitely.
const PARTIAL_LINE_IDLE: Duration = Duration::from_millis(500);

/// When the pump must stop: `None` while it should read to the end of the stream;
/// `Some(deadline)` once it should stop at end of stream or at the deadline, whichever is
/// first. A deadline in the past stops it at once.
pub(crate) type StopAt = watch::Receiver<Option<Instant>>;

/// How lines of one stream become rows: the shared [`RowMapper`], as a captured stream.
#[derive(Debug, Clone)]
pub(crate) struct LineRules {
    pub(crate) stream: Stream,
    mapper: RowMapper,
}

impl LineRules {
    pub(crate) fn new(stream: Stream, level: LogLevel) -> Self {
        Self {
            stream,
            mapper: RowMapper::new(Source::Captured, level, RowAttrs::captured()),
        }
    }

    /// Turns one line into a row in `chunk`, or counts it as filtered.
    pub(crate) fn push_line(
        &self,
        chunk: &mut ChunkBuilder,
        l: &RawLine<'_>,
        ts: i64,
        counters: &Counters,
    ) {
        Counters::add(&counters.lines_read_total, 1);
        let flags = LineFlags {
            truncated: l.truncated,
            split: l.split,
            invalid_utf8: false,
        };
        if self.mapper.exports_nothing() {
            // Nothing is exported: skip decoding and parsing altogether.
            flags.count(counters);
            Counters::add(&counters.log_rows_filtered_total, 1);
            return;
        }
        let text = l.text();
        let flags = LineFlags {
            invalid_utf8: matches!(text, Cow::Owned(_)),
            ..flags
        };
        flags.count(counters);
        let line = DecodedLine {
            text: &text,
            stream: Some(self.stream),
            ts: None,
            severity: None,
            flags,
        };
        self.mapper.push(&line, ts, chunk, counters, None);
    }
}

/// Where the raw bytes of a stream are copied.
pub(crate) type Passthrough = Box<dyn Write + Send>;

/// How a pump ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PumpEnd {
    /// The stream ended.
    Eof,
    /// The stop deadline passed first (a grandchild still holds the pipe, or shutdown).
    Abandoned,
    /// The sink is gone.
    SinkClosed,
}

/// Settings of one pump.
pub(crate) struct Pump {
    pub(crate) rules: LineRules,
    pub(crate) max_line_bytes: usize,
    pub(crate) long_lines: LongLines,
    pub(crate) passthrough: Option<Passthrough>,
}

impl std::fmt::Debug for Pump {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pump")
            .field("rules", &self.rules)
            .field("passthrough", &self.passthrough.is_some())
            .finish()
    }
}

impl Pump {
    /// Reads `input` to its end (or until `stop` says so), sending rows to `tx`.
    pub(crate) async fn run(
        mut self,
        mut input: impl AsyncRead + Unpin,
        tx: Sender,
        counters: std::sync::Arc<Counters>,
        mut stop: StopAt,
    ) -> PumpEnd {
        let mut splitter =
            LineSplitter::new(self.max_line_bytes, self.long_lines, LinePos::default());
        let mut chunk = ChunkBuilder::default();
        let mut buf = vec![0u8; READ_BUF_BYTES];
        let mut stop_open = true;
        let far = Instant::now() + Duration::from_secs(86_400 * 365);
        let end = loop {
            let deadline = *stop.borrow();
            let partial = splitter.partial_len() > 0;
            let read = tokio::select! {
                // Deadline first: a grandchild writing without pause must not keep us here.
                biased;
                () = tokio::time::sleep_until(deadline.unwrap_or(far)), if deadline.is_some() => {
                    break PumpEnd::Abandoned;
                }
                r = input.read(&mut buf) => r,
                changed = stop.changed(), if stop_open && deadline.is_none() => {
                    stop_open = changed.is_ok();
                    continue;
                }
                () = tokio::time::sleep(PARTIAL_LINE_IDLE), if partial => {
                    let ts = now_ns();
                    splitter.flush_partial(
                        &mut |l| self.rules.push_line(&mut chunk, &l, ts, &counters),
                        &mut |d| count_drop(d, &counters),
                    );
                    if send(&tx, &mut chunk, &stop).await.is_err() {
                        break send_failed(&stop);
                    }
                    continue;
                }
            };
            let n = match read {
                Ok(0) => break PumpEnd::Eof,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    Counters::add(&counters.read_errors_total, 1);
                    tracing::warn!(stream = self.rules.stream.as_str(), error = %e, "Cannot read captured stream; stopping it");
                    break PumpEnd::Eof;
                }
            };
            let bytes = &buf[..n];
            Counters::add(&counters.bytes_read_total, n as u64);
            self.pass_through(bytes, &counters);
            let ts = now_ns();
            splitter.push(
                bytes,
                &mut |l| self.rules.push_line(&mut chunk, &l, ts, &counters),
                &mut |d| count_drop(d, &counters),
            );
            if send(&tx, &mut chunk, &stop).await.is_err() {
                break send_failed(&stop);
            }
        };
        // A last line without a newline is still a line.
        let ts = now_ns();
        splitter.flush_partial(
            &mut |l| self.rules.push_line(&mut chunk, &l, ts, &counters),
            &mut |d| count_drop(d, &counters),
        );
        if let Some(p) = self.passthrough.as_mut() {
            let _ = p.flush();
        }
        match send(&tx, &mut chunk, &stop).await {
            Ok(()) => end,
            Err(()) => send_failed(&stop),
        }
    }

    fn pass_through(&mut self, bytes: &[u8], counters: &Counters) {
        let Some(p) = self.passthrough.as_mut() else {
            return;
        };
        // A blocking write: if whoever reads firn's own output stalls, capture stalls too,
        // exactly as the app would have without firn in between.
        if let Err(e) = p.write_all(bytes).and_then(|()| p.flush()) {
            Counters::add(&counters.passthrough_write_errors_total, 1);
            tracing::warn!(stream = self.rules.stream.as_str(), error = %e, "Cannot copy captured output to firn's own stream; no longer copying it (capture goes on)");
            self.passthrough = None;
        }
    }
}

/// Why a send failed: the deadline passed while the sink was full, or the sink is gone.
fn send_failed(stop: &StopAt) -> PumpEnd {
    if stop.borrow().is_some_and(|d| d <= Instant::now()) {
        PumpEnd::Abandoned
    } else {
        PumpEnd::SinkClosed
    }
}

fn count_drop(d: Dropped, counters: &Counters) {
    match d {
        Dropped::LongLine(bytes) => {
            Counters::add(&counters.long_lines_dropped_total, 1);
            Counters::add(&counters.long_lines_dropped_bytes, bytes);
        }
    }
}

/// Sends what `chunk` holds; gives up when the stop deadline has passed.
///
/// # Errors
/// When the sink is gone or the deadline passed.
async fn send(tx: &Sender, chunk: &mut ChunkBuilder, stop: &StopAt) -> Result<(), ()> {
    if chunk.is_empty() {
        return Ok(());
    }
    let msg = Msg::Logs(chunk.take(now_ns(), None));
    send_msg(tx, msg, || {
        stop.borrow().is_some_and(|d| d <= Instant::now())
    })
    .await
}

/// Sends `msg` to the sink. Its channel is a std `SyncSender`; blocking on it would stall a
/// runtime thread, so a full channel is retried with short sleeps. That wait is the
/// backpressure: while it lasts the pipe is not read and the app's writes block. When
/// `give_up` turns true while waiting, the message is dropped.
///
/// # Errors
/// When the sink is gone or `give_up` said so.
pub(crate) async fn send_msg(
    tx: &Sender,
    mut msg: Msg,
    give_up: impl Fn() -> bool,
) -> Result<(), ()> {
    let mut wait = Duration::from_millis(1);
    loop {
        match tx.try_send(msg) {
            Ok(()) => return Ok(()),
            Err(std::sync::mpsc::TrySendError::Disconnected(_)) => return Err(()),
            Err(std::sync::mpsc::TrySendError::Full(m)) => {
                if give_up() {
                    return Err(());
                }
                msg = m;
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_millis(20));
            }
        }
    }
}
