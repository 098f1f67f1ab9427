//! Appends LOG, METRIC and EVENT rows and yields Arrow record batches.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use arrow_array::builder::{Int32Builder, StringBuilder, TimestampNanosecondBuilder};
use arrow_array::{ArrayRef, DictionaryArray, RecordBatch, types::Int32Type};
use arrow_schema::ArrowError;

use crate::columns::batch_schema;
use crate::json::{JsonText, ObjectWriter, write_json_string};

/// The RECORD_TYPE of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordType {
    /// A log line.
    Log,
    /// A metric data point.
    Metric,
    /// A standalone event.
    Event,
    /// A trace span.
    Span,
    /// An event inside a span.
    SpanEvent,
}

impl RecordType {
    /// Snowflake's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Log => "LOG",
            Self::Metric => "METRIC",
            Self::Event => "EVENT",
            Self::Span => "SPAN",
            Self::SpanEvent => "SPAN_EVENT",
        }
    }
}

/// OpenTelemetry log severities, as Snowflake writes them in `RECORD.severity_text`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// TRACE (1).
    Trace,
    /// DEBUG (5).
    Debug,
    /// INFO (9).
    Info,
    /// WARN (13).
    Warn,
    /// ERROR (17).
    Error,
    /// FATAL (21).
    Fatal,
}

impl Severity {
    /// All severities, lowest first.
    pub const ALL: [Severity; 6] = [
        Self::Trace,
        Self::Debug,
        Self::Info,
        Self::Warn,
        Self::Error,
        Self::Fatal,
    ];

    /// The text, e.g. `INFO`.
    pub fn text(self) -> &'static str {
        match self {
            Self::Trace => "TRACE",
            Self::Debug => "DEBUG",
            Self::Info => "INFO",
            Self::Warn => "WARN",
            Self::Error => "ERROR",
            Self::Fatal => "FATAL",
        }
    }

    /// The OpenTelemetry severity number of the level's first step, e.g. INFO = 9.
    pub fn number(self) -> i64 {
        match self {
            Self::Trace => 1,
            Self::Debug => 5,
            Self::Info => 9,
            Self::Warn => 13,
            Self::Error => 17,
            Self::Fatal => 21,
        }
    }

    /// Parses a severity text case-insensitively, accepting common aliases
    /// (`WARNING`, `ERR`, `CRITICAL`, `PANIC`, ...).
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim();
        let eq = |s: &str| t.eq_ignore_ascii_case(s);
        Some(if eq("TRACE") {
            Self::Trace
        } else if eq("DEBUG") {
            Self::Debug
        } else if eq("INFO") || eq("INFORMATION") || eq("NOTICE") {
            Self::Info
        } else if eq("WARN") || eq("WARNING") {
            Self::Warn
        } else if eq("ERROR") || eq("ERR") {
            Self::Error
        } else if eq("FATAL") || eq("CRITICAL") || eq("CRIT") || eq("PANIC") || eq("EMERG") {
            Self::Fatal
        } else {
            return None;
        })
    }

    /// The LOG row's RECORD for this severity: `{"severity_text":..,"severity_number":..}`,
    /// built once per process.
    pub fn record(self) -> &'static JsonText {
        static RECORDS: std::sync::OnceLock<Vec<JsonText>> = std::sync::OnceLock::new();
        let all = RECORDS.get_or_init(|| {
            Self::ALL
                .iter()
                .map(|s| {
                    let mut o = ObjectWriter::new();
                    o.string("severity_text", s.text())
                        .int("severity_number", s.number());
                    o.finish()
                })
                .collect()
        });
        &all[self as usize]
    }
}

/// Gauge or sum, as in RECORD.metric_type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricType {
    /// A sampled value.
    Gauge,
    /// A cumulative or delta sum; rows carry START_TIMESTAMP.
    Sum,
}

/// INT or DOUBLE, as in RECORD.value_type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    /// Integer values.
    Int,
    /// Floating-point values.
    Double,
}

/// The METRIC row's RECORD:
/// `{"metric":{"name":..,"unit":..},"metric_type":"gauge","value_type":"DOUBLE"}`.
/// Build it once per metric and share it.
pub fn metric_record(name: &str, unit: &str, kind: MetricType, value: ValueType) -> JsonText {
    let mut metric = ObjectWriter::new();
    metric.string("name", name).string("unit", unit);
    let metric = metric.finish();
    let mut o = ObjectWriter::new();
    o.raw("metric", metric.as_str())
        .string(
            "metric_type",
            match kind {
                MetricType::Gauge => "gauge",
                MetricType::Sum => "sum",
            },
        )
        .string(
            "value_type",
            match value {
                ValueType::Int => "INT",
                ValueType::Double => "DOUBLE",
            },
        );
    o.finish()
}

