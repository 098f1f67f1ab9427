//! Settings of the Parquet sink, validated before the sink sees them.

use std::path::PathBuf;
use std::time::Duration;

use parquet::basic::{Compression, ZstdLevel};

/// How files reach the output folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// A POSIX disk: write a hidden temporary file, fsync, rename.
    Local,
    /// A stage volume (SPCS.md §7): create each file once under its final name, write it in
    /// one sequential pass, close it, never touch it again. No rename, no append.
    Stage,
}

impl OutputMode {
    /// `local` or `stage`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Stage => "stage",
        }
    }
}

/// What the user asked for: a mode, or `auto` to pick by the output's file system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputModeChoice {
    /// `stage` on a FUSE mount (how stage volumes are mounted), `local` otherwise.
    #[default]
    Auto,
    /// Always [`OutputMode::Local`].
    Local,
    /// Always [`OutputMode::Stage`].
    Stage,
}

impl std::str::FromStr for OutputModeChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "local" => Ok(Self::Local),
            "stage" => Ok(Self::Stage),
            _ => Err(format!(
                "unknown output mode {s:?}: use local, stage or auto"
            )),
        }
    }
}

/// zstd level 1. On log text in Parquet pages, level 3 took about 25% more time for no
/// smaller files (`cargo bench -p firn-schemas --bench writer`, bench/README.md).
pub fn default_compression() -> Compression {
    Compression::ZSTD(ZstdLevel::try_new(1).unwrap_or_default())
}

/// Parses `zstd` (level 1), `zstd:LEVEL` (1-22), `snappy` or `none`.
///
/// # Errors
/// Names the codec or level that is not supported.
pub fn parse_compression(s: &str) -> Result<Compression, String> {
    let (name, level) = match s.split_once(':') {
        Some((n, l)) => (n, Some(l)),
        None => (s, None),
    };
    match (name.to_ascii_lowercase().as_str(), level) {
        ("zstd", None) => Ok(default_compression()),
        ("zstd", Some(l)) => {
            let l: i32 = l
                .parse()
                .map_err(|_| format!("zstd level {l:?} is not a number (1-22)"))?;
            ZstdLevel::try_new(l)
                .map(Compression::ZSTD)
                .map_err(|_| format!("zstd level {l} is out of range (1-22)"))
        }
        ("snappy", None) => Ok(Compression::SNAPPY),
        ("none" | "uncompressed", None) => Ok(Compression::UNCOMPRESSED),
        _ => Err(format!(
            "unknown compression {s:?}: use zstd, zstd:LEVEL (1-22), snappy or none"
        )),
    }
}

/// A codec as the user writes it for `--compression`: `zstd:1`, `snappy`, `none`.
pub fn describe_compression(c: Compression) -> String {
    match c {
        Compression::ZSTD(l) => format!("zstd:{}", l.compression_level()),
        Compression::SNAPPY => "snappy".to_string(),
        Compression::UNCOMPRESSED => "none".to_string(),
        other => format!("{other:?}").to_ascii_lowercase(),
    }
}

/// Validated settings of a [`ParquetSink`](super::ParquetSink).
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// The output folder; files go to `date=YYYY-MM-DD/hour=HH/` below it.
    pub dir: PathBuf,
    /// Resolved output mode.
    pub mode: OutputMode,
    /// Codec of every column. Default zstd level 1.
    pub compression: Compression,
    /// Rows per row group. Default 65,536.
    pub row_group_rows: usize,
    /// A file is closed once its encoded size reaches this. Default 8 MiB: the file is
    /// built in memory (see the module docs), so this bounds memory too.
    pub max_file_bytes: u64,
    /// A file is closed once it has been open this long. Default 60 s.
    pub max_file_age: Duration,
    /// Closed files waiting to be written (disk full, slow stage) past this many bytes make
    /// the sink ask its producers to pause. Default 16 MiB (two default files), which keeps the
    /// agent under 64 MiB even when the disk is slower than encoding.
    pub max_pending_bytes: u64,
    /// A folder never gets more files than this; later files spill to `part-N/`.
    /// Default 90,000 (stage folders must stay under 100,000).
    pub max_files_per_dir: usize,
    /// Names this agent across restarts (its files are found again by it). Default: the
    /// host name.
    pub agent_id: String,
    /// Tells this process's files from any other's in one folder: the file names carry it.
    /// Default: agent id, process id and a random part.
    pub instance_id: String,
    /// Put files in hive-style `date=/hour=` folders. Default true.
    pub partition_by_hour: bool,
    /// The program that writes, for the footer (`created_by` and `firn.writer`).
    pub writer_name: String,
    /// Give up at once on a write error retrying cannot cure (EACCES, EPERM, EROFS, ENOTDIR:
    /// a file where a folder should be) instead of retrying until the close deadline; disk
    /// full (ENOSPC) and I/O errors (EIO) are still retried. Default false; `--once` sets it.
    pub fail_fast: bool,
}

impl SinkConfig {
    /// Sets the agent id and derives a fresh instance id from it.
    pub fn set_agent_id(&mut self, agent_id: &str) {
        self.agent_id = super::naming::sanitize_id(agent_id);
        self.instance_id = super::naming::instance_id(&self.agent_id);
    }

    /// Defaults for `dir` in `mode`.
    pub fn new(dir: impl Into<PathBuf>, mode: OutputMode) -> Self {
        Self {
            dir: dir.into(),
            mode,
            compression: default_compression(),
            row_group_rows: 65_536,
            max_file_bytes: 8 << 20,
            max_file_age: Duration::from_secs(60),
            max_pending_bytes: 16 << 20,
            max_files_per_dir: 90_000,
            agent_id: super::naming::default_agent_id(),
            instance_id: super::naming::default_instance_id(),
            partition_by_hour: true,
            writer_name: format!("firn {}", env!("CARGO_PKG_VERSION")),
            fail_fast: false,
        }
    }
}
