//! JSON text for the OBJECT / VARIANT / ARRAY columns: values serialised once and shared.

use std::fmt::{self, Write};
use std::sync::Arc;

/// A JSON value serialised once and shared by every row that carries it.
///
/// Rows hold `&JsonText`; the batch builder recognises a value it has just seen by pointer,
/// so resource attributes or a log RECORD repeated on every row cost one pointer compare.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct JsonText(Arc<str>);

impl JsonText {
    /// Serialises a `serde_json` value.
    pub fn from_value(value: &serde_json::Value) -> Self {
        Self(Arc::from(value.to_string()))
    }

    /// An object of string keys and string values, in the order given.
    pub fn string_object<'a, I>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        let mut obj = ObjectWriter::new();
        for (k, v) in pairs {
            obj.string(k, v);
        }
        obj.finish()
    }

    /// Takes text the caller has already made valid JSON (checked in debug builds).
    pub fn from_json_unchecked(text: impl Into<Arc<str>>) -> Self {
        let text = text.into();
        debug_assert!(
            serde_json::from_str::<serde_json::Value>(&text).is_ok(),
            "not JSON: {text}"
        );
        Self(text)
    }

    /// The JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn arc(&self) -> &Arc<str> {
        &self.0
    }
}

impl fmt::Debug for JsonText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for JsonText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Writes a JSON object key by key, without building a `serde_json::Value`.
#[derive(Debug, Default)]
pub struct ObjectWriter {
    out: String,
}

impl ObjectWriter {
    /// An empty object.
    pub fn new() -> Self {
        Self {
            out: String::from("{"),
        }
    }

    fn key(&mut self, key: &str) {
        if self.out.len() > 1 {
            self.out.push(',');
        }
        push_json_string(&mut self.out, key);
        self.out.push(':');
    }

    /// Adds `"key": "value"`.
    pub fn string(&mut self, key: &str, value: &str) -> &mut Self {
        self.key(key);
        push_json_string(&mut self.out, value);
        self
    }

    /// Adds `"key": <integer>`.
    pub fn int(&mut self, key: &str, value: i64) -> &mut Self {
        self.key(key);
        let _ = write!(self.out, "{value}");
        self
    }

    /// Adds `"key": <json>`, where `json` is already valid JSON text.
    pub fn raw(&mut self, key: &str, json: &str) -> &mut Self {
        self.key(key);
        self.out.push_str(json);
        self
    }

    /// Closes the object.
    pub fn finish(mut self) -> JsonText {
        self.out.push('}');
        JsonText(Arc::from(self.out))
    }
}

/// Appends `s` as a quoted JSON string.
pub fn push_json_string(out: &mut String, s: &str) {
    // Writing to a String cannot fail.
    let _ = write_json_string(out, s);
}

/// Writes `s` as a quoted JSON string, copying runs of characters that need no escape
/// in one call: log lines are mostly such runs.
///
/// # Errors
/// Only those of the underlying writer.
pub fn write_json_string<W: Write + ?Sized>(out: &mut W, s: &str) -> fmt::Result {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.write_char('"')?;
    let bytes = s.as_bytes();
    // Most log lines need no escape at all: one branch-free pass (which the compiler
    // vectorises) finds out, and the line is then copied whole.
    if !bytes.iter().fold(false, |acc, &b| {
        acc | (b < 0x20) | (b == b'"') | (b == b'\\')
    }) {
        out.write_str(s)?;
        return out.write_char('"');
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: Option<&str> = match b {
            b'"' => Some("\\\""),
            b'\\' => Some("\\\\"),
            b'\n' => Some("\\n"),
            b'\r' => Some("\\r"),
            b'\t' => Some("\\t"),
            0x00..=0x1f => None,
            _ => continue,
        };
        if start < i {
            out.write_str(&s[start..i])?;
        }
        match esc {
            Some(e) => out.write_str(e)?,
            None => {
                let u = [
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[(b >> 4) as usize],
                    HEX[(b & 0xf) as usize],
                ];
                // Six ASCII bytes.
                out.write_str(std::str::from_utf8(&u).map_err(|_| fmt::Error)?)?;
            }
        }
        start = i + 1;
    }
    if start < bytes.len() {
        out.write_str(&s[start..])?;
    }
    out.write_char('"')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_json_requires_and_nothing_else() {
        for s in [
            "plain",
            "",
            "quote \" back \\ slash",
            "tab\tnl\ncr\r",
            "ctl \u{1} \u{1f}",
            "é 日本 😀",
            "\u{7f}",
        ] {
            let mut out = String::new();
            push_json_string(&mut out, s);
            assert_eq!(serde_json::from_str::<String>(&out).unwrap(), s, "{out}");
            assert_eq!(
                out,
                serde_json::to_string(s).unwrap(),
                "same bytes as serde_json"
            );
        }
    }
}
