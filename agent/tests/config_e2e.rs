//! End to end: `--config firn.toml` and `firn-agent validate`, with the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

const FIRN: &str = env!("CARGO_BIN_EXE_firn-agent");

fn folder(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let p = dir.path().join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

fn run(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let o = Command::new(FIRN)
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

const GOOD: &str = r#"# firn settings
output = "out"
once = true

[agent]
telemetry-interval = "5s"

[[input]]
name = "java"
paths = ["logs/java/*.log"]
multiline-start = '^\d{4}-'
timezone = "+01:00"
log-level = "ERROR"

[[input]]
paths = ["logs/web/*.log"]
exclude = ["logs/web/*.old.log"]
"#;

fn files() -> tempfile::TempDir {
    folder(&[
        ("firn.toml", GOOD),
        (
            "logs/java/app.log",
            "2026-12-01 11:00:00,000 INFO  [main] c.e.App - started\n\
             2026-12-01 11:00:01,000 ERROR [main] c.e.App - failed\n\
             java.lang.IllegalStateException: boom\n\
             \tat c.e.App.main(App.java:1)\n",
        ),
        (
            "logs/web/access.log",
            "2026-12-01T10:00:02Z INFO GET / 200\n",
        ),
        ("logs/web/access.old.log", "2026-12-01T09:00:00Z INFO old\n"),
    ])
}

#[test]
fn validate_prints_the_settings_and_the_files_each_input_matches() {
    let dir = files();
    let (code, out, err) = run(dir.path(), &["validate", "--config", "firn.toml"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("  output = out  (config file)"), "{out}");
    assert!(
        out.contains("  telemetry-interval = 5s  (config file)"),
        "{out}"
    );
    assert!(out.contains("  log-level = INFO  (default)"), "{out}");
    assert!(
        out.contains("  [[input]] java: 1 file(s)\n    logs/java/app.log\n"),
        "{out}"
    );
    assert!(
        out.contains("  [[input]] logs/web/*.log: 1 file(s)\n    logs/web/access.log\n"),
        "{out}"
    );
    assert!(out.trim_end().ends_with("OK"), "{out}");
}

#[test]
fn validate_refuses_a_typo_with_its_line_and_the_nearest_key() {
    let dir = folder(&[(
        "firn.toml",
        "output = \"out\"\n[[input]]\npaths = [\"*.log\"]\nmultiline-strat = \"x\"\n",
    )]);
    let (code, out, err) = run(dir.path(), &["validate", "--config", "firn.toml"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        err.contains(
            "firn.toml:4: unknown key \"input.multiline-strat\"; did you mean \"multiline-start\"?"
        ),
        "{err}"
    );
}

#[test]
fn validate_refuses_a_value_of_the_wrong_type_with_its_line() {
    let dir = folder(&[(
        "firn.toml",
        "output = \"out\"\nmax-file-size = 8\nmax-open-files = \"many\"\n",
    )]);
    let (code, _, err) = run(dir.path(), &["validate", "--config", "firn.toml"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("firn.toml:3: max-open-files: invalid value 'many'"),
        "{err}"
    );
}

#[test]
fn each_input_is_read_with_its_own_settings_and_flags_win_over_the_file() {
    let dir = files();
    // --output on the command line wins over the file's `output`.
    let (code, _, err) = run(
        dir.path(),
        &["--config", "firn.toml", "--output", "cli-out"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(!dir.path().join("out").exists());
    let rows: Vec<_> = common::read_rows(&dir.path().join("cli-out"))
        .into_iter()
        .filter(|r| r.record_type == "LOG")
        .collect();
    let mut got: Vec<_> = rows
        .iter()
        .map(|r| (r.value.as_str().unwrap().to_string(), r.timestamp))
        .collect();
    got.sort();
    // java: joined by its multiline-start, 11:00 at +01:00 = 10:00Z, only ERROR kept;
    // web: default settings, the excluded file left out.
    let t10 = 1_796_119_200_000_000_000_i64;
    assert_eq!(
        got,
        [
            (
                "2026-12-01 11:00:01,000 ERROR [main] c.e.App - failed\njava.lang.IllegalStateException: boom\n\tat c.e.App.main(App.java:1)".to_string(),
                t10 + 1_000_000_000
            ),
            ("2026-12-01T10:00:02Z INFO GET / 200".to_string(), t10 + 2_000_000_000),
        ]
    );
}
