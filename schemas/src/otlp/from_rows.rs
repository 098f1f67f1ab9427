//! Event-table rows -> OTLP requests: the inverse of [`super::to_rows`], for the agent's
//! OTLP export and for checking the mapping.

use std::collections::HashMap;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{ResourceMetrics, ScopeMetrics};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span};
use serde_json::{Map, Value as J};

use super::json::{any_from_json, attributes_from_map, bytes_from_hex};
use super::metrics_back::MetricsBack;
use super::names::{span_kind_number, status_code_number};

/// One row with its JSON columns as text: what a Parquet file or a [`crate::Row`] holds.
#[derive(Debug, Clone, Copy, Default)]
pub struct RowView<'a> {
    /// TIMESTAMP, ns.
    pub timestamp_ns: i64,
    /// START_TIMESTAMP, ns.
    pub start_timestamp_ns: Option<i64>,
    /// OBSERVED_TIMESTAMP, ns.
    pub observed_timestamp_ns: Option<i64>,
    /// TRACE.
    pub trace: Option<&'a str>,
    /// RESOURCE_ATTRIBUTES.
    pub resource_attributes: Option<&'a str>,
    /// SCOPE.
    pub scope: Option<&'a str>,
    /// SCOPE_ATTRIBUTES.
    pub scope_attributes: Option<&'a str>,
    /// RECORD_TYPE.
    pub record_type: &'a str,
    /// RECORD.
    pub record: Option<&'a str>,
    /// RECORD_ATTRIBUTES.
    pub record_attributes: Option<&'a str>,
    /// VALUE.
    pub value: Option<&'a str>,
    /// EXEMPLARS.
    pub exemplars: Option<&'a str>,
}

/// The three OTLP requests a set of rows makes.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct OtlpRequests {
    /// LOG and EVENT rows (an EVENT becomes a log record with `event_name`).
    pub logs: ExportLogsServiceRequest,
    /// METRIC rows.
    pub metrics: ExportMetricsServiceRequest,
    /// SPAN and SPAN_EVENT rows.
    pub traces: ExportTraceServiceRequest,
    /// Rows that have no OTLP form: unknown RECORD_TYPE, or a SPAN_EVENT whose span is not
    /// among the rows.
    pub skipped: usize,
}

/// A row whose JSON columns do not parse.
#[derive(Debug, thiserror::Error)]
#[error("row {row}: column {column} is not a JSON {want}: {detail}")]
pub struct FromRowsError {
    /// Index of the row in the input.
    pub row: usize,
    /// The column.
    pub column: &'static str,
    /// What it should have been.
    pub want: &'static str,
    /// The parser's complaint.
    pub detail: String,
}

pub(crate) fn parse_object(
    text: Option<&str>,
    row: usize,
    column: &'static str,
) -> Result<Map<String, J>, FromRowsError> {
    let err = |detail: String| FromRowsError {
        row,
        column,
        want: "object",
        detail,
    };
    match text {
        None => Ok(Map::new()),
        Some(t) => match serde_json::from_str(t) {
            Ok(J::Object(o)) => Ok(o),
            Ok(_) => Err(err("not an object".into())),
            Err(e) => Err(err(e.to_string())),
        },
    }
}

pub(crate) fn parse_value(
    text: Option<&str>,
    row: usize,
    column: &'static str,
) -> Result<J, FromRowsError> {
    match text {
        None => Ok(J::Null),
        Some(t) => serde_json::from_str(t).map_err(|e| FromRowsError {
            row,
            column,
            want: "value",
            detail: e.to_string(),
        }),
    }
}

pub(crate) fn get_str(o: &Map<String, J>, k: &str) -> String {
    o.get(k).and_then(J::as_str).unwrap_or_default().to_string()
}

pub(crate) fn get_u32(o: &Map<String, J>, k: &str) -> u32 {
    o.get(k)
        .and_then(J::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(0)
}

pub(crate) fn get_hex(o: &Map<String, J>, k: &str) -> Vec<u8> {
    o.get(k)
        .and_then(J::as_str)
        .and_then(bytes_from_hex)
        .unwrap_or_default()
}

pub(crate) fn get_attrs(o: &Map<String, J>, k: &str) -> Vec<KeyValue> {
    match o.get(k) {
        Some(J::Object(a)) => attributes_from_map(a),
        _ => Vec::new(),
    }
}

pub(crate) fn time_u64(ns: Option<i64>) -> u64 {
    ns.and_then(|t| u64::try_from(t).ok()).unwrap_or(0)
}

/// Where each (resource, scope) pair went, so rows of one scope land in one ScopeX.
#[derive(Debug, Default)]
pub(crate) struct Groups<'a> {
    resources: HashMap<Option<&'a str>, usize>,
    scopes: HashMap<(usize, Option<&'a str>, Option<&'a str>), usize>,
    /// Scopes so far per resource.
    scope_counts: Vec<usize>,
    /// The last row's texts by address, and its slot: rows read from one batch share their
    /// resource and scope texts, so most rows are placed without hashing them.
    last: Option<(TextAddrs, usize, usize)>,
}

