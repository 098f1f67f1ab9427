//! Decoding of a container: its fields, resources and the units of its amounts.

use crate::model::*;
use crate::units;
use crate::yaml::{Kind, Node};

use super::{CONTAINER_KEYS, Decoder, join};

impl Decoder {
    pub(super) fn container(&mut self, node: &Node, path: &str) -> Option<Container> {
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
        if let Some((n, p)) = f.get("env") {
            c.env = self.env(n, &p);
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
            c.volume_mounts = self.volume_mounts(n, &p);
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

    /// `env`: a mapping of names to scalars; an empty value sets the variable to "".
    fn env(&mut self, n: &Node, p: &str) -> Vec<(Spanned<String>, Spanned<String>)> {
        let mut out = Vec::new();
        if n.is_null() {
            return out;
        }
        let Some(entries) = n.as_map() else {
            self.type_error(n, p, "a mapping of variable names to values");
            return out;
        };
        for (k, v) in entries {
            let Some(key) = self.string(k, p) else {
                continue;
            };
            let vp = join(p, &key.value);
            match &v.kind {
                Kind::Scalar(s, _) => {
                    let value = if v.is_null() {
                        String::new()
                    } else {
                        s.clone()
                    };
                    out.push((
                        key,
                        Spanned {
                            value,
                            path: vp,
                            at: v.start,
                        },
                    ));
                }
                _ => self.type_error(v, &vp, "a scalar environment value"),
            }
        }
        out
    }

    /// `volumeMounts`; a mount that cannot be decoded marks the list as dropped.
    fn volume_mounts(&mut self, n: &Node, p: &str) -> Vec<VolumeMount> {
        let mut out = Vec::new();
        for (i, m) in self.seq(n, p, "volume mounts").iter().enumerate() {
            let mp = format!("{p}[{i}]");
            let Some(mf) = self.fields(m, &mp, &["name", "mountPath"], "a volume mount") else {
                self.decoded.dropped.insert(p.to_string());
                continue;
            };
            let name = self.opt_string(&mf, "name");
            let mount_path = self.opt_string(&mf, "mountPath");
            for key in ["name", "mountPath"] {
                if mf.get(key).is_none() {
                    self.missing(&mp, key, m.start, "the volume mount");
                }
            }
            match (name, mount_path) {
                (Some(name), Some(mount_path)) => out.push(VolumeMount { name, mount_path }),
                _ => {
                    self.decoded.dropped.insert(p.to_string());
                }
            }
        }
        out
    }

    pub(super) fn resources(&mut self, node: &Node, path: &str, gpu_allowed: bool) -> Resources {
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

    pub(super) fn unit<T>(
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
