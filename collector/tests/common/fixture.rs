//! A small fleet's worth of firn Parquet, written through the real sink (the writer the agent
//! and the collector use) into `date=/hour=` folders chosen here, so every expected answer in
//! the tests can be worked out by hand from this file.
//!
//! Service `shop`, containers `api` and `worker`:
//!
//! | folder | file | rows |
//! |---|---|---|
//! | date=2026-11-30/hour=23 | a | api: 23:10 INFO "GET /cart 200" (stdout, /logs/api.log), 23:20 WARN "slow request /cart 1200ms" (stdout), 23:30 ERROR "payment failed: card declined" (stderr); metrics at 23:10: cpu.usage 0.25, cpu.limit 2, memory.usage 100 MiB, memory.limit 512 MiB |
//! | date=2026-12-01/hour=00 | b | worker: 00:05 INFO "job 1 started", 00:06 INFO "job 1 done", 00:07 ERROR "job 2 failed: timeout", 00:08 FATAL "out of memory" (all stderr, /logs/worker.log); metrics at 00:09: cpu.usage 1.5, cpu.limit 2, memory.usage 500 MiB, memory.limit 512 MiB, restarts 3, last.finished.reason{reason=FailedWithOOM} 1, last.finished.exitcode 137 |
//! | date=2026-12-01/hour=01 | c | api: 01:00 INFO "GET /health 200", 01:01 DEBUG "cache hit key=42", 01:02 INFO "GET /cart 200" with user.id=u-7 (all stdout, /logs/api.log) |
//! | date=2026-12-01/hour=01 | d | api: 25 lines "tick 1" .. "tick 25" at 01:10:01 .. 01:10:25 INFO (stdout, /logs/tick.log); metrics at 01:00: cpu.usage 0.75, network.egress.received.bytes 1000, network.egress.transmitted.bytes 2000, volume.usage{volume=logs} 1 GiB, volume.capacity{volume=logs} 10 GiB |
//!
//! Totals: 35 LOG rows (api 31, worker 4), 16 METRIC rows. Severities: DEBUG 1, INFO 30,
//! WARN 1, ERROR 2, FATAL 1 (ERROR or FATAL: api 1, worker 2).
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Instant;

use firn_schemas::{
    BatchBuilder, JsonText, MetricType, OutputMode, ParquetSink, Row, Severity, SinkConfig, Value,
    ValueType, metric_record,
};

/// 2026-11-30T00:00:00Z in ns.
pub const DAY0_NS: i64 = 1_795_996_800 * 1_000_000_000;

/// ns of `h:m:s` on 2026-11-30 (`h` past 23 runs into 2026-12-01).
pub fn at(h: i64, m: i64, s: i64) -> i64 {
    DAY0_NS + ((h * 60 + m) * 60 + s) * 1_000_000_000
}

pub struct Log<'a> {
    pub ts: i64,
    pub severity: Severity,
    pub line: &'a str,
    pub stream: &'a str,
    pub file: &'a str,
    pub extra: Option<(&'a str, &'a str)>,
}

pub struct Metric<'a> {
    pub ts: i64,
    pub name: &'a str,
    pub unit: &'a str,
    pub value: f64,
    pub attr: Option<(&'a str, &'a str)>,
}

fn log<'a>(ts: i64, severity: Severity, line: &'a str, stream: &'a str, file: &'a str) -> Log<'a> {
    Log {
        ts,
        severity,
        line,
        stream,
        file,
        extra: None,
    }
}

fn metric<'a>(ts: i64, name: &'a str, unit: &'a str, value: f64) -> Metric<'a> {
    Metric {
        ts,
        name,
        unit,
        value,
        attr: None,
    }
}

/// Writes one Parquet file of `container`'s rows into `out/<partition>/`.
pub fn write_file(out: &Path, partition: &str, container: &str, logs: &[Log], metrics: &[Metric]) {
    let staging = tempfile::tempdir().unwrap();
    let mut cfg = SinkConfig::new(staging.path(), OutputMode::Local);
    cfg.partition_by_hour = false;
    let mut sink = ParquetSink::new(cfg);
    let resource = JsonText::string_object([
        ("snow.service.name", "shop"),
        ("snow.service.container.name", container),
    ]);
    let mut attrs = Vec::new();
    for l in logs {
        let mut pairs = vec![("log.iostream", l.stream), ("log.file.path", l.file)];
        if let Some(e) = l.extra {
            pairs.push(e);
        }
        attrs.push(JsonText::string_object(pairs));
    }
    let records: Vec<JsonText> = metrics
        .iter()
        .map(|m| metric_record(m.name, m.unit, MetricType::Gauge, ValueType::Double))
        .collect();
    let mattrs: Vec<Option<JsonText>> = metrics
        .iter()
        .map(|m| m.attr.map(|a| JsonText::string_object([a])))
        .collect();
    let mut b = BatchBuilder::new();
    for (l, a) in logs.iter().zip(&attrs) {
        let mut r = Row::log(l.ts, l.severity, l.line);
        r.resource_attributes = Some(&resource);
        r.record_attributes = Some(a);
        b.append(&r);
    }
    for ((m, rec), a) in metrics.iter().zip(&records).zip(&mattrs) {
        let mut r = Row::metric(m.ts, rec, Value::Double(m.value));
        r.resource_attributes = Some(&resource);
        r.record_attributes = a.as_ref();
        b.append(&r);
    }
    sink.write(&b.finish().unwrap(), &[]).unwrap();
    sink.close(Instant::now()).unwrap();
    let dest = out.join(partition);
    std::fs::create_dir_all(&dest).unwrap();
    for e in std::fs::read_dir(staging.path()).unwrap() {
        let e = e.unwrap();
        let name = e.file_name();
        if name.to_string_lossy().ends_with(".parquet") {
            std::fs::rename(e.path(), dest.join(name)).unwrap();
        }
    }
}

