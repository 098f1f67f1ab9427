//! YAML tree -> [`ServiceSpec`], reporting unknown keys, wrong types and bad values.
//!
//! Strict in the spirit of `#[serde(deny_unknown_fields)]`: every mapping has a closed set
//! of keys, and a key that is not in it is an error with a "did you mean" hint.

use std::collections::HashSet;

use crate::finding::Finding;
use crate::model::*;
use crate::yaml::{Mark, Node, Style};

use super::suggest;

mod container;
mod items;

/// Collects findings while walking the tree.
pub(super) struct Decoder {
    pub(super) findings: Vec<Finding>,
    /// What the rules need to know so they report the root cause only.
    pub(super) decoded: Decoded,
    /// `path.key` of required keys that an unknown key in the same mapping is a likely
    /// misspelling of: the `unknown-key` finding says it, a `missing-key` would repeat it.
    misspelt: HashSet<String>,
}

/// Where decoding already found a problem. A rule whose input is missing because the
/// decoder rejected it (`port: "8080"`, `size: 10.5Gi`, a mapping where a list belongs)
/// stays silent: the decoder's finding is the root cause, and a second one would
/// contradict it ("has no port").
#[derive(Debug, Default)]
pub(super) struct Decoded {
    /// Paths of values with an error finding.
    rejected: HashSet<String>,
    /// Paths of lists that are not lists, or lost entries that could not be decoded.
    dropped: HashSet<String>,
}

impl Decoded {
    /// True when an error was found at `path` or anywhere under it.
    pub(super) fn rejected(&self, path: &str) -> bool {
        self.rejected.iter().any(|r| {
            r.strip_prefix(path)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
        })
    }

    /// True when the list at `path`, or a list under it, lost entries.
    pub(super) fn dropped(&self, path: &str) -> bool {
        self.dropped.iter().any(|r| {
            r.strip_prefix(path)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
        })
    }
}

/// Checked keys of one mapping.
struct Fields<'n> {
    entries: &'n [(Node, Node)],
    path: String,
}

impl<'n> Fields<'n> {
    fn get(&self, key: &str) -> Option<(&'n Node, String)> {
        self.entries
            .iter()
            .find(|(k, _)| k.as_scalar().map(|(s, _)| s) == Some(key))
            .map(|(_, v)| (v, join(&self.path, key)))
    }
}

pub(super) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

const ROOT_KEYS: &[&str] = &["spec", "capabilities", "serviceRoles"];
const SPEC_KEYS: &[&str] = &[
    "containers",
    "endpoints",
    "volumes",
    "logExporters",
    "platformMonitor",
];
pub(super) const CONTAINER_KEYS: &[&str] = &[
    "name",
    "image",
    "sha256",
    "command",
    "args",
    "env",
    "readinessProbe",
    "volumeMounts",
    "resources",
    "secrets",
];
pub(super) const ENDPOINT_KEYS: &[&str] = &[
    "name",
    "port",
    "portRange",
    "public",
    "protocol",
    "corsSettings",
];
pub(super) const VOLUME_KEYS: &[&str] = &[
    "name",
    "source",
    "size",
    "blockConfig",
    "stageConfig",
    "uid",
    "gid",
];
pub(super) const CORS_KEYS: &[&str] = &[
    "Access-Control-Allow-Origin",
    "Access-Control-Allow-Methods",
    "Access-Control-Allow-Headers",
    "Access-Control-Expose-Headers",
];

impl Decoder {
    pub(super) fn new() -> Self {
        Self {
            findings: Vec::new(),
            decoded: Decoded::default(),
            misspelt: HashSet::new(),
        }
    }

    fn err(
        &mut self,
        code: &'static str,
        path: &str,
        at: Mark,
        msg: String,
        help: impl Into<String>,
    ) {
        self.decoded.rejected.insert(path.to_string());
        self.findings
            .push(Finding::error(code, path, at, msg, help));
    }

