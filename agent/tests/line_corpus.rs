//! The line recognition corpus (`tests/data/line_corpus/`): for every line of every format,
//! the severity and TIMESTAMP written by hand in the file must be what firn recognises.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use firn_agent::line_semantics::{Recognizer, SemanticsConfig};
use firn_agent::structured::parse_rfc3339;
use firn_schemas::Severity;

/// The read time every file is read at: 2026-12-02T00:00:00Z.
const READ_NS: i64 = 1_796_169_600_000_000_000;

#[test]
fn every_line_of_the_corpus_gets_its_written_severity_and_time() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/line_corpus");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    assert!(files.len() >= 15, "{} formats", files.len());
    let (mut lines, mut wrong) = (0, Vec::new());
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let mut cfg = SemanticsConfig::default();
        for l in text.lines() {
            if let Some(tz) = l.strip_prefix("# timezone: ") {
                cfg.timezone = tz.parse().unwrap();
            }
        }
        let mut r = Recognizer::new(Arc::new(cfg));
        let name = path.file_name().unwrap().to_string_lossy();
        for (n, l) in text.lines().enumerate() {
            if l.starts_with('#') || l.is_empty() {
                continue;
            }
            let (want, line) = l.split_once(" | ").expect("SEVERITY TIMESTAMP | LINE");
            let (sev, ts) = want.split_once(' ').unwrap();
            let want_sev = match sev {
                "-" => None,
                s => Some(Severity::parse(s).unwrap_or_else(|| panic!("{name}:{}: {s}", n + 1))),
            };
            let want_ts = match ts {
                "read" => None,
                t => Some(parse_rfc3339(t).unwrap_or_else(|| panic!("{name}:{}: {t}", n + 1))),
            };
            let got = r.recognize(line, READ_NS);
            lines += 1;
            if got.severity != want_sev || got.ts != want_ts {
                wrong.push(format!(
                    "{name}:{}: want {sev} {ts}, got {:?} {:?}\n    {line}",
                    n + 1,
                    got.severity,
                    got.ts
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {lines} lines wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}
