//! `[[input]]` sections: files with settings of their own.

use std::sync::Arc;

use toml_edit::{Item, Table};

use super::{ConfigFileError, Ctx, line_of, nearest};
use crate::file_tail::{DecodeConfig, Format};
use crate::level_filter::LogLevel;
use crate::line_semantics::{ParseMode, SemanticsConfig, TimestampFormat, Timezone};

/// Keys of an `[[input]]` section.
const KEYS: [&str; 10] = [
    "paths",
    "exclude",
    "format",
    "multiline-start",
    "parse",
    "timezone",
    "timestamp-format",
    "severity-regex",
    "log-level",
    "name",
];

/// One `[[input]]` section: its files and the settings they are read with (each unset one
/// is the command line's, or the top of the file's).
#[derive(Debug, Clone, Default)]
pub struct InputSection {
    /// `name`, default the first glob: how the input is shown.
    pub name: String,
    /// `paths`: globs of its files (required).
    pub paths: Vec<glob::Pattern>,
    /// `exclude`: globs left out (of every input: discovery is shared).
    pub exclude: Vec<glob::Pattern>,
    /// `format`.
    pub format: Option<Format>,
    /// `multiline-start`.
    pub multiline_start: Option<regex::Regex>,
    /// `parse`.
    pub parse: Option<ParseMode>,
    /// `timezone`.
    pub timezone: Option<Timezone>,
    /// `timestamp-format`.
    pub timestamp_format: Option<TimestampFormat>,
    /// `severity-regex`.
    pub severity_regex: Option<regex::Regex>,
    /// `log-level`.
    pub log_level: Option<LogLevel>,
}

fn strings(item: &Item) -> Option<Vec<String>> {
    match item {
        Item::Value(toml_edit::Value::String(s)) => Some(vec![s.value().clone()]),
        Item::Value(toml_edit::Value::Array(a)) => {
            a.iter().map(|v| v.as_str().map(str::to_string)).collect()
        }
        _ => None,
    }
}

impl InputSection {
    pub(crate) fn from_table(t: &Table, ctx: &Ctx<'_>) -> Result<Self, ConfigFileError> {
        let mut s = Self::default();
        let table_line = line_of(ctx.text, t.span());
        for (key, item) in t.iter() {
            let k = key.replace('_', "-");
            let line = line_of(ctx.text, t.key(key).and_then(toml_edit::Key::span));
            if !KEYS.contains(&k.as_str()) {
                return Err(ConfigFileError::UnknownKey {
                    path: ctx.path.to_path_buf(),
                    line,
                    key: format!("input.{key}"),
                    hint: nearest(&k, KEYS.iter().copied()),
                });
            }
            let bad = |m: String| ctx.bad(&format!("input.{key}"), line, m);
            let Some(values) = strings(item) else {
                return Err(bad(
                    "expected a string (or, for paths and exclude, a list of strings)".into(),
                ));
            };
            let one = || -> Result<&str, ConfigFileError> {
                match values.as_slice() {
                    [v] => Ok(v.as_str()),
                    _ => Err(bad("expected one string, not a list".into())),
                }
            };
            let globs = |vs: &[String]| {
                vs.iter()
                    .map(|g| {
                        glob::Pattern::new(g).map_err(|e| bad(format!("{g:?} is not a glob: {e}")))
                    })
                    .collect::<Result<Vec<_>, _>>()
            };
            let regex = |r: &str| regex::Regex::new(r).map_err(|e| bad(e.to_string()));
            match k.as_str() {
                "name" => s.name = one()?.to_string(),
                "paths" => s.paths = globs(&values)?,
                "exclude" => s.exclude = globs(&values)?,
                "format" => s.format = Some(one()?.parse().map_err(|e| bad(format!("{e}")))?),
                "multiline-start" => s.multiline_start = Some(regex(one()?)?),
                "parse" => s.parse = Some(one()?.parse().map_err(|e| bad(format!("{e}")))?),
                "timezone" => s.timezone = Some(one()?.parse().map_err(|e| bad(format!("{e}")))?),
                "timestamp-format" => {
                    s.timestamp_format = Some(one()?.parse().map_err(|e| bad(format!("{e}")))?);
                }
                "severity-regex" => {
                    let re = regex(one()?)?;
                    if re.captures_len() < 2 {
                        return Err(bad(
                            "has no group: mark the level word, e.g. (?P<level>\\w+)".into(),
                        ));
                    }
                    s.severity_regex = Some(re);
                }
                _ => s.log_level = Some(one()?.parse().map_err(|e| bad(format!("{e}")))?),
            }
        }
        if s.paths.is_empty() {
            return Err(ctx.bad(
                "input",
                table_line,
                "an [[input]] needs paths = [\"GLOB\", ...]",
            ));
        }
        if s.name.is_empty() {
            s.name = s.paths[0].as_str().to_string();
        }
        Ok(s)
    }

    /// The decode settings of this input's files: `base` (the command line's) with this
    /// section's own settings on top.
    pub fn decode(&self, base: &DecodeConfig) -> DecodeConfig {
        let sem = &base.semantics;
        DecodeConfig {
            format: self.format.unwrap_or(base.format),
            multiline_start: self
                .multiline_start
                .clone()
                .or_else(|| base.multiline_start.clone()),
            level: self.log_level.unwrap_or(base.level),
            max_record_bytes: base.max_record_bytes,
            semantics: Arc::new(SemanticsConfig {
                parse: self.parse.unwrap_or(sem.parse),
                timezone: self.timezone.unwrap_or(sem.timezone),
                timestamp_format: self
                    .timestamp_format
                    .clone()
                    .or_else(|| sem.timestamp_format.clone()),
                severity_regex: self
                    .severity_regex
                    .clone()
                    .or_else(|| sem.severity_regex.clone()),
            }),
            per_input: Vec::new(),
        }
    }
}
