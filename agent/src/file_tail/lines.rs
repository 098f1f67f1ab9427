//! Splits a byte stream into lines with a hard limit on line length, so that memory stays
//! bounded whatever the input (a 1 GiB line without a newline holds at most `max_bytes`).

use memchr::memchr;

/// What to do with a line longer than the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LongLines {
    /// Keep the first `max_bytes` (cut at a character boundary), mark the row
    /// (`log.record.truncated`) and skip the rest of the line.
    #[default]
    Truncate,
    /// Emit the line as several rows of at most `max_bytes` each.
    Split,
    /// Drop the whole line and count it.
    Drop,
}

/// A `--long-lines` policy that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown long-line policy {0:?}: use truncate, split or drop")]
pub struct UnknownLongLines(pub String);

impl std::str::FromStr for LongLines {
    type Err = UnknownLongLines;
    fn from_str(s: &str) -> Result<Self, UnknownLongLines> {
        match s {
            "truncate" => Ok(Self::Truncate),
            "split" => Ok(Self::Split),
            "drop" => Ok(Self::Drop),
            _ => Err(UnknownLongLines(s.to_string())),
        }
    }
}

/// Where a reader stands in a stream: the offset of the first byte not yet emitted, and
/// whether that byte is inside an over-long line already emitted (or dropped) in part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct LinePos {
    /// Byte offset.
    pub offset: u64,
    /// True while skipping the rest of a truncated or dropped line.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skipping: bool,
}

/// One line cut from the stream, without its `\n` or `\r\n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawLine<'a> {
    /// The bytes; not necessarily UTF-8.
    pub bytes: &'a [u8],
    /// Where the stream stands once this line is delivered.
    pub pos: LinePos,
    /// The line was longer than the limit and this is its first `max_bytes`.
    pub truncated: bool,
    /// The line was longer than the limit and this is one of its parts.
    pub split: bool,
}

impl RawLine<'_> {
    /// The line as text: borrowed when it is valid UTF-8 (almost always; checking is far
    /// cheaper than `from_utf8_lossy`'s chunking), with U+FFFD for invalid bytes otherwise.
    pub fn text(&self) -> std::borrow::Cow<'_, str> {
        match std::str::from_utf8(self.bytes) {
            Ok(t) => std::borrow::Cow::Borrowed(t),
            Err(_) => String::from_utf8_lossy(self.bytes),
        }
    }
}

/// Something other than a line, for the reader's telemetry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// A line over the limit was dropped (policy `drop`), at least this many bytes.
    LongLine(u64),
}

/// Splits bytes into lines. Feed it consecutive chunks of one stream.
#[derive(Debug)]
pub struct LineSplitter {
    max_bytes: usize,
    policy: LongLines,
    /// Bytes of the line in progress (never more than `max_bytes`).
    carry: Vec<u8>,
    /// Offset of the first byte of `carry` (or of the next byte, when it is empty).
    start: u64,
    skipping: bool,
    /// Bytes skipped of the current over-long line (for `Dropped`).
    skipped: u64,
    /// Parts of the current line were emitted (policy `split`): its last part is one too.
    in_split: bool,
}

/// A `\r` before the `\n` belongs to the line ending.
fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The longest prefix of at most `max` bytes that does not end inside a UTF-8 character
/// (for valid UTF-8; invalid bytes are cut anywhere).
fn char_boundary(bytes: &[u8], max: usize) -> usize {
    if bytes.len() <= max {
        return bytes.len();
    }
    // bytes[cut] is the first byte left out: back off while it continues a character.
    let mut cut = max;
    for _ in 0..3 {
        if cut > 0 && (bytes[cut] & 0xC0) == 0x80 {
            cut -= 1;
        } else {
            break;
        }
    }
    if cut == 0 || (bytes[cut] & 0xC0) == 0x80 {
        max
    } else {
        cut
    }
}

impl LineSplitter {
    /// A splitter for a stream read from `pos`.
    pub fn new(max_bytes: usize, policy: LongLines, pos: LinePos) -> Self {
        Self {
            max_bytes: max_bytes.max(1),
            policy,
            carry: Vec::new(),
            start: pos.offset,
            skipping: pos.skipping,
            skipped: 0,
            in_split: false,
        }
    }

    /// Where the stream stands after every line emitted so far.
    pub fn pos(&self) -> LinePos {
        LinePos {
            offset: self.start,
            skipping: self.skipping,
        }
    }

    /// Bytes of an unfinished line held.
    pub fn partial_len(&self) -> usize {
        self.carry.len()
    }

