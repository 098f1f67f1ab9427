//! The dashboard's JSON API: each endpoint is one SQL query over the views, built here from
//! validated parameters (text values only ever become escaped SQL string literals).

use std::collections::HashMap;

/// Query-string parameters, percent-decoded.
pub type Params = HashMap<String, String>;

/// Parses `a=1&b=x%20y` (`+` is a space).
pub fn parse_query(q: Option<&str>) -> Params {
    let mut out = Params::new();
    for pair in q.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.insert(decode(k), decode(v));
    }
    out
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(b[i + 1]), hex(b[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A SQL string literal.
pub fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A bad parameter, for a 400 answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadParam(pub String);

/// `from`/`to` as a SQL timestamp: `2026-12-01T07:00:00`, `2026-12-01 07:00`, a trailing `Z`
/// or fractional seconds; nothing else gets through.
fn time_param(p: &Params, key: &str) -> Result<Option<String>, BadParam> {
    let Some(v) = p.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let ok = v.len() <= 35
        && v.len() >= 10
        && v.bytes()
            .all(|c| c.is_ascii_digit() || b"-:T .Z".contains(&c))
        && v.as_bytes()[4] == b'-';
    if !ok {
        return Err(BadParam(format!(
            "{key}: expected a UTC time like 2026-12-01T07:00:00, not {v:?}"
        )));
    }
    let v = v.trim_end_matches('Z').replace('T', " ");
    Ok(Some(format!("CAST({} AS TIMESTAMP)", lit(&v))))
}

/// The `ts` conditions of `from` (inclusive) and `to` (exclusive).
pub fn time_filter(p: &Params) -> Result<Vec<String>, BadParam> {
    let mut w = Vec::new();
    if let Some(f) = time_param(p, "from")? {
        w.push(format!("ts >= {f}"));
    }
    if let Some(t) = time_param(p, "to")? {
        w.push(format!("ts < {t}"));
    }
    Ok(w)
}

fn where_clause(conds: &[String]) -> String {
    if conds.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conds.join(" AND "))
    }
}

/// Bucket width in seconds: `bucket=60|300|900|3600|86400`, default 3600.
fn bucket(p: &Params) -> Result<u32, BadParam> {
    match p.get("bucket").map(String::as_str) {
        None | Some("") => Ok(3600),
        Some(b) => match b.parse::<u32>() {
            Ok(s @ (60 | 300 | 900 | 3600 | 86400)) => Ok(s),
            _ => Err(BadParam(format!(
                "bucket: one of 60, 300, 900, 3600, 86400 seconds, not {b:?}"
            ))),
        },
    }
}

/// Services and containers seen: first and last row, log lines, errors (ERROR and FATAL),
/// metric points.
pub fn summary_sql(p: &Params) -> Result<String, BadParam> {
    let w = where_clause(&time_filter(p)?);
    Ok(format!(
        "SELECT service, container, min(ts) AS first_seen, max(ts) AS last_seen, \
         sum(lines) AS log_lines, sum(errors) AS errors, sum(points) AS metric_points FROM (\
         SELECT service, container, ts, 1 AS lines, \
         CASE WHEN severity_number >= 17 THEN 1 ELSE 0 END AS errors, 0 AS points FROM logs{w} \
         UNION ALL SELECT service, container, ts, 0, 0, 1 FROM metrics{w}) AS seen \
         GROUP BY service, container ORDER BY service, container"
    ))
}

fn bucket_expr(secs: u32) -> String {
    format!("date_bin(INTERVAL '{secs} seconds', ts, TIMESTAMP '1970-01-01 00:00:00')")
}

/// Log lines per bucket and severity.
pub fn volume_sql(p: &Params) -> Result<String, BadParam> {
    let b = bucket_expr(bucket(p)?);
    let w = where_clause(&time_filter(p)?);
    Ok(format!(
        "SELECT {b} AS t, severity, count(*) AS n FROM logs{w} GROUP BY {b}, severity \
         ORDER BY t, severity"
    ))
}

/// Lines, errors (ERROR and FATAL) and their ratio per bucket.
pub fn errors_sql(p: &Params) -> Result<String, BadParam> {
    let b = bucket_expr(bucket(p)?);
    let w = where_clause(&time_filter(p)?);
    Ok(format!(
        "SELECT t, count(*) AS lines, sum(e) AS errors, CAST(sum(e) AS DOUBLE) / count(*) AS rate \
         FROM (SELECT {b} AS t, CASE WHEN severity_number >= 17 THEN 1 ELSE 0 END AS e \
         FROM logs{w}) AS l GROUP BY t ORDER BY t"
    ))
}

