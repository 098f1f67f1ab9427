use super::*;
use crate::check::{CheckOptions, check};

fn inj(text: &str, opts: &InjectOptions) -> String {
    inject(text, opts).unwrap_or_else(|e| panic!("{e}")).text
}

/// Options that skip the check, for tests of how splicing copes with broken input.
fn forced() -> InjectOptions {
    InjectOptions {
        force: true,
        ..Default::default()
    }
}

fn assert_valid(text: &str) {
    let r = check(text, &CheckOptions::default());
    assert!(r.is_valid(), "{text}\n{:#?}", r.findings);
}

const COMMENTED: &str = "# service for the echo demo
spec:
  # the app itself
  containers:
  - name: echo   # keep this name
    image: /db/s/r/echo:1
    env:
      B: 2   # order matters to us
      A: 1
  endpoints:
  - name: web
    port: 8080   # the port
    public: true
# trailing comment
";

#[test]
fn comments_and_key_order_survive() {
    let out = inj(COMMENTED, &InjectOptions::default());
    for line in COMMENTED.lines() {
        assert!(out.contains(line), "lost line {line:?} in\n{out}");
    }
    assert!(out.find("B: 2").unwrap() < out.find("A: 1").unwrap());
    assert_valid(&out);
}

#[test]
fn inject_is_idempotent() {
    let once = inj(
        COMMENTED,
        &InjectOptions {
            stage: Some("@LOGS".into()),
            ..Default::default()
        },
    );
    let twice = inj(&once, &InjectOptions::default());
    assert_eq!(once, twice);
    assert!(
        twice.contains("name: \"@LOGS\""),
        "re-run without --stage keeps the stage"
    );
}

#[test]
fn rerun_picks_up_a_new_stage_and_log_level() {
    let once = inj(COMMENTED, &InjectOptions::default());
    let edited = once.replace("logLevel: INFO", "logLevel: ERROR");
    let again = inj(
        &edited,
        &InjectOptions {
            stage: Some("@other".into()),
            ..Default::default()
        },
    );
    assert!(again.contains("- ERROR") && again.contains("\"@other\""));
    assert!(!again.contains("@firn_stage"));
    assert_valid(&again);
}

#[test]
fn reuses_a_local_volume_the_app_already_mounts() {
    let text = "spec:
  containers:
  - name: app
    image: a
    volumeMounts:
    - name: logs
      mountPath: /opt/app/logs
  volumes:
  - name: logs
    source: local
";
    let out = inj(text, &InjectOptions::default());
    assert!(!out.contains("firn-logs"), "{out}");
    assert_valid(&out);
    let spec = check(&out, &CheckOptions::default()).valid.unwrap();
    let s = crate::settings::agent_settings(&spec, None).unwrap();
    assert_eq!(s.watch[0].value, "/var/log/app/**/*.log");
    assert_eq!(s.output_dir.unwrap().value, OUTPUT_DIR);
}

#[test]
fn several_containers_need_app() {
    let text = "spec:\n  containers:\n  - name: a\n    image: x\n  - name: b\n    image: y\n";
    assert!(matches!(
        inject(text, &InjectOptions::default()),
        Err(InjectError::AmbiguousApp(_))
    ));
    let out = inj(
        text,
        &InjectOptions {
            app: Some("b".into()),
            ..Default::default()
        },
    );
    assert_valid(&out);
    assert!(matches!(
        inject(
            text,
            &InjectOptions {
                app: Some("c".into()),
                ..Default::default()
            }
        ),
        Err(InjectError::UnknownApp { .. })
    ));
}

#[test]
fn a_foreign_logging_agent_is_not_overwritten() {
    let text = "spec:\n  containers:\n  - name: app\n    image: x\n  - name: logging-agent\n    image: fluentbit\n";
    assert!(matches!(
        inject(text, &InjectOptions::default()),
        Err(InjectError::AgentNameTaken { .. })
    ));
}

#[test]
fn flow_style_and_bad_stage_are_clean_errors() {
    assert!(matches!(
        inject(
            "spec: {containers: [{name: a, image: b}]}\n",
            &InjectOptions::default()
        ),
        Err(InjectError::Shape { .. })
    ));
    let text = "spec:\n  containers:\n  - name: a\n    image: b\n";
    assert!(matches!(
        inject(
            text,
            &InjectOptions {
                stage: Some("stage".into()),
                ..Default::default()
            }
        ),
        Err(InjectError::BadStage(_))
    ));
    assert!(matches!(
        inject("a: [\n", &forced()),
        Err(InjectError::Yaml(_))
    ));
}

