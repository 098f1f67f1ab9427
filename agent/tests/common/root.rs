//! Helpers of the root-only e2e tests (a tmpfs mounted by the test, filled to its last byte):
//! where they cannot run, they say so, and fail when FIRN_REQUIRE_ROOT_TESTS=1 (CI).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Says a root-only test could not run; fails when FIRN_REQUIRE_ROOT_TESTS=1 (CI).
pub fn cannot_run(what: &str, why: &str) {
    let msg = format!("NOT RUN: {what}: {why} (needs root to mount a tmpfs)");
    eprintln!("\n!!!!!!!! {msg} !!!!!!!!\n");
    if std::env::var("FIRN_REQUIRE_ROOT_TESTS").is_ok_and(|v| v == "1") {
        panic!("{msg}; FIRN_REQUIRE_ROOT_TESTS=1 says this machine must run it");
    }
}

/// Unmounts on drop, so a failed check leaves no mount behind.
pub struct Mount(pub PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// Mounts a tmpfs of `size` (`4m`, `192m`) at `at`, made if missing; the mount's error text
/// when it cannot.
pub fn mount_tmpfs(at: &Path, size: &str) -> Result<Mount, String> {
    std::fs::create_dir_all(at).unwrap();
    let o = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(at)
        .output()
        .map_err(|e| e.to_string())?;
    if o.status.success() {
        Ok(Mount(at.to_path_buf()))
    } else {
        Err(String::from_utf8_lossy(&o.stderr).into_owned())
    }
}

/// Fills the file system of `path` to its last byte.
pub fn fill(path: &Path) {
    let mut f = File::create(path).unwrap();
    let chunk = vec![b'x'; 64 << 10];
    while f.write_all(&chunk).is_ok() {}
    while f.write_all(b"x").is_ok() {}
}
