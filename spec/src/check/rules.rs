//! Semantic rules of SPCS.md §9 and the reference, applied to a decoded spec.

use std::collections::HashMap;

use crate::finding::Finding;
use crate::model::*;

use super::CheckOptions;
use super::decode::Decoded;

/// Platform metric groups of the reference (SPCS.md §5).
pub const METRIC_GROUPS: &[&str] = &["system", "system_limits", "status", "network", "storage"];

/// Apply every rule; push findings to `out`. A rule stays silent when what it needs was
/// rejected by the decoder (`d`): that finding is the root cause.
pub(super) fn apply(spec: &ServiceSpec, opts: &CheckOptions, d: &Decoded, out: &mut Vec<Finding>) {
    let s = &spec.spec;
    names(s.containers.iter().map(|c| &c.name), "container", out);
    names(s.endpoints.iter().map(|e| &e.name), "endpoint", out);
    names(s.volumes.iter().map(|v| &v.name), "volume", out);
    for c in &s.containers {
        container(c, s, d, out);
    }
    for e in &s.endpoints {
        endpoint(e, opts, d, out);
    }
    for v in &s.volumes {
        volume(v, s, d, out);
    }
    if let Some(groups) = &s.metric_groups {
        for g in &groups.value {
            if !METRIC_GROUPS.contains(&g.value.as_str()) {
                let help = if g.value.to_ascii_lowercase().contains("gpu") {
                    "GPU metrics are part of `system` and `system_limits`; there is no gpu group"
                        .to_string()
                } else {
                    match super::suggest::closest(&g.value, METRIC_GROUPS) {
                        Some(b) => format!("did you mean `{b}`?"),
                        None => format!("groups are: {}", METRIC_GROUPS.join(", ")),
                    }
                };
                out.push(Finding::error(
                    "unknown-metric-group",
                    &g.path,
                    g.at,
                    format!("`{}` is not a platform metric group", g.value),
                    help,
                ));
            }
        }
    }
    for r in &spec.service_roles {
        if let Some(n) = &r.name
            && !valid_role_name(&n.value)
        {
            out.push(Finding::error("invalid-role-name", &n.path, n.at, format!("service role name `{}` must contain only letters, digits or `_`, start with a letter and end with a letter or digit", n.value), "rename it, e.g. `api_users`"));
        }
        for e in &r.endpoints {
            if !d.dropped("spec.endpoints") && !s.endpoints.iter().any(|x| x.name.value == e.value)
            {
                out.push(Finding::error("unknown-endpoint", &e.path, e.at, format!("service role refers to endpoint `{}`, which `spec.endpoints` does not define", e.value), known("endpoints", s.endpoints.iter().map(|x| x.name.value.as_str()))));
            }
        }
    }
}

fn known<'a>(what: &str, names: impl Iterator<Item = &'a str>) -> String {
    let list: Vec<&str> = names.collect();
    if list.is_empty() {
        format!("no {what} are defined")
    } else {
        format!("defined {what}: {}", list.join(", "))
    }
}

