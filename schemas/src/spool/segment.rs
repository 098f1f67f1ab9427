//! One segment file: Arrow IPC streams back to back, one per commit, each with the commit's
//! sequence number, time and positions in its schema metadata. pyarrow reads one with
//! `pa.ipc.open_stream(f)` called again for each commit on the same file object.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::StreamWriter;
use arrow_schema::{ArrowError, SchemaRef};

const META_SEQ: &str = "firn.spool.seq";
const META_AT: &str = "firn.spool.committed_at";
const META_POSITIONS: &str = "firn.source_positions";
/// An IPC stream's end: continuation marker, then a zero length.
const EOS: [u8; 8] = [0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0];

/// One commit read back.
#[derive(Debug, Clone)]
pub struct Commit {
    /// Its sequence number.
    pub seq: u64,
    /// When it was made, ns since the epoch.
    pub committed_at_ns: i64,
    /// The writer's positions after its rows.
    pub positions: String,
    /// Its rows (the schema without the commit's metadata).
    pub batch: RecordBatch,
}

/// A segment file's place in the spool.
#[derive(Debug, Clone)]
pub(crate) struct SegmentInfo {
    pub(crate) path: PathBuf,
    pub(crate) last: u64,
    pub(crate) bytes: u64,
}

pub(crate) fn segment_name(first: u64) -> String {
    format!("seg-{first:020}.arrows")
}

/// Segment files in `dir` with their first sequence numbers, oldest first.
pub(crate) fn list_segments(dir: &Path) -> io::Result<Vec<(PathBuf, u64)>> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let name = e.file_name();
        let Some(first) = name
            .to_str()
            .and_then(|n| n.strip_prefix("seg-"))
            .and_then(|n| n.strip_suffix(".arrows"))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        v.push((e.path(), first));
    }
    v.sort_by_key(|(_, f)| *f);
    Ok(v)
}

/// Writes one commit to `out`: a complete IPC stream, streamed (no copy of the batch in
/// memory on the way).
pub(crate) fn write_commit<W: io::Write>(
    out: &mut W,
    batch: &RecordBatch,
    seq: u64,
    at_ns: i64,
    positions: &str,
) -> Result<(), ArrowError> {
    let mut meta = batch.schema().metadata().clone();
    meta.insert(META_SEQ, seq.to_string());
    meta.insert(META_AT, at_ns.to_string());
    meta.insert(META_POSITIONS, positions);
    let schema = Arc::new(batch.schema().as_ref().clone().with_metadata(meta));
    let batch = batch.clone().with_schema(schema.clone())?;
    let mut w = StreamWriter::try_new(out, &schema)?;
    w.write(&batch)?;
    w.finish()?;
    Ok(())
}

/// Counts what was read and keeps the last 8 bytes, to find where a stream ends.
struct Counting<R> {
    inner: R,
    read: u64,
    tail: [u8; 8],
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        let got = &buf[..n];
        if got.len() >= 8 {
            self.tail.copy_from_slice(&got[got.len() - 8..]);
        } else {
            self.tail.rotate_left(got.len());
            self.tail[8 - got.len()..].copy_from_slice(got);
        }
        Ok(n)
    }
}

/// A segment read back.
pub(crate) struct SegmentRead {
    pub(crate) commits: Vec<Commit>,
    /// Bytes of complete commits.
    pub(crate) good_bytes: u64,
    pub(crate) file_bytes: u64,
    /// Why reading stopped before the end, if it did.
    pub(crate) torn: Option<String>,
}

fn read_commit<R: Read>(r: &mut Counting<R>, schema: &SchemaRef) -> Result<Commit, String> {
    let mut reader = StreamReader::try_new(&mut *r, None).map_err(|e| e.to_string())?;
    let meta = reader.schema().metadata().clone();
    let mut batches = Vec::new();
    for b in &mut reader {
        batches.push(b.map_err(|e| e.to_string())?);
    }
    drop(reader);
    if r.tail != EOS {
        return Err("the stream ends without its end marker".into());
    }
    let seq = meta
        .get(META_SEQ)
        .and_then(|s| s.parse().ok())
        .ok_or("no sequence number")?;
    let committed_at_ns = meta.get(META_AT).and_then(|s| s.parse().ok()).unwrap_or(0);
    let positions = meta.get(META_POSITIONS).cloned().unwrap_or_default();
    let [batch] = <[RecordBatch; 1]>::try_from(batches)
        .map_err(|b| format!("{} batches in one commit", b.len()))?;
    // As the writer's schema again (IPC gives dictionary fields ids of its own).
    let batch = RecordBatch::try_new(schema.clone(), batch.columns().to_vec())
        .map_err(|e| format!("rows unlike the writer's: {e}"))?;
    Ok(Commit {
        seq,
        committed_at_ns,
        positions,
        batch,
    })
}

/// Reads every complete commit of a segment; stops at the first that is not.
pub(crate) fn read_segment(path: &Path, schema: &SchemaRef) -> io::Result<SegmentRead> {
    let file = std::fs::File::open(path)?;
    let file_bytes = file.metadata()?.len();
    let mut r = Counting {
        inner: io::BufReader::with_capacity(256 << 10, file),
        read: 0,
        tail: [0; 8],
    };
    let mut out = SegmentRead {
        commits: Vec::new(),
        good_bytes: 0,
        file_bytes,
        torn: None,
    };
    let mut prev: Option<u64> = None;
    while out.good_bytes < file_bytes {
        match read_commit(&mut r, schema) {
            Ok(c) if prev.is_none_or(|p| c.seq == p + 1) => {
                prev = Some(c.seq);
                out.good_bytes = r.read;
                out.commits.push(c);
            }
            Ok(c) => {
                out.torn = Some(format!("commit {} does not follow {prev:?}", c.seq));
                break;
            }
            Err(e) => {
                out.torn = Some(e);
                break;
            }
        }
    }
    Ok(out)
}
