//! The bearer token: loaded once, compared in constant time.

use std::path::Path;

use subtle::ConstantTimeEq;

/// A token clients must present.
pub struct Token(Vec<u8>);

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
        let (text, from) = match (file, env) {
            (Some(p), _) => (
                std::fs::read_to_string(p).map_err(|source| TokenError::Read {
                    path: p.display().to_string(),
                    source,
                })?,
                p.display().to_string(),
            ),
            (None, Some(v)) => (v, "FIRN_TOKEN".to_string()),
            (None, None) => return Err(TokenError::Missing),
        };
        let t = text.trim();
        if t.is_empty() {
            return Err(TokenError::Empty(from));
        }
        Ok(Self(t.as_bytes().to_vec()))
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
        if bool::from(given.as_bytes().ct_eq(&self.0)) {
            Ok(())
        } else {
            Err("wrong bearer token")
        }
    }
}
