//! Which cgroup firn samples and where its files are: cgroup v2 (unified), v1 (one hierarchy
//! per controller, e.g. `cpu,cpuacct` and `memory`) or hybrid (v1 controllers beside a v2
//! mount), found from `/proc/self/cgroup` and `/proc/self/mountinfo`.

use std::path::{Path, PathBuf};

/// A controller's folder and the version of its hierarchy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dir {
    /// cgroup v1: file names such as `cpuacct.usage`, `memory.usage_in_bytes`.
    V1(PathBuf),
    /// cgroup v2: `cpu.stat`, `memory.current`, `io.stat`.
    V2(PathBuf),
}

impl Dir {
    /// The folder.
    pub fn path(&self) -> &Path {
        match self {
            Self::V1(p) | Self::V2(p) => p,
        }
    }
}

/// The sampled cgroup's folders, per controller; `None` where no hierarchy has it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cgroup {
    /// `v2`, `v1`, `hybrid`, or `none`.
    pub layout: &'static str,
    /// CPU time used (`cpu.stat` usage_usec, v1 `cpuacct.usage`).
    pub cpuacct: Option<Dir>,
    /// CPU quota (`cpu.max`, v1 `cpu.cfs_quota_us`).
    pub cpu: Option<Dir>,
    /// Memory (`memory.current`, v1 `memory.usage_in_bytes`).
    pub memory: Option<Dir>,
    /// Block I/O (`io.stat`, v1 `blkio.throttle.*`).
    pub io: Option<Dir>,
}

impl Cgroup {
    /// For the start-up log: `layout cpu=... memory=...`.
    pub fn describe(&self) -> String {
        let d = |name: &str, d: &Option<Dir>| match d {
            Some(Dir::V1(p)) => format!("{name}=v1:{}", p.display()),
            Some(Dir::V2(p)) => format!("{name}=v2:{}", p.display()),
            None => format!("{name}=none"),
        };
        format!(
            "{} {} {} {} {}",
            self.layout,
            d("cpuacct", &self.cpuacct),
            d("cpu", &self.cpu),
            d("memory", &self.memory),
            d("io", &self.io)
        )
    }
}

