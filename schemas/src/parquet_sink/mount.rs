//! Finds the file system a folder lives on, to pick `stage` mode on stage mounts.

use std::path::{Path, PathBuf};

/// The mount that holds a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountInfo {
    /// Where it is mounted.
    pub mount_point: PathBuf,
    /// `ext4`, `overlay`, `fuse.snowflake...`, ...
    pub fs_type: String,
}

impl MountInfo {
    /// Stage volumes are FUSE mounts (SPCS.md §7).
    pub fn is_fuse(&self) -> bool {
        self.fs_type == "fuse" || self.fs_type.starts_with("fuse.") || self.fs_type == "fuseblk"
    }
}

/// The mount holding `path` (or its nearest existing ancestor), from /proc/self/mountinfo.
/// `None` when that file cannot be read (not Linux).
pub fn mount_of(path: &Path) -> Option<MountInfo> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mut p = path.to_path_buf();
    let canonical = loop {
        if let Ok(c) = p.canonicalize() {
            break c;
        }
        if !p.pop() {
            break std::env::current_dir().ok()?;
        }
    };
    let canonical = if canonical.is_absolute() {
        canonical
    } else {
        std::env::current_dir().ok()?.join(canonical)
    };
    longest_mount(&text, &canonical)
}

fn unescape(s: &str) -> String {
    // mountinfo escapes space, tab, newline and backslash as \ooo.
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 4], 8)
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn longest_mount(mountinfo: &str, path: &Path) -> Option<MountInfo> {
    let mut best: Option<MountInfo> = None;
    for line in mountinfo.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let (Some(mp), Some(dash)) = (fields.get(4), fields.iter().position(|f| *f == "-")) else {
            continue;
        };
        let Some(fs_type) = fields.get(dash + 1) else {
            continue;
        };
        let mp = PathBuf::from(unescape(mp));
        if path.starts_with(&mp)
            && best
                .as_ref()
                .is_none_or(|b| mp.as_os_str().len() >= b.mount_point.as_os_str().len())
        {
            best = Some(MountInfo {
                mount_point: mp,
                fs_type: (*fs_type).to_string(),
            });
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
40 22 0:35 / /snowflake/stage rw,nosuid - fuse.stagefs stagefs rw,user_id=0
41 22 0:36 / /with\\040space rw - tmpfs tmpfs rw
";

    #[test]
    fn picks_the_longest_prefix() {
        let m = longest_mount(SAMPLE, Path::new("/snowflake/stage/logs")).unwrap();
        assert_eq!(m.mount_point, PathBuf::from("/snowflake/stage"));
        assert!(m.is_fuse());
        let m = longest_mount(SAMPLE, Path::new("/var/log")).unwrap();
        assert_eq!(m.fs_type, "ext4");
        assert!(!m.is_fuse());
        let m = longest_mount(SAMPLE, Path::new("/with space/x")).unwrap();
        assert_eq!(m.fs_type, "tmpfs");
    }

    #[test]
    fn a_sibling_with_a_common_prefix_is_not_a_match() {
        let m = longest_mount(SAMPLE, Path::new("/snowflake/stagex")).unwrap();
        assert_eq!(m.fs_type, "ext4");
    }

    #[test]
    fn reads_this_machine() {
        assert!(mount_of(Path::new("/tmp/does/not/exist")).is_some());
    }
}
