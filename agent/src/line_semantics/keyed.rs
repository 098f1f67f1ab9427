//! Lines that name their fields: JSON objects without `body` (zap, slog, logrus, pino,
//! bunyan, ECS) and logfmt (`level=error ts=...`). Read by scanning for the keys, without
//! building a JSON value.

use firn_schemas::Severity;
use memchr::memchr;

use super::level;
use super::time::{self, Civil};

/// Keys that hold a level.
const LEVEL_KEYS: [&[u8]; 6] = [
    b"level",
    b"lvl",
    b"severity",
    b"log.level",
    b"levelname",
    b"loglevel",
];
/// Keys that hold a time.
const TIME_KEYS: [&[u8]; 6] = [
    b"time",
    b"ts",
    b"timestamp",
    b"@timestamp",
    b"datetime",
    b"asctime",
];

/// What a keyed line says.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Keyed {
    pub(crate) time: Option<Civil>,
    pub(crate) severity: Option<Severity>,
}

fn severity_of(v: &[u8], quoted: bool) -> Option<Severity> {
    if !quoted && let Ok(n) = std::str::from_utf8(v).unwrap_or("").parse::<u32>() {
        return level::number(n);
    }
    level::word(v).or_else(|| match v {
        [c] => level::letter(c.to_ascii_uppercase()),
        _ => None,
    })
}

fn time_of(v: &[u8], quoted: bool) -> Option<Civil> {
    if let Some(c) = time::parse_value(v) {
        return Some(c);
    }
    if quoted {
        return None;
    }
    // Epoch seconds as a JSON number with a fraction (zap: 1764583201.1234567).
    let dot = v.iter().position(|&c| c == b'.');
    let (int, frac) = match dot {
        Some(d) => (&v[..d], &v[d + 1..]),
        None => (v, &b""[..]),
    };
    if int.len() != 10 || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut text = [0u8; 24];
    let n = (10 + 1 + frac.len()).min(24);
    text[..10].copy_from_slice(int);
    text[10] = b'.';
    text[11..n].copy_from_slice(&frac[..n - 11]);
    let end = if frac.is_empty() { 10 } else { n };
    time::parse(time::TimeKind::EpochSeconds, &text[..end], 0).map(|(c, _)| c)
}

/// A JSON object line: its level and time keys, wherever they are (first of each wins).
pub(crate) fn json(b: &[u8]) -> Option<Keyed> {
    if b.first() != Some(&b'{') {
        return None;
    }
    let mut out = Keyed::default();
    let mut found = false;
    let mut i = 0;
    while let Some(q) = memchr(b'"', &b[i..]) {
        let start = i + q + 1;
        let Some(len) = memchr(b'"', &b[start..]) else {
            break;
        };
        let key = &b[start..start + len];
        let mut j = start + len + 1;
        while b.get(j) == Some(&b' ') {
            j += 1;
        }
        if b.get(j) != Some(&b':') {
            // A value, not a key: go on after it.
            i = start + len + 1;
            continue;
        }
        j += 1;
        while b.get(j) == Some(&b' ') {
            j += 1;
        }
        let (value, quoted, next) = if b.get(j) == Some(&b'"') {
            let Some(vl) = memchr(b'"', &b[j + 1..]) else {
                break;
            };
            (&b[j + 1..j + 1 + vl], true, j + vl + 2)
        } else {
            let vl = b[j..]
                .iter()
                .position(|c| matches!(c, b',' | b'}' | b' '))
                .unwrap_or(b.len() - j);
            (&b[j..j + vl], false, j + vl)
        };
        if out.severity.is_none() && LEVEL_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key)) {
            out.severity = severity_of(value, quoted);
            found = true;
        } else if out.time.is_none() && TIME_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key)) {
            out.time = time_of(value, quoted);
            found = true;
        }
        if out.severity.is_some() && out.time.is_some() {
            break;
        }
        i = next;
    }
    found.then_some(out)
}

/// A logfmt line: `key=value` pairs, values maybe quoted; needs a level or time key.
pub(crate) fn logfmt(b: &[u8]) -> Option<Keyed> {
    let mut out = Keyed::default();
    let mut found = false;
    let mut i = 0;
    while i < b.len() {
        while b.get(i) == Some(&b' ') {
            i += 1;
        }
        let key_start = i;
        while i < b.len() && !matches!(b[i], b'=' | b' ') {
            i += 1;
        }
        if b.get(i) != Some(&b'=') {
            continue;
        }
        let key = &b[key_start..i];
        i += 1;
        let (value, quoted) = if b.get(i) == Some(&b'"') {
            let Some(vl) = memchr(b'"', &b[i + 1..]) else {
                break;
            };
            let v = &b[i + 1..i + 1 + vl];
            i += vl + 2;
            (v, true)
        } else {
            let s = i;
            while i < b.len() && b[i] != b' ' {
                i += 1;
            }
            (&b[s..i], false)
        };
        if out.severity.is_none() && LEVEL_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key)) {
            out.severity = severity_of(value, quoted);
            found = true;
        } else if out.time.is_none()
            && (TIME_KEYS.iter().any(|k| k.eq_ignore_ascii_case(key)) || key == b"t")
        {
            out.time = time_of(value, quoted);
            found = true;
        }
        if out.severity.is_some() && out.time.is_some() {
            break;
        }
    }
    found.then_some(out)
}