    /// Check a mapping's keys against `allowed`; unknown keys become findings.
    fn fields<'n>(
        &mut self,
        node: &'n Node,
        path: &str,
        allowed: &[&str],
        what: &str,
    ) -> Option<Fields<'n>> {
        if node.is_null() {
            self.err(
                "missing-value",
                path,
                node.start,
                format!("{what} is empty"),
                "give its keys, or remove it",
            );
            return None;
        }
        let Some(entries) = node.as_map() else {
            self.type_error(node, path, &format!("a mapping ({what})"));
            return None;
        };
        let mut seen: Vec<&str> = Vec::new();
        for (k, _) in entries {
            let Some((key, _)) = k.as_scalar() else {
                self.err(
                    "invalid-key",
                    path,
                    k.start,
                    "mapping keys must be plain strings".into(),
                    "write the key as a plain word",
                );
                continue;
            };
            let kpath = join(path, key);
            if seen.contains(&key) {
                self.err(
                    "duplicate-key",
                    &kpath,
                    k.start,
                    format!("key `{key}` appears twice in {what}"),
                    "keep only one of them; YAML silently uses the last one",
                );
            }
            seen.push(key);
            if !allowed.contains(&key) {
                if let Some(best) = suggest::closest(key, allowed) {
                    self.misspelt.insert(join(path, best));
                }
                let help = suggest::for_unknown_key(key, path, allowed);
                self.err(
                    "unknown-key",
                    &kpath,
                    k.start,
                    format!("unknown key `{key}` in {what}"),
                    help,
                );
            }
        }
        Some(Fields {
            entries,
            path: path.to_string(),
        })
    }

    fn type_error(&mut self, node: &Node, path: &str, expected: &str) {
        self.err(
            "wrong-type",
            path,
            node.start,
            format!("expected {expected}, found {}", node.type_name()),
            "see the service specification reference for the shape of this field",
        );
    }

    fn missing(&mut self, path: &str, key: &str, at: Mark, what: &str) {
        if self.misspelt.contains(&join(path, key)) {
            return;
        }
        self.err(
            "missing-key",
            &join(path, key),
            at,
            format!("{what} has no `{key}`"),
            format!("add `{key}:`; it is required"),
        );
    }

    fn string(&mut self, node: &Node, path: &str) -> Option<Spanned<String>> {
        match node.as_scalar() {
            Some(_) if node.is_null() => {
                self.err(
                    "missing-value",
                    path,
                    node.start,
                    "value is empty".into(),
                    "give a value or remove the key",
                );
                None
            }
            Some((s, _)) => Some(Spanned {
                value: s.to_string(),
                path: path.to_string(),
                at: node.start,
            }),
            None => {
                self.type_error(node, path, "a string");
                None
            }
        }
    }

    fn opt_string(&mut self, f: &Fields<'_>, key: &str) -> Option<Spanned<String>> {
        let (n, p) = f.get(key)?;
        self.string(n, &p)
    }

    fn integer(&mut self, node: &Node, path: &str, max: u64) -> Option<Spanned<u64>> {
        let parsed = match node.as_scalar() {
            Some((s, Style::Plain)) => s.parse::<u64>().ok(),
            _ => None,
        };
        match parsed {
            Some(v) if v <= max => Some(Spanned {
                value: v,
                path: path.to_string(),
                at: node.start,
            }),
            _ => {
                let shown = node
                    .as_scalar()
                    .map_or_else(|| node.type_name().to_string(), |(s, _)| format!("`{s}`"));
                self.err(
                    "invalid-number",
                    path,
                    node.start,
                    format!("expected a whole number up to {max}, found {shown}"),
                    "write an unquoted whole number",
                );
                None
            }
        }
    }

    fn port(&mut self, node: &Node, path: &str) -> Option<Spanned<u16>> {
        let v = self.integer(node, path, 65_535)?;
        if v.value == 0 {
            self.err(
                "invalid-port",
                path,
                node.start,
                "port 0 is not a usable port".into(),
                "use a port from 1 to 65535",
            );
            return None;
        }
        Some(Spanned {
            value: u16::try_from(v.value).ok()?,
            path: v.path,
            at: v.at,
        })
    }

    fn boolean(&mut self, node: &Node, path: &str) -> Option<Spanned<bool>> {
        let v = match node.as_scalar() {
            Some(("true" | "True" | "TRUE", Style::Plain)) => Some(true),
            Some(("false" | "False" | "FALSE", Style::Plain)) => Some(false),
            _ => None,
        };
        match v {
            Some(value) => Some(Spanned {
                value,
                path: path.to_string(),
                at: node.start,
            }),
            None => {
                let shown = node
                    .as_scalar()
                    .map_or_else(|| node.type_name().to_string(), |(s, _)| format!("`{s}`"));
                self.err(
                    "invalid-bool",
                    path,
                    node.start,
                    format!("expected true or false, found {shown}"),
                    "write `true` or `false` without quotes",
                );
                None
            }
        }
    }

    /// The items of a list; a null value is an empty list. Anything else is an error,
    /// and the list is marked as dropped so rules that look names up in it stay silent.
    fn seq<'n>(&mut self, node: &'n Node, path: &str, what: &str) -> &'n [Node] {
        if node.is_null() {
            return &[];
        }
        match node.as_seq() {
            Some(items) => items,
            None => {
                self.type_error(node, path, &format!("a list ({what})"));
                self.decoded.dropped.insert(path.to_string());
                &[]
            }
        }
    }

    /// Decode each item of the list at `path`; the list is marked as dropped when an item
    /// could not be decoded.
    fn items<T>(
        &mut self,
        items: &[Node],
        path: &str,
        mut decode: impl FnMut(&mut Self, &Node, &str) -> Option<T>,
    ) -> Vec<T> {
        let out: Vec<T> = items
            .iter()
            .enumerate()
            .filter_map(|(i, n)| decode(self, n, &format!("{path}[{i}]")))
            .collect();
        if out.len() < items.len() {
            self.decoded.dropped.insert(path.to_string());
        }
        out
    }

    fn strings(&mut self, node: &Node, path: &str, what: &str) -> Vec<Spanned<String>> {
        let items = self.seq(node, path, what);
        items
            .iter()
            .enumerate()
            .filter_map(|(i, n)| self.string(n, &format!("{path}[{i}]")))
            .collect()
    }

    /// Decode the document root.
    pub(super) fn root(&mut self, root: &Node) -> ServiceSpec {
        let mut out = ServiceSpec::default();
        let Some(f) = self.fields(root, "", ROOT_KEYS, "the document") else {
            return out;
        };
        match f.get("spec") {
            Some((n, p)) => out.spec = self.spec(n, &p),
            None => self.missing("", "spec", root.start, "the document"),
        }
        if f.get("spec").is_none_or(|(n, _)| n.as_map().is_none()) {
            // No spec to look names up in: a service role's endpoint is not "unknown".
            for list in ["spec.containers", "spec.endpoints", "spec.volumes"] {
                self.decoded.dropped.insert(list.to_string());
            }
        }
        if let Some((caps, p)) = f.get("capabilities")
            && let Some(cf) = self.fields(caps, &p, &["securityContext"], "capabilities")
            && let Some((sc, sp)) = cf.get("securityContext")
            && let Some(sf) = self.fields(sc, &sp, &["executeAsCaller"], "securityContext")
            && let Some((v, vp)) = sf.get("executeAsCaller")
        {
            out.execute_as_caller = self.boolean(v, &vp);
        }
        if let Some((roles, p)) = f.get("serviceRoles") {
            for (i, r) in self.seq(roles, &p, "service roles").iter().enumerate() {
                let rp = format!("{p}[{i}]");
                let Some(rf) = self.fields(r, &rp, &["name", "endpoints"], "a service role") else {
                    continue;
                };
                let name = self.opt_string(&rf, "name");
                if name.is_none() && rf.get("name").is_none() {
                    self.missing(&rp, "name", r.start, "the service role");
                }
                let endpoints = match rf.get("endpoints") {
                    Some((n, ep)) => self.strings(n, &ep, "endpoint names"),
                    None => {
                        self.missing(&rp, "endpoints", r.start, "the service role");
                        Vec::new()
                    }
                };
                out.service_roles.push(ServiceRole {
                    name,
                    endpoints,
                    path: rp,
                    at: r.start,
                });
            }
        }
        out
    }

    fn spec(&mut self, node: &Node, path: &str) -> Spec {
        let mut out = Spec::default();
        let Some(f) = self.fields(node, path, SPEC_KEYS, "`spec`") else {
            return out;
        };
        match f.get("containers") {
            Some((n, p)) => {
                let items = self.seq(n, &p, "containers");
                // A list that is not a list has its own finding; it is not "empty".
                if items.is_empty() && !self.decoded.dropped.contains(&p) {
                    self.err(
                        "no-containers",
                        &p,
                        n.start,
                        "`spec.containers` is empty".into(),
                        "list at least one container with `name` and `image`",
                    );
                }
                out.containers = self.items(items, &p, Self::container);
            }
            None => self.missing(path, "containers", node.start, "`spec`"),
        }
        if let Some((n, p)) = f.get("endpoints") {
            let items = self.seq(n, &p, "endpoints");
            out.endpoints = self.items(items, &p, Self::endpoint);
        }
        if let Some((n, p)) = f.get("volumes") {
            let items = self.seq(n, &p, "volumes");
            out.volumes = self.items(items, &p, Self::volume);
        }
        if let Some((n, p)) = f.get("logExporters")
            && let Some(lf) = self.fields(n, &p, &["eventTableConfig"], "`logExporters`")
            && let Some((e, ep)) = lf.get("eventTableConfig")
            && let Some(ef) = self.fields(e, &ep, &["logLevel"], "`eventTableConfig`")
            && let Some((l, lp)) = ef.get("logLevel")
            && let Some(s) = self.string(l, &lp)
        {
            out.log_level = match s.value.as_str() {
                "INFO" => Some(LogLevel::Info),
                "ERROR" => Some(LogLevel::Error),
                "NONE" => Some(LogLevel::None),
                other => {
                    let help = match other.to_ascii_uppercase().as_str() {
                        up @ ("INFO" | "ERROR" | "NONE") => format!("write `{up}` in upper case"),
                        _ => "use INFO (all user logs), ERROR (stderr only) or NONE".to_string(),
                    };
                    self.err(
                        "invalid-log-level",
                        &lp,
                        l.start,
                        format!("log level `{other}` is not INFO, ERROR or NONE"),
                        help,
                    );
                    None
                }
            }
            .map(|value| Spanned {
                value,
                path: s.path,
                at: s.at,
            });
        }
        if let Some((n, p)) = f.get("platformMonitor")
            && let Some(pf) = self.fields(n, &p, &["metricConfig"], "`platformMonitor`")
            && let Some((m, mp)) = pf.get("metricConfig")
            && let Some(mf) = self.fields(m, &mp, &["groups"], "`metricConfig`")
            && let Some((g, gp)) = mf.get("groups")
        {
            let groups = self.strings(g, &gp, "metric groups");
            out.metric_groups = Some(Spanned {
                value: groups,
                path: gp,
                at: g.start,
            });
        }
        out
    }
}
