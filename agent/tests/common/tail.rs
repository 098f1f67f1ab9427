//! Helpers of the tail e2e tests (`tail_*_e2e.rs`): a writer's lines, the output counted
//! as it grows, and the exactly-once check.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::agent::log_tail;
use super::{log_values_of_file, parquet_files, read_rows};

/// Small deterministic generator (splitmix64): sizes, pauses and kill times.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// In `lo..=hi`.
    pub fn between(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    pub fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(self.between(lo, hi))
    }
}

pub fn run_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    (dir, logs)
}

pub fn append_to(p: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(p)
        .unwrap()
}

/// Counts of each LOG row's VALUE in an output folder, read incrementally: a finished file
/// never changes, so each is read once; one not complete yet (a stage file being written) is
/// skipped until it is.
#[derive(Default)]
pub struct Tally {
    files: HashMap<PathBuf, Vec<String>>,
}

impl Tally {
    pub fn refresh(&mut self, out: &Path) {
        let now: HashSet<PathBuf> = parquet_files(out).into_iter().collect();
        self.files.retain(|p, _| now.contains(p));
        for p in now {
            if !self.files.contains_key(&p)
                && let Ok(v) = log_values_of_file(&p)
            {
                self.files.insert(p, v);
            }
        }
    }

    pub fn rows(&self) -> usize {
        self.files.values().map(Vec::len).sum()
    }

    pub fn counts(&self) -> HashMap<&str, usize> {
        let mut m = HashMap::new();
        for v in self.files.values().flatten() {
            *m.entry(v.as_str()).or_default() += 1;
        }
        m
    }

    pub fn has_all(&self, lines: &[String]) -> bool {
        if self.rows() < lines.len() {
            return false;
        }
        let c = self.counts();
        lines.iter().all(|l| c.contains_key(l.as_str()))
    }
}

/// Polls `out` until every one of `lines` is there. Gives up at `limit`, or when nothing new
/// has come out for `stall`. Returns how long it took, or what was still missing.
pub fn wait_for_lines(out: &Path, lines: &[String], limit: Duration) -> Result<Duration, String> {
    let stall = Duration::from_secs(15);
    let t0 = Instant::now();
    let mut tally = Tally::default();
    let mut last_change = Instant::now();
    let mut last_rows = 0;
    loop {
        tally.refresh(out);
        if tally.has_all(lines) {
            return Ok(t0.elapsed());
        }
        if tally.rows() != last_rows {
            last_rows = tally.rows();
            last_change = Instant::now();
        }
        if t0.elapsed() > limit || last_change.elapsed() > stall {
            let c = tally.counts();
            let missing = lines.iter().filter(|l| !c.contains_key(l.as_str())).count();
            return Err(format!(
                "while running, {missing} of {} lines were still not out after {:.1}s ({} rows out)",
                lines.len(),
                t0.elapsed().as_secs_f64(),
                tally.rows()
            ));
        }
        sleep(Duration::from_millis(250));
    }
}

/// Every LOG row's VALUE in `out`, each file required to be complete Parquet.
pub fn final_counts(out: &Path) -> HashMap<String, usize> {
    let mut m = HashMap::new();
    for p in parquet_files(out) {
        for v in log_values_of_file(&p).unwrap_or_else(|e| panic!("{e}")) {
            *m.entry(v).or_default() += 1;
        }
    }
    m
}

pub fn short(s: &str) -> String {
    if s.len() > 60 {
        let mut cut = 60;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}...({} bytes)", &s[..cut], s.len())
    } else {
        s.to_string()
    }
}

/// Checks that each of `lines` came out exactly once and nothing else did; says how not.
pub fn exactly_once(counts: &HashMap<String, usize>, lines: &[String]) -> Result<(), String> {
    let mut missing = Vec::new();
    let mut duplicated = Vec::new();
    for l in lines {
        match counts.get(l) {
            None => missing.push(short(l)),
            Some(1) => {}
            Some(n) => duplicated.push(format!("{} x{n}", short(l))),
        }
    }
    let written: HashSet<&str> = lines.iter().map(String::as_str).collect();
    let unexpected: Vec<String> = counts
        .keys()
        .filter(|k| !written.contains(k.as_str()))
        .map(|k| short(k))
        .collect();
    if missing.is_empty() && duplicated.is_empty() && unexpected.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{} lines written: {} missing, {} duplicated, {} unexpected rows\n  first missing: {:?}\n  first duplicated: {:?}\n  first unexpected: {:?}",
        lines.len(),
        missing.len(),
        duplicated.len(),
        unexpected.len(),
        &missing[..missing.len().min(5)],
        &duplicated[..duplicated.len().min(5)],
        &unexpected[..unexpected.len().min(5)],
    ))
}

pub const PAYLOAD: &str = "GET /api/v1/items?page=3 status=200 took_ms=12 user=3fa85f64-5717-4562-b3fc-2c963f66afa6 \
    msg=\"request served from cache, nothing to do\" trace=4bf92f3577b34da6a3ce929d0e0e4736 span=00f067aa0ba902b7";

/// A unique line: `<tag> n<number> <payload of some length>`.
pub fn numbered(tag: &str, n: usize, rng: &mut Rng) -> String {
    let len = rng.between(0, PAYLOAD.len() as u64) as usize;
    format!("{tag} n{n:07} {}", &PAYLOAD[..len])
}

/// `count` unique lines numbered from `from`.
pub fn batch(tag: &str, from: usize, count: usize, rng: &mut Rng) -> Vec<String> {
    (from..from + count)
        .map(|n| numbered(tag, n, rng))
        .collect()
}

/// Writes `lines` to `f` in one write.
pub fn write_lines(f: &mut File, lines: &[String]) {
    let mut buf = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
    for l in lines {
        buf.push_str(l);
        buf.push('\n');
    }
    f.write_all(buf.as_bytes()).unwrap();
}

/// Follow-mode arguments over `logs/*.log`.
pub const FOLLOW: [&str; 8] = [
    "--input",
    "logs/*.log",
    "--output",
    "out",
    "--max-file-age",
    "200ms",
    "--agent-id",
    "e2e",
];

/// Polls `out` until it holds at least `n` LOG rows.
pub fn wait_for_rows(out: &Path, n: usize, limit: Duration, log: &Path) -> Duration {
    let t0 = Instant::now();
    let mut tally = Tally::default();
    loop {
        tally.refresh(out);
        if tally.rows() >= n {
            return t0.elapsed();
        }
        assert!(
            t0.elapsed() < limit,
            "{} of {n} rows out after {limit:?}\n{}",
            tally.rows(),
            log_tail(log)
        );
        sleep(Duration::from_millis(100));
    }
}

/// The values of every LOG row, in file order.
pub fn values(out: &Path) -> Vec<String> {
    read_rows(out)
        .into_iter()
        .filter(|r| r.record_type == "LOG")
        .map(|r| r.value.as_str().unwrap().to_string())
        .collect()
}
