//! OTLP metrics -> METRIC rows: one row per data point.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{
    Exemplar, ExponentialHistogramDataPoint, HistogramDataPoint, Metric, NumberDataPoint,
    SummaryDataPoint, exemplar, exponential_histogram_data_point::Buckets, metric::Data,
    number_data_point,
};

use super::json::{attributes_text, push_attributes, push_f64, push_hex};
use super::names::temporality_name;
use super::to_rows::{
    Mapped, nonzero_time, push_count, push_raw_field, push_str_field, resource_text, scope_texts,
    time_ns,
};
use crate::{BatchBuilder, JsonText, RecordType, Row, Value};

/// The parts of a metric's RECORD that every point shares.
struct Kind<'a> {
    metric_type: &'static str,
    temporality: Option<i32>,
    monotonic: Option<bool>,
    metric: &'a Metric,
}

/// The METRIC row's RECORD: `{"metric": {name, description, unit, metadata},
/// "metric_type", "value_type", "aggregation_temporality", "is_monotonic"}`.
fn record_text(k: &Kind<'_>, value_type: Option<&str>, flags: u32) -> String {
    let m = k.metric;
    let mut metric = String::from("{");
    push_str_field(&mut metric, "name", &m.name);
    if !m.description.is_empty() {
        push_str_field(&mut metric, "description", &m.description);
    }
    push_str_field(&mut metric, "unit", &m.unit);
    if !m.metadata.is_empty() {
        let mut md = String::new();
        push_attributes(&mut md, &m.metadata);
        push_raw_field(&mut metric, "metadata", &md);
    }
    metric.push('}');
    let mut out = String::from("{");
    push_raw_field(&mut out, "metric", &metric);
    push_str_field(&mut out, "metric_type", k.metric_type);
    if let Some(v) = value_type {
        push_str_field(&mut out, "value_type", v);
    }
    if let Some(t) = k.temporality {
        match temporality_name(t) {
            Some(n) => push_str_field(&mut out, "aggregation_temporality", n),
            None => push_raw_field(&mut out, "aggregation_temporality", &t.to_string()),
        }
    }
    if let Some(mono) = k.monotonic {
        push_raw_field(
            &mut out,
            "is_monotonic",
            if mono { "true" } else { "false" },
        );
    }
    push_count(&mut out, "flags", flags);
    out.push('}');
    out
}

/// EXEMPLARS: `[{"time_unix_nano", "value", "trace_id", "span_id", "filtered_attributes"}]`,
/// NULL when there are none.
fn exemplars_text(ex: &[Exemplar]) -> Option<String> {
    if ex.is_empty() {
        return None;
    }
    let mut out = String::from("[");
    for (i, e) in ex.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('{');
        push_raw_field(&mut out, "time_unix_nano", &e.time_unix_nano.to_string());
        match e.value {
            Some(exemplar::Value::AsInt(v)) => push_raw_field(&mut out, "value", &v.to_string()),
            Some(exemplar::Value::AsDouble(v)) => {
                let mut s = String::new();
                push_f64(&mut s, v);
                push_raw_field(&mut out, "value", &s);
            }
            None => {}
        }
        if !e.trace_id.is_empty() {
            let mut s = String::from("\"");
            push_hex(&mut s, &e.trace_id);
            s.push('"');
            push_raw_field(&mut out, "trace_id", &s);
        }
        if !e.span_id.is_empty() {
            let mut s = String::from("\"");
            push_hex(&mut s, &e.span_id);
            s.push('"');
            push_raw_field(&mut out, "span_id", &s);
        }
        if !e.filtered_attributes.is_empty() {
            let mut s = String::new();
            push_attributes(&mut s, &e.filtered_attributes);
            push_raw_field(&mut out, "filtered_attributes", &s);
        }
        out.push('}');
    }
    out.push(']');
    Some(out)
}

fn push_u64s(out: &mut String, key: &str, v: &[u64]) {
    let list: Vec<String> = v.iter().map(u64::to_string).collect();
    push_raw_field(out, key, &format!("[{}]", list.join(",")));
}

