//! `--config firn.toml`: every command-line flag, written in a file, plus one `[[input]]`
//! section per input with its own framing, joining, recognition and log level.
//!
//! Keys are the flags' long names (`log-level` or `log_level`), at the top or grouped under
//! `[output]` / `[agent]` / `[capture]` / any table of that kind: the file is turned into
//! command-line arguments by asking the parser (clap) which flags exist, so a flag added
//! later is accepted in the file with no change here. A flag given on the command line (or
//! in its environment variable) wins over the file. An unknown key is refused with its line
//! and the nearest known key.
//!
//! ```toml
//! output = "/stage/events"
//! log-level = "ERROR"
//!
//! [[input]]
//! paths = ["/logs/app/*.log"]
//! multiline-start = '^\d{4}-'
//! timezone = "+01:00"
//! ```

mod sections;
pub mod validate;

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, Command};
use toml_edit::{Item, Value};

pub use sections::InputSection;

/// What a config file cannot be.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    /// The file cannot be read.
    #[error("cannot read --config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not TOML.
    #[error("{path}:{line}: not valid TOML: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The parser's words.
        message: String,
    },
    /// A key that is no setting.
    #[error("{path}:{line}: unknown key {key:?}{hint}")]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The key.
        key: String,
        /// `; did you mean "..."?`, or nothing.
        hint: String,
    },
    /// A value of the wrong kind or that its setting refuses.
    #[error("{path}:{line}: {key}: {message}")]
    BadValue {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The key.
        key: String,
        /// What is wrong and what to write.
        message: String,
    },
}

/// A loaded config file.
#[derive(Debug, Default, Clone)]
pub struct ConfigFile {
    /// `(flag id, arguments)` for every flag the file sets, in file order.
    pub flags: Vec<(String, Vec<OsString>)>,
    /// The app to run (`command = [...]`), put after `--`.
    pub command: Vec<OsString>,
    /// The `[[input]]` sections.
    pub inputs: Vec<InputSection>,
}

/// 1-based line of byte `at` in `text`.
pub(crate) fn line_of(text: &str, at: Option<std::ops::Range<usize>>) -> usize {
    at.map_or(0, |r| {
        text[..r.start.min(text.len())].matches('\n').count() + 1
    })
}

/// The known key nearest to `key`, when it is near enough to be a typo.
pub(crate) fn nearest<'a>(key: &str, known: impl Iterator<Item = &'a str>) -> String {
    let best = known
        .map(|k| (distance(key, k), k))
        .min_by_key(|(d, _)| *d)
        .filter(|(d, k)| *d <= 3.max(k.len() / 4));
    best.map_or_else(String::new, |(_, k)| format!("; did you mean {k:?}?"))
}

/// Levenshtein distance.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Flags the file may not set: they choose the file, or are not settings.
const NOT_IN_FILE: [&str; 3] = ["config", "help", "version"];

/// A value as command-line text.
fn scalar(v: &Value) -> Option<String> {
    Some(match v {
        Value::String(s) => s.value().clone(),
        Value::Integer(i) => i.value().to_string(),
        Value::Float(f) => f.value().to_string(),
        Value::Boolean(b) => b.value().to_string(),
        _ => return None,
    })
}

impl ConfigFile {
    /// Reads `path`; `cmd` is the agent's command line, whose flags the keys must name.
    ///
    /// # Errors
    /// When the file cannot be read, is not TOML, or has an unknown key or a value of the
    /// wrong kind (with its line).
    pub fn load(path: &Path, cmd: &Command) -> Result<Self, ConfigFileError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigFileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, path, cmd)
    }

    /// Like [`load`](Self::load), from the file's text.
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub fn parse(text: &str, path: &Path, cmd: &Command) -> Result<Self, ConfigFileError> {
        let doc = toml_edit::Document::parse(text).map_err(|e| ConfigFileError::Syntax {
            path: path.to_path_buf(),
            line: line_of(text, e.span()),
            message: e.message().to_string(),
        })?;
        let mut out = Self::default();
        let ctx = Ctx { text, path, cmd };
        for (key, item) in doc.iter() {
            let line = line_of(text, doc.key(key).and_then(toml_edit::Key::span));
            match item {
                Item::ArrayOfTables(a) if key == "input" => {
                    for t in a.iter() {
                        out.inputs.push(InputSection::from_table(t, &ctx)?);
                    }
                }
                Item::Table(t) => {
                    for (k, v) in t.iter() {
                        let l = line_of(text, t.key(k).and_then(toml_edit::Key::span));
                        ctx.flag(k, v, l, &mut out)?;
                    }
                }
                _ => ctx.flag(key, item, line, &mut out)?,
            }
        }
        Ok(out)
    }

    /// Arguments for the flags the command line did not give (`cli` are its matches), to
    /// go before the user's own; the file's command goes last when the command line has
    /// none.
    pub fn args_under(&self, cli: &ArgMatches) -> (Vec<OsString>, Vec<OsString>) {
        let given = |id: &str| {
            matches!(
                cli.value_source(id),
                Some(ValueSource::CommandLine | ValueSource::EnvVariable)
            )
        };
        let before = self
            .flags
            .iter()
            .filter(|(id, _)| !given(id))
            .flat_map(|(_, a)| a.iter().cloned())
            .collect();
        let after = if self.command.is_empty() || given("command") {
            Vec::new()
        } else {
            std::iter::once(OsString::from("--"))
                .chain(self.command.iter().cloned())
                .collect()
        };
        (before, after)
    }

    /// The flag ids the file sets.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.flags.iter().map(|(id, _)| id.as_str())
    }
}