#[test]
fn templates_are_kept_as_templates() {
    let text = "spec:\n  containers:\n  - name: echo\n    image: repo/echo:{{ tag }}\n  logExporters:\n    eventTableConfig:\n      logLevel: {{ level | default('INFO') }}\n";
    // The check before inject needs the template's values, as `spec check` does.
    let opts = InjectOptions {
        values: crate::template::Values::from_pairs(&["tag=v1"]).unwrap(),
        ..Default::default()
    };
    assert!(matches!(
        inject(text, &InjectOptions::default()),
        Err(InjectError::Invalid(f)) if f[0].code == "template-undefined"
    ));
    let out = inj(text, &opts);
    assert!(out.contains("image: repo/echo:{{ tag }}"));
    assert!(out.contains("- {{ level | default('INFO') }}"), "{out}");
    let values = crate::template::Values::from_pairs(&["tag=v1", "level=ERROR"]).unwrap();
    let r = check(&out, &CheckOptions { values, job: false });
    assert!(r.is_valid(), "{:#?}", r.findings);
    assert_eq!(inj(&out, &opts), out);
}

#[test]
fn file_without_trailing_newline() {
    let out = inj(
        "spec:\n  containers:\n  - name: a\n    image: b",
        &InjectOptions::default(),
    );
    assert_valid(&out);
}

#[test]
fn indented_sequences_keep_their_style() {
    let text = "spec:\n    containers:\n        -   name: a\n            image: b\n";
    let out = inj(text, &InjectOptions::default());
    assert_valid(&out);
    assert_eq!(inj(&out, &InjectOptions::default()), out);
}

#[test]
fn literal_block_scalar_as_last_value_keeps_its_lines() {
    let text = "spec:\n  containers:\n  - name: app\n    image: x\n    args:\n    - |\n      multi\n      line\n";
    let out = inj(text, &InjectOptions::default());
    assert!(
        out.contains("    - |\n      multi\n      line\n    volumeMounts:\n"),
        "{out}"
    );
    assert_valid(&out);
    assert_eq!(inj(&out, &InjectOptions::default()), out);
}

#[test]
fn empty_volume_mounts_and_volumes_keys_are_filled_in() {
    let text = "spec:\n  containers:\n  - name: app\n    image: x\n    volumeMounts:\n  volumes:\n";
    let out = inj(text, &InjectOptions::default());
    assert_valid(&out);
    assert_eq!(out.matches("volumeMounts:").count(), 2);
    assert_eq!(out.matches("volumes:").count(), 1);
    assert_eq!(inj(&out, &InjectOptions::default()), out);
}

#[test]
fn crlf_files_stay_crlf_and_bare_cr_is_refused() {
    let text = "spec:\r\n  containers:\r\n  - name: app # c\r\n    image: x\r\n";
    let out = inj(text, &InjectOptions::default());
    assert!(
        !out.replace("\r\n", "").contains('\n'),
        "mixed line endings:\n{out:?}"
    );
    assert_valid(&out);
    assert_eq!(inj(&out, &InjectOptions::default()), out);
    // Regression: fuzz crash-3ef638e6, a run of bare CRs inside a key.
    assert!(matches!(
        inject("spec:\n  containers:\n  - na\r\r\r\n", &forced()),
        Err(InjectError::Shape { .. })
    ));
}

#[test]
fn dash_on_its_own_line_keeps_the_item_indentation() {
    let text = "spec:\n  containers:\n  -\n    name: app\n    image: x\n  - # second\n    name: b\n    image: y\n";
    let out = inj(
        text,
        &InjectOptions {
            app: Some("app".into()),
            ..Default::default()
        },
    );
    assert!(out.contains("\n  - name: logging-agent\n"), "{out}");
    assert_valid(&out);
    assert_eq!(
        inj(
            &out,
            &InjectOptions {
                app: Some("app".into()),
                ..Default::default()
            }
        ),
        out
    );
}

#[test]
fn non_mapping_items_are_refused() {
    // Regression: fuzz crash-ce205265, a volume item that is a bare scalar on the next line.
    let text = "spec:\n  containers:\n  - name: a\n    image: b\n  volumes:\n  - \n    junk\n";
    assert!(matches!(
        inject(text, &forced()),
        Err(InjectError::Shape { .. })
    ));
}

#[test]
fn aliases_in_edited_structures_are_refused() {
    let text = "x: &c\n- name: a\n  image: b\nspec:\n  containers: *c\n";
    assert!(matches!(
        inject(text, &forced()),
        Err(InjectError::Shape { .. })
    ));
}