/// Where a row's RESOURCE_ATTRIBUTES, SCOPE and SCOPE_ATTRIBUTES texts lie (address, length).
type TextAddrs = [(usize, usize); 3];

fn addr_of(s: Option<&str>) -> (usize, usize) {
    s.map_or((0, usize::MAX), addr)
}

/// A (resource, scope) slot: indexes, and whether each is new.
pub(crate) struct Slot {
    pub(crate) resource: usize,
    pub(crate) scope: usize,
    pub(crate) new_resource: bool,
    pub(crate) new_scope: bool,
}

impl<'a> Groups<'a> {
    pub(crate) fn slot(&mut self, r: &RowView<'a>) -> Slot {
        let key = [
            addr_of(r.resource_attributes),
            addr_of(r.scope),
            addr_of(r.scope_attributes),
        ];
        if let Some((last, resource, scope)) = self.last
            && last == key
        {
            return Slot {
                resource,
                scope,
                new_resource: false,
                new_scope: false,
            };
        }
        let s = self.slot_by_text(r);
        self.last = Some((key, s.resource, s.scope));
        s
    }

    fn slot_by_text(&mut self, r: &RowView<'a>) -> Slot {
        let n = self.resources.len();
        let resource = *self.resources.entry(r.resource_attributes).or_insert(n);
        let new_resource = resource == n;
        if new_resource {
            self.scope_counts.push(0);
        }
        let key = (resource, r.scope, r.scope_attributes);
        let n = self.scope_counts[resource];
        let scope = *self.scopes.entry(key).or_insert(n);
        if scope == n {
            self.scope_counts[resource] += 1;
        }
        Slot {
            resource,
            scope,
            new_resource,
            new_scope: scope == n,
        }
    }
}

pub(crate) fn resource_of(r: &RowView<'_>, row: usize) -> Result<Option<Resource>, FromRowsError> {
    Ok(match r.resource_attributes {
        None => None,
        Some(_) => Some(Resource {
            attributes: attributes_from_map(&parse_object(
                r.resource_attributes,
                row,
                "RESOURCE_ATTRIBUTES",
            )?),
            dropped_attributes_count: 0,
            entity_refs: Vec::new(),
        }),
    })
}

pub(crate) fn scope_of(
    r: &RowView<'_>,
    row: usize,
) -> Result<Option<InstrumentationScope>, FromRowsError> {
    if r.scope.is_none() && r.scope_attributes.is_none() {
        return Ok(None);
    }
    let s = parse_object(r.scope, row, "SCOPE")?;
    Ok(Some(InstrumentationScope {
        name: get_str(&s, "name"),
        version: get_str(&s, "version"),
        attributes: attributes_from_map(&parse_object(
            r.scope_attributes,
            row,
            "SCOPE_ATTRIBUTES",
        )?),
        dropped_attributes_count: get_u32(&s, "dropped_attributes_count"),
    }))
}

/// What a LOG or EVENT row's RECORD says.
#[derive(Debug, Clone, Default)]
struct LogHead {
    severity_number: i32,
    severity_text: String,
    event_name: String,
    dropped_attributes_count: u32,
    flags: u32,
}

fn log_head(record: Option<&str>, record_type: &str, row: usize) -> Result<LogHead, FromRowsError> {
    let rec = parse_object(record, row, "RECORD")?;
    Ok(LogHead {
        severity_number: rec
            .get("severity_number")
            .and_then(J::as_i64)
            .and_then(|n| i32::try_from(n).ok())
            .unwrap_or(0),
        severity_text: get_str(&rec, "severity_text"),
        event_name: if record_type == "EVENT" {
            get_str(&rec, "name")
        } else {
            get_str(&rec, "event_name")
        },
        dropped_attributes_count: get_u32(&rec, "dropped_attributes_count"),
        flags: get_u32(&rec, "flags"),
    })
}

/// Texts of a batch's dictionary columns parsed once each, found by their address in the
/// batch: a batch from the agent repeats a few RECORDs and attribute sets over thousands of
/// rows, and parsing each row's copy again was most of the export's cost.
///
/// Only for views whose RECORD and RECORD_ATTRIBUTES borrow from one batch's dictionaries
/// (equal address and length means the same value, and the batch outlives the memo).
#[derive(Debug, Default)]
pub(crate) struct Memo {
    heads: HashMap<(usize, usize, bool), LogHead>,
    attributes: HashMap<(usize, usize), Vec<KeyValue>>,
}

fn addr(s: &str) -> (usize, usize) {
    (s.as_ptr() as usize, s.len())
}

