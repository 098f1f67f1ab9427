//! Specification templates: `{{ name }}` and `{{ name | default('x', true) }}`.
//!
//! Rendering is textual and happens before YAML parsing, as in Snowflake: a placeholder may
//! stand for part of a scalar (`image: repo/app:{{ tag }}`) or for a whole list or map
//! (`args: {{ ARGS }}`). Values follow `USING (name=>value)`: alphanumeric text, or JSON.
//! A JSON string is inserted as its content (unquoted, as Snowflake's own expansion shows);
//! JSON lists, maps, numbers and booleans are inserted as written, which YAML reads as flow
//! collections and scalars.

use std::collections::BTreeMap;

use crate::yaml::Mark;

#[cfg(test)]
mod tests;

/// A template problem, with its position in the template when there is one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// `name=value` without `=` or with a bad name.
    #[error("cannot read template value `{pair}`: {reason}")]
    BadPair {
        /// The argument as given.
        pair: String,
        /// What is wrong.
        reason: String,
    },
    /// A value that is neither alphanumeric nor JSON.
    #[error(
        "value of `{name}` is neither alphanumeric nor valid JSON: `{value}`; pass text as a JSON string, e.g. {name}='\"{value}\"'"
    )]
    BadValue {
        /// Variable name.
        name: String,
        /// The raw value.
        value: String,
    },
    /// `{{` without `}}`, or an expression that is not `name` or `name | default(...)`.
    #[error("template syntax error at {at}: {message}")]
    Syntax {
        /// Where the placeholder starts.
        at: Mark,
        /// What is wrong.
        message: String,
    },
    /// A variable with no value and no default.
    #[error(
        "template variable `{name}` at {at} has no value and no default; pass `--using {name}=<value>` or write `{{{{ {name} | default('...') }}}}`"
    )]
    Undefined {
        /// Variable name.
        name: String,
        /// Where the placeholder starts.
        at: Mark,
    },
}

impl TemplateError {
    /// The position in the template, if the error has one.
    pub fn mark(&self) -> Option<Mark> {
        match self {
            TemplateError::Syntax { at, .. } | TemplateError::Undefined { at, .. } => Some(*at),
            _ => None,
        }
    }
}

/// Values for template variables, already converted to the text they render as.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Values(BTreeMap<String, String>);

impl Values {
    /// Parse `name=value` arguments (the CLI's `--using`).
    ///
    /// # Errors
    /// [`TemplateError::BadPair`] or [`TemplateError::BadValue`] for the first bad argument.
    pub fn from_pairs<S: AsRef<str>>(pairs: &[S]) -> Result<Self, TemplateError> {
        let mut out = BTreeMap::new();
        for p in pairs {
            let p = p.as_ref();
            let Some((name, value)) = p.split_once('=') else {
                return Err(TemplateError::BadPair {
                    pair: p.to_string(),
                    reason: "expected name=value".into(),
                });
            };
            // Accept `name=>value` too, as written in SQL `USING (name=>value)`.
            let value = value.strip_prefix('>').unwrap_or(value);
            let name = name.trim();
            if !is_identifier(name) {
                return Err(TemplateError::BadPair {
                    pair: p.to_string(),
                    reason: format!(
                        "`{name}` is not a valid variable name (letters, digits, `_`, `$`; not starting with a digit)"
                    ),
                });
            }
            out.insert(name.to_string(), render_value(name, value)?);
        }
        Ok(Self(out))
    }

    /// Set one value from already-rendered text.
    pub fn insert(&mut self, name: &str, rendered: &str) {
        self.0.insert(name.to_string(), rendered.to_string());
    }

    /// The rendered text of a variable.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Variable names with values.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

fn is_identifier(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// Convert a raw `USING` value to the text it renders as.
///
/// # Errors
/// [`TemplateError::BadValue`] if it is neither alphanumeric nor JSON.
pub fn render_value(name: &str, raw: &str) -> Result<String, TemplateError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    match serde_json::from_str::<serde_json::Value>(trimmed) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        Ok(_) => Ok(trimmed.to_string()),
        Err(_)
            if trimmed
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_') =>
        {
            Ok(trimmed.to_string())
        }
        Err(_) => Err(TemplateError::BadValue {
            name: name.to_string(),
            value: raw.to_string(),
        }),
    }
}

/// One parsed placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Placeholder {
    name: String,
    default: Option<String>,
    default_if_blank: bool,
}

/// A rendered template and the way back from its positions to the template's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The rendered text.
    pub text: String,
    /// `(rendered_offset, template_offset, rendered_len, template_len)` per substitution.
    subs: Vec<(usize, usize, usize, usize)>,
    /// Template line starts, for converting offsets back to line:column.
    template: String,
    /// Variables given values that the template never uses.
    pub unused: Vec<String>,
    /// Whether the text contained any placeholder.
    pub templated: bool,
}

impl Rendered {
    /// Map a 1-based line:column of the rendered text to the template.
    pub fn to_template(&self, line: usize, column: usize) -> (usize, usize) {
        if self.subs.is_empty() {
            return (line, column);
        }
        let off = offset_of(&self.text, line, column);
        let mut shift: isize = 0;
        let mut src = None;
        for &(r, t, rl, tl) in &self.subs {
            if off < r {
                break;
            }
            if off < r + rl {
                src = Some(t);
                break;
            }
            shift += tl as isize - rl as isize;
        }
        let src = src.unwrap_or_else(|| off.saturating_add_signed(shift));
        line_col(&self.template, src)
    }
}

