//! Helpers shared by the agent's integration tests.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

pub mod agent;
pub mod root;
pub mod scenario;
pub mod tail;

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
    pub scope: serde_json::Value,
    pub timestamp: i64,
    /// START_TIMESTAMP (NULL for a gauge or a log).
    pub start: Option<i64>,
    pub observed: i64,
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
            let start = batch
                .column_by_name("START_TIMESTAMP")
                .unwrap()
                .as_any()
                .downcast_ref::<arrow_array::TimestampNanosecondArray>()
                .unwrap()
                .clone();
            let observed = batch
                .column_by_name("OBSERVED_TIMESTAMP")
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
                    scope: j("SCOPE"),
                    timestamp: ts.value(i),
                    start: start.is_valid(i).then(|| start.value(i)),
                    observed: observed.value(i),
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

/// A string column as strings, whether plain or dictionary-encoded.
fn str_column(batch: &arrow_array::RecordBatch, name: &str) -> Result<Vec<Option<String>>, String> {
    use arrow_array::DictionaryArray;
    use arrow_array::types::Int32Type;
    let col = batch
        .column_by_name(name)
        .ok_or_else(|| format!("no column {name}"))?;
    if let Some(s) = col.as_any().downcast_ref::<StringArray>() {
        return Ok((0..s.len())
            .map(|i| s.is_valid(i).then(|| s.value(i).to_string()))
            .collect());
    }
    let d = col
        .as_any()
        .downcast_ref::<DictionaryArray<Int32Type>>()
        .ok_or_else(|| format!("column {name} is neither string nor dictionary"))?;
    let values = d
        .values()
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| format!("column {name}: dictionary of non-strings"))?;
    Ok((0..d.len())
        .map(|i| {
            d.is_valid(i)
                .then(|| values.value(d.keys().value(i) as usize).to_string())
        })
        .collect())
}

/// The VALUE of every LOG row of one Parquet file, decoded from its JSON, reading only the
/// two columns needed (fast enough to poll an output folder with many rows). An error when
/// the file is not a complete Parquet file (a stage file still being written, or a partial
/// one left by a kill).
pub fn log_values_of_file(p: &Path) -> Result<Vec<String>, String> {
    use parquet::arrow::ProjectionMask;
    let file = File::open(p).map_err(|e| format!("{}: {e}", p.display()))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| format!("{} is not a complete Parquet file: {e}", p.display()))?;
    let mask = ProjectionMask::columns(builder.parquet_schema(), ["RECORD_TYPE", "VALUE"]);
    let reader = builder
        .with_projection(mask)
        .build()
        .map_err(|e| format!("{}: {e}", p.display()))?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| format!("{}: {e}", p.display()))?;
        let kinds = str_column(&batch, "RECORD_TYPE")?;
        let values = str_column(&batch, "VALUE")?;
        for (k, v) in kinds.into_iter().zip(values) {
            if k.as_deref() != Some("LOG") {
                continue;
            }
            let v = v.unwrap_or_default();
            // A text VALUE is a JSON string; anything else is kept as its JSON.
            out.push(serde_json::from_str::<String>(&v).unwrap_or(v));
        }
    }
    Ok(out)
}

/// Peak resident memory (VmHWM) of a running process, in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Mounts the stage-rules FUSE file system (`testing/stagefs`) at `mountpoint` (created),
/// backed by a sibling folder `<mountpoint>.backing`. Where FUSE cannot be used the test is
/// skipped with a loud message, except in CI (which has /dev/fuse and runs as root), where that
/// is a failure: a stage test never passes without having run on the stage rules.
pub fn stage_mount(mountpoint: &Path) -> Option<firn_stagefs::Mounted> {
    if let Err(e) = firn_stagefs::fuse_available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must be able to use FUSE: {e}"
        );
        eprintln!("SKIPPED (no stage file system here): {e}");
        return None;
    }
    let mut backing = mountpoint.as_os_str().to_owned();
    backing.push(".backing");
    std::fs::create_dir_all(&backing).unwrap();
    std::fs::create_dir_all(mountpoint).unwrap();
    Some(firn_stagefs::mount(Path::new(&backing), mountpoint).unwrap())
}

/// Fails with every refused call, if the stage file system refused any.
pub fn assert_no_refusals(m: &firn_stagefs::Mounted) {
    let r = m.refusals();
    assert!(
        r.is_empty(),
        "the stage refused {} calls:\n{}",
        r.len(),
        r.iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Appends `lines` to `p` (created if missing), each with a newline, as an app would.
pub fn append(p: &Path, lines: &[String]) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(p)
        .unwrap();
    for l in lines {
        writeln!(f, "{l}").unwrap();
    }
}

/// `n` lines `"{tag} line {i}"`: the tag tells whose line a row is.
pub fn lines(tag: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{tag} line {i}")).collect()
}
