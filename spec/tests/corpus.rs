//! Every spec example of the reference documents (tests/data/*.yaml), checked against the
//! findings written by hand next to it in `<name>.expected`.
//!
//! The expected files are the specification of the checker, written from the reference
//! documents (`/work/shared/reference/`, SPCS.md §9), never saved from the checker's output:
//! `#` lines say why, then one line per finding, `SEVERITY CODE PATH LINE:COLUMN` (`-` for
//! the document itself), or the single word `valid` for a spec with no finding at all.
//! Positions are where the finding points in the file; for `yaml-syntax` it is where the
//! YAML parser noticed the error. A missing or empty `.expected` is a failure, so a new
//! example cannot pass unexamined.
//!
//! `<name>.args` holds options: `using NAME=VALUE` lines (template values) and `job`.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::fs;
use std::path::{Path, PathBuf};

use firn_spec::check::{CheckOptions, check};
use firn_spec::template::Values;

fn options(args: &str) -> CheckOptions {
    let mut using = Vec::new();
    let mut job = false;
    for line in args.lines() {
        if let Some(pair) = line.strip_prefix("using ") {
            using.push(pair.to_string());
        } else if line.trim() == "job" {
            job = true;
        }
    }
    let values = Values::from_pairs(&using).unwrap_or_else(|e| panic!("bad args: {e}"));
    CheckOptions { values, job }
}

/// The findings an `.expected` file lists, sorted; `Err` when it says nothing.
fn expected(path: &Path) -> Result<Vec<String>, String> {
    let text = fs::read_to_string(path)
        .map_err(|e| format!("{}: no expectation ({e}); write one", path.display()))?;
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    match lines.as_slice() {
        [] => Err(format!(
            "{}: lists no finding; write `valid` if the spec has none",
            path.display()
        )),
        ["valid"] => Ok(Vec::new()),
        _ if lines.contains(&"valid") => Err(format!(
            "{}: says `valid` and lists findings",
            path.display()
        )),
        _ => {
            let mut v: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
            v.sort();
            Ok(v)
        }
    }
}

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut names: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    names.sort();
    names
}

#[test]
fn reference_examples_have_exactly_the_expected_findings() {
    let names = corpus();
    assert!(names.len() >= 52, "corpus went missing: {}", names.len());
    let mut failures = Vec::new();
    for path in &names {
        let want = match expected(&path.with_extension("expected")) {
            Ok(w) => w,
            Err(e) => {
                failures.push(e);
                continue;
            }
        };
        let text = fs::read_to_string(path).unwrap();
        let args = fs::read_to_string(path.with_extension("args")).unwrap_or_default();
        let report = check(&text, &options(&args));
        let mut got: Vec<String> = report
            .findings
            .iter()
            .map(|f| {
                format!(
                    "{} {} {} {}:{}",
                    f.severity,
                    f.code,
                    if f.path.is_empty() { "-" } else { &f.path },
                    f.line,
                    f.column
                )
            })
            .collect();
        got.sort();
        if got != want {
            failures.push(format!(
                "{}:\n--- expected\n{}\n--- got\n{}",
                path.display(),
                want.join("\n"),
                got.join("\n")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Regression (issue 17): a missing `.expected` read as "no findings" and an empty one was
/// what the checker had printed, so neither could fail.
#[test]
fn a_missing_or_empty_expectation_was_a_pass() {
    let dir = std::env::temp_dir().join(format!("firn-corpus-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap();
    let p = dir.join("case.expected");
    assert!(expected(&p).is_err(), "a missing file must fail");
    fs::write(&p, "# only a comment\n\n").unwrap();
    assert!(expected(&p).is_err(), "an empty expectation must fail");
    fs::write(&p, "valid\nerror unknown-key spec.x 1:1\n").unwrap();
    assert!(expected(&p).is_err());
    fs::write(&p, "# why\nvalid\n").unwrap();
    assert_eq!(expected(&p), Ok(Vec::new()));
    fs::remove_dir_all(&dir).unwrap();
    // And no `.expected` is left without its example.
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    for e in fs::read_dir(&data).unwrap() {
        let p = e.unwrap().path();
        if p.extension()
            .is_some_and(|x| x == "expected" || x == "args")
        {
            assert!(
                p.with_extension("yaml").exists(),
                "{} has no example",
                p.display()
            );
        }
    }
}
