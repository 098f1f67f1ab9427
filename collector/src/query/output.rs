//! Writes a result as a table, CSV or JSON, batch by batch (CSV and JSON stream; the table
//! holds at most `max_rows` rows to size its columns).

use std::io::Write;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;
use futures::StreamExt;

use super::engine::Running;
use super::error::QueryError;

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A text table (the first --max-rows rows).
    Table,
    /// CSV with a header line.
    Csv,
    /// One JSON array of objects, a key for every column (NULL as null).
    Json,
}

/// Rows written and whether the table was cut at `max_rows`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Written {
    /// Rows the query produced.
    pub rows: u64,
    /// Rows left out of a table past `max_rows`.
    pub rows_not_shown: u64,
}

enum Sink<W: Write> {
    Table {
        out: W,
        batches: Vec<RecordBatch>,
        kept: usize,
    },
    Csv(Box<datafusion::arrow::csv::Writer<W>>),
    Json(Box<datafusion::arrow::json::ArrayWriter<W>>),
}

fn out_err(e: impl std::fmt::Display) -> QueryError {
    QueryError::Output(e.to_string())
}

/// Runs the stream to its end, writing every batch to `out`.
///
/// # Errors
/// The query fails while running (a file cannot be read, memory limit); writing fails.
pub async fn write_result<W: Write>(
    running: &mut Running,
    sql: &str,
    format: Format,
    max_rows: usize,
    out: W,
) -> Result<Written, QueryError> {
    let schema: SchemaRef = running.stream.schema();
    let mut sink = match format {
        Format::Table => Sink::Table {
            out,
            batches: Vec::new(),
            kept: 0,
        },
        Format::Csv => Sink::Csv(Box::new(
            datafusion::arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(out),
        )),
        Format::Json => Sink::Json(Box::new(
            datafusion::arrow::json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, datafusion::arrow::json::writer::JsonArray>(out),
        )),
    };
    let mut written = Written::default();
    while let Some(batch) = running.stream.next().await {
        let batch = batch.map_err(|e| QueryError::sql(e, sql))?;
        written.rows += batch.num_rows() as u64;
        match &mut sink {
            Sink::Table { batches, kept, .. } => {
                let room = max_rows.saturating_sub(*kept);
                let take = room.min(batch.num_rows());
                if take > 0 {
                    batches.push(batch.slice(0, take));
                    *kept += take;
                }
                written.rows_not_shown += (batch.num_rows() - take) as u64;
            }
            Sink::Csv(w) => w.write(&batch).map_err(out_err)?,
            Sink::Json(w) => w.write(&batch).map_err(out_err)?,
        }
    }
    match sink {
        Sink::Table {
            mut out, batches, ..
        } => {
            let text = if batches.is_empty() {
                pretty_format_batches(&[RecordBatch::new_empty(schema)])
            } else {
                pretty_format_batches(&batches)
            }
            .map_err(out_err)?;
            writeln!(out, "{text}").map_err(out_err)?;
            out.flush().map_err(out_err)?;
        }
        Sink::Csv(w) => {
            let mut out = w.into_inner();
            if written.rows == 0 {
                // The CSV writer writes its header with the first batch; an empty result still
                // says which columns it has.
                let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                writeln!(out, "{}", names.join(",")).map_err(out_err)?;
            }
            out.flush().map_err(out_err)?;
        }
        Sink::Json(mut w) => {
            w.finish().map_err(out_err)?;
            let mut out = w.into_inner();
            writeln!(out).map_err(out_err)?;
            out.flush().map_err(out_err)?;
        }
    }
    Ok(written)
}
