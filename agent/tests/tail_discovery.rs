//! End to end: which files discovery reads and which it refuses. Symlinks pointing out of an
//! input's base folder (issue 18), a link swapped while the agent runs, symlink loops, globs
//! whose folder does not exist, FIFOs and devices, names that are not UTF-8, unreadable
//! files, rows of a renamed file. The real `firn-agent` binary on real folders; its Parquet
//! output read back.
//!
//! `FIRN_AGENT_BIN` runs these against another build (to see them fail on an older one).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::ffi::OsStr;
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::{OutRow, read_rows};
use rustix::process::Signal;

fn firn() -> String {
    std::env::var("FIRN_AGENT_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_firn-agent").into())
}

/// One running agent, its stderr in `agent.log` in its folder.
struct Agent {
    child: Child,
    log: PathBuf,
}

impl Agent {
    fn start(dir: &Path, args: &[&str]) -> Agent {
        Self::start_with(Command::new(firn()), dir, args)
    }

    fn start_with(mut cmd: Command, dir: &Path, args: &[&str]) -> Agent {
        let log = dir.join("agent.log");
        let err = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let child = cmd
            .current_dir(dir)
            .args(args)
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .unwrap();
        Agent { child, log }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn terminate(mut self, limit: Duration) -> (std::process::ExitStatus, Duration) {
        let t0 = Instant::now();
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).unwrap();
        rustix::process::kill_process(pid, Signal::TERM).unwrap();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return (s, t0.elapsed());
            }
            assert!(
                t0.elapsed() < limit,
                "the agent did not exit within {limit:?} of SIGTERM\n{}",
                self.log_text()
            );
            sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `--once` in `dir` with a time limit: its exit status, stdout and stderr.
fn once(dir: &Path, args: &[&str]) -> (std::process::ExitStatus, String) {
    once_with(Command::new(firn()), dir, args)
}

fn once_with(mut cmd: Command, dir: &Path, args: &[&str]) -> (std::process::ExitStatus, String) {
    let mut child = cmd
        .current_dir(dir)
        .arg("--once")
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if t0.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "--once did not finish within 60 s\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status, text)
}

fn logs_of(out: &Path) -> Vec<OutRow> {
    read_rows(out)
        .into_iter()
        .filter(|r| r.record_type == "LOG")
        .collect()
}

fn values(rows: &[OutRow]) -> Vec<String> {
    let mut v: Vec<String> = rows
        .iter()
        .map(|r| r.value.as_str().unwrap_or_default().to_string())
        .collect();
    v.sort();
    v
}

fn file_path(r: &OutRow) -> String {
    r.attributes["log.file.path"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// A folder with `logs/ok.log` ("ok") and `secret/token` ("TOKEN=abc123") beside it.
fn setup() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::create_dir_all(dir.path().join("secret")).unwrap();
    std::fs::write(dir.path().join("secret/token"), "TOKEN=abc123\n").unwrap();
    std::fs::write(logs.join("ok.log"), "ok\n").unwrap();
    (dir, logs)
}

/// Polls until `f` holds or `limit` passes.
fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if f() {
            return true;
        }
        sleep(Duration::from_millis(100));
    }
    f()
}

// ---------------------------------------------------------------------------------------
// Issue 18: symlinks.

#[test]
fn a_symlink_to_a_file_outside_the_base_folder_is_not_shipped_by_default() {
    let (dir, logs) = setup();
    symlink(dir.path().join("secret/token"), logs.join("evil.log")).unwrap();
    let (status, text) = once(dir.path(), &["-i", "logs/*.log", "-o", "out"]);
    assert!(status.success(), "{text}");
    assert_eq!(values(&logs_of(&dir.path().join("out"))), ["ok"], "{text}");
    let warn = text
        .lines()
        .find(|l| l.contains("WARN") && l.contains("evil.log"))
        .unwrap_or_else(|| panic!("no warning names the link\n{text}"));
    assert!(
        warn.contains("secret/token"),
        "the warning names the target: {warn}"
    );
    assert!(text.contains("firn.files_skipped_total = 1"), "{text}");
}

