//! OTLP/HTTP: `POST /v1/logs`, `/v1/metrics`, `/v1/traces` (protobuf or JSON, gzip or not),
//! `GET /healthcheck` and `GET /metrics`.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use firn_schemas::otlp::Mapped;
use firn_schemas::otlp::proto::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceResponse,
};
use firn_schemas::otlp::proto::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceResponse,
};
use firn_schemas::otlp::proto::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};

use super::auth::Token;
use super::decode::{DecodeError, Encoding, Signal, decode, inflate};
use super::dedup::{AGENT_ID_HEADER, BATCH_SEQ_HEADER, Stamp};
use super::ingest::{Ingest, IngestError};
use super::limits::LimitError;

/// What the HTTP handlers share.
#[derive(Debug)]
pub struct HttpState {
    /// Where requests go.
    pub ingest: Ingest,
    /// The token clients must present, if any.
    pub token: Option<Arc<Token>>,
    /// Largest body as sent.
    pub max_body_bytes: u64,
    /// Largest body inflated.
    pub max_decompressed_bytes: u64,
}

/// `google.rpc.Status`, the body of OTLP's error answers.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// The routes.
pub fn router(state: Arc<HttpState>) -> Router {
    Router::new()
        .route("/v1/logs", post(|s, h, b| export(s, Signal::Logs, h, b)))
        .route(
            "/v1/metrics",
            post(|s, h, b| export(s, Signal::Metrics, h, b)),
        )
        .route(
            "/v1/traces",
            post(|s, h, b| export(s, Signal::Traces, h, b)),
        )
        .route("/healthcheck", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn metrics(State(s): State<Arc<HttpState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.ingest.counters.render(),
    )
        .into_response()
}

/// An error answer: status, a short reason for the counters, and the message.
struct Refusal {
    status: StatusCode,
    reason: &'static str,
    message: String,
}

impl Refusal {
    fn new(status: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            reason,
            message: message.into(),
        }
    }
}

impl From<DecodeError> for Refusal {
    fn from(e: DecodeError) -> Self {
        let (status, reason) = match &e {
            DecodeError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "decompressed_size"),
            DecodeError::Gzip(_) => (StatusCode::BAD_REQUEST, "gzip"),
            DecodeError::UnsupportedEncoding(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "content_encoding")
            }
            DecodeError::Protobuf { .. } => (StatusCode::BAD_REQUEST, "malformed_protobuf"),
            DecodeError::Json { .. } => (StatusCode::BAD_REQUEST, "malformed_json"),
        };
        Self::new(status, reason, e.to_string())
    }
}

impl From<IngestError> for Refusal {
    fn from(e: IngestError) -> Self {
        let (status, reason) = match &e {
            IngestError::Limit(LimitError::TooManyRows { .. }) => {
                (StatusCode::PAYLOAD_TOO_LARGE, "rows")
            }
            IngestError::Limit(LimitError::Attributes { .. }) => {
                (StatusCode::BAD_REQUEST, "attributes")
            }
            IngestError::Busy => (StatusCode::TOO_MANY_REQUESTS, "busy"),
            IngestError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        };
        Self::new(status, reason, e.to_string())
    }
}

fn encoding_of(headers: &HeaderMap) -> Option<Encoding> {
    let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let mime = ct.split(';').next().unwrap_or("").trim();
    if mime.eq_ignore_ascii_case("application/x-protobuf") {
        Some(Encoding::Protobuf)
    } else if mime.eq_ignore_ascii_case("application/json") {
        Some(Encoding::Json)
    } else {
        None
    }
}

fn body_response(
    encoding: Encoding,
    status: StatusCode,
    proto: Vec<u8>,
    json: Vec<u8>,
) -> Response {
    let (ct, body) = match encoding {
        Encoding::Protobuf => ("application/x-protobuf", proto),
        Encoding::Json => ("application/json", json),
    };
    (status, [(header::CONTENT_TYPE, ct)], body).into_response()
}

