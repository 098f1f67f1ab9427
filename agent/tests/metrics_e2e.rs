//! The platform metric groups on this machine: real cgroups, a network namespace with a
//! veth pair, and a tmpfs, each made by the test (they need root, as CI has). Where that is
//! not possible the test says so on stderr, and fails when FIRN_REQUIRE_ROOT_TESTS=1 (CI).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::read_rows;

const FIRN: &str = env!("CARGO_BIN_EXE_firn-agent");

/// Reports a test that cannot run here: loudly, and as a failure where it must run.
fn cannot_run(what: &str, why: &str) {
    let msg = format!("NOT RUN: {what}: {why} (needs root with cgroup, netns and mount rights)");
    eprintln!("\n!!!!!!!! {msg} !!!!!!!!\n");
    if std::env::var("FIRN_REQUIRE_ROOT_TESTS").is_ok_and(|v| v == "1") {
        panic!("{msg}; FIRN_REQUIRE_ROOT_TESTS=1 says this machine must run it");
    }
}

static SEQ: AtomicU32 = AtomicU32::new(0);
fn unique(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    )
}

/// A cgroup of the test's own in every hierarchy firn reads (v1: cpu, cpuacct, memory;
/// v2: one folder with cpu and memory enabled). Removed on drop.
struct TestCgroup {
    /// As /proc/PID/cgroup shows it, for --cgroup.
    path: String,
    dirs: Vec<PathBuf>,
    v2: bool,
}

fn cgroup_mounts() -> Vec<(PathBuf, String, Vec<String>)> {
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    mi.lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let l: Vec<&str> = left.split(' ').collect();
            let r: Vec<&str> = right.split(' ').collect();
            let fstype = r[0].to_string();
            if fstype != "cgroup" && fstype != "cgroup2" {
                return None;
            }
            if l[3] != "/" {
                return None; // a cgroup namespace view: cannot make siblings of our own
            }
            let opts = r
                .get(2)
                .map_or(Vec::new(), |o| o.split(',').map(str::to_string).collect());
            Some((PathBuf::from(l[4]), fstype, opts))
        })
        .collect()
}

impl TestCgroup {
    fn create() -> Result<Self, String> {
        let name = unique("firn-test");
        let mounts = cgroup_mounts();
        let v1: Vec<PathBuf> = ["cpu", "cpuacct", "memory"]
            .iter()
            .filter_map(|c| {
                mounts
                    .iter()
                    .find(|(_, t, o)| t == "cgroup" && o.iter().any(|x| x == c))
                    .map(|(p, _, _)| p.clone())
            })
            .collect();
        let mut cg = Self {
            path: format!("/{name}"),
            dirs: Vec::new(),
            v2: false,
        };
        if v1.len() == 3 {
            let mut seen = Vec::new();
            for m in v1 {
                if seen.contains(&m) {
                    continue;
                }
                let d = m.join(&name);
                std::fs::create_dir(&d).map_err(|e| format!("mkdir {}: {e}", d.display()))?;
                seen.push(m);
                cg.dirs.push(d);
            }
            return Ok(cg);
        }
        let Some((root, _, _)) = mounts.iter().find(|(_, t, _)| t == "cgroup2") else {
            return Err("no cgroup v1 cpu/cpuacct/memory and no cgroup2 mount".into());
        };
        std::fs::write(root.join("cgroup.subtree_control"), "+cpu +memory")
            .map_err(|e| format!("enable cpu and memory in {}: {e}", root.display()))?;
        let d = root.join(&name);
        std::fs::create_dir(&d).map_err(|e| format!("mkdir {}: {e}", d.display()))?;
        cg.dirs.push(d);
        cg.v2 = true;
        Ok(cg)
    }

    fn add(&self, pid: u32) {
        for d in &self.dirs {
            std::fs::write(d.join("cgroup.procs"), pid.to_string()).unwrap();
        }
    }

    fn set_quota(&self, cores: f64) {
        let q = (cores * 100_000.0) as u64;
        for d in &self.dirs {
            if self.v2 {
                std::fs::write(d.join("cpu.max"), format!("{q} 100000")).unwrap();
            } else if d.join("cpu.cfs_quota_us").exists() {
                std::fs::write(d.join("cpu.cfs_period_us"), "100000").unwrap();
                std::fs::write(d.join("cpu.cfs_quota_us"), q.to_string()).unwrap();
            }
        }
    }
}

