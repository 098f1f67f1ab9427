//! Every refusal of the receiver, with default flags unless a test says why: the right
//! status, a useful message, and nothing written.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write as _;
use std::net::TcpStream;

use common::{Collector, TOKEN, all_files, parquet_files, post, read_rows, request};
use firn_schemas::otlp::proto::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use firn_schemas::otlp::proto::common::v1::{AnyValue, KeyValue, any_value::Value};
use firn_schemas::otlp::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use firn_schemas::otlp::proto::resource::v1::Resource;
use prost::Message as _;

const PB: &str = "application/x-protobuf";

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(v.into())),
        }),
        key_strindex: 0,
    }
}

fn logs(resource: Vec<KeyValue>, records: Vec<LogRecord>) -> Vec<u8> {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: resource,
                ..Default::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn line(text: &str, attrs: Vec<KeyValue>) -> LogRecord {
    LogRecord {
        time_unix_nano: 1_700_000_000_000_000_000,
        severity_number: 9,
        severity_text: "INFO".into(),
        body: Some(AnyValue {
            value: Some(Value::StringValue(text.into())),
        }),
        attributes: attrs,
        ..Default::default()
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[test]
fn every_refusal_has_its_status_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let c = Collector::start(&out, &[]);
    let good = logs(vec![kv("service.name", "svc")], vec![line("hello", vec![])]);

    // No token, wrong token.
    let a = request(c.http, "POST", "/v1/logs", &[("Content-Type", PB)], &good);
    assert_eq!(a.status, 401, "{}", a.text());
    assert_eq!(a.header("www-authenticate"), Some("Bearer"));
    let a = request(
        c.http,
        "POST",
        "/v1/logs",
        &[
            ("Content-Type", PB),
            ("Authorization", "Bearer not-the-token"),
        ],
        &good,
    );
    assert_eq!(a.status, 401, "{}", a.text());

    // A body over the 8 MiB default.
    let big = vec![b'x'; 9 << 20];
    let a = post(c.http, "/v1/logs", PB, &[], &big);
    assert_eq!(a.status, 413);

    // A gzip bomb: 100 MiB of zeros in ~100 KiB, past the 64 MiB inflated default.
    let bomb = gzip(&vec![0u8; 100 << 20]);
    assert!(bomb.len() < 1 << 20);
    let a = post(
        c.http,
        "/v1/logs",
        PB,
        &[("Content-Encoding", "gzip")],
        &bomb,
    );
    assert_eq!(a.status, 413, "{}", a.text());

    // Malformed protobuf and JSON: 400 with the decoder's reason.
    let a = post(
        c.http,
        "/v1/logs",
        PB,
        &[],
        b"\xff\xff\xff\xff not protobuf",
    );
    assert_eq!(a.status, 400);
    let status = RpcStatus::decode(a.body.as_slice()).unwrap();
    assert!(
        status
            .message
            .contains("cannot decode the body as an OTLP logs protobuf"),
        "{}",
        status.message
    );
    let a = post(
        c.http,
        "/v1/traces",
        "application/json",
        &[],
        b"{\"resourceSpans\": [",
    );
    assert_eq!(a.status, 400);
    assert!(a.text().contains("OTLP/JSON traces"), "{}", a.text());

    // Too many attributes (default limit 128) and a value past 16 KiB.
    let many: Vec<KeyValue> = (0..129).map(|i| kv(&format!("k{i}"), "v")).collect();
    let a = post(
        c.http,
        "/v1/logs",
        PB,
        &[],
        &logs(vec![], vec![line("x", many)]),
    );
    assert_eq!(a.status, 400);
    assert!(
        RpcStatus::decode(a.body.as_slice())
            .unwrap()
            .message
            .contains("129 attributes")
    );
    let long = "v".repeat(17 << 10);
    let a = post(
        c.http,
        "/v1/logs",
        PB,
        &[],
        &logs(vec![kv("big", &long)], vec![line("x", vec![])]),
    );
    assert_eq!(a.status, 400, "{}", a.text());

    // An unknown Content-Type.
    let a = post(c.http, "/v1/logs", "text/plain", &[], &good);
    assert_eq!(a.status, 415);

    // A firn stamp that is half there, or not a number.
    let a = post(c.http, "/v1/logs", PB, &[("firn-agent-id", "a1")], &good);
    assert_eq!(a.status, 400, "{}", a.text());
    assert!(a.text().contains("firn-batch-seq"), "{}", a.text());
    let stamp = [("firn-agent-id", "a1"), ("firn-batch-seq", "12x")];
    let a = post(c.http, "/v1/logs", PB, &stamp, &good);
    assert_eq!(a.status, 400, "{}", a.text());

    let m = request(c.http, "GET", "/metrics", &[], b"").text();
    assert!(
        m.contains("firn_collector_refused_total{reason=\"auth\"} 2"),
        "{m}"
    );
    assert!(
        m.contains("firn_collector_refused_total{reason=\"decompressed_size\"} 1"),
        "{m}"
    );
    c.stop();
    assert!(
        all_files(&out).is_empty(),
        "nothing written: {:?}",
        all_files(&out)
    );
}

/// `google.rpc.Status`, as OTLP answers errors.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

#[test]
fn path_like_values_are_data_and_never_name_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let c = Collector::start(&out, &[]);
    let evil = [
        "../../../escape",
        "/etc/passwd",
        "..",
        "a/../../b",
        "C:\\x",
        "date=1999-01-01",
    ];
    for e in evil {
        let body = logs(
            vec![kv("service.name", e), kv("snow.service.name", e)],
            vec![line(e, vec![kv("log.file.path", e)])],
        );
        let a = post(c.http, "/v1/logs", PB, &[], &body);
        assert_eq!(a.status, 200, "{}", a.text());
    }
    c.stop();
    // Only the output folder exists beside it, and inside it only the collector's names.
    let beside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(beside, vec![std::ffi::OsString::from("out")]);
    for f in all_files(&out) {
        let rel = f.strip_prefix(&out).unwrap().to_string_lossy().into_owned();
        let parts: Vec<&str> = rel.split('/').collect();
        assert_eq!(parts.len(), 3, "{rel}");
        assert!(parts[0].starts_with("date=20"), "{rel}");
        assert!(parts[1].starts_with("hour="), "{rel}");
        assert!(
            parts[2].starts_with("firn-") && parts[2].ends_with(".parquet"),
            "{rel}"
        );
    }
    let rows = read_rows(&out);
    assert_eq!(rows.len(), evil.len());
    for e in evil {
        let want = serde_json::json!({"service.name": e, "snow.service.name": e});
        assert!(
            rows.iter().any(|r| r
                .view()
                .resource_attributes
                .map(|t| serde_json::from_str::<serde_json::Value>(t).unwrap())
                == Some(want.clone())),
            "{e} kept verbatim"
        );
    }
}

#[test]
fn malformed_ids_get_partial_success_and_the_rest_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), &[]);
    let mut bad = line("bad ids", vec![]);
    bad.trace_id = vec![1, 2, 3];
    let body = logs(vec![], vec![line("good", vec![]), bad]);
    let a = post(c.http, "/v1/logs", PB, &[], &body);
    assert_eq!(a.status, 200);
    let resp = ExportLogsServiceResponse::decode(a.body.as_slice()).unwrap();
    let p = resp.partial_success.unwrap();
    assert_eq!(p.rejected_log_records, 1);
    assert!(
        p.error_message.contains("trace_id has 3 bytes"),
        "{}",
        p.error_message
    );
    // JSON in, JSON out.
    let a = post(
        c.http,
        "/v1/logs",
        "application/json",
        &[],
        br#"{"resourceLogs":[]}"#,
    );
    assert_eq!(
        (a.status, a.header("content-type")),
        (200, Some("application/json"))
    );
    c.stop();
    let rows = read_rows(dir.path());
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].view().value, Some("\"good\""));
}

