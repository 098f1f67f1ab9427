//! `inject`: add the firn `logging-agent` sidecar to a spec by splicing text.
//!
//! The user's file is never re-serialised: it is parsed (placeholders masked to same-length
//! text, so templates work too) only to find byte offsets, and new lines are spliced in at
//! those offsets. So comments, key order, quoting and blank lines all survive. What firn
//! owns — the `logging-agent` container and the `firn-output` volume — is regenerated as a
//! whole on every run, which makes a second run a no-op and lets a re-run pick up a changed
//! `logLevel` or `--stage`.

use crate::template;
use crate::yaml::{self, Node, YamlError, scalar};

#[cfg(test)]
mod tests;

/// Name of the sidecar container.
pub const AGENT: &str = crate::settings::DEFAULT_AGENT;
/// Image used when none is given: a placeholder in the usual `/db/schema/repo/image:tag` form.
pub const DEFAULT_IMAGE: &str = "/db/schema/repo/firn:latest";
/// Stage used when none is given and the spec has no `firn-output` volume yet.
pub const DEFAULT_STAGE: &str = "@firn_stage";
/// Local volume added when the app mounts no `local` volume.
pub const LOG_VOLUME: &str = "firn-logs";
/// Stage volume receiving the Parquet files.
pub const OUTPUT_VOLUME: &str = "firn-output";
/// Where the app and the agent see the shared log volume.
pub const LOG_DIR: &str = "/var/log/app";
/// Where the agent sees the stage volume.
pub const OUTPUT_DIR: &str = "/var/lib/firn/output";
/// uid and gid of the firn image's user; set on the stage volume so it is writable.
pub const FIRN_UID: u32 = 10001;

/// What to inject.
#[derive(Debug, Clone, Default)]
pub struct InjectOptions {
    /// The application container whose logs to collect; needed when there are several.
    pub app: Option<String>,
    /// Stage for the Parquet output, e.g. `@LOGS` or `@db.schema.logs/firn`.
    pub stage: Option<String>,
    /// Agent image; default [`DEFAULT_IMAGE`].
    pub image: Option<String>,
}

/// Why a spec could not be injected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InjectError {
    /// The text is not YAML.
    #[error("cannot inject into a file that is not valid YAML: {0}; run `spec check` for details")]
    Yaml(#[from] YamlError),
    /// A structure inject needs is missing or has the wrong shape.
    #[error("cannot inject at line {line}: {message}")]
    Shape {
        /// 1-based line.
        line: usize,
        /// What is wrong and what to do.
        message: String,
    },
    /// Several containers and no `--app`.
    #[error("the spec has several containers ({0}); pass --app NAME to say whose logs to collect")]
    AmbiguousApp(String),
    /// `--app` names no container.
    #[error("--app `{name}` is not a container of the spec (containers: {known})")]
    UnknownApp {
        /// The name given.
        name: String,
        /// Containers present.
        known: String,
    },
    /// A `logging-agent` container exists and does not run firn.
    #[error(
        "the spec already has a `logging-agent` container running `{image}`, not firn; rename or remove it first"
    )]
    AgentNameTaken {
        /// Its image.
        image: String,
    },
    /// The stage is not `@name`.
    #[error("stage `{0}` must start with `@`, e.g. @my_stage")]
    BadStage(String),
}

fn shape(node: &Node, message: impl Into<String>) -> InjectError {
    InjectError::Shape {
        line: node.start.line,
        message: message.into(),
    }
}

fn block_map<'n>(node: &'n Node, what: &str) -> Result<&'n [(Node, Node)], InjectError> {
    if node.alias {
        return Err(shape(
            node,
            format!("{what} is an alias (`*name`); inject needs the structure written out"),
        ));
    }
    let keys: Vec<&str> = node
        .as_map()
        .unwrap_or(&[])
        .iter()
        .filter_map(|(k, _)| k.as_scalar())
        .map(|(k, _)| k)
        .collect();
    if let Some((i, k)) = keys
        .iter()
        .enumerate()
        .find(|(i, k)| keys[..*i].contains(k))
    {
        let at = node.as_map().map_or(node, |m| &m[i].0);
        return Err(shape(
            at,
            format!("{what} has the key `{k}` twice; run `spec check`"),
        ));
    }
    match node.as_map() {
        Some(m) if !node.flow && !m.is_empty() => Ok(m),
        Some(_) if node.flow => Err(shape(
            node,
            format!("{what} is written in flow style (`{{...}}`); inject needs block style"),
        )),
        _ => Err(shape(node, format!("{what} must be a non-empty mapping"))),
    }
}

