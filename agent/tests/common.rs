//! Helpers shared by the agent's integration tests.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_array::{Array, StringArray};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// Every finished firn file below `dir`.
pub fn parquet_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet")
                && !p.file_name().unwrap().to_string_lossy().starts_with('.')
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// One row, as strings.
#[derive(Debug, Clone)]
pub struct OutRow {
    pub value: serde_json::Value,
    pub record: serde_json::Value,
    pub attributes: serde_json::Value,
    pub record_type: String,
    pub timestamp: i64,
}

fn col_str(batch: &arrow_array::RecordBatch, name: &str, i: usize) -> Option<String> {
    let c = batch.column_by_name(name)?;
    let a = c.as_any().downcast_ref::<StringArray>()?;
    (!a.is_null(i)).then(|| a.value(i).to_string())
}

/// Every row below `dir`.
pub fn read_rows(dir: &Path) -> Vec<OutRow> {
    let mut out = Vec::new();
    for p in parquet_files(dir) {
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&p).unwrap())
            .unwrap_or_else(|e| panic!("{p:?} is not a complete Parquet file: {e}"))
            .build()
            .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            let ts = batch
                .column_by_name("TIMESTAMP")
                .unwrap()
                .as_any()
                .downcast_ref::<arrow_array::TimestampNanosecondArray>()
                .unwrap()
                .clone();
            for i in 0..batch.num_rows() {
                let j = |n: &str| {
                    col_str(&batch, n, i)
                        .map(|s| serde_json::from_str(&s).unwrap())
                        .unwrap_or(serde_json::Value::Null)
                };
                out.push(OutRow {
                    value: j("VALUE"),
                    record: j("RECORD"),
                    attributes: j("RECORD_ATTRIBUTES"),
                    record_type: col_str(&batch, "RECORD_TYPE", i).unwrap(),
                    timestamp: ts.value(i),
                });
            }
        }
    }
    out
}

/// How many times each log line (VALUE string) appears below `dir`.
pub fn line_counts(dir: &Path) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in read_rows(dir) {
        if r.record_type == "LOG"
            && let Some(s) = r.value.as_str()
        {
            *m.entry(s.to_string()).or_default() += 1;
        }
    }
    m
}
