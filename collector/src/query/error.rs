//! What can go wrong in a query, and SQL errors shown at their line and column.

use std::fmt;
use std::path::PathBuf;

use datafusion::error::DataFusionError;

/// A position in the SQL text, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Line, from 1.
    pub line: u64,
    /// Column (characters), from 1.
    pub column: u64,
    /// Characters to underline (at least 1).
    pub len: u64,
}

/// Errors of `firn-collector query` and of the dashboard's queries.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The SQL does not parse, names something that does not exist, has a type error, or
    /// failed while running.
    #[error("{}", render_sql(.message, .position.as_ref(), .sql))]
    Sql {
        /// DataFusion's message.
        message: String,
        /// Where in the SQL, when known.
        position: Option<Position>,
        /// The SQL, to show the line.
        sql: String,
    },
    /// The data folder cannot be used.
    #[error("cannot read {}: {message}", .path.display())]
    Data {
        /// The folder.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The engine failed outside any user SQL (set-up).
    #[error("query engine: {0}")]
    Engine(String),
    /// Writing the result failed (a closed pipe is not an error: see `output`).
    #[error("cannot write the result: {0}")]
    Output(String),
}

impl QueryError {
    /// An error of the engine's own set-up.
    pub(crate) fn engine(e: DataFusionError) -> Self {
        Self::Engine(e.strip_backtrace())
    }

    /// An error of the user's `sql`, with its position when DataFusion knows it.
    pub(crate) fn sql(e: DataFusionError, sql: &str) -> Self {
        let position = e
            .diagnostic()
            .and_then(|d| d.span)
            .filter(|s| s.start.line > 0)
            .map(|s| Position {
                line: s.start.line,
                column: s.start.column,
                len: if s.end.line == s.start.line && s.end.column > s.start.column {
                    s.end.column - s.start.column
                } else {
                    1
                },
            });
        let mut message = match e.diagnostic() {
            Some(d) if !d.message.is_empty() => {
                let root = e.find_root().strip_backtrace();
                if root.contains(&d.message) {
                    root
                } else {
                    format!("{}: {root}", d.message)
                }
            }
            _ => match e.find_root() {
                // The parser's own words, without DataFusion's wrapping of them.
                DataFusionError::SQL(pe, _) => pe
                    .to_string()
                    .trim_start_matches("sql parser error: ")
                    .to_string(),
                root => root.strip_backtrace(),
            },
        };
        if message.contains("DDL not supported")
            || message.contains("DML not supported")
            || message.contains("Statement not supported")
        {
            message = format!("only queries run here (SELECT, WITH, EXPLAIN); {message}");
        }
        let position = position.or_else(|| parser_position(&message));
        // The position is shown under the SQL; DataFusion's own "at Line: .." is noise then.
        if position.is_some()
            && let Some(i) = message.find(" at Line: ")
        {
            message.truncate(i);
        }
        Self::Sql {
            message,
            position,
            sql: sql.to_string(),
        }
    }

    /// Where in the SQL, for the web API.
    pub fn position(&self) -> Option<Position> {
        match self {
            Self::Sql { position, .. } => *position,
            _ => None,
        }
    }
}

/// The "at Line: 1, Column: 8" sqlparser puts in its messages.
fn parser_position(message: &str) -> Option<Position> {
    let rest = &message[message.rfind("Line: ")? + 6..];
    let (line, rest) = rest.split_once(", Column: ")?;
    let column: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some(Position {
        line: line.trim().parse().ok()?,
        column: column.parse().ok()?,
        len: 1,
    })
}

fn render_sql(message: &str, position: Option<&Position>, sql: &str) -> String {
    let Some(p) = position else {
        return format!("SQL: {message}");
    };
    let mut out = format!("SQL: {message}\n  at line {}, column {}", p.line, p.column);
    let Some(line) = sql.lines().nth(p.line.saturating_sub(1) as usize) else {
        return out;
    };
    let lead = " ".repeat(p.column.saturating_sub(1) as usize);
    let marks = "^".repeat(p.len.clamp(1, 200) as usize);
    let _ = fmt::Write::write_fmt(&mut out, format_args!("\n  | {line}\n  | {lead}{marks}"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parser_positions_are_found_in_the_message() {
        let p = parser_position(
            "sql parser error: Expected: end of statement, found: FORM at Line: 2, Column: 10",
        );
        assert_eq!(
            p,
            Some(Position {
                line: 2,
                column: 10,
                len: 1
            })
        );
        assert_eq!(parser_position("no position here"), None);
    }

    #[test]
    fn the_line_is_shown_with_a_mark_under_the_column() {
        let s = render_sql(
            "column not found",
            Some(&Position {
                line: 2,
                column: 8,
                len: 4,
            }),
            "SELECT 1\nSELECT nope FROM logs",
        );
        assert_eq!(
            s,
            "SQL: column not found\n  at line 2, column 8\n  | SELECT nope FROM logs\n  |        ^^^^"
        );
    }
}