const MIB: f64 = 1_048_576.0;
const GIB: f64 = 1_073_741_824.0;

/// Writes the fleet described in the module docs into `out`.
pub fn write_fleet(out: &Path) {
    let api_log = "/logs/api.log";
    write_file(
        out,
        "date=2026-11-30/hour=23",
        "api",
        &[
            log(
                at(23, 10, 0),
                Severity::Info,
                "GET /cart 200",
                "stdout",
                api_log,
            ),
            log(
                at(23, 20, 0),
                Severity::Warn,
                "slow request /cart 1200ms",
                "stdout",
                api_log,
            ),
            log(
                at(23, 30, 0),
                Severity::Error,
                "payment failed: card declined",
                "stderr",
                api_log,
            ),
        ],
        &[
            metric(at(23, 10, 0), "container.cpu.usage", "cpu", 0.25),
            metric(at(23, 10, 0), "container.cpu.limit", "cpu", 2.0),
            metric(
                at(23, 10, 0),
                "container.memory.usage",
                "bytes",
                100.0 * MIB,
            ),
            metric(
                at(23, 10, 0),
                "container.memory.limit",
                "bytes",
                512.0 * MIB,
            ),
        ],
    );
    let w = "/logs/worker.log";
    write_file(
        out,
        "date=2026-12-01/hour=00",
        "worker",
        &[
            log(at(24, 5, 0), Severity::Info, "job 1 started", "stderr", w),
            log(at(24, 6, 0), Severity::Info, "job 1 done", "stderr", w),
            log(
                at(24, 7, 0),
                Severity::Error,
                "job 2 failed: timeout",
                "stderr",
                w,
            ),
            log(at(24, 8, 0), Severity::Fatal, "out of memory", "stderr", w),
        ],
        &[
            metric(at(24, 9, 0), "container.cpu.usage", "cpu", 1.5),
            metric(at(24, 9, 0), "container.cpu.limit", "cpu", 2.0),
            metric(at(24, 9, 0), "container.memory.usage", "bytes", 500.0 * MIB),
            metric(at(24, 9, 0), "container.memory.limit", "bytes", 512.0 * MIB),
            metric(at(24, 9, 0), "container.restarts", "restarts", 3.0),
            Metric {
                attr: Some(("reason", "FailedWithOOM")),
                ..metric(
                    at(24, 9, 0),
                    "container.state.last.finished.reason",
                    "boolean",
                    1.0,
                )
            },
            metric(
                at(24, 9, 0),
                "container.state.last.finished.exitcode",
                "integer",
                137.0,
            ),
        ],
    );
    write_file(
        out,
        "date=2026-12-01/hour=01",
        "api",
        &[
            log(
                at(25, 0, 0),
                Severity::Info,
                "GET /health 200",
                "stdout",
                api_log,
            ),
            log(
                at(25, 1, 0),
                Severity::Debug,
                "cache hit key=42",
                "stdout",
                api_log,
            ),
            Log {
                extra: Some(("user.id", "u-7")),
                ..log(
                    at(25, 2, 0),
                    Severity::Info,
                    "GET /cart 200",
                    "stdout",
                    api_log,
                )
            },
        ],
        &[],
    );
    let ticks: Vec<String> = (1..=25).map(|i| format!("tick {i}")).collect();
    let tick_logs: Vec<Log> = ticks
        .iter()
        .enumerate()
        .map(|(i, t)| {
            log(
                at(25, 10, i as i64 + 1),
                Severity::Info,
                t,
                "stdout",
                "/logs/tick.log",
            )
        })
        .collect();
    write_file(
        out,
        "date=2026-12-01/hour=01",
        "api",
        &tick_logs,
        &[
            metric(at(25, 0, 0), "container.cpu.usage", "cpu", 0.75),
            metric(
                at(25, 0, 0),
                "network.egress.received.bytes",
                "bytes",
                1000.0,
            ),
            metric(
                at(25, 0, 0),
                "network.egress.transmitted.bytes",
                "bytes",
                2000.0,
            ),
            Metric {
                attr: Some(("volume", "logs")),
                ..metric(at(25, 0, 0), "volume.usage", "bytes", GIB)
            },
            Metric {
                attr: Some(("volume", "logs")),
                ..metric(at(25, 0, 0), "volume.capacity", "bytes", 10.0 * GIB)
            },
        ],
    );
}
