//! Request bodies: gzip inflated within a hard limit, then OTLP protobuf or JSON decoded.

use std::io::Read as _;

use bytes::Bytes;
use firn_schemas::otlp::proto::collector::logs::v1::ExportLogsServiceRequest;
use firn_schemas::otlp::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use firn_schemas::otlp::proto::collector::trace::v1::ExportTraceServiceRequest;

/// Which OTLP signal a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// `/v1/logs`.
    Logs,
    /// `/v1/metrics`.
    Metrics,
    /// `/v1/traces`.
    Traces,
}

impl Signal {
    /// Lower-case name, for labels and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logs => "logs",
            Self::Metrics => "metrics",
            Self::Traces => "traces",
        }
    }
}

/// A decoded request of any signal.
#[derive(Debug)]
pub enum Export {
    /// Logs.
    Logs(ExportLogsServiceRequest),
    /// Metrics.
    Metrics(ExportMetricsServiceRequest),
    /// Traces.
    Traces(ExportTraceServiceRequest),
}

/// OTLP's two encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `application/x-protobuf`.
    Protobuf,
    /// `application/json`.
    Json,
}

/// Why a body was refused.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The body inflates past the limit (413).
    #[error(
        "the gzip body inflates to {stated} bytes or more, past the limit of {limit} bytes; send smaller batches"
    )]
    TooLarge {
        /// What it inflates to (at least).
        stated: u64,
        /// The limit.
        limit: u64,
    },
    /// Not gzip, or a corrupt stream (400).
    #[error("cannot inflate the gzip body: {0}")]
    Gzip(String),
    /// Content-Encoding other than gzip or identity (415).
    #[error("Content-Encoding {0:?} is not supported; send gzip or identity")]
    UnsupportedEncoding(String),
    /// Malformed protobuf (400).
    #[error("cannot decode the body as an OTLP {signal} protobuf message: {detail}")]
    Protobuf {
        /// The signal.
        signal: &'static str,
        /// prost's complaint.
        detail: String,
    },
    /// Malformed JSON (400).
    #[error("cannot decode the body as OTLP/JSON {signal}: {detail}")]
    Json {
        /// The signal.
        signal: &'static str,
        /// serde_json's complaint, with line and column.
        detail: String,
    },
}

/// Inflates a gzip body, refusing before inflating when its trailer states a size past
/// `limit`, and stopping at `limit` whatever the trailer says (a crafted trailer can lie).
pub fn gunzip(body: &[u8], limit: u64) -> Result<Vec<u8>, DecodeError> {
    if body.len() < 18 || body[..2] != [0x1f, 0x8b] {
        return Err(DecodeError::Gzip("not a gzip stream".into()));
    }
    let n = body.len();
    let stated = u64::from(u32::from_le_bytes([
        body[n - 4],
        body[n - 3],
        body[n - 2],
        body[n - 1],
    ]));
    if stated > limit {
        return Err(DecodeError::TooLarge { stated, limit });
    }
    let mut out = Vec::with_capacity(usize::try_from(stated).unwrap_or(0));
    let mut dec = flate2::read::MultiGzDecoder::new(body).take(limit + 1);
    dec.read_to_end(&mut out)
        .map_err(|e| DecodeError::Gzip(e.to_string()))?;
    if out.len() as u64 > limit {
        return Err(DecodeError::TooLarge {
            stated: limit + 1,
            limit,
        });
    }
    Ok(out)
}

/// Undoes `Content-Encoding` (none, `identity` or `gzip`).
pub fn inflate(
    body: Bytes,
    content_encoding: Option<&str>,
    limit: u64,
) -> Result<Bytes, DecodeError> {
    match content_encoding.map(str::trim) {
        None | Some("") => Ok(body),
        Some(e) if e.eq_ignore_ascii_case("identity") => Ok(body),
        Some(e) if e.eq_ignore_ascii_case("gzip") => gunzip(&body, limit).map(Bytes::from),
        Some(e) => Err(DecodeError::UnsupportedEncoding(e.to_string())),
    }
}

fn proto<T: prost::Message + Default>(signal: Signal, body: &[u8]) -> Result<T, DecodeError> {
    T::decode(body).map_err(|e| DecodeError::Protobuf {
        signal: signal.as_str(),
        detail: e.to_string(),
    })
}

fn json<T: serde::de::DeserializeOwned>(signal: Signal, body: &[u8]) -> Result<T, DecodeError> {
    serde_json::from_slice(body).map_err(|e| DecodeError::Json {
        signal: signal.as_str(),
        detail: e.to_string(),
    })
}

/// Decodes an (inflated) body.
pub fn decode(signal: Signal, encoding: Encoding, body: &[u8]) -> Result<Export, DecodeError> {
    Ok(match (signal, encoding) {
        (Signal::Logs, Encoding::Protobuf) => Export::Logs(proto(signal, body)?),
        (Signal::Metrics, Encoding::Protobuf) => Export::Metrics(proto(signal, body)?),
        (Signal::Traces, Encoding::Protobuf) => Export::Traces(proto(signal, body)?),
        (Signal::Logs, Encoding::Json) => Export::Logs(json(signal, body)?),
        (Signal::Metrics, Encoding::Json) => Export::Metrics(json(signal, body)?),
        (Signal::Traces, Encoding::Json) => Export::Traces(json(signal, body)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn gz(data: &[u8]) -> Vec<u8> {
        // best(): with DataFusion in the build flate2 runs on zlib-rs, whose fast level packs 10 MiB of
        // zeros into more than 64 KiB; a bomb must be small.
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn a_bomb_is_refused_by_its_stated_size_before_inflating() {
        let bomb = gz(&vec![0u8; 10 << 20]);
        assert!(bomb.len() < 64 << 10);
        match gunzip(&bomb, 1 << 20) {
            Err(DecodeError::TooLarge { stated, .. }) => assert_eq!(stated, 10 << 20),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_lying_trailer_still_stops_at_the_limit() {
        let mut bomb = gz(&vec![0u8; 4 << 20]);
        let n = bomb.len();
        bomb[n - 4..].copy_from_slice(&100u32.to_le_bytes());
        assert!(matches!(
            gunzip(&bomb, 1 << 20),
            Err(DecodeError::TooLarge { .. })
        ));
    }

    #[test]
    fn small_bodies_inflate() {
        assert_eq!(gunzip(&gz(b"hello"), 5).unwrap(), b"hello");
        assert!(matches!(gunzip(b"hello", 5), Err(DecodeError::Gzip(_))));
    }
}
