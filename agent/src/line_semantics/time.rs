//! Timestamps written by hand-rolled byte parsers: one function per shape of time, each
//! reading at a given byte position and saying where the time ends. No allocation, no date
//! crate: a civil date becomes days since the epoch by Howard Hinnant's arithmetic.

/// The shapes of time recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeKind {
    /// `2026-12-01T10:00:01.123Z`, `2026-12-01 10:00:01,123 +0100` (RFC 3339, ISO 8601,
    /// log4j, Python), and with `/`: `2026/12/01 10:00:01` (nginx, Go's log).
    Iso,
    /// `26/12/01 10:00:01` (log4j `yy/MM/dd HH:mm:ss`: Hadoop, Spark).
    ShortSlash,
    /// `261201 100001` (`yyMMdd HHmmss`: HDFS).
    Compact,
    /// `Dec  1 10:00:01` (syslog RFC 3164; no year).
    Syslog,
    /// `Tue Dec 01 10:00:01.123 2026` (Apache error log, C `ctime`).
    Ctime,
    /// `01/Dec/2026:10:00:01 +0000` (Apache/Nginx access log).
    Clf,
    /// `01-Dec-2026 10:00:01.123` (Tomcat) and `01 Dec 2026 10:00:01.123` (Redis).
    DayMonthYear,
    /// `E1201 10:00:01.123456` (glog/klog; the letter is the level; no year).
    Glog,
    /// `12-01 10:00:01.123` (Android logcat; no year).
    Logcat,
    /// `1764583201` or `1764583201.123` (epoch seconds).
    EpochSeconds,
    /// `1764583201123` (epoch milliseconds).
    EpochMillis,
}

/// Every kind, in the order tried.
pub(crate) const KINDS: [TimeKind; 11] = [
    TimeKind::Iso,
    TimeKind::ShortSlash,
    TimeKind::Compact,
    TimeKind::Syslog,
    TimeKind::Ctime,
    TimeKind::Clf,
    TimeKind::DayMonthYear,
    TimeKind::Glog,
    TimeKind::Logcat,
    TimeKind::EpochSeconds,
    TimeKind::EpochMillis,
];

