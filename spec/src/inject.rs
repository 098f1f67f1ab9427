//! `inject`: add the firn `logging-agent` sidecar to a spec by splicing text.
//!
//! The user's file is never re-serialised: it is parsed (placeholders masked to same-length
//! text, so templates work too) only to find byte offsets, and new lines are spliced in at
//! those offsets ([`splice`]). So comments, key order, quoting and blank lines all survive.
//! What firn owns — the `logging-agent` container and the `firn-output` volume — is
//! regenerated as a whole on every run, which makes a second run a no-op and lets a re-run
//! pick up a changed `logLevel` or `--stage`. Every other change is reported in
//! [`Injected::notes`].

mod splice;
#[cfg(test)]
mod tests;

use crate::check::{CheckOptions, check};
use crate::finding::{Finding, Severity};
use crate::template::{self, Values};
use crate::yaml::{self, Node, YamlError, scalar};

use splice::Splice;

/// Name of the sidecar container.
pub const AGENT: &str = crate::settings::DEFAULT_AGENT;
/// Image used when none is given and the spec has no firn container yet: a placeholder in
/// the usual `/db/schema/repo/image:tag` form.
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
    /// Agent image; default: the image of the spec's firn `logging-agent`, else
    /// [`DEFAULT_IMAGE`].
    pub image: Option<String>,
    /// Template values for the check that runs first (`--using`).
    pub values: Values,
    /// Inject even when `check` finds errors (they are returned in [`Injected::ignored`]).
    pub force: bool,
}

/// The injected spec and what inject did besides adding the sidecar.
#[derive(Debug, Clone, PartialEq)]
pub struct Injected {
    /// The spec with the sidecar.
    pub text: String,
    /// One sentence per change to the user's own parts of the spec (a volume added, a
    /// `logLevel` made explicit, an existing agent or output volume rewritten), and where
    /// the app must write its logs. Empty when a re-run changed nothing.
    pub notes: Vec<String>,
    /// Error findings of `check` that `force` overrode.
    pub ignored: Vec<Finding>,
}

/// Why a spec could not be injected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InjectError {
    /// `check` finds errors; injecting would copy invalid values into the agent's flags.
    #[error(
        "the spec has {} error(s) (`spec check` lists them); fix them, or pass --force to inject anyway",
        .0.len()
    )]
    Invalid(Vec<Finding>),
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

/// A YAML value for `s`: a template placeholder as written, anything else as a scalar.
fn value(s: &str) -> String {
    if s.contains("{{") {
        s.to_string()
    } else {
        scalar(s)
    }
}

/// Add the firn sidecar to `text`. Unless `opts.force`, the spec must pass `check` first;
/// the result passes `check` whenever the input does.
///
/// # Errors
/// [`InjectError::Invalid`] with `check`'s error findings; otherwise when the file is not
/// YAML, lacks `spec.containers`, uses flow style where inject must add lines, or the
/// choice of app container is ambiguous.
pub fn inject(text: &str, opts: &InjectOptions) -> Result<Injected, InjectError> {
    let ignored = precheck(text, opts)?;
    refuse_bare_cr(text)?;
    let masked = template::mask(text);
    let Some(root) = yaml::parse(&masked)? else {
        return Err(InjectError::Shape {
            line: 1,
            message: "the file is empty; start with `spec:` and `containers:`".into(),
        });
    };
    let doc = Doc::new(text, &root)?;
    let app = doc.app(opts)?;
    let mut notes = Vec::new();
    let mut splice = Splice::new(text, doc.seq_indent);
    // Edits at one offset apply in the order they are made, so they are made in file
    // order: app mounts, the agent (after the last container), volumes, exporters.
    let log_volume = doc.log_volume(app, &mut splice, &mut notes)?;
    let agent = doc.agent_block(opts, &log_volume, &splice);
    match doc.agent {
        Some(a) => {
            if splice.replace_item(a, &doc.containers[0], &agent) {
                notes.push(format!(
                    "rewrote the existing `{AGENT}` container: its command, args, volume mounts and resources are firn's (image {})",
                    if opts.image.is_some() { "from --image" } else { "kept" }
                ));
            }
        }
        None => splice.append_items(doc.containers, &agent),
    }
    doc.volumes(opts, &log_volume, &mut splice, &mut notes)?;
    let block = "eventTableConfig:\n  logLevel: INFO\n";
    if splice.ensure_key(doc.spec, "logExporters", block)? {
        notes.push(
            "added `spec.logExporters.eventTableConfig.logLevel: INFO`: the agent copies the level, and the references disagree on its default (INFO now, NONE before)".into(),
        );
    }
    Ok(Injected {
        text: splice.finish(),
        notes,
        ignored,
    })
}

/// Run `check`; its errors refuse the inject unless `force`.
fn precheck(text: &str, opts: &InjectOptions) -> Result<Vec<Finding>, InjectError> {
    let report = check(
        text,
        &CheckOptions {
            values: opts.values.clone(),
            job: false,
        },
    );
    let errors: Vec<Finding> = report
        .findings
        .into_iter()
        .filter(|f| f.severity == Severity::Error)
        .collect();
    match errors.is_empty() || opts.force {
        true => Ok(errors),
        false => Err(InjectError::Invalid(errors)),
    }
}