/// `--follow-symlinks any` is the opt-out for users whose logs are links to elsewhere.
#[test]
fn a_symlink_to_a_file_outside_is_read_with_follow_symlinks_any() {
    let (dir, logs) = setup();
    symlink(dir.path().join("secret/token"), logs.join("evil.log")).unwrap();
    let (status, text) = once(
        dir.path(),
        &["-i", "logs/*.log", "-o", "out", "--follow-symlinks", "any"],
    );
    assert!(status.success(), "{text}");
    let rows = logs_of(&dir.path().join("out"));
    assert_eq!(values(&rows), ["TOKEN=abc123", "ok"], "{text}");
    // Rows say the name they were matched by.
    let token = rows.iter().find(|r| r.value == "TOKEN=abc123").unwrap();
    assert_eq!(file_path(token), "logs/evil.log");
}

/// `--follow-symlinks none` refuses even a link that stays inside.
#[test]
fn a_symlink_inside_the_base_folder_is_read_by_default_and_not_with_none() {
    let (dir, logs) = setup();
    std::fs::create_dir_all(logs.join("real")).unwrap();
    std::fs::write(logs.join("real/app.txt"), "inside\n").unwrap();
    symlink("real/app.txt", logs.join("current.log")).unwrap();
    let (status, text) = once(dir.path(), &["-i", "logs/*.log", "-o", "out"]);
    assert!(status.success(), "{text}");
    assert_eq!(
        values(&logs_of(&dir.path().join("out"))),
        ["inside", "ok"],
        "{text}"
    );
    let (status, text) = once(
        dir.path(),
        &[
            "-i",
            "logs/*.log",
            "-o",
            "out2",
            "--follow-symlinks",
            "none",
        ],
    );
    assert!(status.success(), "{text}");
    assert_eq!(values(&logs_of(&dir.path().join("out2"))), ["ok"], "{text}");
}

#[test]
fn a_folder_link_pointing_out_of_the_base_folder_is_not_entered() {
    let (dir, logs) = setup();
    std::fs::create_dir_all(dir.path().join("elsewhere")).unwrap();
    std::fs::write(dir.path().join("elsewhere/app.log"), "outside\n").unwrap();
    symlink(dir.path().join("elsewhere"), logs.join("ext")).unwrap();
    let (status, text) = once(dir.path(), &["-i", "logs/**/*.log", "-o", "out"]);
    assert!(status.success(), "{text}");
    assert_eq!(values(&logs_of(&dir.path().join("out"))), ["ok"], "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("WARN") && l.contains("logs/ext")),
        "{text}"
    );
}

