//! A bearer token kept in a file that its owner replaces (SPCS refreshes
//! `/snowflake/session/token`): read again whenever the file changes.

use std::path::PathBuf;
use std::time::SystemTime;

/// The token file and what was last read from it.
#[derive(Debug)]
pub struct TokenFile {
    path: PathBuf,
    seen: Option<(SystemTime, u64, u64)>,
    token: String,
}

/// The token file cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the OTLP token file {path}: {source}")]
pub struct TokenError {
    /// The file.
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

impl TokenFile {
    /// A token file, read at first use.
    pub fn new(path: PathBuf) -> Self {
        Self {
            path,
            seen: None,
            token: String::new(),
        }
    }

    /// The current token, read again if the file's modification time, size or inode
    /// changed since the last read.
    ///
    /// # Errors
    /// When the file cannot be read.
    pub fn get(&mut self) -> Result<&str, TokenError> {
        let err = |source| TokenError {
            path: self.path.clone(),
            source,
        };
        let meta = std::fs::metadata(&self.path).map_err(err)?;
        let stamp = (
            meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            meta.len(),
            std::os::unix::fs::MetadataExt::ino(&meta),
        );
        if self.seen != Some(stamp) {
            let text = std::fs::read_to_string(&self.path).map_err(|source| TokenError {
                path: self.path.clone(),
                source,
            })?;
            self.token = text.trim().to_string();
            self.seen = Some(stamp);
            tracing::debug!(path = %self.path.display(), "Read the OTLP token file");
        }
        Ok(&self.token)
    }
}