impl Drop for TestCgroup {
    fn drop(&mut self) {
        for d in &self.dirs {
            let _ = std::fs::remove_dir(d);
        }
    }
}

/// A running firn reading stdin (so it stops when the test closes it), sampling metrics.
struct Agent {
    child: Child,
    stdin: Option<ChildStdin>,
    out: PathBuf,
    started: mpsc::Receiver<()>,
    log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Agent {
    fn start(prefix: &[&str], out: &Path, args: &[&str]) -> Self {
        let mut cmd = Command::new(prefix.first().copied().unwrap_or(FIRN));
        let mut rest: Vec<&str> = prefix.iter().skip(1).copied().collect();
        if !prefix.is_empty() {
            rest.push(FIRN);
        }
        cmd.args(rest)
            .args(["--stdin", "--metrics-interval", "1s", "--output"])
            .arg(out)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, started) = mpsc::channel();
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let l2 = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                // Sampling started, or (with no group) the HTTP endpoint is up.
                if line.contains("Sampling platform metrics") || line.contains("Serving GET") {
                    let _ = tx.send(());
                }
                l2.lock().unwrap().push_str(&line);
                l2.lock().unwrap().push('\n');
            }
        });
        let stdin = child.stdin.take();
        let a = Self {
            child,
            stdin,
            out: out.to_path_buf(),
            started,
            log,
        };
        a.started
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("firn did not start sampling:\n{}", a.log.lock().unwrap()));
        a
    }

    /// Closes stdin, waits for the exit, returns the metric rows as (name, attrs, value, ts).
    fn stop(mut self) -> Vec<Row> {
        drop(self.stdin.take());
        let st = self.child.wait().unwrap();
        assert!(
            st.success(),
            "firn failed: {st:?}\n{}",
            self.log.lock().unwrap()
        );
        read_rows(&self.out)
            .into_iter()
            .filter(|r| r.record_type == "METRIC")
            .map(|r| Row {
                name: r.record["metric"]["name"].as_str().unwrap().to_string(),
                attrs: r.attributes,
                value: r.value.as_f64().unwrap(),
                ts: r.timestamp,
            })
            .collect()
    }
}

#[derive(Debug, Clone)]
struct Row {
    name: String,
    attrs: serde_json::Value,
    value: f64,
    ts: i64,
}

fn values(rows: &[Row], name: &str) -> Vec<Row> {
    rows.iter().filter(|r| r.name == name).cloned().collect()
}

fn sleep(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &s[s.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split(' ').collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / 100.0
}

#[test]
fn cpu_usage_of_a_child_burning_one_core_in_its_own_cgroup() {
    let cg = match TestCgroup::create() {
        Ok(c) => c,
        Err(e) => return cannot_run("cpu usage in a cgroup", &e),
    };
    let mut burner = Command::new("sh")
        .args(["-c", "while :; do :; done"])
        .spawn()
        .unwrap();
    cg.add(burner.id());
    let dir = tempfile::tempdir().unwrap();
    let agent = Agent::start(
        &[],
        &dir.path().join("out"),
        &["--metric-groups", "system", "--cgroup", &cg.path],
    );
    let (t0, c0) = (Instant::now(), cpu_seconds(burner.id()));
    sleep(5_500);
    let share = (cpu_seconds(burner.id()) - c0) / t0.elapsed().as_secs_f64();
    let rows = agent.stop();
    burner.kill().unwrap();
    burner.wait().unwrap();
    let usage = values(&rows, "container.cpu.usage");
    assert!(usage.len() >= 4, "{rows:?}");
    let mean = usage.iter().map(|r| r.value).sum::<f64>() / usage.len() as f64;
    eprintln!(
        "container.cpu.usage rows {:?}; the burner's own share {share:.3}",
        usage.iter().map(|r| r.value).collect::<Vec<_>>()
    );
    // What the cgroup says must be what the child got.
    assert!(
        (mean - share).abs() < 0.1,
        "mean {mean} vs the child's own {share}"
    );
    if share > 0.9 {
        assert!((mean - 1.0).abs() < 0.15, "mean {mean}, want 1.0 ± 0.15");
    } else {
        cannot_run(
            "cpu.usage = 1.0 ± 0.15",
            &format!(
                "the machine is busy: the burner got only {share:.2} of a core (the cgroup figure matched it)"
            ),
        );
    }
}

#[test]
fn memory_usage_rises_by_what_a_child_touches() {
    let cg = match TestCgroup::create() {
        Ok(c) => c,
        Err(e) => return cannot_run("memory usage in a cgroup", &e),
    };
    let dir = tempfile::tempdir().unwrap();
    let go = dir.path().join("go");
    let script = format!(
        "import os, sys, time\n\
while not os.path.exists({go:?}): time.sleep(0.05)\n\
b = bytearray(200 << 20)\n\
for i in range(0, len(b), 4096): b[i] = 1\n\
open({go:?} + '.done', 'w').close()\n\
time.sleep(60)\n"
    );
    let mut child = Command::new("python3")
        .args(["-c", &script])
        .spawn()
        .unwrap();
    cg.add(child.id());
    sleep(500);
    let agent = Agent::start(
        &[],
        &dir.path().join("out"),
        &["--metric-groups", "system", "--cgroup", &cg.path],
    );
    sleep(2_200);
    let before_ns = now_ns();
    std::fs::write(&go, "").unwrap();
    let done = dir.path().join("go.done");
    let t = Instant::now();
    while !done.exists() {
        assert!(t.elapsed() < Duration::from_secs(60));
        sleep(20);
    }
    let after_ns = now_ns();
    sleep(2_200);
    let rows = agent.stop();
    child.kill().unwrap();
    child.wait().unwrap();
    let mem = values(&rows, "container.memory.usage");
    let before = mem.iter().rfind(|r| r.ts < before_ns).unwrap().value;
    let after = mem.iter().find(|r| r.ts > after_ns).unwrap().value;
    let rise = (after - before) / f64::from(1u32 << 20);
    eprintln!("container.memory.usage {before} -> {after}: +{rise:.1} MiB");
    assert!(
        (rise - 200.0).abs() < 20.0,
        "rose by {rise} MiB, want 200 ± 10%"
    );
}

fn now_ns() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    )
    .unwrap()
}

