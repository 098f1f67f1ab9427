//! `firn-collector serve`: a web dashboard over a folder of firn Parquet files.
//! See README.md beside this file.
//!
//! The page (`dashboards/web/`, embedded in the binary) calls the JSON API in `api.rs`; each
//! endpoint is one query through the same [`Engine`](crate::query::Engine) as
//! `firn-collector query`, which lists the folder again per query, so files written since
//! the last refresh count at once.

pub mod api;

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use axum::Router;
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use datafusion::arrow::record_batch::RecordBatch;

use crate::cli::ServeArgs;
use crate::query::{Engine, EngineOptions, QueryError};
use crate::receive::Token;

const INDEX_HTML: &str = include_str!("../../../dashboards/web/index.html");
const APP_JS: &str = include_str!("../../../dashboards/web/app.js");
const STYLE_CSS: &str = include_str!("../../../dashboards/web/style.css");

/// Queries running at once; more wait their turn (each may use the engine's memory limit's
/// share and the CPUs).
const CONCURRENT_QUERIES: usize = 4;

struct AppState {
    engine: Engine,
    token: Option<Token>,
    refresh_secs: u64,
    gate: tokio::sync::Semaphore,
}

/// The cookie the page keeps the token in once it was given as `?token=`.
const COOKIE: &str = "firn_token";

fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

fn error_json(status: StatusCode, message: &str, e: Option<&QueryError>) -> Response {
    let mut v = serde_json::json!({ "error": message });
    if let Some(p) = e.and_then(QueryError::position) {
        v["line"] = p.line.into();
        v["column"] = p.column.into();
    }
    json_response(status, v.to_string().into_bytes())
}

fn batches_json(batches: &[RecordBatch]) -> Result<Vec<u8>, String> {
    let mut w = datafusion::arrow::json::WriterBuilder::new()
        .with_explicit_nulls(true)
        .build::<_, datafusion::arrow::json::writer::JsonArray>(Vec::new());
    for b in batches {
        w.write(b).map_err(|e| e.to_string())?;
    }
    w.finish().map_err(|e| e.to_string())?;
    Ok(w.into_inner())
}

async fn run_sql(st: &AppState, sql: &str) -> Result<Vec<RecordBatch>, Response> {
    let _permit = st
        .gate
        .acquire()
        .await
        .map_err(|_| error_json(StatusCode::SERVICE_UNAVAILABLE, "shutting down", None))?;
    st.engine.collect(sql).await.map_err(|e| {
        tracing::warn!(error = %e, "Dashboard query failed");
        error_json(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string(), Some(&e))
    })
}

async fn endpoint(
    st: &AppState,
    q: Option<String>,
    build: fn(&api::Params) -> Result<String, api::BadParam>,
) -> Response {
    let p = api::parse_query(q.as_deref());
    let sql = match build(&p) {
        Ok(s) => s,
        Err(api::BadParam(m)) => return error_json(StatusCode::BAD_REQUEST, &m, None),
    };
    match run_sql(st, &sql).await {
        Ok(b) => match batches_json(&b) {
            Ok(body) => json_response(StatusCode::OK, body),
            Err(m) => error_json(StatusCode::INTERNAL_SERVER_ERROR, &m, None),
        },
        Err(r) => r,
    }
}

async fn logs(State(st): State<Arc<AppState>>, RawQuery(q): RawQuery) -> Response {
    let p = api::parse_query(q.as_deref());
    let (sql, limit) = match api::logs_sql(&p) {
        Ok(x) => x,
        Err(api::BadParam(m)) => return error_json(StatusCode::BAD_REQUEST, &m, None),
    };
    let batches = match run_sql(&st, &sql).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let total: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let more = total > limit;
    // Drop the one extra row fetched to know whether a next page exists.
    let mut kept = Vec::new();
    let mut left = limit;
    for b in batches {
        let n = b.num_rows().min(left);
        if n > 0 {
            kept.push(b.slice(0, n));
        }
        left -= n;
    }
    match batches_json(&kept) {
        Ok(rows) => {
            let mut body = format!("{{\"more\":{more},\"limit\":{limit},\"rows\":").into_bytes();
            body.extend_from_slice(&rows);
            body.push(b'}');
            json_response(StatusCode::OK, body)
        }
        Err(m) => error_json(StatusCode::INTERNAL_SERVER_ERROR, &m, None),
    }
}

