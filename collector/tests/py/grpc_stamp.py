"""Sends stamped OTLP/gRPC log requests (firn-agent-id and firn-batch-seq as metadata) to
firn-collector with grpcio and the generated OTLP stubs. Usage: grpc_stamp.py HOST:PORT TOKEN.
Prints one JSON object: the gRPC status code name of each call, by label."""
import json
import sys

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.logs.v1 import logs_pb2

addr, token = sys.argv[1], sys.argv[2]
stub = logs_service_pb2_grpc.LogsServiceStub(grpc.insecure_channel(addr))


def request(text):
    rec = logs_pb2.LogRecord(time_unix_nano=1_700_000_000_000_000_000,
                             body=common_pb2.AnyValue(string_value=text))
    return logs_service_pb2.ExportLogsServiceRequest(resource_logs=[logs_pb2.ResourceLogs(
        scope_logs=[logs_pb2.ScopeLogs(log_records=[rec])])])


def call(text, stamp):
    md = [("authorization", f"Bearer {token}")] + stamp
    try:
        stub.Export(request(text), metadata=md, timeout=30)
        return "OK"
    except grpc.RpcError as e:
        return e.code().name


out = {
    "first": call("grpc stamped 5", [("firn-agent-id", "g1"), ("firn-batch-seq", "5")]),
    "resent": call("grpc stamped 5", [("firn-agent-id", "g1"), ("firn-batch-seq", "5")]),
    "next": call("grpc stamped 6", [("firn-agent-id", "g1"), ("firn-batch-seq", "6")]),
    "half": call("grpc half stamp", [("firn-agent-id", "g1")]),
}
print(json.dumps(out))