fn nproc() -> f64 {
    let o = Command::new("nproc").output().unwrap();
    String::from_utf8(o.stdout).unwrap().trim().parse().unwrap()
}

#[test]
fn cpu_limit_is_nproc_without_a_quota_and_the_quota_with_one() {
    let cg = match TestCgroup::create() {
        Ok(c) => c,
        Err(e) => return cannot_run("cpu limit of a cgroup", &e),
    };
    let limit = |tag: &str| {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join(tag);
        let agent = Agent::start(
            &[],
            &out,
            &["--metric-groups", "system_limits", "--cgroup", &cg.path],
        );
        sleep(300);
        let rows = agent.stop();
        values(&rows, "container.cpu.limit")[0].value
    };
    assert_eq!(limit("none"), nproc());
    cg.set_quota(0.5);
    assert_eq!(limit("half"), 0.5);
}

/// Runs `cmd` and panics with its output when it fails.
fn sh(cmd: &str) -> Result<(), String> {
    let o = Command::new("sh").args(["-c", cmd]).output().unwrap();
    if o.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd}: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ))
    }
}

/// Two network namespaces joined by a veth pair (MTU 9000, so headers are under 1% of the
/// bytes counted). Removed on drop.
struct Netns {
    a: String,
    b: String,
    addr_a: String,
}

impl Netns {
    fn create() -> Result<Self, String> {
        let n = SEQ.fetch_add(1, Ordering::Relaxed) % 200 + 1;
        let (a, b) = (unique("firn-a"), unique("firn-b"));
        let ns = Self {
            a: a.clone(),
            b: b.clone(),
            addr_a: format!("10.211.{n}.1"),
        };
        sh(&format!("ip netns add {a}"))?;
        sh(&format!("ip netns add {b}"))?;
        sh(&format!(
            "ip -n {a} link add va type veth peer name vb netns {b} && \
ip -n {a} link set va mtu 9000 && ip -n {b} link set vb mtu 9000 && \
ip -n {a} addr add 10.211.{n}.1/24 dev va && ip -n {b} addr add 10.211.{n}.2/24 dev vb && \
ip -n {a} link set va up && ip -n {b} link set vb up && \
ip -n {a} link set lo up && ip -n {b} link set lo up"
        ))?;
        Ok(ns)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = sh(&format!("ip netns del {}; ip netns del {}", self.a, self.b));
    }
}

