//! METRIC rows -> OTLP metrics (the inverse of [`super::metrics`]).

use std::collections::HashMap;

use opentelemetry_proto::tonic::metrics::v1::{
    Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram,
    HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, Sum, Summary, SummaryDataPoint,
    exemplar, exponential_histogram_data_point::Buckets, metric::Data, number_data_point,
    summary_data_point::ValueAtQuantile,
};
use serde_json::{Map, Value as J};

use super::from_rows::{
    FromRowsError, Groups, RowView, get_attrs, get_hex, get_str, get_u32, metric_slot,
    parse_object, parse_value, time_u64,
};
use super::json::attributes_from_map;
use super::names::temporality_number;

/// Where each metric went: rows of one metric (same resource, scope, name, description,
/// unit, kind, temporality, monotonicity) become points of one `Metric`.
#[derive(Debug, Default)]
pub(crate) struct MetricsBack<'a> {
    groups: Groups<'a>,
    metrics: HashMap<(usize, usize, String), usize>,
}

fn f64s(o: &Map<String, J>, k: &str) -> Vec<f64> {
    match o.get(k) {
        Some(J::Array(a)) => a.iter().map(|v| v.as_f64().unwrap_or(f64::NAN)).collect(),
        _ => Vec::new(),
    }
}

fn u64s(o: &Map<String, J>, k: &str) -> Vec<u64> {
    match o.get(k) {
        Some(J::Array(a)) => a.iter().map(|v| v.as_u64().unwrap_or(0)).collect(),
        _ => Vec::new(),
    }
}

fn u64_of(o: &Map<String, J>, k: &str) -> u64 {
    o.get(k).and_then(J::as_u64).unwrap_or(0)
}

fn opt_f64(o: &Map<String, J>, k: &str) -> Option<f64> {
    o.get(k).and_then(J::as_f64)
}

fn buckets(o: &Map<String, J>, k: &str) -> Option<Buckets> {
    let b = o.get(k)?.as_object()?;
    Some(Buckets {
        offset: b
            .get("offset")
            .and_then(J::as_i64)
            .and_then(|n| i32::try_from(n).ok())
            .unwrap_or(0),
        bucket_counts: u64s(b, "bucket_counts"),
    })
}

fn exemplars(v: &J) -> Vec<Exemplar> {
    let Some(list) = v.as_array() else {
        return Vec::new();
    };
    list.iter()
        .filter_map(J::as_object)
        .map(|e| Exemplar {
            filtered_attributes: get_attrs(e, "filtered_attributes"),
            time_unix_nano: u64_of(e, "time_unix_nano"),
            span_id: get_hex(e, "span_id"),
            trace_id: get_hex(e, "trace_id"),
            value: e.get("value").and_then(|v| match v {
                J::Number(n) if !n.is_f64() => n.as_i64().map(exemplar::Value::AsInt),
                J::Number(n) => n.as_f64().map(exemplar::Value::AsDouble),
                _ => None,
            }),
        })
        .collect()
}