/// With one request allowed at a time (a special setting, so that holding one request open
/// is enough to overload the collector), the next is answered 429 with Retry-After, and a
/// health check still answers.
#[test]
fn overload_is_answered_429_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), &["--max-concurrent-requests", "1"]);
    let mut slow = TcpStream::connect(c.http).unwrap();
    let head = format!(
        "POST /v1/logs HTTP/1.1\r\nHost: t\r\nContent-Type: {PB}\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 100\r\n\r\nabc"
    );
    slow.write_all(head.as_bytes()).unwrap();
    slow.flush().unwrap();
    slow.set_read_timeout(Some(std::time::Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 512];
    let n = std::io::Read::read(&mut slow, &mut buf).unwrap_or(0);
    assert_eq!(
        n,
        0,
        "the slow request is still waiting: {}",
        String::from_utf8_lossy(&buf[..n])
    );
    common::wait_until("the slow request to hold the only permit", || {
        let a = post(
            c.http,
            "/v1/logs",
            PB,
            &[],
            &logs(vec![], vec![line("x", vec![])]),
        );
        if a.status == 429 {
            assert_eq!(a.header("retry-after"), Some("1"));
            true
        } else {
            false
        }
    });
    assert_eq!(request(c.http, "GET", "/healthcheck", &[], b"").status, 200);
    drop(slow);
    c.stop();
    assert!(parquet_files(dir.path()).len() <= 1);
}
