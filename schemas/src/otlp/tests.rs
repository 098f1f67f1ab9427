//! OTLP -> rows -> OTLP keeps every field the table has a place for (a property test over
//! generated requests), and hand-written expectations of the row layout.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value::Value as Any,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    Exemplar, ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram,
    HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary,
    SummaryDataPoint, exemplar, exponential_histogram_data_point::Buckets, metric::Data,
    number_data_point, summary_data_point::ValueAtQuantile,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use proptest::collection::{btree_map, vec};
use proptest::option;
use proptest::prelude::*;

use super::*;
use crate::BatchBuilder;

/// Doubles that JSON text carries exactly (multiples of 1/8).
fn double() -> impl Strategy<Value = f64> {
    any::<i32>().prop_map(|i| f64::from(i) / 8.0)
}

fn any_value() -> impl Strategy<Value = AnyValue> {
    let leaf = prop_oneof![
        ".{0,12}".prop_map(Any::StringValue),
        any::<bool>().prop_map(Any::BoolValue),
        any::<i64>().prop_map(Any::IntValue),
        double().prop_map(Any::DoubleValue),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(|values| Any::ArrayValue(ArrayValue {
                values: values
                    .into_iter()
                    .map(|v| AnyValue { value: Some(v) })
                    .collect()
            })),
            btree_map("[a-z.]{1,6}", inner, 0..4).prop_map(|m| Any::KvlistValue(KeyValueList {
                values: m
                    .into_iter()
                    .map(|(key, v)| KeyValue {
                        key,
                        value: Some(AnyValue { value: Some(v) }),
                        key_strindex: 0,
                    })
                    .collect()
            })),
        ]
    })
    .prop_map(|v| AnyValue { value: Some(v) })
}

fn attrs(max: usize) -> impl Strategy<Value = Vec<KeyValue>> {
    btree_map("[a-z_.]{1,10}", any_value(), 0..max).prop_map(|m| {
        m.into_iter()
            .map(|(key, v)| KeyValue {
                key,
                value: Some(v),
                key_strindex: 0,
            })
            .collect()
    })
}

/// A distinct resource per index: rows of equal resources share one entry on the way back.
fn resource(i: usize) -> impl Strategy<Value = Option<Resource>> {
    attrs(3).prop_map(move |mut a| {
        a.retain(|kv| kv.key != "service.name");
        a.push(KeyValue {
            key: "service.name".into(),
            value: Some(AnyValue {
                value: Some(Any::StringValue(format!("svc-{i}"))),
            }),
            key_strindex: 0,
        });
        // Attributes are a map: they come back in key order.
        a.sort_by(|x, y| x.key.cmp(&y.key));
        Some(Resource {
            attributes: a,
            dropped_attributes_count: 0,
            entity_refs: Vec::new(),
        })
    })
}

fn scope(i: usize) -> impl Strategy<Value = Option<InstrumentationScope>> {
    ("[a-z]{0,5}", attrs(3), 0u32..3).prop_map(move |(version, attributes, dropped)| {
        Some(InstrumentationScope {
            name: format!("scope-{i}"),
            version,
            attributes,
            dropped_attributes_count: dropped,
        })
    })
}

fn id(len: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![Just(Vec::new()), vec(any::<u8>(), len)]
}

fn time() -> impl Strategy<Value = u64> {
    1u64..4_000_000_000_000_000_000
}

fn log_record() -> impl Strategy<Value = LogRecord> {
    (
        (
            time(),
            prop_oneof![Just(0u64), time()],
            0i32..25,
            "[A-Z]{0,5}",
        ),
        option::of(any_value()),
        attrs(4),
        (0u32..3, 0u32..256, id(16), id(8), "[a-z.]{0,6}"),
    )
        .prop_map(
            |((t, o, sn, st), body, attributes, (d, f, tr, sp, ev))| LogRecord {
                time_unix_nano: t,
                observed_time_unix_nano: o,
                severity_number: sn,
                severity_text: st,
                body,
                attributes,
                dropped_attributes_count: d,
                flags: f,
                trace_id: tr,
                span_id: sp,
                event_name: ev,
            },
        )
}

fn logs() -> impl Strategy<Value = ExportLogsServiceRequest> {
    vec(vec(vec(log_record(), 1..4), 1..3), 1..3).prop_flat_map(|res| {
        let resources: Vec<_> = res
            .into_iter()
            .enumerate()
            .map(|(ri, scopes)| {
                let n = scopes.len();
                (
                    resource(ri),
                    (0..n).map(scope).collect::<Vec<_>>(),
                    Just(scopes),
                )
                    .prop_map(|(resource, sc, recs)| ResourceLogs {
                        resource,
                        scope_logs: sc
                            .into_iter()
                            .zip(recs)
                            .map(|(scope, log_records)| ScopeLogs {
                                scope,
                                log_records,
                                schema_url: String::new(),
                            })
                            .collect(),
                        schema_url: String::new(),
                    })
            })
            .collect();
        resources.prop_map(|resource_logs| ExportLogsServiceRequest { resource_logs })
    })
}