fn push_opt_f64(out: &mut String, key: &str, v: Option<f64>) {
    if let Some(v) = v {
        let mut s = String::new();
        push_f64(&mut s, v);
        push_raw_field(out, key, &s);
    }
}

fn histogram_value(p: &HistogramDataPoint) -> String {
    let mut out = String::from("{");
    push_raw_field(&mut out, "count", &p.count.to_string());
    push_opt_f64(&mut out, "sum", p.sum);
    push_opt_f64(&mut out, "min", p.min);
    push_opt_f64(&mut out, "max", p.max);
    push_u64s(&mut out, "bucket_counts", &p.bucket_counts);
    let mut bounds = String::from("[");
    for (i, b) in p.explicit_bounds.iter().enumerate() {
        if i > 0 {
            bounds.push(',');
        }
        push_f64(&mut bounds, *b);
    }
    bounds.push(']');
    push_raw_field(&mut out, "explicit_bounds", &bounds);
    out.push('}');
    out
}

fn buckets_text(b: &Buckets) -> String {
    let mut out = String::from("{");
    push_raw_field(&mut out, "offset", &b.offset.to_string());
    push_u64s(&mut out, "bucket_counts", &b.bucket_counts);
    out.push('}');
    out
}

fn exp_histogram_value(p: &ExponentialHistogramDataPoint) -> String {
    let mut out = String::from("{");
    push_raw_field(&mut out, "count", &p.count.to_string());
    push_opt_f64(&mut out, "sum", p.sum);
    push_opt_f64(&mut out, "min", p.min);
    push_opt_f64(&mut out, "max", p.max);
    push_raw_field(&mut out, "scale", &p.scale.to_string());
    push_raw_field(&mut out, "zero_count", &p.zero_count.to_string());
    push_opt_f64(&mut out, "zero_threshold", Some(p.zero_threshold));
    if let Some(b) = &p.positive {
        push_raw_field(&mut out, "positive", &buckets_text(b));
    }
    if let Some(b) = &p.negative {
        push_raw_field(&mut out, "negative", &buckets_text(b));
    }
    out.push('}');
    out
}

fn summary_value(p: &SummaryDataPoint) -> String {
    let mut out = String::from("{");
    push_raw_field(&mut out, "count", &p.count.to_string());
    push_opt_f64(&mut out, "sum", Some(p.sum));
    let mut q = String::from("[");
    for (i, v) in p.quantile_values.iter().enumerate() {
        if i > 0 {
            q.push(',');
        }
        q.push('{');
        push_opt_f64(&mut q, "quantile", Some(v.quantile));
        push_opt_f64(&mut q, "value", Some(v.value));
        q.push('}');
    }
    q.push(']');
    push_raw_field(&mut out, "quantile_values", &q);
    out.push('}');
    out
}

/// One data point, whatever its kind, reduced to what a row needs.
struct Point<'a> {
    attributes: &'a [KeyValue],
    start: u64,
    time: u64,
    flags: u32,
    exemplars: &'a [Exemplar],
    value_type: Option<&'static str>,
    /// VALUE as JSON.
    value: String,
}

fn number_point(p: &NumberDataPoint) -> Point<'_> {
    let (value_type, value) = match p.value {
        Some(number_data_point::Value::AsInt(i)) => (Some("INT"), i.to_string()),
        Some(number_data_point::Value::AsDouble(d)) => {
            let mut s = String::new();
            push_f64(&mut s, d);
            (Some("DOUBLE"), s)
        }
        None => (None, String::new()),
    };
    Point {
        attributes: &p.attributes,
        start: p.start_time_unix_nano,
        time: p.time_unix_nano,
        flags: p.flags,
        exemplars: &p.exemplars,
        value_type,
        value,
    }
}

