//! YAML tree -> [`ServiceSpec`], reporting unknown keys, wrong types and bad values.
//!
//! Strict in the spirit of `#[serde(deny_unknown_fields)]`: every mapping has a closed set
//! of keys, and a key that is not in it is an error with a "did you mean" hint.

use crate::finding::Finding;
use crate::model::*;
use crate::units;
use crate::yaml::{Kind, Mark, Node, Style};

use super::suggest;

mod items;

/// Collects findings while walking the tree.
pub(super) struct Decoder {
    pub(super) findings: Vec<Finding>,
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
const CONTAINER_KEYS: &[&str] = &[
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

    fn seq<'n>(&mut self, node: &'n Node, path: &str, what: &str) -> &'n [Node] {
        if node.is_null() {
            return &[];
        }
        match node.as_seq() {
            Some(items) => items,
            None => {
                self.type_error(node, path, &format!("a list ({what})"));
                &[]
            }
        }
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
                if items.is_empty() {
                    self.err(
                        "no-containers",
                        &p,
                        n.start,
                        "`spec.containers` is empty".into(),
                        "list at least one container with `name` and `image`",
                    );
                }
                out.containers = items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, c)| self.container(c, &format!("{p}[{i}]")))
                    .collect();
            }
            None => self.missing(path, "containers", node.start, "`spec`"),
        }
        if let Some((n, p)) = f.get("endpoints") {
            let items = self.seq(n, &p, "endpoints");
            out.endpoints = items
                .iter()
                .enumerate()
                .filter_map(|(i, e)| self.endpoint(e, &format!("{p}[{i}]")))
                .collect();
        }
        if let Some((n, p)) = f.get("volumes") {
            let items = self.seq(n, &p, "volumes");
            out.volumes = items
                .iter()
                .enumerate()
                .filter_map(|(i, v)| self.volume(v, &format!("{p}[{i}]")))
                .collect();
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

    fn container(&mut self, node: &Node, path: &str) -> Option<Container> {
        let f = self.fields(node, path, CONTAINER_KEYS, "a container")?;
        let name = match f.get("name") {
            Some((n, p)) => self.string(n, &p)?,
            None => {
                self.missing(path, "name", node.start, "the container");
                return None;
            }
        };
        let image = self.opt_string(&f, "image");
        if f.get("image").is_none() {
            self.missing(path, "image", node.start, "the container");
        }
        let mut c = Container {
            name,
            image,
            command: Vec::new(),
            args: Vec::new(),
            env: Vec::new(),
            readiness_probe: None,
            volume_mounts: Vec::new(),
            requests: Resources::default(),
            limits: Resources::default(),
            secrets: Vec::new(),
            path: path.to_string(),
            at: node.start,
        };
        if let Some((n, p)) = f.get("command") {
            c.command = self.strings(n, &p, "command words");
        }
        if let Some((n, p)) = f.get("args") {
            c.args = self.strings(n, &p, "arguments");
        }
        if let Some((n, p)) = f.get("env")
            && !n.is_null()
        {
            match n.as_map() {
                Some(entries) => {
                    for (k, v) in entries {
                        let Some(key) = self.string(k, &p) else {
                            continue;
                        };
                        let vp = join(&p, &key.value);
                        let value = match &v.kind {
                            // An empty value is legal: the variable is set to "".
                            Kind::Scalar(s, _) => Spanned {
                                value: if v.is_null() {
                                    String::new()
                                } else {
                                    s.clone()
                                },
                                path: vp,
                                at: v.start,
                            },
                            _ => {
                                self.type_error(v, &vp, "a scalar environment value");
                                continue;
                            }
                        };
                        c.env.push((key, value));
                    }
                }
                None => self.type_error(n, &p, "a mapping of variable names to values"),
            }
        }
        if let Some((n, p)) = f.get("readinessProbe")
            && let Some(rf) = self.fields(n, &p, &["port", "path"], "`readinessProbe`")
        {
            let port = rf.get("port").and_then(|(v, vp)| self.port(v, &vp));
            let hpath = self.opt_string(&rf, "path");
            for key in ["port", "path"] {
                if rf.get(key).is_none() {
                    self.missing(&p, key, n.start, "`readinessProbe`");
                }
            }
            c.readiness_probe = Some(ReadinessProbe { port, path: hpath });
        }
        if let Some((n, p)) = f.get("volumeMounts") {
            for (i, m) in self.seq(n, &p, "volume mounts").iter().enumerate() {
                let mp = format!("{p}[{i}]");
                let Some(mf) = self.fields(m, &mp, &["name", "mountPath"], "a volume mount") else {
                    continue;
                };
                let name = self.opt_string(&mf, "name");
                let mount_path = self.opt_string(&mf, "mountPath");
                for key in ["name", "mountPath"] {
                    if mf.get(key).is_none() {
                        self.missing(&mp, key, m.start, "the volume mount");
                    }
                }
                if let (Some(name), Some(mount_path)) = (name, mount_path) {
                    c.volume_mounts.push(VolumeMount { name, mount_path });
                }
            }
        }
        if let Some((n, p)) = f.get("resources")
            && let Some(rf) = self.fields(n, &p, &["requests", "limits"], "`resources`")
        {
            if let Some((r, rp)) = rf.get("requests") {
                c.requests = self.resources(r, &rp, true);
            }
            if let Some((l, lp)) = rf.get("limits") {
                c.limits = self.resources(l, &lp, true);
            }
        }
        if let Some((n, p)) = f.get("secrets") {
            for (i, s) in self.seq(n, &p, "secrets").iter().enumerate() {
                if let Some(secret) = self.secret(s, &format!("{p}[{i}]")) {
                    c.secrets.push(secret);
                }
            }
        }
        Some(c)
    }

    fn resources(&mut self, node: &Node, path: &str, gpu_allowed: bool) -> Resources {
        let keys: &[&str] = if gpu_allowed {
            &["memory", "cpu", "nvidia.com/gpu"]
        } else {
            &["memory", "cpu"]
        };
        let mut out = Resources::default();
        let Some(f) = self.fields(node, path, keys, "resource amounts") else {
            return out;
        };
        if let Some((n, p)) = f.get("memory")
            && let Some(s) = self.string(n, &p)
        {
            out.memory = self.unit(&s, units::parse_memory);
        }
        if let Some((n, p)) = f.get("cpu")
            && let Some(s) = self.string(n, &p)
        {
            out.cpu = self.unit(&s, units::parse_cpu);
        }
        if let Some((n, p)) = f.get("nvidia.com/gpu")
            && let Some(s) = self.string(n, &p)
        {
            out.gpu = self.unit(&s, units::parse_gpu);
        }
        out
    }

    fn unit<T>(
        &mut self,
        s: &Spanned<String>,
        parse: fn(&str) -> Result<T, units::UnitError>,
    ) -> Option<Spanned<T>> {
        match parse(&s.value) {
            Ok(value) => Some(Spanned {
                value,
                path: s.path.clone(),
                at: s.at,
            }),
            Err(e) => {
                self.err(
                    "invalid-quantity",
                    &s.path,
                    s.at,
                    e.to_string(),
                    "units: Ki Mi Gi (binary), k M G (decimal), m (milli, cpu only)",
                );
                None
            }
        }
    }
}
