//! Prometheus text exposition -> an OTLP metrics request, so scraped samples take the same
//! mapping and the same durable path as received OTLP.
//!
//! Counters become monotonic cumulative `sum`s whose START_TIMESTAMP is when the collector
//! first saw the series (or saw it go down: a reset), as Prometheus has no start time;
//! gauges and untyped samples `gauge`s; histograms `histogram`s (buckets from the
//! cumulative `le` series, count and sum from `_count` and `_sum`); summaries `summary`s.
//! Labels are the data point's attributes.

use std::collections::{HashMap, HashSet};

use firn_schemas::otlp::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use firn_schemas::otlp::proto::common::v1::{
    AnyValue, InstrumentationScope, KeyValue, any_value::Value as Any,
};
use firn_schemas::otlp::proto::metrics::v1::{
    Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
    Sum, Summary, SummaryDataPoint, metric::Data, number_data_point,
    summary_data_point::ValueAtQuantile,
};
use firn_schemas::otlp::proto::resource::v1::Resource;
use prometheus_parse::{Scrape, Value};

/// When each counter series was first seen, and its last value (to see resets).
#[derive(Debug, Default)]
pub struct Starts {
    series: HashMap<String, (u64, f64)>,
}

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.to_string(),
        value: Some(AnyValue {
            value: Some(Any::StringValue(v.to_string())),
        }),
        key_strindex: 0,
    }
}

fn gauge_metric(name: &str, unit: &str, v: f64, time: u64) -> Metric {
    Metric {
        name: name.into(),
        unit: unit.into(),
        data: Some(Data::Gauge(Gauge {
            data_points: vec![NumberDataPoint {
                time_unix_nano: time,
                value: Some(number_data_point::Value::AsDouble(v)),
                ..Default::default()
            }],
        })),
        ..Default::default()
    }
}

/// The `up` and `scrape_duration_seconds` gauges Prometheus records per target.
pub fn health(
    resource: &[KeyValue],
    up: bool,
    duration_s: f64,
    time: u64,
) -> ExportMetricsServiceRequest {
    request(
        resource,
        vec![
            gauge_metric("up", "", if up { 1.0 } else { 0.0 }, time),
            gauge_metric("scrape_duration_seconds", "s", duration_s, time),
        ],
    )
}

fn request(resource: &[KeyValue], metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: resource.to_vec(),
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "firn-collector/prometheus".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    ..Default::default()
                }),
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn ns(t: chrono::DateTime<chrono::Utc>) -> u64 {
    t.timestamp_nanos_opt()
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(0)
}

