#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use super::cgroup::{Dir, discover};
use super::config::{Endpoint, Group, MetricsConfig, Volume};
use super::{Node, Sampler};
use crate::pipeline::MetricValue::{self, Double, Int};

const GIB: u64 = 1 << 30;
const NODE: Node = Node {
    cpus: 4.0,
    memory_bytes: 8 * GIB,
};

fn cfg(groups: &[Group]) -> MetricsConfig {
    MetricsConfig {
        groups: groups.to_vec(),
        interval: std::time::Duration::from_secs(30),
        cgroup: None,
        endpoints: Vec::new(),
        volumes: Vec::new(),
        http_listen: None,
        resources: super::config::SpecResources::default(),
        wraps_app: false,
    }
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// A row as (name, attributes, value).
type Row = (&'static str, Vec<(&'static str, String)>, MetricValue);

/// The rows in the order sampled.
fn rows(s: &[super::Sample]) -> Vec<Row> {
    s.iter()
        .map(|s| (s.name, s.attrs.clone(), s.value))
        .collect()
}

fn plain(v: &[(&'static str, MetricValue)]) -> Vec<Row> {
    v.iter().map(|(n, x)| (*n, Vec::new(), *x)).collect()
}

const V2_MOUNTINFO: &str = "24 1 259:1 / / rw - ext4 /dev/root rw\n\
30 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";

fn v2_sampler(root: &Path, groups: &[Group]) -> Sampler {
    let cg = discover("0::/app.slice/ctr\n", V2_MOUNTINFO, root, None);
    assert_eq!(cg.layout, "v2");
    assert_eq!(
        cg.memory,
        Some(Dir::V2(root.join("sys/fs/cgroup/app.slice/ctr")))
    );
    Sampler::new(cfg(groups), root, cg, Some(NODE))
}

#[test]
fn v2_limits_set_usage_and_a_counter_reset() {
    let t = tempfile::tempdir().unwrap();
    let d = "sys/fs/cgroup/app.slice/ctr";
    write(
        t.path(),
        &format!("{d}/cpu.stat"),
        "usage_usec 1000000\nuser_usec 800000\nsystem_usec 200000\n",
    );
    write(t.path(), &format!("{d}/memory.current"), "300000000\n");
    write(
        t.path(),
        &format!("{d}/memory.stat"),
        "anon 150000000\nfile 120000000\ninactive_file 100000000\nactive_file 20000000\n",
    );
    write(t.path(), &format!("{d}/cpu.max"), "150000 100000\n");
    write(t.path(), &format!("{d}/memory.max"), "1073741824\n");
    let mut s = v2_sampler(t.path(), &[Group::System, Group::SystemLimits]);
    // First sample: no CPU rate yet (no row, not a zero); working set = 300e6 - 100e6.
    assert_eq!(
        rows(&s.sample(10_000_000_000)),
        plain(&[
            ("container.memory.usage", Int(200_000_000)),
            ("container.cpu.limit", Double(1.5)),
            ("container.cpu.requested", Double(0.5)),
            ("container.memory.limit", Int(1_073_741_824)),
            ("container.memory.requested", Int(536_870_912)),
        ])
    );
    // 2 s of CPU in 4 s: 0.5 cores.
    write(t.path(), &format!("{d}/cpu.stat"), "usage_usec 3000000\n");
    let second = s.sample(14_000_000_000);
    assert_eq!(
        rows(&second)[0],
        ("container.cpu.usage", vec![], Double(0.5))
    );
    // The cgroup was re-created: its counter restarted from 0 and is at 0.25 s after 1 s.
    write(t.path(), &format!("{d}/cpu.stat"), "usage_usec 250000\n");
    let third = s.sample(15_000_000_000);
    assert_eq!(
        rows(&third)[0],
        ("container.cpu.usage", vec![], Double(0.25))
    );
    assert_eq!(s.problems(), 0);
}

#[test]
fn v2_unlimited_and_missing_files_are_skipped_and_reported_once() {
    let t = tempfile::tempdir().unwrap();
    let d = "sys/fs/cgroup/app.slice/ctr";
    // No memory.stat (so no working set), no cpu.stat; cpu.max says max, no memory.max.
    write(t.path(), &format!("{d}/memory.current"), "300000000\n");
    write(t.path(), &format!("{d}/cpu.max"), "max 100000\n");
    let mut s = v2_sampler(t.path(), &[Group::System, Group::SystemLimits]);
    let want = plain(&[
        ("container.cpu.limit", Double(4.0)),
        ("container.cpu.requested", Double(0.5)),
        ("container.memory.limit", Int(8 * GIB as i64)),
        ("container.memory.requested", Int(512 << 20)),
    ]);
    assert_eq!(rows(&s.sample(1)), want);
    assert_eq!(s.problems(), 2, "cpu.stat and memory.stat, once each");
    assert_eq!(rows(&s.sample(1_000_000_001)), want);
    assert_eq!(s.problems(), 2, "reported once, not at every sample");
}

const V1_PROC: &str = "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n3:blkio:/docker/abc\n1:name=systemd:/docker/abc\n";
const V1_MOUNTINFO: &str = "24 1 259:1 / / rw - ext4 /dev/root rw\n\
31 24 0:27 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755\n\
32 31 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct\n\
33 31 0:29 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory\n\
34 31 0:30 / /sys/fs/cgroup/blkio rw,nosuid - cgroup cgroup rw,blkio\n\
35 31 0:31 / /sys/fs/cgroup/systemd rw,nosuid - cgroup cgroup rw,xattr,name=systemd\n";

fn v1_tree(root: &Path, quota: &str, mem_limit: &str) -> Sampler {
    let cpu = "sys/fs/cgroup/cpu,cpuacct/docker/abc";
    let mem = "sys/fs/cgroup/memory/docker/abc";
    write(root, &format!("{cpu}/cpuacct.usage"), "5000000000\n");
    write(root, &format!("{cpu}/cpu.cfs_quota_us"), quota);
    write(root, &format!("{cpu}/cpu.cfs_period_us"), "100000\n");
    write(root, &format!("{mem}/memory.usage_in_bytes"), "104857600\n");
    write(
        root,
        &format!("{mem}/memory.stat"),
        "cache 10\ninactive_file 1\ntotal_inactive_file 4857600\n",
    );
    write(root, &format!("{mem}/memory.limit_in_bytes"), mem_limit);
    let cg = discover(V1_PROC, V1_MOUNTINFO, root, None);
    assert_eq!(cg.layout, "v1");
    assert_eq!(cg.cpuacct, Some(Dir::V1(root.join(cpu))));
    assert_eq!(cg.cpu, cg.cpuacct);
    assert_eq!(cg.memory, Some(Dir::V1(root.join(mem))));
    Sampler::new(
        cfg(&[Group::System, Group::SystemLimits]),
        root,
        cg,
        Some(NODE),
    )
}

#[test]
fn v1_unlimited_is_the_node() {
    let t = tempfile::tempdir().unwrap();
    let mut s = v1_tree(t.path(), "-1\n", "9223372036854771712\n");
    assert_eq!(
        rows(&s.sample(0)),
        plain(&[
            ("container.memory.usage", Int(104_857_600 - 4_857_600)),
            ("container.cpu.limit", Double(4.0)),
            ("container.cpu.requested", Double(0.5)),
            ("container.memory.limit", Int(8 * GIB as i64)),
            ("container.memory.requested", Int(512 << 20)),
        ])
    );
    // cpuacct.usage is in ns: 3 s of CPU over 2 s is 1.5 cores.
    write(
        t.path(),
        "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpuacct.usage",
        "8000000000\n",
    );
    assert_eq!(
        rows(&s.sample(2_000_000_000))[0],
        ("container.cpu.usage", vec![], Double(1.5))
    );
}

#[test]
fn v1_limits_set_and_requests_default_to_the_limit_when_smaller() {
    let t = tempfile::tempdir().unwrap();
    let mut s = v1_tree(t.path(), "25000\n", "268435456\n");
    assert_eq!(
        rows(&s.sample(0))[1..],
        plain(&[
            ("container.cpu.limit", Double(0.25)),
            ("container.cpu.requested", Double(0.25)),
            ("container.memory.limit", Int(256 << 20)),
            ("container.memory.requested", Int(256 << 20)),
        ])[..]
    );
}

#[test]
fn v1_spec_requests_win_over_the_defaults() {
    let t = tempfile::tempdir().unwrap();
    let mut s = v1_tree(t.path(), "200000\n", "2147483648\n");
    s.cfg.resources.cpu_requested = Some(1.0);
    s.cfg.resources.memory_requested = Some(GIB);
    assert_eq!(
        rows(&s.sample(0))[1..],
        plain(&[
            ("container.cpu.limit", Double(2.0)),
            ("container.cpu.requested", Double(1.0)),
            ("container.memory.limit", Int(2 * GIB as i64)),
            ("container.memory.requested", Int(GIB as i64)),
        ])[..]
    );
}

#[test]
fn v1_missing_quota_file_skips_the_cpu_limit_only() {
    let t = tempfile::tempdir().unwrap();
    let mut s = v1_tree(t.path(), "-1\n", "268435456\n");
    std::fs::remove_file(
        t.path()
            .join("sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us"),
    )
    .unwrap();
    let names: Vec<_> = s.sample(0).iter().map(|x| x.name).collect();
    assert_eq!(
        names,
        [
            "container.memory.usage",
            "container.memory.limit",
            "container.memory.requested"
        ]
    );
    assert_eq!(s.problems(), 1);
}

/// This machine type's layout: v1 controllers each in its own hierarchy, a cgroup2 mount
/// without controllers beside them, and a memory cgroup whose mount root is not `/`.
#[test]
fn hybrid_takes_v1_controllers_and_v2_for_the_rest() {
    let proc = "9:name=systemd:/\n4:memory:/pod/ctr\n2:cpuacct:/\n1:cpu:/\n0::/\n";
    let mi = "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n\
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n\
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n\
35 31 0:32 /pod /sys/fs/cgroup/my\\040memory rw,relatime - cgroup cgroup rw,memory\n\
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";
    let r = Path::new("/h");
    let cg = discover(proc, mi, r, None);
    assert_eq!(cg.layout, "hybrid");
    assert_eq!(cg.cpu, Some(Dir::V1("/h/sys/fs/cgroup/cpu".into())));
    assert_eq!(cg.cpuacct, Some(Dir::V1("/h/sys/fs/cgroup/cpuacct".into())));
    // The mount's root /pod is cut from the cgroup path /pod/ctr; \040 is a space.
    assert_eq!(
        cg.memory,
        Some(Dir::V1("/h/sys/fs/cgroup/my memory/ctr".into()))
    );
    // No v1 blkio hierarchy: I/O comes from the unified hierarchy.
    assert_eq!(cg.io, Some(Dir::V2("/h/sys/fs/cgroup/unified".into())));
    // --cgroup replaces the paths of /proc/self/cgroup in every hierarchy.
    let other = discover(proc, mi, r, Some("/pod/other"));
    assert_eq!(
        other.cpu,
        Some(Dir::V1("/h/sys/fs/cgroup/cpu/pod/other".into()))
    );
    assert_eq!(
        other.memory,
        Some(Dir::V1("/h/sys/fs/cgroup/my memory/other".into()))
    );
    assert_eq!(
        other.io,
        Some(Dir::V2("/h/sys/fs/cgroup/unified/pod/other".into()))
    );
}

#[test]
fn hybrid_sampling_reads_cpu_from_v1_cpuacct() {
    let t = tempfile::tempdir().unwrap();
    let proc = "4:memory:/\n2:cpuacct:/\n1:cpu:/\n0::/\n";
    let mi = "32 31 0:29 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n\
33 31 0:30 / /sys/fs/cgroup/cpuacct rw - cgroup cgroup rw,cpuacct\n\
34 31 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n\
41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
    // A v2 cpu.stat that must not be used while v1 cpuacct exists.
    write(t.path(), "sys/fs/cgroup/unified/cpu.stat", "usage_usec 1\n");
    write(
        t.path(),
        "sys/fs/cgroup/cpuacct/cpuacct.usage",
        "1000000000\n",
    );
    let cg = discover(proc, mi, t.path(), None);
    let mut s = Sampler::new(cfg(&[Group::System]), t.path(), cg, Some(NODE));
    assert!(s.sample(0).is_empty(), "first sample, and no memory files");
    write(
        t.path(),
        "sys/fs/cgroup/cpuacct/cpuacct.usage",
        "1500000000\n",
    );
    assert_eq!(
        rows(&s.sample(1_000_000_000)),
        plain(&[("container.cpu.usage", Double(0.5))])
    );
}

#[test]
fn no_cgroup_mount_gives_the_node_as_limits() {
    let cg = discover(
        "0::/\n",
        "24 1 259:1 / / rw - ext4 /dev/root rw\n",
        Path::new("/x"),
        None,
    );
    assert_eq!(cg.layout, "none");
    let mut s = Sampler::new(cfg(&[Group::SystemLimits]), Path::new("/x"), cg, Some(NODE));
    let r = rows(&s.sample(0));
    assert_eq!(r[0], ("container.cpu.limit", vec![], Double(4.0)));
    assert_eq!(
        r[2],
        ("container.memory.limit", vec![], Int(8 * GIB as i64))
    );
}

const NET_DEV: &str = "Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 9000000   90000    0    0    0     0          0         0  9000000   90000    0    0    0     0       0          0
  eth0: 1000000    1000    0    0    0     0          0         0   500000     500    0    0    0     0       0          0
  eth1:    2000      20    0    0    0     0          0         0     1000      10    0    0    0     0       0          0
";

const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0
   1: 0100007F:1F90 0100007F:A000 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0 20 4 30 10 -1
   2: 0100007F:1F90 0100007F:A001 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0 20 4 30 10 -1
   3: 0100007F:A002 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 4 1 0 20 4 30 10 -1
   4: 0100007F:1F91 0100007F:A003 06 00000000:00000000 00:00000000 00000000     0        0 5 1 0 20 4 30 10 -1
";

fn snmp(passive: u64) -> String {
    format!(
        "Ip: Forwarding DefaultTTL\nIp: 1 64\n\
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab\n\
Tcp: 1 200 120000 -1 10 {passive} 0 0 3\n"
    )
}

#[test]
fn network_counts_deltas_without_loopback_connections_per_port_and_cps() {
    let t = tempfile::tempdir().unwrap();
    write(t.path(), "proc/net/dev", NET_DEV);
    write(t.path(), "proc/net/tcp", TCP);
    write(t.path(), "proc/net/tcp6", "  sl  local_address header\n");
    write(t.path(), "proc/net/snmp", &snmp(100));
    let mut c = cfg(&[Group::Network]);
    c.endpoints = vec![Endpoint {
        name: "web".into(),
        port: 8080,
    }];
    let mut s = Sampler::new(c, t.path(), super::Cgroup::default(), Some(NODE));
    let web = || vec![("endpoint", "web".to_string())];
    // First sample: only the gauge of connections (2 established on :8080 = 0x1F90; the
    // listener, the outbound one from :A002 and the TIME_WAIT on :8081 do not count).
    assert_eq!(
        rows(&s.sample(0)),
        vec![("network.ingress.connections.active", web(), Int(2))]
    );
    // eth0 +4000 B/+4 pkts in, +1000/+1 out; eth1 +500/+5 in, 0 out; lo ignored. 30 opens in 2 s.
    write(
        t.path(),
        "proc/net/dev",
        &NET_DEV
            .replace("1000000    1000", "1004000    1004")
            .replace("500000     500", "501000     501")
            .replace("2000      20", "2500      25")
            .replace("lo: 9000000", "lo: 9900000"),
    );
    write(t.path(), "proc/net/snmp", &snmp(130));
    assert_eq!(
        rows(&s.sample(2_000_000_000)),
        vec![
            ("network.egress.received.bytes", vec![], Int(4500)),
            ("network.egress.received.packets", vec![], Int(9)),
            ("network.egress.transmitted.bytes", vec![], Int(1000)),
            ("network.egress.transmitted.packets", vec![], Int(1)),
            ("network.ingress.connections.active", web(), Int(2)),
            ("network.ingress.cps", web(), Double(15.0)),
        ]
    );
    // eth0 was re-created (counters from 0) and eth1 is gone: eth0 counts from 0.
    write(
        t.path(),
        "proc/net/dev",
        "h1\nh2\n  eth0:  700  7 0 0 0 0 0 0  300  3 0 0 0 0 0 0\n",
    );
    assert_eq!(
        rows(&s.sample(3_000_000_000))[..4],
        plain(&[
            ("network.egress.received.bytes", Int(700)),
            ("network.egress.received.packets", Int(7)),
            ("network.egress.transmitted.bytes", Int(300)),
            ("network.egress.transmitted.packets", Int(3)),
        ])[..]
    );
}

#[test]
fn storage_io_rates_from_v2_io_stat_and_v1_blkio() {
    let t = tempfile::tempdir().unwrap();
    write(
        t.path(),
        "cg/io.stat",
        "8:0 rbytes=1000 wbytes=2000 rios=10 wios=20 dbytes=0 dios=0\n259:0 rbytes=5 wbytes=5 rios=1 wios=1\n",
    );
    let cg = super::Cgroup {
        layout: "v2",
        io: Some(Dir::V2(t.path().join("cg"))),
        ..Default::default()
    };
    let mut s = Sampler::new(cfg(&[Group::Storage]), t.path(), cg, Some(NODE));
    let mut out = Vec::new();
    let io = s.cgroup_io("8:0").unwrap();
    s.io_rows("data", io, 0, &mut out);
    assert!(out.is_empty(), "no rate at the first sample");
    write(
        t.path(),
        "cg/io.stat",
        "8:0 rbytes=5000 wbytes=2000 rios=50 wios=21 dbytes=0 dios=0\n",
    );
    let io = s.cgroup_io("8:0").unwrap();
    s.io_rows("data", io, 2_000_000_000, &mut out);
    let vol = || vec![("volume", "data".to_string())];
    assert_eq!(
        rows(&out),
        vec![
            ("volume.read.throughput", vol(), Double(2000.0)),
            ("volume.write.throughput", vol(), Double(0.0)),
            ("volume.read.iops", vol(), Double(20.0)),
            ("volume.write.iops", vol(), Double(0.5)),
        ]
    );
    // A device without a line has had no I/O from this cgroup.
    assert_eq!(s.cgroup_io("8:16"), Some(super::cgroup::Io::default()));

    write(
        t.path(),
        "v1/blkio.throttle.io_service_bytes",
        "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Total 12288\nTotal 12288\n",
    );
    write(
        t.path(),
        "v1/blkio.throttle.io_serviced",
        "8:0 Read 1\n8:0 Write 2\n8:0 Total 3\n",
    );
    s.cgroup.io = Some(Dir::V1(t.path().join("v1")));
    assert_eq!(
        s.cgroup_io("8:0"),
        Some(super::cgroup::Io {
            rbytes: 4096,
            wbytes: 8192,
            rios: 1,
            wios: 2
        })
    );
    std::fs::remove_file(t.path().join("v1/blkio.throttle.io_serviced")).unwrap();
    assert_eq!(s.cgroup_io("8:0"), None);
    assert_eq!(s.problems(), 1);
}

#[test]
fn storage_capacity_and_type_of_a_folder_and_a_missing_volume() {
    let t = tempfile::tempdir().unwrap();
    let mut c = cfg(&[Group::Storage]);
    c.volumes = vec![
        Volume {
            name: "data".into(),
            path: t.path().to_path_buf(),
            kind: Some(super::config::VolumeType::Block),
        },
        Volume {
            name: "gone".into(),
            path: t.path().join("missing"),
            kind: None,
        },
    ];
    let mut s = Sampler::new(c, Path::new("/"), super::Cgroup::default(), Some(NODE));
    let out = s.sample(0);
    let cap = out.iter().find(|x| x.name == "volume.capacity").unwrap();
    assert_eq!(
        cap.attrs,
        [
            ("volume", "data".to_string()),
            ("volume_type", "block".to_string())
        ]
    );
    assert!(matches!(cap.value, Int(v) if v > 0));
    assert!(
        out.iter().all(|x| x.attrs[0].1 == "data"),
        "nothing for a missing volume"
    );
    assert!(s.problems() >= 1);
}

#[test]
fn status_of_firns_own_container_only_when_it_wraps_nothing() {
    let mut s = Sampler::new(
        cfg(&[Group::Status]),
        Path::new("/"),
        super::Cgroup::default(),
        None,
    );
    assert_eq!(
        rows(&s.sample(0)),
        plain(&[
            ("container.state.running", Int(1)),
            ("container.state.pending", Int(0)),
            ("container.state.started", Int(1)),
            ("container.state.finished", Int(0)),
            ("container.restarts", Int(0)),
        ])
    );
    s.cfg.wraps_app = true;
    assert!(s.sample(1).is_empty());
}

#[test]
fn rows_are_gauges_with_the_platform_record_scope_and_attributes() {
    let mut r = super::Rows::default();
    let s = [
        super::Sample::new(
            Group::System,
            "container.cpu.usage",
            "cpu cores",
            Double(0.5),
        ),
        super::Sample::new(Group::Storage, "volume.usage", "bytes", Int(7))
            .with("volume", "logs")
            .with("volume_type", "local"),
    ];
    let p = r.points(&s, 42);
    assert_eq!(
        p[0].record.as_str(),
        r#"{"metric":{"name":"container.cpu.usage","unit":"cpu cores"},"metric_type":"gauge","value_type":"DOUBLE"}"#
    );
    assert_eq!(
        p[1].record.as_str(),
        r#"{"metric":{"name":"volume.usage","unit":"bytes"},"metric_type":"gauge","value_type":"INT"}"#
    );
    assert_eq!(
        p[1].attributes.as_ref().unwrap().as_str(),
        r#"{"volume":"logs","volume_type":"local"}"#
    );
    assert_eq!(
        p[0].scope.as_ref().unwrap().as_str(),
        r#"{"name":"firn.system"}"#
    );
    assert!(p[0].attributes.is_none());
    assert!(
        p.iter()
            .all(|x| x.timestamp_ns == 42 && x.start_ns.is_none())
    );
}

#[test]
fn groups_all_and_none() {
    let all = crate::spec_config::metric_groups(&["all".into()]).unwrap();
    assert_eq!(
        all,
        ["system", "system_limits", "status", "network", "storage"]
    );
    assert!(
        crate::spec_config::metric_groups(&["none".into()])
            .unwrap()
            .is_empty()
    );
    assert_eq!(crate::spec_config::metric_groups(&[]).unwrap(), ["status"]);
}

#[test]
fn prometheus_page_groups_each_metric_and_escapes_labels() {
    let c = crate::telemetry::Counters::default();
    crate::telemetry::Counters::add(&c.metric_samples_total, 3);
    let s = [
        super::Sample::new(Group::Storage, "volume.usage", "bytes", Int(1)).with("volume", "a"),
        super::Sample::new(Group::Storage, "volume.capacity", "bytes", Int(9)).with("volume", "a"),
        super::Sample::new(Group::Storage, "volume.usage", "bytes", Int(2))
            .with("volume", "b\"\\\n"),
        super::Sample::new(
            Group::System,
            "container.cpu.usage",
            "cpu cores",
            Double(0.25),
        ),
    ];
    let res = [("snow.service.name".to_string(), "svc".to_string())];
    let page = super::prom::render(&c, &s, &res);
    assert!(page.contains(
        "# TYPE firn_metric_samples_total counter\nfirn_metric_samples_total{snow_service_name=\"svc\"} 3\n"
    ));
    assert!(
        page.contains(
            "# TYPE volume_usage gauge\n\
volume_usage{volume=\"a\",snow_service_name=\"svc\"} 1\n\
volume_usage{volume=\"b\\\"\\\\\\n\",snow_service_name=\"svc\"} 2\n"
        ),
        "{page}"
    );
    assert!(page.contains("container_cpu_usage{snow_service_name=\"svc\"} 0.25\n"));
    assert_eq!(page.matches("# TYPE volume_usage").count(), 1);
}
