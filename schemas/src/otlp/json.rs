//! OTLP `AnyValue`s and attribute lists as JSON text, and back.
//!
//! Strings, booleans, arrays and key-value lists map to their JSON kinds. Integers are JSON
//! integers and doubles are JSON numbers always written with a fraction or exponent (`1.0`),
//! so the kind survives the trip back. Bytes become a base64 string, as in OTLP/JSON (they
//! come back as a string). Non-finite doubles become `null` (JSON has no NaN).

use std::fmt::Write as _;

use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, KeyValue, KeyValueList, any_value::Value as Any,
};

use crate::json::push_json_string;

/// Appends `v` as JSON.
pub(crate) fn push_any(out: &mut String, v: Option<&AnyValue>) {
    match v.and_then(|v| v.value.as_ref()) {
        None | Some(Any::StringValueStrindex(_)) => out.push_str("null"),
        Some(Any::StringValue(s)) => push_json_string(out, s),
        Some(Any::BoolValue(b)) => out.push_str(if *b { "true" } else { "false" }),
        Some(Any::IntValue(i)) => {
            let _ = write!(out, "{i}");
        }
        Some(Any::DoubleValue(d)) => push_f64(out, *d),
        Some(Any::BytesValue(b)) => {
            out.push('"');
            push_base64(out, b);
            out.push('"');
        }
        Some(Any::ArrayValue(a)) => {
            out.push('[');
            for (i, v) in a.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_any(out, Some(v));
            }
            out.push(']');
        }
        Some(Any::KvlistValue(kv)) => push_attributes(out, &kv.values),
    }
}

/// Appends a double so that it reads back as a double: `1.0`, not `1`.
pub(crate) fn push_f64(out: &mut String, d: f64) {
    match serde_json::Number::from_f64(d) {
        Some(n) => {
            let _ = write!(out, "{n}");
        }
        None => out.push_str("null"),
    }
}

/// Appends an attribute list as a JSON object. A key given twice keeps its last value:
/// Snowflake's `PARSE_JSON` refuses duplicate keys.
pub(crate) fn push_attributes(out: &mut String, attrs: &[KeyValue]) {
    out.push('{');
    let mut first = true;
    for (i, kv) in attrs.iter().enumerate() {
        if attrs[i + 1..].iter().any(|later| later.key == kv.key) {
            continue;
        }
        if !first {
            out.push(',');
        }
        first = false;
        push_json_string(out, &kv.key);
        out.push(':');
        push_any(out, kv.value.as_ref());
    }
    out.push('}');
}

/// An attribute list as a JSON object, or `None` when empty (the column is then NULL).
pub(crate) fn attributes_text(attrs: &[KeyValue]) -> Option<String> {
    if attrs.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(attrs.len() * 32);
    push_attributes(&mut out, attrs);
    Some(out)
}

/// Lower-case hex of an id.
pub(crate) fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
}

fn push_base64(out: &mut String, bytes: &[u8]) {
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(B64[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
}

/// A JSON value back as an `AnyValue`: integers that fit `i64` are ints, other numbers
/// doubles, objects key-value lists, `null` an empty value.
pub(crate) fn any_from_json(v: &serde_json::Value) -> AnyValue {
    use serde_json::Value as J;
    let value = match v {
        J::Null => None,
        J::Bool(b) => Some(Any::BoolValue(*b)),
        J::Number(n) => Some(match n.as_i64() {
            Some(i) if !n.is_f64() => Any::IntValue(i),
            _ => Any::DoubleValue(n.as_f64().unwrap_or(f64::NAN)),
        }),
        J::String(s) => Some(Any::StringValue(s.clone())),
        J::Array(a) => Some(Any::ArrayValue(ArrayValue {
            values: a.iter().map(any_from_json).collect(),
        })),
        J::Object(o) => Some(Any::KvlistValue(KeyValueList {
            values: attributes_from_map(o),
        })),
    };
    AnyValue { value }
}

/// A JSON object back as an attribute list, in the object's order.
pub(crate) fn attributes_from_map(o: &serde_json::Map<String, serde_json::Value>) -> Vec<KeyValue> {
    o.iter()
        .map(|(k, v)| KeyValue {
            key: k.clone(),
            value: Some(any_from_json(v)),
            key_strindex: 0,
        })
        .collect()
}

/// Hex text back as bytes; `None` if it is not hex.
pub(crate) fn bytes_from_hex(s: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    };
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_examples() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            let mut out = String::new();
            push_base64(&mut out, input.as_bytes());
            assert_eq!(out, want, "{input}");
        }
    }

    #[test]
    fn doubles_keep_a_fraction_and_ints_do_not() {
        let mut out = String::new();
        push_f64(&mut out, 1.0);
        out.push(' ');
        push_any(
            &mut out,
            Some(&AnyValue {
                value: Some(Any::IntValue(1)),
            }),
        );
        out.push(' ');
        push_f64(&mut out, f64::NAN);
        assert_eq!(out, "1.0 1 null");
    }

    #[test]
    fn duplicate_keys_keep_the_last_value() {
        let kv = |k: &str, v: i64| KeyValue {
            key: k.into(),
            value: Some(AnyValue {
                value: Some(Any::IntValue(v)),
            }),
            key_strindex: 0,
        };
        let text = attributes_text(&[kv("a", 1), kv("b", 2), kv("a", 3)]);
        assert_eq!(text.as_deref(), Some(r#"{"b":2,"a":3}"#));
    }
}
