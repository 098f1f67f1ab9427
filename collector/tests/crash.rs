//! kill -9 of the collector while four clients send: after a restart, every record of every
//! request that was answered 200 is in the output exactly once, and nothing is there twice.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Collector, TOKEN, read_rows, wait_until};
use firn_schemas::otlp::proto::collector::logs::v1::ExportLogsServiceRequest;
use firn_schemas::otlp::proto::common::v1::{AnyValue, any_value::Value};
use firn_schemas::otlp::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use prost::Message as _;

const PER_REQUEST: usize = 50;

fn body(client: usize, n: usize) -> Vec<u8> {
    let records = (0..PER_REQUEST)
        .map(|i| LogRecord {
            time_unix_nano: 1_700_000_000_000_000_000,
            body: Some(AnyValue {
                value: Some(Value::StringValue(format!("c{client}-r{n}-i{i}"))),
            }),
            ..Default::default()
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

/// The status, or `None` when the connection broke (the collector died).
fn try_post(addr: SocketAddr, body: &[u8]) -> Option<u16> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(30))).ok()?;
    let head = format!(
        "POST /v1/logs HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/x-protobuf\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).ok()?;
    s.write_all(body).ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    text.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn kill_9_while_clients_send_loses_and_duplicates_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let c = Collector::start(dir.path(), &[]);
    let addr = c.http;
    let acked = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..4)
        .map(|client| {
            let acked = acked.clone();
            std::thread::spawn(move || {
                let mut ok = Vec::new();
                for n in 0.. {
                    match try_post(addr, &body(client, n)) {
                        Some(200) => {
                            ok.push(n);
                            acked.fetch_add(1, Ordering::Relaxed);
                        }
                        Some(s) => panic!("status {s}"),
                        None => return (client, ok, n),
                    }
                }
                unreachable!()
            })
        })
        .collect();
    wait_until("100 requests answered", || {
        acked.load(Ordering::Relaxed) >= 100
    });
    c.kill9();
    let results: Vec<_> = clients.into_iter().map(|t| t.join().unwrap()).collect();

    // A restart over the same output starts and stops cleanly.
    let again = Collector::start(dir.path(), &[]);
    again.stop();

    let mut seen: HashMap<String, usize> = HashMap::new();
    for r in read_rows(dir.path()) {
        let v: String = serde_json::from_str(r.view().value.unwrap()).unwrap();
        *seen.entry(v).or_default() += 1;
    }
    let dup: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dup.is_empty(), "duplicated: {dup:?}");
    let mut acked_records = 0;
    for (client, ok, last) in &results {
        for n in ok {
            for i in 0..PER_REQUEST {
                let key = format!("c{client}-r{n}-i{i}");
                assert_eq!(seen.get(&key), Some(&1), "{key} was answered 200");
                acked_records += 1;
            }
        }
        // The request cut by the kill may or may not have been written; nothing past it was sent.
        assert!(seen.keys().all(|k| {
            let mut p = k.split('-');
            p.next() != Some(&format!("c{client}"))
                || p.next().unwrap()[1..].parse::<usize>().unwrap() <= *last
        }));
    }
    assert!(acked_records >= 100 * PER_REQUEST);
}