/// The latest value of every metric per service, container and attributes (CPU, memory,
/// limits, restarts, exit reasons, network, volumes: the page sorts them into panels).
pub fn latest_sql(p: &Params) -> Result<String, BadParam> {
    let w = where_clause(&time_filter(p)?);
    Ok(format!(
        "SELECT service, container, name, unit, attributes, value, ts FROM (\
         SELECT service, container, name, unit, attributes, value, ts, row_number() OVER (\
         PARTITION BY service, container, name, attributes ORDER BY ts DESC) AS rn \
         FROM metrics{w}) AS m WHERE rn = 1 ORDER BY service, container, name, attributes"
    ))
}

/// Most log lines a search page holds.
pub const MAX_PAGE: usize = 500;

/// A log search: filters `service`, `container`, `stream`, `severity` (that level and
/// above), `from`, `to`, `q` (text in the line, any case); newest first; `page` from 0,
/// `limit` lines (20). One line more than `limit` is fetched, to say whether a next page
/// exists.
pub fn logs_sql(p: &Params) -> Result<(String, usize), BadParam> {
    let mut w = time_filter(p)?;
    for key in ["service", "container", "stream"] {
        if let Some(v) = p.get(key).filter(|v| !v.is_empty()) {
            w.push(format!("{key} = {}", lit(v)));
        }
    }
    if let Some(s) = p.get("severity").filter(|v| !v.is_empty()) {
        let n = match s.to_ascii_uppercase().as_str() {
            "TRACE" => 1,
            "DEBUG" => 5,
            "INFO" => 9,
            "WARN" => 13,
            "ERROR" => 17,
            "FATAL" => 21,
            _ => {
                return Err(BadParam(format!(
                    "severity: TRACE, DEBUG, INFO, WARN, ERROR or FATAL, not {s:?}"
                )));
            }
        };
        w.push(format!("severity_number >= {n}"));
    }
    if let Some(q) = p.get("q").filter(|v| !v.is_empty()) {
        w.push(format!("strpos(lower(message), lower({})) > 0", lit(q)));
    }
    let num = |key: &str, default: usize| -> Result<usize, BadParam> {
        match p.get(key).filter(|v| !v.is_empty()) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| BadParam(format!("{key}: a whole number, not {v:?}"))),
        }
    };
    let limit = num("limit", 20)?.clamp(1, MAX_PAGE);
    let page = num("page", 0)?;
    let offset = page.saturating_mul(limit);
    Ok((
        format!(
            "SELECT ts, severity, service, container, stream, file, message FROM logs{} \
             ORDER BY ts DESC, message LIMIT {} OFFSET {offset}",
            where_clause(&w),
            limit + 1
        ),
        limit,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(q: &str) -> Params {
        parse_query(Some(q))
    }

    #[test]
    fn query_strings_are_decoded() {
        let p = params("q=a%20b+c&container=api&x");
        assert_eq!(p["q"], "a b c");
        assert_eq!(p["container"], "api");
        assert_eq!(p["x"], "");
        assert_eq!(params("q=100%")["q"], "100%");
        assert_eq!(params("q=%zz")["q"], "%zz");
        assert_eq!(params("q=%C3%A9%")["q"], "é%");
        assert_eq!(params("q=é%4")["q"], "é%4");
    }

    #[test]
    fn text_becomes_a_literal_and_times_are_checked() {
        let (sql, limit) = logs_sql(&params(
            "container=a'b&q=x%27%3B%20DROP&from=2026-12-01T07:00:00Z",
        ))
        .unwrap();
        assert_eq!(limit, 20);
        assert!(sql.contains("container = 'a''b'"), "{sql}");
        assert!(sql.contains("lower('x''; DROP')"), "{sql}");
        assert!(
            sql.contains("ts >= CAST('2026-12-01 07:00:00' AS TIMESTAMP)"),
            "{sql}"
        );
        assert!(logs_sql(&params("from=2026-12-01';--")).is_err());
        assert!(logs_sql(&params("severity=LOUD")).is_err());
        assert!(volume_sql(&params("bucket=7")).is_err());
        let (sql, limit) = logs_sql(&params("limit=100000&page=2")).unwrap();
        assert_eq!(limit, MAX_PAGE);
        assert!(sql.ends_with(&format!("LIMIT {} OFFSET {}", MAX_PAGE + 1, 2 * MAX_PAGE)));
    }
}