fn attributes_of(
    text: Option<&str>,
    row: usize,
    column: &'static str,
) -> Result<Vec<KeyValue>, FromRowsError> {
    Ok(attributes_from_map(&parse_object(text, row, column)?))
}

/// A VALUE: most log lines are a JSON string, read as one without building a JSON tree.
fn body_of(text: Option<&str>, row: usize) -> Result<Option<AnyValue>, FromRowsError> {
    if let Some(t) = text
        && t.starts_with('"')
        && let Ok(s) = serde_json::from_str::<String>(t)
    {
        return Ok(Some(AnyValue {
            value: Some(any_value::Value::StringValue(s)),
        }));
    }
    let body = parse_value(text, row, "VALUE")?;
    Ok((!body.is_null()).then(|| any_from_json(&body)))
}

fn log_of(
    r: &RowView<'_>,
    row: usize,
    memo: Option<&mut Memo>,
) -> Result<LogRecord, FromRowsError> {
    let (head, attributes) = match memo {
        None => (
            log_head(r.record, r.record_type, row)?,
            attributes_of(r.record_attributes, row, "RECORD_ATTRIBUTES")?,
        ),
        Some(m) => {
            let head = match r.record {
                None => LogHead::default(),
                Some(t) => {
                    let (a, n) = addr(t);
                    let key = (a, n, r.record_type == "EVENT");
                    match m.heads.get(&key) {
                        Some(h) => h.clone(),
                        None => {
                            let h = log_head(r.record, r.record_type, row)?;
                            m.heads.insert(key, h.clone());
                            h
                        }
                    }
                }
            };
            let attributes = match r.record_attributes {
                None => Vec::new(),
                Some(t) => match m.attributes.get(&addr(t)) {
                    Some(a) => a.clone(),
                    None => {
                        let a = attributes_of(r.record_attributes, row, "RECORD_ATTRIBUTES")?;
                        m.attributes.insert(addr(t), a.clone());
                        a
                    }
                },
            };
            (head, attributes)
        }
    };
    let (trace_id, span_id) = match r.trace {
        None => (Vec::new(), Vec::new()),
        Some(_) => {
            let trace = parse_object(r.trace, row, "TRACE")?;
            (get_hex(&trace, "trace_id"), get_hex(&trace, "span_id"))
        }
    };
    Ok(LogRecord {
        time_unix_nano: time_u64(Some(r.timestamp_ns)),
        observed_time_unix_nano: time_u64(r.observed_timestamp_ns),
        severity_number: head.severity_number,
        severity_text: head.severity_text,
        body: body_of(r.value, row)?,
        attributes,
        dropped_attributes_count: head.dropped_attributes_count,
        flags: head.flags,
        trace_id,
        span_id,
        event_name: head.event_name,
    })
}

