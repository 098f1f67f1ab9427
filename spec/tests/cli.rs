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
    let (code, _, err) = call(&[
        "check",
        &data("004_create-service-inline.yaml"),
        "--job",
        "--format",
        "json",
    ]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&err).unwrap();
    let codes: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, vec!["job-endpoint-protocol"]);
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
