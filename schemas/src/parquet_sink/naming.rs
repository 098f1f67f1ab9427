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

/// The parts of a name made by [`file_name`] (or [`temp_name`] of one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileName<'a> {
    /// A hidden temporary file of local mode.
    pub temp: bool,
    /// When the file was opened, `YYYYMMDDTHHMMSSZ`.
    pub opened: &'a str,
    /// The agent id, exactly.
    pub agent_id: &'a str,
    /// The instance id (`<agent id>-<pid>-<random>`).
    pub instance: &'a str,
    /// The file's number in its instance.
    pub seq: u64,
    /// Which attempt at writing it (0 for the first).
    pub attempt: u32,
}

/// Parses a name made by [`file_name`] or [`temp_name`]. The agent id may itself hold `-`
/// and digits, so the name is read from its end, where every part has a fixed shape
/// (`-<pid>-<8 hex>-<seq>[-r<N>]`): an id that is a prefix of another's never matches it.
pub fn parse_file_name(name: &str) -> Option<FileName<'_>> {
    let (temp, name) = match name.strip_prefix('.').and_then(|n| n.strip_suffix(".tmp")) {
        Some(n) => (true, n),
        None => (false, name),
    };
    let rest = name.strip_prefix("firn-")?.strip_suffix(".parquet")?;
    let opened = rest.get(..16)?;
    let ok_time = opened.bytes().enumerate().all(|(i, b)| match i {
        8 => b == b'T',
        15 => b == b'Z',
        _ => b.is_ascii_digit(),
    });
    if !ok_time || rest.as_bytes().get(16) != Some(&b'-') {
        return None;
    }
    let instance_and_seq = rest.get(17..)?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let (mut head, mut last) = instance_and_seq.rsplit_once('-')?;
    let mut attempt = 0;
    if let Some(n) = last.strip_prefix('r').filter(|n| digits(n)) {
        attempt = n.parse().ok()?;
        (head, last) = head.rsplit_once('-')?;
    }
    if !digits(last) {
        return None;
    }
    let seq = last.parse().ok()?;
    let instance = head;
    let (head, random) = head.rsplit_once('-')?;
    if random.len() != 8 || !random.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let (agent_id, pid) = head.rsplit_once('-')?;
    if !digits(pid) || agent_id.is_empty() {
        return None;
    }
    Some(FileName {
        temp,
        opened,
        agent_id,
        instance,
        seq,
        attempt,
    })
}

/// Whether a finished or temporary file name is one written by `agent_id`, exactly (not by
/// an agent whose id merely starts the same way).
pub fn is_from_agent(name: &str, agent_id: &str) -> bool {
    parse_file_name(name).is_some_and(|n| n.agent_id == agent_id)
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

    #[test]
    fn a_name_parses_back_into_its_parts() {
        let t = UtcTime::from_unix(1_700_000_000);
        let name = file_name(&t, "app-2-41-0badcafe", 12, 0);
        assert_eq!(
            parse_file_name(&name),
            Some(FileName {
                temp: false,
                opened: "20231114T221320Z",
                agent_id: "app-2",
                instance: "app-2-41-0badcafe",
                seq: 12,
                attempt: 0,
            })
        );
        let retry = temp_name(&file_name(&t, "a-1-00000000", 3, 4));
        let p = parse_file_name(&retry).unwrap();
        assert_eq!((p.temp, p.agent_id, p.seq, p.attempt), (true, "a", 3, 4));
        for bad in [
            "firn-20231114T221320Z-app-0badcafe-000001.parquet",
            "firn-20231114T221320Z-7-0badcafe-000001.parquet",
            "firn-2023111xT221320Z-app-1-0badcafe-000001.parquet",
            "firn-20231114T221320Z-app-1-0badcafe-x00001.parquet",
            "firn-20231114T221320Z-app-1-0badcafe-000001.parquet.tmp",
            "other.parquet",
        ] {
            assert_eq!(parse_file_name(bad), None, "{bad}");
        }
    }

    /// Issue 16 item 1: agent `app` took the files of `app-2` for its own.
    #[test]
    fn an_agent_id_that_is_a_prefix_of_another_does_not_match_its_files() {
        let t = UtcTime::from_unix(1_700_000_000);
        for (writer, other) in [
            ("app-2", "app"),
            ("app", "app-2"),
            ("app-1-deadbeef", "app"),
            ("app", "app-1"),
        ] {
            let name = file_name(&t, &instance_id(writer), 1, 0);
            assert!(is_from_agent(&name, writer), "{name}");
            assert!(!is_from_agent(&name, other), "{name} is not {other}'s");
            assert!(!is_from_agent(&temp_name(&name), other));
            assert!(is_from_agent(&temp_name(&name), writer));
        }
    }

    proptest::proptest! {
        /// Whatever two sanitised ids, a file of one is another's only if the ids are equal.
        #[test]
        fn a_file_matches_exactly_its_own_agent_id(
            a in "[a-z0-9_-]{1,20}",
            b in "[a-z0-9_-]{1,20}",
            seq in 0u64..2_000_000,
            attempt in 0u32..5,
        ) {
            let (a, b) = (sanitize_id(&a), sanitize_id(&b));
            proptest::prop_assume!(!a.is_empty() && !b.is_empty());
            let name = file_name(&UtcTime::from_unix(1_700_000_000), &instance_id(&a), seq, attempt);
            let parsed = parse_file_name(&name).unwrap();
            proptest::prop_assert_eq!(parsed.agent_id, a.as_str());
            proptest::prop_assert_eq!((parsed.seq, parsed.attempt), (seq, attempt));
            proptest::prop_assert_eq!(is_from_agent(&name, &b), a == b);
        }
    }
}
