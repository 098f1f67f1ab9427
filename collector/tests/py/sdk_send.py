"""Sends logs, metrics and spans to firn-collector with the OpenTelemetry Python SDK's own
OTLP exporters. Usage: sdk_send.py http|grpc HOST:PORT TOKEN. Prints the ids it used (JSON)."""
import json
import logging
import sys

from opentelemetry import trace
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

proto, addr, token = sys.argv[1], sys.argv[2], sys.argv[3]
resource = Resource.create({"service.name": "sdk-test", "snow.service.name": "echo"})

if proto == "http":
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    def kw(path):
        return dict(
            endpoint=f"http://{addr}/v1/{path}",
            headers={"authorization": f"Bearer {token}"},
            compression=Compression.Gzip,
        )

    logs, metrics, spans = kw("logs"), kw("metrics"), kw("traces")
else:
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    logs = metrics = spans = dict(
        endpoint=f"http://{addr}", insecure=True, headers=(("authorization", f"Bearer {token}"),)
    )

tracer_provider = TracerProvider(resource=resource)
tracer_provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(**spans)))
tracer = tracer_provider.get_tracer("shop", "1.2.3")

logger_provider = LoggerProvider(resource=resource)
logger_provider.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(**logs)))
log = logging.getLogger("app")
log.addHandler(LoggingHandler(level=logging.INFO, logger_provider=logger_provider))
log.setLevel(logging.INFO)

reader = PeriodicExportingMetricReader(OTLPMetricExporter(**metrics), export_interval_millis=3_600_000)
meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
meter = meter_provider.get_meter("shop.metrics")

ids = {}
with tracer.start_as_current_span("checkout", kind=SpanKind.SERVER) as checkout:
    checkout.set_attribute("http.method", "GET")
    checkout.add_event("retry", {"attempt": 2})
    ids["trace_id"] = format(checkout.get_span_context().trace_id, "032x")
    ids["checkout"] = format(checkout.get_span_context().span_id, "016x")
    log.warning("disk %s full", "sda", extra={"user.id": 42})
    with tracer.start_as_current_span("db", kind=SpanKind.CLIENT) as db:
        ids["db"] = format(db.get_span_context().span_id, "016x")
        db.set_status(Status(StatusCode.ERROR, "boom"))

counter = meter.create_counter("requests", unit="1", description="Requests served")
counter.add(3, {"route": "/a"})
counter.add(2, {"route": "/a"})
meter.create_gauge("temperature", unit="Cel").set(21.5, {"room": "lab"})
hist = meter.create_histogram("latency", unit="ms")
hist.record(5, {"route": "/a"})
hist.record(15, {"route": "/a"})

# Shutdown collects and exports the metrics once (a force_flush first would export them twice).
meter_provider.shutdown()
logger_provider.shutdown()
tracer_provider.shutdown()
print(json.dumps(ids))
