//! The bearer token: from `FIRN_TOKEN`, or from `--token-file`, which is read again whenever
//! the file changes (a rotated secret takes effect without a restart); compared in constant
//! time.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use subtle::ConstantTimeEq;

/// The file's modification time, size and inode: a change to any means read it again.
type FileStamp = (SystemTime, u64, u64);

/// A token clients must present.
pub struct Token {
    current: Mutex<Current>,
    file: Option<PathBuf>,
}

struct Current {
    token: Vec<u8>,
    seen: Option<FileStamp>,
    /// A failed re-read was logged (once until the file reads again).
    warned: bool,
}

fn stamp_of(p: &Path) -> std::io::Result<FileStamp> {
    let m = std::fs::metadata(p)?;
    Ok((
        m.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        m.len(),
        std::os::unix::fs::MetadataExt::ino(&m),
    ))
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The file cannot be read.
    #[error("cannot read the token file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Empty token.
    #[error("the token from {0} is empty")]
    Empty(String),
    /// Neither given.
    #[error(
        "no token: set FIRN_TOKEN or --token-file so clients must authenticate, or pass --insecure-no-auth to accept anyone"
    )]
    Missing,
}

impl Token {
    /// From `--token-file`, else the `FIRN_TOKEN` value given.
    ///
    /// # Errors
    /// When neither gives a non-empty token.
    pub fn load(file: Option<&Path>, env: Option<String>) -> Result<Self, TokenError> {
        let (token, seen) = match (file, env) {
            (Some(p), _) => {
                let seen = stamp_of(p).ok();
                (read_token(p)?, seen)
            }
            (None, Some(v)) => {
                let t = v.trim();
                if t.is_empty() {
                    return Err(TokenError::Empty("FIRN_TOKEN".into()));
                }
                (t.as_bytes().to_vec(), None)
            }
            (None, None) => return Err(TokenError::Missing),
        };
        Ok(Self {
            current: Mutex::new(Current {
                token,
                seen,
                warned: false,
            }),
            file: file.map(Path::to_path_buf),
        })
    }

    /// The token now: the file read again if it changed. A file that cannot be read (or is
    /// empty) keeps the last token, with one warning until it reads again.
    fn current(&self) -> Vec<u8> {
        let mut c = self
            .current
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(p) = &self.file {
            let stamp = stamp_of(p).ok();
            if stamp.is_none() || stamp != c.seen {
                match read_token(p) {
                    Ok(t) => {
                        if t != c.token {
                            tracing::info!(path = %p.display(), "Token file changed; using the new token");
                        }
                        c.token = t;
                        c.seen = stamp;
                        c.warned = false;
                    }
                    Err(e) => {
                        if !c.warned {
                            tracing::warn!(error = %e, "Keeping the last token");
                            c.warned = true;
                        }
                    }
                }
            }
        }
        c.token.clone()
    }

    /// Checks an `Authorization` header value.
    ///
    /// # Errors
    /// A message for the client when it is missing or wrong.
    pub fn check(&self, header: Option<&str>) -> Result<(), &'static str> {
        let Some(h) = header else {
            return Err("missing Authorization: Bearer <token>");
        };
        let given = h
            .strip_prefix("Bearer ")
            .or_else(|| h.strip_prefix("bearer "))
            .unwrap_or("")
            .trim();
        if bool::from(given.as_bytes().ct_eq(&self.current())) {
            Ok(())
        } else {
            Err("wrong bearer token")
        }
    }
}

fn read_token(p: &Path) -> Result<Vec<u8>, TokenError> {
    let text = std::fs::read_to_string(p).map_err(|source| TokenError::Read {
        path: p.display().to_string(),
        source,
    })?;
    let t = text.trim();
    if t.is_empty() {
        return Err(TokenError::Empty(p.display().to_string()));
    }
    Ok(t.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_token_file_is_read_again_and_a_broken_one_keeps_the_last_token() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("token");
        std::fs::write(&p, "first\n").unwrap();
        let t = Token::load(Some(&p), None).unwrap();
        assert_eq!(t.check(Some("Bearer first")), Ok(()));
        // Replaced as a secret mount does: a new file renamed over the old one.
        let tmp = dir.path().join("token.new");
        std::fs::write(&tmp, "second-longer\n").unwrap();
        std::fs::rename(&tmp, &p).unwrap();
        assert!(t.check(Some("Bearer first")).is_err());
        assert_eq!(t.check(Some("Bearer second-longer")), Ok(()));
        std::fs::remove_file(&p).unwrap();
        assert_eq!(t.check(Some("Bearer second-longer")), Ok(()), "kept");
        std::fs::write(&p, "  \n").unwrap();
        assert_eq!(t.check(Some("Bearer second-longer")), Ok(()), "empty: kept");
    }
}
