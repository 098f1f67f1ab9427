//! The Prometheus text exposition format (version 0.0.4) of firn's own counters and the
//! latest sample of every platform metric, for `GET /metrics`.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::pipeline::MetricValue;
use crate::telemetry::Counters;

use super::Sample;

/// A metric or label name: `[a-zA-Z_][a-zA-Z0-9_]*`, other characters (`.`) as `_`.
fn name(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn labels(pairs: &[(String, String)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}=\"{}\"", name(k), escape(v)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

fn number(v: MetricValue) -> String {
    match v {
        MetricValue::Int(i) => i.to_string(),
        MetricValue::Double(d) if d.is_finite() => format!("{d}"),
        MetricValue::Double(d) if d.is_nan() => "NaN".into(),
        MetricValue::Double(d) if d > 0.0 => "+Inf".into(),
        MetricValue::Double(_) => "-Inf".into(),
    }
}

/// The page: firn's counters (`firn_*`), then each platform metric (`container_cpu_usage`,
/// ...) as a gauge, every line labelled with the resource attributes.
pub fn render(counters: &Counters, latest: &[Sample], resource: &[(String, String)]) -> String {
    let mut out = String::new();
    for (n, v) in counters.snapshot() {
        let kind = if crate::telemetry::is_gauge(n) {
            "gauge"
        } else {
            "counter"
        };
        let n = name(n);
        let _ = writeln!(out, "# TYPE {n} {kind}\n{n}{} {v}", labels(resource));
    }
    // Every line of a metric together, as the format asks.
    let mut families: BTreeMap<&str, Vec<&Sample>> = BTreeMap::new();
    for s in latest {
        families.entry(s.name).or_default().push(s);
    }
    for (metric, samples) in families {
        let n = name(metric);
        let unit = samples.first().map_or("", |s| s.unit);
        let _ = writeln!(
            out,
            "# HELP {n} {metric} ({unit}), SPCS platform metric\n# TYPE {n} gauge"
        );
        for s in samples {
            let mut l: Vec<(String, String)> = s
                .attrs
                .iter()
                .map(|(k, v)| ((*k).to_string(), v.clone()))
                .collect();
            l.extend(resource.iter().cloned());
            let _ = writeln!(out, "{n}{} {}", labels(&l), number(s.value));
        }
    }
    out
}
