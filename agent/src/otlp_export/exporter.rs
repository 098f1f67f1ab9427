//! The OTLP/HTTP exporter: a finished batch of rows -> requests of up to `--otlp-batch`
//! records -> POST, retried until the collector takes them or refuses them for good.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use firn_schemas::otlp::proto::collector::logs::v1::ExportLogsServiceResponse;
use firn_schemas::otlp::proto::collector::metrics::v1::ExportMetricsServiceResponse;
use firn_schemas::otlp::{OtlpRequests, batch_to_otlp};
use prost::Message;
use reqwest::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};

use super::config::{OtlpConfig, SignalConfig};
use super::retry::{Outcome, backoff, classify};
use super::token::TokenFile;
use crate::pipeline::{Forward, Undelivered};
use crate::telemetry::Counters;

/// Header naming the agent on every request (firn-collector drops resent batches by it).
pub const AGENT_ID_HEADER: &str = "firn-agent-id";
/// Header with the request's sequence number: increasing per agent, also across restarts
/// (it starts at the start time in ms times 10^6); the same on every try of one request.
pub const BATCH_SEQ_HEADER: &str = "firn-batch-seq";

/// Largest answer body read (error messages are short).
const MAX_ANSWER_BYTES: u64 = 64 << 10;

/// Sends batches to an OTLP/HTTP collector.
#[derive(Debug)]
pub struct OtlpExporter {
    cfg: OtlpConfig,
    /// Made on the sink thread at first use: the blocking client runs a runtime of its own,
    /// which must not be made or dropped on the agent's async runtime.
    client: Option<reqwest::blocking::Client>,
    token: Option<TokenFile>,
    counters: Arc<Counters>,
    agent_id: String,
    seq: u64,
    rand: u64,
}

