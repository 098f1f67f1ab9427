use super::*;

fn rec() -> Recognizer {
    Recognizer::new(Arc::new(SemanticsConfig::default()))
}

#[test]
fn a_shape_is_learned_then_applied_and_relearned() {
    let mut r = rec();
    let a = r.recognize("2026-12-01 10:00:01 ERROR a", 0);
    assert_eq!(a.severity, Some(Severity::Error));
    assert!(matches!(
        r.shape,
        Some(Shape::Positional {
            token: 0,
            level: LevelAt::Token(0),
            ..
        })
    ));
    // The layout changes: learned again.
    let b = r.recognize("<11>Dec  1 10:00:02 host app: b", 1_800_000_000_000_000_000);
    assert_eq!(b.severity, Some(Severity::Error));
    assert!(matches!(
        r.shape,
        Some(Shape::Positional {
            level: LevelAt::Priority,
            ..
        })
    ));
}

#[test]
fn a_line_without_time_joins_the_record_before() {
    let mut r = rec();
    let a = r.recognize("2026-12-01 10:00:01 FATAL boom", 0);
    let b = r.recognize("\tat x.y(Z.java:1)", 0);
    assert_eq!(b.ts, a.ts);
    assert_eq!(b.severity, Some(Severity::Fatal));
    assert!(!b.own_time && !b.own_severity);
}

#[test]
fn parse_none_recognises_nothing() {
    let mut r = Recognizer::new(Arc::new(SemanticsConfig {
        parse: ParseMode::None,
        ..SemanticsConfig::default()
    }));
    assert_eq!(
        r.recognize("2026-12-01 10:00:01 ERROR a", 0),
        Recognized::default()
    );
}

#[test]
fn overrides() {
    let mut r = Recognizer::new(Arc::new(SemanticsConfig {
        timestamp_format: Some("%d.%m.%Y %H:%M:%S".parse().unwrap()),
        severity_regex: Some(Regex::new(r"lvl#(?P<level>\w+)").unwrap()),
        timezone: "+01:00".parse().unwrap(),
        ..SemanticsConfig::default()
    }));
    let a = r.recognize("01.12.2026 11:00:01 lvl#crit disk", 0);
    assert_eq!(a.ts, Some(1_796_119_201_000_000_000));
    assert_eq!(a.severity, Some(Severity::Error));
}

#[test]
fn timezones() {
    assert_eq!("-05:30".parse::<Timezone>().unwrap().offset_secs, -19_800);
    assert_eq!("+09".parse::<Timezone>().unwrap().offset_secs, 32_400);
    assert!("Europe/Paris".parse::<Timezone>().is_err());
}
