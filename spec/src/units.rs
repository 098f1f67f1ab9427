//! Quantities with the units of the service specification reference ("About units").
//!
//! Binary `Ki Mi Gi` (×1024ⁿ), decimal `k M G` (×1000ⁿ) and fractional `m` (×0.001).
//! Nothing else: `T`, `Ti`, `K` and `E` are not in the reference and are rejected rather
//! than guessed, so a spec that passes here does not fail later in Snowflake.

#[cfg(test)]
mod tests;

/// A unit suffix from the reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// `Ki` = 1024.
    Ki,
    /// `Mi` = 1024².
    Mi,
    /// `Gi` = 1024³.
    Gi,
    /// `k` = 1000.
    K,
    /// `M` = 1000².
    M,
    /// `G` = 1000³.
    G,
    /// `m` = 1/1000.
    Milli,
}

impl Unit {
    /// The suffix as written in a spec.
    pub fn suffix(self) -> &'static str {
        match self {
            Unit::Ki => "Ki",
            Unit::Mi => "Mi",
            Unit::Gi => "Gi",
            Unit::K => "k",
            Unit::M => "M",
            Unit::G => "G",
            Unit::Milli => "m",
        }
    }

    /// All units, longest suffix first so `Mi` is tried before `M`.
    pub const ALL: [Unit; 7] = [
        Unit::Ki,
        Unit::Mi,
        Unit::Gi,
        Unit::K,
        Unit::M,
        Unit::G,
        Unit::Milli,
    ];

    /// Multiplier as a fraction `num / den`.
    fn ratio(self) -> (u128, u128) {
        match self {
            Unit::Ki => (1 << 10, 1),
            Unit::Mi => (1 << 20, 1),
            Unit::Gi => (1 << 30, 1),
            Unit::K => (1_000, 1),
            Unit::M => (1_000_000, 1),
            Unit::G => (1_000_000_000, 1),
            Unit::Milli => (1, 1_000),
        }
    }
}

/// A value that is not a valid quantity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    /// Not `<number><unit>` at all.
    #[error("`{0}` is not a number with an optional unit")]
    Malformed(String),
    /// A suffix the reference does not define.
    #[error(
        "unit `{unit}` in `{value}` is not supported; use one of Ki, Mi, Gi, k, M, G (or m for cpu)"
    )]
    UnknownUnit {
        /// The whole value.
        value: String,
        /// The suffix found.
        unit: String,
    },
    /// A unit where none is allowed, or a missing unit where one is required.
    #[error("{0}")]
    WrongUnit(String),
    /// The value does not fit or is not whole where it must be.
    #[error("{0}")]
    OutOfRange(String),
}

/// A parsed quantity: an exact decimal mantissa and an optional unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity {
    /// Mantissa digits as an integer (`1.5` is 15).
    pub digits: u128,
    /// How many of those digits are after the decimal point (`1.5` is 1).
    pub scale: u32,
    /// The unit, if any.
    pub unit: Option<Unit>,
}

/// Digits beyond this are refused: more than 30 significant digits cannot be a real size
/// and would overflow the exact arithmetic.
const MAX_DIGITS: usize = 30;

/// Parse `<number>[unit]`, where number is `123` or `1.5` (no sign, no exponent).
///
/// # Errors
/// [`UnitError::Malformed`] or [`UnitError::UnknownUnit`].
pub fn parse(s: &str) -> Result<Quantity, UnitError> {
    let t = s.trim();
    let num_end = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, suffix) = t.split_at(num_end);
    let (int, frac) = match num.split_once('.') {
        Some((i, f)) => (i, f),
        None => (num, ""),
    };
    if (int.is_empty() && frac.is_empty())
        || frac.contains('.')
        || (num.contains('.') && frac.is_empty())
        || int.len() + frac.len() > MAX_DIGITS
    {
        return Err(UnitError::Malformed(s.to_string()));
    }
    let unit = if suffix.is_empty() {
        None
    } else {
        match Unit::ALL.iter().find(|u| u.suffix() == suffix) {
            Some(u) => Some(*u),
            None if suffix.chars().all(|c| c.is_ascii_alphabetic()) => {
                return Err(UnitError::UnknownUnit {
                    value: s.to_string(),
                    unit: suffix.to_string(),
                });
            }
            None => return Err(UnitError::Malformed(s.to_string())),
        }
    };
    let mut digits: u128 = 0;
    for c in int.chars().chain(frac.chars()) {
        digits = digits * 10 + u128::from(c.to_digit(10).unwrap_or(0));
    }
    Ok(Quantity {
        digits,
        // Bounded by MAX_DIGITS above, so the cast cannot truncate.
        scale: frac.len() as u32,
        unit,
    })
}