/// A time as written: a civil date and time, maybe without year or zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Civil {
    /// The year; `None` when the line has none.
    pub(crate) year: Option<i64>,
    pub(crate) month: i64,
    pub(crate) day: i64,
    pub(crate) hour: i64,
    pub(crate) minute: i64,
    pub(crate) second: i64,
    pub(crate) nanos: i64,
    /// Seconds east of UTC; `None` when the line names no zone.
    pub(crate) offset: Option<i64>,
    /// Already ns since the epoch (epoch kinds): the fields above are unused.
    pub(crate) epoch_ns: Option<i64>,
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The year of a day count (the inverse's year part).
pub(crate) fn year_of_days(days: i64) -> i64 {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    yoe + era * 400 + i64::from(m <= 2)
}

fn leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

const NS: i64 = 1_000_000_000;

impl Civil {
    /// ns since the epoch: a time without zone is in `tz` (seconds east of UTC); one without
    /// year takes the year that puts it nearest before `now_ns` (a day of clock skew allowed).
    pub(crate) fn to_ns(self, tz: i64, now_ns: i64) -> Option<i64> {
        if let Some(ns) = self.epoch_ns {
            return Some(ns);
        }
        let at = |y: i64| -> Option<i64> {
            if self.day > days_in_month(y, self.month) {
                return None;
            }
            let secs = days_from_civil(y, self.month, self.day) * 86_400
                + self.hour * 3600
                + self.minute * 60
                + self.second
                - self.offset.unwrap_or(tz);
            secs.checked_mul(NS)?.checked_add(self.nanos)
        };
        match self.year {
            Some(y) => at(y),
            None => {
                let this = year_of_days(now_ns.div_euclid(NS * 86_400));
                let skew = NS * 86_400;
                (0..=4)
                    .filter_map(|back| at(this + 1 - back))
                    .find(|&t| t <= now_ns + skew)
            }
        }
    }
}

/// Exactly `n` ASCII digits at `i`.
fn num(b: &[u8], i: usize, n: usize) -> Option<i64> {
    let s = b.get(i..i + n)?;
    let mut v = 0i64;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(v)
}

/// A day of month as two digits or a space and a digit (`Dec  1`).
fn day2(b: &[u8], i: usize) -> Option<i64> {
    match b.get(i)? {
        b' ' => num(b, i + 1, 1),
        _ => num(b, i, 2),
    }
}

const MONTHS: [&[u8; 3]; 12] = [
    b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov", b"dec",
];
const WEEKDAYS: [&[u8; 3]; 7] = [b"mon", b"tue", b"wed", b"thu", b"fri", b"sat", b"sun"];

fn month(b: &[u8], i: usize) -> Option<i64> {
    let s = b.get(i..i + 3)?;
    let lower = [
        s[0].to_ascii_lowercase(),
        s[1].to_ascii_lowercase(),
        s[2].to_ascii_lowercase(),
    ];
    MONTHS
        .iter()
        .position(|m| **m == lower)
        .map(|p| p as i64 + 1)
}

fn weekday(b: &[u8], i: usize) -> bool {
    b.get(i..i + 3).is_some_and(|s| {
        let lower = [
            s[0].to_ascii_lowercase(),
            s[1].to_ascii_lowercase(),
            s[2].to_ascii_lowercase(),
        ];
        WEEKDAYS.iter().any(|w| **w == lower)
    })
}

fn at(b: &[u8], i: usize, c: u8) -> bool {
    b.get(i) == Some(&c)
}

/// `HH:MM:SS` at `i`, then an optional `.` or `,` fraction. Returns the fields and the end.
fn clock(b: &[u8], i: usize, c: &mut Civil) -> Option<usize> {
    c.hour = num(b, i, 2)?;
    c.minute = if at(b, i + 2, b':') {
        num(b, i + 3, 2)?
    } else {
        return None;
    };
    c.second = if at(b, i + 5, b':') {
        num(b, i + 6, 2)?
    } else {
        return None;
    };
    Some(fraction(b, i + 8, c))
}

/// An optional `.123` or `,123456789`: nanoseconds (digits past 9 ignored).
fn fraction(b: &[u8], mut i: usize, c: &mut Civil) -> usize {
    if !matches!(b.get(i), Some(b'.' | b',')) || !b.get(i + 1).is_some_and(u8::is_ascii_digit) {
        return i;
    }
    i += 1;
    let start = i;
    let mut nanos = 0i64;
    while let Some(d) = b.get(i).filter(|d| d.is_ascii_digit()) {
        if i - start < 9 {
            nanos = nanos * 10 + i64::from(d - b'0');
        }
        i += 1;
    }
    for _ in (i - start).min(9)..9 {
        nanos *= 10;
    }
    c.nanos = nanos;
    i
}

/// An optional zone after a time: `Z`, `+01:00`, `+0100`, `+01`, or ` UTC`/` GMT`, with an
/// optional space before a numeric offset.
fn zone(b: &[u8], i: usize, c: &mut Civil) -> usize {
    match b.get(i) {
        Some(b'Z' | b'z') => {
            c.offset = Some(0);
            i + 1
        }
        Some(b' ') => {
            if let Some(s) = b.get(i + 1..i + 4)
                && (s == b"UTC" || s == b"GMT")
                && !b.get(i + 4).is_some_and(u8::is_ascii_alphanumeric)
            {
                c.offset = Some(0);
                return i + 4;
            }
            if matches!(b.get(i + 1), Some(b'+' | b'-')) {
                let end = numeric_zone(b, i + 1, c);
                if end > i + 1 {
                    return end;
                }
            }
            i
        }
        Some(b'+' | b'-') => numeric_zone(b, i, c),
        _ => i,
    }
}

fn numeric_zone(b: &[u8], i: usize, c: &mut Civil) -> usize {
    let sign = if at(b, i, b'-') { -1 } else { 1 };
    let Some(h) = num(b, i + 1, 2).filter(|h| *h <= 14) else {
        return i;
    };
    let (m, end) = if at(b, i + 3, b':') {
        match num(b, i + 4, 2) {
            Some(m) => (m, i + 6),
            None => return i,
        }
    } else if let Some(m) = num(b, i + 3, 2) {
        (m, i + 5)
    } else {
        (0, i + 3)
    };
    if m > 59 || b.get(end).is_some_and(u8::is_ascii_digit) {
        return i;
    }
    c.offset = Some(sign * (h * 3600 + m * 60));
    end
}

fn valid(c: &Civil) -> bool {
    (1..=12).contains(&c.month)
        && (1..=31).contains(&c.day)
        && c.hour <= 23
        && c.minute <= 59
        && c.second <= 60
        && c.year.is_none_or(|y| (1970..=9999).contains(&y))
}

/// The time of `kind` at `b[i..]`, and where it ends; `None` when it is not one (also when
/// it runs into a letter or digit, as in `2026-12-01 10:00:0123`).
pub(crate) fn parse(kind: TimeKind, b: &[u8], i: usize) -> Option<(Civil, usize)> {
    let mut c = Civil::default();
    let end = match kind {
        TimeKind::Iso => {
            c.year = Some(num(b, i, 4)?);
            let sep = *b.get(i + 4)?;
            if !matches!(sep, b'-' | b'/') || !at(b, i + 7, sep) {
                return None;
            }
            c.month = num(b, i + 5, 2)?;
            c.day = num(b, i + 8, 2)?;
            if !matches!(b.get(i + 10), Some(b'T' | b't' | b' ')) {
                return None;
            }
            let e = clock(b, i + 11, &mut c)?;
            zone(b, e, &mut c)
        }
        TimeKind::ShortSlash => {
            c.year = Some(2000 + num(b, i, 2)?);
            if !at(b, i + 2, b'/') || !at(b, i + 5, b'/') || !at(b, i + 8, b' ') {
                return None;
            }
            c.month = num(b, i + 3, 2)?;
            c.day = num(b, i + 6, 2)?;
            clock(b, i + 9, &mut c)?
        }
        TimeKind::Compact => {
            c.year = Some(2000 + num(b, i, 2)?);
            c.month = num(b, i + 2, 2)?;
            c.day = num(b, i + 4, 2)?;
            if !at(b, i + 6, b' ') {
                return None;
            }
            c.hour = num(b, i + 7, 2)?;
            c.minute = num(b, i + 9, 2)?;
            c.second = num(b, i + 11, 2)?;
            i + 13
        }
        TimeKind::Syslog => {
            c.month = month(b, i)?;
            if !at(b, i + 3, b' ') {
                return None;
            }
            c.day = day2(b, i + 4)?;
            if !at(b, i + 6, b' ') {
                return None;
            }
            clock(b, i + 7, &mut c)?
        }
        TimeKind::Ctime => {
            if !weekday(b, i) || !at(b, i + 3, b' ') {
                return None;
            }
            c.month = month(b, i + 4)?;
            c.day = day2(b, i + 8)?;
            if !at(b, i + 7, b' ') || !at(b, i + 10, b' ') {
                return None;
            }
            let e = clock(b, i + 11, &mut c)?;
            if !at(b, e, b' ') {
                return None;
            }
            c.year = Some(num(b, e + 1, 4)?);
            e + 5
        }
        TimeKind::Clf => {
            c.day = num(b, i, 2)?;
            if !at(b, i + 2, b'/') || !at(b, i + 6, b'/') || !at(b, i + 11, b':') {
                return None;
            }
            c.month = month(b, i + 3)?;
            c.year = Some(num(b, i + 7, 4)?);
            let e = clock(b, i + 12, &mut c)?;
            zone(b, e, &mut c)
        }
        TimeKind::DayMonthYear => {
            c.day = num(b, i, 2)?;
            let sep = *b.get(i + 2)?;
            if !matches!(sep, b'-' | b' ') || !at(b, i + 6, sep) || !at(b, i + 11, b' ') {
                return None;
            }
            c.month = month(b, i + 3)?;
            c.year = Some(num(b, i + 7, 4)?);
            let e = clock(b, i + 12, &mut c)?;
            zone(b, e, &mut c)
        }
        TimeKind::Glog => {
            if !matches!(b.get(i), Some(b'I' | b'W' | b'E' | b'F')) {
                return None;
            }
            c.month = num(b, i + 1, 2)?;
            c.day = num(b, i + 3, 2)?;
            if !at(b, i + 5, b' ') {
                return None;
            }
            clock(b, i + 6, &mut c)?
        }
        TimeKind::Logcat => {
            c.month = num(b, i, 2)?;
            if !at(b, i + 2, b'-') || !at(b, i + 5, b' ') {
                return None;
            }
            c.day = num(b, i + 3, 2)?;
            let e = clock(b, i + 6, &mut c)?;
            // A time without its milliseconds is too plain to be logcat's.
            if e == i + 14 {
                return None;
            }
            e
        }
        TimeKind::EpochSeconds => {
            let secs = num(b, i, 10)?;
            if !(946_684_800..=4_102_444_800).contains(&secs) {
                return None;
            }
            let e = fraction(b, i + 10, &mut c);
            if matches!(b.get(e), Some(b'.' | b',')) {
                return None;
            }
            c.epoch_ns = Some(secs * NS + c.nanos);
            e
        }
        TimeKind::EpochMillis => {
            let ms = num(b, i, 13)?;
            if !(946_684_800_000..=4_102_444_800_000).contains(&ms) {
                return None;
            }
            c.epoch_ns = Some(ms * 1_000_000);
            i + 13
        }
    };
    if b.get(end).is_some_and(|x| x.is_ascii_alphanumeric()) {
        return None;
    }
    (c.epoch_ns.is_some() || valid(&c)).then_some((c, end))
}

/// A time value on its own (a JSON or logfmt field): any kind at its start, or epoch
/// seconds with a fraction, milliseconds, microseconds or nanoseconds as digits.
pub(crate) fn parse_value(b: &[u8]) -> Option<Civil> {
    for kind in KINDS {
        if let Some((c, end)) = parse(kind, b, 0)
            && end == b.len()
        {
            return Some(c);
        }
    }
    let digits = b.iter().take_while(|d| d.is_ascii_digit()).count();
    if digits == b.len() && matches!(digits, 16 | 19) {
        let v = num(b, 0, digits)?;
        let ns = if digits == 16 {
            v.checked_mul(1000)?
        } else {
            v
        };
        return (ns >= 946_684_800 * NS).then_some(Civil {
            epoch_ns: Some(ns),
            ..Civil::default()
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns(kind: TimeKind, s: &str) -> Option<i64> {
        let (c, end) = parse(kind, s.as_bytes(), 0)?;
        assert!(end <= s.len());
        c.to_ns(0, 1_800_000_000 * NS)
    }

    #[test]
    fn civil_round_trips() {
        for days in [-1, 0, 59, 365, 10_957, 20_000, 2_932_896] {
            let y = year_of_days(days);
            assert!(days_from_civil(y, 1, 1) <= days && days < days_from_civil(y + 1, 1, 1));
        }
    }

    #[test]
    fn kinds() {
        assert_eq!(ns(TimeKind::Iso, "1970-01-01T00:00:01Z"), Some(NS));
        assert_eq!(
            ns(TimeKind::Iso, "1970-01-01 01:00:01,5+0100"),
            Some(NS + NS / 2)
        );
        assert_eq!(ns(TimeKind::Iso, "1970/01/01 00:00:01"), Some(NS));
        assert_eq!(ns(TimeKind::Iso, "1970-01-01 00:00:0123"), None);
        assert_eq!(ns(TimeKind::Iso, "2026-02-30 00:00:00"), None);
        assert_eq!(
            ns(TimeKind::Clf, "01/Jan/1970:00:00:01 -0700"),
            Some(25_201 * NS)
        );
        assert_eq!(
            ns(TimeKind::EpochSeconds, "1700000000.25"),
            Some(1_700_000_000 * NS + NS / 4)
        );
        assert_eq!(ns(TimeKind::EpochSeconds, "1.2.3"), None);
        assert_eq!(ns(TimeKind::EpochSeconds, "10.0.0.1"), None);
    }
}
