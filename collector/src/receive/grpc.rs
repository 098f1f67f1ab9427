//! OTLP/gRPC: the Logs, Metrics and Trace services, over the same [`Ingest`] as HTTP.

use std::sync::Arc;

use firn_schemas::otlp::Mapped;
use firn_schemas::otlp::proto::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use firn_schemas::otlp::proto::collector::logs::v1::{
    ExportLogsPartialSuccess, ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use firn_schemas::otlp::proto::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use firn_schemas::otlp::proto::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use firn_schemas::otlp::proto::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use firn_schemas::otlp::proto::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

use super::auth::Token;
use super::decode::{Export, Signal};
use super::dedup::{AGENT_ID_HEADER, BATCH_SEQ_HEADER, Stamp};
use super::ingest::{Ingest, IngestError};
use super::limits::LimitError;

/// The three services' shared state.
#[derive(Debug, Clone)]
pub struct Grpc {
    ingest: Ingest,
    token: Option<Arc<Token>>,
}

impl Grpc {
    /// Services over `ingest`.
    pub fn new(ingest: Ingest, token: Option<Arc<Token>>) -> Self {
        Self { ingest, token }
    }

    async fn export<T>(
        &self,
        signal: Signal,
        req: Request<T>,
        wrap: fn(T) -> Export,
    ) -> Result<Mapped, Status> {
        let counters = self.ingest.counters.clone();
        let result = self.handle(req, wrap).await;
        let code = match &result {
            Ok(m) => {
                counters.add(
                    "firn_collector_records_received_total",
                    &format!("signal=\"{}\"", signal.as_str()),
                    m.rows as u64,
                );
                "OK".to_string()
            }
            Err(s) => format!("{:?}", s.code()),
        };
        counters.add(
            "firn_collector_requests_total",
            &format!("signal=\"{}\",code=\"grpc_{code}\"", signal.as_str()),
            1,
        );
        result
    }

    async fn handle<T>(&self, req: Request<T>, wrap: fn(T) -> Export) -> Result<Mapped, Status> {
        let _permit = self
            .ingest
            .permit()
            .map_err(|e| Status::unavailable(e.to_string()))?;
        if let Some(token) = &self.token {
            let given = req
                .metadata()
                .get("authorization")
                .and_then(|v| v.to_str().ok());
            token.check(given).map_err(Status::unauthenticated)?;
        }
        let text = |k: &str| {
            req.metadata()
                .get(k)
                .map(|v| v.to_str().unwrap_or("\u{fffd}"))
        };
        let stamp = Stamp::parse(text(AGENT_ID_HEADER), text(BATCH_SEQ_HEADER))
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        self.ingest
            .export(wrap(req.into_inner()), stamp)
            .await
            .map_err(|e| match e {
                IngestError::Limit(LimitError::TooManyRows { .. })
                | IngestError::Limit(LimitError::Attributes { .. }) => {
                    Status::invalid_argument(e.to_string())
                }
                IngestError::Busy | IngestError::Unavailable(_) => {
                    Status::unavailable(e.to_string())
                }
            })
    }
}

#[tonic::async_trait]
impl LogsService for Grpc {
    async fn export(
        &self,
        request: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        let m = Grpc::export(self, Signal::Logs, request, Export::Logs).await?;
        Ok(Response::new(ExportLogsServiceResponse {
            partial_success: (m.rejected > 0).then(|| ExportLogsPartialSuccess {
                rejected_log_records: m.rejected,
                error_message: m.error.unwrap_or_default(),
            }),
        }))
    }
}

#[tonic::async_trait]
impl MetricsService for Grpc {
    async fn export(
        &self,
        request: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        let m = Grpc::export(self, Signal::Metrics, request, Export::Metrics).await?;
        Ok(Response::new(ExportMetricsServiceResponse {
            partial_success: (m.rejected > 0).then(|| ExportMetricsPartialSuccess {
                rejected_data_points: m.rejected,
                error_message: m.error.unwrap_or_default(),
            }),
        }))
    }
}

#[tonic::async_trait]
impl TraceService for Grpc {
    async fn export(
        &self,
        request: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        let m = Grpc::export(self, Signal::Traces, request, Export::Traces).await?;
        Ok(Response::new(ExportTraceServiceResponse {
            partial_success: (m.rejected > 0).then(|| ExportTracePartialSuccess {
                rejected_spans: m.rejected,
                error_message: m.error.unwrap_or_default(),
            }),
        }))
    }
}

/// Serves the three services on `listener` until `shutdown` completes.
///
/// # Errors
/// When the server fails.
pub async fn serve(
    grpc: Grpc,
    listener: tokio::net::TcpListener,
    max_message_bytes: usize,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), tonic::transport::Error> {
    let logs = LogsServiceServer::new(grpc.clone())
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(max_message_bytes);
    let metrics = MetricsServiceServer::new(grpc.clone())
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(max_message_bytes);
    let traces = TraceServiceServer::new(grpc)
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(max_message_bytes);
    let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
    tonic::transport::Server::builder()
        .add_service(logs)
        .add_service(metrics)
        .add_service(traces)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}
