//! Human units in configuration: sizes such as `64MiB` and durations such as `10s`.

use std::time::Duration;

/// A size or duration that could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid {what} {text:?}: {why}")]
pub struct UnitError {
    what: &'static str,
    text: String,
    why: &'static str,
}

/// Parses a byte size: a whole number with an optional unit `B`, `KiB`, `MiB`, `GiB`
/// (powers of 1024) or `KB`, `MB`, `GB` (powers of 1000). `k`/`K`, `M`, `G` alone are
/// binary, as users of `--max-file-size 64M` mean.
///
/// # Errors
/// When the text is empty, not a number, has an unknown unit, or overflows.
pub fn parse_size(text: &str) -> Result<u64, UnitError> {
    let err = |why| UnitError {
        what: "size",
        text: text.to_string(),
        why,
    };
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        return Err(err(
            "expected a whole number followed by a unit such as MiB",
        ));
    }
    let n: u64 = num.parse().map_err(|_| err("number too large"))?;
    let mult: u64 = match unit.trim() {
        "" | "B" | "b" => 1,
        "KiB" | "K" | "k" | "Ki" => 1 << 10,
        "MiB" | "M" | "Mi" => 1 << 20,
        "GiB" | "G" | "Gi" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return Err(err("unknown unit; use B, KiB, MiB, GiB, KB, MB or GB")),
    };
    n.checked_mul(mult).ok_or_else(|| err("number too large"))
}

/// Parses a duration: a number with a unit `ms`, `s`, `m` or `h` (`1.5s` is allowed).
///
/// # Errors
/// When the unit is missing or unknown, or the number is not finite and non-negative.
pub fn parse_duration(text: &str) -> Result<Duration, UnitError> {
    let err = |why| UnitError {
        what: "duration",
        text: text.to_string(),
        why,
    };
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| err("missing unit; write e.g. 500ms, 10s, 5m or 1h"))?;
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| err("expected a number followed by ms, s, m or h"))?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        _ => return Err(err("unknown unit; use ms, s, m or h")),
    };
    Duration::try_from_secs_f64(secs).map_err(|_| err("out of range"))
}

/// Formats a byte count for people: `1.5 MiB`.
pub fn format_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("64M"), Ok(64 << 20));
        assert_eq!(parse_size("10KB"), Ok(10_000));
        assert_eq!(parse_size("123"), Ok(123));
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("99999999999999999999GiB").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("10 fortnights").is_err());
    }

    #[test]
    fn bytes_for_people() {
        assert_eq!(format_bytes(512), "512 B");
        assert_eq!(format_bytes(1536), "1.5 KiB");
    }
}
