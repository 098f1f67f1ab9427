use super::*;
use crate::finding::Severity;

fn codes(text: &str) -> Vec<(Severity, &'static str, String)> {
    check(text, &CheckOptions::default())
        .findings
        .into_iter()
        .map(|f| (f.severity, f.code, f.path))
        .collect()
}

fn one(text: &str, code: &str) -> Finding {
    let r = check(text, &CheckOptions::default());
    let found: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.code == code)
        .cloned()
        .collect();
    assert_eq!(found.len(), 1, "expected one {code} in {:#?}", r.findings);
    found[0].clone()
}

const BASE: &str = "spec:\n  containers:\n  - name: app\n    image: /db/s/r/app:1\n";

#[test]
fn minimal_spec_is_valid() {
    let r = check(BASE, &CheckOptions::default());
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
    assert!(r.valid.is_some());
}

#[test]
fn memory_limit_without_unit_points_at_the_value() {
    let f = one(
        &format!("{BASE}    resources:\n      limits:\n        memory: 4096\n"),
        "invalid-quantity",
    );
    assert_eq!(f.path, "spec.containers[0].resources.limits.memory");
    assert_eq!((f.line, f.column), (7, 17));
    assert!(f.message.contains("no unit"));
}

#[test]
fn names_follow_the_platform_rule() {
    for bad in ["App", "1app", "app-", "a_b", &"a".repeat(64)] {
        let f = one(
            &format!("spec:\n  containers:\n  - name: {bad}\n    image: x\n"),
            "invalid-name",
        );
        assert_eq!(f.path, "spec.containers[0].name");
    }
    assert!(
        codes(&format!(
            "spec:\n  containers:\n  - name: {}\n    image: x\n",
            "a".repeat(63)
        ))
        .is_empty()
    );
}

#[test]
fn service_role_names_allow_underscores() {
    let t = format!(
        "{BASE}  endpoints:\n  - name: api\n    port: 80\nserviceRoles:\n- name: api_users\n  endpoints: [api]\n- name: bad-role\n  endpoints: [nope]\n"
    );
    let c = codes(&t);
    assert_eq!(c.iter().filter(|x| x.1 == "invalid-role-name").count(), 1);
    assert_eq!(c.iter().filter(|x| x.1 == "unknown-endpoint").count(), 1);
}

#[test]
fn gpu_request_needs_an_equal_limit() {
    let f = one(
        &format!(
            "{BASE}    resources:\n      requests:\n        nvidia.com/gpu: 2\n      limits:\n        nvidia.com/gpu: 1\n"
        ),
        "gpu-limit",
    );
    assert!(f.path.ends_with("limits.nvidia.com/gpu"));
    one(
        &format!("{BASE}    resources:\n      requests:\n        nvidia.com/gpu: 1\n"),
        "gpu-limit",
    );
}

#[test]
fn memory_volume_needs_size_and_block_size_is_whole_gi() {
    let m = "    volumeMounts:\n    - name: v\n      mountPath: /v\n";
    one(
        &format!("{BASE}{m}  volumes:\n  - name: v\n    source: memory\n"),
        "volume-size",
    );
    one(
        &format!("{BASE}{m}  volumes:\n  - name: v\n    source: block\n    size: 10G\n"),
        "invalid-quantity",
    );
    assert!(codes(&format!("{BASE}{m}  volumes:\n  - name: v\n    source: block\n    size: 10Gi\n    blockConfig:\n      iops: 3000\n      encryption: SNOWFLAKE_SSE\n")).is_empty());
}

#[test]
fn endpoint_rules() {
    let ep = |body: &str| format!("{BASE}  endpoints:\n  - name: e\n{body}");
    one(
        &ep("    port: 80\n    portRange: 80-90\n    protocol: TCP\n"),
        "port-xor-range",
    );
    one(&ep("    public: true\n"), "port-xor-range");
    one(&ep("    portRange: 80-90\n"), "port-range");
    one(
        &ep("    portRange: 80-90\n    protocol: TCP\n    public: true\n"),
        "port-range",
    );
    one(
        &ep("    port: 80\n    protocol: TCP\n    public: true\n"),
        "public-protocol",
    );
    assert!(codes(&ep("    portRange: 80-90\n    protocol: TCP\n")).is_empty());
    let job = check(
        &ep("    port: 80\n"),
        &CheckOptions {
            job: true,
            ..Default::default()
        },
    );
    assert_eq!(job.findings[0].code, "job-endpoint-protocol");
    assert!(
        check(
            &ep("    port: 80\n    protocol: TCP\n"),
            &CheckOptions {
                job: true,
                ..Default::default()
            }
        )
        .findings
        .is_empty()
    );
}