/// The VALUE of a row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// NULL.
    Null,
    /// A string (a log line); stored as a JSON string.
    Text(&'a str),
    /// An integer.
    Int(i64),
    /// A float; NaN and infinities are stored as JSON `null`.
    Double(f64),
    /// A boolean.
    Bool(bool),
    /// Any JSON the caller already serialised.
    Json(&'a str),
}

/// One event-table row. JSON columns are shared [`JsonText`]s.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    /// When it happened, ns since the epoch (UTC).
    pub timestamp_ns: i64,
    /// Start of the interval of a sum metric.
    pub start_timestamp_ns: Option<i64>,
    /// When the agent saw it.
    pub observed_timestamp_ns: Option<i64>,
    /// `{"trace_id":..,"span_id":..}`.
    pub trace: Option<&'a JsonText>,
    /// `snow.*` resource attributes.
    pub resource_attributes: Option<&'a JsonText>,
    /// `{"name":..}`.
    pub scope: Option<&'a JsonText>,
    /// LOG, METRIC, ...
    pub record_type: RecordType,
    /// See [`Severity::record`] and [`metric_record`].
    pub record: Option<&'a JsonText>,
    /// Per-record attributes.
    pub record_attributes: Option<&'a JsonText>,
    /// The line or the number.
    pub value: Value<'a>,
}

impl<'a> Row<'a> {
    /// A row of `record_type` observed when it happened, with no optional column set.
    fn new(
        timestamp_ns: i64,
        record_type: RecordType,
        record: &'a JsonText,
        value: Value<'a>,
    ) -> Self {
        Self {
            timestamp_ns,
            start_timestamp_ns: None,
            observed_timestamp_ns: Some(timestamp_ns),
            trace: None,
            resource_attributes: None,
            scope: None,
            record_type,
            record: Some(record),
            record_attributes: None,
            value,
        }
    }

    /// A LOG row with the given severity and line.
    pub fn log(timestamp_ns: i64, severity: Severity, line: &'a str) -> Self {
        Self::new(
            timestamp_ns,
            RecordType::Log,
            severity.record(),
            Value::Text(line),
        )
    }

    /// A METRIC row; `record` comes from [`metric_record`].
    pub fn metric(timestamp_ns: i64, record: &'a JsonText, value: Value<'a>) -> Self {
        Self::new(timestamp_ns, RecordType::Metric, record, value)
    }

    /// An EVENT row; `record` is typically `{"name": ...}`.
    pub fn event(timestamp_ns: i64, record: &'a JsonText, value: Value<'a>) -> Self {
        Self::new(timestamp_ns, RecordType::Event, record, value)
    }
}

/// Hashes a pointer: the address is already unique, so one multiply spreads it.
#[derive(Debug, Default)]
struct PtrHasher(u64);

impl std::hash::Hasher for PtrHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8 | u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// A column whose values repeat: keys into a per-batch dictionary.
#[derive(Debug, Default)]
struct DictColumn {
    keys: Int32Builder,
    values: StringBuilder,
    index: HashMap<Arc<str>, i32, ahash::RandomState>,
    /// Keys by the address of a value's text. Sound because `index` holds every value seen
    /// this batch, so no address is reused by another value before both are cleared.
    by_ptr: HashMap<usize, i32, std::hash::BuildHasherDefault<PtrHasher>>,
    /// The last value appended; held so its address cannot be reused by another value.
    last: Option<(Arc<str>, i32)>,
}

impl DictColumn {
    fn append(&mut self, v: Option<&JsonText>) {
        match v {
            None => self.keys.append_null(),
            Some(v) => {
                let key = self.key(v.arc());
                self.keys.append_value(key);
            }
        }
    }

    fn append_str(&mut self, v: &'static str) {
        let key = match self.index.get(v) {
            Some(k) => *k,
            None => self.insert(Arc::from(v)),
        };
        self.keys.append_value(key);
    }

    fn key(&mut self, v: &Arc<str>) -> i32 {
        if let Some((last, key)) = &self.last
            && Arc::ptr_eq(last, v)
        {
            return *key;
        }
        let addr = Arc::as_ptr(v).cast::<u8>() as usize;
        let key = match self.by_ptr.get(&addr) {
            Some(k) => *k,
            None => {
                let key = match self.index.get(v) {
                    Some(k) => *k,
                    None => self.insert(v.clone()),
                };
                // Only an address `index` keeps alive may be remembered.
                if self
                    .index
                    .get_key_value(v)
                    .is_some_and(|(held, _)| Arc::ptr_eq(held, v))
                {
                    self.by_ptr.insert(addr, key);
                }
                key
            }
        };
        self.last = Some((v.clone(), key));
        key
    }

    fn insert(&mut self, v: Arc<str>) -> i32 {
        // A batch never holds 2^31 distinct values: the builder is flushed long before.
        let key = i32::try_from(self.index.len()).unwrap_or(i32::MAX);
        self.values.append_value(&v);
        self.index.insert(v, key);
        key
    }