/// Byte offset of a 1-based line:column (characters) in `text`.
fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let mut start = 0;
    for _ in 1..line {
        match text[start..].find('\n') {
            Some(i) => start += i + 1,
            None => return text.len(),
        }
    }
    text[start..]
        .char_indices()
        .nth(column.saturating_sub(1))
        .map_or(text.len(), |(i, _)| start + i)
}

/// 1-based line:column (characters) of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn mark_at(text: &str, offset: usize) -> Mark {
    let (line, column) = line_col(text, offset);
    Mark {
        offset,
        line,
        column,
    }
}

/// Render `template` with `values`.
///
/// # Errors
/// Every syntax error and undefined variable, in order of position.
pub fn render(template: &str, values: &Values) -> Result<Rendered, Vec<TemplateError>> {
    let mut out = String::with_capacity(template.len());
    let mut subs = Vec::new();
    let mut errors = Vec::new();
    let mut used: Vec<&str> = Vec::new();
    let mut rest = 0;
    while let Some(i) = template[rest..].find("{{") {
        let start = rest + i;
        out.push_str(&template[rest..start]);
        let Some(j) = template[start + 2..].find("}}") else {
            errors.push(TemplateError::Syntax {
                at: mark_at(template, start),
                message: "`{{` is never closed by `}}`".into(),
            });
            rest = template.len();
            break;
        };
        let end = start + 2 + j + 2;
        let expr = &template[start + 2..end - 2];
        match parse_placeholder(expr) {
            Err(message) => errors.push(TemplateError::Syntax {
                at: mark_at(template, start),
                message,
            }),
            Ok(p) => {
                let given = values.get(&p.name);
                if given.is_some() {
                    used.push(
                        values
                            .0
                            .get_key_value(&p.name)
                            .map_or("", |(k, _)| k.as_str()),
                    );
                }
                let text = match (given, &p.default) {
                    (Some(v), Some(d)) if v.is_empty() && p.default_if_blank => Some(d.as_str()),
                    (Some(v), _) => Some(v),
                    (None, Some(d)) => Some(d.as_str()),
                    (None, None) => None,
                };
                match text {
                    Some(t) => {
                        subs.push((out.len(), start, t.len(), end - start));
                        out.push_str(t);
                    }
                    None => errors.push(TemplateError::Undefined {
                        name: p.name,
                        at: mark_at(template, start),
                    }),
                }
            }
        }
        rest = end;
    }
    out.push_str(&template[rest.min(template.len())..]);
    if !errors.is_empty() {
        return Err(errors);
    }
    let templated = !subs.is_empty();
    let unused = values
        .names()
        .filter(|n| !used.contains(n))
        .map(str::to_string)
        .collect();
    Ok(Rendered {
        text: out,
        subs,
        template: template.to_string(),
        unused,
        templated,
    })
}

/// Parse `name` or `name | default(ARG[, BOOL])` (the text between the braces).
fn parse_placeholder(expr: &str) -> Result<Placeholder, String> {
    let (name, filter) = match expr.split_once('|') {
        Some((n, f)) => (n.trim(), Some(f.trim())),
        None => (expr.trim(), None),
    };
    if !is_identifier(name) {
        return Err(format!("`{}` is not a variable name", name));
    }
    let mut p = Placeholder {
        name: name.to_string(),
        default: None,
        default_if_blank: false,
    };
    let Some(filter) = filter else { return Ok(p) };
    let args = filter
        .strip_prefix("default")
        .map(str::trim_start)
        .and_then(|s| s.strip_prefix('('))
        .and_then(|s| s.trim_end().strip_suffix(')'))
        .ok_or_else(|| format!("unsupported filter `{filter}`; only `default('value')` or `default('value', true)` is supported"))?;
    let args = args.trim();
    let (value, rest) = if let Some(q) = args.chars().next().filter(|c| *c == '\'' || *c == '"') {
        let close = args[1..]
            .find(q)
            .ok_or_else(|| format!("default value starting with {q} is never closed"))?;
        (args[1..1 + close].to_string(), args[close + 2..].trim())
    } else {
        let end = args.find(',').unwrap_or(args.len());
        let v = args[..end].trim();
        if v.is_empty()
            || !v
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        {
            return Err(format!(
                "default value `{v}` must be quoted, e.g. default('{v}')"
            ));
        }
        (v.to_string(), args[end..].trim())
    };
    p.default = Some(value);
    if let Some(flag) = rest.strip_prefix(',') {
        p.default_if_blank = match flag.trim().to_ascii_lowercase().as_str() {
            "true" => true,
            "false" => false,
            other => {
                return Err(format!(
                    "second argument of default must be true or false, not `{other}`"
                ));
            }
        };
    } else if !rest.is_empty() {
        return Err(format!("unexpected `{rest}` after the default value"));
    }
    Ok(p)
}

/// Replace each placeholder by `x` characters of the same length, so a template can be
/// parsed as YAML with every position unchanged (used by `inject`).
pub fn mask(template: &str) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = 0;
    while let Some(i) = template[rest..].find("{{") {
        let start = rest + i;
        let Some(j) = template[start + 2..].find("}}") else {
            break;
        };
        let end = start + 2 + j + 2;
        out.push_str(&template[rest..start]);
        // Same number of characters, so line:column positions stay valid; plain ASCII so
        // the byte offsets of everything after the placeholder shift consistently.
        let n = template[start..end].chars().count();
        let pad = template[start..end].len() - n;
        out.extend(std::iter::repeat_n('x', n + pad));
        rest = end;
    }
    out.push_str(&template[rest..]);
    out
}