async fn config(State(st): State<Arc<AppState>>) -> Response {
    let layout = crate::query::Layout::of(st.engine.data());
    let v = serde_json::json!({
        "data": st.engine.data().display().to_string(),
        "refresh_seconds": st.refresh_secs,
        "files": layout.files,
        "bytes": layout.bytes,
        "version": env!("CARGO_PKG_VERSION"),
    });
    json_response(StatusCode::OK, v.to_string().into_bytes())
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
    cookies.split(';').find_map(|c| {
        let (k, v) = c.trim().split_once('=')?;
        (k == COOKIE).then(|| v.to_string())
    })
}

/// The receiver's token rule: a bearer token, or the same token as `?token=` (which then
/// goes into an HttpOnly cookie, so the page's own API calls carry it).
async fn auth(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let Some(token) = &st.token else {
        return next.run(req).await;
    };
    if req.uri().path() == "/healthcheck" {
        return next.run(req).await;
    }
    let headers = req.headers();
    let from_query = api::parse_query(req.uri().query()).remove("token");
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| cookie_token(headers).map(|t| format!("Bearer {t}")))
        .or_else(|| from_query.as_ref().map(|t| format!("Bearer {t}")));
    if let Err(why) = token.check(bearer.as_deref()) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            format!("{why} (or open the page as /?token=<token>)\n"),
        )
            .into_response();
    }
    let mut resp = next.run(req).await;
    if let Some(t) = from_query
        && let Ok(v) =
            HeaderValue::from_str(&format!("{COOKIE}={t}; HttpOnly; SameSite=Strict; Path=/"))
    {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
    resp
}

/// The routes.
fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/style.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE_CSS) }),
        )
        .route("/healthcheck", get(|| async { "ok\n" }))
        .route("/api/config", get(config))
        .route(
            "/api/summary",
            get(
                |State(s): State<Arc<AppState>>, RawQuery(q): RawQuery| async move {
                    endpoint(&s, q, api::summary_sql).await
                },
            ),
        )
        .route(
            "/api/volume",
            get(
                |State(s): State<Arc<AppState>>, RawQuery(q): RawQuery| async move {
                    endpoint(&s, q, api::volume_sql).await
                },
            ),
        )
        .route(
            "/api/errors",
            get(
                |State(s): State<Arc<AppState>>, RawQuery(q): RawQuery| async move {
                    endpoint(&s, q, api::errors_sql).await
                },
            ),
        )
        .route(
            "/api/latest",
            get(
                |State(s): State<Arc<AppState>>, RawQuery(q): RawQuery| async move {
                    endpoint(&s, q, api::latest_sql).await
                },
            ),
        )
        .route("/api/logs", get(logs))
        .layer(middleware::from_fn_with_state(state.clone(), auth))
        .with_state(state)
}

/// Serves the dashboard until SIGTERM or Ctrl-C.
///
/// # Errors
/// When it cannot start: no token for an address beyond loopback, the address in use, a
/// data folder that cannot be read.
pub fn run(args: &ServeArgs) -> anyhow::Result<()> {
    let token = if args.insecure_no_auth {
        tracing::warn!("Serving without a token (--insecure-no-auth)");
        None
    } else if args.listen.ip().is_loopback() && args.token_file.is_none() {
        // Only this machine can connect: as the receiver's tests and local use expect.
        match std::env::var("FIRN_TOKEN")
            .ok()
            .filter(|t| !t.trim().is_empty())
        {
            Some(t) => Some(Token::load(None, Some(t))?),
            None => None,
        }
    } else {
        Some(Token::load(
            args.token_file.as_deref(),
            std::env::var("FIRN_TOKEN").ok(),
        )?)
    };
    let opts = EngineOptions {
        memory_limit: usize::try_from(args.memory_limit).unwrap_or(usize::MAX),
        ..EngineOptions::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(opts.threads.max(2))
        .thread_stack_size(crate::query::QUERY_STACK_BYTES)
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    rt.block_on(async {
        let term = crate::signals::term_signal();
        let engine = Engine::open(&args.data, &opts).await?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let addr: SocketAddr = listener.local_addr()?;
        tracing::info!(
            http = %addr,
            data = %engine.data().display(),
            files = engine.layout().files,
            auth = token.is_some(),
            "Starting firn-collector serve"
        );
        let state = Arc::new(AppState {
            engine,
            token,
            refresh_secs: args.refresh.as_secs().max(1),
            gate: tokio::sync::Semaphore::new(CONCURRENT_QUERIES),
        });
        axum::serve(listener, router(state))
            .with_graceful_shutdown(crate::signals::shutdown_signal(term))
            .await
            .context("the dashboard server failed")?;
        tracing::info!("Stopped");
        anyhow::Ok(())
    })
}