/// YAML treats a lone CR as a line break; the splicing only knows LF and CRLF.
fn refuse_bare_cr(text: &str) -> Result<(), InjectError> {
    let bare = text
        .as_bytes()
        .windows(2)
        .position(|w| w[0] == b'\r' && w[1] != b'\n')
        .or_else(|| text.ends_with('\r').then(|| text.len() - 1));
    match bare {
        Some(i) => Err(InjectError::Shape {
            line: template::line_col(text, i).0,
            message: "the file uses bare CR line breaks; convert it to LF or CRLF".into(),
        }),
        None => Ok(()),
    }
}

/// The parts of the parsed spec inject reads or edits.
struct Doc<'n> {
    spec: &'n Node,
    containers: &'n [Node],
    /// The existing firn `logging-agent` item.
    agent: Option<&'n Node>,
    volumes: &'n [Node],
    seq_indent: usize,
}

impl<'n> Doc<'n> {
    fn new(text: &'n str, root: &'n Node) -> Result<Self, InjectError> {
        block_map(root, "the document")?;
        let spec = root
            .get("spec")
            .ok_or_else(|| shape(root, "the document has no `spec`"))?;
        block_map(spec, "`spec`")?;
        let (containers_key, containers_node) = spec
            .entry("containers")
            .ok_or_else(|| shape(spec, "`spec` has no `containers`"))?;
        let containers = block_seq(containers_node, "`spec.containers`")?;
        let key_col =
            containers_key.start.offset - splice::line_start(text, containers_key.start.offset);
        let seq_indent = splice::dash(text, &containers[0]).0.saturating_sub(key_col);
        let agent = containers
            .iter()
            .find(|c| scalar_of(c, "name") == Some(AGENT));
        if let Some(a) = agent {
            let image = scalar_of(a, "image").unwrap_or("");
            if !image.contains("firn") {
                return Err(InjectError::AgentNameTaken {
                    image: image.to_string(),
                });
            }
        }
        let volumes = match spec.get("volumes") {
            Some(v) if !v.is_null() => block_seq(v, "`spec.volumes`")?,
            _ => &[],
        };
        Ok(Self {
            spec,
            containers,
            agent,
            volumes,
            seq_indent,
        })
    }

