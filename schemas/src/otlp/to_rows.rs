//! OTLP requests -> event-table rows (see the module docs for the layout).

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{Span, span};

use super::json::{attributes_text, push_any, push_attributes, push_hex};
use super::names::{span_kind_name, status_code_name};
use crate::json::push_json_string;
use crate::{BatchBuilder, JsonText, RecordType, Row, Value};

/// What one request became.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Mapped {
    /// Rows appended.
    pub rows: usize,
    /// Records (log records, spans, data points) refused, for OTLP's `partial_success`.
    pub rejected: i64,
    /// Why the first refused record was refused.
    pub error: Option<String>,
}

impl Mapped {
    pub(crate) fn reject(&mut self, why: String) {
        self.rejected += 1;
        if self.error.is_none() {
            self.error = Some(why);
        }
    }
}

/// Nanoseconds as the table's signed type; OTLP's are unsigned.
pub(crate) fn time_ns(t: u64, what: &str) -> Result<i64, String> {
    i64::try_from(t).map_err(|_| format!("{what} {t} is past the year 2262"))
}

pub(crate) fn nonzero_time(t: u64, what: &str) -> Result<Option<i64>, String> {
    if t == 0 {
        Ok(None)
    } else {
        time_ns(t, what).map(Some)
    }
}

/// RESOURCE_ATTRIBUTES of a resource: its attributes, or NULL when it has none.
pub(crate) fn resource_text(resource: Option<&Resource>) -> Option<JsonText> {
    resource
        .and_then(|r| attributes_text(&r.attributes))
        .map(JsonText::from_json_unchecked)
}

/// SCOPE (`{"name", "version", "dropped_attributes_count"}`) and SCOPE_ATTRIBUTES.
pub(crate) fn scope_texts(
    scope: Option<&InstrumentationScope>,
) -> (Option<JsonText>, Option<JsonText>) {
    let Some(scope) = scope else {
        return (None, None);
    };
    let mut o = crate::ObjectWriter::new();
    o.string("name", &scope.name);
    if !scope.version.is_empty() {
        o.string("version", &scope.version);
    }
    if scope.dropped_attributes_count != 0 {
        o.int(
            "dropped_attributes_count",
            i64::from(scope.dropped_attributes_count),
        );
    }
    let attrs = attributes_text(&scope.attributes).map(JsonText::from_json_unchecked);
    (Some(o.finish()), attrs)
}

/// TRACE: `{"trace_id", "span_id"}` in hex, NULL when both are empty. Ids of the wrong
/// length are refused, not stored half-readable.
pub(crate) fn trace_text(trace_id: &[u8], span_id: &[u8]) -> Result<Option<String>, String> {
    if !matches!(trace_id.len(), 0 | 16) {
        return Err(format!(
            "trace_id has {} bytes, OTLP requires 16",
            trace_id.len()
        ));
    }
    if !matches!(span_id.len(), 0 | 8) {
        return Err(format!(
            "span_id has {} bytes, OTLP requires 8",
            span_id.len()
        ));
    }
    if trace_id.is_empty() && span_id.is_empty() {
        return Ok(None);
    }
    let mut out = String::with_capacity(64);
    out.push('{');
    if !trace_id.is_empty() {
        out.push_str("\"trace_id\":\"");
        push_hex(&mut out, trace_id);
        out.push('"');
    }
    if !span_id.is_empty() {
        if out.len() > 1 {
            out.push(',');
        }
        out.push_str("\"span_id\":\"");
        push_hex(&mut out, span_id);
        out.push('"');
    }
    out.push('}');
    Ok(Some(out))
}

fn push_key(out: &mut String, key: &str) {
    if !out.ends_with('{') && !out.ends_with('[') {
        out.push(',');
    }
    push_json_string(out, key);
    out.push(':');
}

/// Adds `"key": n` to an object being written, unless `n` is 0.
pub(crate) fn push_count(out: &mut String, key: &str, n: u32) {
    if n != 0 {
        push_key(out, key);
        out.push_str(&n.to_string());
    }
}

pub(crate) fn push_str_field(out: &mut String, key: &str, v: &str) {
    push_key(out, key);
    push_json_string(out, v);
}

pub(crate) fn push_raw_field(out: &mut String, key: &str, json: &str) {
    push_key(out, key);
    out.push_str(json);
}

/// The LOG row's RECORD: `severity_text`, `severity_number`, and when set `event_name`,
/// `flags` and `dropped_attributes_count`.
fn log_record_text(r: &LogRecord) -> String {
    let mut out = String::from("{");
    if !r.severity_text.is_empty() {
        push_str_field(&mut out, "severity_text", &r.severity_text);
    }
    if r.severity_number != 0 {
        push_raw_field(&mut out, "severity_number", &r.severity_number.to_string());
    }
    if !r.event_name.is_empty() {
        push_str_field(&mut out, "event_name", &r.event_name);
    }
    push_count(&mut out, "flags", r.flags);
    push_count(
        &mut out,
        "dropped_attributes_count",
        r.dropped_attributes_count,
    );
    out.push('}');
    out
}

