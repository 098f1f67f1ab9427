//! The precedence of flags and `OTEL_EXPORTER_OTLP_*` variables, written by hand from the
//! OpenTelemetry exporter specification; retry rules from the OTLP/HTTP specification.

use std::time::Duration;

use super::*;

fn env_of<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |k| {
        vars.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    }
}

fn on() -> OtlpArgs {
    OtlpArgs {
        otlp: true,
        otlp_batch: 1000,
        otlp_max_backoff: Duration::from_secs(8),
        ..OtlpArgs::default()
    }
}

fn with_endpoint(u: &str) -> OtlpArgs {
    OtlpArgs {
        otlp_endpoint: Some(u.into()),
        ..on()
    }
}

#[test]
fn env_precedence_table() {
    // (flags, environment, logs URL, metrics URL)
    type Case<'a> = (OtlpArgs, Vec<(&'a str, &'a str)>, &'a str, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            on(),
            vec![],
            "http://localhost:4318/v1/logs",
            "http://localhost:4318/v1/metrics",
        ),
        (
            on(),
            vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")],
            "http://c:4318/v1/logs",
            "http://c:4318/v1/metrics",
        ),
        (
            on(),
            vec![("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/base/")],
            "http://c:4318/base/v1/logs",
            "http://c:4318/base/v1/metrics",
        ),
        (
            // A signal's own variable is used as is, and wins over the general one.
            on(),
            vec![
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://l:1/custom"),
            ],
            "http://l:1/custom",
            "http://c:4318/v1/metrics",
        ),
        (
            on(),
            vec![("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://m:2")],
            "http://localhost:4318/v1/logs",
            "http://m:2",
        ),
        (
            // The flag wins over every variable.
            with_endpoint("http://flag:9/"),
            vec![
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://l:1/custom"),
            ],
            "http://flag:9/v1/logs",
            "http://flag:9/v1/metrics",
        ),
        (
            // Blank variables count as unset.
            on(),
            vec![
                ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", " "),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c"),
            ],
            "http://c/v1/logs",
            "http://c/v1/metrics",
        ),
    ];
    for (i, (args, vars, logs, metrics)) in cases.into_iter().enumerate() {
        let cfg = OtlpConfig::resolve(&args, &env_of(&vars)).unwrap().unwrap();
        assert_eq!(
            (cfg.logs.url.as_str(), cfg.metrics.url.as_str()),
            (logs, metrics),
            "case {i}"
        );
    }
}

#[test]
fn export_is_off_unless_asked_even_with_otel_variables() {
    let vars = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318")];
    let args = OtlpArgs {
        otlp_batch: 1000,
        ..OtlpArgs::default()
    };
    assert_eq!(OtlpConfig::resolve(&args, &env_of(&vars)).unwrap(), None);
}

#[test]
fn headers_timeout_compression_precedence() {
    let vars = [
        ("OTEL_EXPORTER_OTLP_HEADERS", "a=general,b=general,c=x%20y"),
        ("OTEL_EXPORTER_OTLP_LOGS_HEADERS", "b=logs"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "2500"),
        ("OTEL_EXPORTER_OTLP_METRICS_TIMEOUT", "700"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "none"),
        ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "gzip"),
    ];
    let mut args = on();
    args.otlp_headers = vec![("A".into(), "flag".into())];
    let cfg = OtlpConfig::resolve(&args, &env_of(&vars)).unwrap().unwrap();
    let get = |h: &[(String, String)], k: &str| {
        h.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
    };
    // Flag over signal variable over general variable, per key (names are case-blind).
    assert_eq!(get(&cfg.logs.headers, "a").as_deref(), Some("flag"));
    assert_eq!(get(&cfg.logs.headers, "b").as_deref(), Some("logs"));
    assert_eq!(get(&cfg.metrics.headers, "b").as_deref(), Some("general"));
    assert_eq!(get(&cfg.logs.headers, "c").as_deref(), Some("x y"));
    assert_eq!(cfg.logs.timeout, Duration::from_millis(2500));
    assert_eq!(cfg.metrics.timeout, Duration::from_millis(700));
    assert!(!cfg.logs.gzip);
    assert!(cfg.metrics.gzip);
    // Defaults: gzip and 10 s.
    let cfg = OtlpConfig::resolve(&on(), &env_of(&[])).unwrap().unwrap();
    assert!(cfg.logs.gzip);
    assert_eq!(cfg.logs.timeout, Duration::from_secs(10));
    // The flags win over the variables.
    let mut args = on();
    args.otlp_timeout = Some(Duration::from_secs(3));
    args.otlp_compression = Some("gzip".into());
    let cfg = OtlpConfig::resolve(&args, &env_of(&vars)).unwrap().unwrap();
    assert_eq!(cfg.metrics.timeout, Duration::from_secs(3));
    assert!(cfg.logs.gzip);
}

