//! Level words and letters to OpenTelemetry severities: the one table (README.md beside this
//! file shows it).

use firn_schemas::Severity;

/// A level word, any case: `error`, `WARNING`, `Severe`, ... (bytes past 12 never match).
pub(crate) fn word(w: &[u8]) -> Option<Severity> {
    if w.is_empty() || w.len() > 13 {
        return None;
    }
    let mut buf = [0u8; 13];
    for (d, s) in buf.iter_mut().zip(w) {
        *d = s.to_ascii_lowercase();
    }
    Some(match &buf[..w.len()] {
        b"trace" | b"trc" | b"finest" | b"finer" | b"verbose" => Severity::Trace,
        b"debug" | b"dbg" | b"fine" | b"debug1" | b"debug2" | b"debug3" | b"debug4" | b"debug5" => {
            Severity::Debug
        }
        b"info" | b"inf" | b"information" | b"informational" | b"notice" => Severity::Info,
        b"warn" | b"wrn" | b"warning" => Severity::Warn,
        b"error" | b"err" | b"eror" | b"severe" | b"critical" | b"crit" => Severity::Error,
        b"fatal" | b"ftl" | b"emerg" | b"emergency" | b"alert" | b"panic" => Severity::Fatal,
        _ => return None,
    })
}

/// A one-letter level of glog/klog (`I W E F`) and Android logcat (`V D I W E F A`).
pub(crate) fn letter(c: u8) -> Option<Severity> {
    Some(match c {
        b'V' => Severity::Trace,
        b'D' => Severity::Debug,
        b'I' => Severity::Info,
        b'W' => Severity::Warn,
        b'E' => Severity::Error,
        b'F' | b'A' => Severity::Fatal,
        _ => return None,
    })
}

/// The severity of a syslog priority (`<PRI>`, facility * 8 + severity, RFC 5424 §6.2.1).
pub(crate) fn syslog_priority(pri: u32) -> Severity {
    match pri % 8 {
        0 | 1 => Severity::Fatal,
        2 | 3 => Severity::Error,
        4 => Severity::Warn,
        5 | 6 => Severity::Info,
        _ => Severity::Debug,
    }
}

/// A numeric level of pino/bunyan JSON lines (`"level":50`).
pub(crate) fn number(n: u32) -> Option<Severity> {
    Some(match n {
        10 => Severity::Trace,
        20 => Severity::Debug,
        30 => Severity::Info,
        40 => Severity::Warn,
        50 => Severity::Error,
        60 => Severity::Fatal,
        _ => return None,
    })
}

/// Whether a byte ends a level token.
pub(crate) fn is_separator(c: u8) -> bool {
    matches!(
        c,
        b' ' | b'\t'
            | b'['
            | b']'
            | b'('
            | b')'
            | b'<'
            | b'>'
            | b'|'
            | b':'
            | b','
            | b'"'
            | b'='
            | b'{'
            | b'}'
            | b';'
            | b'\''
    )
}

/// One token of a line: its bytes, and whether brackets or a colon frame it (`[error]`,
/// `core:error]`, `ERROR:`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Token<'a> {
    pub(crate) text: &'a [u8],
    pub(crate) framed: bool,
}

impl Token<'_> {
    /// Whether it is written as levels usually are when they stand alone: upper case (or
    /// framed, as in `[error]`), at least three letters.
    pub(crate) fn loud(&self) -> bool {
        self.text.len() >= 3
            && (self.framed
                || self
                    .text
                    .iter()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()))
    }
}

/// The tokens of `b` from `i`, at most `max`.
pub(crate) fn tokens(b: &[u8], mut i: usize, max: usize) -> impl Iterator<Item = Token<'_>> {
    let mut n = 0;
    std::iter::from_fn(move || {
        if n >= max {
            return None;
        }
        while i < b.len() && is_separator(b[i]) {
            i += 1;
        }
        if i >= b.len() {
            return None;
        }
        let start = i;
        while i < b.len() && !is_separator(b[i]) {
            i += 1;
        }
        n += 1;
        let before = start.checked_sub(1).and_then(|p| b.get(p)).copied();
        let after = b.get(i).copied();
        let framed = matches!(before, Some(b'[' | b'<' | b'(' | b':'))
            && matches!(after, Some(b']' | b'>' | b')'))
            || after == Some(b':') && !matches!(b.get(i + 1), Some(b':'));
        Some(Token {
            text: &b[start..i],
            framed,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table() {
        for (w, s) in [
            ("notice", Severity::Info),
            ("Warning", Severity::Warn),
            ("err", Severity::Error),
            ("SEVERE", Severity::Error),
            ("critical", Severity::Error),
            ("emerg", Severity::Fatal),
            ("alert", Severity::Fatal),
            ("panic", Severity::Fatal),
            ("fine", Severity::Debug),
        ] {
            assert_eq!(word(w.as_bytes()), Some(s), "{w}");
        }
        assert_eq!(word(b"errors"), None);
        assert_eq!(syslog_priority(165), Severity::Info);
        assert_eq!(syslog_priority(34), Severity::Error);
    }

    #[test]
    fn tokens_and_frames() {
        let t: Vec<_> = tokens(b"[core:error] [pid 1] ERROR: x", 0, 9)
            .map(|t| (String::from_utf8_lossy(t.text).to_string(), t.framed))
            .collect();
        assert_eq!(t[1], ("error".to_string(), true));
        assert_eq!(t[4], ("ERROR".to_string(), true));
        assert_eq!(t[2], ("pid".to_string(), false));
    }
}