/// Reuses the last shared text when the next is equal, so rows that repeat a RECORD share
/// one value (the batch builder then stores it once).
#[derive(Debug, Default)]
pub(crate) struct Shared {
    last: Option<JsonText>,
}

impl Shared {
    pub(crate) fn get(&mut self, text: String) -> JsonText {
        match &self.last {
            Some(t) if t.as_str() == text => t.clone(),
            _ => {
                let t = JsonText::from_json_unchecked(text);
                self.last = Some(t.clone());
                t
            }
        }
    }
}

/// Appends a row per log record. TIMESTAMP is the record's time, else its observed time,
/// else `received_ns`; OBSERVED_TIMESTAMP its observed time (NULL when unset); VALUE the
/// body as JSON.
pub fn logs_to_rows(
    req: &ExportLogsServiceRequest,
    out: &mut BatchBuilder,
    received_ns: i64,
) -> Mapped {
    let mut m = Mapped::default();
    let mut records = Shared::default();
    let mut body = String::new();
    for rl in &req.resource_logs {
        let resource = resource_text(rl.resource.as_ref());
        for sl in &rl.scope_logs {
            let (scope, scope_attributes) = scope_texts(sl.scope.as_ref());
            for r in &sl.log_records {
                let times = nonzero_time(r.time_unix_nano, "time_unix_nano").and_then(|t| {
                    Ok((t, nonzero_time(r.observed_time_unix_nano, "observed_time")?))
                });
                let (time, observed) = match times {
                    Ok(t) => t,
                    Err(e) => {
                        m.reject(format!("log record: {e}"));
                        continue;
                    }
                };
                let trace = match trace_text(&r.trace_id, &r.span_id) {
                    Ok(t) => t.map(JsonText::from_json_unchecked),
                    Err(e) => {
                        m.reject(format!("log record: {e}"));
                        continue;
                    }
                };
                let record = records.get(log_record_text(r));
                let attrs = attributes_text(&r.attributes).map(JsonText::from_json_unchecked);
                body.clear();
                let value = match r.body.as_ref() {
                    Some(b) if b.value.is_some() => {
                        push_any(&mut body, Some(b));
                        Value::Json(&body)
                    }
                    _ => Value::Null,
                };
                let row = Row {
                    timestamp_ns: time.or(observed).unwrap_or(received_ns),
                    start_timestamp_ns: None,
                    observed_timestamp_ns: observed,
                    trace: trace.as_ref(),
                    resource_attributes: resource.as_ref(),
                    scope: scope.as_ref(),
                    record_type: RecordType::Log,
                    record: Some(&record),
                    record_attributes: attrs.as_ref(),
                    value,
                };
                out.append_with(&row, scope_attributes.as_ref(), None);
                m.rows += 1;
            }
        }
    }
    m
}

/// The SPAN row's RECORD.
fn span_record_text(s: &Span) -> String {
    let mut out = String::from("{");
    push_str_field(&mut out, "name", &s.name);
    match span_kind_name(s.kind) {
        Some(k) => push_str_field(&mut out, "kind", k),
        None => push_raw_field(&mut out, "kind", &s.kind.to_string()),
    }
    if !s.parent_span_id.is_empty() {
        push_key(&mut out, "parent_span_id");
        out.push('"');
        push_hex(&mut out, &s.parent_span_id);
        out.push('"');
    }
    if let Some(status) = &s.status {
        push_key(&mut out, "status");
        out.push('{');
        match status_code_name(status.code) {
            Some(c) => push_str_field(&mut out, "code", c),
            None => push_raw_field(&mut out, "code", &status.code.to_string()),
        }
        if !status.message.is_empty() {
            push_str_field(&mut out, "message", &status.message);
        }
        out.push('}');
    }
    if !s.trace_state.is_empty() {
        push_str_field(&mut out, "trace_state", &s.trace_state);
    }
    push_count(&mut out, "flags", s.flags);
    push_count(
        &mut out,
        "dropped_attributes_count",
        s.dropped_attributes_count,
    );
    push_count(&mut out, "dropped_events_count", s.dropped_events_count);
    push_count(&mut out, "dropped_links_count", s.dropped_links_count);
    if !s.links.is_empty() {
        push_key(&mut out, "links");
        out.push('[');
        for (i, l) in s.links.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_link(&mut out, l);
        }
        out.push(']');
    }
    out.push('}');
    out
}

fn push_link(out: &mut String, l: &span::Link) {
    out.push('{');
    push_key(out, "trace_id");
    out.push('"');
    push_hex(out, &l.trace_id);
    out.push('"');
    push_key(out, "span_id");
    out.push('"');
    push_hex(out, &l.span_id);
    out.push('"');
    if !l.trace_state.is_empty() {
        push_str_field(out, "trace_state", &l.trace_state);
    }
    if !l.attributes.is_empty() {
        push_key(out, "attributes");
        push_attributes(out, &l.attributes);
    }
    push_count(out, "dropped_attributes_count", l.dropped_attributes_count);
    push_count(out, "flags", l.flags);
    out.push('}');
}

