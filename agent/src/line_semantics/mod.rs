//! Line semantics: the event time and severity a plain log line states, recognised per file.
//!
//! From a file's lines a [`Recognizer`] learns a *shape*: where the time stands (which
//! space-separated token, which of the known time layouts) and where the level token
//! stands after it; or that lines are JSON or logfmt with level and time keys. Following
//! lines are read with that shape alone (a few byte comparisons); a line that does not fit
//! is learned from again, so a file whose layout changes is followed. A line with no time
//! of its own in a file whose lines carry one (a stack-trace line, a wrapped message) is
//! taken as part of the record before it: it gets that record's time and severity.
//!
//! Nothing here allocates per line, and nothing changes a line's text: recognition only
//! gives the row its TIMESTAMP and RECORD.
//!
//! ```
//! use firn_agent::line_semantics::{Recognizer, SemanticsConfig};
//! let mut r = Recognizer::new(std::sync::Arc::new(SemanticsConfig::default()));
//! let seen = r.recognize("2026-12-01 10:00:01,250 ERROR [main] payment failed", 0);
//! assert_eq!(seen.ts, Some(1_796_119_201_250_000_000));
//! assert_eq!(seen.severity, Some(firn_schemas::Severity::Error));
//! ```
//!
//! See `README.md` beside this file for the formats, the severity table and the limits.

mod custom;
mod keyed;
mod level;
mod time;

use std::sync::Arc;

use firn_schemas::Severity;
use regex::Regex;

pub use custom::{TimestampFormat, TimestampFormatError};
use time::{Civil, KINDS, TimeKind};

/// `--parse`: whether lines are recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ParseMode {
    /// Recognise times and levels (the default).
    #[default]
    Auto,
    /// Leave lines alone: TIMESTAMP is the read time, severity the stream's.
    None,
}

/// A `--parse` value that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown --parse {0:?}: use auto or none")]
pub struct UnknownParseMode(pub String);

impl std::str::FromStr for ParseMode {
    type Err = UnknownParseMode;
    fn from_str(s: &str) -> Result<Self, UnknownParseMode> {
        match s {
            "auto" => Ok(Self::Auto),
            "none" => Ok(Self::None),
            _ => Err(UnknownParseMode(s.into())),
        }
    }
}

/// `--timezone`: the zone of times written without one, as a fixed offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timezone {
    /// Seconds east of UTC.
    pub offset_secs: i64,
}

/// A `--timezone` that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "--timezone {0:?}: use UTC or a fixed offset such as +01:00, -0530 or +09 (zone names like Europe/Paris are not read)"
)]
pub struct BadTimezone(pub String);

impl std::str::FromStr for Timezone {
    type Err = BadTimezone;
    fn from_str(s: &str) -> Result<Self, BadTimezone> {
        let bad = || BadTimezone(s.into());
        let t = s.trim();
        if t.eq_ignore_ascii_case("utc") || t == "Z" || t.eq_ignore_ascii_case("gmt") {
            return Ok(Self::default());
        }
        let b = t.as_bytes();
        let sign = match b.first() {
            Some(b'+') => 1,
            Some(b'-') => -1,
            _ => return Err(bad()),
        };
        let rest: Vec<u8> = b[1..].iter().copied().filter(|c| *c != b':').collect();
        if !rest.iter().all(u8::is_ascii_digit) || !matches!(rest.len(), 2 | 4) {
            return Err(bad());
        }
        let n = |r: &[u8]| r.iter().fold(0i64, |a, d| a * 10 + i64::from(d - b'0'));
        let h = n(&rest[..2]);
        let m = if rest.len() == 4 { n(&rest[2..]) } else { 0 };
        if h > 14 || m > 59 {
            return Err(bad());
        }
        Ok(Self {
            offset_secs: sign * (h * 3600 + m * 60),
        })
    }
}

/// How lines of one input are recognised.
#[derive(Debug, Clone, Default)]
pub struct SemanticsConfig {
    /// `--parse`. Default auto.
    pub parse: ParseMode,
    /// `--timezone`. Default UTC.
    pub timezone: Timezone,
    /// `--timestamp-format`: tried before the known layouts.
    pub timestamp_format: Option<TimestampFormat>,
    /// `--severity-regex`: its `level` group (or its first group) names the level, instead
    /// of the level token found by recognition.
    pub severity_regex: Option<Regex>,
}

/// What a line says about itself.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recognized {
    /// Event time, ns since the epoch: the line's own, or its record's.
    pub ts: Option<i64>,
    /// Severity: the line's own, or its record's.
    pub severity: Option<Severity>,
    /// The time was the line's own.
    pub own_time: bool,
    /// The severity was the line's own.
    pub own_severity: bool,
}

/// Where a line's time is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimeAt {
    Known(TimeKind),
    Custom,
}

/// Where a line's level is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LevelAt {
    /// Not found yet.
    Unknown,
    /// The n-th token after the time.
    Token(u8),
    /// The glog/klog letter before the time.
    GlogLetter,
    /// A syslog `<PRI>` at the start of the line.
    Priority,
    /// A single letter (logcat), the n-th token after the time.
    Letter(u8),
}

