//! Structured log lines (SPCS.md §3): a JSON object with a `body` becomes a row whose
//! VALUE is the body, with its severity, attributes, scope and timestamp; other fields are
//! dropped, as the platform does. Used by captured streams and by the file tailer's `json`
//! format alike.

use std::borrow::Cow;

use firn_schemas::{JsonText, ObjectWriter, Severity};

use crate::pipeline::ChunkBuilder;
use serde::Deserialize;
use serde_json::value::RawValue;

/// A parsed structured line.
#[derive(Debug, Clone, PartialEq)]
pub struct Structured<'a> {
    /// VALUE: the body's text if it is a JSON string, otherwise its JSON.
    pub body: Body<'a>,
    /// The severity, if `severity_text` is a known level.
    pub severity: Option<Severity>,
    /// RECORD, when `severity_text` is present but not a known level: it is kept as written.
    pub custom_record: Option<JsonText>,
    /// RECORD_ATTRIBUTES, if `attributes` is an object.
    pub attributes: Option<JsonText>,
    /// SCOPE, if `scope` is an object.
    pub scope: Option<JsonText>,
    /// TIMESTAMP, if `timestamp` is RFC 3339.
    pub timestamp_ns: Option<i64>,
}

/// The `body` of a structured line.
#[derive(Debug, Clone, PartialEq)]
pub enum Body<'a> {
    /// A JSON string, unescaped.
    Text(Cow<'a, str>),
    /// Any other JSON value, as written.
    Json(&'a str),
}

#[derive(Deserialize)]
struct Shape<'a> {
    #[serde(borrow)]
    body: Option<&'a RawValue>,
    #[serde(borrow)]
    severity_text: Option<Cow<'a, str>>,
    #[serde(borrow)]
    attributes: Option<&'a RawValue>,
    #[serde(borrow)]
    scope: Option<&'a RawValue>,
    #[serde(borrow)]
    timestamp: Option<Cow<'a, str>>,
}

fn object(raw: Option<&RawValue>) -> Option<JsonText> {
    let r = raw?.get();
    r.trim_start()
        .starts_with('{')
        .then(|| JsonText::from_json_unchecked(r))
}

/// Parses a line as a structured record; `None` when it is not a JSON object with `body`
/// (the line is then unstructured and kept whole).
pub fn parse(line: &str) -> Option<Structured<'_>> {
    let t = line.trim();
    if !t.starts_with('{') {
        return None;
    }
    let shape: Shape<'_> = serde_json::from_str(t).ok()?;
    let raw_body = shape.body?.get();
    let body = if raw_body.starts_with('"') {
        Body::Text(serde_json::from_str::<Cow<'_, str>>(raw_body).ok()?)
    } else {
        Body::Json(raw_body)
    };
    let (severity, custom_record) = match shape.severity_text.as_deref() {
        None => (None, None),
        Some(s) => match Severity::parse(s) {
            Some(sev) => (Some(sev), None),
            None => {
                let mut o = ObjectWriter::new();
                o.string("severity_text", s);
                (None, Some(o.finish()))
            }
        },
    };
    Some(Structured {
        body,
        severity,
        custom_record,
        attributes: object(shape.attributes),
        scope: object(shape.scope),
        timestamp_ns: shape.timestamp.as_deref().and_then(parse_rfc3339),
    })
}

impl Structured<'_> {
    /// Adds the record to `out` as a row: the RECORD of its own severity (or of `default`
    /// when it names none), its attributes under firn's `ours` (ours win: `log.iostream` and
    /// `log.file.path` are firn's to say), its scope, its timestamp (or `ts`) and its body.
    pub fn push_row(&self, out: &mut ChunkBuilder, ours: &JsonText, default: Severity, ts: i64) {
        let record = match (self.severity, &self.custom_record) {
            (Some(sev), _) => sev.record(),
            (None, Some(custom)) => custom,
            (None, None) => default.record(),
        };
        let merged = self.attributes.as_ref().map(|a| merge_attributes(a, ours));
        let attributes = merged.as_ref().unwrap_or(ours);
        let ts = self.timestamp_ns.unwrap_or(ts);
        match &self.body {
            Body::Text(t) => out.push(t, ts, record, Some(attributes), self.scope.as_ref()),
            Body::Json(j) => {
                out.push_value(j, true, ts, record, Some(attributes), self.scope.as_ref())
            }
        }
    }
}