fn span_strategy(n: usize) -> impl Strategy<Value = Span> {
    (
        (vec(any::<u8>(), 16), id(8), "[a-z=,]{0,8}", 0u32..1024),
        ("[a-z ]{0,8}", 0i32..7, time(), time()),
        (attrs(4), 0u32..3, 0u32..3, 0u32..3),
        vec(
            (time(), "[a-z]{0,6}", attrs(3), 0u32..3).prop_map(|(t, name, a, d)| span::Event {
                time_unix_nano: t,
                name,
                attributes: a,
                dropped_attributes_count: d,
            }),
            0..3,
        ),
        vec(
            (
                vec(any::<u8>(), 16),
                vec(any::<u8>(), 8),
                "[a-z=]{0,5}",
                attrs(2),
                0u32..2,
                0u32..512,
            )
                .prop_map(|(trace_id, span_id, trace_state, attributes, d, flags)| {
                    span::Link {
                        trace_id,
                        span_id,
                        trace_state,
                        attributes,
                        dropped_attributes_count: d,
                        flags,
                    }
                }),
            0..2,
        ),
        option::of((0i32..4, "[a-z ]{0,8}").prop_map(|(code, message)| Status { message, code })),
    )
        .prop_map(
            move |(
                (tr, parent, ts, flags),
                (name, kind, start, end),
                (a, da, de, dl),
                events,
                links,
                status,
            )| {
                let mut span_id = vec![0u8; 8];
                span_id[..8].copy_from_slice(&(n as u64).to_be_bytes());
                Span {
                    trace_id: tr,
                    span_id,
                    trace_state: ts,
                    parent_span_id: parent,
                    flags,
                    name,
                    kind,
                    start_time_unix_nano: start,
                    end_time_unix_nano: end,
                    attributes: a,
                    dropped_attributes_count: da,
                    events,
                    dropped_events_count: de,
                    links,
                    dropped_links_count: dl,
                    status,
                }
            },
        )
}

fn traces() -> impl Strategy<Value = ExportTraceServiceRequest> {
    (1usize..3, 1usize..3, 1usize..4).prop_flat_map(|(nr, ns, nspan)| {
        let resources: Vec<_> = (0..nr)
            .map(|ri| {
                let scopes: Vec<_> = (0..ns)
                    .map(|si| {
                        let spans: Vec<_> = (0..nspan)
                            .map(|k| span_strategy((ri * 100 + si) * 100 + k))
                            .collect();
                        (scope(si), spans).prop_map(|(scope, spans)| ScopeSpans {
                            scope,
                            spans,
                            schema_url: String::new(),
                        })
                    })
                    .collect();
                (resource(ri), scopes).prop_map(|(resource, scope_spans)| ResourceSpans {
                    resource,
                    scope_spans,
                    schema_url: String::new(),
                })
            })
            .collect();
        resources.prop_map(|resource_spans| ExportTraceServiceRequest { resource_spans })
    })
}

fn exemplars() -> impl Strategy<Value = Vec<Exemplar>> {
    vec(
        (
            attrs(2),
            time(),
            id(8),
            id(16),
            prop_oneof![
                any::<i64>().prop_map(exemplar::Value::AsInt),
                double().prop_map(exemplar::Value::AsDouble)
            ],
        )
            .prop_map(|(a, t, s, tr, v)| Exemplar {
                filtered_attributes: a,
                time_unix_nano: t,
                span_id: s,
                trace_id: tr,
                value: Some(v),
            }),
        0..2,
    )
}

fn number_point() -> impl Strategy<Value = NumberDataPoint> {
    (
        attrs(3),
        prop_oneof![Just(0u64), time()],
        time(),
        exemplars(),
        0u32..2,
        option::of(prop_oneof![
            any::<i64>().prop_map(number_data_point::Value::AsInt),
            double().prop_map(number_data_point::Value::AsDouble)
        ]),
    )
        .prop_map(|(a, s, t, e, f, v)| NumberDataPoint {
            attributes: a,
            start_time_unix_nano: s,
            time_unix_nano: t,
            exemplars: e,
            flags: f,
            value: v,
        })
}

