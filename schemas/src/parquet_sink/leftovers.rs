//! This agent's own files in the output folder, found again at start: the newest complete one
//! (where a caller reads where its sources stood) and the leftovers of an interrupted write,
//! which are removed so that no reader takes them for data.
//!
//! A file is this agent's only when its name carries the agent id exactly
//! ([`naming::is_from_agent`]), and a file is removed only when it was read and is provably
//! not a complete Parquet file. A file that cannot be read (permissions, an I/O error) is
//! left alone and reported, never taken for a partial one.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::file::{META_AGENT_ID, META_CLOSED_AT};
use super::naming;

const MAGIC: &[u8; 4] = b"PAR1";

/// What a file holds, read from its bytes.
#[derive(Debug)]
pub enum FileState {
    /// A complete Parquet file, with its footer's key-value metadata.
    Complete(BTreeMap<String, String>),
    /// Bytes that are not a complete Parquet file (a write cut short), and why.
    Partial(String),
    /// The file could not be read; nothing is known of it.
    Unreadable(io::Error),
}

/// Reads a file's head and footer and tells whether it is complete Parquet.
pub fn check_file(path: &Path) -> FileState {
    match check(path) {
        Ok(Ok(meta)) => FileState::Complete(meta),
        Ok(Err(why)) => FileState::Partial(why),
        Err(e) => FileState::Unreadable(e),
    }
}

/// `Err` for an I/O error, `Ok(Err)` for bytes that are not complete Parquet.
fn check(path: &Path) -> io::Result<Result<BTreeMap<String, String>, String>> {
    let mut f = File::open(path)?;
    let len = f.metadata()?.len();
    if len < 12 {
        return Ok(Err(format!("{len} bytes, shorter than any Parquet file")));
    }
    let mut head = [0u8; 4];
    f.read_exact(&mut head)?;
    let mut tail = [0u8; 8];
    f.seek(SeekFrom::End(-8))?;
    f.read_exact(&mut tail)?;
    if &head != MAGIC || &tail[4..] != MAGIC {
        return Ok(Err(format!(
            "{len} bytes, Parquet magic bytes not found at both ends"
        )));
    }
    let footer_len = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    if footer_len > len - 12 {
        return Ok(Err(format!(
            "{len} bytes, footer length {footer_len} past the start"
        )));
    }
    f.seek(SeekFrom::End(-8 - footer_len as i64))?;
    let mut footer = vec![0u8; footer_len as usize];
    f.read_exact(&mut footer)?;
    let meta = match parquet::file::metadata::ParquetMetaDataReader::decode_metadata(&footer) {
        Ok(m) => m,
        Err(e) => return Ok(Err(format!("{len} bytes, footer unreadable: {e}"))),
    };
    Ok(Ok(meta
        .file_metadata()
        .key_value_metadata()
        .map(|kv| {
            kv.iter()
                .filter_map(|e| e.value.clone().map(|v| (e.key.clone(), v)))
                .collect()
        })
        .unwrap_or_default()))
}

/// Removes a file, trying again twice (a stage may refuse for a moment); a file already
/// gone counts as removed.
///
/// # Errors
/// The last failure, when every try failed.
pub fn remove_with_retry(path: &Path, remove: impl Fn(&Path) -> io::Result<()>) -> io::Result<()> {
    let mut last = None;
    for wait_ms in [0, 50, 250] {
        std::thread::sleep(Duration::from_millis(wait_ms));
        match remove(path) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("not tried")))
}

/// What [`scan_own_files`] found.
#[derive(Debug, Default)]
pub struct OwnFiles {
    /// This agent's newest complete file that carries the wanted footer key, and its footer.
    pub newest: Option<(PathBuf, BTreeMap<String, String>)>,
    /// This agent's complete files.
    pub complete: usize,
    /// Leftovers of interrupted writes that were removed: temporary files of local mode, and
    /// files that are not complete Parquet.
    pub removed: Vec<PathBuf>,
    /// This agent's files that could not be read, or could not be removed, with why: left as
    /// they are.
    pub left: Vec<(PathBuf, String)>,
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for e in rd {
        let e = e?;
        let ft = e.file_type()?;
        if ft.is_dir() {
            walk(&e.path(), out)?;
        } else if ft.is_file() {
            out.push(e.path());
        }
    }
    Ok(())
}

/// Looks at every file of `agent_id` below `dir`: removes the leftovers of interrupted writes
/// (every one, not only the newest), and finds the newest complete file whose footer holds
/// `key` (by the time it was opened, then closed, then its number). Each file is logged.
///
/// # Errors
/// When the folder cannot be listed.
pub fn scan_own_files(dir: &Path, agent_id: &str, key: &str) -> io::Result<OwnFiles> {
    let mut files = Vec::new();
    walk(dir, &mut files)?;
    let mut found = OwnFiles::default();
    // (opened, closed at, number), the file, its footer.
    type Candidate = ((String, i64, u64), PathBuf, BTreeMap<String, String>);
    let mut best: Option<Candidate> = None;
    for path in files {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(parsed) = naming::parse_file_name(name).filter(|n| n.agent_id == agent_id) else {
            continue;
        };
        let why = if parsed.temp {
            "a temporary file of an interrupted write".to_string()
        } else {
            match check_file(&path) {
                FileState::Complete(meta) => {
                    if meta.get(META_AGENT_ID).map(String::as_str) != Some(agent_id) {
                        // Named like ours, written by someone else: not ours to use or remove.
                        continue;
                    }
                    found.complete += 1;
                    if meta.contains_key(key) {
                        let closed = meta
                            .get(META_CLOSED_AT)
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(0);
                        let order = (parsed.opened.to_string(), closed, parsed.seq);
                        if best.as_ref().is_none_or(|(o, _, _)| order > *o) {
                            best = Some((order, path, meta));
                        }
                    }
                    continue;
                }
                FileState::Partial(why) => why,
                FileState::Unreadable(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "Cannot read an output file of this agent; leaving it as it is");
                    found.left.push((path, format!("unreadable: {e}")));
                    continue;
                }
            }
        };
        match remove_with_retry(&path, |p| std::fs::remove_file(p)) {
            Ok(()) => {
                tracing::warn!(path = %path.display(), reason = %why, "Removed a partial output file left by an interrupted write; its lines will be read again");
                found.removed.push(path);
            }
            Err(e) => {
                tracing::error!(path = %path.display(), reason = %why, error = %e, "Cannot remove a partial output file left by an interrupted write; readers of the folder will fail on it: remove it by hand");
                found
                    .left
                    .push((path, format!("partial ({why}), not removed: {e}")));
            }
        }
    }
    found.newest = best.map(|(_, p, m)| (p, m));
    Ok(found)
}
