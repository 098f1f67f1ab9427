//! `cargo bench -p firn-collector --bench receive`: log records/s into firn-collector over
//! OTLP/HTTP (gzip protobuf, batches of 512 logs) from 4 concurrent clients on loopback,
//! request latency p50/p99, the collector's peak RSS, and bytes per record on the wire and
//! in Parquet. `FIRN_BENCH_SECS` sets the run time (default 15). Figures: bench/README.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use firn_schemas::otlp::proto::collector::logs::v1::ExportLogsServiceRequest;
use firn_schemas::otlp::proto::common::v1::{AnyValue, KeyValue, any_value::Value};
use firn_schemas::otlp::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use firn_schemas::otlp::proto::resource::v1::Resource;
use prost::Message as _;

const BATCH: usize = 512;
const CLIENTS: usize = 4;
const TOKEN: &str = "bench-token";

fn s(v: &str) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(Value::StringValue(v.into())),
    })
}

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: s(v),
        key_strindex: 0,
    }
}

/// A batch of realistic log records (about 120-byte lines, two attributes, a resource).
fn batch(client: usize, seq: usize) -> Vec<u8> {
    let t0 = 1_700_000_000_000_000_000u64 + (seq as u64) * 1_000_000;
    let records = (0..BATCH)
        .map(|i| LogRecord {
            time_unix_nano: t0 + i as u64 * 1000,
            observed_time_unix_nano: t0 + i as u64 * 1000 + 500,
            severity_number: if i % 10 == 0 { 13 } else { 9 },
            severity_text: if i % 10 == 0 { "WARN" } else { "INFO" }.into(),
            body: s(&format!(
                "GET /api/v1/orders/{} 200 {}ms user={} trace=4bf92f3577b34da6a3ce929d0e0e{:04x} cache=hit",
                seq * BATCH + i,
                (i * 7) % 250,
                (i * 31) % 1000,
                i
            )),
            attributes: vec![kv("log.iostream", "stdout"), kv("http.route", "/api/v1/orders")],
            ..Default::default()
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", "orders"),
                    kv("snow.service.name", "ORDERS"),
                    kv("snow.service.container.name", &format!("app-{client}")),
                ],
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

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// One request on a kept-alive connection; returns the status.
fn post(conn: &mut TcpStream, body: &[u8]) -> u16 {
    let head = format!(
        "POST /v1/logs HTTP/1.1\r\nHost: b\r\nContent-Type: application/x-protobuf\r\nContent-Encoding: gzip\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).unwrap();
    conn.write_all(body).unwrap();
    let mut buf = Vec::with_capacity(512);
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        conn.read_exact(&mut byte).unwrap();
        buf.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&buf).to_ascii_lowercase();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0);
    let mut rest = vec![0u8; len];
    conn.read_exact(&mut rest).unwrap();
    status
}

fn dir_bytes(dir: &Path) -> (u64, usize) {
    let mut total = (0, 0);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                total.0 += e.metadata().unwrap().len();
                total.1 += 1;
            }
        }
    }
    total
}

fn vm_hwm_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let secs: u64 = std::env::var("FIRN_BENCH_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15);
    let out = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_firn-collector"))
        .args([
            "receive",
            "--listen",
            "127.0.0.1:0",
            "--grpc-listen",
            "off",
            "-q",
        ])
        .arg("--output")
        .arg(out.path())
        .env("FIRN_TOKEN", TOKEN)
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let addr: SocketAddr = loop {
        let mut line = String::new();
        assert!(
            std::io::BufRead::read_line(&mut stderr, &mut line).unwrap() > 0,
            "collector exited"
        );
        if let Some(i) = line.find("http=") {
            break line[i + 5..]
                .split_whitespace()
                .next()
                .unwrap()
                .parse()
                .unwrap();
        }
    };
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    let bodies: Vec<Vec<Vec<u8>>> = (0..CLIENTS)
        .map(|c| (0..8).map(|k| batch(c, k)).collect())
        .collect();
    let raw_bytes: usize = bodies[0].iter().map(Vec::len).sum::<usize>() / 8;
    let gz: Vec<Vec<Vec<u8>>> = bodies
        .iter()
        .map(|b| b.iter().map(|x| gzip(x)).collect())
        .collect();
    let wire_bytes: usize = gz[0].iter().map(Vec::len).sum::<usize>() / 8;
    let start = Instant::now();
    let deadline = start + Duration::from_secs(secs);
    let threads: Vec<_> = gz
        .into_iter()
        .map(|bodies| {
            std::thread::spawn(move || {
                let mut conn = TcpStream::connect(addr).unwrap();
                conn.set_nodelay(true).unwrap();
                let mut lat = Vec::new();
                let mut refused = 0usize;
                let mut k = 0;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let status = post(&mut conn, &bodies[k % bodies.len()]);
                    k += 1;
                    if status == 200 {
                        lat.push(t.elapsed());
                    } else {
                        refused += 1;
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
                (lat, refused)
            })
        })
        .collect();
    let mut lat = Vec::new();
    let mut refused = 0;
    for t in threads {
        let (l, r) = t.join().unwrap();
        lat.extend(l);
        refused += r;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let rss = vm_hwm_kib(child.id());
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    child.wait().unwrap();
    lat.sort();
    let records = lat.len() * BATCH;
    let pct = |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)];
    let (pq_bytes, files) = dir_bytes(out.path());
    println!(
        "firn-collector receive, {CLIENTS} clients, batches of {BATCH} logs, gzip OTLP/HTTP protobuf, {secs} s"
    );
    println!("  records/s          {:.0}", records as f64 / elapsed);
    println!(
        "  requests           {} answered 200, {refused} refused",
        lat.len()
    );
    println!(
        "  latency p50 / p99  {:.1} ms / {:.1} ms",
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3
    );
    println!("  peak RSS           {:.1} MiB", rss as f64 / 1024.0);
    println!(
        "  bytes/record       {:.1} protobuf, {:.1} gzip on the wire, {:.1} in Parquet ({files} files)",
        raw_bytes as f64 / BATCH as f64,
        wire_bytes as f64 / BATCH as f64,
        pq_bytes as f64 / records.max(1) as f64
    );
}
