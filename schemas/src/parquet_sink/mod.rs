//! The Parquet sink shared by the agent and the collector.
//!
//! Batches from [`BatchBuilder`](crate::BatchBuilder) go in; files named
//! `date=YYYY-MM-DD/hour=HH/firn-<opened>-<instance>-<seq>.parquet` come out, each holding
//! complete row groups and a footer with key-value metadata (writer, instance, rows, and the
//! caller's source positions). See [`ParquetSink`] for how files reach a local disk or a
//! stage volume, and what happens when writes fail.

mod config;
mod file;
pub mod io;
mod io_worker;
pub mod leftovers;
mod mount;
pub mod naming;
mod writer;

#[cfg(test)]
mod tests;

pub use config::{
    OutputMode, OutputModeChoice, SinkConfig, default_compression, describe_compression,
    parse_compression,
};
pub use file::{
    META_AGENT_ID, META_CLOSED_AT, META_INSTANCE, META_ROWS, META_SOURCE_POSITIONS, META_WRITER,
    WrittenFile,
};
pub use mount::{MountInfo, mount_of};
pub use writer::{ParquetSink, SinkError, SinkStats};

/// Resolves `auto` by the file system of `dir`: FUSE (how stage volumes are mounted) means
/// [`OutputMode::Stage`]. Returns the mode and the reason, for the start-up log.
pub fn resolve_mode(choice: OutputModeChoice, dir: &std::path::Path) -> (OutputMode, String) {
    match choice {
        OutputModeChoice::Local => (OutputMode::Local, "set by --output-mode".to_string()),
        OutputModeChoice::Stage => (OutputMode::Stage, "set by --output-mode".to_string()),
        OutputModeChoice::Auto => match mount_of(dir) {
            Some(m) if m.is_fuse() => (
                OutputMode::Stage,
                format!("auto: {} is a {} mount", m.mount_point.display(), m.fs_type),
            ),
            Some(m) => (
                OutputMode::Local,
                format!("auto: {} is a {} mount", m.mount_point.display(), m.fs_type),
            ),
            None => (
                OutputMode::Local,
                "auto: mount table unreadable, assuming a local disk".to_string(),
            ),
        },
    }
}

/// The key-value metadata in the footer of a Parquet file.
///
/// # Errors
/// When the file cannot be read or has no valid footer (a partial file).
pub fn read_footer_metadata(
    path: &std::path::Path,
) -> Result<std::collections::BTreeMap<String, String>, parquet::errors::ParquetError> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let file = std::fs::File::open(path)?;
    let reader = SerializedFileReader::new(file)?;
    Ok(reader
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .map(|kv| {
            kv.iter()
                .filter_map(|e| e.value.clone().map(|v| (e.key.clone(), v)))
                .collect()
        })
        .unwrap_or_default())
}
