//! Findings: one problem in a spec, with where it is, what is wrong and how to fix it.

use std::fmt;

use serde::Serialize;

/// How bad a finding is. Only errors make a spec invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Snowflake would reject the spec, or it cannot work as written.
    Error,
    /// Accepted, but probably not what was meant.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One problem found in a specification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// A stable kebab-case identifier of the rule, e.g. `unknown-key`.
    pub code: &'static str,
    /// YAML path of the offending node, e.g. `spec.containers[0].resources.limits.memory`.
    pub path: String,
    /// 1-based line in the user's file.
    pub line: usize,
    /// 1-based column (characters) in the user's file.
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: String,
}

impl Finding {
    /// An error finding.
    pub fn error(
        code: &'static str,
        path: impl Into<String>,
        at: crate::yaml::Mark,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Error, code, path, at, message, help)
    }

    /// A warning finding.
    pub fn warning(
        code: &'static str,
        path: impl Into<String>,
        at: crate::yaml::Mark,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> Self {
        Self::new(Severity::Warning, code, path, at, message, help)
    }

    fn new(
        severity: Severity,
        code: &'static str,
        path: impl Into<String>,
        at: crate::yaml::Mark,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> Self {
        Self {
            severity,
            code,
            path: path.into(),
            line: at.line,
            column: at.column,
            message: message.into(),
            help: help.into(),
        }
    }

    /// Render as `FILE:LINE:COL: error[code] path: message` plus an indented help line.
    pub fn to_text(&self, file: &str) -> String {
        let path = if self.path.is_empty() {
            "(document)"
        } else {
            &self.path
        };
        let mut s = format!(
            "{file}:{}:{}: {}[{}] {path}: {}",
            self.line, self.column, self.severity, self.code, self.message
        );
        if !self.help.is_empty() {
            s.push_str("\n  help: ");
            s.push_str(&self.help);
        }
        s
    }
}

/// Sort findings by position, then severity and code, so output is stable.
pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        (a.line, a.column, a.severity, a.code, &a.path)
            .cmp(&(b.line, b.column, b.severity, b.code, &b.path))
    });
}

/// True when any finding is an error.
pub fn has_errors(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.severity == Severity::Error)
}