fn points_of(metric: &Metric) -> (Kind<'_>, Vec<Point<'_>>) {
    let kind = |metric_type, temporality, monotonic| Kind {
        metric_type,
        temporality,
        monotonic,
        metric,
    };
    match &metric.data {
        None => (kind("gauge", None, None), Vec::new()),
        Some(Data::Gauge(g)) => (
            kind("gauge", None, None),
            g.data_points.iter().map(number_point).collect(),
        ),
        Some(Data::Sum(s)) => (
            kind("sum", Some(s.aggregation_temporality), Some(s.is_monotonic)),
            s.data_points.iter().map(number_point).collect(),
        ),
        Some(Data::Histogram(h)) => (
            kind("histogram", Some(h.aggregation_temporality), None),
            h.data_points
                .iter()
                .map(|p| Point {
                    attributes: &p.attributes,
                    start: p.start_time_unix_nano,
                    time: p.time_unix_nano,
                    flags: p.flags,
                    exemplars: &p.exemplars,
                    value_type: None,
                    value: histogram_value(p),
                })
                .collect(),
        ),
        Some(Data::ExponentialHistogram(h)) => (
            kind(
                "exponential_histogram",
                Some(h.aggregation_temporality),
                None,
            ),
            h.data_points
                .iter()
                .map(|p| Point {
                    attributes: &p.attributes,
                    start: p.start_time_unix_nano,
                    time: p.time_unix_nano,
                    flags: p.flags,
                    exemplars: &p.exemplars,
                    value_type: None,
                    value: exp_histogram_value(p),
                })
                .collect(),
        ),
        Some(Data::Summary(s)) => (
            kind("summary", None, None),
            s.data_points
                .iter()
                .map(|p| Point {
                    attributes: &p.attributes,
                    start: p.start_time_unix_nano,
                    time: p.time_unix_nano,
                    flags: p.flags,
                    exemplars: &[],
                    value_type: None,
                    value: summary_value(p),
                })
                .collect(),
        ),
    }
}

/// Appends a METRIC row per data point. TIMESTAMP is the point's time, START_TIMESTAMP its
/// start time (NULL when unset); VALUE the number, or for histograms and summaries an object
/// of their fields; EXEMPLARS the point's exemplars.
pub fn metrics_to_rows(req: &ExportMetricsServiceRequest, out: &mut BatchBuilder) -> Mapped {
    let mut m = Mapped::default();
    for rm in &req.resource_metrics {
        let resource = resource_text(rm.resource.as_ref());
        for sm in &rm.scope_metrics {
            let (scope, scope_attributes) = scope_texts(sm.scope.as_ref());
            for metric in &sm.metrics {
                let (kind, points) = points_of(metric);
                // Points of one metric nearly always share one RECORD.
                let mut records: Vec<(Option<&str>, u32, JsonText)> = Vec::new();
                for p in points {
                    let times = time_ns(p.time, "time_unix_nano")
                        .and_then(|t| Ok((t, nonzero_time(p.start, "start_time_unix_nano")?)));
                    let (time, start) = match times {
                        Ok(t) => t,
                        Err(e) => {
                            m.reject(format!("metric {:?}: {e}", metric.name));
                            continue;
                        }
                    };
                    let record = match records
                        .iter()
                        .find(|(v, f, _)| *v == p.value_type && *f == p.flags)
                    {
                        Some((_, _, r)) => r.clone(),
                        None => {
                            let r = JsonText::from_json_unchecked(record_text(
                                &kind,
                                p.value_type,
                                p.flags,
                            ));
                            records.push((p.value_type, p.flags, r.clone()));
                            r
                        }
                    };
                    let attrs = attributes_text(p.attributes).map(JsonText::from_json_unchecked);
                    let exemplars = exemplars_text(p.exemplars);
                    let row = Row {
                        timestamp_ns: time,
                        start_timestamp_ns: start,
                        observed_timestamp_ns: None,
                        trace: None,
                        resource_attributes: resource.as_ref(),
                        scope: scope.as_ref(),
                        record_type: RecordType::Metric,
                        record: Some(&record),
                        record_attributes: attrs.as_ref(),
                        value: if p.value.is_empty() {
                            Value::Null
                        } else {
                            Value::Json(&p.value)
                        },
                    };
                    out.append_with(&row, scope_attributes.as_ref(), exemplars.as_deref());
                    m.rows += 1;
                }
            }
        }
    }
    m
}
