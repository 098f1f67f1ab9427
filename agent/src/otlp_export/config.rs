//! `--otlp-*` flags and the `OTEL_EXPORTER_OTLP_*` variables, resolved into [`OtlpConfig`].
//!
//! Precedence, per setting (the OpenTelemetry exporter specification, with flags on top):
//!
//! | setting | 1st | 2nd | 3rd | default |
//! |---|---|---|---|---|
//! | logs URL | `--otlp-endpoint` + `/v1/logs` | `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT` as is | `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/logs` | `http://localhost:4318/v1/logs` |
//! | metrics URL | `--otlp-endpoint` + `/v1/metrics` | `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` as is | `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/metrics` | `http://localhost:4318/v1/metrics` |
//! | headers (per key) | `--otlp-header` | `..._LOGS_HEADERS` / `..._METRICS_HEADERS` | `OTEL_EXPORTER_OTLP_HEADERS` | none |
//! | timeout | `--otlp-timeout` | `..._LOGS_TIMEOUT` / `..._METRICS_TIMEOUT` (ms) | `OTEL_EXPORTER_OTLP_TIMEOUT` (ms) | 10 s |
//! | compression | `--otlp-compression` | `..._LOGS_COMPRESSION` / `..._METRICS_COMPRESSION` | `OTEL_EXPORTER_OTLP_COMPRESSION` | gzip |
//! | protocol | | `..._LOGS_PROTOCOL` / `..._METRICS_PROTOCOL` | `OTEL_EXPORTER_OTLP_PROTOCOL` | `http/protobuf` |
//! | certificate | | `..._LOGS_CERTIFICATE` / `..._METRICS_CERTIFICATE` | `OTEL_EXPORTER_OTLP_CERTIFICATE` | none |
//!
//! Export is on only when asked for (`--otlp-endpoint URL` or `--otlp`): SPCS sets
//! `OTEL_EXPORTER_OTLP_ENDPOINT` in every container, and the variables alone must not start
//! sending logs somewhere new.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::cli::parse_duration_arg;

/// The OTLP export flags, flattened into the agent's arguments.
#[derive(Debug, Default, Args)]
#[command(next_help_heading = "OTLP export")]
pub struct OtlpArgs {
    /// Also send logs and metrics as OTLP/HTTP protobuf to this base URL (`/v1/logs` and
    /// `/v1/metrics` are appended), e.g. http://collector:4318. Wins over the
    /// OTEL_EXPORTER_OTLP_*ENDPOINT variables. A source's position moves only once the
    /// collector has acknowledged its rows.
    #[arg(long, value_name = "URL")]
    pub otlp_endpoint: Option<String>,

    /// Send OTLP to the endpoint the OTEL_EXPORTER_OTLP_* variables name (default
    /// http://localhost:4318). Implied by --otlp-endpoint.
    #[arg(long)]
    pub otlp: bool,

    /// A header on every OTLP request. Repeatable; wins over OTEL_EXPORTER_OTLP_HEADERS.
    #[arg(long = "otlp-header", value_name = "KEY=VALUE", value_parser = crate::resource::parse_pair)]
    pub otlp_headers: Vec<(String, String)>,

    /// Send `Authorization: Bearer <the file's content>`; the file is read again whenever it
    /// changes (SPCS refreshes /snowflake/session/token).
    #[arg(long, value_name = "FILE")]
    pub otlp_token_file: Option<PathBuf>,

    /// Most records in one OTLP request.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub otlp_batch: usize,

    /// How long one request may take. Default: OTEL_EXPORTER_OTLP_TIMEOUT, else 10s.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
    pub otlp_timeout: Option<Duration>,

    /// gzip or none. Default: OTEL_EXPORTER_OTLP_COMPRESSION, else gzip.
    #[arg(long, value_name = "CODEC")]
    pub otlp_compression: Option<String>,

