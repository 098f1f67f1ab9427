//! `--timestamp-format`: a strftime-like pattern for times recognition does not know.

use super::time::Civil;

/// One piece of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    /// `%Y` four-digit year, `%y` two-digit (2000+).
    Year(usize),
    /// `%m` month number.
    Month,
    /// `%b` month name (`Dec`).
    MonthName,
    /// `%d` day, `%e` day maybe space-padded.
    Day,
    /// `%H`.
    Hour,
    /// `%M`.
    Minute,
    /// `%S`.
    Second,
    /// `%f` fraction digits (any count).
    Fraction,
    /// `%z` `+0100`, `+01:00` or `Z`.
    Zone,
    /// `%a` weekday name, skipped.
    Weekday,
    /// `%s` epoch seconds.
    Epoch,
    /// A byte to match as is.
    Lit(u8),
}

/// A parsed `--timestamp-format`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampFormat {
    pieces: Vec<Piece>,
    text: String,
}

/// A `--timestamp-format` that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimestampFormatError {
    /// An unknown `%` directive.
    #[error(
        "--timestamp-format {0:?}: unknown directive %{1}; use %Y %y %m %b %d %e %H %M %S %f %z %a %s %%"
    )]
    Directive(String, char),
    /// No day or no hour.
    #[error("--timestamp-format {0:?} needs at least %d (or %e) and %H, or %s")]
    Incomplete(String),
}

impl std::str::FromStr for TimestampFormat {
    type Err = TimestampFormatError;
    fn from_str(s: &str) -> Result<Self, TimestampFormatError> {
        let mut pieces = Vec::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                let mut buf = [0u8; 4];
                pieces.extend(c.encode_utf8(&mut buf).bytes().map(Piece::Lit));
                continue;
            }
            let d = chars.next().unwrap_or('%');
            pieces.push(match d {
                'Y' => Piece::Year(4),
                'y' => Piece::Year(2),
                'm' => Piece::Month,
                'b' | 'h' => Piece::MonthName,
                'd' | 'e' => Piece::Day,
                'H' => Piece::Hour,
                'M' => Piece::Minute,
                'S' => Piece::Second,
                'f' => Piece::Fraction,
                'z' => Piece::Zone,
                'a' => Piece::Weekday,
                's' => Piece::Epoch,
                '%' => Piece::Lit(b'%'),
                other => return Err(TimestampFormatError::Directive(s.into(), other)),
            });
        }
        let has = |p: &Piece| pieces.contains(p);
        if !(has(&Piece::Epoch) || has(&Piece::Day) && has(&Piece::Hour)) {
            return Err(TimestampFormatError::Incomplete(s.into()));
        }
        Ok(Self {
            pieces,
            text: s.into(),
        })
    }
}

fn digits(b: &[u8], i: &mut usize, max: usize) -> Option<i64> {
    let start = *i;
    let mut v = 0i64;
    while *i - start < max && b.get(*i).is_some_and(u8::is_ascii_digit) {
        v = v * 10 + i64::from(b[*i] - b'0');
        *i += 1;
    }
    (*i > start).then_some(v)
}

impl TimestampFormat {
    /// The pattern as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The time at `b[i..]` and where it ends.
    pub(crate) fn parse(&self, b: &[u8], mut i: usize) -> Option<(Civil, usize)> {
        let mut c = Civil::default();
        for p in &self.pieces {
            match p {
                Piece::Lit(x) => {
                    if b.get(i) != Some(x) {
                        return None;
                    }
                    i += 1;
                }
                Piece::Year(n) => {
                    let v = digits(b, &mut i, *n)?;
                    c.year = Some(if *n == 2 { 2000 + v } else { v });
                }
                Piece::Month => c.month = digits(b, &mut i, 2)?,
                Piece::MonthName => {
                    let m = b.get(i..i + 3)?;
                    c.month = [
                        b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep",
                        b"oct", b"nov", b"dec",
                    ]
                    .iter()
                    .position(|n| n.eq_ignore_ascii_case(m))? as i64
                        + 1;
                    i += 3;
                }
                Piece::Day => {
                    if b.get(i) == Some(&b' ') {
                        i += 1;
                    }
                    c.day = digits(b, &mut i, 2)?;
                }
                Piece::Hour => c.hour = digits(b, &mut i, 2)?,
                Piece::Minute => c.minute = digits(b, &mut i, 2)?,
                Piece::Second => c.second = digits(b, &mut i, 2)?,
                Piece::Fraction => {
                    let start = i;
                    let mut nanos = 0;
                    while b.get(i).is_some_and(u8::is_ascii_digit) {
                        if i - start < 9 {
                            nanos = nanos * 10 + i64::from(b[i] - b'0');
                        }
                        i += 1;
                    }
                    for _ in (i - start).min(9)..9 {
                        nanos *= 10;
                    }
                    c.nanos = nanos;
                }
                Piece::Zone => {
                    if matches!(b.get(i), Some(b'Z' | b'z')) {
                        c.offset = Some(0);
                        i += 1;
                    } else {
                        let sign = match b.get(i)? {
                            b'+' => 1,
                            b'-' => -1,
                            _ => return None,
                        };
                        i += 1;
                        let h = digits(b, &mut i, 2)?;
                        if b.get(i) == Some(&b':') {
                            i += 1;
                        }
                        let m = digits(b, &mut i, 2).unwrap_or(0);
                        c.offset = Some(sign * (h * 3600 + m * 60));
                    }
                }
                Piece::Weekday => {
                    while b.get(i).is_some_and(u8::is_ascii_alphabetic) {
                        i += 1;
                    }
                }
                Piece::Epoch => {
                    let s = digits(b, &mut i, 12)?;
                    c.epoch_ns = Some(s.checked_mul(1_000_000_000)?);
                }
            }
        }
        let ok = c.epoch_ns.is_some()
            || (1..=12).contains(&c.month)
                && (1..=31).contains(&c.day)
                && c.hour <= 23
                && c.minute <= 59
                && c.second <= 60;
        ok.then_some((c, i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_custom_format() {
        let f: TimestampFormat = "%d.%m.%Y %H:%M:%S.%f".parse().unwrap();
        let (c, end) = f.parse(b"01.12.2026 10:00:01.5 x", 0).unwrap();
        assert_eq!(end, 21);
        assert_eq!(c.to_ns(0, 0), Some(1_796_119_201_500_000_000));
        assert!("%Q".parse::<TimestampFormat>().is_err());
        assert!("%Y-%m".parse::<TimestampFormat>().is_err());
    }
}