fn histogram_point() -> impl Strategy<Value = HistogramDataPoint> {
    (
        (attrs(3), time(), time(), any::<u64>()),
        (
            option::of(double()),
            option::of(double()),
            option::of(double()),
        ),
        (
            vec(any::<u64>(), 0..5),
            vec(double(), 0..4),
            exemplars(),
            0u32..2,
        ),
    )
        .prop_map(
            |((a, s, t, c), (sum, min, max), (bc, eb, e, f))| HistogramDataPoint {
                attributes: a,
                start_time_unix_nano: s,
                time_unix_nano: t,
                count: c,
                sum,
                bucket_counts: bc,
                explicit_bounds: eb,
                exemplars: e,
                flags: f,
                min,
                max,
            },
        )
}

fn buckets() -> impl Strategy<Value = Option<Buckets>> {
    option::of(
        (any::<i32>(), vec(any::<u64>(), 0..4)).prop_map(|(offset, bucket_counts)| Buckets {
            offset,
            bucket_counts,
        }),
    )
}

fn exp_point() -> impl Strategy<Value = ExponentialHistogramDataPoint> {
    (
        (
            attrs(3),
            time(),
            time(),
            any::<u64>(),
            -10i32..20,
            any::<u64>(),
        ),
        (
            option::of(double()),
            option::of(double()),
            option::of(double()),
            double(),
        ),
        (buckets(), buckets(), exemplars(), 0u32..2),
    )
        .prop_map(
            |((a, s, t, c, scale, zc), (sum, min, max, zt), (pos, neg, e, f))| {
                ExponentialHistogramDataPoint {
                    attributes: a,
                    start_time_unix_nano: s,
                    time_unix_nano: t,
                    count: c,
                    sum,
                    scale,
                    zero_count: zc,
                    positive: pos,
                    negative: neg,
                    flags: f,
                    exemplars: e,
                    min,
                    max,
                    zero_threshold: zt,
                }
            },
        )
}

fn summary_point() -> impl Strategy<Value = SummaryDataPoint> {
    (
        attrs(3),
        time(),
        time(),
        any::<u64>(),
        double(),
        vec((double(), double()), 0..4),
        0u32..2,
    )
        .prop_map(|(a, s, t, c, sum, q, f)| SummaryDataPoint {
            attributes: a,
            start_time_unix_nano: s,
            time_unix_nano: t,
            count: c,
            sum,
            quantile_values: q
                .into_iter()
                .map(|(quantile, value)| ValueAtQuantile { quantile, value })
                .collect(),
            flags: f,
        })
}

fn metric_data() -> impl Strategy<Value = Data> {
    prop_oneof![
        vec(number_point(), 1..3).prop_map(|data_points| Data::Gauge(Gauge { data_points })),
        (vec(number_point(), 1..3), 0i32..4, any::<bool>()).prop_map(|(data_points, t, m)| {
            Data::Sum(Sum {
                data_points,
                aggregation_temporality: t,
                is_monotonic: m,
            })
        }),
        (vec(histogram_point(), 1..3), 0i32..3).prop_map(|(data_points, t)| {
            Data::Histogram(Histogram {
                data_points,
                aggregation_temporality: t,
            })
        }),
        (vec(exp_point(), 1..3), 0i32..3).prop_map(|(data_points, t)| {
            Data::ExponentialHistogram(ExponentialHistogram {
                data_points,
                aggregation_temporality: t,
            })
        }),
        vec(summary_point(), 1..3).prop_map(|data_points| Data::Summary(Summary { data_points })),
    ]
}

fn metric(i: usize) -> impl Strategy<Value = Metric> {
    ("[a-z ]{0,8}", "[a-zA-Z/{}]{0,4}", attrs(2), metric_data()).prop_map(
        move |(description, unit, metadata, data)| Metric {
            name: format!("m{i}"),
            description,
            unit,
            metadata,
            data: Some(data),
        },
    )
}

fn metrics() -> impl Strategy<Value = ExportMetricsServiceRequest> {
    (1usize..3, 1usize..3, 1usize..4).prop_flat_map(|(nr, ns, nm)| {
        let resources: Vec<_> = (0..nr)
            .map(|ri| {
                let scopes: Vec<_> = (0..ns)
                    .map(|si| {
                        let ms: Vec<_> = (0..nm).map(metric).collect();
                        (scope(si), ms).prop_map(|(scope, metrics)| ScopeMetrics {
                            scope,
                            metrics,
                            schema_url: String::new(),
                        })
                    })
                    .collect();
                (resource(ri), scopes).prop_map(|(resource, scope_metrics)| ResourceMetrics {
                    resource,
                    scope_metrics,
                    schema_url: String::new(),
                })
            })
            .collect();
        resources.prop_map(|resource_metrics| ExportMetricsServiceRequest { resource_metrics })
    })
}