    fn finish(&mut self) -> Result<ArrayRef, ArrowError> {
        self.by_ptr.clear();
        self.index.clear();
        self.last = None;
        let keys = self.keys.finish();
        let values = self.values.finish();
        Ok(Arc::new(DictionaryArray::<Int32Type>::try_new(
            keys,
            Arc::new(values),
        )?))
    }
}

/// Builds Arrow record batches of event-table rows.
///
/// ```
/// use firn_schemas::{BatchBuilder, JsonText, Row, Severity};
/// let resource = JsonText::string_object([("snow.service.name", "echo")]);
/// let mut b = BatchBuilder::new();
/// let mut row = Row::log(1_700_000_000_000_000_000, Severity::Info, "hello");
/// row.resource_attributes = Some(&resource);
/// b.append(&row);
/// let batch = b.finish().unwrap();
/// assert_eq!(batch.num_rows(), 1);
/// ```
#[derive(Debug, Default)]
pub struct BatchBuilder {
    timestamp: TimestampNanosecondBuilder,
    start_timestamp: TimestampNanosecondBuilder,
    observed_timestamp: TimestampNanosecondBuilder,
    trace: StringBuilder,
    resource: DictColumn,
    resource_attributes: DictColumn,
    scope: DictColumn,
    scope_attributes: DictColumn,
    record_type: DictColumn,
    record: DictColumn,
    record_attributes: DictColumn,
    value: StringBuilder,
    exemplars: StringBuilder,
    rows: usize,
    value_bytes: usize,
}

impl BatchBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rows appended since the last [`finish`](Self::finish).
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether no row has been appended since the last finish.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Roughly how many bytes the pending rows take: what a caller bounds memory by.
    pub fn approx_bytes(&self) -> usize {
        self.value_bytes + self.rows * 64
    }

    /// Appends one row.
    pub fn append(&mut self, row: &Row<'_>) {
        self.append_with(row, None, None);
    }

    /// Appends one row with the two columns only OTLP data fills: SCOPE_ATTRIBUTES (shared,
    /// like the other object columns) and EXEMPLARS (a JSON array, per row).
    pub fn append_with(
        &mut self,
        row: &Row<'_>,
        scope_attributes: Option<&JsonText>,
        exemplars: Option<&str>,
    ) {
        self.timestamp.append_value(row.timestamp_ns);
        self.start_timestamp.append_option(row.start_timestamp_ns);
        self.observed_timestamp
            .append_option(row.observed_timestamp_ns);
        match row.trace {
            Some(t) => self.trace.append_value(t.as_str()),
            None => self.trace.append_null(),
        }
        self.resource.append(None);
        self.resource_attributes.append(row.resource_attributes);
        self.scope.append(row.scope);
        self.scope_attributes.append(scope_attributes);
        self.record_type.append_str(row.record_type.as_str());
        self.record.append(row.record);
        self.record_attributes.append(row.record_attributes);
        self.append_value(row.value);
        match exemplars {
            Some(e) => {
                self.value_bytes += e.len();
                self.exemplars.append_value(e);
            }
            None => self.exemplars.append_null(),
        }
        self.rows += 1;
    }

    fn append_value(&mut self, v: Value<'_>) {
        let b = &mut self.value;
        // Writing into the builder's buffer cannot fail.
        match v {
            Value::Null => return b.append_null(),
            Value::Text(s) => {
                self.value_bytes += s.len() + 2;
                let _ = write_json_string(b, s);
            }
            Value::Int(i) => {
                let _ = write!(b, "{i}");
            }
            Value::Double(d) if d.is_finite() => {
                let _ = write!(b, "{d}");
            }
            Value::Double(_) => b.write_str("null").unwrap_or(()),
            Value::Bool(x) => b.write_str(if x { "true" } else { "false" }).unwrap_or(()),
            Value::Json(s) => {
                self.value_bytes += s.len();
                b.write_str(s).unwrap_or(());
            }
        }
        b.append_value("");
    }

    /// Yields the rows appended so far as one batch and starts afresh.
    ///
    /// # Errors
    /// Only if Arrow rejects the arrays, which would be a bug in this builder.
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.timestamp.finish()),
            Arc::new(self.start_timestamp.finish()),
            Arc::new(self.observed_timestamp.finish()),
            Arc::new(self.trace.finish()),
            self.resource.finish()?,
            self.resource_attributes.finish()?,
            self.scope.finish()?,
            self.scope_attributes.finish()?,
            self.record_type.finish()?,
            self.record.finish()?,
            self.record_attributes.finish()?,
            Arc::new(self.value.finish()),
            Arc::new(self.exemplars.finish()),
        ];
        // The next batch is likely the size of this one: reserve it now rather than grow by
        // doubling (each doubling copies every value so far).
        self.value = StringBuilder::with_capacity(self.rows, self.value_bytes + self.rows * 8);
        self.rows = 0;
        self.value_bytes = 0;
        RecordBatch::try_new(batch_schema(), columns)
    }
}
