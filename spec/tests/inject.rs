//! `inject` against the reference corpus: output passes `check`, a second run changes
//! nothing, and every line of the input (comments included) is still there.

use std::fs;
use std::path::Path;

use firn_spec::check::{CheckOptions, check};
use firn_spec::{InjectOptions, inject};

#[test]
fn injected_reference_examples_pass_check_and_are_idempotent() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut injected = 0;
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|x| x != "yaml") {
            continue;
        }
        let text = fs::read_to_string(&path).unwrap();
        // Only specs that are valid (no template values needed) are meaningful inputs.
        let before = check(&text, &CheckOptions::default());
        if !before.is_valid() {
            continue;
        }
        let opts = InjectOptions {
            app: Some(
                if text.contains("name: app") {
                    "app"
                } else {
                    ""
                }
                .to_string(),
            )
            .filter(|s| !s.is_empty()),
            stage: Some("@LOGS".into()),
            ..Default::default()
        };
        let once = match inject(&text, &opts) {
            Ok(o) => o.text,
            // The reference's own `logging-agent` (a different image) is refused on purpose.
            Err(firn_spec::inject::InjectError::AgentNameTaken { .. }) => continue,
            Err(e) => panic!("{}: {e}", path.display()),
        };
        let after = check(&once, &CheckOptions::default());
        assert!(
            after.is_valid(),
            "{}:\n{once}\n{:#?}",
            path.display(),
            after.findings
        );
        assert_eq!(
            inject(&once, &opts).unwrap().text,
            once,
            "{} not idempotent",
            path.display()
        );
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            assert!(once.contains(line), "{}: lost {line:?}", path.display());
        }
        injected += 1;
    }
    assert!(injected >= 15, "only {injected} corpus files were injected");
}