    /// Feeds the next bytes of the stream; calls `line` for each line completed and `drop`
    /// for what the long-line policy drops.
    pub fn push(
        &mut self,
        mut data: &[u8],
        line: &mut impl FnMut(RawLine<'_>),
        drop: &mut impl FnMut(Dropped),
    ) {
        // The carry holds at most `max_bytes + 1`: a line of exactly the limit may be
        // followed by the `\r` of a `\r\n` that has not arrived yet.
        let limit = self.max_bytes + 1;
        while !data.is_empty() {
            if self.skipping {
                match memchr(b'\n', data) {
                    Some(i) => {
                        self.skipped += i as u64;
                        if self.policy == LongLines::Drop {
                            drop(Dropped::LongLine(self.skipped));
                        }
                        self.skipped = 0;
                        self.skipping = false;
                        self.start += i as u64 + 1;
                        data = &data[i + 1..];
                    }
                    None => {
                        self.skipped += data.len() as u64;
                        self.start += data.len() as u64;
                        return;
                    }
                }
                continue;
            }
            let room = limit - self.carry.len();
            let window = &data[..data.len().min(room + 1)];
            if let Some(i) = memchr(b'\n', window) {
                let end = self.start + (self.carry.len() + i + 1) as u64;
                let text: &[u8] = if self.carry.is_empty() {
                    trim_cr(&data[..i])
                } else {
                    self.carry.extend_from_slice(&data[..i]);
                    trim_cr(&self.carry)
                };
                let pos = LinePos {
                    offset: end,
                    skipping: false,
                };
                if text.len() <= self.max_bytes {
                    line(RawLine {
                        bytes: text,
                        pos,
                        truncated: false,
                        split: self.in_split,
                    });
                } else {
                    // Exactly one byte over, and the line ends here.
                    if self.carry.is_empty() {
                        self.carry.extend_from_slice(&data[..i]);
                    }
                    self.over_long_line_ends(pos, line, drop);
                }
                self.carry.clear();
                self.start = end;
                self.in_split = false;
                data = &data[i + 1..];
            } else if data.len() <= room {
                // Even at the limit, wait: whether the next byte is a newline decides
                // between a complete over-long line and an unfinished one.
                self.carry.extend_from_slice(data);
                return;
            } else {
                self.carry.extend_from_slice(&data[..room]);
                data = &data[room..];
                self.overflow(line);
            }
        }
    }

    /// A complete line (in `carry`, without its newline) longer than the limit.
    fn over_long_line_ends(
        &mut self,
        pos: LinePos,
        line: &mut impl FnMut(RawLine<'_>),
        drop: &mut impl FnMut(Dropped),
    ) {
        let cut = char_boundary(&self.carry, self.max_bytes);
        match self.policy {
            LongLines::Truncate => line(RawLine {
                bytes: &self.carry[..cut],
                pos,
                truncated: true,
                split: false,
            }),
            LongLines::Split => {
                line(RawLine {
                    bytes: &self.carry[..cut],
                    pos: LinePos {
                        offset: self.start + cut as u64,
                        skipping: false,
                    },
                    truncated: false,
                    split: true,
                });
                line(RawLine {
                    bytes: &self.carry[cut..],
                    pos,
                    truncated: false,
                    split: true,
                });
            }
            LongLines::Drop => drop(Dropped::LongLine(self.carry.len() as u64)),
        }
    }

    /// The line in progress (in `carry`, `max_bytes + 1` bytes) is over the limit and its
    /// end has not been seen.
    fn overflow(&mut self, line: &mut impl FnMut(RawLine<'_>)) {
        let cut = char_boundary(&self.carry, self.max_bytes);
        match self.policy {
            LongLines::Split => {
                let end = self.start + cut as u64;
                line(RawLine {
                    bytes: &self.carry[..cut],
                    pos: LinePos {
                        offset: end,
                        skipping: false,
                    },
                    truncated: false,
                    split: true,
                });
                self.carry.drain(..cut);
                self.start = end;
                self.in_split = true;
            }
            LongLines::Truncate => {
                let end = self.start + self.carry.len() as u64;
                line(RawLine {
                    bytes: &self.carry[..cut],
                    pos: LinePos {
                        offset: end,
                        skipping: true,
                    },
                    truncated: true,
                    split: false,
                });
                self.carry.clear();
                self.start = end;
                self.skipping = true;
            }
            LongLines::Drop => {
                self.skipped = self.carry.len() as u64;
                self.start += self.carry.len() as u64;
                self.carry.clear();
                self.skipping = true;
            }
        }
    }

    /// Emits the unfinished line, if any, as a line: for a last line without a newline,
    /// after an idle time or at shutdown. What arrives later starts a new line.
    pub fn flush_partial(
        &mut self,
        line: &mut impl FnMut(RawLine<'_>),
        drop: &mut impl FnMut(Dropped),
    ) {
        if self.carry.is_empty() {
            return;
        }
        let end = self.start + self.carry.len() as u64;
        if trim_cr(&self.carry).len() > self.max_bytes {
            let pos = LinePos {
                offset: end,
                skipping: false,
            };
            self.over_long_line_ends(pos, line, drop);
            self.carry.clear();
            self.start = end;
            self.in_split = false;
            return;
        }
        line(RawLine {
            bytes: trim_cr(&self.carry),
            pos: LinePos {
                offset: end,
                skipping: false,
            },
            truncated: false,
            split: self.in_split,
        });
        self.carry.clear();
        self.start = end;
        self.in_split = false;
    }
}

#[cfg(test)]
mod tests;
