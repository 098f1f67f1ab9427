//! Every spec example of the reference documents (tests/data/*.yaml), checked against the
//! exact set of findings recorded next to it in `<name>.expected`.
//!
//! `<name>.args` holds options: `using NAME=VALUE` lines (template values) and `job`.
//! Run with `FIRN_BLESS=1` to rewrite the `.expected` files after an intended change, then
//! review the diff: the expected files are the specification of the checker.

use std::fs;
use std::path::Path;

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

#[test]
fn reference_examples_have_exactly_the_expected_findings() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut names: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    names.sort();
    assert!(names.len() >= 50, "corpus went missing: {}", names.len());
    let bless = std::env::var_os("FIRN_BLESS").is_some();
    let mut failures = Vec::new();
    for path in &names {
        let text = fs::read_to_string(path).unwrap();
        let args = fs::read_to_string(path.with_extension("args")).unwrap_or_default();
        let report = check(&text, &options(&args));
        let got: String = report
            .findings
            .iter()
            .map(|f| {
                format!(
                    "{} {} {} {}:{}\n",
                    f.severity,
                    f.code,
                    if f.path.is_empty() { "-" } else { &f.path },
                    f.line,
                    f.column
                )
            })
            .collect();
        let expected_path = path.with_extension("expected");
        if bless {
            fs::write(&expected_path, &got).unwrap();
            continue;
        }
        let expected = fs::read_to_string(&expected_path).unwrap_or_default();
        if got != expected {
            failures.push(format!(
                "{}:\n--- expected\n{expected}--- got\n{got}",
                path.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
