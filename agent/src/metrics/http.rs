//! `--http-listen ADDR`: `GET /healthcheck` and `GET /metrics` on an HTTP/1 server (hyper)
//! running on the agent's tokio runtime.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::shutdown::{Shutdown, Stage};
use crate::telemetry::Counters;

use super::Latest;
use super::health::Health;

/// What the endpoints read.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// Progress of reading and writing.
    pub health: Health,
    /// The agent's counters.
    pub counters: Arc<Counters>,
    /// The latest platform metric sample.
    pub latest: Latest,
    /// Resource attributes, as labels.
    pub resource: Arc<Vec<(String, String)>>,
}

fn reply(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

fn route(e: &Endpoints, req: &Request<Incoming>) -> Response<Full<Bytes>> {
    const TEXT: &str = "text/plain; charset=utf-8";
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return reply(StatusCode::METHOD_NOT_ALLOWED, TEXT, "use GET\n".into());
    }
    match req.uri().path() {
        "/healthcheck" => match e.health.check() {
            Ok(s) => reply(StatusCode::OK, TEXT, format!("{s}\n")),
            Err(why) => reply(StatusCode::SERVICE_UNAVAILABLE, TEXT, format!("{why}\n")),
        },
        "/metrics" => {
            let latest = e.latest.lock().map(|l| l.clone()).unwrap_or_default();
            let body = super::prom::render(&e.counters, &latest, &e.resource);
            reply(
                StatusCode::OK,
                "text/plain; version=0.0.4; charset=utf-8",
                body,
            )
        }
        _ => reply(
            StatusCode::NOT_FOUND,
            TEXT,
            "not found: GET /healthcheck or /metrics\n".into(),
        ),
    }
}

/// Binds `addr` and serves until the agent stops.
///
/// # Errors
/// When the address cannot be bound.
pub async fn serve(
    addr: SocketAddr,
    endpoints: Endpoints,
    shutdown: Shutdown,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tracing::info!(addr = %bound, "Serving GET /healthcheck and /metrics");
    let endpoints = Arc::new(endpoints);
    Ok(tokio::spawn(async move {
        loop {
            let (stream, _) = tokio::select! {
                r = listener.accept() => match r {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "Cannot accept an HTTP connection");
                        continue;
                    }
                },
                () = shutdown.reached(Stage::Immediate) => break,
            };
            let e = endpoints.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let r = route(&e, &req);
                    async move { Ok::<_, Infallible>(r) }
                });
                if let Err(err) = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    tracing::debug!(error = %err, "HTTP connection ended with an error");
                }
            });
        }
    }))
}