/// SPCS name rule: ≤63 chars, lowercase alphanumerics or `-`, starts with a letter, ends
/// with a letter or digit.
pub fn valid_name(n: &str) -> bool {
    n.len() <= 63
        && n.starts_with(|c: char| c.is_ascii_lowercase())
        && n.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Service role names: alphanumerics or `_`, start with a letter, end alphanumeric.
pub fn valid_role_name(n: &str) -> bool {
    n.starts_with(|c: char| c.is_ascii_alphabetic())
        && n.ends_with(|c: char| c.is_ascii_alphanumeric())
        && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn names<'a>(list: impl Iterator<Item = &'a Spanned<String>>, what: &str, out: &mut Vec<Finding>) {
    let mut seen: HashMap<&str, &Spanned<String>> = HashMap::new();
    for n in list {
        if !valid_name(&n.value) {
            let fixed: String = n
                .value
                .to_ascii_lowercase()
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect();
            let fixed = fixed.trim_matches('-');
            let help = if valid_name(fixed) {
                format!("rename it, e.g. `{fixed}`")
            } else {
                "use up to 63 lowercase letters, digits and `-`".to_string()
            };
            out.push(Finding::error("invalid-name", &n.path, n.at, format!("{what} name `{}` must be at most 63 lowercase letters, digits or `-`, start with a letter and end with a letter or digit", n.value), help));
        }
        if let Some(first) = seen.insert(&n.value, n) {
            out.push(Finding::error(
                "duplicate-name",
                &n.path,
                n.at,
                format!(
                    "{what} name `{}` is already used at {}",
                    n.value, first.path
                ),
                format!("give each {what} a unique name"),
            ));
        }
    }
}

fn container(c: &Container, s: &Spec, d: &Decoded, out: &mut Vec<Finding>) {
    let (req, lim) = (&c.requests, &c.limits);
    if let Some(g) = &req.gpu {
        match &lim.gpu {
            Some(l) if l.value == g.value => {}
            None if d.rejected(&format!("{}.resources.limits", c.path)) => {}
            Some(l) => out.push(Finding::error(
                "gpu-limit",
                &l.path,
                l.at,
                format!("GPU limit {} differs from the request {}", l.value, g.value),
                "set `limits.nvidia.com/gpu` equal to `requests.nvidia.com/gpu`",
            )),
            None => out.push(Finding::error(
                "gpu-limit",
                &g.path,
                g.at,
                format!("GPU request {} has no matching limit", g.value),
                format!("add `nvidia.com/gpu: {}` under `resources.limits`", g.value),
            )),
        }
    }
    if let (Some(r), Some(l)) = (&req.memory, &lim.memory)
        && r.value > l.value
    {
        out.push(Finding::error(
            "request-exceeds-limit",
            &r.path,
            r.at,
            format!(
                "memory request ({} bytes) is more than the limit ({} bytes)",
                r.value, l.value
            ),
            "lower the request or raise the limit",
        ));
    }
    if let (Some(r), Some(l)) = (&req.cpu, &lim.cpu)
        && r.value > l.value
    {
        out.push(Finding::error(
            "request-exceeds-limit",
            &r.path,
            r.at,
            format!(
                "cpu request ({}) is more than the limit ({})",
                r.value, l.value
            ),
            "lower the request or raise the limit",
        ));
    }
    if let Some(p) = &c.readiness_probe
        && let Some(path) = &p.path
        && !path.value.starts_with('/')
    {
        out.push(Finding::error(
            "invalid-probe-path",
            &path.path,
            path.at,
            format!(
                "readiness probe path `{}` does not start with `/`",
                path.value
            ),
            format!("write `/{}`", path.value),
        ));
    }
    for m in &c.volume_mounts {
        if !d.dropped("spec.volumes") && !s.volumes.iter().any(|v| v.name.value == m.name.value) {
            out.push(Finding::error(
                "unknown-volume",
                &m.name.path,
                m.name.at,
                format!(
                    "volume mount refers to `{}`, which `spec.volumes` does not define",
                    m.name.value
                ),
                known("volumes", s.volumes.iter().map(|v| v.name.value.as_str())),
            ));
        }
        if !m.mount_path.value.starts_with('/') {
            out.push(Finding::error(
                "invalid-mount-path",
                &m.mount_path.path,
                m.mount_path.at,
                format!("mount path `{}` is not absolute", m.mount_path.value),
                format!("write `/{}`", m.mount_path.value),
            ));
        }
    }
    for sec in &c.secrets {
        secret(sec, d, out);
    }
}

fn secret(s: &Secret, d: &Decoded, out: &mut Vec<Finding>) {
    if s.object_name.is_some() == s.object_reference.is_some()
        && (s.object_name.is_some() || s.object_reference.is_some())
    {
        out.push(Finding::error(
            "secret-object",
            &s.path,
            s.at,
            "secret gives both `objectName` and `objectReference`",
            "keep only one",
        ));
    }
    match (&s.env_var_name, &s.directory_path) {
        (Some(_), Some(_)) => out.push(Finding::error(
            "secret-target",
            &s.path,
            s.at,
            "secret gives both `envVarName` and `directoryPath`",
            "keep one: an environment variable or a directory of files",
        )),
        (None, None)
            if !d.rejected(&format!("{}.envVarName", s.path))
                && !d.rejected(&format!("{}.directoryPath", s.path)) =>
        {
            out.push(Finding::error(
                "secret-target",
                &s.path,
                s.at,
                "secret gives neither `envVarName` nor `directoryPath`",
                "add `envVarName: NAME` or `directoryPath: /path`",
            ))
        }
        _ => {}
    }
    if let Some(k) = &s.secret_key_ref {
        if s.env_var_name.is_none() {
            out.push(Finding::error(
                "secret-key-ref",
                &k.path,
                k.at,
                "`secretKeyRef` is only allowed with `envVarName`",
                "remove `secretKeyRef`; with `directoryPath` every key becomes a file",
            ));
        }
        if !matches!(k.value.as_str(), "username" | "password" | "secret_string") {
            out.push(Finding::error(
                "secret-key-ref",
                &k.path,
                k.at,
                format!(
                    "`secretKeyRef` is `{}`, not username, password or secret_string",
                    k.value
                ),
                "write username, password or secret_string",
            ));
        }
    }
}

fn endpoint(e: &Endpoint, opts: &CheckOptions, d: &Decoded, out: &mut Vec<Finding>) {
    let rejected = |key: &str| d.rejected(&join_path(&e.path, key));
    // A protocol or `public` the decoder rejected is unknown, not the default.
    let proto_known = !rejected("protocol");
    let public_known = !rejected("public");
    match (&e.port, &e.port_range) {
        (Some(_), Some(r)) => out.push(Finding::error(
            "port-xor-range",
            &r.path,
            r.at,
            "endpoint has both `port` and `portRange`",
            "keep one of them",
        )),
        (None, None) if !rejected("port") && !rejected("portRange") => out.push(Finding::error(
            "port-xor-range",
            &e.name.path,
            e.name.at,
            format!(
                "endpoint `{}` has neither `port` nor `portRange`",
                e.name.value
            ),
            "add `port: <number>`",
        )),
        _ => {}
    }
    let proto = e.protocol();
    if let Some(r) = &e.port_range
        && proto_known
        && public_known
        && (proto != Protocol::Tcp || e.is_public())
    {
        out.push(Finding::error(
            "port-range",
            &r.path,
            r.at,
            "`portRange` is only allowed with `protocol: TCP` on a non-public endpoint",
            "add `protocol: TCP` and remove `public: true`, or use a single `port`",
        ));
    }
    if e.is_public() && proto_known && proto == Protocol::Tcp {
        let at = e.public.as_ref().map_or(e.at, |p| p.at);
        out.push(Finding::error(
            "public-protocol",
            join_path(&e.path, "public"),
            at,
            "public endpoints must be HTTP; TCP cannot be public",
            "remove `public: true` or use `protocol: HTTP`",
        ));
    }
    if opts.job && proto_known && proto != Protocol::Tcp {
        let (path, at) = e
            .protocol
            .as_ref()
            .map_or((e.name.path.clone(), e.name.at), |p| (p.path.clone(), p.at));
        out.push(Finding::error(
            "job-endpoint-protocol",
            path,
            at,
            format!(
                "job service endpoint `{}` is not TCP (HTTP is the default)",
                e.name.value
            ),
            "add `protocol: TCP`; job services support only TCP endpoints",
        ));
    }
    if let Some(origins) = &e.cors_allow_origin {
        cors(origins, e.is_public() || !public_known, d, out);
    }
}

/// `corsSettings.Access-Control-Allow-Origin` of an endpoint; `public` is false only when
/// the endpoint is known not to be public.
fn cors(
    origins: &Spanned<Vec<Spanned<String>>>,
    public: bool,
    d: &Decoded,
    out: &mut Vec<Finding>,
) {
    if !public {
        out.push(Finding::warning(
            "cors-not-public",
            &origins.path,
            origins.at,
            "`corsSettings` only applies to public endpoints",
            "add `public: true` or remove `corsSettings`",
        ));
    }
    if origins.value.is_empty() && !d.rejected(&origins.path) {
        out.push(Finding::error(
            "cors-origin",
            &origins.path,
            origins.at,
            "`Access-Control-Allow-Origin` lists no origin",
            "list at least one origin, e.g. `https://example.com`",
        ));
    }
    for o in &origins.value {
        let bad = if o.value.contains('*') {
            Some("the `*` wildcard is not allowed")
        } else if !(o.value.starts_with("http://") || o.value.starts_with("https://")) {
            Some("an origin is a URL starting with http:// or https://")
        } else if o
            .value
            .splitn(4, '/')
            .nth(3)
            .is_some_and(|rest| !rest.is_empty())
        {
            Some("an origin has no path")
        } else {
            None
        };
        if let Some(why) = bad {
            out.push(Finding::error(
                "cors-origin",
                &o.path,
                o.at,
                format!("origin `{}` is invalid: {why}", o.value),
                "write e.g. `https://example.com` or `https://example.com:12345`",
            ));
        }
    }
}

fn join_path(path: &str, key: &str) -> String {
    super::decode::join(path, key)
}

fn volume(v: &Volume, s: &Spec, d: &Decoded, out: &mut Vec<Finding>) {
    let Some(src) = &v.source else { return };
    let is_stage = matches!(src.value, VolumeSource::Stage { .. });
    match &src.value {
        VolumeSource::Memory | VolumeSource::Block
            if v.size.is_none() && !d.rejected(&join_path(&v.path, "size")) =>
        {
            let kind = if src.value == VolumeSource::Memory {
                "memory"
            } else {
                "block"
            };
            out.push(Finding::error(
                "volume-size",
                &v.name.path,
                v.name.at,
                format!("{kind} volume `{}` has no `size`", v.name.value),
                if kind == "block" {
                    "add e.g. `size: 10Gi` (whole Gi)"
                } else {
                    "add e.g. `size: 2Gi`"
                },
            ));
        }
        VolumeSource::Local | VolumeSource::Stage { .. } => {
            if let Some(sz) = &v.size {
                out.push(Finding::error(
                    "volume-size",
                    &sz.path,
                    sz.at,
                    "`size` is only for memory and block volumes",
                    "remove `size`",
                ));
            }
        }
        _ => {}
    }
    if let VolumeSource::Stage { v1: true, stage } = &src.value {
        out.push(Finding::warning(
            "stage-mount-v1",
            &src.path,
            src.at,
            format!("`source: \"{stage}\"` is the deprecated Stage Mount v1 form"),
            format!("write `source: stage` with `stageConfig: {{name: \"{stage}\"}}` (v2)"),
        ));
    }
    if let Some(b) = &v.block_config
        && src.value != VolumeSource::Block
    {
        out.push(Finding::error(
            "block-config",
            &b.path,
            b.at,
            "`blockConfig` is only for block volumes",
            "remove `blockConfig` or use `source: block`",
        ));
    }
    if let Some(sc) = &v.stage_config
        && !matches!(&src.value, VolumeSource::Stage { v1: false, .. })
    {
        out.push(Finding::error(
            "stage-config",
            &sc.path,
            sc.at,
            "`stageConfig` is only for `source: stage` volumes",
            "use `source: stage`, or remove `stageConfig`",
        ));
    }
    for id in [&v.uid, &v.gid].into_iter().flatten() {
        if !is_stage {
            out.push(Finding::error(
                "uid-gid-not-stage",
                &id.path,
                id.at,
                "`uid`/`gid` are only for stage volumes",
                "remove it; other volume types are mounted for the container's user",
            ));
        }
    }
    // A container or mount the decoder dropped might be the one that mounts it.
    if !d.dropped("spec.containers")
        && !s
            .containers
            .iter()
            .any(|c| c.volume_mounts.iter().any(|m| m.name.value == v.name.value))
    {
        out.push(Finding::warning(
            "unused-volume",
            &v.name.path,
            v.name.at,
            format!("volume `{}` is not mounted by any container", v.name.value),
            "add a `volumeMounts` entry or remove the volume",
        ));
    }
}
