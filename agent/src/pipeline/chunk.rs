//! Lines and metric points on their way to the sink, grouped so the channel carries few,
//! large messages.

use firn_schemas::JsonText;

/// One log line in a [`LogChunk`].
#[derive(Debug, Clone)]
pub struct LogLine {
    /// End of the line's text in [`LogChunk::text`] (it starts where the previous ends).
    pub end: usize,
    /// TIMESTAMP, ns since the epoch.
    pub timestamp_ns: i64,
    /// RECORD (severity).
    pub record: JsonText,
    /// RECORD_ATTRIBUTES.
    pub attributes: Option<JsonText>,
    /// SCOPE.
    pub scope: Option<JsonText>,
    /// The text is JSON (a structured line's non-string `body`), not a string.
    pub json_value: bool,
}

/// Lines of one source, their texts in one buffer.
#[derive(Debug, Default)]
pub struct LogChunk {
    /// The lines' texts, back to back.
    pub text: String,
    /// The lines.
    pub lines: Vec<LogLine>,
    /// OBSERVED_TIMESTAMP of every line: when the agent read them.
    pub observed_ns: i64,
    /// Where the source stands after these lines: `(source key, position)`. The sink thread
    /// records the latest position of each source in the footer of the file holding them.
    pub position: Option<(String, serde_json::Value)>,
}

impl LogChunk {
    /// Each line's text with its metadata.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &LogLine)> {
        let mut start = 0;
        self.lines.iter().map(move |l| {
            let s = self.text.get(start..l.end).unwrap_or("");
            start = l.end;
            (s, l)
        })
    }
}

/// A metric's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MetricValue {
    /// INT.
    Int(i64),
    /// DOUBLE.
    Double(f64),
}

/// One metric data point.
#[derive(Debug, Clone)]
pub struct MetricPoint {
    /// TIMESTAMP.
    pub timestamp_ns: i64,
    /// START_TIMESTAMP, for sums.
    pub start_ns: Option<i64>,
    /// RECORD, from [`firn_schemas::metric_record`].
    pub record: JsonText,
    /// RECORD_ATTRIBUTES.
    pub attributes: Option<JsonText>,
    /// SCOPE.
    pub scope: Option<JsonText>,
    /// VALUE.
    pub value: MetricValue,
}

/// Gathers lines into chunks of bounded size.
#[derive(Debug)]
pub struct ChunkBuilder {
    chunk: LogChunk,
    max_text: usize,
    max_lines: usize,
}

impl Default for ChunkBuilder {
    fn default() -> Self {
        Self::new(128 << 10, 2048)
    }
}

impl ChunkBuilder {
    /// A builder whose chunks hold about `max_text` bytes or `max_lines` lines.
    pub fn new(max_text: usize, max_lines: usize) -> Self {
        Self {
            chunk: LogChunk::default(),
            max_text,
            max_lines,
        }
    }

    /// Adds a line whose VALUE is `text` as a string.
    pub fn push(
        &mut self,
        text: &str,
        timestamp_ns: i64,
        record: &JsonText,
        attributes: Option<&JsonText>,
        scope: Option<&JsonText>,
    ) {
        self.push_value(text, false, timestamp_ns, record, attributes, scope);
    }

    /// Adds a line; `json_value` says `text` is JSON to store as it is.
    pub fn push_value(
        &mut self,
        text: &str,
        json_value: bool,
        timestamp_ns: i64,
        record: &JsonText,
        attributes: Option<&JsonText>,
        scope: Option<&JsonText>,
    ) {
        self.chunk.text.push_str(text);
        self.chunk.lines.push(LogLine {
            end: self.chunk.text.len(),
            timestamp_ns,
            record: record.clone(),
            attributes: attributes.cloned(),
            scope: scope.cloned(),
            json_value,
        });
    }

    /// Lines held.
    pub fn len(&self) -> usize {
        self.chunk.lines.len()
    }

    /// Whether no line is held.
    pub fn is_empty(&self) -> bool {
        self.chunk.lines.is_empty()
    }

    /// Whether the chunk should be sent now.
    pub fn is_full(&self) -> bool {
        self.chunk.text.len() >= self.max_text || self.chunk.lines.len() >= self.max_lines
    }

    /// The chunk so far, stamped with the observation time and the source position.
    pub fn take(
        &mut self,
        observed_ns: i64,
        position: Option<(String, serde_json::Value)>,
    ) -> LogChunk {
        let mut c = std::mem::take(&mut self.chunk);
        c.observed_ns = observed_ns;
        c.position = position;
        c
    }
}
