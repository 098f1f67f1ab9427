//! The 13 columns of a Snowflake event table, in Snowflake's order, and their Arrow and
//! Parquet types.

use std::sync::{Arc, OnceLock};

use arrow_schema::extension::Json;
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowSchemaConverter;
use parquet::schema::types::SchemaDescriptor;

/// How a column is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// Nanoseconds since the Unix epoch, UTC, no time zone in the type (TIMESTAMP_NTZ).
    Timestamp,
    /// Plain text (RECORD_TYPE).
    Text,
    /// JSON text for a Snowflake OBJECT, VARIANT or ARRAY column; loaded with `PARSE_JSON`.
    Json,
}

/// One event-table column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// Snowflake's upper-case column name.
    pub name: &'static str,
    /// The type of the column in Snowflake's own event table.
    pub snowflake_type: &'static str,
    /// How firn stores it in Arrow and Parquet.
    pub kind: ColumnKind,
    /// Whether every row has a value.
    pub required: bool,
    /// Values repeat across rows, so the Arrow builder keeps them as a dictionary.
    pub dictionary: bool,
    /// What the column holds, for generated docs.
    pub doc: &'static str,
}

macro_rules! col {
    ($name:literal, $sf:literal, $kind:ident, $req:literal, $dict:literal, $doc:literal) => {
        Column {
            name: $name,
            snowflake_type: $sf,
            kind: ColumnKind::$kind,
            required: $req,
            dictionary: $dict,
            doc: $doc,
        }
    };
}

/// The event-table columns, in Snowflake's order (SPCS.md §4).
pub const COLUMNS: [Column; 13] = [
    col!(
        "TIMESTAMP",
        "TIMESTAMP_NTZ",
        Timestamp,
        true,
        false,
        "When the event happened (UTC)."
    ),
    col!(
        "START_TIMESTAMP",
        "TIMESTAMP_NTZ",
        Timestamp,
        false,
        false,
        "Start of the interval of a `sum` metric (UTC)."
    ),
    col!(
        "OBSERVED_TIMESTAMP",
        "TIMESTAMP_NTZ",
        Timestamp,
        false,
        false,
        "When the agent saw the event (UTC)."
    ),
    col!(
        "TRACE",
        "OBJECT",
        Json,
        false,
        false,
        "`trace_id` and `span_id` in hex."
    ),
    col!("RESOURCE", "OBJECT", Json, false, true, "Reserved."),
    col!(
        "RESOURCE_ATTRIBUTES",
        "OBJECT",
        Json,
        false,
        true,
        "Who produced the event (`snow.*` keys)."
    ),
    col!(
        "SCOPE",
        "OBJECT",
        Json,
        false,
        true,
        "The instrumentation scope, `{\"name\": ...}`."
    ),
    col!(
        "SCOPE_ATTRIBUTES",
        "OBJECT",
        Json,
        false,
        true,
        "The instrumentation scope's attributes (OTLP data received by firn-collector)."
    ),
    col!(
        "RECORD_TYPE",
        "VARCHAR",
        Text,
        true,
        true,
        "LOG, METRIC, EVENT, SPAN or SPAN_EVENT."
    ),
    col!(
        "RECORD",
        "OBJECT",
        Json,
        false,
        true,
        "LOG: severity; METRIC: name, unit, metric_type, value_type; SPAN: name, kind, status, parent_span_id."
    ),
    col!(
        "RECORD_ATTRIBUTES",
        "OBJECT",
        Json,
        false,
        true,
        "Per-record attributes (`log.iostream`, `log.file.path`, metric attributes)."
    ),
    col!(
        "VALUE",
        "VARIANT",
        Json,
        false,
        false,
        "The log line (a JSON string) or the metric's number."
    ),
    col!(
        "EXEMPLARS",
        "ARRAY",
        Json,
        false,
        false,
        "METRIC: the data point's exemplars, `[{time_unix_nano, value, trace_id, span_id, filtered_attributes}]`."
    ),
];

/// Index of each column in [`COLUMNS`] and in every batch.
#[allow(missing_docs)]
pub mod idx {
    pub const TIMESTAMP: usize = 0;
    pub const START_TIMESTAMP: usize = 1;
    pub const OBSERVED_TIMESTAMP: usize = 2;
    pub const TRACE: usize = 3;
    pub const RESOURCE: usize = 4;
    pub const RESOURCE_ATTRIBUTES: usize = 5;
    pub const SCOPE: usize = 6;
    pub const SCOPE_ATTRIBUTES: usize = 7;
    pub const RECORD_TYPE: usize = 8;
    pub const RECORD: usize = 9;
    pub const RECORD_ATTRIBUTES: usize = 10;
    pub const VALUE: usize = 11;
    pub const EXEMPLARS: usize = 12;
}

fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, None)
}

/// The schema of the files: plain UTF-8 for text and JSON columns, the canonical
/// `arrow.json` extension on JSON columns so Parquet gets the JSON logical type.
pub fn file_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let fields: Vec<Field> = COLUMNS
                .iter()
                .map(|c| match c.kind {
                    ColumnKind::Timestamp => Field::new(c.name, timestamp_type(), !c.required),
                    ColumnKind::Text => Field::new(c.name, DataType::Utf8, !c.required),
                    ColumnKind::Json => Field::new(c.name, DataType::Utf8, !c.required)
                        .with_extension_type(Json::default()),
                })
                .collect();
            Arc::new(Schema::new(fields))
        })
        .clone()
}

/// The schema of the batches the builder yields: like [`file_schema`], but columns whose
/// values repeat are `Dictionary(Int32, Utf8)` so a repeated value is stored once per batch.
pub fn batch_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let file = file_schema();
            let fields: Vec<Field> = COLUMNS
                .iter()
                .zip(file.fields().iter())
                .map(|(c, f)| {
                    if c.dictionary {
                        // The extension type only admits plain strings; the Parquet schema
                        // is fixed separately (see `parquet_schema`), so drop it here.
                        Field::new(
                            c.name,
                            DataType::Dictionary(
                                Box::new(DataType::Int32),
                                Box::new(DataType::Utf8),
                            ),
                            !c.required,
                        )
                    } else {
                        f.as_ref().clone()
                    }
                })
                .collect();
            Arc::new(Schema::new(fields))
        })
        .clone()
}

/// The Parquet schema of the files: timestamps as `TIMESTAMP(isAdjustedToUTC=false, NANOS)`,
/// JSON columns as `BYTE_ARRAY (JSON)`, RECORD_TYPE as `BYTE_ARRAY (STRING)`.
///
/// # Panics
/// Never in practice: the schema is a constant that the unit tests convert.
#[allow(clippy::expect_used)]
pub fn parquet_schema() -> SchemaDescriptor {
    ArrowSchemaConverter::new()
        .schema_root("snowflake_event_table")
        .convert(&file_schema())
        .expect("the event-table schema converts to Parquet (unit-tested)")
}