/// Turns one scrape's text into a request; `now` stamps samples without a timestamp.
///
/// # Errors
/// Only if reading the lines fails (never, for text in memory).
pub fn to_request(
    text: &str,
    resource: &[KeyValue],
    starts: &mut Starts,
    now: chrono::DateTime<chrono::Utc>,
) -> std::io::Result<(ExportMetricsServiceRequest, usize)> {
    let scrape = Scrape::parse_at(text.lines().map(|l| Ok(l.to_string())), now)?;
    // `_sum` and `_count` of histograms and summaries, by (base name, labels).
    let mut parts: HashMap<(String, String), (f64, f64, Vec<KeyValue>)> = HashMap::new();
    // Summaries without quantiles (prometheus_client's) have only `_sum` and `_count`
    // samples, so their families are taken from the TYPE lines.
    let summaries: HashSet<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.trim().strip_suffix(" summary"))
        .map(str::trim)
        .collect();
    let mut grouped: HashSet<&str> = scrape
        .samples
        .iter()
        .filter(|s| matches!(s.value, Value::Histogram(_) | Value::Summary(_)))
        .map(|s| s.metric.as_str())
        .collect();
    grouped.extend(summaries.iter().copied());
    let sorted_attrs = |l: &prometheus_parse::Labels| {
        let mut a: Vec<_> = l.iter().map(|(k, v)| kv(k, v)).collect();
        a.sort_by(|x, y| x.key.cmp(&y.key));
        a
    };
    let label_key = |l: &prometheus_parse::Labels| {
        let mut v: Vec<_> = l.iter().map(|(k, v)| format!("{k}={v}")).collect();
        v.sort();
        v.join(",")
    };
    for s in &scrape.samples {
        for (suffix, slot) in [("_sum", 0), ("_count", 1)] {
            if let Some(base) = s.metric.strip_suffix(suffix)
                && grouped.contains(base)
                && let Value::Untyped(v) | Value::Counter(v) | Value::Gauge(v) = s.value
            {
                let e = parts
                    .entry((base.to_string(), label_key(&s.labels)))
                    .or_insert_with(|| (0.0, 0.0, sorted_attrs(&s.labels)));
                if slot == 0 {
                    e.0 = v;
                } else {
                    e.1 = v;
                }
            }
        }
    }
    let mut metrics: Vec<Metric> = Vec::new();
    let mut samples = 0;
    for s in &scrape.samples {
        let attrs = sorted_attrs(&s.labels);
        let time = ns(s.timestamp);
        let description = scrape.docs.get(&s.metric).cloned().unwrap_or_default();
        let data = match &s.value {
            Value::Counter(v) => {
                let key = format!("{}{{{}}}", s.metric, label_key(&s.labels));
                let e = starts.series.entry(key).or_insert((time, *v));
                if *v < e.1 {
                    e.0 = time;
                }
                e.1 = *v;
                Data::Sum(Sum {
                    data_points: vec![NumberDataPoint {
                        attributes: attrs,
                        start_time_unix_nano: e.0,
                        time_unix_nano: time,
                        value: Some(number_data_point::Value::AsDouble(*v)),
                        ..Default::default()
                    }],
                    aggregation_temporality: 2,
                    is_monotonic: true,
                })
            }
            Value::Gauge(v) | Value::Untyped(v) => {
                let folded = ["_sum", "_count"].iter().any(|x| {
                    s.metric
                        .strip_suffix(x)
                        .is_some_and(|b| grouped.contains(b))
                });
                if folded {
                    continue;
                }
                Data::Gauge(Gauge {
                    data_points: vec![NumberDataPoint {
                        attributes: attrs,
                        time_unix_nano: time,
                        value: Some(number_data_point::Value::AsDouble(*v)),
                        ..Default::default()
                    }],
                })
            }
            Value::Histogram(buckets) => {
                let (sum, count) = parts
                    .remove(&(s.metric.clone(), label_key(&s.labels)))
                    .map_or((0.0, 0.0), |p| (p.0, p.1));
                let mut b = buckets.clone();
                b.sort_by(|x, y| x.less_than.total_cmp(&y.less_than));
                let mut prev = 0.0;
                let mut bucket_counts = Vec::new();
                let mut explicit_bounds = Vec::new();
                for h in &b {
                    bucket_counts.push((h.count - prev).max(0.0) as u64);
                    prev = h.count;
                    if h.less_than.is_finite() {
                        explicit_bounds.push(h.less_than);
                    }
                }
                if b.last().is_none_or(|h| h.less_than.is_finite()) {
                    bucket_counts.push((count - prev).max(0.0) as u64);
                }
                Data::Histogram(Histogram {
                    data_points: vec![HistogramDataPoint {
                        attributes: attrs,
                        time_unix_nano: time,
                        count: count as u64,
                        sum: Some(sum),
                        bucket_counts,
                        explicit_bounds,
                        ..Default::default()
                    }],
                    aggregation_temporality: 2,
                })
            }
            Value::Summary(q) => {
                let (sum, count) = parts
                    .remove(&(s.metric.clone(), label_key(&s.labels)))
                    .map_or((0.0, 0.0), |p| (p.0, p.1));
                Data::Summary(Summary {
                    data_points: vec![SummaryDataPoint {
                        attributes: attrs,
                        time_unix_nano: time,
                        count: count as u64,
                        sum,
                        quantile_values: q
                            .iter()
                            .map(|c| ValueAtQuantile {
                                quantile: c.quantile,
                                value: c.count,
                            })
                            .collect(),
                        ..Default::default()
                    }],
                })
            }
        };
        samples += 1;
        metrics.push(Metric {
            name: s.metric.clone(),
            description,
            unit: String::new(),
            metadata: Vec::new(),
            data: Some(data),
        });
    }
    let now_ns = ns(now);
    let mut rest: Vec<_> = parts
        .into_iter()
        .filter(|((base, _), _)| summaries.contains(base.as_str()))
        .collect();
    rest.sort_by(|a, b| a.0.cmp(&b.0));
    for ((base, _), (sum, count, attributes)) in rest {
        samples += 1;
        metrics.push(Metric {
            description: scrape.docs.get(&base).cloned().unwrap_or_default(),
            name: base,
            data: Some(Data::Summary(Summary {
                data_points: vec![SummaryDataPoint {
                    attributes,
                    time_unix_nano: now_ns,
                    count: count as u64,
                    sum,
                    ..Default::default()
                }],
            })),
            ..Default::default()
        });
    }
    Ok((request(resource, metrics), samples))
}

/// Resource attributes of a target: Prometheus's `job` and `instance`, and the URL.
pub fn target_resource(job: &str, instance: &str, url: &str) -> Vec<KeyValue> {
    vec![
        kv("instance", instance),
        kv("job", job),
        kv("url.full", url),
    ]
}