/// The app's attributes with firn's (`ours`) on top: a key both set keeps firn's value, and
/// no key appears twice.
pub fn merge_attributes(app: &JsonText, ours: &JsonText) -> JsonText {
    // firn's keys all start with `log.`: when the app sets none of them (the usual case),
    // joining the two objects' texts is enough and costs no parsing.
    let inner = app
        .as_str()
        .trim()
        .strip_prefix('{')
        .and_then(|s| s.strip_suffix('}'))
        .map(str::trim);
    match inner {
        Some("") => return ours.clone(),
        Some(inner) if !app.as_str().contains("\"log.") => {
            let o = ours.as_str();
            if let Some(head) = o.strip_suffix('}') {
                let sep = if head.trim_end().ends_with('{') {
                    ""
                } else {
                    ","
                };
                return JsonText::from_json_unchecked(format!("{head}{sep}{inner}}}"));
            }
        }
        _ => {}
    }
    let parse = |j: &JsonText| {
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(j.as_str())
            .unwrap_or_default()
    };
    let mut map = parse(app);
    map.extend(parse(ours));
    JsonText::from_value(&serde_json::Value::Object(map))
}

fn digits(s: &[u8]) -> Option<i64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0i64, |a, d| a * 10 + i64::from(d - b'0')))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses RFC 3339 (`2024-05-01T12:00:00.123Z`, `...+02:00`; a space for `T` and a
/// lower-case `z` accepted) into ns since the epoch.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.trim().as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let (y, mo, d) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    let (h, mi, sec) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0i64;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 9 {
                nanos = nanos * 10 + i64::from(b[i] - b'0');
            }
            i += 1;
        }
        if i == start {
            return None;
        }
        for _ in (i - start)..9 {
            nanos *= 10;
        }
    }
    let offset_secs = match b.get(i..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), oh1, oh2, b':', om1, om2] => {
            let v = digits(&[*oh1, *oh2])? * 3600 + digits(&[*om1, *om2])? * 60;
            if *sign == b'+' { v } else { -v }
        }
        _ => return None,
    };
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset_secs;
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_structured_line_maps_to_columns() {
        let s = parse(r#"{"body":"hi \"you\"","severity_text":"warn","attributes":{"k":1},"scope":{"name":"app"},"timestamp":"2024-05-01T12:00:00.5Z","other":1}"#).unwrap();
        assert_eq!(s.body, Body::Text("hi \"you\"".into()));
        assert_eq!(s.severity, Some(Severity::Warn));
        assert_eq!(s.attributes.unwrap().as_str(), r#"{"k":1}"#);
        assert_eq!(s.scope.unwrap().as_str(), r#"{"name":"app"}"#);
        assert_eq!(s.timestamp_ns, Some(1_714_564_800_500_000_000));
    }

    #[test]
    fn lines_without_body_or_not_json_are_unstructured() {
        assert!(parse("plain text").is_none());
        assert!(parse(r#"{"message":"no body"}"#).is_none());
        assert!(parse(r#"{"body": "unterminated"#).is_none());
        assert!(parse("[1,2]").is_none());
    }

    #[test]
    fn odd_fields_are_kept_or_dropped_sensibly() {
        let s =
            parse(r#"{"body":{"a":1},"severity_text":"NOTICE-ISH","attributes":"not an object"}"#)
                .unwrap();
        assert_eq!(s.body, Body::Json(r#"{"a":1}"#));
        assert_eq!(s.severity, None);
        assert_eq!(
            s.custom_record.unwrap().as_str(),
            r#"{"severity_text":"NOTICE-ISH"}"#
        );
        assert!(s.attributes.is_none());
    }

    #[test]
    fn merged_attributes_keep_firns_keys_once() {
        let ours = JsonText::from_json_unchecked(r#"{"log.file.path":"/a.log"}"#);
        let merged = |app: &str| -> serde_json::Value {
            serde_json::from_str(
                merge_attributes(&JsonText::from_json_unchecked(app.to_string()), &ours).as_str(),
            )
            .unwrap()
        };
        assert_eq!(
            merged(r#"{"k":1}"#),
            serde_json::json!({"log.file.path": "/a.log", "k": 1})
        );
        assert_eq!(
            merged("{ }"),
            serde_json::json!({"log.file.path": "/a.log"})
        );
        let clash = merge_attributes(
            &JsonText::from_json_unchecked(r#"{"log.file.path":"app's","k":2}"#),
            &ours,
        );
        assert_eq!(
            clash.as_str().matches("log.file.path").count(),
            1,
            "{clash}"
        );
        assert!(clash.as_str().contains("/a.log"));
    }

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(
            parse_rfc3339("2024-02-29 23:59:59.123456789z"),
            Some(1_709_251_199_123_456_789)
        );
        assert_eq!(parse_rfc3339("2024-02-29T23:59:59"), None);
        assert_eq!(parse_rfc3339("2024-13-01T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("garbage"), None);
    }
}