#[test]
fn network_bytes_follow_a_transfer_over_a_veth_pair_in_a_namespace() {
    let ns = match Netns::create() {
        Ok(n) => n,
        Err(e) => return cannot_run("network bytes over a veth pair", &e),
    };
    let size: u64 = 8 << 20;
    let dir = tempfile::tempdir().unwrap();
    let server = format!(
        "import socket, sys\n\
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
s.bind(('{}', 9000)); s.listen(1); print('listening', flush=True)\n\
c, _ = s.accept(); n = 0\n\
while True:\n    d = c.recv(1 << 16)\n    if not d: break\n    n += len(d)\n\
print(n, flush=True)\n",
        ns.addr_a
    );
    let mut srv = Command::new("ip")
        .args(["netns", "exec", &ns.a, "python3", "-c", &server])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut srv_out = BufReader::new(srv.stdout.take().unwrap());
    let mut line = String::new();
    srv_out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "listening");
    let agent = Agent::start(
        &["ip", "netns", "exec", &ns.a],
        &dir.path().join("out"),
        &["--metric-groups", "network", "--metric-port", "web=9000"],
    );
    sleep(1_300);
    // Send `size` bytes and hold the connection for two samples.
    let client = format!(
        "import socket, time\n\
c = socket.create_connection(('{}', 9000)); c.sendall(b'x' * {size}); time.sleep(2.5); c.close()\n",
        ns.addr_a
    );
    let st = Command::new("ip")
        .args(["netns", "exec", &ns.b, "python3", "-c", &client])
        .status()
        .unwrap();
    assert!(st.success());
    line.clear();
    srv_out.read_line(&mut line).unwrap();
    assert_eq!(
        line.trim().parse::<u64>().unwrap(),
        size,
        "the server got it all"
    );
    srv.wait().unwrap();
    sleep(1_200);
    let rows = agent.stop();
    let received: f64 = values(&rows, "network.egress.received.bytes")
        .iter()
        .map(|r| r.value)
        .sum();
    let sent: f64 = values(&rows, "network.egress.transmitted.bytes")
        .iter()
        .map(|r| r.value)
        .sum();
    let ratio = received / size as f64;
    eprintln!("received {received} B for {size} B sent ({ratio:.4}); transmitted {sent} B (ACKs)");
    assert!(
        (ratio - 1.0).abs() < 0.05,
        "received {received}, want {size} ± 5%"
    );
    assert!(sent < size as f64 * 0.05, "only ACKs go out: {sent}");
    let active = values(&rows, "network.ingress.connections.active");
    assert!(active.iter().all(|r| r.attrs["endpoint"] == "web"));
    assert!(active.iter().any(|r| r.value == 1.0), "{active:?}");
    assert_eq!(active.last().unwrap().value, 0.0);
    // One accepted connection: the cps rows integrate to 1 over the sample intervals
    // (connections.active has a row at every sample, the first included).
    let cps = values(&rows, "network.ingress.cps");
    let mut accepted = 0.0;
    for w in rows
        .iter()
        .filter(|r| r.name == "network.ingress.connections.active")
        .map(|r| r.ts)
        .collect::<Vec<_>>()
        .windows(2)
    {
        if let Some(c) = cps.iter().find(|c| c.ts == w[1]) {
            accepted += c.value * (w[1] - w[0]) as f64 / 1e9;
        }
    }
    assert!((accepted - 1.0).abs() < 0.1, "cps integrates to {accepted}");
}

#[test]
fn storage_capacity_and_usage_of_a_tmpfs() {
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    if let Err(e) = sh(&format!(
        "mount -t tmpfs -o size=16m firn-test {}",
        mnt.display()
    )) {
        return cannot_run("storage on a tmpfs", &e);
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = sh(&format!("umount {}", self.0.display()));
        }
    }
    let _u = Unmount(mnt.clone());
    let vol = format!("scratch={}", mnt.display());
    let agent = Agent::start(
        &[],
        &dir.path().join("out"),
        &["--metric-groups", "storage", "--volume", &vol],
    );
    sleep(1_300);
    let mut f = std::fs::File::create(mnt.join("data")).unwrap();
    f.write_all(&vec![7u8; 4 << 20]).unwrap();
    f.sync_all().unwrap();
    sleep(1_500);
    let rows = agent.stop();
    let cap = values(&rows, "volume.capacity");
    assert!(
        cap.iter().all(|r| r.value == f64::from(16u32 << 20)),
        "{cap:?}"
    );
    assert_eq!(
        cap[0].attrs,
        serde_json::json!({"volume": "scratch", "volume_type": "memory"})
    );
    let used: Vec<f64> = values(&rows, "volume.usage")
        .iter()
        .map(|r| r.value)
        .collect();
    assert_eq!(used.first(), Some(&0.0));
    assert_eq!(used.last(), Some(&f64::from(4u32 << 20)), "{used:?}");
    // No block device under a tmpfs: no I/O rates, said once in the log.
    assert!(values(&rows, "volume.read.throughput").is_empty());
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `GET path` on 127.0.0.1:`port`: (status, body).
fn get(port: u16, path: &str) -> (u16, String) {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").unwrap().1.to_string();
    (status, body)
}

