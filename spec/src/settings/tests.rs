use super::*;
use crate::check::{CheckOptions, check};

fn valid(text: &str) -> ValidSpec {
    let r = check(text, &CheckOptions::default());
    r.valid.unwrap_or_else(|| panic!("{:#?}", r.findings))
}

#[test]
fn settings_come_from_the_spec_with_their_sources() {
    let text = "spec:
  containers:
  - name: app
    image: a
    volumeMounts:
    - name: logs
      mountPath: /opt/app/logs
  - name: logging-agent
    image: firn
    volumeMounts:
    - name: logs
      mountPath: /opt/logs/
    - name: out
      mountPath: /out
    resources:
      requests:
        cpu: 250m
        memory: 128Mi
      limits:
        cpu: 1
        memory: 1G
        nvidia.com/gpu: 1
  volumes:
  - name: logs
    source: local
  - name: out
    source: stage
    stageConfig:
      name: \"@s\"
  logExporters:
    eventTableConfig:
      logLevel: ERROR
  platformMonitor:
    metricConfig:
      groups: [system, status]
";
    let s = agent_settings(&valid(text), None).unwrap();
    assert_eq!(s.log_level.value, LogLevel::Error);
    assert_eq!(
        s.log_level.source,
        "spec.logExporters.eventTableConfig.logLevel"
    );
    assert_eq!(s.metric_groups.value, vec!["system", "status"]);
    assert_eq!(s.watch.len(), 1);
    assert_eq!(s.watch[0].value, "/opt/logs/**/*.log");
    assert_eq!(
        s.watch[0].source,
        "spec.containers[1].volumeMounts[0].mountPath"
    );
    assert_eq!(s.output_dir.as_ref().unwrap().value, "/out");
    assert_eq!(s.requests.cpu_cores.as_ref().unwrap().value, 0.25);
    assert_eq!(s.requests.memory_bytes.as_ref().unwrap().value, 128 << 20);
    assert_eq!(s.limits.memory_bytes.as_ref().unwrap().value, 1_000_000_000);
    assert_eq!(s.limits.gpus.as_ref().unwrap().value, 1);
    assert!(s.requests.gpus.is_none());
}

#[test]
fn defaults_when_the_spec_is_silent() {
    let s = agent_settings(
        &valid("spec:\n  containers:\n  - name: x\n    image: y\n"),
        Some("x"),
    )
    .unwrap();
    assert_eq!(
        (s.log_level.value, s.log_level.source.as_str()),
        (LogLevel::Info, "default")
    );
    assert!(s.metric_groups.value.is_empty() && s.watch.is_empty() && s.output_dir.is_none());
}

#[test]
fn missing_agent_container_names_the_candidates() {
    let e = agent_settings(
        &valid("spec:\n  containers:\n  - name: x\n    image: y\n"),
        None,
    )
    .unwrap_err();
    assert!(e.to_string().contains("logging-agent") && e.to_string().contains("x"));
}
