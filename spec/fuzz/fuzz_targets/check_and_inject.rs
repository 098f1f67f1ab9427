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
    if let Ok(once) = inject(text, &InjectOptions::default()) {
        let twice = inject(&once, &InjectOptions::default()).expect("injected output must inject again");
        assert_eq!(once, twice, "inject is not idempotent");
    }
});
