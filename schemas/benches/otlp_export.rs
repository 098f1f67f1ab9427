//! `cargo bench -p firn-schemas --features otlp --bench otlp_export [ROWS]`: rows/s of the
//! agent's OTLP export mapping (a finished Arrow batch -> OTLP protobuf bytes) for log rows
//! shaped like a file tail's (shared resource, severity and file attributes; one line in
//! five structured with attributes of its own), the old path (rows copied out, every JSON
//! column parsed per row) next to the current one, in the same run.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::hint::black_box;
use std::time::Instant;

use firn_schemas::otlp::{batch_to_otlp, owned_rows, rows_to_otlp};
use firn_schemas::{BatchBuilder, JsonText, Row, Severity, Value};
use prost::Message as _;

const BATCH: usize = 8192;

fn batches(rows: usize) -> Vec<arrow_array::RecordBatch> {
    let resource = JsonText::string_object([
        ("service.name", "shop"),
        ("host.name", "node-1"),
        ("snow.service.name", "shop"),
    ]);
    let file_attrs = JsonText::string_object([
        ("log.file.path", "/logs/app.log"),
        ("log.iostream", "stdout"),
    ]);
    let scope = JsonText::string_object([("name", "firn")]);
    let mut out = Vec::new();
    let mut b = BatchBuilder::new();
    for i in 0..rows {
        let line = format!(
            "2024-05-01T12:00:00Z request id={i:016x} path=/api/v1/items/{} status=200 took_ms={}",
            i % 100_000,
            i % 2000
        );
        let own = JsonText::from_value(&serde_json::json!({
            "log.file.path": "/logs/app.log", "user": format!("u{}", i % 1000), "n": i
        }));
        let structured = i % 5 == 0;
        b.append(&Row {
            timestamp_ns: 1_700_000_000_000_000_000 + i as i64,
            start_timestamp_ns: None,
            observed_timestamp_ns: Some(1_700_000_000_000_000_000 + i as i64),
            trace: None,
            resource_attributes: Some(&resource),
            scope: Some(&scope),
            record_type: firn_schemas::RecordType::Log,
            record: Some(if structured {
                Severity::Warn.record()
            } else {
                Severity::Info.record()
            }),
            record_attributes: Some(if structured { &own } else { &file_attrs }),
            value: Value::Text(&line),
        });
        if b.len() == BATCH {
            out.push(b.finish().unwrap());
        }
    }
    if !b.is_empty() {
        out.push(b.finish().unwrap());
    }
    out
}

fn main() {
    let rows: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(500_000);
    let input = batches(rows);
    let mut bytes = 0usize;
    let t = Instant::now();
    for b in &input {
        let owned = owned_rows(b).unwrap();
        let r = rows_to_otlp(owned.iter().map(|r| r.view())).unwrap();
        bytes += black_box(r.logs.encode_to_vec()).len();
    }
    let old = t.elapsed().as_secs_f64();
    let mut bytes2 = 0usize;
    let t = Instant::now();
    for b in &input {
        let r = batch_to_otlp(b).unwrap();
        bytes2 += black_box(r.logs.encode_to_vec()).len();
    }
    let new = t.elapsed().as_secs_f64();
    assert_eq!(bytes, bytes2, "both paths make the same protobuf");
    println!(
        "{rows} log rows, batches of {BATCH}, {:.1} MiB of protobuf",
        bytes as f64 / (1 << 20) as f64
    );
    println!(
        "rows copied + JSON parsed per row: {old:6.3} s  {:>12.0} rows/s",
        rows as f64 / old
    );
    println!(
        "from the batch, parsed once per value: {new:6.3} s  {:>12.0} rows/s",
        rows as f64 / new
    );
    println!("speed-up: {:.2}x", old / new);
}