/// The page parsed by Python's prometheus_client: (sample name, labels, value) for each.
fn parse_prometheus(page: &str) -> Vec<(String, serde_json::Value, f64)> {
    let script = r#"import sys, json
from prometheus_client.parser import text_string_to_metric_families
out = []
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        out.append([s.name, s.labels, s.value])
print(json.dumps(out))
"#;
    let mut py = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    py.stdin.take().unwrap().write_all(page.as_bytes()).unwrap();
    let o = py.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "prometheus_client rejects the page (pip install -r requirements-test.txt): {}\n{page}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: Vec<(String, serde_json::Value, f64)> = serde_json::from_slice(&o.stdout).unwrap();
    v
}

#[test]
fn metrics_endpoint_parses_as_prometheus_text_with_resource_labels() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let vol = format!("out={}", dir.path().display());
    let agent = Agent::start(
        &[],
        &dir.path().join("out"),
        &[
            "--metric-groups",
            "all",
            "--http-listen",
            &addr,
            "--volume",
            &vol,
            "--metric-port",
            "web=1",
            "--resource-attribute",
            "snow.service.name=echo \"svc\"",
        ],
    );
    sleep(1_500);
    let (status, page) = get(port, "/metrics");
    assert_eq!(status, 200);
    let samples = parse_prometheus(&page);
    let find = |n: &str| {
        samples
            .iter()
            .find(|s| s.0 == n)
            .unwrap_or_else(|| panic!("no {n} in\n{page}"))
    };
    let limit = find("container_cpu_limit");
    assert_eq!(limit.1["snow_service_name"], "echo \"svc\"");
    assert_eq!(limit.2, nproc());
    assert_eq!(find("container_state_running").2, 1.0);
    let cap = find("volume_capacity");
    assert_eq!(cap.1["volume"], "out");
    assert!(cap.2 > 0.0);
    assert_eq!(
        find("network_ingress_connections_active").1["endpoint"],
        "web"
    );
    // firn's own counters, counters named with _total.
    assert!(find("firn_metric_samples_total").2 >= 2.0);
    assert!(find("firn_lines_read_total").2 >= 0.0);
    assert_eq!(get(port, "/nope").0, 404);
    drop(agent.stop());
}

#[test]
fn healthcheck_is_503_while_the_output_is_unwritable_and_200_again() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    if let Err(e) = sh(&format!(
        "mount -t tmpfs -o size=64m firn-out {}",
        out.display()
    )) {
        return cannot_run("/healthcheck with an unwritable output", &e);
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = sh(&format!("umount -l {}", self.0.display()));
        }
    }
    let _u = Unmount(out.clone());
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    // --max-file-age 1s: files every second, so a stall shows after 1 s + 10 s, not 70 s.
    let mut agent = Agent::start(
        &[],
        &out,
        &[
            "--metric-groups",
            "none",
            "--http-listen",
            &addr,
            "--max-file-age",
            "1s",
        ],
    );
    let mut stdin = agent.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        for i in 0..400 {
            if writeln!(stdin, "line {i}").is_err() {
                break;
            }
            sleep(100);
        }
    });
    let wait_for = |want: u16, max: Duration| {
        let t = Instant::now();
        loop {
            let (status, body) = get(port, "/healthcheck");
            if status == want {
                return body;
            }
            assert!(
                t.elapsed() < max,
                "no {want} within {max:?}: {status} {body}"
            );
            sleep(250);
        }
    };
    sleep(2_000);
    assert_eq!(get(port, "/healthcheck").0, 200);
    sh(&format!("mount -o remount,ro {}", out.display())).unwrap();
    let why = wait_for(503, Duration::from_secs(60));
    assert!(why.contains("takes nothing"), "{why}");
    sh(&format!("mount -o remount,rw {}", out.display())).unwrap();
    wait_for(200, Duration::from_secs(60));
    writer.join().unwrap();
    let rows = agent.stop();
    drop(rows);
    // Nothing was lost while the output was read-only.
    let logs = common::line_counts(&out);
    assert_eq!(logs.len(), 400, "every line written once");
    assert!(logs.values().all(|n| *n == 1));
}