/// A learned line shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Positional {
        /// The space-separated token the time starts in.
        token: u8,
        time: TimeAt,
        level: LevelAt,
    },
    Json,
    Logfmt,
}

/// Tokens tried for a time when learning.
const TIME_TOKENS: usize = 4;
/// Tokens after the time searched for a level.
const LEVEL_TOKENS: usize = 6;
/// Bytes of a line looked at: a time or level further in is not the line's own.
const HEAD_BYTES: usize = 512;

/// Recognises one file's lines. Keep one per file: it holds the learned shape.
#[derive(Debug)]
pub struct Recognizer {
    cfg: Arc<SemanticsConfig>,
    shape: Option<Shape>,
    /// The time and severity of the last line that had its own time.
    record: Option<(i64, Option<Severity>)>,
    locations: Option<regex::CaptureLocations>,
    level_group: usize,
}

/// The start of the `k`-th space-separated token of `b`.
fn token_start(b: &[u8], k: usize) -> Option<usize> {
    let mut i = 0;
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    for _ in 0..k {
        i += memchr::memchr(b' ', &b[i..])?;
        while b.get(i) == Some(&b' ') {
            i += 1;
        }
    }
    (i < b.len()).then_some(i)
}

/// A syslog `<PRI>` (and RFC 5424's version `1 `) at the start of `b`.
fn priority(b: &[u8]) -> Option<(u32, usize)> {
    if b.first() != Some(&b'<') {
        return None;
    }
    let close = b.iter().take(5).position(|&c| c == b'>')?;
    let pri: u32 = std::str::from_utf8(&b[1..close]).ok()?.parse().ok()?;
    if pri > 191 {
        return None;
    }
    let mut i = close + 1;
    if b.get(i) == Some(&b'1') && b.get(i + 1) == Some(&b' ') {
        i += 2;
    }
    Some((pri, i))
}

impl Recognizer {
    /// A recognizer with `cfg`.
    pub fn new(cfg: Arc<SemanticsConfig>) -> Self {
        let locations = cfg.severity_regex.as_ref().map(Regex::capture_locations);
        let level_group = cfg.severity_regex.as_ref().map_or(1, |re| {
            re.capture_names()
                .position(|n| n == Some("level"))
                .unwrap_or(1)
        });
        Self {
            cfg,
            shape: None,
            record: None,
            locations,
            level_group,
        }
    }

    /// What `text` (a line, or a joined record: its first line counts) says, read at
    /// `now_ns`.
    pub fn recognize(&mut self, text: &str, now_ns: i64) -> Recognized {
        if self.cfg.parse == ParseMode::None {
            return Recognized::default();
        }
        let first = text.split('\n').next().unwrap_or("");
        let head = &first.as_bytes()[..first.len().min(HEAD_BYTES)];
        let mut r = self
            .shape
            .and_then(|s| self.apply(s, head, now_ns))
            .unwrap_or_else(|| self.learn(head, now_ns));
        if self.cfg.severity_regex.is_some() {
            r.severity = self.severity_by_regex(first);
            r.own_severity = r.severity.is_some();
        }
        match r.ts {
            Some(ts) if r.own_time => self.record = Some((ts, r.severity)),
            _ => {
                if let Some((ts, sev)) = self.record {
                    r.ts = Some(ts);
                    if r.severity.is_none() {
                        r.severity = sev;
                    }
                }
            }
        }
        r
    }

    fn severity_by_regex(&mut self, line: &str) -> Option<Severity> {
        let re = self.cfg.severity_regex.as_ref()?;
        let locs = self.locations.as_mut()?;
        re.captures_read(locs, line)?;
        let (s, e) = locs.get(self.level_group)?;
        let w = line.as_bytes().get(s..e)?;
        level::word(w).or_else(|| match w {
            [c] => level::letter(c.to_ascii_uppercase()),
            _ => None,
        })
    }

    fn time_at(&self, t: TimeAt, b: &[u8], i: usize) -> Option<(Civil, usize)> {
        match t {
            TimeAt::Known(k) => time::parse(k, b, i),
            TimeAt::Custom => self.cfg.timestamp_format.as_ref()?.parse(b, i),
        }
    }