#[test]
fn unknown_keys_suggest_the_right_one() {
    let f = one(
        "spec:\n  container:\n  - name: a\n    image: b\n",
        "unknown-key",
    );
    assert!(f.help.contains("`containers`"), "{}", f.help);
    let f = one(&format!("{BASE}    volumeMount: []\n"), "unknown-key");
    assert!(f.help.contains("`volumeMounts`"));
    let f = one(&format!("{BASE}    endpoints: []\n"), "unknown-key");
    assert!(f.help.contains("belongs under spec"), "{}", f.help);
}

#[test]
fn malformed_yaml_is_a_finding_not_a_panic() {
    let f = one("spec:\n  containers: [\n", "yaml-syntax");
    assert_eq!(f.severity, Severity::Error);
    assert!(f.line >= 2);
}

#[test]
fn warnings_alone_keep_the_spec_valid() {
    let t = format!("{BASE}  volumes:\n  - name: unused\n    source: local\n");
    let r = check(&t, &CheckOptions::default());
    assert_eq!(r.findings.len(), 1);
    assert_eq!(r.findings[0].severity, Severity::Warning);
    assert!(r.is_valid() && r.valid.is_some());
}

#[test]
fn template_errors_point_into_the_template() {
    let r = check(
        "spec:\n  containers:\n  - name: echo\n    image: {{ image_url }}\n",
        &CheckOptions::default(),
    );
    assert_eq!(r.findings.len(), 1);
    let f = &r.findings[0];
    assert_eq!((f.code, f.line, f.column), ("template-undefined", 4, 12));
    assert!(f.message.contains("image_url"));
}

#[test]
fn findings_after_a_substitution_use_template_columns() {
    let values = Values::from_pairs(&["very_long_tag_variable=v1"]).unwrap();
    let t = "spec:\n  containers:\n  - name: echo\n    image: a:{{ very_long_tag_variable }}\n    sha256: x\n    bogus: 1\n";
    let r = check(t, &CheckOptions { values, job: false });
    let f = r.findings.iter().find(|f| f.code == "unknown-key").unwrap();
    assert_eq!((f.line, f.column), (6, 5));
}

#[test]
fn stage_volume_forms() {
    let m = "    volumeMounts:\n    - name: s\n      mountPath: /s\n";
    let v2 = format!(
        "{BASE}{m}  volumes:\n  - name: s\n    source: stage\n    stageConfig:\n      name: \"@st\"\n    uid: 10001\n    gid: 10001\n"
    );
    assert!(codes(&v2).is_empty(), "{:?}", codes(&v2));
    let v1 = format!("{BASE}{m}  volumes:\n  - name: s\n    source: \"@st\"\n");
    assert_eq!(
        codes(&v1),
        vec![(
            Severity::Warning,
            "stage-mount-v1",
            "spec.volumes[0].source".to_string()
        )]
    );
    one(
        &format!("{BASE}{m}  volumes:\n  - name: s\n    source: stage\n"),
        "missing-key",
    );
    one(
        &format!("{BASE}{m}  volumes:\n  - name: s\n    source: local\n    uid: 1\n"),
        "uid-gid-not-stage",
    );
}

#[test]
fn secrets_and_cors_and_log_level() {
    let s = format!(
        "{BASE}    secrets:\n    - snowflakeSecret: cred\n      secretKeyRef: password\n      directoryPath: /s\n"
    );
    one(&s, "secret-key-ref");
    let c = format!(
        "{BASE}  endpoints:\n  - name: e\n    port: 80\n    public: true\n    corsSettings:\n      Access-Control-Allow-Origin:\n      - \"*\"\n"
    );
    one(&c, "cors-origin");
    let l = format!("{BASE}  logExporters:\n    eventTableConfig:\n      logLevel: info\n");
    assert!(one(&l, "invalid-log-level").help.contains("`INFO`"));
    let g = format!("{BASE}  platformMonitor:\n    metricConfig:\n      groups: [system, gpu]\n");
    assert!(
        one(&g, "unknown-metric-group")
            .help
            .contains("system_limits")
    );
}