#[test]
fn protocol_and_tls_are_refused_with_a_reason() {
    let e = OtlpConfig::resolve(&on(), &env_of(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("OTEL_EXPORTER_OTLP_PROTOCOL") && e.contains("http/protobuf"),
        "{e}"
    );
    assert!(
        OtlpConfig::resolve(
            &on(),
            &env_of(&[("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/protobuf")])
        )
        .is_ok()
    );
    // With an explicit OTLP/HTTP URL the protocol variable is overridden.
    assert!(
        OtlpConfig::resolve(
            &with_endpoint("http://c:4318"),
            &env_of(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")])
        )
        .is_ok()
    );
    let e = OtlpConfig::resolve(&with_endpoint("https://c:4318"), &env_of(&[]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("plain http only"), "{e}");
    let e = OtlpConfig::resolve(&on(), &env_of(&[("OTEL_EXPORTER_OTLP_TIMEOUT", "10s")]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("OTEL_EXPORTER_OTLP_TIMEOUT"), "{e}");
    let e = OtlpConfig::resolve(
        &on(),
        &env_of(&[("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd")]),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("gzip or none"), "{e}");
    let e = OtlpConfig::resolve(&on(), &env_of(&[("OTEL_EXPORTER_OTLP_HEADERS", "novalue")]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("KEY=VALUE"), "{e}");
}

#[test]
fn retryable_statuses_follow_the_otlp_http_specification() {
    for s in [429, 502, 503, 504] {
        assert!(
            matches!(classify(s, None, b""), Outcome::Retry { .. }),
            "{s}"
        );
    }
    for s in [400, 401, 403, 404, 413, 500] {
        assert!(
            matches!(classify(s, None, b""), Outcome::Refused { .. }),
            "{s}"
        );
    }
    assert_eq!(classify(200, None, b""), Outcome::Accepted);
    match classify(503, Some("7"), b"busy") {
        Outcome::Retry { after, .. } => assert_eq!(after, Some(Duration::from_secs(7))),
        o => panic!("{o:?}"),
    }
    assert_eq!(parse_retry_after("100000"), Some(Duration::from_secs(300)));
    assert_eq!(parse_retry_after("soon"), None);
}

/// RFC 9110 §10.2.3: Retry-After is seconds or an HTTP date, and §5.6.7: a recipient reads
/// all three date forms. Expected waits worked out by hand from the dates.
#[test]
fn retry_after_as_an_http_date_is_the_time_until_it() {
    // Sun, 06 Nov 1994 08:49:37 GMT = 784111777 s since the epoch.
    let now = std::time::UNIX_EPOCH + Duration::from_secs(784_111_777 - 30);
    for form in [
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
    ] {
        assert_eq!(
            parse_retry_after_at(form, now),
            Some(Duration::from_secs(30)),
            "{form}"
        );
    }
    let later = now + Duration::from_secs(60);
    assert_eq!(
        parse_retry_after_at("Sun, 06 Nov 1994 08:49:37 GMT", later),
        Some(Duration::ZERO),
        "a date past means no wait"
    );
    let long_before = now - Duration::from_secs(3600);
    assert_eq!(
        parse_retry_after_at("Sun, 06 Nov 1994 08:49:37 GMT", long_before),
        Some(MAX_RETRY_AFTER),
        "capped"
    );
}

#[test]
fn server_message_from_rpc_status_or_text() {
    // google.rpc.Status { code: 3, message: "bad record" }, encoded by hand.
    let mut b = vec![0x08, 0x03, 0x12, 10];
    b.extend_from_slice(b"bad record");
    assert_eq!(server_message(&b), "bad record");
    assert_eq!(server_message(b"plain text\n"), "plain text");
    assert_eq!(server_message(b""), "(no message)");
}

#[test]
fn backoff_doubles_to_the_cap_with_jitter_in_the_upper_half() {
    let (min, max) = (Duration::from_millis(250), Duration::from_secs(8));
    for attempt in 1..12 {
        let full = (min * (1 << (attempt - 1).min(10))).min(max);
        for r in [0, 1, 12345, u64::MAX] {
            let d = backoff(attempt, min, max, r);
            assert!(
                d >= full / 2 && d <= full,
                "attempt {attempt}: {d:?} of {full:?}"
            );
        }
    }
}

#[test]
fn token_file_is_read_again_when_it_changes() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("token");
    std::fs::write(&p, "one\n").unwrap();
    let mut t = TokenFile::new(p.clone());
    assert_eq!(t.get().unwrap(), "one");
    // Replaced as SPCS does: a new file renamed over the old one.
    let tmp = dir.path().join("token.new");
    std::fs::write(&tmp, "second-token").unwrap();
    std::fs::rename(&tmp, &p).unwrap();
    assert_eq!(t.get().unwrap(), "second-token");
    std::fs::remove_file(&p).unwrap();
    assert!(t.get().unwrap_err().to_string().contains("token"));
}
