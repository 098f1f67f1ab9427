//! Each stage rule, tried through a real mount with ordinary file calls: what a stage allows
//! passes through to the backing folder, what it does not is refused (EPERM) and recorded.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

struct Stage {
    m: firn_stagefs::Mounted,
    backing: PathBuf,
    _dir: tempfile::TempDir,
}

impl Stage {
    fn at(&self, p: &str) -> PathBuf {
        self.m.mountpoint().join(p)
    }

    /// The operations refused so far, by name.
    fn refused(&self) -> Vec<&'static str> {
        self.m.refusals().iter().map(|r| r.op).collect()
    }
}

/// A fresh mount, or `None` (said loudly) where FUSE cannot be used. CI has /dev/fuse and
/// runs as root: there a missing FUSE fails the test rather than skipping it.
fn stage() -> Option<Stage> {
    if let Err(e) = firn_stagefs::fuse_available() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must be able to use FUSE: {e}"
        );
        eprintln!("SKIPPED: {e}");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let backing = dir.path().join("backing");
    let mnt = dir.path().join("mnt");
    fs::create_dir(&backing).unwrap();
    fs::create_dir(&mnt).unwrap();
    let m = firn_stagefs::mount(&backing, &mnt).unwrap();
    Some(Stage {
        m,
        backing,
        _dir: dir,
    })
}

fn is_refused(r: std::io::Result<impl Sized>) -> bool {
    matches!(r, Err(e) if e.kind() == ErrorKind::PermissionDenied)
}

fn write_new(p: &Path, bytes: &[u8]) {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(p)
        .unwrap();
    f.write_all(bytes).unwrap();
    f.sync_all().unwrap();
}

#[test]
fn a_file_written_once_in_order_reaches_the_backing_folder_and_reads_back() {
    let Some(s) = stage() else { return };
    fs::create_dir_all(s.at("out/day")).unwrap();
    write_new(&s.at("out/day/a.parquet"), b"hello, stage");
    assert_eq!(
        fs::read(s.backing.join("out/day/a.parquet")).unwrap(),
        b"hello, stage"
    );
    let mut text = String::new();
    File::open(s.at("out/day/a.parquet"))
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, "hello, stage");
    let names: Vec<_> = fs::read_dir(s.at("out/day"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["a.parquet"]);
    assert_eq!(fs::metadata(s.at("out/day/a.parquet")).unwrap().len(), 12);
    fs::remove_file(s.at("out/day/a.parquet")).unwrap();
    assert!(!s.backing.join("out/day/a.parquet").exists());
    assert!(s.refused().is_empty(), "{:?}", s.m.refusals());
}

#[test]
fn it_reports_itself_as_fuse_so_auto_mode_picks_stage() {
    let Some(s) = stage() else { return };
    use firn_schemas::parquet_sink::{OutputMode, OutputModeChoice, resolve_mode};
    let (mode, why) = resolve_mode(OutputModeChoice::Auto, &s.at("out"));
    assert_eq!(mode, OutputMode::Stage, "{why}");
}

#[test]
fn rename_is_refused() {
    let Some(s) = stage() else { return };
    write_new(&s.at("a"), b"x");
    assert!(is_refused(fs::rename(s.at("a"), s.at("b"))));
    assert!(s.backing.join("a").exists() && !s.backing.join("b").exists());
    assert_eq!(s.refused(), ["rename"]);
}

#[test]
fn append_is_refused() {
    let Some(s) = stage() else { return };
    let r = OpenOptions::new()
        .append(true)
        .create(true)
        .open(s.at("new"));
    assert!(is_refused(r));
    write_new(&s.at("a"), b"x");
    let r = OpenOptions::new().append(true).open(s.at("a"));
    assert!(is_refused(r));
    assert_eq!(fs::read(s.backing.join("a")).unwrap(), b"x");
    assert_eq!(s.refused(), ["append", "append"]);
}

#[test]
fn a_write_anywhere_but_the_end_is_refused() {
    let Some(s) = stage() else { return };
    let mut f = File::create_new(s.at("a")).unwrap();
    f.write_all(b"0123456789").unwrap();
    assert!(is_refused(f.write_at(b"X", 3)));
    assert!(is_refused(f.write_at(b"X", 20)));
    f.seek(SeekFrom::Start(2)).unwrap();
    assert!(is_refused(f.write_all(b"Y")));
    f.seek(SeekFrom::End(0)).unwrap();
    f.write_all(b"ab").unwrap();
    drop(f);
    assert_eq!(fs::read(s.backing.join("a")).unwrap(), b"0123456789ab");
    assert_eq!(s.refused(), ["write", "write", "write"]);
}

#[test]
fn reopening_a_closed_file_for_writing_is_refused() {
    let Some(s) = stage() else { return };
    write_new(&s.at("a"), b"first");
    assert!(is_refused(OpenOptions::new().write(true).open(s.at("a"))));
    assert!(is_refused(
        OpenOptions::new().read(true).write(true).open(s.at("a"))
    ));
    // File::create is open(O_CREAT|O_TRUNC) of the existing file.
    assert!(is_refused(File::create(s.at("a"))));
    assert_eq!(fs::read(s.backing.join("a")).unwrap(), b"first");
    // Reading a closed file is allowed.
    assert_eq!(fs::read(s.at("a")).unwrap(), b"first");
    assert_eq!(s.refused(), ["reopen", "reopen", "reopen"]);
}

#[test]
fn truncating_a_closed_file_is_refused() {
    let Some(s) = stage() else { return };
    write_new(&s.at("a"), b"0123456789");
    // truncate(2) by path.
    let r = nix::unistd::truncate(&s.at("a"), 4);
    assert_eq!(r, Err(nix::errno::Errno::EPERM));
    // open(O_TRUNC) of an existing file.
    let f = File::create_new(s.at("b")).unwrap();
    drop(f);
    assert!(is_refused(
        OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(s.at("b"))
    ));
    assert_eq!(fs::read(s.backing.join("a")).unwrap(), b"0123456789");
    assert_eq!(s.refused(), ["truncate", "reopen"]);
}

#[test]
fn shrinking_a_file_while_it_is_written_is_refused() {
    let Some(s) = stage() else { return };
    let mut f = File::create_new(s.at("a")).unwrap();
    f.write_all(b"0123456789").unwrap();
    assert!(is_refused(f.set_len(3)));
    f.set_len(10).unwrap();
    drop(f);
    assert_eq!(fs::read(s.backing.join("a")).unwrap(), b"0123456789");
    assert_eq!(s.refused(), ["truncate"]);
}