fn refusal_response(encoding: Encoding, r: &Refusal) -> Response {
    let status = RpcStatus {
        code: i32::from(r.status.as_u16()),
        message: r.message.clone(),
    };
    let json = serde_json::json!({"code": status.code, "message": status.message});
    let mut resp = body_response(
        encoding,
        r.status,
        prost::Message::encode_to_vec(&status),
        json.to_string().into_bytes(),
    );
    if matches!(
        r.status,
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
    ) {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    if r.status == StatusCode::UNAUTHORIZED {
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    resp
}

fn success_response(signal: Signal, encoding: Encoding, m: &Mapped) -> Response {
    let message = m.error.clone().unwrap_or_default();
    let rejected = m.rejected;
    macro_rules! answer {
        ($resp:ident, $partial:ident, $field:ident) => {{
            let r = $resp {
                partial_success: (rejected > 0).then(|| $partial {
                    $field: rejected,
                    error_message: message,
                }),
            };
            body_response(
                encoding,
                StatusCode::OK,
                prost::Message::encode_to_vec(&r),
                serde_json::to_vec(&r).unwrap_or_else(|_| b"{}".to_vec()),
            )
        }};
    }
    match signal {
        Signal::Logs => answer!(
            ExportLogsServiceResponse,
            ExportLogsPartialSuccess,
            rejected_log_records
        ),
        Signal::Metrics => answer!(
            ExportMetricsServiceResponse,
            ExportMetricsPartialSuccess,
            rejected_data_points
        ),
        Signal::Traces => answer!(
            ExportTraceServiceResponse,
            ExportTracePartialSuccess,
            rejected_spans
        ),
    }
}

async fn export(
    State(s): State<Arc<HttpState>>,
    signal: Signal,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let encoding = encoding_of(&headers);
    let result = handle(&s, signal, encoding, &headers, body).await;
    let counters = &s.ingest.counters;
    let (resp, code) = match result {
        Ok(m) => {
            counters.add(
                "firn_collector_records_received_total",
                &format!("signal=\"{}\"", signal.as_str()),
                m.rows as u64,
            );
            if m.rejected > 0 {
                counters.add(
                    "firn_collector_records_rejected_total",
                    &format!("signal=\"{}\"", signal.as_str()),
                    u64::try_from(m.rejected).unwrap_or(0),
                );
            }
            (
                success_response(signal, encoding.unwrap_or(Encoding::Protobuf), &m),
                200,
            )
        }
        Err(r) => {
            tracing::debug!(signal = signal.as_str(), status = r.status.as_u16(), reason = r.reason, message = %r.message, "Refused a request");
            counters.add(
                "firn_collector_refused_total",
                &format!("reason=\"{}\"", r.reason),
                1,
            );
            (
                refusal_response(encoding.unwrap_or(Encoding::Json), &r),
                r.status.as_u16(),
            )
        }
    };
    counters.add(
        "firn_collector_requests_total",
        &format!("signal=\"{}\",code=\"{code}\"", signal.as_str()),
        1,
    );
    resp
}

async fn handle(
    s: &HttpState,
    signal: Signal,
    encoding: Option<Encoding>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Mapped, Refusal> {
    // Bounds memory: at most this many bodies are held at once.
    let _permit = s.ingest.permit()?;
    if let Some(token) = &s.token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if let Err(why) = token.check(given) {
            return Err(Refusal::new(StatusCode::UNAUTHORIZED, "auth", why));
        }
    }
    let text = |k: &str| headers.get(k).map(|v| v.to_str().unwrap_or("\u{fffd}"));
    let stamp = Stamp::parse(text(AGENT_ID_HEADER), text(BATCH_SEQ_HEADER))
        .map_err(|e| Refusal::new(StatusCode::BAD_REQUEST, "stamp", e.to_string()))?;
    let Some(encoding) = encoding else {
        return Err(Refusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "content_type",
            "Content-Type must be application/x-protobuf or application/json",
        ));
    };
    let too_large = || {
        Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_size",
            format!(
                "the body is larger than the limit of {} bytes; send smaller batches",
                s.max_body_bytes
            ),
        )
    };
    let stated = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if stated.is_some_and(|n| n > s.max_body_bytes) {
        return Err(too_large());
    }
    let limit = usize::try_from(s.max_body_bytes).unwrap_or(usize::MAX);
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| too_large())?;
    s.ingest
        .counters
        .add("firn_collector_request_bytes_total", "", bytes.len() as u64);
    let ce = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok());
    let inflated = inflate(bytes, ce, s.max_decompressed_bytes)?;
    let req = decode(signal, encoding, &inflated)?;
    drop(inflated);
    Ok(s.ingest.export(req, stamp).await?)
}
