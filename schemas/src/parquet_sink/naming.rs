//! File and folder names: unique across agents sharing one output folder, sortable by time.

use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

/// A UTC calendar time, to the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcTime {
    /// Year.
    pub year: i64,
    /// 1-12.
    pub month: u32,
    /// 1-31.
    pub day: u32,
    /// 0-23.
    pub hour: u32,
    /// 0-59.
    pub minute: u32,
    /// 0-59.
    pub second: u32,
}

impl UtcTime {
    /// The calendar time of a Unix time in seconds (proleptic Gregorian).
    pub fn from_unix(secs: i64) -> Self {
        // Howard Hinnant's days-to-civil algorithm.
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Self {
            year,
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: (rem % 3600 / 60) as u32,
            second: (rem % 60) as u32,
        }
    }

    /// The calendar time of a `SystemTime`.
    pub fn from_system(t: SystemTime) -> Self {
        let secs = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_secs() as i64,
            Err(e) => -(e.duration().as_secs() as i64),
        };
        Self::from_unix(secs)
    }

    /// `YYYYMMDDTHHMMSSZ`.
    pub fn compact(&self) -> String {
        format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// `date=YYYY-MM-DD/hour=HH`.
    pub fn partition(&self) -> PathBuf {
        PathBuf::from(format!(
            "date={:04}-{:02}-{:02}",
            self.year, self.month, self.day
        ))
        .join(format!("hour={:02}", self.hour))
    }
}

/// Nanoseconds since the Unix epoch now.
pub fn now_ns() -> i64 {
    match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
        Err(_) => 0,
    }
}

/// 64 random bits from the standard library's per-process hasher keys, mixed with the
/// time and process id. Not cryptographic: it only has to keep two agents' names apart.
pub fn random_u64() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_i64(now_ns());
    h.write_u32(std::process::id());
    h.finish()
}

/// Keeps letters, digits and `-`, so an id is safe in a file name.
pub fn sanitize_id(s: &str) -> String {
    s.trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(48)
        .collect()
}

/// The host name, sanitised: the default agent id. A restarted container keeps its host
/// name, so the agent finds its own files again.
pub fn default_agent_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "host".to_string());
    let id = sanitize_id(&host);
    if id.is_empty() {
        "host".to_string()
    } else {
        id
    }
}

/// `<agent id>-<pid>-<random>`: tells this process's files from any other's.
pub fn instance_id(agent_id: &str) -> String {
    format!(
        "{}-{}-{:08x}",
        agent_id,
        std::process::id(),
        random_u64() as u32
    )
}

/// The default instance id, for the default agent id.
pub fn default_instance_id() -> String {
    instance_id(&default_agent_id())
}

/// `firn-<opened>-<instance>-<seq>.parquet`, with `-r<N>` for the N-th retry of a file
/// whose earlier attempt failed (a stage file is never reopened, so a retry needs a new name).
pub fn file_name(opened: &UtcTime, instance: &str, seq: u64, attempt: u32) -> String {
    if attempt == 0 {
        format!("firn-{}-{}-{:06}.parquet", opened.compact(), instance, seq)
    } else {
        format!(
            "firn-{}-{}-{:06}-r{}.parquet",
            opened.compact(),
            instance,
            seq,
            attempt
        )
    }
}

/// Whether a file name is a finished firn file (not a temporary one).
pub fn is_output_file(name: &str) -> bool {
    name.starts_with("firn-") && name.ends_with(".parquet")
}

/// Whether a finished or temporary file name may be one written by `agent_id` (a cheap
/// filter: the footer's `firn.agent_id` decides).
pub fn may_be_from_agent(name: &str, agent_id: &str) -> bool {
    let name = name.strip_prefix('.').unwrap_or(name);
    // firn-YYYYMMDDTHHMMSSZ-<agent id>-...
    name.strip_prefix("firn-")
        .and_then(|r| r.get(17..))
        .is_some_and(|r| r.starts_with(agent_id) && r[agent_id.len()..].starts_with('-'))
}

/// Hidden temporary name in local mode.
pub fn temp_name(final_name: &str) -> String {
    format!(".{final_name}.tmp")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(
            UtcTime::from_unix(0),
            UtcTime {
                year: 1970,
                month: 1,
                day: 1,
                hour: 0,
                minute: 0,
                second: 0
            }
        );
        // 2024-02-29T23:59:59Z, a leap day.
        let t = UtcTime::from_unix(1_709_251_199);
        assert_eq!((t.year, t.month, t.day, t.hour), (2024, 2, 29, 23));
        assert_eq!(t.compact(), "20240229T235959Z");
        assert_eq!(
            t.partition(),
            PathBuf::from("date=2024-02-29").join("hour=23")
        );
    }

    #[test]
    fn names_are_unique_and_recognised() {
        let t = UtcTime::from_unix(1_700_000_000);
        let a = file_name(&t, "h-1-abc", 1, 0);
        let b = file_name(&t, "h-1-abc", 1, 1);
        assert_ne!(a, b);
        assert!(is_output_file(&a) && is_output_file(&b));
        assert!(!is_output_file(&temp_name(&a)));
        assert_ne!(default_instance_id(), default_instance_id());
    }
}
