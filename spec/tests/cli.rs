//! The `spec` subcommands through `run`, as the agent will call them.
#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::PathBuf;

use clap::Parser;
use firn_spec::{SpecCommand, run};

#[derive(Debug, Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: SpecCommand,
}

fn data(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
        .display()
        .to_string()
}

fn call(args: &[&str]) -> (i32, String, String) {
    let cli = Cli::try_parse_from(std::iter::once("spec").chain(args.iter().copied())).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = run(&cli.cmd, &mut out, &mut err);
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

#[test]
fn check_exit_codes() {
    let (code, out, err) = call(&["check", &data("002_resources-example-1.yaml")]);
    assert_eq!((code, out.as_str()), (0, ""));
    assert!(err.contains("valid (0 errors, 0 warnings)"), "{err}");
    let (code, _, err) = call(&["check", &data("002_tutorial-1-misspelt.yaml")]);
    assert_eq!(code, 1);
    assert!(
        err.contains("did you mean `containers`?") && err.contains(":2:3: error[unknown-key]"),
        "{err}"
    );
    // Warnings alone keep exit 0.
    let (code, _, err) = call(&["check", &data("002_volumes-memory.yaml")]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("warning[stage-mount-v1]"));
    let (code, _, err) = call(&["check", "/nonexistent/spec.yaml"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read spec"));
}

#[test]
fn check_json_and_job_and_using() {
    let (code, out, err) = call(&[
        "check",
        &data("004_create-service-inline.yaml"),
        "--job",
        "--format",
        "json",
    ]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let codes: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, vec!["job-endpoint-protocol"]);
    assert_eq!(err, "", "json output must not go to stderr");
    let (code, _, err) = call(&[
        "check",
        &data("004_template-example-1.yaml"),
        "--using",
        "image_url=\"/db/s/r/img:1\"",
        "--using",
        "SERVER_PORT=8000",
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = call(&[
        "check",
        &data("004_template-example-1.yaml"),
        "--using",
        "image_url=/not/json",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("neither alphanumeric nor valid JSON"), "{err}");
}

#[test]
fn render_and_inject_print_yaml() {
    let (code, out, _) = call(&["render", &data("004_template-default.yaml")]);
    assert_eq!(code, 0);
    assert!(out.contains("CHARACTER_NAME: Bob") && out.contains("- name: echo-endpoint"));
    let (code, _, err) = call(&["render", &data("004_template-tag-name.yaml")]);
    assert_eq!(code, 1);
    assert!(err.contains("tag_name"));
    let (code, out, _) = call(&[
        "inject",
        &data("004_create-service-inline.yaml"),
        "--stage",
        "@LOGS",
        "--image",
        "/db/s/r/firn:1",
    ]);
    assert_eq!(code, 0);
    assert!(
        out.contains("name: logging-agent")
            && out.contains("\"/db/s/r/firn:1\"")
            && out.contains("\"@LOGS\"")
    );
    let (code, _, err) = call(&[
        "inject",
        &data("002_volumes-app-logging-agent.yaml"),
        "--app",
        "app",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("already has a `logging-agent`"), "{err}");
}

fn example() -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/spcs/service.yaml")
        .display()
        .to_string()
}

fn temp_spec(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("firn-spec-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// Regression: `spec check --format json` wrote the findings to stderr, so `| jq` got nothing.
#[test]
fn check_json_went_to_stderr() {
    let (code, out, err) = call(&[
        "check",
        &data("002_containers-env.yaml"),
        "--format",
        "json",
    ]);
    assert_eq!(code, 1);
    assert_eq!(err, "");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["code"], "invalid-name");
}

/// Regression: inject replaced the working image of the spec's firn container with the
/// placeholder `/db/schema/repo/firn:latest`.
#[test]
fn inject_replaced_an_existing_firn_image_with_the_placeholder() {
    let (code, out, err) = call(&["inject", &example()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("image: \"/firn_db/public/images/firn-agent:latest\""),
        "{out}"
    );
    assert!(!out.contains("/db/schema/repo/firn"), "{out}");
    // --image still wins.
    let (code, out, _) = call(&["inject", &example(), "--image", "/db/s/r/firn:2"]);
    assert_eq!(code, 0);
    assert!(out.contains("image: \"/db/s/r/firn:2\"") && !out.contains("firn-agent:latest"));
}

const INVALID: &str = "spec:
  containers:
  - name: app
    image: /db/s/r/app:1
  logExporters:
    eventTableConfig:
      logLevel: DEBUG
  platformMonitor:
    metricConfig:
      groups: [system, gpu]
";

/// Regression: inject exited 0 on a spec `check` finds invalid and copied `--log-level
/// DEBUG` and `--metric-groups system,gpu` into the agent's args, which then refused to start.
#[test]
fn inject_copied_invalid_values_into_the_agent_args() {
    let file = temp_spec("invalid.yaml", INVALID);
    let (code, out, err) = call(&["inject", &file]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(out, "", "nothing is printed to stdout when inject refuses");
    assert!(
        err.contains(":7:17: error[invalid-log-level]")
            && err.contains(":10:24: error[unknown-metric-group]")
            && err.contains("--force"),
        "{err}"
    );
    let (code, out, err) = call(&["inject", &file, "--force"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("- DEBUG") && out.contains("name: logging-agent"));
    assert!(err.contains("warning: --force:") && err.contains("invalid-log-level"));
}

/// Regression: inject said nothing about what it changed besides adding the sidecar.
#[test]
fn inject_did_not_say_what_it_changed() {
    let file = temp_spec(
        "bare.yaml",
        "spec:\n  containers:\n  - name: app\n    image: /db/s/r/app:1\n",
    );
    let (code, out, err) = call(&["inject", &file, "--stage", "@LOGS"]);
    assert_eq!(code, 0, "{err}");
    let notes: Vec<&str> = err.lines().filter(|l| l.starts_with("note: ")).collect();
    assert_eq!(notes.len(), 4, "{err}");
    for want in [
        "mounted volume `firn-logs` in `app` at /var/log/app: the app must write its log files",
        "added volume `firn-logs` (source: local)",
        "added volume `firn-output` (Stage Mount v2 on @LOGS, uid/gid 10001",
        "added `spec.logExporters.eventTableConfig.logLevel: INFO`",
    ] {
        assert!(err.contains(want), "missing {want:?} in\n{err}");
    }
    // A re-run changes nothing and says nothing.
    let again = temp_spec("bare-injected.yaml", &out);
    let (code, out2, err) = call(&["inject", &again]);
    assert_eq!((code, out2.as_str(), err.as_str()), (0, out.as_str(), ""));
    // The example: the agent is rewritten, the v1 stage volume becomes v2, the app's own
    // `logs` volume is used.
    let (code, _, err) = call(&["inject", &example()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("rewrote the existing `logging-agent` container")
            && err.contains("volume `logs`, which `app` mounts at /app/logs"),
        "{err}"
    );
}

/// Regression: the bundled example used the deprecated `source: "@stage"` form (Stage
/// Mount v1), which our own checker flags. It passes `spec check` with no finding at all.
#[test]
fn bundled_example_used_the_deprecated_stage_form() {
    let (code, out, err) = call(&["check", &example()]);
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    assert!(err.ends_with(": valid (0 errors, 0 warnings)\n"), "{err}");
}
