//! Rows of an Arrow batch (as the builder makes them or a Parquet file holds them) as
//! owned text, to view as [`RowView`]s.

use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, TimestampNanosecondType};
use arrow_array::{Array, RecordBatch, StringArray};

use super::from_rows::RowView;

/// One row, owned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OwnedRow {
    /// TIMESTAMP, ns.
    pub timestamp_ns: i64,
    /// START_TIMESTAMP, ns.
    pub start_timestamp_ns: Option<i64>,
    /// OBSERVED_TIMESTAMP, ns.
    pub observed_timestamp_ns: Option<i64>,
    /// TRACE, RESOURCE_ATTRIBUTES, SCOPE, SCOPE_ATTRIBUTES, RECORD, RECORD_ATTRIBUTES, VALUE,
    /// EXEMPLARS (and a slot used while reading).
    pub text: [Option<String>; 9],
    /// RECORD_TYPE.
    pub record_type: String,
}

impl OwnedRow {
    /// The row as a view.
    pub fn view(&self) -> RowView<'_> {
        let t = |i: usize| self.text[i].as_deref();
        RowView {
            timestamp_ns: self.timestamp_ns,
            start_timestamp_ns: self.start_timestamp_ns,
            observed_timestamp_ns: self.observed_timestamp_ns,
            trace: t(0),
            resource_attributes: t(1),
            scope: t(2),
            scope_attributes: t(3),
            record_type: &self.record_type,
            record: t(4),
            record_attributes: t(5),
            value: t(6),
            exemplars: t(7),
        }
    }
}

/// A column's text values, dictionary-encoded or plain. `None` if the column has another
/// type.
fn texts(a: &dyn Array) -> Option<Vec<Option<String>>> {
    if let Some(d) = a.as_dictionary_opt::<Int32Type>() {
        let values = d.values().as_string_opt::<i32>()?;
        return Some(
            d.keys()
                .iter()
                .map(|k| {
                    k.and_then(|k| usize::try_from(k).ok())
                        .map(|k| values.value(k).to_string())
                })
                .collect(),
        );
    }
    let s: &StringArray = a.as_string_opt::<i32>()?;
    Some(s.iter().map(|v| v.map(str::to_string)).collect())
}

fn times(a: &dyn Array) -> Option<Vec<Option<i64>>> {
    Some(
        a.as_primitive_opt::<TimestampNanosecondType>()?
            .iter()
            .collect(),
    )
}

/// The rows of a batch in the event-table layout ([`crate::batch_schema`] or a Parquet
/// file written from it). `None` if a column is missing or of another type.
pub fn owned_rows(batch: &RecordBatch) -> Option<Vec<OwnedRow>> {
    let col = |name: &str| batch.column_by_name(name);
    let ts = times(col("TIMESTAMP")?)?;
    let start = times(col("START_TIMESTAMP")?)?;
    let observed = times(col("OBSERVED_TIMESTAMP")?)?;
    let names = [
        "TRACE",
        "RESOURCE_ATTRIBUTES",
        "SCOPE",
        "SCOPE_ATTRIBUTES",
        "RECORD",
        "RECORD_ATTRIBUTES",
        "VALUE",
        "EXEMPLARS",
        "RECORD_TYPE",
    ];
    let mut cols = Vec::with_capacity(names.len());
    for n in names {
        cols.push(texts(col(n)?.as_ref())?);
    }
    Some(
        (0..batch.num_rows())
            .map(|i| {
                let mut text: [Option<String>; 9] = Default::default();
                for (c, slot) in cols.iter().zip(text.iter_mut()) {
                    *slot = c[i].clone();
                }
                let record_type = text[8].take().unwrap_or_default();
                OwnedRow {
                    timestamp_ns: ts[i].unwrap_or(0),
                    start_timestamp_ns: start[i],
                    observed_timestamp_ns: observed[i],
                    text,
                    record_type,
                }
            })
            .collect(),
    )
}

/// A text column of a batch, dictionary-encoded or plain, read in place.
enum TextColumn<'a> {
    Dict(&'a arrow_array::Int32Array, &'a StringArray),
    Plain(&'a StringArray),
}

impl<'a> TextColumn<'a> {
    fn of(a: &'a dyn Array) -> Option<Self> {
        if let Some(d) = a.as_dictionary_opt::<Int32Type>() {
            return Some(Self::Dict(d.keys(), d.values().as_string_opt::<i32>()?));
        }
        Some(Self::Plain(a.as_string_opt::<i32>()?))
    }

    fn get(&self, i: usize) -> Option<&'a str> {
        match self {
            Self::Dict(keys, values) => {
                if keys.is_null(i) {
                    return None;
                }
                let k = usize::try_from(keys.value(i)).ok()?;
                (k < values.len() && values.is_valid(k)).then(|| values.value(k))
            }
            Self::Plain(s) => s.is_valid(i).then(|| s.value(i)),
        }
    }
}

/// The rows of a batch in the event-table layout as views into it (nothing copied). The name
/// of a column that is missing or of another type on error.
pub(crate) fn batch_views(batch: &RecordBatch) -> Result<Vec<RowView<'_>>, &'static str> {
    fn col<'b>(batch: &'b RecordBatch, name: &'static str) -> Result<&'b dyn Array, &'static str> {
        batch.column_by_name(name).map(|c| c.as_ref()).ok_or(name)
    }
    let times = |name: &'static str| {
        col(batch, name)?
            .as_primitive_opt::<TimestampNanosecondType>()
            .ok_or(name)
    };
    let text = |name: &'static str| TextColumn::of(col(batch, name)?).ok_or(name);
    let (ts, start, observed) = (
        times("TIMESTAMP")?,
        times("START_TIMESTAMP")?,
        times("OBSERVED_TIMESTAMP")?,
    );
    let trace = text("TRACE")?;
    let resource = text("RESOURCE_ATTRIBUTES")?;
    let scope = text("SCOPE")?;
    let scope_attributes = text("SCOPE_ATTRIBUTES")?;
    let record_type = text("RECORD_TYPE")?;
    let record = text("RECORD")?;
    let record_attributes = text("RECORD_ATTRIBUTES")?;
    let value = text("VALUE")?;
    let exemplars = text("EXEMPLARS")?;
    let opt =
        |a: &arrow_array::TimestampNanosecondArray, i: usize| a.is_valid(i).then(|| a.value(i));
    Ok((0..batch.num_rows())
        .map(|i| RowView {
            timestamp_ns: opt(ts, i).unwrap_or(0),
            start_timestamp_ns: opt(start, i),
            observed_timestamp_ns: opt(observed, i),
            trace: trace.get(i),
            resource_attributes: resource.get(i),
            scope: scope.get(i),
            scope_attributes: scope_attributes.get(i),
            record_type: record_type.get(i).unwrap_or_default(),
            record: record.get(i),
            record_attributes: record_attributes.get(i),
            value: value.get(i),
            exemplars: exemplars.get(i),
        })
        .collect())
}