fn span_of(r: &RowView<'_>, row: usize) -> Result<Span, FromRowsError> {
    let rec = parse_object(r.record, row, "RECORD")?;
    let trace = parse_object(r.trace, row, "TRACE")?;
    let status = match rec.get("status") {
        Some(J::Object(s)) => Some(Status {
            message: get_str(s, "message"),
            code: s.get("code").map(status_code_number).unwrap_or(0),
        }),
        _ => None,
    };
    let links = match rec.get("links") {
        Some(J::Array(ls)) => ls
            .iter()
            .filter_map(J::as_object)
            .map(|l| span::Link {
                trace_id: get_hex(l, "trace_id"),
                span_id: get_hex(l, "span_id"),
                trace_state: get_str(l, "trace_state"),
                attributes: get_attrs(l, "attributes"),
                dropped_attributes_count: get_u32(l, "dropped_attributes_count"),
                flags: get_u32(l, "flags"),
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(Span {
        trace_id: get_hex(&trace, "trace_id"),
        span_id: get_hex(&trace, "span_id"),
        trace_state: get_str(&rec, "trace_state"),
        parent_span_id: get_hex(&rec, "parent_span_id"),
        flags: get_u32(&rec, "flags"),
        name: get_str(&rec, "name"),
        kind: rec.get("kind").map(span_kind_number).unwrap_or(0),
        start_time_unix_nano: time_u64(r.start_timestamp_ns),
        end_time_unix_nano: time_u64(Some(r.timestamp_ns)),
        attributes: attributes_from_map(&parse_object(
            r.record_attributes,
            row,
            "RECORD_ATTRIBUTES",
        )?),
        dropped_attributes_count: get_u32(&rec, "dropped_attributes_count"),
        events: Vec::new(),
        dropped_events_count: get_u32(&rec, "dropped_events_count"),
        links,
        dropped_links_count: get_u32(&rec, "dropped_links_count"),
        status,
    })
}

fn event_of(r: &RowView<'_>, row: usize) -> Result<span::Event, FromRowsError> {
    let rec = parse_object(r.record, row, "RECORD")?;
    Ok(span::Event {
        time_unix_nano: time_u64(Some(r.timestamp_ns)),
        name: get_str(&rec, "name"),
        attributes: attributes_from_map(&parse_object(
            r.record_attributes,
            row,
            "RECORD_ATTRIBUTES",
        )?),
        dropped_attributes_count: get_u32(&rec, "dropped_attributes_count"),
    })
}

/// Rows back to OTLP. Rows of one resource and scope (equal RESOURCE_ATTRIBUTES, SCOPE and
/// SCOPE_ATTRIBUTES texts) share one `Resource*`/`Scope*` entry; points of one metric one
/// `Metric`; a SPAN_EVENT joins the span of its TRACE.
///
/// # Errors
/// When a JSON column of a row does not parse.
pub fn rows_to_otlp<'a>(
    rows: impl IntoIterator<Item = RowView<'a>>,
) -> Result<OtlpRequests, FromRowsError> {
    map_rows(rows, None)
}

/// [`rows_to_otlp`] over a batch in the event-table layout (as the builder makes it or a
/// Parquet file holds it), reading the rows where they lie and parsing each distinct RECORD
/// and RECORD_ATTRIBUTES once: the agent's OTLP export.
///
/// # Errors
/// When a column is missing or of another type, or a JSON column of a row does not parse.
pub fn batch_to_otlp(batch: &arrow_array::RecordBatch) -> Result<OtlpRequests, FromRowsError> {
    let views = super::read::batch_views(batch).map_err(|column| FromRowsError {
        row: 0,
        column,
        want: "event-table column",
        detail: "missing, or of another type".into(),
    })?;
    map_rows(views, Some(&mut Memo::default()))
}

fn map_rows<'a>(
    rows: impl IntoIterator<Item = RowView<'a>>,
    mut memo: Option<&mut Memo>,
) -> Result<OtlpRequests, FromRowsError> {
    let mut out = OtlpRequests::default();
    let mut log_groups = Groups::default();
    let mut span_groups = Groups::default();
    let mut spans: HashMap<&'a str, (usize, usize, usize)> = HashMap::new();
    let mut metrics = MetricsBack::default();
    for (i, r) in rows.into_iter().enumerate() {
        match r.record_type {
            "LOG" | "EVENT" => {
                let s = log_groups.slot(&r);
                let logs = &mut out.logs.resource_logs;
                if s.new_resource {
                    logs.push(ResourceLogs {
                        resource: resource_of(&r, i)?,
                        ..Default::default()
                    });
                }
                let rl = &mut logs[s.resource];
                if s.new_scope {
                    rl.scope_logs.push(ScopeLogs {
                        scope: scope_of(&r, i)?,
                        ..Default::default()
                    });
                }
                rl.scope_logs[s.scope]
                    .log_records
                    .push(log_of(&r, i, memo.as_deref_mut())?);
            }
            "SPAN" => {
                let s = span_groups.slot(&r);
                let all = &mut out.traces.resource_spans;
                if s.new_resource {
                    all.push(ResourceSpans {
                        resource: resource_of(&r, i)?,
                        ..Default::default()
                    });
                }
                let rs = &mut all[s.resource];
                if s.new_scope {
                    rs.scope_spans.push(ScopeSpans {
                        scope: scope_of(&r, i)?,
                        ..Default::default()
                    });
                }
                let list = &mut rs.scope_spans[s.scope].spans;
                list.push(span_of(&r, i)?);
                if let Some(t) = r.trace {
                    spans.insert(t, (s.resource, s.scope, list.len() - 1));
                }
            }
            "SPAN_EVENT" => match r.trace.and_then(|t| spans.get(t)) {
                Some(&(ri, si, k)) => {
                    let event = event_of(&r, i)?;
                    out.traces.resource_spans[ri].scope_spans[si].spans[k]
                        .events
                        .push(event);
                }
                None => out.skipped += 1,
            },
            "METRIC" => metrics.push(&r, i, &mut out.metrics.resource_metrics)?,
            _ => out.skipped += 1,
        }
    }
    Ok(out)
}

/// Creates the resource and scope entries of a metric row when new.
pub(crate) fn metric_slot<'a>(
    groups: &mut Groups<'a>,
    r: &RowView<'a>,
    row: usize,
    all: &mut Vec<ResourceMetrics>,
) -> Result<(usize, usize), FromRowsError> {
    let s = groups.slot(r);
    if s.new_resource {
        all.push(ResourceMetrics {
            resource: resource_of(r, row)?,
            ..Default::default()
        });
    }
    if s.new_scope {
        all[s.resource].scope_metrics.push(ScopeMetrics {
            scope: scope_of(r, row)?,
            ..Default::default()
        });
    }
    Ok((s.resource, s.scope))
}