    /// Longest wait between two tries of a request the collector could not take (429, 502,
    /// 503, 504, no connection); waits double from 250ms up to this, with jitter. A
    /// Retry-After answer is honoured up to 5 minutes.
    #[arg(long, value_name = "DURATION", default_value = "8s", value_parser = parse_duration_arg)]
    pub otlp_max_backoff: Duration,
}

/// One signal's resolved settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalConfig {
    /// Where requests go.
    pub url: String,
    /// Headers sent with each request (the token is added per request).
    pub headers: Vec<(String, String)>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// gzip the body.
    pub gzip: bool,
    /// Where each setting came from, for the start-up log.
    pub origin: String,
}

/// The validated OTLP export settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpConfig {
    /// LOG rows.
    pub logs: SignalConfig,
    /// METRIC rows.
    pub metrics: SignalConfig,
    /// Bearer token file.
    pub token_file: Option<PathBuf>,
    /// Records per request.
    pub batch: usize,
    /// First wait before a retry.
    pub min_backoff: Duration,
    /// Longest wait between tries.
    pub max_backoff: Duration,
}

/// A setting that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OtlpConfigError {
    /// An unusable value.
    #[error("{name}={value:?}: {why}")]
    Invalid {
        /// The flag or variable.
        name: String,
        /// Its value.
        value: String,
        /// What is wrong and what to do.
        why: String,
    },
}

fn invalid(name: &str, value: &str, why: &str) -> OtlpConfigError {
    OtlpConfigError::Invalid {
        name: name.to_string(),
        value: value.to_string(),
        why: why.to_string(),
    }
}

/// The first variable of `names` that is set and not blank, with its name.
fn first_env(env: &dyn Fn(&str) -> Option<String>, names: &[String]) -> Option<(String, String)> {
    names.iter().find_map(|n| {
        env(n)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .map(|v| (n.clone(), v))
    })
}

/// `base` with `/v1/<signal>` appended, minding a trailing slash (the specification's rule
/// for OTEL_EXPORTER_OTLP_ENDPOINT).
fn with_path(base: &str, signal: &str) -> String {
    format!("{}/v1/{signal}", base.trim_end_matches('/'))
}