/// A link flipped between a file inside and the secret outside, as fast as it can be, while
/// the agent follows the folder with default flags: the secret must never come out, and the
/// inside file must (so the race was run).
#[test]
fn a_link_swapped_in_a_loop_while_the_agent_runs_never_ships_the_outside_file() {
    let (dir, logs) = setup();
    std::fs::create_dir_all(logs.join("real")).unwrap();
    let inside = logs.join("real/app.txt");
    std::fs::write(&inside, "inside 0\n").unwrap();
    let secret = dir.path().join("secret/token");
    let link = logs.join("swap.log");
    symlink(&inside, &link).unwrap();
    let agent = Agent::start(
        dir.path(),
        &[
            "-i",
            "logs/*.log",
            "-o",
            "out",
            "--max-file-age",
            "500ms",
            "--agent-id",
            "e2e",
        ],
    );
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (stop, logs, inside, secret) =
            (stop.clone(), logs.clone(), inside.clone(), secret.clone());
        std::thread::spawn(move || {
            let tmp = logs.join(".swap.tmp");
            let mut flips = 0u64;
            let mut w = OpenOptions::new().append(true).open(&inside).unwrap();
            while !stop.load(Ordering::SeqCst) {
                let to = if flips.is_multiple_of(2) {
                    &secret
                } else {
                    &inside
                };
                let _ = std::fs::remove_file(&tmp);
                symlink(to, &tmp).unwrap();
                std::fs::rename(&tmp, logs.join("swap.log")).unwrap();
                flips += 1;
                if flips.is_multiple_of(1000) {
                    writeln!(w, "inside {flips}").unwrap();
                }
            }
            flips
        })
    };
    sleep(Duration::from_secs(8));
    stop.store(true, Ordering::SeqCst);
    let flips = swapper.join().unwrap();
    let log = agent.log.clone();
    let (status, _) = agent.terminate(Duration::from_secs(15));
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(status.success(), "{status}\n{text}");
    let rows = logs_of(&dir.path().join("out"));
    let leaked: Vec<&OutRow> = rows.iter().filter(|r| r.value == "TOKEN=abc123").collect();
    assert!(
        leaked.is_empty(),
        "the secret was shipped {} time(s) in {flips} flips",
        leaked.len()
    );
    assert!(
        rows.iter()
            .any(|r| r.value.as_str().is_some_and(|v| v.starts_with("inside"))),
        "the inside file was never read: the race was not exercised ({flips} flips)\n{text}"
    );
    eprintln!("{flips} flips, {} rows, no secret", rows.len());
}

// ---------------------------------------------------------------------------------------
// Issue 8 items 2 and 3: loops and missing folders.

#[test]
fn a_symlink_loop_in_the_input_tree_ended_neither_once_nor_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let l = dir.path().join("L");
    std::fs::create_dir_all(l.join("a")).unwrap();
    std::fs::create_dir_all(l.join("b")).unwrap();
    std::fs::write(l.join("a/x.log"), "hi\n").unwrap();
    symlink("..", l.join("a/up")).unwrap();
    symlink("..", l.join("b/up")).unwrap();
    let (status, text) = once(dir.path(), &["-i", "L/**/*.log", "-o", "out"]);
    assert!(status.success(), "{text}");
    assert_eq!(values(&logs_of(&dir.path().join("out"))), ["hi"], "{text}");
    // Following: the file is read, and SIGTERM is honoured.
    let agent = Agent::start(
        dir.path(),
        &["-i", "L/**/*.log", "-o", "out2", "--max-file-age", "200ms"],
    );
    let out2 = dir.path().join("out2");
    assert!(
        wait_until(Duration::from_secs(30), || logs_of(&out2).len() == 1),
        "{}",
        agent.log_text()
    );
    let (status, took) = agent.terminate(Duration::from_secs(10));
    assert!(
        status.success() && took < Duration::from_secs(5),
        "{status} {took:?}"
    );
}

/// inotify watches the process holds (`/proc/PID/fdinfo`).
fn inotify_watches(pid: u32) -> usize {
    let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/fdinfo")) else {
        return 0;
    };
    rd.flatten()
        .map(|e| {
            std::fs::read_to_string(e.path())
                .unwrap_or_default()
                .lines()
                .filter(|l| l.starts_with("inotify wd:"))
                .count()
        })
        .sum()
}

/// Was: 20,685 watches under / (and /proc), 17 s to start, SIGTERM ignored for 11 s.
#[test]
fn a_glob_whose_folder_does_not_exist_watched_the_whole_file_system() {
    let dir = tempfile::tempdir().unwrap();
    let glob = format!("{}/missing/deeper/**/*.log", dir.path().display());
    let agent = Agent::start(
        dir.path(),
        &["-i", &glob, "-o", "out", "--max-file-age", "200ms"],
    );
    let pid = agent.child.id();
    assert!(
        wait_until(Duration::from_secs(20), || agent
            .log_text()
            .contains("No file matches")),
        "{}",
        agent.log_text()
    );
    let watches = inotify_watches(pid);
    assert!(
        watches <= 2,
        "{watches} inotify watches for a missing folder"
    );
    // The missing part appears: it is found.
    std::fs::create_dir_all(dir.path().join("missing/deeper/x")).unwrap();
    std::fs::write(dir.path().join("missing/deeper/x/a.log"), "found\n").unwrap();
    let out = dir.path().join("out");
    assert!(
        wait_until(Duration::from_secs(20), || logs_of(&out).len() == 1),
        "{}",
        agent.log_text()
    );
    let watches = inotify_watches(pid);
    assert!(
        (1..=4).contains(&watches),
        "{watches} inotify watches for 3 folders"
    );
    let (status, took) = agent.terminate(Duration::from_secs(10));
    assert!(
        status.success() && took < Duration::from_secs(3),
        "{status} {took:?}"
    );
}