    /// Reads `b` with a learned shape; `None` when the line does not fit it.
    fn apply(&mut self, shape: Shape, b: &[u8], now: i64) -> Option<Recognized> {
        let tz = self.cfg.timezone.offset_secs;
        match shape {
            Shape::Json | Shape::Logfmt => {
                let k = if shape == Shape::Json {
                    keyed::json(b)?
                } else {
                    keyed::logfmt(b)?
                };
                let ts = k.time.and_then(|c| c.to_ns(tz, now));
                Some(Recognized {
                    ts,
                    severity: k.severity,
                    own_time: ts.is_some(),
                    own_severity: k.severity.is_some(),
                })
            }
            Shape::Positional { token, time, level } => {
                let start = token_start(b, usize::from(token))?;
                let (i, pri) = match (token, priority(b)) {
                    (0, Some((pri, i))) => (i, Some(pri)),
                    (_, _) => (start + usize::from(matches!(b[start], b'[' | b'(')), None),
                };
                let (civil, end) = self.time_at(time, b, i)?;
                let ts = civil.to_ns(tz, now)?;
                // A line's own `<PRI>` names its severity, whatever the shape learned.
                let severity = match (pri, level) {
                    (Some(p), _) => Some(level::syslog_priority(p)),
                    (None, LevelAt::GlogLetter) => level::letter(b[i]),
                    (None, LevelAt::Letter(n)) => level::tokens(b, end, usize::from(n) + 1)
                        .nth(usize::from(n))
                        .and_then(|t| match t.text {
                            [c] => level::letter(*c),
                            _ => None,
                        }),
                    (None, LevelAt::Token(n)) => {
                        let at = level::tokens(b, end, usize::from(n) + 1)
                            .nth(usize::from(n))
                            .and_then(|t| level::word(t.text));
                        at.or_else(|| self.find_level(b, end, token, time))
                    }
                    (None, LevelAt::Unknown | LevelAt::Priority) => {
                        self.find_level(b, end, token, time)
                    }
                };
                Some(Recognized {
                    ts: Some(ts),
                    severity,
                    own_time: true,
                    own_severity: severity.is_some(),
                })
            }
        }
    }

    /// A loud level word among the tokens after the time; remembered as the shape's place.
    fn find_level(&mut self, b: &[u8], end: usize, token: u8, time: TimeAt) -> Option<Severity> {
        let (n, sev) = level::tokens(b, end, LEVEL_TOKENS)
            .enumerate()
            .find_map(|(n, t)| {
                let sev = level::word(t.text)?;
                (n == 0 || t.loud()).then_some((n, sev))
            })?;
        self.shape = Some(Shape::Positional {
            token,
            time,
            level: LevelAt::Token(u8::try_from(n).unwrap_or(0)),
        });
        Some(sev)
    }

    /// Learns a shape from `b`; the line's own reading either way.
    fn learn(&mut self, b: &[u8], now: i64) -> Recognized {
        let tz = self.cfg.timezone.offset_secs;
        let custom = self.cfg.timestamp_format.is_some();
        for token in 0..TIME_TOKENS {
            let Some(start) = token_start(b, token) else {
                break;
            };
            let pri = if token == 0 { priority(b) } else { None };
            let bracket = matches!(b[start], b'[' | b'(');
            // Past the first token, only a bracketed time (access logs, Ruby's logger) or
            // one after a syslog priority is the line's own; a date later in a sentence is
            // part of the message.
            let after_pri = token == 1 && priority(b).is_some_and(|(_, i)| i >= start);
            if token > 0 && !bracket && !after_pri {
                continue;
            }
            let i = match pri {
                Some((_, i)) => i,
                None => start + usize::from(bracket),
            };
            let kinds = custom
                .then_some(TimeAt::Custom)
                .into_iter()
                .chain(KINDS.iter().map(|k| TimeAt::Known(*k)));
            for time in kinds {
                let Some((civil, end)) = self.time_at(time, b, i) else {
                    continue;
                };
                let Some(ts) = civil.to_ns(tz, now) else {
                    continue;
                };
                let token = u8::try_from(token).unwrap_or(0);
                let level = if time == TimeAt::Known(TimeKind::Glog) {
                    LevelAt::GlogLetter
                } else if pri.is_some() {
                    LevelAt::Priority
                } else if time == TimeAt::Known(TimeKind::Logcat) {
                    level::tokens(b, end, 4)
                        .position(|t| matches!(t.text, [c] if level::letter(*c).is_some()))
                        .map_or(LevelAt::Unknown, |n| {
                            LevelAt::Letter(u8::try_from(n).unwrap_or(0))
                        })
                } else {
                    LevelAt::Unknown
                };
                let shape = Shape::Positional { token, time, level };
                self.shape = Some(shape);
                if let Some(r) = self.apply(shape, b, now) {
                    return r;
                }
                return Recognized {
                    ts: Some(ts),
                    own_time: true,
                    ..Recognized::default()
                };
            }
        }
        for (shape, read) in [
            (
                Shape::Json,
                keyed::json as fn(&[u8]) -> Option<keyed::Keyed>,
            ),
            (Shape::Logfmt, keyed::logfmt),
        ] {
            if let Some(k) = read(b) {
                let ts = k.time.and_then(|c| c.to_ns(tz, now));
                if ts.is_some() {
                    self.shape = Some(shape);
                }
                return Recognized {
                    ts,
                    severity: k.severity,
                    own_time: ts.is_some(),
                    own_severity: k.severity.is_some(),
                };
            }
        }
        // A level with no time: `WARNING:root:disk full`, `[ERROR] bad`.
        let severity = level::tokens(b, 0, 1)
            .next()
            .filter(|t| t.loud() && (t.framed || b.first() == Some(&b'[')))
            .and_then(|t| level::word(t.text));
        Recognized {
            severity,
            own_severity: severity.is_some(),
            ..Recognized::default()
        }
    }
}

#[cfg(test)]
mod tests;