impl<'a> MetricsBack<'a> {
    pub(crate) fn push(
        &mut self,
        r: &RowView<'a>,
        row: usize,
        all: &mut Vec<ResourceMetrics>,
    ) -> Result<(), FromRowsError> {
        let rec = parse_object(r.record, row, "RECORD")?;
        let metric = rec
            .get("metric")
            .and_then(J::as_object)
            .cloned()
            .unwrap_or_default();
        let metric_type = get_str(&rec, "metric_type");
        let temporality = rec
            .get("aggregation_temporality")
            .map(temporality_number)
            .unwrap_or(0);
        let monotonic = rec
            .get("is_monotonic")
            .and_then(J::as_bool)
            .unwrap_or(false);
        let (ri, si) = metric_slot(&mut self.groups, r, row, all)?;
        let key = format!(
            "{}|{metric_type}|{temporality}|{monotonic}",
            J::Object(metric.clone())
        );
        let list = &mut all[ri].scope_metrics[si].metrics;
        let n = list.len();
        let k = *self.metrics.entry((ri, si, key)).or_insert(n);
        if k == n {
            list.push(Metric {
                name: get_str(&metric, "name"),
                description: get_str(&metric, "description"),
                unit: get_str(&metric, "unit"),
                metadata: get_attrs(&metric, "metadata"),
                data: Some(match metric_type.as_str() {
                    "sum" => Data::Sum(Sum {
                        data_points: Vec::new(),
                        aggregation_temporality: temporality,
                        is_monotonic: monotonic,
                    }),
                    "histogram" => Data::Histogram(Histogram {
                        data_points: Vec::new(),
                        aggregation_temporality: temporality,
                    }),
                    "exponential_histogram" => Data::ExponentialHistogram(ExponentialHistogram {
                        data_points: Vec::new(),
                        aggregation_temporality: temporality,
                    }),
                    "summary" => Data::Summary(Summary {
                        data_points: Vec::new(),
                    }),
                    _ => Data::Gauge(Gauge {
                        data_points: Vec::new(),
                    }),
                }),
            });
        }
        let attributes = attributes_from_map(&parse_object(
            r.record_attributes,
            row,
            "RECORD_ATTRIBUTES",
        )?);
        let value = parse_value(r.value, row, "VALUE")?;
        let ex = exemplars(&parse_value(r.exemplars, row, "EXEMPLARS")?);
        let flags = get_u32(&rec, "flags");
        let start = time_u64(r.start_timestamp_ns);
        let time = time_u64(Some(r.timestamp_ns));
        let empty = Map::new();
        let v = value.as_object().unwrap_or(&empty);
        match &mut list[k].data {
            Some(Data::Gauge(Gauge { data_points: p }))
            | Some(Data::Sum(Sum { data_points: p, .. })) => p.push(NumberDataPoint {
                attributes,
                start_time_unix_nano: start,
                time_unix_nano: time,
                exemplars: ex,
                flags,
                value: match (rec.get("value_type").and_then(J::as_str), &value) {
                    (Some("INT"), v) => v.as_i64().map(number_data_point::Value::AsInt),
                    (_, J::Number(n)) => n.as_f64().map(number_data_point::Value::AsDouble),
                    _ => None,
                },
            }),
            Some(Data::Histogram(h)) => h.data_points.push(HistogramDataPoint {
                attributes,
                start_time_unix_nano: start,
                time_unix_nano: time,
                count: u64_of(v, "count"),
                sum: opt_f64(v, "sum"),
                bucket_counts: u64s(v, "bucket_counts"),
                explicit_bounds: f64s(v, "explicit_bounds"),
                exemplars: ex,
                flags,
                min: opt_f64(v, "min"),
                max: opt_f64(v, "max"),
            }),
            Some(Data::ExponentialHistogram(h)) => {
                h.data_points.push(ExponentialHistogramDataPoint {
                    attributes,
                    start_time_unix_nano: start,
                    time_unix_nano: time,
                    count: u64_of(v, "count"),
                    sum: opt_f64(v, "sum"),
                    scale: v
                        .get("scale")
                        .and_then(J::as_i64)
                        .and_then(|n| i32::try_from(n).ok())
                        .unwrap_or(0),
                    zero_count: u64_of(v, "zero_count"),
                    positive: buckets(v, "positive"),
                    negative: buckets(v, "negative"),
                    flags,
                    exemplars: ex,
                    min: opt_f64(v, "min"),
                    max: opt_f64(v, "max"),
                    zero_threshold: opt_f64(v, "zero_threshold").unwrap_or(0.0),
                })
            }
            Some(Data::Summary(s)) => s.data_points.push(SummaryDataPoint {
                attributes,
                start_time_unix_nano: start,
                time_unix_nano: time,
                count: u64_of(v, "count"),
                sum: opt_f64(v, "sum").unwrap_or(0.0),
                quantile_values: match v.get("quantile_values") {
                    Some(J::Array(q)) => q
                        .iter()
                        .filter_map(J::as_object)
                        .map(|q| ValueAtQuantile {
                            quantile: opt_f64(q, "quantile").unwrap_or(0.0),
                            value: opt_f64(q, "value").unwrap_or(0.0),
                        })
                        .collect(),
                    _ => Vec::new(),
                },
                flags,
            }),
            None => {}
        }
        Ok(())
    }
}
