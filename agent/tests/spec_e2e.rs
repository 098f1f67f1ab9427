//! `firn-agent spec inject` output passes `spec check`, and an agent started with `--spec`
//! on it reads the files and writes where the spec says, at the level it says.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const APP_SPEC: &str = "\
spec:
  containers:
  - name: app
    image: /db/schema/repo/app:1
    volumeMounts:
    - name: logs
      mountPath: /app/logs
  volumes:
  - name: logs
    source: local
  logExporters:
    eventTableConfig:
      logLevel: ERROR
";

fn agent() -> Command {
    Command::new(env!("CARGO_BIN_EXE_firn-agent"))
}

#[test]
fn injected_spec_passes_check_and_configures_the_agent() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app.yaml");
    std::fs::write(&app, APP_SPEC).unwrap();

    let inject = agent()
        .args(["spec", "inject"])
        .arg(&app)
        .args(["--app", "app", "--stage", "@logs_stage"])
        .output()
        .unwrap();
    assert!(
        inject.status.success(),
        "{}",
        String::from_utf8_lossy(&inject.stderr)
    );
    let injected = String::from_utf8(inject.stdout).unwrap();
    assert!(injected.contains("name: logging-agent"), "{injected}");

    // The injected spec is valid, and injecting again changes nothing.
    let spec = dir.path().join("service.yaml");
    std::fs::write(&spec, &injected).unwrap();
    let check = agent().args(["spec", "check"]).arg(&spec).output().unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let again = agent()
        .args(["spec", "inject"])
        .arg(&spec)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(again.stdout).unwrap(), injected);

    // Run the agent from the spec, with the container's mount paths moved into the test's
    // folder (a test cannot write to /var/lib). Nothing else is given on the command line.
    let logs = dir.path().join("logs");
    let out = dir.path().join("out");
    std::fs::create_dir_all(&logs).unwrap();
    let local = injected
        .replace(
            "mountPath: /var/log/app",
            &format!("mountPath: {}", logs.display()),
        )
        .replace(
            "mountPath: /var/lib/firn/output",
            &format!("mountPath: {}", out.display()),
        );
    assert_ne!(
        local, injected,
        "the injected mount paths changed: update this test"
    );
    let local_spec = dir.path().join("local.yaml");
    std::fs::write(&local_spec, &local).unwrap();
    std::fs::write(
        logs.join("app.log"),
        "plain info line\n{\"body\":\"it broke\",\"severity_text\":\"ERROR\"}\n",
    )
    .unwrap();
    let stderr_path = dir.path().join("agent.log");
    let mut child = agent()
        .arg("--spec")
        .arg(&local_spec)
        .args(["--max-file-age", "200ms", "--no-events"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while common::line_counts(&out).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    let log = std::fs::read_to_string(&stderr_path).unwrap();
    assert!(status.success(), "{log}");
    // logLevel ERROR from the spec: only the ERROR record is kept.
    let counts = common::line_counts(&out);
    assert_eq!(counts.keys().collect::<Vec<_>>(), ["it broke"], "{log}");
    assert!(
        log.contains("spec.logExporters.eventTableConfig.logLevel"),
        "{log}"
    );
    assert!(log.contains("Setting (with --spec)"), "{log}");
}

#[test]
fn explicit_flags_win_over_the_spec() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("app.yaml");
    std::fs::write(
        &spec,
        APP_SPEC.replace("name: app\n", "name: logging-agent\n"),
    )
    .unwrap();
    let logs = dir.path().join("l");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(logs.join("a.log"), "kept at INFO\n").unwrap();
    let out = dir.path().join("o");
    let run = agent()
        .arg("--spec")
        .arg(&spec)
        .args(["--once", "--log-level", "INFO", "--input"])
        .arg(format!("{}/*.log", logs.display()))
        .arg("--output")
        .arg(&out)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{err}");
    assert_eq!(common::line_counts(&out).len(), 1, "{err}");
    assert!(err.contains("source=--log-level"), "{err}");
}

#[test]
fn an_invalid_spec_is_refused_with_its_findings() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("bad.yaml");
    std::fs::write(&spec, "spec:\n  container:\n  - name: app\n    image: x\n").unwrap();
    let run = agent().arg("--spec").arg(&spec).output().unwrap();
    let err = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(2), "{err}");
    assert!(
        err.contains("container") && err.contains("not a valid service specification"),
        "{err}"
    );
}
