//! Any input: `check` and `inject` never panic, and inject is idempotent when it succeeds.
#![no_main]

use firn_spec::{CheckOptions, InjectOptions, check, inject};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let report = check(text, &CheckOptions::default());
    for f in &report.findings {
        assert!(f.line >= 1 && f.column >= 1, "finding without a position: {f:?}");
    }
    // Forced: most fuzz inputs are invalid specs, and the splicing must cope with them.
    let opts = InjectOptions { force: true, ..Default::default() };
    if let Ok(once) = inject(text, &opts) {
        let twice = inject(&once.text, &opts).expect("injected output must inject again");
        assert_eq!(once.text, twice.text, "inject is not idempotent");
    }
});