    fn volume(&self, name: &str) -> Option<&'n Node> {
        self.volumes
            .iter()
            .find(|v| scalar_of(v, "name") == Some(name))
    }

    /// The app container: `--app`, or the only container other than the agent.
    fn app(&self, opts: &InjectOptions) -> Result<&'n Node, InjectError> {
        let names: Vec<&str> = self
            .containers
            .iter()
            .filter_map(|c| scalar_of(c, "name"))
            .filter(|n| *n != AGENT)
            .collect();
        let name = match &opts.app {
            Some(a) if names.contains(&a.as_str()) => a.as_str(),
            Some(a) => {
                return Err(InjectError::UnknownApp {
                    name: a.clone(),
                    known: names.join(", "),
                });
            }
            None if names.len() == 1 => names[0],
            None => return Err(InjectError::AmbiguousApp(names.join(", "))),
        };
        let app = self
            .containers
            .iter()
            .find(|c| scalar_of(c, "name") == Some(name))
            .ok_or_else(|| shape(self.spec, "app container vanished"))?;
        block_map(app, "the app container")?;
        Ok(app)
    }

    /// The log volume: a `local` volume the app already mounts, else [`LOG_VOLUME`],
    /// mounted in the app at [`LOG_DIR`].
    fn log_volume(
        &self,
        app: &Node,
        splice: &mut Splice<'_>,
        notes: &mut Vec<String>,
    ) -> Result<String, InjectError> {
        let app_name = scalar_of(app, "name").unwrap_or_default();
        let mounts: &[Node] = match app.get("volumeMounts") {
            Some(m) if !m.is_null() => block_seq(m, "the app's `volumeMounts`")?,
            _ => &[],
        };
        let reused = mounts.iter().find(|m| {
            scalar_of(m, "name")
                .and_then(|n| self.volume(n))
                .and_then(|v| scalar_of(v, "source"))
                == Some("local")
        });
        if let Some(m) = reused {
            let name = scalar_of(m, "name").unwrap_or_default();
            let at = scalar_of(m, "mountPath").unwrap_or_default();
            // Said once, when inject picks the user's volume; firn's own needs no word.
            if name != LOG_VOLUME {
                notes.push(format!(
                "the agent reads `*.log` files from volume `{name}`, which `{app_name}` mounts at {at}"
            ));
            }
            return Ok(name.to_string());
        }
        if let Some(v) = self.volume(LOG_VOLUME)
            && scalar_of(v, "source") != Some("local")
        {
            return Err(shape(
                v,
                format!("volume `{LOG_VOLUME}` exists but is not `source: local`; rename it"),
            ));
        }
        let mount = format!("- name: {LOG_VOLUME}\n  mountPath: {LOG_DIR}\n");
        splice.ensure_items(app, "volumeMounts", &mount, "the app's `volumeMounts`")?;
        notes.push(format!(
            "mounted volume `{LOG_VOLUME}` in `{app_name}` at {LOG_DIR}: the app must write its log files (`*.log`) there"
        ));
        Ok(LOG_VOLUME.to_string())
    }

    /// `spec.volumes`: the log volume when it is new, and `firn-output` regenerated whole.
    fn volumes(
        &self,
        opts: &InjectOptions,
        log_volume: &str,
        splice: &mut Splice<'_>,
        notes: &mut Vec<String>,
    ) -> Result<(), InjectError> {
        let stage = self.stage(opts)?;
        let output = format!(
            "- name: {OUTPUT_VOLUME}\n  source: stage\n  stageConfig:\n    name: {}\n  uid: {FIRN_UID}\n  gid: {FIRN_UID}\n",
            scalar(&stage)
        );
        let mut new = String::new();
        if log_volume == LOG_VOLUME && self.volume(LOG_VOLUME).is_none() {
            new.push_str(&format!("- name: {LOG_VOLUME}\n  source: local\n"));
            notes.push(format!("added volume `{LOG_VOLUME}` (source: local)"));
        }
        let what = format!(
            "volume `{OUTPUT_VOLUME}` (Stage Mount v2 on {stage}, uid/gid {FIRN_UID}: the firn image's user)"
        );
        match self.volume(OUTPUT_VOLUME) {
            Some(v) => {
                if splice.replace_item(v, &self.volumes[0], &output) {
                    notes.push(format!("rewrote {what}"));
                }
            }
            None => {
                new.push_str(&output);
                notes.push(format!("added {what}"));
            }
        }
        if !new.is_empty() {
            splice.ensure_items(self.spec, "volumes", &new, "`spec.volumes`")?;
        }
        Ok(())
    }

    /// `--stage`, else the stage of the existing `firn-output` (either form), else the
    /// default.
    fn stage(&self, opts: &InjectOptions) -> Result<String, InjectError> {
        let existing = self.volume(OUTPUT_VOLUME).and_then(|v| {
            v.get("stageConfig")
                .and_then(|s| scalar_of(s, "name"))
                .or_else(|| scalar_of(v, "source").filter(|s| s.starts_with('@')))
        });
        let stage = opts
            .stage
            .clone()
            .or_else(|| existing.map(str::to_string))
            .unwrap_or_else(|| DEFAULT_STAGE.to_string());
        if !stage.starts_with('@') || stage.len() < 2 {
            return Err(InjectError::BadStage(stage));
        }
        Ok(stage)
    }

    /// The agent container, at column 0. Flags are explicit rather than a spec path; the
    /// level and metric groups are copied from the spec so the sidecar and Snowflake agree.
    fn agent_block(&self, opts: &InjectOptions, log_volume: &str, splice: &Splice<'_>) -> String {
        let image = match (&opts.image, self.agent.and_then(|a| a.get("image"))) {
            (Some(i), _) => value(i),
            (None, Some(n)) => value(&splice.original(n)),
            (None, None) => value(DEFAULT_IMAGE),
        };
        let level = self
            .spec
            .get("logExporters")
            .and_then(|l| l.get("eventTableConfig"))
            .and_then(|e| e.get("logLevel"))
            .map_or_else(|| "INFO".to_string(), |n| splice.original(n));
        let groups: Vec<String> = self
            .spec
            .get("platformMonitor")
            .and_then(|p| p.get("metricConfig"))
            .and_then(|m| m.get("groups"))
            .and_then(|g| g.as_seq())
            .map(|g| g.iter().map(|n| splice.original(n)).collect())
            .unwrap_or_default();
        let mut args = vec![
            "--input".to_string(),
            format!("{LOG_DIR}/**/*.log"),
            "--output".into(),
            OUTPUT_DIR.into(),
            "--log-level".into(),
            level,
            // The write-ahead spool on the local volume: the stage allows no append.
            "--spool".into(),
            format!("{LOG_DIR}/.firn-spool"),
        ];
        if !groups.is_empty() {
            args.push("--metric-groups".into());
            args.push(groups.join(","));
        }
        let s = " ".repeat(self.seq_indent);
        let mut block =
            format!("- name: {AGENT}\n  image: {image}\n  command:\n  {s}- firn-agent\n  args:\n");
        for a in &args {
            block.push_str(&format!("  {s}- {}\n", value(a)));
        }
        block.push_str(&format!("  volumeMounts:\n  {s}- name: {log_volume}\n  {s}  mountPath: {LOG_DIR}\n  {s}- name: {OUTPUT_VOLUME}\n  {s}  mountPath: {OUTPUT_DIR}\n"));
        block.push_str("  resources:\n    requests:\n      cpu: 100m\n      memory: 128Mi\n    limits:\n      cpu: 500m\n      memory: 512Mi\n");
        block
    }
}