/// A stand-in for the NVIDIA driver's NVML: two GPUs with fixed figures.
const FAKE_NVML: &str = r#"
typedef struct { unsigned int version; unsigned long long total, reserved, free, used; } mem_v2;
typedef struct { unsigned int gpu, memory; } util;
static int dev[2];
int nvmlInit_v2(void) { return 0; }
int nvmlShutdown(void) { return 0; }
int nvmlSystemGetDriverVersion(char *v, unsigned int n) { if (n > 7) { v[0]='5'; v[1]='5'; v[2]='0'; v[3]='.'; v[4]='1'; v[5]=0; } return 0; }
int nvmlDeviceGetCount_v2(unsigned int *n) { *n = 2; return 0; }
int nvmlDeviceGetHandleByIndex_v2(unsigned int i, void **d) { if (i > 1) return 2; *d = &dev[i]; return 0; }
int nvmlDeviceGetMemoryInfo_v2(void *d, mem_v2 *m) {
    int i = (int *)d - dev;
    m->total = 16ULL << 30; m->reserved = 0;
    m->used = (i == 0 ? 1ULL : 3ULL) << 30; m->free = m->total - m->used; return 0;
}
int nvmlDeviceGetUtilizationRates(void *d, util *u) { u->gpu = (int *)d == dev ? 37 : 50; u->memory = 1; return 0; }
"#;

#[test]
fn gpu_rows_from_a_stand_in_nvml_and_none_without_a_driver() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("nvml.c");
    std::fs::write(&src, FAKE_NVML).unwrap();
    let lib = dir.path().join("libnvidia-ml.so.1");
    let st = Command::new("gcc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&lib)
        .arg(&src)
        .status()
        .unwrap();
    assert!(st.success(), "gcc");
    let run = |with_lib: bool, tag: &str| {
        let out = dir.path().join(tag);
        let mut cmd = Command::new(FIRN);
        cmd.args(["--stdin", "--metrics-interval", "1s", "--output"])
            .arg(&out)
            .args(["--metric-groups", "system,system_limits"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if with_lib {
            cmd.env("LD_LIBRARY_PATH", dir.path());
        }
        let mut child = cmd.spawn().unwrap();
        sleep(1_500);
        drop(child.stdin.take());
        let o = child.wait_with_output().unwrap();
        assert!(o.status.success());
        let rows: Vec<Row> = read_rows(&out)
            .into_iter()
            .filter(|r| {
                r.record["metric"]["name"]
                    .as_str()
                    .is_some_and(|n| n.contains("gpu"))
            })
            .map(|r| Row {
                name: r.record["metric"]["name"].as_str().unwrap().to_string(),
                attrs: r.attributes,
                value: r.value.as_f64().unwrap(),
                ts: r.timestamp,
            })
            .collect();
        (rows, String::from_utf8_lossy(&o.stderr).into_owned())
    };
    let (rows, _) = run(true, "with");
    let first_ts = rows.iter().map(|r| r.ts).min().unwrap();
    let mut first: Vec<(String, String, f64)> = rows
        .iter()
        .filter(|r| r.ts == first_ts)
        .map(|r| {
            (
                r.name.clone(),
                r.attrs["gpu"].as_str().unwrap().to_string(),
                r.value,
            )
        })
        .collect();
    first.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let g = |n: &str, i: &str, v: f64| (n.to_string(), i.to_string(), v);
    let gib = f64::from(1u32 << 30);
    assert_eq!(
        first,
        [
            g("container.gpu.limit", "0", 1.0),
            g("container.gpu.limit", "1", 1.0),
            g("container.gpu.memory.capacity", "0", 16.0 * gib),
            g("container.gpu.memory.capacity", "1", 16.0 * gib),
            g("container.gpu.memory.usage", "0", gib),
            g("container.gpu.memory.usage", "1", 3.0 * gib),
            g("container.gpu.requested", "0", 1.0),
            g("container.gpu.requested", "1", 1.0),
            g("container.gpu.utilization", "0", 0.37),
            g("container.gpu.utilization", "1", 0.5),
        ]
    );
    let (rows, log) = run(false, "without");
    assert!(rows.is_empty(), "{rows:?}");
    assert_eq!(
        log.matches("No NVIDIA driver: no GPU rows").count(),
        1,
        "{log}"
    );
}
