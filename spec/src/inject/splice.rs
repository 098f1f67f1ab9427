//! Text splicing: the user's file is never re-serialised. Nodes of the parsed (masked) text
//! give byte offsets, and new lines are inserted, or firn's own items replaced, at those
//! offsets in the original text.

use crate::yaml::Node;

use super::{InjectError, block_map, block_seq};

/// One text edit: replace `start..end` of the original with `text`.
#[derive(Debug)]
struct Edit {
    start: usize,
    end: usize,
    text: String,
}

/// The edits to one file. Edits at the same offset are applied in the order they were
/// made, so callers make them in file order.
pub(super) struct Splice<'t> {
    text: &'t str,
    /// Columns from a key to the `-` of its list items: 0 for `key:\n- a`, 2 for
    /// `key:\n  - a`. Taken from `spec.containers`, so new lists look like the user's.
    seq_indent: usize,
    edits: Vec<Edit>,
}

impl<'t> Splice<'t> {
    pub(super) fn new(text: &'t str, seq_indent: usize) -> Self {
        Self {
            text,
            seq_indent,
            edits: Vec::new(),
        }
    }

    /// The one place that adds to a mapping: make `key` of the block mapping `map` hold
    /// `items` (block-sequence items written at column 0). They are appended after the
    /// existing items, written under a key that has no value, or added as a new key after
    /// the mapping's last entry.
    ///
    /// # Errors
    /// When the value of `key` is not a block list (flow style, a scalar, an alias).
    pub(super) fn ensure_items(
        &mut self,
        map: &Node,
        key: &str,
        items: &str,
        what: &str,
    ) -> Result<(), InjectError> {
        match map.entry(key) {
            Some((k, v)) if v.is_null() => {
                let kc = self.col(k);
                let body = format!("{}{key}:\n{}", pad(kc), indent(items, kc + self.seq_indent));
                self.push(
                    line_start(self.text, k.start.offset),
                    after_line(self.text, k.end.offset),
                    body,
                );
            }
            Some((_, v)) => {
                let existing = block_seq(v, what)?;
                self.append_items(existing, items);
            }
            None => self.add_key(map, &format!("{key}:\n{}", indent(items, self.seq_indent)))?,
        }
        Ok(())
    }

    /// Add `key:` with the block mapping `body` under it to `map`, unless `map` has `key`
    /// already. Returns whether it was added.
    ///
    /// # Errors
    /// When `map` is not a block mapping.
    pub(super) fn ensure_key(
        &mut self,
        map: &Node,
        key: &str,
        body: &str,
    ) -> Result<bool, InjectError> {
        if map.get(key).is_some() {
            return Ok(false);
        }
        self.add_key(map, &format!("{key}:\n{}", indent(body, 2)))?;
        Ok(true)
    }

    /// Insert `entry` (a key and its value, written at column 0) after the last entry of
    /// the block mapping `map`, at the column of its keys.
    fn add_key(&mut self, map: &Node, entry: &str) -> Result<(), InjectError> {
        let first_key = &block_map(map, "a mapping inject adds to")?[0].0;
        let at = after_line(self.text, map.end.offset);
        self.push(at, at, indent(entry, self.col(first_key)));
        Ok(())
    }

    /// Add `block` (items at column 0) after the last of `items`, at their dash column.
    pub(super) fn append_items(&mut self, items: &[Node], block: &str) {
        let (Some(first), Some(last)) = (items.first(), items.last()) else {
            return;
        };
        let at = after_line(self.text, last.end.offset);
        self.push(at, at, indent(block, dash(self.text, first).0));
    }

    /// Replace the list item `item` whole (from its `-` line to its last line) by `block`,
    /// at the dash column of `first`, the list's first item. Returns whether the text
    /// changes.
    pub(super) fn replace_item(&mut self, item: &Node, first: &Node, block: &str) -> bool {
        let start = dash(self.text, item).1;
        let end = after_line(self.text, item.end.offset);
        let new = indent(block, dash(self.text, first).0);
        let changed = self.text.get(start..end).map(normalise) != Some(new.clone());
        self.push(start, end, new);
        changed
    }

    /// The source text of a scalar node, so a templated value (`{{ level }}`) is kept as
    /// written; otherwise its value.
    pub(super) fn original(&self, n: &Node) -> String {
        let raw = self.text.get(n.start.offset..n.end.offset).unwrap_or("");
        if raw.contains("{{") {
            raw.trim().to_string()
        } else {
            n.as_scalar()
                .map_or_else(String::new, |(s, _)| s.to_string())
        }
    }

    fn col(&self, node: &Node) -> usize {
        node.start.offset - line_start(self.text, node.start.offset)
    }

    fn push(&mut self, start: usize, end: usize, text: String) {
        self.edits.push(Edit { start, end, text });
    }

    /// The edited text.
    pub(super) fn finish(self) -> String {
        let mut edits = self.edits;
        // Keep a CRLF file CRLF throughout.
        if self.text.contains("\r\n") {
            for e in &mut edits {
                e.text = e.text.replace('\n', "\r\n");
            }
        }
        // Stable: edits at the same offset keep the order they were made in.
        edits.sort_by_key(|e| e.start);
        let text = self.text;
        let mut out = String::with_capacity(text.len() + 1024);
        let mut pos = 0;
        for e in edits {
            let start = e.start.max(pos);
            out.push_str(&text[pos..start]);
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&e.text);
            pos = e.end.max(start);
        }
        out.push_str(&text[pos..]);
        out
    }
}

/// Text as [`indent`] writes it: LF line ends, a final newline.
fn normalise(s: &str) -> String {
    s.lines().map(|l| format!("{l}\n")).collect()
}

fn pad(n: usize) -> String {
    " ".repeat(n)
}

/// `block` with every line indented by `n` spaces.
pub(super) fn indent(block: &str, n: usize) -> String {
    let pad = pad(n);
    block.lines().map(|l| format!("{pad}{l}\n")).collect()
}

/// Byte offset of the start of the line holding `offset`.
pub(super) fn line_start(text: &str, offset: usize) -> usize {
    text[..offset].rfind('\n').map_or(0, |i| i + 1)
}

/// Byte offset just after the line on which a node ending at `offset` ends.
fn after_line(text: &str, offset: usize) -> usize {
    if offset > 0 && text.as_bytes().get(offset - 1) == Some(&b'\n') {
        return offset;
    }
    text[offset..]
        .find('\n')
        .map_or(text.len(), |i| offset + i + 1)
}

/// Column (0-based, bytes = spaces) of the `-` introducing a block sequence item, and the
/// byte offset of the start of its line (where a replacement starts). The item may start
/// on a later line than its dash (`-` alone, or `- # comment`), so earlier lines are
/// searched while they hold nothing but the dash, blanks and comments.
pub(super) fn dash(text: &str, item: &Node) -> (usize, usize) {
    let mut end = item.start.offset;
    loop {
        let ls = line_start(text, end);
        let line = &text[ls..end];
        let code = line.split(" #").next().unwrap_or(line);
        let code = if code.trim_start().starts_with('#') {
            ""
        } else {
            code
        };
        if let Some(i) = code.rfind('-') {
            return (i, ls);
        }
        if !code.trim().is_empty() || ls == 0 {
            let ls = line_start(text, item.start.offset);
            return (item.start.offset - ls, ls);
        }
        end = ls - 1;
    }
}
