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

/// firn's stamp as gRPC metadata, as over HTTP: a resend of an already written batch is
/// answered OK and not written again; a half stamp is INVALID_ARGUMENT.
#[test]
fn grpc_metadata_stamps_drop_a_resent_batch() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), &[]);
    let out = python("grpc_stamp.py", &[&c.grpc.unwrap().to_string(), TOKEN]);
    let got: serde_json::Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    assert_eq!(
        got,
        serde_json::json!({"first": "OK", "resent": "OK", "next": "OK", "half": "INVALID_ARGUMENT"})
    );
    c.stop();
    let mut bodies: Vec<String> = common::read_rows(dir.path())
        .iter()
        .filter_map(|r| r.view().value.map(str::to_string))
        .collect();
    bodies.sort();
    assert_eq!(bodies, ["\"grpc stamped 5\"", "\"grpc stamped 6\""]);
}
