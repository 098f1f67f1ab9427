"""A small OTLP/HTTP receiver for the agent's OTLP e2e tests (issue 13).

Decodes every request with the `opentelemetry-proto` package (not firn's code) and appends
one JSON line per request to --record: time, path, answer, firn headers and, for accepted
log requests, each record's body, severity and attributes with its resource's attributes.

--schedule says how to answer, phase by phase from the first request:
  "503:10,drop:10,200" = 503 for 10 s, then close connections without an answer for 10 s,
  then 200. A phase without a duration lasts forever.
--record - answers 200 to everything without decoding (for bench/otlp.sh).
--refuse-request N answers 400 (with a google.rpc.Status message) to the Nth logs request.
--retry-after-date S: 429/503 answers carry Retry-After as an HTTP date S seconds ahead
  (else `Retry-After: 1`).
Prints the port it listens on (loopback only) as its first line.
"""

import argparse
import email.utils
import gzip
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2


def any_value(v):
    kind = v.WhichOneof("value")
    if kind is None:
        return None
    if kind == "kvlist_value":
        return {kv.key: any_value(kv.value) for kv in v.kvlist_value.values}
    if kind == "array_value":
        return [any_value(x) for x in v.array_value.values]
    return getattr(v, kind)


def attrs(kvs):
    return {kv.key: any_value(kv.value) for kv in kvs}


class State:
    def __init__(self, schedule, refuse, record, retry_after_date=None):
        self.retry_after_date = retry_after_date
        self.phases = []
        for p in schedule.split(","):
            what, _, secs = p.partition(":")
            self.phases.append((what, float(secs) if secs else None))
        self.refuse = refuse
        self.first = None
        self.logs_requests = 0
        self.lock = threading.Lock()
        self.out = None if record == "-" else open(record, "a", buffering=1)

    def answer(self):
        now = time.time()
        if self.first is None:
            self.first = now
        t = now - self.first
        for what, secs in self.phases:
            if secs is None or t < secs:
                return what
            t -= secs
        return self.phases[-1][0]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        st = self.server.state
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if st.out is None:
            # Benchmark mode (--record -): take everything, decode nothing.
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        with st.lock:
            answer = st.answer()
            is_logs = self.path.endswith("/v1/logs")
            if is_logs and answer == "200":
                st.logs_requests += 1
                if st.logs_requests == st.refuse:
                    answer = "400"
            entry = {
                "t": time.time(),
                "path": self.path,
                "answer": answer,
                "agent": self.headers.get("firn-agent-id"),
                "seq": self.headers.get("firn-batch-seq"),
                "auth": self.headers.get("Authorization"),
                "encoding": self.headers.get("Content-Encoding"),
            }
            if answer == "200":
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                if is_logs:
                    req = logs_service_pb2.ExportLogsServiceRequest.FromString(body)
                    recs = []
                    for rl in req.resource_logs:
                        res = attrs(rl.resource.attributes)
                        for sl in rl.scope_logs:
                            for r in sl.log_records:
                                recs.append({
                                    "body": any_value(r.body),
                                    "severity_text": r.severity_text,
                                    "severity_number": r.severity_number,
                                    "attributes": attrs(r.attributes),
                                    "resource": res,
                                })
                    entry["logs"] = recs
                else:
                    req = metrics_service_pb2.ExportMetricsServiceRequest.FromString(body)
                    entry["metrics"] = [
                        m.name
                        for rm in req.resource_metrics
                        for sm in rm.scope_metrics
                        for m in sm.metrics
                    ]
            st.out.write(json.dumps(entry) + "\n")
        if answer == "drop":
            self.close_connection = True
            self.connection.close()
            return
        if answer == "400":
            # google.rpc.Status{code: 3, message: ...}, the OTLP error body.
            msg = b"record 7 has a bad attribute"
            payload = b"\x08\x03\x12" + bytes([len(msg)]) + msg
            self.send_response(400)
        elif answer == "200":
            payload = b""
            self.send_response(200)
        else:
            payload = b"not now"
            self.send_response(int(answer))
            if st.retry_after_date is None:
                self.send_header("Retry-After", "1")
            else:
                when = time.time() + st.retry_after_date
                self.send_header("Retry-After", email.utils.formatdate(when, usegmt=True))
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--schedule", default="200")
    ap.add_argument("--refuse-request", type=int, default=0)
    ap.add_argument("--record", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--retry-after-date", type=float, default=None)
    a = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    srv.daemon_threads = True
    srv.state = State(a.schedule, a.refuse_request, a.record, a.retry_after_date)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
