//! The logLevel table, written by hand from SPCS.md §2-3 and issue 11: INFO keeps all, NONE
//! nothing; ERROR keeps the stderr stream whatever it says, structured records stating
//! ERROR/FATAL, and file lines whose recognised level is ERROR/FATAL.

use super::*;
use Severity::{Error as E, Fatal as F, Info as I, Warn as W};

const FILE: Source = Source::File;
const CAPT: Source = Source::Captured;
const OUT: Option<Stream> = Some(Stream::Stdout);
const ERR: Option<Stream> = Some(Stream::Stderr);
const NO: Option<Stream> = None;

/// (source, stream, structured, own severity, level, kept)
type Case = (
    Source,
    Option<Stream>,
    bool,
    Option<Severity>,
    LogLevel,
    bool,
);

#[rustfmt::skip]
const TABLE: &[Case] = &[
    // source, stream, structured, own severity, level, kept
    // ERROR level, captured streams: the stream decides; stdout keeps structured ERROR/FATAL.
    (CAPT, ERR, false, None,    LogLevel::Error, true),
    (CAPT, ERR, true,  Some(W), LogLevel::Error, true),
    (CAPT, ERR, true,  Some(I), LogLevel::Error, true),
    (CAPT, ERR, true,  None,    LogLevel::Error, true),
    (CAPT, OUT, false, None,    LogLevel::Error, false),
    (CAPT, OUT, true,  Some(W), LogLevel::Error, false),
    (CAPT, OUT, true,  Some(E), LogLevel::Error, true),
    (CAPT, OUT, true,  Some(F), LogLevel::Error, true),
    (CAPT, OUT, true,  None,    LogLevel::Error, false),
    // A plain stdout line is not read by the platform: a level word in it does not count.
    (CAPT, OUT, false, Some(E), LogLevel::Error, false),
    // ERROR level, runtime-format files (CRI, Docker): stderr as captured (issue 17's bug:
    // a WARN record on a CRI stderr line was dropped from files and kept when captured).
    (FILE, ERR, true,  Some(W), LogLevel::Error, true),
    (FILE, ERR, false, None,    LogLevel::Error, true),
    (FILE, ERR, false, Some(I), LogLevel::Error, true),
    (FILE, OUT, false, None,    LogLevel::Error, false),
    (FILE, OUT, true,  Some(E), LogLevel::Error, true),
    (FILE, OUT, true,  Some(W), LogLevel::Error, false),
    (FILE, OUT, false, Some(E), LogLevel::Error, true),
    (FILE, OUT, false, Some(W), LogLevel::Error, false),
    // ERROR level, plain files: the record's own (structured or recognised) severity.
    (FILE, NO,  false, None,    LogLevel::Error, false),
    (FILE, NO,  false, Some(I), LogLevel::Error, false),
    (FILE, NO,  false, Some(W), LogLevel::Error, false),
    (FILE, NO,  false, Some(E), LogLevel::Error, true),
    (FILE, NO,  false, Some(F), LogLevel::Error, true),
    (FILE, NO,  true,  Some(E), LogLevel::Error, true),
    (FILE, NO,  true,  Some(W), LogLevel::Error, false),
    (FILE, NO,  true,  None,    LogLevel::Error, false),
    // INFO keeps everything; NONE nothing.
    (CAPT, OUT, false, None,    LogLevel::Info, true),
    (CAPT, ERR, true,  Some(F), LogLevel::Info, true),
    (FILE, NO,  false, Some(W), LogLevel::Info, true),
    (FILE, NO,  true,  None,    LogLevel::Info, true),
    (CAPT, ERR, false, None,    LogLevel::None, false),
    (CAPT, OUT, true,  Some(F), LogLevel::None, false),
    (FILE, ERR, true,  Some(F), LogLevel::None, false),
    (FILE, NO,  false, Some(E), LogLevel::None, false),
];

#[test]
fn the_log_level_table() {
    for &(source, stream, structured, severity, level, kept) in TABLE {
        let row = RowFacts {
            source,
            stream,
            structured,
            severity,
        };
        assert_eq!(level.admits(&row), kept, "{level:?} {row:?}");
    }
}

#[test]
fn level_and_stream_names() {
    assert_eq!("error".parse::<LogLevel>(), Ok(LogLevel::Error));
    assert_eq!(
        "DEBUG".parse::<LogLevel>().unwrap_err().to_string(),
        "unknown log level \"DEBUG\": use INFO, ERROR or NONE"
    );
    assert_eq!("stderr".parse::<Stream>(), Ok(Stream::Stderr));
    assert!("STDERR".parse::<Stream>().is_err());
    assert_eq!(
        LogLevel::from(firn_spec::model::LogLevel::None),
        LogLevel::None
    );
}