/// SIGTERM while the walk of a large tree is under way (start-up) is honoured at once.
#[test]
fn sigterm_during_the_first_walk_of_a_large_tree_is_honoured_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("tree");
    for i in 0..200 {
        let d = root.join(format!("d{i}"));
        std::fs::create_dir_all(&d).unwrap();
        for j in 0..100 {
            std::fs::write(d.join(format!("f{j}.txt")), "").unwrap();
        }
    }
    // `**/*.log` matches nothing here, so the walk looks at all 20,000 names every pass.
    let agent = Agent::start(dir.path(), &["-i", "tree/**/*.log", "-o", "out"]);
    sleep(Duration::from_millis(300));
    let (status, took) = agent.terminate(Duration::from_secs(10));
    eprintln!("exit after {took:?}");
    // A second is the aim; the bound leaves room for a loaded test machine.
    assert!(
        status.success() && took < Duration::from_secs(3),
        "{status} {took:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Issue 16 item 6a, issue 8 items 4, 5 and 7.

#[test]
fn a_fifo_or_a_link_to_a_device_matched_by_a_glob_was_skipped_without_a_word() {
    let (dir, logs) = setup();
    assert!(
        Command::new("mkfifo")
            .arg(logs.join("pipe.log"))
            .status()
            .unwrap()
            .success()
    );
    symlink("/dev/zero", logs.join("zero.log")).unwrap();
    // `any`: the device link is refused for what it is, not for where it points.
    let (status, text) = once(
        dir.path(),
        &["-i", "logs/*.log", "-o", "out", "--follow-symlinks", "any"],
    );
    assert!(status.success(), "{text}");
    assert_eq!(values(&logs_of(&dir.path().join("out"))), ["ok"], "{text}");
    let warned = |name: &str, reason: &str| {
        text.lines()
            .filter(|l| l.contains("WARN") && l.contains(name) && l.contains(reason))
            .count()
    };
    assert_eq!(warned("pipe.log", "a FIFO"), 1, "{text}");
    assert_eq!(warned("zero.log", "a character device"), 1, "{text}");
}

#[test]
fn a_file_whose_name_is_not_utf8_was_skipped_silently() {
    let (dir, logs) = setup();
    let name = OsStr::from_bytes(b"bad\xff\xfename.log");
    std::fs::write(logs.join(name), "from a bad name\n").unwrap();
    let (status, text) = once(dir.path(), &["-i", "logs/*.log", "-o", "out"]);
    assert!(status.success(), "{text}");
    let rows = logs_of(&dir.path().join("out"));
    let row = rows
        .iter()
        .find(|r| r.value == "from a bad name")
        .unwrap_or_else(|| panic!("not read\n{text}"));
    assert_eq!(file_path(row), r"logs/bad\xff\xfename.log");
}

/// The agent run as `nobody`, so that a `chmod 000` file cannot be read (root reads it).
fn as_nobody() -> Command {
    let mut c = Command::new("setpriv");
    c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .arg(firn());
    c
}

fn open_up(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o777)).unwrap();
}

