//! The OpenTelemetry Python SDK's own OTLP exporters (HTTP and gRPC) send logs, metrics and
//! spans; the rows are checked field by field with pyarrow and DuckDB (tests/py/check_sdk.py).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Collector, TOKEN, python};

fn sdk_round(proto: &str) {
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), &[]);
    let addr = match proto {
        "grpc" => c.grpc.unwrap().to_string(),
        _ => c.http.to_string(),
    };
    let ids = python("sdk_send.py", &[proto, &addr, TOKEN]);
    let ids = ids.lines().last().unwrap().to_string();
    c.stop();
    python("check_sdk.py", &[dir.path().to_str().unwrap(), &ids]);
}

#[test]
fn python_sdk_over_otlp_http_with_gzip() {
    sdk_round("http");
}

#[test]
fn python_sdk_over_otlp_grpc() {
    sdk_round("grpc");
}
