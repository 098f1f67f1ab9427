//! `check`: render, parse, decode and validate a specification into findings.
//!
//! Two stages as in the house style: [`check`] turns text into findings and, when there are
//! no errors, a [`ValidSpec`] — the only form the agent settings accept.

mod decode;
pub mod rules;
mod suggest;

#[cfg(test)]
mod tests;

use crate::finding::{self, Finding};
use crate::model::ServiceSpec;
use crate::template::{self, TemplateError, Values};
use crate::yaml::{self, Mark};

/// What `check` needs besides the text.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// Template values (`--using name=value`).
    pub values: Values,
    /// Check as a job service (`EXECUTE JOB SERVICE`): every endpoint must be TCP.
    pub job: bool,
}

/// A spec that decoded without any error finding.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidSpec(ServiceSpec);

impl ValidSpec {
    /// The typed spec. Positions refer to the rendered text.
    pub fn spec(&self) -> &ServiceSpec {
        &self.0
    }
}

/// The outcome of [`check`].
#[derive(Debug, Clone)]
pub struct Report {
    /// Every finding, sorted by position.
    pub findings: Vec<Finding>,
    /// The rendered text, when rendering succeeded.
    pub rendered: Option<String>,
    /// The validated spec, when there is no error finding.
    pub valid: Option<ValidSpec>,
}

impl Report {
    /// True when no finding is an error (warnings are allowed).
    pub fn is_valid(&self) -> bool {
        !finding::has_errors(&self.findings)
    }
}

/// Turn a template error into a finding.
pub fn template_finding(e: &TemplateError) -> Finding {
    let at = e.mark().unwrap_or(Mark {
        offset: 0,
        line: 1,
        column: 1,
    });
    let (code, help) = match e {
        TemplateError::Undefined { name, .. } => (
            "template-undefined",
            format!("pass `--using {name}=<value>` or add `| default('...')`"),
        ),
        TemplateError::Syntax { .. } => (
            "template-syntax",
            "write `{{ name }}` or `{{ name | default('value', true) }}`".to_string(),
        ),
        _ => (
            "template-value",
            "values are alphanumeric or JSON (string, list, map)".to_string(),
        ),
    };
    Finding::error(code, "", at, e.to_string(), help)
}

/// Check `text` (a spec or a spec template).
pub fn check(text: &str, opts: &CheckOptions) -> Report {
    let mut report = Report {
        findings: Vec::new(),
        rendered: None,
        valid: None,
    };
    let rendered = match template::render(text, &opts.values) {
        Ok(r) => r,
        Err(errors) => {
            report.findings = errors.iter().map(template_finding).collect();
            finding::sort(&mut report.findings);
            return report;
        }
    };
    for name in &rendered.unused {
        report.findings.push(Finding::warning(
            "unused-value",
            "",
            Mark {
                offset: 0,
                line: 1,
                column: 1,
            },
            format!("template value `{name}` is not used by the spec"),
            "check the variable's spelling (names are case-sensitive) or drop the value",
        ));
    }
    let mut own = Vec::new();
    let spec = match yaml::parse(&rendered.text) {
        Err(e) => {
            let hint = if rendered.text.contains("\t") {
                "YAML indentation must use spaces, not tabs"
            } else {
                "check the indentation and the `:`/`-` around this position"
            };
            own.push(Finding::error(
                "yaml-syntax",
                "",
                e.mark,
                format!("the file is not valid YAML: {}", e.message),
                hint,
            ));
            None
        }
        Ok(None) => {
            own.push(Finding::error(
                "empty",
                "",
                Mark {
                    offset: 0,
                    line: 1,
                    column: 1,
                },
                "the spec is empty",
                "start with `spec:` and a `containers:` list",
            ));
            None
        }
        Ok(Some(root)) => {
            let mut d = decode::Decoder::new();
            let spec = d.root(&root);
            own.append(&mut d.findings);
            rules::apply(&spec, opts, &d.decoded, &mut own);
            Some(spec)
        }
    };
    for f in &mut own {
        (f.line, f.column) = rendered.to_template(f.line, f.column);
    }
    report.findings.append(&mut own);
    finding::sort(&mut report.findings);
    report.rendered = Some(rendered.text);
    if report.is_valid() {
        report.valid = spec.map(ValidSpec);
    }
    report
}