fn event_record_text(e: &span::Event) -> String {
    let mut out = String::from("{");
    push_str_field(&mut out, "name", &e.name);
    push_count(
        &mut out,
        "dropped_attributes_count",
        e.dropped_attributes_count,
    );
    out.push('}');
    out
}

/// Checks what a span row needs: ids of the right length (a span must have both) and
/// times that fit.
fn span_times(s: &Span) -> Result<(JsonText, i64, i64), String> {
    if s.trace_id.is_empty() || s.span_id.is_empty() {
        return Err("span without trace_id or span_id".into());
    }
    if !matches!(s.parent_span_id.len(), 0 | 8) {
        return Err(format!(
            "parent_span_id has {} bytes, OTLP requires 8",
            s.parent_span_id.len()
        ));
    }
    for l in &s.links {
        if l.trace_id.len() != 16 || l.span_id.len() != 8 {
            return Err("span link with malformed trace_id or span_id".into());
        }
    }
    let trace = trace_text(&s.trace_id, &s.span_id)?.unwrap_or_default();
    let start = time_ns(s.start_time_unix_nano, "start_time_unix_nano")?;
    let end = time_ns(s.end_time_unix_nano, "end_time_unix_nano")?;
    for e in &s.events {
        time_ns(e.time_unix_nano, "event time_unix_nano")?;
    }
    Ok((JsonText::from_json_unchecked(trace), start, end))
}

/// Appends a SPAN row per span (TIMESTAMP its end, START_TIMESTAMP its start) followed by
/// a SPAN_EVENT row per event (same TRACE).
pub fn traces_to_rows(req: &ExportTraceServiceRequest, out: &mut BatchBuilder) -> Mapped {
    let mut m = Mapped::default();
    let mut events = Shared::default();
    for rs in &req.resource_spans {
        let resource = resource_text(rs.resource.as_ref());
        for ss in &rs.scope_spans {
            let (scope, scope_attributes) = scope_texts(ss.scope.as_ref());
            for s in &ss.spans {
                let (trace, start, end) = match span_times(s) {
                    Ok(t) => t,
                    Err(e) => {
                        m.reject(format!("span {:?}: {e}", s.name));
                        continue;
                    }
                };
                let record = JsonText::from_json_unchecked(span_record_text(s));
                let attrs = attributes_text(&s.attributes).map(JsonText::from_json_unchecked);
                let row = Row {
                    timestamp_ns: end,
                    start_timestamp_ns: Some(start),
                    observed_timestamp_ns: None,
                    trace: Some(&trace),
                    resource_attributes: resource.as_ref(),
                    scope: scope.as_ref(),
                    record_type: RecordType::Span,
                    record: Some(&record),
                    record_attributes: attrs.as_ref(),
                    value: Value::Null,
                };
                out.append_with(&row, scope_attributes.as_ref(), None);
                m.rows += 1;
                for e in &s.events {
                    let record = events.get(event_record_text(e));
                    let attrs = attributes_text(&e.attributes).map(JsonText::from_json_unchecked);
                    let event = Row {
                        // Checked in span_times.
                        timestamp_ns: i64::try_from(e.time_unix_nano).unwrap_or(i64::MAX),
                        start_timestamp_ns: None,
                        record_type: RecordType::SpanEvent,
                        record: Some(&record),
                        record_attributes: attrs.as_ref(),
                        ..row
                    };
                    out.append_with(&event, scope_attributes.as_ref(), None);
                    m.rows += 1;
                }
            }
        }
    }
    m
}

/// Whether an attribute list has more than `max` entries or a value (any string or bytes,
/// at any depth) longer than `max_value_bytes`: what the collector refuses.
pub fn attributes_over(attrs: &[KeyValue], max: usize, max_value_bytes: usize) -> Option<String> {
    use opentelemetry_proto::tonic::common::v1::{AnyValue, any_value::Value as Any};
    fn value_over(v: Option<&AnyValue>, max: usize, max_bytes: usize) -> Option<String> {
        match v.and_then(|v| v.value.as_ref())? {
            Any::StringValue(s) if s.len() > max_bytes => {
                Some(format!("a value of {} bytes", s.len()))
            }
            Any::BytesValue(b) if b.len() > max_bytes => {
                Some(format!("a value of {} bytes", b.len()))
            }
            Any::ArrayValue(a) if a.values.len() > max => {
                Some(format!("an array of {} values", a.values.len()))
            }
            Any::ArrayValue(a) => a
                .values
                .iter()
                .find_map(|v| value_over(Some(v), max, max_bytes)),
            Any::KvlistValue(kv) => attributes_over(&kv.values, max, max_bytes),
            _ => None,
        }
    }
    if attrs.len() > max {
        return Some(format!("{} attributes", attrs.len()));
    }
    attrs.iter().find_map(|kv| {
        if kv.key.len() > max_value_bytes {
            return Some(format!("a key of {} bytes", kv.key.len()));
        }
        value_over(kv.value.as_ref(), max, max_value_bytes).map(|w| format!("{w} in {:?}", kv.key))
    })
}
