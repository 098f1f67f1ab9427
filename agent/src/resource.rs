//! RESOURCE_ATTRIBUTES: who produced the rows, from the SPCS environment (SPCS.md §6),
//! `OTEL_RESOURCE_ATTRIBUTES`, and `--resource-attribute` flags, later ones winning.

use std::collections::BTreeMap;

use firn_schemas::{JsonText, ObjectWriter};

/// Environment variables SPCS sets in every container, and the attribute each becomes.
pub const SPCS_ENV: [(&str, &str); 4] = [
    ("SNOWFLAKE_ACCOUNT", "snow.account.name"),
    ("SNOWFLAKE_DATABASE", "snow.database.name"),
    ("SNOWFLAKE_SCHEMA", "snow.schema.name"),
    ("SNOWFLAKE_SERVICE_NAME", "snow.service.name"),
];

/// The attributes, with where each came from.
#[derive(Debug, Default, Clone)]
pub struct Resource {
    attrs: BTreeMap<String, (String, String)>,
}

impl Resource {
    /// Reads the environment through `env` (a function so tests need not touch the process's).
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Self {
        let mut r = Self::default();
        for (var, key) in SPCS_ENV {
            if let Some(v) = env(var).filter(|v| !v.is_empty()) {
                r.set(key, &v, var);
            }
        }
        if let Some(v) = env("HOSTNAME").filter(|v| !v.is_empty()) {
            r.set("host.name", &v, "HOSTNAME");
        }
        if let Some(list) = env("OTEL_RESOURCE_ATTRIBUTES") {
            for pair in list.split(',').filter(|p| !p.trim().is_empty()) {
                if let Some((k, v)) = pair.split_once('=') {
                    r.set(
                        &percent_decode(k.trim()),
                        &percent_decode(v.trim()),
                        "OTEL_RESOURCE_ATTRIBUTES",
                    );
                }
            }
        }
        r
    }

    /// Sets one attribute, noting its origin.
    pub fn set(&mut self, key: &str, value: &str, origin: &str) {
        self.attrs
            .insert(key.to_string(), (value.to_string(), origin.to_string()));
    }

    /// The JSON object, or `None` when there is no attribute (the column is then NULL).
    pub fn to_json(&self) -> Option<JsonText> {
        if self.attrs.is_empty() {
            return None;
        }
        let mut o = ObjectWriter::new();
        for (k, (v, _)) in &self.attrs {
            o.string(k, v);
        }
        Some(o.finish())
    }

    /// Each attribute's key and value, in key order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.attrs
            .iter()
            .map(|(k, (v, _))| (k.as_str(), v.as_str()))
    }

    /// `key=value (origin)` for the start-up log.
    pub fn describe(&self) -> String {
        if self.attrs.is_empty() {
            return "none (no SNOWFLAKE_* variables set)".to_string();
        }
        self.attrs
            .iter()
            .map(|(k, (v, o))| format!("{k}={v} ({o})"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Decodes `%XX` escapes, as the OpenTelemetry specification asks of
/// `OTEL_RESOURCE_ATTRIBUTES` (W3C Baggage octets); a `%` not followed by two hex digits is
/// kept as it is, and bytes that are not UTF-8 become U+FFFD.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `KEY=VALUE` for `--resource-attribute`.
///
/// # Errors
/// When there is no `=` or the key is empty.
pub fn parse_pair(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("expected KEY=VALUE, got {s:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spcs_variables_become_snow_attributes() {
        let env = |k: &str| match k {
            "SNOWFLAKE_SERVICE_NAME" => Some("ECHO".to_string()),
            "SNOWFLAKE_DATABASE" => Some("DB".to_string()),
            "OTEL_RESOURCE_ATTRIBUTES" => Some("snow.service.name=override, team=obs".to_string()),
            _ => None,
        };
        let mut r = Resource::from_env(env);
        r.set("snow.service.container.name", "app", "--resource-attribute");
        let json: serde_json::Value = serde_json::from_str(r.to_json().unwrap().as_str()).unwrap();
        assert_eq!(json["snow.database.name"], "DB");
        assert_eq!(json["snow.service.name"], "override");
        assert_eq!(json["team"], "obs");
        assert_eq!(json["snow.service.container.name"], "app");
        assert!(
            r.describe()
                .contains("snow.database.name=DB (SNOWFLAKE_DATABASE)")
        );
    }

    /// Issue 8 item 7: `x%20y` stayed as it was; the OpenTelemetry spec decodes it.
    #[test]
    fn otel_resource_attributes_are_percent_decoded() {
        let env = |k: &str| {
            (k == "OTEL_RESOURCE_ATTRIBUTES")
                .then(|| "team=x%20y,path=%2Fa%2Cb%3Dc,odd=100%,k%C3%A9y=caf%C3%A9".to_string())
        };
        let r = Resource::from_env(env);
        let json: serde_json::Value = serde_json::from_str(r.to_json().unwrap().as_str()).unwrap();
        assert_eq!(json["team"], "x y");
        assert_eq!(json["path"], "/a,b=c");
        assert_eq!(json["odd"], "100%");
        assert_eq!(json["kéy"], "café");
    }

    #[test]
    fn no_attributes_means_null() {
        assert!(Resource::from_env(|_| None).to_json().is_none());
    }
}
