//! SPCS `logLevel` (SPCS.md §2): which log rows are exported. The one filter stage every
//! source's rows go through ([`LogLevel::admits`]); the row mapper
//! ([`crate::row_mapper`]) asks it once per record.

use firn_schemas::Severity;

/// `spec.logExporters.eventTableConfig.logLevel`, or `--log-level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogLevel {
    /// Every log row (the platform's default).
    #[default]
    Info,
    /// Only errors: see [`LogLevel::admits`].
    Error,
    /// No log rows; metrics keep flowing.
    None,
}

/// A `--log-level` that is not INFO, ERROR or NONE.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown log level {0:?}: use INFO, ERROR or NONE")]
pub struct UnknownLogLevel(pub String);

impl std::str::FromStr for LogLevel {
    type Err = UnknownLogLevel;
    fn from_str(s: &str) -> Result<Self, UnknownLogLevel> {
        match s.to_ascii_uppercase().as_str() {
            "INFO" => Ok(Self::Info),
            "ERROR" => Ok(Self::Error),
            "NONE" => Ok(Self::None),
            _ => Err(UnknownLogLevel(s.to_string())),
        }
    }
}

impl From<firn_spec::model::LogLevel> for LogLevel {
    fn from(l: firn_spec::model::LogLevel) -> Self {
        match l {
            firn_spec::model::LogLevel::Info => Self::Info,
            firn_spec::model::LogLevel::Error => Self::Error,
            firn_spec::model::LogLevel::None => Self::None,
        }
    }
}

/// A log stream, as in `RECORD_ATTRIBUTES."log.iostream"`: captured output, or a line of a
/// container-runtime log file (CRI, Docker json-file) that names its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output: unstructured lines are INFO.
    Stdout,
    /// Standard error: unstructured lines are ERROR; `logLevel: ERROR` keeps all of it.
    Stderr,
}

impl Stream {
    /// `stdout` or `stderr`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stdout => "stdout",
            Self::Stderr => "stderr",
        }
    }

    /// Severity of an unstructured line of this stream (SPCS.md §3): stdout INFO, stderr
    /// ERROR. A line of no stream (a plain file) is INFO.
    pub fn default_severity(stream: Option<Self>) -> Severity {
        match stream {
            Some(Self::Stderr) => Severity::Error,
            _ => Severity::Info,
        }
    }
}

/// A `--stdin-stream` that is not stdout or stderr.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown stream {0:?}: use stdout or stderr")]
pub struct UnknownStream(pub String);

impl std::str::FromStr for Stream {
    type Err = UnknownStream;
    fn from_str(s: &str) -> Result<Self, UnknownStream> {
        match s {
            "stdout" => Ok(Self::Stdout),
            "stderr" => Ok(Self::Stderr),
            _ => Err(UnknownStream(s.to_string())),
        }
    }
}

/// Where a log row came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A log file (its lines' severities are recognised).
    File,
    /// Captured stdout/stderr of a wrapped app or stdin (judged as the platform does).
    Captured,
}

/// What the filter knows of one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RowFacts {
    /// Where it came from.
    pub source: Source,
    /// Its stream: always for captured output, for files only in a runtime format.
    pub stream: Option<Stream>,
    /// Whether it is a structured record (JSON with `body`, SPCS.md §3).
    pub structured: bool,
    /// The severity the record states itself: a structured record's `severity_text`, or a
    /// level recognised in a file's plain line. `None` when it states none (the stream's
    /// default severity does not count here).
    pub severity: Option<Severity>,
}

impl LogLevel {
    /// Whether a record is exported.
    ///
    /// - INFO: every record. NONE: none.
    /// - ERROR: a record of the stderr stream (SPCS.md §2: "in practice only the stderr
    ///   stream"), whatever its own severity; or a record stating ERROR or FATAL itself, when
    ///   it is structured or comes from a file. A plain captured stdout line is never kept,
    ///   whatever words it holds: the platform does not read them.
    pub fn admits(self, row: &RowFacts) -> bool {
        match self {
            Self::Info => true,
            Self::None => false,
            Self::Error => {
                row.stream == Some(Stream::Stderr)
                    || (row.severity.is_some_and(|s| s >= Severity::Error)
                        && (row.structured || row.source == Source::File))
            }
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
mod tests;