#[test]
fn once_with_an_unreadable_file_exited_0() {
    if !rustix::process::getuid().is_root() {
        eprintln!("skipped: needs root to run the agent as another user");
        return;
    }
    let (dir, logs) = setup();
    open_up(dir.path());
    open_up(&logs);
    std::fs::write(logs.join("locked.log"), "locked\n").unwrap();
    std::fs::set_permissions(
        logs.join("locked.log"),
        std::os::unix::fs::PermissionsExt::from_mode(0o000),
    )
    .unwrap();
    let (status, text) = once_with(as_nobody(), dir.path(), &["-i", "logs/*.log", "-o", "out"]);
    assert!(!status.success(), "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("error") && l.contains("logs/locked.log")),
        "{text}"
    );
    // The readable file was still written.
    assert_eq!(values(&logs_of(&dir.path().join("out"))), ["ok"], "{text}");
}

#[test]
fn an_unreadable_file_warned_every_second_forever() {
    if !rustix::process::getuid().is_root() {
        eprintln!("skipped: needs root to run the agent as another user");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let (dir, logs) = setup();
    open_up(dir.path());
    open_up(&logs);
    let locked = logs.join("locked.log");
    std::fs::write(&locked, "locked\n").unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let agent = Agent::start_with(
        as_nobody(),
        dir.path(),
        &["-i", "logs/*.log", "-o", "out", "--max-file-age", "200ms"],
    );
    // Several discovery passes (one a second) while it stays unreadable.
    sleep(Duration::from_secs(5));
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = dir.path().join("out");
    assert!(
        wait_until(Duration::from_secs(20), || logs_of(&out).len() == 2),
        "{}",
        agent.log_text()
    );
    let text = agent.log_text();
    let (status, _) = agent.terminate(Duration::from_secs(10));
    assert!(status.success());
    let warnings = text
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("locked.log"))
        .count();
    assert_eq!(warnings, 1, "{text}");
    assert!(
        text.lines()
            .any(|l| l.contains("can be read again") && l.contains("locked.log")),
        "{text}"
    );
}

/// Was: rows read from `app.log.1` after a rename rotation said `log.file.path = app.log`,
/// and so did "Done with file".
#[test]
fn rows_read_after_a_rename_said_the_old_path() {
    for glob in ["logs/app.log*", "logs/app.log"] {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        std::fs::create_dir_all(&logs).unwrap();
        let mut w = OpenOptions::new()
            .create(true)
            .append(true)
            .open(logs.join("app.log"))
            .unwrap();
        writeln!(w, "before").unwrap();
        let agent = Agent::start(
            dir.path(),
            &["-i", glob, "-o", "out", "--max-file-age", "200ms"],
        );
        let out = dir.path().join("out");
        assert!(wait_until(Duration::from_secs(20), || logs_of(&out).len() == 1));
        std::fs::rename(logs.join("app.log"), logs.join("app.log.1")).unwrap();
        // Let discovery (once a second) see the rename before the next line is written.
        sleep(Duration::from_millis(2500));
        writeln!(w, "after").unwrap();
        assert!(
            wait_until(Duration::from_secs(20), || logs_of(&out).len() == 2),
            "{}",
            agent.log_text()
        );
        if glob == "logs/app.log" {
            // Renamed out of the glob: let go after --rotate-wait (5 s).
            assert!(
                wait_until(Duration::from_secs(20), || agent
                    .log_text()
                    .contains("Done with file")),
                "{}",
                agent.log_text()
            );
            let done = agent
                .log_text()
                .lines()
                .find(|l| l.contains("Done with file"))
                .unwrap()
                .to_string();
            assert!(done.contains("logs/app.log.1"), "{glob}: {done}");
        }
        let (status, _) = agent.terminate(Duration::from_secs(10));
        assert!(status.success());
        let rows = logs_of(&out);
        let after = rows.iter().find(|r| r.value == "after").unwrap();
        assert_eq!(file_path(after), "logs/app.log.1", "{glob}");
        let before = rows.iter().find(|r| r.value == "before").unwrap();
        assert_eq!(file_path(before), "logs/app.log", "{glob}");
    }
}
