//! When to try a request again, and how long to wait first.

use std::time::Duration;

/// What an answer (or its absence) means for the batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 2xx: the collector has the records (some may be refused by partial success).
    Accepted,
    /// 429, 502, 503, 504, or no answer: try again, after at least `after` if the server
    /// said so (`Retry-After`).
    Retry {
        /// The server's `Retry-After`, if any.
        after: Option<Duration>,
        /// Why, for the log.
        why: String,
    },
    /// Any other status: the collector will never take this batch.
    Refused {
        /// The HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
}

/// Longest `Retry-After` honoured: a server asking for more is asked again after this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(300);

/// Classifies an HTTP status per the OTLP/HTTP specification: 429, 502, 503 and 504 are
/// retryable, every other non-2xx status is permanent.
pub fn classify(status: u16, retry_after: Option<&str>, body: &[u8]) -> Outcome {
    match status {
        200..=299 => Outcome::Accepted,
        429 | 502 | 503 | 504 => Outcome::Retry {
            after: retry_after.and_then(parse_retry_after),
            why: format!("HTTP {status}: {}", server_message(body)),
        },
        _ => Outcome::Refused {
            status,
            message: server_message(body),
        },
    }
}

/// `Retry-After` as seconds (the form collectors send) or as an HTTP date (RFC 9110: IMF-fixdate,
/// and the obsolete RFC 850 and asctime forms), at most [`MAX_RETRY_AFTER`]. A date already
/// past means no wait; anything else unreadable means the usual backoff.
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    parse_retry_after_at(v, std::time::SystemTime::now())
}

/// [`parse_retry_after`] with the clock given.
pub fn parse_retry_after_at(v: &str, now: std::time::SystemTime) -> Option<Duration> {
    let v = v.trim();
    let wait = match v.parse::<u64>() {
        Ok(s) => Duration::from_secs(s),
        Err(_) => {
            let at = httpdate::parse_http_date(v).ok()?;
            at.duration_since(now).unwrap_or(Duration::ZERO)
        }
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// The wait before try number `attempt` (1 = the first retry): `min` doubled per attempt up
/// to `max`, then between half and all of that (jitter, so agents that failed together do
/// not come back together). `rand` is any random number.
pub fn backoff(attempt: u32, min: Duration, max: Duration, rand: u64) -> Duration {
    let exp = min
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
        .min(max);
    let half = exp / 2;
    let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX).max(1);
    half + Duration::from_nanos(rand % nanos)
}

/// The message in an error answer: a `google.rpc.Status` (OTLP's error body) when it
/// decodes as one, else the body as text. At most 1 KiB.
pub fn server_message(body: &[u8]) -> String {
    let text = rpc_status_message(body)
        .unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_string());
    let mut t: String = text.chars().take(1024).collect();
    if t.is_empty() {
        t = "(no message)".into();
    }
    t
}

/// Field 2 (`message`) of a protobuf `google.rpc.Status`, if `b` is one with printable text.
fn rpc_status_message(b: &[u8]) -> Option<String> {
    let mut i = 0;
    let mut message = None;
    while i < b.len() {
        let (key, n) = varint(&b[i..])?;
        i += n;
        match key & 7 {
            0 => i += varint(&b[i..])?.1,
            2 => {
                let (len, n) = varint(&b[i..])?;
                i += n;
                let end = i.checked_add(usize::try_from(len).ok()?)?;
                let field = b.get(i..end)?;
                if key >> 3 == 2 {
                    let s = std::str::from_utf8(field).ok()?;
                    if s.chars().any(char::is_control) {
                        return None;
                    }
                    message = Some(s.to_string());
                }
                i = end;
            }
            _ => return None,
        }
    }
    message.filter(|m| !m.is_empty())
}

fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, &byte) in b.iter().enumerate().take(10) {
        v |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}