/// The exporter cannot start.
#[derive(Debug, thiserror::Error)]
#[error("cannot set up the OTLP HTTP client: {0}")]
pub struct ExporterError(#[from] reqwest::Error);

#[derive(Debug, Clone, Copy)]
enum Signal {
    Logs,
    Metrics,
}

impl OtlpExporter {
    /// An exporter for `cfg`, stamping requests with `agent_id`.
    pub fn new(cfg: OtlpConfig, agent_id: &str, counters: Arc<Counters>) -> Self {
        let now_ms =
            u64::try_from(firn_schemas::parquet_sink::naming::now_ns() / 1_000_000).unwrap_or(0);
        Self {
            token: cfg.token_file.clone().map(TokenFile::new),
            cfg,
            client: None,
            counters,
            agent_id: agent_id.to_string(),
            seq: now_ms.saturating_mul(1_000_000),
            rand: firn_schemas::parquet_sink::naming::random_u64() | 1,
        }
    }

    fn client(&mut self) -> Result<reqwest::blocking::Client, ExporterError> {
        if let Some(c) = &self.client {
            return Ok(c.clone());
        }
        let c = reqwest::blocking::Client::builder()
            .user_agent(concat!("firn-agent/", env!("CARGO_PKG_VERSION")))
            // Timeouts are per request, from the config.
            .timeout(None)
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        self.client = Some(c.clone());
        Ok(c)
    }

    fn next_rand(&mut self) -> u64 {
        // xorshift64: jitter needs no better randomness.
        self.rand ^= self.rand << 13;
        self.rand ^= self.rand >> 7;
        self.rand ^= self.rand << 17;
        self.rand
    }

    /// One chunk of rows: a logs request and a metrics request, each sent if not empty.
    fn send_rows(
        &mut self,
        rows: &RecordBatch,
        give_up: &dyn Fn() -> bool,
    ) -> Result<(), Undelivered> {
        let requests = match batch_to_otlp(rows) {
            Ok(r) => r,
            Err(e) => {
                Counters::add(
                    &self.counters.otlp_records_refused_total,
                    rows.num_rows() as u64,
                );
                tracing::error!(records = rows.num_rows(), error = %e, "Rows have no OTLP form; not sent");
                return Ok(());
            }
        };
        let (logs, metrics) = records(&requests);
        if logs > 0 {
            self.send(Signal::Logs, requests.logs.encode_to_vec(), logs, give_up)?;
        }
        if metrics > 0 {
            self.send(
                Signal::Metrics,
                requests.metrics.encode_to_vec(),
                metrics,
                give_up,
            )?;
        }
        Ok(())
    }

    /// Posts one request until it is taken or refused, or `give_up()`.
    fn send(
        &mut self,
        signal: Signal,
        body: Vec<u8>,
        records: u64,
        give_up: &dyn Fn() -> bool,
    ) -> Result<(), Undelivered> {
        let cfg = match signal {
            Signal::Logs => self.cfg.logs.clone(),
            Signal::Metrics => self.cfg.metrics.clone(),
        };
        let body = if cfg.gzip { gzip(&body) } else { body };
        self.seq += 1;
        let seq = self.seq;
        let mut attempt = 0u32;
        loop {
            if give_up() {
                return Err(Undelivered {
                    records: usize::try_from(records).unwrap_or(usize::MAX),
                    output: cfg.url.clone(),
                });
            }
            let started = Instant::now();
            let (outcome, answer) = self.post(&cfg, &body, seq);
            let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
            Counters::add(&self.counters.otlp_requests_total, 1);
            Counters::add(&self.counters.otlp_request_latency_ms_total, ms);
            match outcome {
                Outcome::Accepted => {
                    let (rejected, message) = partial_success(signal, &answer);
                    let rejected = rejected.min(records);
                    Counters::add(&self.counters.otlp_records_sent_total, records - rejected);
                    if rejected > 0 {
                        Counters::add(&self.counters.otlp_records_refused_total, rejected);
                        tracing::warn!(url = %cfg.url, rejected, message = %message, "OTLP collector took the request but rejected some records");
                    }
                    if attempt > 0 {
                        tracing::info!(url = %cfg.url, records, tries = attempt + 1, latency_ms = ms, "OTLP request delivered after retries");
                    } else {
                        tracing::debug!(url = %cfg.url, records, latency_ms = ms, seq, "OTLP request delivered");
                    }
                    return Ok(());
                }
                Outcome::Retry { after, why } => {
                    attempt += 1;
                    Counters::add(&self.counters.otlp_records_retried_total, records);
                    let r = self.next_rand();
                    let wait = backoff(attempt, self.cfg.min_backoff, self.cfg.max_backoff, r)
                        .max(after.unwrap_or_default());
                    tracing::warn!(url = %cfg.url, records, attempt, wait_ms = wait.as_millis() as u64, reason = %why, "OTLP request not taken; trying again");
                    // Giving up is checked at the top of the loop.
                    sleep_unless(wait, give_up);
                }
                Outcome::Refused { status, message } => {
                    Counters::add(&self.counters.otlp_records_refused_total, records);
                    tracing::error!(url = %cfg.url, status, records, message = %message, "OTLP collector refused a request; its records are dropped");
                    return Ok(());
                }
            }
        }
    }

    /// One POST: what it means, and the answer's body.
    fn post(&mut self, cfg: &SignalConfig, body: &[u8], seq: u64) -> (Outcome, Vec<u8>) {
        let client = match self.client() {
            Ok(c) => c,
            Err(e) => {
                let why = e.to_string();
                return (Outcome::Retry { after: None, why }, Vec::new());
            }
        };
        let mut rb = client
            .post(&cfg.url)
            .timeout(cfg.timeout)
            .header(CONTENT_TYPE, "application/x-protobuf")
            .header(AGENT_ID_HEADER, &self.agent_id)
            .header(BATCH_SEQ_HEADER, seq.to_string())
            .body(body.to_vec());
        if cfg.gzip {
            rb = rb.header(CONTENT_ENCODING, "gzip");
        }
        for (k, v) in &cfg.headers {
            rb = rb.header(k.as_str(), v.as_str());
        }
        if let Some(t) = &mut self.token {
            match t.get() {
                Ok(tok) => rb = rb.header(AUTHORIZATION, format!("Bearer {tok}")),
                Err(e) => {
                    let why = e.to_string();
                    return (Outcome::Retry { after: None, why }, Vec::new());
                }
            }
        }
        let resp = match rb.send() {
            Ok(r) => r,
            Err(e) => {
                let why = format!("no answer: {}", error_chain(&e));
                return (Outcome::Retry { after: None, why }, Vec::new());
            }
        };
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut answer = Vec::new();
        if let Err(e) = resp.take(MAX_ANSWER_BYTES).read_to_end(&mut answer)
            && !(200..300).contains(&status)
        {
            answer = format!("(answer unreadable: {e})").into_bytes();
        }
        (classify(status, retry_after.as_deref(), &answer), answer)
    }
}

impl Forward for OtlpExporter {
    fn forward(
        &mut self,
        batch: &RecordBatch,
        give_up: &dyn Fn() -> bool,
    ) -> Result<(), Undelivered> {
        let mut left = batch.num_rows() as u64;
        self.counters
            .otlp_records_queued
            .store(left, std::sync::atomic::Ordering::Relaxed);
        let mut offset = 0;
        while offset < batch.num_rows() {
            // A slice shares the batch's buffers: nothing is copied.
            let n = self.cfg.batch.min(batch.num_rows() - offset);
            if let Err(mut e) = self.send_rows(&batch.slice(offset, n), give_up) {
                e.records = usize::try_from(left).unwrap_or(usize::MAX);
                return Err(e);
            }
            offset += n;
            left -= n as u64;
            self.counters
                .otlp_records_queued
                .store(left, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    }
}

/// Log records and metric data points in `r`.
fn records(r: &OtlpRequests) -> (u64, u64) {
    use firn_schemas::otlp::proto::metrics::v1::metric::Data;
    let logs = r
        .logs
        .resource_logs
        .iter()
        .flat_map(|rl| &rl.scope_logs)
        .map(|sl| sl.log_records.len())
        .sum::<usize>();
    let points = r
        .metrics
        .resource_metrics
        .iter()
        .flat_map(|rm| &rm.scope_metrics)
        .flat_map(|sm| &sm.metrics)
        .map(|m| match &m.data {
            Some(Data::Gauge(g)) => g.data_points.len(),
            Some(Data::Sum(s)) => s.data_points.len(),
            Some(Data::Histogram(h)) => h.data_points.len(),
            Some(Data::ExponentialHistogram(h)) => h.data_points.len(),
            Some(Data::Summary(s)) => s.data_points.len(),
            None => 0,
        })
        .sum::<usize>();
    (logs as u64, points as u64)
}

/// Sleeps `d` in short steps; `true` if `give_up()` turned true meanwhile.
fn sleep_unless(d: Duration, give_up: &dyn Fn() -> bool) -> bool {
    let end = Instant::now() + d;
    loop {
        let now = Instant::now();
        if now >= end {
            return false;
        }
        if give_up() {
            return true;
        }
        std::thread::sleep((end - now).min(Duration::from_millis(50)));
    }
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::fast(),
    );
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(body);
    enc.finish().unwrap_or_default()
}

/// Records the collector rejected inside a 2xx answer (OTLP partial success), and why.
fn partial_success(signal: Signal, answer: &[u8]) -> (u64, String) {
    let (n, msg) = match signal {
        Signal::Logs => ExportLogsServiceResponse::decode(answer)
            .ok()
            .and_then(|r| r.partial_success)
            .map(|p| (p.rejected_log_records, p.error_message)),
        Signal::Metrics => ExportMetricsServiceResponse::decode(answer)
            .ok()
            .and_then(|r| r.partial_success)
            .map(|p| (p.rejected_data_points, p.error_message)),
    }
    .unwrap_or_default();
    (u64::try_from(n).unwrap_or(0), msg)
}

/// An error with its causes, `: `-joined (reqwest's own text hides "connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