/// `k1=v1,k2=v2` with percent-encoded values (the W3C baggage form the specification uses).
///
/// # Errors
/// When an entry has no `=` or an empty key.
pub fn parse_headers(name: &str, s: &str) -> Result<Vec<(String, String)>, OtlpConfigError> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((k, v)) = part.split_once('=') else {
            return Err(invalid(
                name,
                s,
                "each entry must be KEY=VALUE, comma-separated",
            ));
        };
        let k = k.trim();
        if k.is_empty() {
            return Err(invalid(name, s, "a header name is empty"));
        }
        out.push((k.to_string(), percent_decode(v.trim())));
    }
    Ok(out)
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl OtlpConfig {
    /// Resolves the flags and the environment. `None` when export is off.
    ///
    /// # Errors
    /// Names the flag or variable that is wrong, and why.
    pub fn resolve(
        args: &OtlpArgs,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, OtlpConfigError> {
        if args.otlp_endpoint.is_none() && !args.otlp {
            return Ok(None);
        }
        if args.otlp_batch == 0 {
            return Err(invalid(
                "--otlp-batch",
                "0",
                "send at least 1 record per request",
            ));
        }
        Ok(Some(Self {
            logs: signal(args, env, "logs")?,
            metrics: signal(args, env, "metrics")?,
            token_file: args.otlp_token_file.clone(),
            batch: args.otlp_batch,
            min_backoff: Duration::from_millis(250).min(args.otlp_max_backoff),
            max_backoff: args.otlp_max_backoff,
        }))
    }
}

/// One signal's settings, by the precedence in the module's table.
fn signal(
    args: &OtlpArgs,
    env: &dyn Fn(&str) -> Option<String>,
    signal: &str,
) -> Result<SignalConfig, OtlpConfigError> {
    let upper = signal.to_ascii_uppercase();
    let names = |what: &str| {
        vec![
            format!("OTEL_EXPORTER_OTLP_{upper}_{what}"),
            format!("OTEL_EXPORTER_OTLP_{what}"),
        ]
    };
    let mut origin = Vec::new();
    // Endpoint: the flag, the signal's own variable as is, the general one plus a path.
    let url = if let Some(u) = &args.otlp_endpoint {
        origin.push("url from --otlp-endpoint".to_string());
        with_path(u, signal)
    } else if let Some((n, u)) = first_env(env, &names("ENDPOINT")[..1]) {
        origin.push(format!("url from {n}"));
        u
    } else if let Some((n, u)) = first_env(env, &names("ENDPOINT")[1..]) {
        origin.push(format!("url from {n}"));
        with_path(&u, signal)
    } else {
        origin.push("url default".to_string());
        with_path("http://localhost:4318", signal)
    };
    if url.starts_with("https://") {
        return Err(invalid(
            "endpoint",
            &url,
            "this build speaks plain http only (no TLS library is compiled in); use an http:// URL, e.g. a collector on the same host or pod",
        ));
    }
    if !url.starts_with("http://") || url.len() <= "http://".len() {
        return Err(invalid(
            "endpoint",
            &url,
            "an OTLP/HTTP endpoint is an http:// URL, e.g. http://collector:4318",
        ));
    }
    if reqwest::Url::parse(&url).is_err() {
        return Err(invalid("endpoint", &url, "not a valid URL"));
    }
    // Protocol: only http/protobuf is spoken.
    if let Some((n, p)) = first_env(env, &names("PROTOCOL"))
        && p != "http/protobuf"
    {
        if args.otlp_endpoint.is_none() {
            return Err(invalid(
                &n,
                &p,
                "firn sends OTLP as http/protobuf only; set it to http/protobuf, or give --otlp-endpoint with an OTLP/HTTP URL",
            ));
        }
        tracing::warn!(variable = %n, value = %p, "Ignoring the OTLP protocol variable: --otlp-endpoint is sent http/protobuf");
    }
    if let Some((n, c)) = first_env(env, &names("CERTIFICATE")) {
        tracing::info!(variable = %n, value = %c, "Ignoring the OTLP certificate: the endpoint is plain http");
    }
    // Headers: the general variable, then the signal's, then the flags; a later one wins per key.
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut set = |pairs: Vec<(String, String)>| {
        for (k, v) in pairs {
            headers.retain(|(h, _)| !h.eq_ignore_ascii_case(&k));
            headers.push((k, v));
        }
    };
    for n in names("HEADERS").iter().rev() {
        if let Some(v) = env(n) {
            set(parse_headers(n, &v)?);
        }
    }
    set(args.otlp_headers.clone());
    for (k, v) in &headers {
        if reqwest::header::HeaderName::from_bytes(k.as_bytes()).is_err()
            || reqwest::header::HeaderValue::from_str(v).is_err()
        {
            return Err(invalid(
                "header",
                k,
                "not a valid HTTP header name or value",
            ));
        }
    }
    let timeout = match (args.otlp_timeout, first_env(env, &names("TIMEOUT"))) {
        (Some(t), _) => t,
        (None, Some((n, ms))) => Duration::from_millis(
            ms.parse::<u64>()
                .map_err(|_| invalid(&n, &ms, "the timeout is a whole number of milliseconds"))?,
        ),
        (None, None) => Duration::from_secs(10),
    };
    if timeout.is_zero() {
        return Err(invalid("timeout", "0", "a request needs some time"));
    }
    let (cname, codec) = match (
        &args.otlp_compression,
        first_env(env, &names("COMPRESSION")),
    ) {
        (Some(c), _) => ("--otlp-compression".to_string(), c.clone()),
        (None, Some((n, c))) => (n, c),
        (None, None) => (String::new(), "gzip".to_string()),
    };
    let gzip = match codec.as_str() {
        "gzip" => true,
        "none" => false,
        _ => return Err(invalid(&cname, &codec, "use gzip or none")),
    };
    Ok(SignalConfig {
        url,
        headers,
        timeout,
        gzip,
        origin: origin.join(", "),
    })
}