/// A cgroup file-system mount from mountinfo.
#[derive(Debug)]
struct Mount {
    root: String,
    point: PathBuf,
    v2: bool,
    controllers: Vec<String>,
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
        if let (b'\\', Some(d)) = (b[i], octal) {
            let n = d.iter().fold(0u32, |n, c| n * 8 + u32::from(c - b'0'));
            out.push(u8::try_from(n).unwrap_or(b'?'));
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn cgroup_mounts(mountinfo: &str) -> Vec<Mount> {
    let mut out = Vec::new();
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let l: Vec<&str> = left.split(' ').collect();
        let r: Vec<&str> = right.split(' ').collect();
        let (Some(root), Some(point), Some(fstype)) = (l.get(3), l.get(4), r.first()) else {
            continue;
        };
        let v2 = match *fstype {
            "cgroup2" => true,
            "cgroup" => false,
            _ => continue,
        };
        let controllers = if v2 {
            Vec::new()
        } else {
            r.get(2)
                .map(|o| {
                    o.split(',')
                        .filter(|c| !c.starts_with("name=") && *c != "rw" && *c != "ro")
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        out.push(Mount {
            root: unescape(root),
            point: PathBuf::from(unescape(point)),
            v2,
            controllers,
        });
    }
    out
}

/// Joins a cgroup path to a mount: the part of `path` below the mount's root, under its
/// mount point (below `host_root`, which is `/` except in tests).
fn join(host_root: &Path, m: &Mount, path: &str) -> PathBuf {
    let rel = path
        .strip_prefix(m.root.as_str())
        .unwrap_or(path)
        .trim_start_matches('/');
    let point = host_root.join(m.point.strip_prefix("/").unwrap_or(&m.point));
    if rel.is_empty() {
        point
    } else {
        point.join(rel)
    }
}

/// Finds the cgroup's folders. `proc_cgroup` is `/proc/self/cgroup`, `mountinfo`
/// `/proc/self/mountinfo`; `path` (`--cgroup`) replaces the paths `proc_cgroup` gives.
pub fn discover(
    proc_cgroup: &str,
    mountinfo: &str,
    host_root: &Path,
    path: Option<&str>,
) -> Cgroup {
    let mounts = cgroup_mounts(mountinfo);
    // hierarchy lines: (controllers, path); v2's has no controllers.
    let lines: Vec<(Vec<&str>, &str)> = proc_cgroup
        .lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let _id = it.next()?;
            let ctrls = it.next()?;
            let p = it.next()?;
            Some((ctrls.split(',').filter(|c| !c.is_empty()).collect(), p))
        })
        .collect();
    let v2_path = lines
        .iter()
        .find(|(c, _)| c.is_empty())
        .map(|(_, p)| *p)
        .or(path.filter(|_| mounts.iter().any(|m| m.v2)));
    let v2_dir = mounts
        .iter()
        .find(|m| m.v2)
        .zip(v2_path)
        .map(|(m, p)| join(host_root, m, path.unwrap_or(p)));
    let v1 = |ctrl: &str| -> Option<Dir> {
        let m = mounts
            .iter()
            .find(|m| !m.v2 && m.controllers.iter().any(|c| c == ctrl))?;
        let p = lines
            .iter()
            .find(|(c, _)| c.contains(&ctrl))
            .map(|(_, p)| *p)?;
        Some(Dir::V1(join(host_root, m, path.unwrap_or(p))))
    };
    let pick = |ctrl: &str| v1(ctrl).or_else(|| v2_dir.clone().map(Dir::V2));
    let cg = Cgroup {
        layout: "",
        cpuacct: pick("cpuacct"),
        cpu: pick("cpu"),
        memory: pick("memory"),
        io: pick("blkio"),
    };
    let dirs = [&cg.cpuacct, &cg.cpu, &cg.memory, &cg.io];
    let any_v1 = dirs.iter().any(|d| matches!(d, Some(Dir::V1(_))));
    let layout = match (any_v1, v2_dir.is_some()) {
        (true, true) => "hybrid",
        (true, false) => "v1",
        (false, true) => "v2",
        (false, false) => "none",
    };
    Cgroup { layout, ..cg }
}

/// The value of `key` in a flat-keyed file (`cpu.stat`, `memory.stat`): `key value` lines.
pub fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// Per-device I/O counters of one cgroup.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Io {
    /// Bytes read.
    pub rbytes: u64,
    /// Bytes written.
    pub wbytes: u64,
    /// Read operations.
    pub rios: u64,
    /// Write operations.
    pub wios: u64,
}

/// The `MAJ:MIN` device's counters from v2 `io.stat` text.
pub fn io_stat_v2(text: &str, dev: &str) -> Option<Io> {
    let line = text.lines().find(|l| l.split(' ').next() == Some(dev))?;
    let mut io = Io::default();
    for kv in line.split(' ').skip(1) {
        let Some((k, v)) = kv.split_once('=') else {
            continue;
        };
        let v: u64 = v.parse().unwrap_or(0);
        match k {
            "rbytes" => io.rbytes = v,
            "wbytes" => io.wbytes = v,
            "rios" => io.rios = v,
            "wios" => io.wios = v,
            _ => {}
        }
    }
    Some(io)
}

/// The `MAJ:MIN` device's `(Read, Write)` from a v1 `blkio.throttle.io_service_bytes` or
/// `io_serviced` file; `None` when the device has no line.
pub fn blkio_v1(text: &str, dev: &str) -> Option<(u64, u64)> {
    let mut found = false;
    let (mut r, mut w) = (0, 0);
    for l in text.lines() {
        let mut it = l.split(' ');
        if it.next() != Some(dev) {
            continue;
        }
        found = true;
        match (it.next(), it.next().and_then(|v| v.parse::<u64>().ok())) {
            (Some("Read"), Some(v)) => r = v,
            (Some("Write"), Some(v)) => w = v,
            _ => {}
        }
    }
    found.then_some((r, w))
}