impl Quantity {
    /// The exact value as `num / den`.
    fn fraction(&self) -> (u128, u128) {
        let (un, ud) = self.unit.map_or((1, 1), Unit::ratio);
        (self.digits * un, 10u128.pow(self.scale) * ud)
    }

    /// The value as an `f64` (approximate for very long mantissas).
    pub fn as_f64(&self) -> f64 {
        let (n, d) = self.fraction();
        n as f64 / d as f64
    }

    /// The value as a whole number, if it is one.
    pub fn as_whole(&self) -> Option<u64> {
        let (n, d) = self.fraction();
        if n % d == 0 {
            u64::try_from(n / d).ok()
        } else {
            None
        }
    }
}

/// A memory amount in bytes. A unit is required and `m` is refused.
///
/// # Errors
/// [`UnitError`] describing what is wrong with the value.
pub fn parse_memory(s: &str) -> Result<u64, UnitError> {
    let q = parse(s)?;
    match q.unit {
        None => {
            return Err(UnitError::WrongUnit(format!(
                "memory `{s}` has no unit; write e.g. `{s}Mi` or `{s}M` (Ki, Mi, Gi are binary; k, M, G decimal)"
            )));
        }
        Some(Unit::Milli) => {
            return Err(UnitError::WrongUnit(format!(
                "memory `{s}` uses `m` (milli), which only makes sense for cpu; use Mi or M for mega"
            )));
        }
        Some(_) => {}
    }
    q.as_whole().ok_or_else(|| {
        UnitError::OutOfRange(format!("memory `{s}` is not a whole number of bytes"))
    })
}

/// A cpu amount in cores: a plain number (`0.5`, `2`) or milli-cores (`500m`).
///
/// # Errors
/// [`UnitError`] for other units or a zero amount.
pub fn parse_cpu(s: &str) -> Result<f64, UnitError> {
    let q = parse(s)?;
    if !matches!(q.unit, None | Some(Unit::Milli)) {
        return Err(UnitError::WrongUnit(format!(
            "cpu `{s}` uses a size unit; cpu is a number of cores (`0.5`) or milli-cores (`500m`)"
        )));
    }
    let v = q.as_f64();
    if v <= 0.0 {
        return Err(UnitError::OutOfRange(format!(
            "cpu `{s}` must be more than zero"
        )));
    }
    Ok(v)
}

/// A block volume size in bytes: a whole number of `Gi`.
///
/// # Errors
/// [`UnitError`] if the unit is not `Gi` or the number is not whole.
pub fn parse_block_size(s: &str) -> Result<u64, UnitError> {
    let q = parse(s)?;
    if q.unit != Some(Unit::Gi) || q.scale != 0 {
        return Err(UnitError::WrongUnit(format!(
            "block volume size `{s}` must be a whole number of Gi, e.g. `10Gi`"
        )));
    }
    q.as_whole()
        .ok_or_else(|| UnitError::OutOfRange(format!("block volume size `{s}` is too large")))
}

/// A GPU count: a plain whole number.
///
/// # Errors
/// [`UnitError`] for units, fractions or values over `u32::MAX`.
pub fn parse_gpu(s: &str) -> Result<u32, UnitError> {
    let q = parse(s)?;
    if q.unit.is_some() || q.scale != 0 {
        return Err(UnitError::WrongUnit(format!(
            "GPU count `{s}` must be a whole number without a unit"
        )));
    }
    u32::try_from(q.digits)
        .map_err(|_| UnitError::OutOfRange(format!("GPU count `{s}` is too large")))
}

/// Format bytes with the largest binary unit that divides them, for messages and `inject`.
pub fn format_bytes(bytes: u64) -> String {
    for (unit, div) in [("Gi", 1u64 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)] {
        if bytes >= div && bytes.is_multiple_of(div) {
            return format!("{}{unit}", bytes / div);
        }
    }
    format!("{bytes}")
}