#[test]
fn duplicate_keys_and_names_are_errors() {
    one(
        "spec:\n  containers:\n  - name: a\n    image: b\n    image: c\n",
        "duplicate-key",
    );
    one(
        "spec:\n  containers:\n  - name: a\n    image: b\n  - name: a\n    image: c\n",
        "duplicate-name",
    );
}

fn only(text: &str, want: &[(&str, &str)]) {
    let got: Vec<(&str, String)> = codes(text).into_iter().map(|(_, c, p)| (c, p)).collect();
    let want: Vec<(&str, String)> = want.iter().map(|(c, p)| (*c, p.to_string())).collect();
    assert_eq!(got, want, "in\n{text}");
}

/// Regression (issue 8): a value the decoder rejected was also reported as absent by a rule
/// ("has neither `port` nor `portRange`", "has no `size`", "is empty"), contradicting the
/// real finding. Only the root cause is reported.
#[test]
fn a_rejected_value_was_also_reported_as_missing() {
    only(
        &format!("{BASE}  endpoints:\n  - name: e\n    port: \"8080\"\n"),
        &[("invalid-number", "spec.endpoints[0].port")],
    );
    let m = "    volumeMounts:\n    - name: v\n      mountPath: /v\n";
    only(
        &format!("{BASE}{m}  volumes:\n  - name: v\n    source: block\n    size: 10.5Gi\n"),
        &[("invalid-quantity", "spec.volumes[0].size")],
    );
    only(
        "spec:\n  containers:\n    name: app\n    image: x\n",
        &[("wrong-type", "spec.containers")],
    );
}

/// The same root-cause rule for the other rules that read a decoded value.
#[test]
fn rules_stay_silent_about_values_the_decoder_rejected() {
    let ep = |body: &str| format!("{BASE}  endpoints:\n  - name: e\n{body}");
    // An invalid protocol is unknown, not the HTTP default: no job or portRange finding.
    let job = check(
        &ep("    portRange: 80-90\n    protocol: tcp\n"),
        &CheckOptions {
            job: true,
            ..Default::default()
        },
    );
    let got: Vec<_> = job.findings.iter().map(|f| f.code).collect();
    assert_eq!(got, ["invalid-protocol"]);
    only(
        &ep(
            "    port: 80\n    public: yes\n    corsSettings:\n      Access-Control-Allow-Origin: {a: b}\n",
        ),
        &[
            ("invalid-bool", "spec.endpoints[0].public"),
            (
                "wrong-type",
                "spec.endpoints[0].corsSettings.Access-Control-Allow-Origin",
            ),
        ],
    );
    // A volume list that is not a list: the mounts' names are not "unknown".
    only(
        &format!(
            "{BASE}    volumeMounts:\n    - name: v\n      mountPath: /v\n  volumes:\n    name: v\n    source: local\n"
        ),
        &[("wrong-type", "spec.volumes")],
    );
    // A mount that lost its mountPath does not make its volume "unused".
    only(
        &format!(
            "{BASE}    volumeMounts:\n    - name: v\n  volumes:\n  - name: v\n    source: local\n"
        ),
        &[(
            "missing-key",
            "spec.containers[0].volumeMounts[0].mountPath",
        )],
    );
    // An invalid GPU limit is not a missing one.
    only(
        &format!(
            "{BASE}    resources:\n      requests:\n        nvidia.com/gpu: 1\n      limits:\n        nvidia.com/gpu: one\n"
        ),
        &[(
            "invalid-quantity",
            "spec.containers[0].resources.limits.nvidia.com/gpu",
        )],
    );
    // An empty envVarName is not an absent one.
    only(
        &format!("{BASE}    secrets:\n    - snowflakeSecret: cred\n      envVarName:\n"),
        &[("missing-value", "spec.containers[0].secrets[0].envVarName")],
    );
    // A misspelt required key is one finding, not also "has no `containers`".
    only(
        "spec:\n  container:\n  - name: a\n    image: b\n",
        &[("unknown-key", "spec.container")],
    );
    // An empty mapping says so.
    only("spec:\n", &[("missing-value", "spec")]);
}

/// A fragment without `spec` (the reference's `serviceRoles` syntax block): the missing
/// `spec` is the finding, not every endpoint name the roles list.
#[test]
fn without_spec_role_endpoints_are_not_unknown() {
    only(
        "serviceRoles:\n- name: api_users\n  endpoints:\n  - api\n",
        &[("missing-key", "spec")],
    );
}
