//! Decoding of list items with many rules of their own: secrets, endpoints, volumes.

use crate::model::*;
use crate::units;
use crate::yaml::Node;

use super::{CORS_KEYS, Decoder, ENDPOINT_KEYS, VOLUME_KEYS};

impl Decoder {
    pub(super) fn secret(&mut self, node: &Node, path: &str) -> Option<Secret> {
        let f = self.fields(
            node,
            path,
            &[
                "snowflakeSecret",
                "secretKeyRef",
                "envVarName",
                "directoryPath",
            ],
            "a secret",
        )?;
        let mut s = Secret {
            object_name: None,
            object_reference: None,
            secret_key_ref: self.opt_string(&f, "secretKeyRef"),
            env_var_name: self.opt_string(&f, "envVarName"),
            directory_path: self.opt_string(&f, "directoryPath"),
            path: path.to_string(),
            at: node.start,
        };
        match f.get("snowflakeSecret") {
            Some((n, p)) if n.as_map().is_some() => {
                let sf = self.fields(
                    n,
                    &p,
                    &["objectName", "objectReference"],
                    "`snowflakeSecret`",
                )?;
                s.object_name = self.opt_string(&sf, "objectName");
                s.object_reference = self.opt_string(&sf, "objectReference");
            }
            Some((n, p)) => s.object_name = self.string(n, &p),
            None => self.missing(path, "snowflakeSecret", node.start, "the secret"),
        }
        Some(s)
    }

    pub(super) fn endpoint(&mut self, node: &Node, path: &str) -> Option<Endpoint> {
        let f = self.fields(node, path, ENDPOINT_KEYS, "an endpoint")?;
        let Some((n, p)) = f.get("name") else {
            self.missing(path, "name", node.start, "the endpoint");
            return None;
        };
        let name = self.string(n, &p)?;
        let mut e = Endpoint {
            name,
            port: None,
            port_range: None,
            public: None,
            protocol: None,
            cors_allow_origin: None,
            path: path.to_string(),
            at: node.start,
        };
        if let Some((n, p)) = f.get("port") {
            e.port = self.port(n, &p);
        }
        if let Some((n, p)) = f.get("portRange")
            && let Some(s) = self.string(n, &p)
        {
            let parsed = s.value.split_once('-').and_then(|(a, b)| {
                Some((a.trim().parse::<u16>().ok()?, b.trim().parse::<u16>().ok()?))
            });
            match parsed {
                Some((a, b)) if a > 0 && a <= b => {
                    e.port_range = Some(Spanned {
                        value: (a, b),
                        path: s.path,
                        at: s.at,
                    })
                }
                _ => self.err(
                    "invalid-port-range",
                    &p,
                    n.start,
                    format!(
                        "port range `{}` is not `<first>-<last>` with 1 <= first <= last <= 65535",
                        s.value
                    ),
                    "write e.g. `portRange: 8000-8100`",
                ),
            }
        }
        if let Some((n, p)) = f.get("public") {
            e.public = self.boolean(n, &p);
        }
        if let Some((n, p)) = f.get("protocol")
            && let Some(s) = self.string(n, &p)
        {
            let proto = match s.value.as_str() {
                "TCP" => Some(Protocol::Tcp),
                "HTTP" => Some(Protocol::Http),
                "HTTPS" => Some(Protocol::Https),
                other => {
                    self.err(
                        "invalid-protocol",
                        &p,
                        n.start,
                        format!("protocol `{other}` is not TCP, HTTP or HTTPS"),
                        "write TCP, HTTP or HTTPS in upper case (HTTP is the default)",
                    );
                    None
                }
            };
            e.protocol = proto.map(|value| Spanned {
                value,
                path: s.path,
                at: s.at,
            });
        }
        if let Some((n, p)) = f.get("corsSettings")
            && let Some(cf) = self.fields(n, &p, CORS_KEYS, "`corsSettings`")
        {
            for key in &CORS_KEYS[1..] {
                if let Some((v, vp)) = cf.get(key) {
                    self.strings(v, &vp, "header or method names");
                }
            }
            match cf.get("Access-Control-Allow-Origin") {
                Some((v, vp)) => {
                    let origins = self.strings(v, &vp, "origins");
                    e.cors_allow_origin = Some(Spanned {
                        value: origins,
                        path: vp,
                        at: v.start,
                    });
                }
                None => self.missing(&p, "Access-Control-Allow-Origin", n.start, "`corsSettings`"),
            }
        }
        Some(e)
    }