/// What every key is checked against.
pub(crate) struct Ctx<'a> {
    pub(crate) text: &'a str,
    pub(crate) path: &'a Path,
    cmd: &'a Command,
}

impl Ctx<'_> {
    pub(crate) fn bad(
        &self,
        key: &str,
        line: usize,
        message: impl Into<String>,
    ) -> ConfigFileError {
        ConfigFileError::BadValue {
            path: self.path.to_path_buf(),
            line,
            key: key.into(),
            message: message.into(),
        }
    }

    fn flag(
        &self,
        key: &str,
        item: &Item,
        line: usize,
        out: &mut ConfigFile,
    ) -> Result<(), ConfigFileError> {
        let long = key.replace('_', "-");
        if long == "command" {
            let Some(a) = item.as_array() else {
                return Err(self.bad(key, line, "use a list: command = [\"python3\", \"app.py\"]"));
            };
            out.command = a.iter().filter_map(scalar).map(OsString::from).collect();
            return Ok(());
        }
        let arg = self
            .cmd
            .get_arguments()
            .find(|a| a.get_long() == Some(long.as_str()))
            .filter(|_| !NOT_IN_FILE.contains(&long.as_str()));
        let Some(arg) = arg else {
            let known = self
                .cmd
                .get_arguments()
                .filter_map(clap::Arg::get_long)
                .filter(|l| !NOT_IN_FILE.contains(l))
                .chain(["input", "command"]);
            return Err(ConfigFileError::UnknownKey {
                path: self.path.to_path_buf(),
                line,
                key: key.into(),
                hint: nearest(&long, known),
            });
        };
        let flag = OsString::from(format!("--{long}"));
        let values: Vec<&Value> = match item {
            Item::Value(Value::Array(a)) => a.iter().collect(),
            Item::Value(v) => vec![v],
            _ => return Err(self.bad(key, line, "expected a value, not a table")),
        };
        let mut args = Vec::new();
        match arg.get_action() {
            ArgAction::SetTrue | ArgAction::SetFalse => match item.as_bool() {
                Some(true) => args.push(flag),
                Some(false) => {}
                None => return Err(self.bad(key, line, "expected true or false")),
            },
            ArgAction::Count => match item.as_integer() {
                Some(n) if (0..=3).contains(&n) => {
                    args.extend(std::iter::repeat_n(flag, usize::try_from(n).unwrap_or(0)));
                }
                _ => return Err(self.bad(key, line, "expected a count, 0 to 3")),
            },
            action => {
                if values.len() > 1 && !matches!(action, ArgAction::Append) {
                    return Err(self.bad(key, line, "expected one value, not a list"));
                }
                for v in values {
                    let Some(s) = scalar(v) else {
                        return Err(self.bad(key, line, "expected a string or a number"));
                    };
                    // The flag's own parser judges the value here, so its error has a line.
                    let alone = [
                        OsString::from("firn-agent"),
                        flag.clone(),
                        OsString::from(&s),
                    ];
                    if let Err(e) = self.cmd.clone().try_get_matches_from(alone)
                        && matches!(
                            e.kind(),
                            clap::error::ErrorKind::InvalidValue
                                | clap::error::ErrorKind::ValueValidation
                        )
                    {
                        let msg = e.render().to_string();
                        let msg = msg
                            .lines()
                            .next()
                            .unwrap_or("")
                            .trim_start_matches("error: ");
                        return Err(self.bad(key, line, msg.to_string()));
                    }
                    args.push(flag.clone());
                    args.push(OsString::from(s));
                }
            }
        }
        out.flags.push((arg.get_id().to_string(), args));
        Ok(())
    }
}

#[cfg(test)]
mod tests;