/// Rows back to OTLP by both paths, which must agree: owned rows, and the batch read in
/// place with each dictionary value parsed once (the agent's export).
fn back(b: &mut BatchBuilder) -> OtlpRequests {
    let batch = b.finish().unwrap();
    let rows = owned_rows(&batch).unwrap();
    let by_rows = rows_to_otlp(rows.iter().map(OwnedRow::view)).unwrap();
    let by_batch = batch_to_otlp(&batch).unwrap();
    assert_eq!(by_batch, by_rows, "batch_to_otlp and rows_to_otlp differ");
    by_rows
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn logs_round_trip(req in logs()) {
        let mut b = BatchBuilder::new();
        let m = logs_to_rows(&req, &mut b, 1);
        prop_assert_eq!(m.rejected, 0, "{:?}", m.error);
        let got = back(&mut b);
        prop_assert_eq!(got.skipped, 0);
        prop_assert_eq!(got.logs, req);
    }

    #[test]
    fn traces_round_trip(req in traces()) {
        let mut b = BatchBuilder::new();
        let m = traces_to_rows(&req, &mut b);
        prop_assert_eq!(m.rejected, 0, "{:?}", m.error);
        let got = back(&mut b);
        prop_assert_eq!(got.skipped, 0);
        prop_assert_eq!(got.traces, req);
    }

    #[test]
    fn metrics_round_trip(req in metrics()) {
        let mut b = BatchBuilder::new();
        let m = metrics_to_rows(&req, &mut b);
        prop_assert_eq!(m.rejected, 0, "{:?}", m.error);
        let got = back(&mut b);
        prop_assert_eq!(got.skipped, 0);
        prop_assert_eq!(got.metrics, req);
    }
}

/// The layout written by hand from SPCS.md §4, not from the code's output.
#[test]
fn span_and_sum_rows_follow_the_event_table_layout() {
    let span = Span {
        trace_id: vec![0xab; 16],
        span_id: vec![0x01; 8],
        parent_span_id: vec![0x02; 8],
        name: "GET /".into(),
        kind: 2,
        start_time_unix_nano: 10,
        end_time_unix_nano: 20,
        status: Some(Status {
            message: "boom".into(),
            code: 2,
        }),
        events: vec![span::Event {
            time_unix_nano: 15,
            name: "retry".into(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![span],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let mut b = BatchBuilder::new();
    traces_to_rows(&req, &mut b);
    let rows = owned_rows(&b.finish().unwrap()).unwrap();
    let trace = format!(
        r#"{{"trace_id":"{}","span_id":"0101010101010101"}}"#,
        "ab".repeat(16)
    );
    assert_eq!(rows.len(), 2);
    let (s, e) = (rows[0].view(), rows[1].view());
    assert_eq!(
        (s.record_type, s.timestamp_ns, s.start_timestamp_ns),
        ("SPAN", 20, Some(10))
    );
    assert_eq!(s.trace, Some(trace.as_str()));
    assert_eq!(
        s.record,
        Some(
            r#"{"name":"GET /","kind":"SPAN_KIND_SERVER","parent_span_id":"0202020202020202","status":{"code":"STATUS_CODE_ERROR","message":"boom"}}"#
        )
    );
    assert_eq!((e.record_type, e.timestamp_ns), ("SPAN_EVENT", 15));
    assert_eq!(e.trace, Some(trace.as_str()));
    assert_eq!(e.record, Some(r#"{"name":"retry"}"#));

    let req = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "requests".into(),
                    unit: "1".into(),
                    data: Some(Data::Sum(Sum {
                        data_points: vec![NumberDataPoint {
                            start_time_unix_nano: 5,
                            time_unix_nano: 9,
                            value: Some(number_data_point::Value::AsInt(42)),
                            ..Default::default()
                        }],
                        aggregation_temporality: 2,
                        is_monotonic: true,
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    metrics_to_rows(&req, &mut b);
    let rows = owned_rows(&b.finish().unwrap()).unwrap();
    let m = rows[0].view();
    assert_eq!(
        (m.record_type, m.timestamp_ns, m.start_timestamp_ns),
        ("METRIC", 9, Some(5))
    );
    assert_eq!(
        m.record,
        Some(
            r#"{"metric":{"name":"requests","unit":"1"},"metric_type":"sum","value_type":"INT","aggregation_temporality":"AGGREGATION_TEMPORALITY_CUMULATIVE","is_monotonic":true}"#
        )
    );
    assert_eq!(m.value, Some("42"));
}

#[test]
fn malformed_ids_are_refused_with_a_reason() {
    let req = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![
                    LogRecord {
                        time_unix_nano: 1,
                        trace_id: vec![1; 5],
                        ..Default::default()
                    },
                    LogRecord {
                        time_unix_nano: 2,
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let mut b = BatchBuilder::new();
    let m = logs_to_rows(&req, &mut b, 0);
    assert_eq!((m.rows, m.rejected), (1, 1));
    assert!(m.error.unwrap().contains("trace_id has 5 bytes"));
}