    pub(super) fn volume(&mut self, node: &Node, path: &str) -> Option<Volume> {
        let f = self.fields(node, path, VOLUME_KEYS, "a volume")?;
        let Some((n, p)) = f.get("name") else {
            self.missing(path, "name", node.start, "the volume");
            return None;
        };
        let name = self.string(n, &p)?;
        let mut v = Volume {
            name,
            source: None,
            size: None,
            block_config: None,
            stage_config: None,
            uid: None,
            gid: None,
            path: path.to_string(),
            at: node.start,
        };
        let stage_from_config = f.get("stageConfig").and_then(|(n, p)| {
            v.stage_config = Some(Spanned {
                value: (),
                path: p.clone(),
                at: n.start,
            });
            self.stage_config(n, &p)
        });
        match f.get("source") {
            Some((n, p)) => {
                if let Some(s) = self.string(n, &p) {
                    let src = match s.value.as_str() {
                        "local" => Some(VolumeSource::Local),
                        "memory" => Some(VolumeSource::Memory),
                        "block" => Some(VolumeSource::Block),
                        "stage" => {
                            if v.stage_config.is_none() {
                                self.missing(
                                    path,
                                    "stageConfig",
                                    n.start,
                                    "a `source: stage` volume",
                                );
                            }
                            stage_from_config.as_ref().map(|st| VolumeSource::Stage {
                                stage: st.value.clone(),
                                v1: false,
                            })
                        }
                        st if st.starts_with('@') && st.len() > 1 => Some(VolumeSource::Stage {
                            stage: st.to_string(),
                            v1: true,
                        }),
                        other => {
                            self.err("invalid-volume-source", &p, n.start, format!("volume source `{other}` is not local, memory, block, stage or \"@<stage>\""), "write e.g. `source: local`, or `source: stage` with `stageConfig: {name: \"@my_stage\"}`");
                            None
                        }
                    };
                    v.source = src.map(|value| Spanned {
                        value,
                        path: s.path,
                        at: s.at,
                    });
                }
            }
            None => self.missing(path, "source", node.start, "the volume"),
        }
        if let Some((n, p)) = f.get("size")
            && let Some(s) = self.string(n, &p)
        {
            let parse = if matches!(
                v.source.as_ref().map(|s| &s.value),
                Some(VolumeSource::Block)
            ) {
                units::parse_block_size
            } else {
                units::parse_memory
            };
            v.size = self.unit(&s, parse);
        }
        if let Some((n, p)) = f.get("blockConfig") {
            v.block_config = Some(Spanned {
                value: (),
                path: p.clone(),
                at: n.start,
            });
            self.block_config(n, &p);
        }
        for (key, slot) in [("uid", &mut v.uid), ("gid", &mut v.gid)] {
            if let Some((n, p)) = f.get(key) {
                *slot = self.integer(n, &p, u64::from(u32::MAX)).map(|s| Spanned {
                    value: u32::try_from(s.value).unwrap_or(u32::MAX),
                    path: s.path,
                    at: s.at,
                });
            }
        }
        Some(v)
    }

    /// `stageConfig` (Stage Mount v2): its `name`, the stage.
    fn stage_config(&mut self, n: &Node, p: &str) -> Option<Spanned<String>> {
        let sf = self.fields(n, p, &["name", "resources"], "`stageConfig`")?;
        if sf.get("name").is_none() {
            self.missing(p, "name", n.start, "`stageConfig`");
        }
        if let Some((r, rp)) = sf.get("resources")
            && let Some(rf) = self.fields(r, &rp, &["requests", "limits"], "`resources`")
        {
            for key in ["requests", "limits"] {
                if let Some((x, xp)) = rf.get(key) {
                    self.resources(x, &xp, false);
                }
            }
        }
        self.opt_string(&sf, "name")
    }

    /// `blockConfig` of a block volume: checked, not kept.
    fn block_config(&mut self, n: &Node, p: &str) {
        let Some(bf) = self.fields(
            n,
            p,
            &["initialContents", "iops", "throughput", "encryption"],
            "`blockConfig`",
        ) else {
            return;
        };
        if let Some((ic, icp)) = bf.get("initialContents")
            && let Some(icf) = self.fields(ic, &icp, &["fromSnapshot"], "`initialContents`")
        {
            self.opt_string(&icf, "fromSnapshot");
        }
        for key in ["iops", "throughput"] {
            if let Some((x, xp)) = bf.get(key) {
                self.integer(x, &xp, u64::from(u32::MAX));
            }
        }
        if let Some(enc) = self.opt_string(&bf, "encryption")
            && !matches!(enc.value.as_str(), "SNOWFLAKE_SSE" | "SNOWFLAKE_FULL")
        {
            self.err(
                "invalid-encryption",
                &enc.path,
                enc.at,
                format!(
                    "encryption `{}` is not SNOWFLAKE_SSE or SNOWFLAKE_FULL",
                    enc.value
                ),
                "write SNOWFLAKE_SSE or SNOWFLAKE_FULL",
            );
        }
    }
}
