//! A small YAML tree that remembers where every node came from.
//!
//! Built from `saphyr-parser` events rather than a ready-made DOM because every finding
//! needs a line:column, and `inject` splices text at byte offsets of the user's own file.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

#[cfg(test)]
mod tests;

/// Nesting deeper than this is refused: the tree is built recursively and a fuzzer (or a
/// hostile file) must not be able to overflow the stack. Real specs nest about 8 deep.
const MAX_DEPTH: usize = 128;
/// Upper bound on nodes after alias expansion, so `&a [*a, *a]` chains cannot explode.
const MAX_NODES: usize = 200_000;

/// A position in the source: byte offset, 1-based line and 1-based column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Mark {
    /// Byte offset into the text that was parsed.
    #[serde(skip)]
    pub offset: usize,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
}

impl std::fmt::Display for Mark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// How a scalar was written; a quoted `"8000"` is a string, a plain `8000` a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Unquoted.
    Plain,
    /// Single- or double-quoted, or a `|`/`>` block scalar.
    Quoted,
}

/// One YAML node with its source span.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// What the node holds.
    pub kind: Kind,
    /// Where the node starts.
    pub start: Mark,
    /// Where the node's own content ends (for block collections: the end of the last child,
    /// not the parser's end event, which sits after any trailing comments).
    pub end: Mark,
    /// Whether a collection was written in flow style (`[...]`, `{...}`).
    pub flow: bool,
    /// Whether this node is a copy made for an alias (`*name`); its children keep the
    /// positions of the anchored original.
    pub alias: bool,
}

/// The content of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A scalar with its text and style.
    Scalar(String, Style),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in source order.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// The scalar text if this is a scalar.
    pub fn as_scalar(&self) -> Option<(&str, Style)> {
        match &self.kind {
            Kind::Scalar(s, st) => Some((s.as_str(), *st)),
            _ => None,
        }
    }

    /// True for a plain `null`, `~` or empty scalar.
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar(s, Style::Plain) if matches!(s.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// The mapping entries if this is a mapping.
    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            Kind::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The items if this is a sequence.
    pub fn as_seq(&self) -> Option<&[Node]> {
        match &self.kind {
            Kind::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The value under a string key of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// The key node and value under a string key of a mapping.
    pub fn entry(&self, key: &str) -> Option<(&Node, &Node)> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.as_scalar().map(|(s, _)| s) == Some(key))
            .map(|(k, v)| (k, v))
    }

    /// A short name for the node's type, for messages.
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            Kind::Scalar(..) if self.is_null() => "null",
            Kind::Scalar(..) => "scalar",
            Kind::Seq(_) => "list",
            Kind::Map(_) => "mapping",
        }
    }
}

/// The text could not be parsed as YAML.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid YAML at {mark}: {message}")]
pub struct YamlError {
    /// Where the parser stopped.
    pub mark: Mark,
    /// The parser's description of the problem.
    pub message: String,
}

/// Maps the parser's character indexes to byte offsets of the text.
struct Offsets {
    /// `bytes[i]` is the byte offset of character `i`; one extra entry for the end.
    bytes: Vec<usize>,
}

impl Offsets {
    fn new(text: &str) -> Self {
        let mut bytes: Vec<usize> = text.char_indices().map(|(b, _)| b).collect();
        bytes.push(text.len());
        Self { bytes }
    }

    fn mark(&self, m: &saphyr_parser::Marker) -> Mark {
        let last = self.bytes.len().saturating_sub(1);
        Mark {
            offset: self.bytes[m.index().min(last)],
            line: m.line(),
            column: m.col() + 1,
        }
    }
}

/// Parse one YAML document. `Ok(None)` for a document with no content at all.
///
/// # Errors
/// [`YamlError`] for malformed YAML, several documents, nesting deeper than 128 levels or
/// alias expansion beyond 200,000 nodes. Never panics on any input.
pub fn parse(text: &str) -> Result<Option<Node>, YamlError> {
    let offsets = Offsets::new(text);
    let mut b = Builder {
        text,
        parser: Parser::new_from_str(text),
        offsets,
        anchors: HashMap::new(),
        nodes: 0,
        last: Mark::default(),
    };
    let mut root = None;
    let mut documents = 0;
    while let Some((ev, span)) = b.next()? {
        match ev {
            Event::StreamStart | Event::DocumentEnd | Event::Nothing => {}
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(YamlError {
                        mark: b.offsets.mark(&span.start),
                        message: "a service specification is one YAML document; remove the second `---` document".into(),
                    });
                }
            }
            other => {
                let node = b.node(other, span, 0)?;
                root = Some(node);
            }
        }
    }
    // An empty document yields a single empty plain scalar; treat it as no content.
    Ok(root.filter(|n| !matches!(&n.kind, Kind::Scalar(s, Style::Plain) if s.is_empty())))
}

struct Builder<'a> {
    text: &'a str,
    parser: Parser<'a, saphyr_parser::StrInput<'a>>,
    offsets: Offsets,
    anchors: HashMap<usize, Node>,
    nodes: usize,
    last: Mark,
}

