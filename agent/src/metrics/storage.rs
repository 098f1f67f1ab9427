//! `storage`: capacity and usage of each volume (statvfs), and the cgroup's I/O on the
//! volume's block device (v2 `io.stat`, v1 `blkio.throttle.*`) as throughput and IOPS.

use std::path::Path;

use crate::pipeline::MetricValue;

use super::Sampler;
use super::cgroup::{Dir, Io, blkio_v1, io_stat_v2};
use super::config::{Group, Volume, VolumeType};
use super::sample::{Sample, int};

const TMPFS_MAGIC: u64 = 0x0102_1994;
const RAMFS_MAGIC: u64 = 0x8584_58f6;
const FUSE_MAGIC: u64 = 0x6573_5546;

/// The volume's type: as given, or memory on tmpfs, stage on FUSE, local otherwise.
fn volume_type(v: &Volume, f_type: u64) -> VolumeType {
    v.kind.unwrap_or(match f_type {
        TMPFS_MAGIC | RAMFS_MAGIC => VolumeType::Memory,
        FUSE_MAGIC => VolumeType::Stage,
        _ => VolumeType::Local,
    })
}

/// The block device under `path` as `MAJ:MIN`, the whole disk for a partition (cgroups
/// count I/O per disk); `None` for file systems without one (tmpfs, overlay, FUSE).
fn block_device(host: &Path, path: &Path) -> Option<String> {
    let st = rustix::fs::stat(path).ok()?;
    let (maj, min) = (rustix::fs::major(st.st_dev), rustix::fs::minor(st.st_dev));
    if maj == 0 {
        return None;
    }
    let sys = host.join(format!("sys/dev/block/{maj}:{min}"));
    if !sys.exists() {
        return None;
    }
    if sys.join("partition").exists() {
        let parent = std::fs::read_to_string(sys.join("../dev")).ok()?;
        return Some(parent.trim().to_string());
    }
    Some(format!("{maj}:{min}"))
}

impl Sampler {
    /// Every metric of the group, for each volume.
    pub(super) fn sample_storage(&mut self, mono_ns: u64, out: &mut Vec<Sample>) {
        let g = Group::Storage;
        for v in self.cfg.volumes.clone() {
            let (vfs, fs) = match (rustix::fs::statvfs(&v.path), rustix::fs::statfs(&v.path)) {
                (Ok(a), Ok(b)) => (a, b),
                (Err(e), _) | (_, Err(e)) => {
                    self.files
                        .report(&v.path, "volume.capacity", &e.to_string());
                    continue;
                }
            };
            #[allow(clippy::useless_conversion, clippy::unnecessary_cast)]
            let kind = volume_type(&v, fs.f_type as u64);
            let cap = vfs.f_blocks.saturating_mul(vfs.f_frsize);
            let used = vfs
                .f_blocks
                .saturating_sub(vfs.f_bfree)
                .saturating_mul(vfs.f_frsize);
            let tag = |s: Sample| s.with("volume", &v.name).with("volume_type", kind.as_str());
            out.push(tag(Sample::new(g, "volume.capacity", "bytes", int(cap))));
            out.push(tag(Sample::new(g, "volume.usage", "bytes", int(used))));
            let Some(dev) = block_device(&self.host, &v.path) else {
                self.files.report(
                    &v.path,
                    "volume.read.throughput",
                    "no block device under this volume (tmpfs, overlay or FUSE): no I/O rates",
                );
                continue;
            };
            if let Some(io) = self.cgroup_io(&dev) {
                self.io_rows(&v.name, io, mono_ns, out);
            }
            let inflight = self.host.join(format!("sys/dev/block/{dev}/inflight"));
            if let Some(text) = self.files.read(&inflight, "volume.io.inflight") {
                let n: u64 = text
                    .split_whitespace()
                    .filter_map(|x| x.parse::<u64>().ok())
                    .sum();
                out.push(
                    Sample::new(g, "volume.io.inflight", "operations", int(n))
                        .with("volume", &v.name),
                );
            }
        }
    }

    /// The cgroup's I/O counters on device `dev`. A device without a line has seen no I/O
    /// from the cgroup: the kernel adds the line at its first I/O, so that is a true 0.
    pub(super) fn cgroup_io(&mut self, dev: &str) -> Option<Io> {
        const M: &str = "volume.read.throughput";
        match self.cgroup.io.clone()? {
            Dir::V2(d) => {
                let text = self.files.read(&d.join("io.stat"), M)?;
                Some(io_stat_v2(&text, dev).unwrap_or_default())
            }
            Dir::V1(d) => {
                // The _recursive files include child cgroups, as v2's io.stat does.
                let pick = |base: &str| {
                    let r = d.join(format!("{base}_recursive"));
                    if r.exists() { r } else { d.join(base) }
                };
                let bytes = self
                    .files
                    .read(&pick("blkio.throttle.io_service_bytes"), M)?;
                let ops = self.files.read(&pick("blkio.throttle.io_serviced"), M)?;
                let (rbytes, wbytes) = blkio_v1(&bytes, dev).unwrap_or_default();
                let (rios, wios) = blkio_v1(&ops, dev).unwrap_or_default();
                Some(Io {
                    rbytes,
                    wbytes,
                    rios,
                    wios,
                })
            }
        }
    }

    /// Throughput and IOPS since the previous sample.
    pub(super) fn io_rows(&mut self, volume: &str, io: Io, mono_ns: u64, out: &mut Vec<Sample>) {
        for (name, unit, key, v) in [
            ("volume.read.throughput", "bytes/sec", "rb", io.rbytes),
            ("volume.write.throughput", "bytes/sec", "wb", io.wbytes),
            ("volume.read.iops", "operations/sec", "ri", io.rios),
            ("volume.write.iops", "operations/sec", "wi", io.wios),
        ] {
            if let Some(r) = self.rates.rate(&format!("io/{volume}/{key}"), v, mono_ns) {
                out.push(
                    Sample::new(Group::Storage, name, unit, MetricValue::Double(r))
                        .with("volume", volume),
                );
            }
        }
    }
}