fn block_seq<'n>(node: &'n Node, what: &str) -> Result<&'n [Node], InjectError> {
    if let Some(a) = std::iter::once(node)
        .chain(node.as_seq().unwrap_or(&[]))
        .find(|n| n.alias)
    {
        return Err(shape(
            a,
            format!("{what} uses an alias (`*name`); inject needs the structure written out"),
        ));
    }
    match node.as_seq() {
        Some(s) if !node.flow && !s.is_empty() => match s.iter().position(|i| i.as_map().is_none())
        {
            Some(i) => Err(shape(
                &s[i],
                format!("item {i} of {what} is not a mapping; run `spec check`"),
            )),
            None => Ok(s),
        },
        Some(_) if node.flow => Err(shape(
            node,
            format!("{what} is written in flow style (`[...]`); inject needs block style"),
        )),
        _ => Err(shape(node, format!("{what} must be a non-empty list"))),
    }
}

fn scalar_of<'n>(node: &'n Node, key: &str) -> Option<&'n str> {
    node.get(key).and_then(|v| v.as_scalar()).map(|(s, _)| s)
}

/// One text edit: replace `start..end` of the original with `text`.
#[derive(Debug)]
struct Edit {
    start: usize,
    end: usize,
    text: String,
}

/// Byte offset of the start of the line holding `offset`.
fn line_start(text: &str, offset: usize) -> usize {
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

/// Column (0-based, bytes = spaces) of the `-` introducing a block sequence item. The item
/// may start on a later line than its dash (`-` alone, or `- # comment`), so earlier lines
/// are searched while they hold nothing but the dash, blanks and comments.
fn dash_col(text: &str, item: &Node) -> usize {
    dash(text, item).0
}

/// Byte offset of the start of the line holding an item's `-`: where a replacement starts.
fn item_start(text: &str, item: &Node) -> usize {
    dash(text, item).1
}

fn dash(text: &str, item: &Node) -> (usize, usize) {
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

fn col(text: &str, node: &Node) -> usize {
    node.start.offset - line_start(text, node.start.offset)
}

/// Add the firn sidecar to `text`. The result passes `spec check` whenever the input does.
///
/// # Errors
/// [`InjectError`] when the file is not YAML, lacks `spec.containers`, uses flow style where
/// inject must add lines, or the choice of app container is ambiguous.
pub fn inject(text: &str, opts: &InjectOptions) -> Result<String, InjectError> {
    // YAML treats a lone CR as a line break; the splicing below only knows LF and CRLF.
    if let Some(i) = text
        .as_bytes()
        .windows(2)
        .position(|w| w[0] == b'\r' && w[1] != b'\n')
        .or_else(|| text.ends_with('\r').then(|| text.len() - 1))
    {
        let (line, _) = template::line_col(text, i);
        return Err(InjectError::Shape {
            line,
            message: "the file uses bare CR line breaks; convert it to LF or CRLF".into(),
        });
    }
    let masked = template::mask(text);
    let Some(root) = yaml::parse(&masked)? else {
        return Err(InjectError::Shape {
            line: 1,
            message: "the file is empty; start with `spec:` and `containers:`".into(),
        });
    };
    block_map(&root, "the document")?;
    let spec = root
        .get("spec")
        .ok_or_else(|| shape(&root, "the document has no `spec`"))?;
    let spec_entries = block_map(spec, "`spec`")?;
    let (containers_key, containers) = spec
        .entry("containers")
        .ok_or_else(|| shape(spec, "`spec` has no `containers`"))?;
    let items = block_seq(containers, "`spec.containers`")?;
    let seq_indent = dash_col(text, &items[0]).saturating_sub(col(text, containers_key));
    let pad = |n: usize| " ".repeat(n);

    let agent_item = items.iter().find(|c| scalar_of(c, "name") == Some(AGENT));
    if let Some(a) = agent_item {
        let image = scalar_of(a, "image").unwrap_or("");
        if !image.contains("firn") {
            return Err(InjectError::AgentNameTaken {
                image: image.to_string(),
            });
        }
    }
    let names: Vec<&str> = items
        .iter()
        .filter_map(|c| scalar_of(c, "name"))
        .filter(|n| *n != AGENT)
        .collect();
    let app_name = match &opts.app {
        Some(a) if names.contains(&a.as_str()) => a.clone(),
        Some(a) => {
            return Err(InjectError::UnknownApp {
                name: a.clone(),
                known: names.join(", "),
            });
        }
        None if names.len() == 1 => names[0].to_string(),
        None => return Err(InjectError::AmbiguousApp(names.join(", "))),
    };
    let app = items
        .iter()
        .find(|c| scalar_of(c, "name") == Some(app_name.as_str()))
        .ok_or_else(|| shape(containers, "app container vanished"))?;
    block_map(app, "the app container")?;

    let volumes = spec.entry("volumes");
    let vol_items: &[Node] = match volumes {
        Some((_, v)) if v.is_null() => &[],
        Some((_, v)) => block_seq(v, "`spec.volumes`")?,
        None => &[],
    };
    let volume = |name: &str| {
        vol_items
            .iter()
            .find(|v| scalar_of(v, "name") == Some(name))
    };

    // Edits at one offset are applied in creation order, so they are made in file order:
    // app mounts, then the agent (after the last container), then volumes, then exporters.
    let mut edits = Vec::new();
    let mut late = Vec::new();

    // The log volume: reuse a `local` volume the app already mounts, else ours.
    let app_mounts: &[Node] = match app.get("volumeMounts") {
        Some(m) if m.is_null() => &[],
        Some(m) => block_seq(m, "the app's `volumeMounts`")?,
        None => &[],
    };
    let reused = app_mounts
        .iter()
        .filter_map(|m| scalar_of(m, "name"))
        .find(|n| volume(n).and_then(|v| scalar_of(v, "source")) == Some("local"));
    let log_volume = reused.unwrap_or(LOG_VOLUME).to_string();
    if reused.is_none() {
        if let Some(v) = volume(LOG_VOLUME)
            && scalar_of(v, "source") != Some("local")
        {
            return Err(shape(
                v,
                format!("volume `{LOG_VOLUME}` exists but is not `source: local`; rename it"),
            ));
        }
        let mount = format!("- name: {log_volume}\n  mountPath: {LOG_DIR}\n");
        match app.entry("volumeMounts") {
            Some((_, m)) if !app_mounts.is_empty() => {
                let d = dash_col(text, &app_mounts[0]);
                edits.push(Edit {
                    start: after_line(text, m.end.offset),
                    end: after_line(text, m.end.offset),
                    text: indent(&mount, d),
                });
            }
            Some((k, _)) => {
                let at = after_line(text, k.end.offset);
                let kc = col(text, k);
                edits.push(Edit {
                    start: line_start(text, k.start.offset),
                    end: at,
                    text: format!(
                        "{}volumeMounts:\n{}",
                        pad(kc),
                        indent(&mount, kc + seq_indent)
                    ),
                });
            }
            None => {
                let first_key = &block_map(app, "the app container")?[0].0;
                let c = col(text, first_key);
                let at = after_line(text, app.end.offset);
                edits.push(Edit {
                    start: at,
                    end: at,
                    text: format!(
                        "{}volumeMounts:\n{}",
                        pad(c),
                        indent(&mount, c + seq_indent)
                    ),
                });
            }
        }
    }

    // Stage: --stage, else the one already configured, else the default.
    let existing_stage = volume(OUTPUT_VOLUME)
        .and_then(|v| v.get("stageConfig"))
        .and_then(|s| scalar_of(s, "name"));
    let stage = opts
        .stage
        .clone()
        .or_else(|| existing_stage.map(str::to_string))
        .unwrap_or_else(|| DEFAULT_STAGE.to_string());
    if !stage.starts_with('@') || stage.len() < 2 {
        return Err(InjectError::BadStage(stage));
    }

    // Volumes: ours are regenerated whole; the log volume is only added when missing.
    let mut new_vols = String::new();
    if reused.is_none() && volume(LOG_VOLUME).is_none() {
        new_vols.push_str(&format!("- name: {LOG_VOLUME}\n  source: local\n"));
    }
    let out_vol = format!(
        "- name: {OUTPUT_VOLUME}\n  source: stage\n  stageConfig:\n    name: {}\n  uid: {FIRN_UID}\n  gid: {FIRN_UID}\n",
        scalar(&stage)
    );
    let spec_key_col = col(text, &spec_entries[0].0);
    match (volume(OUTPUT_VOLUME), vol_items.first()) {
        (Some(v), Some(first)) => {
            let d = dash_col(text, first);
            let start = item_start(text, v);
            late.push(Edit {
                start,
                end: after_line(text, v.end.offset),
                text: indent(&out_vol, d),
            });
        }
        _ => new_vols.push_str(&out_vol),
    }
    if !new_vols.is_empty() {
        match (volumes, vol_items.last()) {
            (Some(_), Some(last)) => {
                let d = dash_col(text, &vol_items[0]);
                let at = after_line(text, last.end.offset);
                late.push(Edit {
                    start: at,
                    end: at,
                    text: indent(&new_vols, d),
                });
            }
            (Some((k, _)), None) => {
                let kc = col(text, k);
                late.push(Edit {
                    start: line_start(text, k.start.offset),
                    end: after_line(text, k.end.offset),
                    text: format!(
                        "{}volumes:\n{}",
                        pad(kc),
                        indent(&new_vols, kc + seq_indent)
                    ),
                });
            }
            (None, _) => {
                let at = after_line(text, spec.end.offset);
                late.push(Edit {
                    start: at,
                    end: at,
                    text: format!(
                        "{}volumes:\n{}",
                        pad(spec_key_col),
                        indent(&new_vols, spec_key_col + seq_indent)
                    ),
                });
            }
        }
    }

    // logExporters made explicit: the two references disagree on its default (INFO vs NONE).
    let level = spec
        .get("logExporters")
        .and_then(|l| l.get("eventTableConfig"))
        .and_then(|e| e.get("logLevel"));
    let level_text = level.map_or_else(|| "INFO".to_string(), |n| original(text, n));
    if spec.get("logExporters").is_none() {
        let at = after_line(text, spec.end.offset);
        let block = "logExporters:\n  eventTableConfig:\n    logLevel: INFO\n";
        late.push(Edit {
            start: at,
            end: at,
            text: indent(block, spec_key_col),
        });
    }
    let groups: Vec<String> = spec
        .get("platformMonitor")
        .and_then(|p| p.get("metricConfig"))
        .and_then(|m| m.get("groups"))
        .and_then(|g| g.as_seq())
        .map(|g| g.iter().map(|n| original(text, n)).collect())
        .unwrap_or_default();

    // The agent container, regenerated whole.
    let image = opts
        .image
        .clone()
        .unwrap_or_else(|| DEFAULT_IMAGE.to_string());
    let mut args = vec![
        "--input".to_string(),
        format!("{LOG_DIR}/**/*.log"),
        "--output".into(),
        OUTPUT_DIR.into(),
        "--log-level".into(),
        level_text,
    ];
    if !groups.is_empty() {
        args.push("--metric-groups".into());
        args.push(groups.join(","));
    }
    let s = pad(seq_indent);
    let mut block = format!(
        "- name: {AGENT}\n  image: {}\n  command:\n  {s}- firn-agent\n  args:\n",
        scalar(&image)
    );
    for a in &args {
        let v = if a.contains("{{") {
            a.clone()
        } else {
            scalar(a)
        };
        block.push_str(&format!("  {s}- {v}\n"));
    }
    block.push_str(&format!("  volumeMounts:\n  {s}- name: {log_volume}\n  {s}  mountPath: {LOG_DIR}\n  {s}- name: {OUTPUT_VOLUME}\n  {s}  mountPath: {OUTPUT_DIR}\n"));
    block.push_str("  resources:\n    requests:\n      cpu: 100m\n      memory: 128Mi\n    limits:\n      cpu: 500m\n      memory: 512Mi\n");
    let d = dash_col(text, &items[0]);
    match agent_item {
        Some(a) => edits.push(Edit {
            start: item_start(text, a),
            end: after_line(text, a.end.offset),
            text: indent(&block, d),
        }),
        None => {
            let at = after_line(text, items[items.len() - 1].end.offset);
            edits.push(Edit {
                start: at,
                end: at,
                text: indent(&block, d),
            });
        }
    }
    edits.append(&mut late);
    Ok(apply(text, edits))
}

/// The source text of a scalar node, so a templated value (`{{ level }}`) is kept as is.
fn original(text: &str, n: &Node) -> String {
    let raw = text.get(n.start.offset..n.end.offset).unwrap_or("");
    if raw.contains("{{") {
        raw.trim().to_string()
    } else {
        n.as_scalar()
            .map_or_else(String::new, |(s, _)| s.to_string())
    }
}

fn indent(block: &str, n: usize) -> String {
    let pad = " ".repeat(n);
    block.lines().map(|l| format!("{pad}{l}\n")).collect()
}

fn apply(text: &str, mut edits: Vec<Edit>) -> String {
    // Keep a CRLF file CRLF throughout.
    if text.contains("\r\n") {
        for e in &mut edits {
            e.text = e.text.replace('\n', "\r\n");
        }
    }
    // Stable: edits at the same offset keep the order they were made in.
    edits.sort_by_key(|e| e.start);
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
