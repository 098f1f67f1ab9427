//! Writes every record type through the real sink, then has readers we did not write
//! (pyarrow and DuckDB, from PyPI) check the files: names, logical types, counts, values,
//! and the generated DuckDB views.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use firn_schemas::{
    BatchBuilder, JsonText, MetricType, ObjectWriter, OutputMode, ParquetSink, Row, Severity,
    SinkConfig, Value, ValueType, metric_record,
};

const T0: i64 = 1_763_900_000_123_456_789; // 2025-11-23T12:13:20.123456789Z

#[test]
fn pyarrow_and_duckdb_read_every_record_type() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = ParquetSink::new(SinkConfig::new(dir.path(), OutputMode::Local));
    let resource = JsonText::string_object([
        ("snow.service.name", "echo_service"),
        ("snow.service.container.name", "app"),
    ]);
    let stdout = JsonText::string_object([("log.iostream", "stdout")]);
    let stderr = JsonText::string_object([("log.iostream", "stderr")]);
    let scope = JsonText::string_object([("name", "orders")]);
    let cpu = metric_record(
        "container.cpu.usage",
        "cpu",
        MetricType::Gauge,
        ValueType::Double,
    );
    let restarts = metric_record(
        "container.restarts",
        "restarts",
        MetricType::Sum,
        ValueType::Int,
    );
    let event = {
        let mut o = ObjectWriter::new();
        o.string("name", "deploy");
        o.finish()
    };
    let trace = JsonText::string_object([
        ("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"),
        ("span_id", "00f067aa0ba902b7"),
    ]);

    let mut b = BatchBuilder::new();
    for i in 0..1000 {
        let line = format!("request {i} served \"quoted\" \\ tab\t café");
        let mut r = Row::log(
            T0 + i,
            if i % 10 == 0 {
                Severity::Error
            } else {
                Severity::Info
            },
            &line,
        );
        r.resource_attributes = Some(&resource);
        r.record_attributes = Some(if i % 10 == 0 { &stderr } else { &stdout });
        r.scope = Some(&scope);
        if i == 0 {
            r.trace = Some(&trace);
        }
        b.append(&r);
    }
    for i in 0..100 {
        let mut r = Row::metric(T0 + i * 1_000_000_000, &cpu, Value::Double(0.25 * i as f64));
        r.resource_attributes = Some(&resource);
        b.append(&r);
        let mut r = Row::metric(T0 + i * 1_000_000_000, &restarts, Value::Int(i));
        r.start_timestamp_ns = Some(T0);
        r.resource_attributes = Some(&resource);
        b.append(&r);
    }
    let mut r = Row::event(T0, &event, Value::Json(r#"{"version":"1.2.3"}"#));
    r.resource_attributes = Some(&resource);
    b.append(&r);
    sink.write(&b.finish().unwrap(), &[]).unwrap();
    sink.close(Instant::now()).unwrap();
    assert_eq!(sink.stats().rows_written_total, 1201);

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/readback.py");
    let views = Path::new(env!("CARGO_MANIFEST_DIR")).join("duckdb/views.sql");
    let out = Command::new("python3")
        .arg(&script)
        .arg(dir.path())
        .arg(&views)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "readback.py failed (needs `pip install -r requirements-test.txt`):\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("readback ok"), "{stdout}");
}