impl<'a> Builder<'a> {
    fn next(&mut self) -> Result<Option<(Event<'a>, Span)>, YamlError> {
        match self.parser.next_event() {
            None => Ok(None),
            Some(Ok((ev, span))) => {
                self.last = self.offsets.mark(&span.start);
                Ok(Some((ev, span)))
            }
            Some(Err(e)) => Err(YamlError {
                mark: self.offsets.mark(e.marker()),
                message: e.info().to_string(),
            }),
        }
    }

    fn expect_next(&mut self) -> Result<(Event<'a>, Span), YamlError> {
        self.next()?.ok_or_else(|| YamlError {
            mark: self.last,
            message: "unexpected end of input".into(),
        })
    }

    fn count(&mut self, n: usize, at: Mark) -> Result<(), YamlError> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES {
            return Err(YamlError {
                mark: at,
                message: format!("document expands to more than {MAX_NODES} nodes (alias bomb?)"),
            });
        }
        Ok(())
    }

    fn node(&mut self, ev: Event<'a>, span: Span, depth: usize) -> Result<Node, YamlError> {
        let start = self.offsets.mark(&span.start);
        if depth > MAX_DEPTH {
            return Err(YamlError {
                mark: start,
                message: format!("nesting deeper than {MAX_DEPTH} levels"),
            });
        }
        self.count(1, start)?;
        let (node, anchor) = match ev {
            Event::Scalar(value, style, anchor, _tag) => {
                let style = match style {
                    ScalarStyle::Plain => Style::Plain,
                    _ => Style::Quoted,
                };
                let end = self.offsets.mark(&span.end);
                let node = Node {
                    kind: Kind::Scalar(value.into_owned(), style),
                    start,
                    end,
                    flow: false,
                    alias: false,
                };
                (node, anchor)
            }
            Event::Alias(id) => {
                let Some(target) = self.anchors.get(&id).cloned() else {
                    return Err(YamlError {
                        mark: start,
                        message: "alias refers to an unknown anchor".into(),
                    });
                };
                self.count(size(&target), start)?;
                // Keep the alias's own position so findings point at the use site.
                let end = self.offsets.mark(&span.end);
                return Ok(Node {
                    start,
                    end,
                    alias: true,
                    ..target
                });
            }
            Event::SequenceStart(anchor, _tag) => {
                let flow = self.is_flow(start, '[');
                let mut items = Vec::new();
                let end = loop {
                    let (ev, sp) = self.expect_next()?;
                    if let Event::SequenceEnd = ev {
                        break self.offsets.mark(&sp.end);
                    }
                    items.push(self.node(ev, sp, depth + 1)?);
                };
                let end = if flow {
                    end
                } else {
                    items.last().map_or(start, |n| n.end)
                };
                (
                    Node {
                        kind: Kind::Seq(items),
                        start,
                        end,
                        flow,
                        alias: false,
                    },
                    anchor,
                )
            }
            Event::MappingStart(anchor, _tag) => {
                let flow = self.is_flow(start, '{');
                let mut entries = Vec::new();
                let end = loop {
                    let (ev, sp) = self.expect_next()?;
                    if let Event::MappingEnd = ev {
                        break self.offsets.mark(&sp.end);
                    }
                    let key = self.node(ev, sp, depth + 1)?;
                    let (ev, sp) = self.expect_next()?;
                    let value = self.node(ev, sp, depth + 1)?;
                    entries.push((key, value));
                };
                let end = if flow {
                    end
                } else {
                    entries.last().map_or(start, |(_, v)| v.end)
                };
                (
                    Node {
                        kind: Kind::Map(entries),
                        start,
                        end,
                        flow,
                        alias: false,
                    },
                    anchor,
                )
            }
            other => {
                return Err(YamlError {
                    mark: start,
                    message: format!("unexpected YAML event {other:?}"),
                });
            }
        };
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        Ok(node)
    }

    fn is_flow(&self, start: Mark, open: char) -> bool {
        self.text
            .get(start.offset..)
            .is_some_and(|s| s.starts_with(open))
    }
}

fn size(n: &Node) -> usize {
    match &n.kind {
        Kind::Scalar(..) => 1,
        Kind::Seq(items) => 1 + items.iter().map(size).sum::<usize>(),
        Kind::Map(entries) => {
            1 + entries
                .iter()
                .map(|(k, v)| size(k) + size(v))
                .sum::<usize>()
        }
    }
}

/// Write `s` as a YAML scalar: plain when that reads back as the same string, otherwise
/// double-quoted (a JSON string is a valid YAML double-quoted scalar).
pub fn scalar(s: &str) -> String {
    let plain_ok = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./@-".contains(c))
        && !s.starts_with(['-', '@', '.'])
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "~"
        )
        && s.parse::<f64>().is_err();
    if plain_ok {
        s.to_string()
    } else {
        serde_json::Value::String(s.to_string()).to_string()
    }
}
