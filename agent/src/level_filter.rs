//! SPCS `logLevel` (SPCS.md §2): which log rows are exported.

use firn_schemas::Severity;

/// `spec.logExporters.eventTableConfig.logLevel`, or `--log-level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogLevel {
    /// Every log row (the platform's default).
    #[default]
    Info,
    /// Only errors: the stderr stream of captured output; for files and structured
    /// records, only severity ERROR or FATAL.
    Error,
    /// No log rows; metrics keep flowing.
    None,
}

impl std::str::FromStr for LogLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_uppercase().as_str() {
            "INFO" => Ok(Self::Info),
            "ERROR" => Ok(Self::Error),
            "NONE" => Ok(Self::None),
            _ => Err(format!("unknown log level {s:?}: use INFO, ERROR or NONE")),
        }
    }
}

/// Where a log row came from, as far as the filter cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A captured stdout stream.
    Stdout,
    /// A captured stderr stream.
    Stderr,
    /// A file (or stdin), judged by the record's severity.
    Record,
}

impl LogLevel {
    /// Whether a row passes. `severity` is the record's (unstructured lines: INFO for stdout
    /// and files, ERROR for stderr).
    pub fn admits(self, origin: Origin, severity: Option<Severity>) -> bool {
        match self {
            Self::Info => true,
            Self::None => false,
            Self::Error => match origin {
                Origin::Stderr => true,
                Origin::Stdout => false,
                Origin::Record => severity.is_some_and(|s| s >= Severity::Error),
            },
        }
    }

    /// `INFO`, `ERROR` or `NONE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "INFO",
            Self::Error => "ERROR",
            Self::None => "NONE",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels() {
        use Origin::*;
        assert!(LogLevel::Info.admits(Stdout, None));
        assert!(!LogLevel::None.admits(Stderr, Some(Severity::Fatal)));
        assert!(LogLevel::Error.admits(Stderr, Some(Severity::Info)));
        assert!(!LogLevel::Error.admits(Stdout, Some(Severity::Error)));
        assert!(LogLevel::Error.admits(Record, Some(Severity::Fatal)));
        assert!(!LogLevel::Error.admits(Record, Some(Severity::Warn)));
        assert!(!LogLevel::Error.admits(Record, None));
        assert_eq!("error".parse::<LogLevel>(), Ok(LogLevel::Error));
        assert!("DEBUG".parse::<LogLevel>().is_err());
    }
}
