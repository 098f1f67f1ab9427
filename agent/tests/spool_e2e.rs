//! End to end: the write-ahead spool (issue 9), all with the DEFAULT settings (no
//! `--max-file-age` override): rows and positions are durable within a second, so `kill -9`
//! while the app rotates, a crash loop, a purged output, a torn spool and a full spool disk
//! neither lose nor repeat a line.
//!
//! Stage mode runs on the stage-rules FUSE file system (`testing/stagefs`) with `--spec`, as
//! in SPCS: the spool goes on the agent container's `local` volume.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::agent::{Agent, log_tail, wait_until};
use common::root::{cannot_run, fill, mount_tmpfs};
use common::scenario::{App, Rotation, Setup, exactly_once};
use common::tail::Rng;
use common::{append, lines, parquet_files, stage_mount};

/// The scenario: three files, `app2.log` rotated about once a second keeping 9; the
/// agent killed with SIGKILL 10 times in 25 s and restarted each time, then stopped with
/// SIGTERM. Every line must be in the output exactly once. At 7,000 lines/s, half the
/// issue's rate: four of these run side by side on a debug build on a shared 2-core machine,
/// and at 14,000 a starved agent sometimes fell more than 9 rotations behind (a loss no
/// spool can prevent). Without the spool, 7,000 lines/s loses as surely: every life starts
/// over from the last written file, older than any rotated file still there.
fn kill_9_while_rotating(s: &Setup, rotation: Rotation) -> Result<(), String> {
    let app = App::start(&s.logs, "k", rotation, 7_000);
    let mut rng = Rng(9);
    let mut agent = s.start("agent.log");
    for _ in 0..10 {
        sleep(rng.millis(2_000, 3_000));
        agent.kill9();
        agent = s.start("agent.log");
    }
    let written = app.stop();
    // Let the last life read what is left (rotated files included), then stop it.
    agent.wait_for_log("Following input files", 1, Duration::from_secs(30));
    sleep(Duration::from_secs(3));
    let log = agent.log.clone();
    let (status, _) = agent.terminate(Duration::from_secs(30));
    if !status.success() {
        return Err(format!("exit {status}\n{}", log_tail(&log)));
    }
    s.check_stage_rules();
    exactly_once(&s.out, &written)
        .map_err(|e| format!("{rotation:?}, {}: {e}\n{}", s.out.display(), log_tail(&log)))
}

/// A named scenario.
type Case = (String, Box<dyn FnOnce() -> Result<(), String> + Send>);

/// Runs each scenario in a thread of its own (they take ~30 s each) and fails with every
/// failure, keeping the folder `keep` (named in the message) for the agents' whole logs.
fn in_parallel(cases: Vec<Case>, keep: tempfile::TempDir) {
    let handles: Vec<_> = cases
        .into_iter()
        .map(|(name, f)| (name, std::thread::spawn(f)))
        .collect();
    let mut failures = Vec::new();
    for (name, h) in handles {
        match h.join() {
            Ok(Ok(())) => eprintln!("{name}: every line exactly once"),
            Ok(Err(e)) => failures.push(format!("{name}: {e}")),
            Err(_) => failures.push(format!("{name}: panicked")),
        }
    }
    if !failures.is_empty() {
        let kept = keep.keep();
        panic!(
            "{}\n\n(folders kept: {})",
            failures.join("\n\n"),
            kept.display()
        );
    }
}

/// Both output modes side by side for one way of rotating; the rotated names are matched by
/// the inputs (`*.log*`), as the README asks for exactly once across kills: a copy is read
/// from where its original was read to only if matched (what the agent had not read at the
/// truncate is only in the copy); and a file renamed out of `*.log` is found again at start
/// only through its position, so one born after the last commit and rotated away while the
/// agent was down was lost (2,310 lines in 1 run of 6 with `*.log`).
fn kill_9_in_both_modes(rotation: Rotation) {
    let root = tempfile::tempdir().unwrap();
    let glob = |logs: &Path| format!("{}/*.log*", logs.display());
    let mut cases: Vec<Case> = Vec::new();
    let d = root.path().join("local");
    std::fs::create_dir_all(&d).unwrap();
    let mut s = Setup::local(&d);
    s.args[1] = glob(&s.logs);
    cases.push((
        format!("local, {rotation:?}"),
        Box::new(move || kill_9_while_rotating(&s, rotation)),
    ));
    let d = root.path().join("stage");
    std::fs::create_dir_all(&d).unwrap();
    if let Some(mut s) = Setup::stage(&d) {
        s.args.extend(["--input".to_string(), glob(&s.logs)]);
        cases.push((
            format!("stage, {rotation:?}"),
            Box::new(move || kill_9_while_rotating(&s, rotation)),
        ));
    }
    in_parallel(cases, root);
}

/// Issue 9: 40,000 of 347,850 lines were lost with rename rotation when the agent was killed
/// 10 times in 25 s: rows became durable only when a Parquet file closed, and what the app
/// rotated away meanwhile was gone. Local and stage output.
#[test]
fn kill_9_while_the_app_rotates_by_rename_loses_and_repeats_nothing() {
    kill_9_in_both_modes(Rotation::Rename);
}

/// Issue 9: the same with copytruncate, 35,000 of 181,350 lost. It also failed about 1 run
/// in 6 with some 24 lines twice, at a copy seen while its original was still read: a tailer
/// race, fixed in `file_tail/tailer/copies.rs` (regression test in `tail_truncation_e2e.rs`).
#[test]
fn kill_9_while_the_app_copytruncates_loses_and_repeats_nothing() {
    kill_9_in_both_modes(Rotation::CopyTruncate);
}

/// The spool folder of the (only) agent under `out` (local default placement).
fn spool_dir(out: &Path) -> PathBuf {
    let base = out.join(".firn-spool");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&base)
        .unwrap_or_else(|e| panic!("{}: {e}", base.display()))
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(dirs.len(), 1, "one agent, one spool folder: {dirs:?}");
    dirs.pop().unwrap()
}

/// Issue 9: an agent killed more often than `--max-file-age` (60 s) never wrote a file:
/// every life started over. Killed every 2-3 s for 75 s while the app writes: output files
/// appear during the loop, within about `--max-file-age` of the first row, and at the end
/// every line is there exactly once.
#[test]
fn a_crash_loop_still_writes_files_on_time_and_every_line_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = Setup::local(dir.path());
    let app = App::start(&s.logs, "c", Rotation::None, 2_000);
    let t0 = Instant::now();
    let mut rng = Rng(75);
    let mut first_file: Option<Duration> = None;
    let mut agent = s.start("agent.log");
    while t0.elapsed() < Duration::from_secs(75) {
        sleep(rng.millis(2_000, 3_000));
        agent.kill9();
        if first_file.is_none() && !parquet_files(&s.out).is_empty() {
            first_file = Some(t0.elapsed());
        }
        agent = s.start("agent.log");
    }
    let files_in_loop = parquet_files(&s.out).len();
    let written = app.stop();
    agent.wait_for_log("Following input files", 1, Duration::from_secs(30));
    sleep(Duration::from_secs(2));
    let log = agent.log.clone();
    let (status, _) = agent.terminate(Duration::from_secs(30));
    assert!(status.success(), "{status}\n{}", log_tail(&log));
    eprintln!(
        "crash loop: first file after {first_file:?}, {files_in_loop} file(s) during the loop"
    );
    // The first row is read within a second of the start; its file closes at 60 s of age,
    // counted across lives, and is written in the life after (2-3 s), with start-up and
    // replay in between.
    let first = first_file
        .unwrap_or_else(|| panic!("no output file during the 75 s loop\n{}", log_tail(&log)));
    assert!(
        first <= Duration::from_secs(70),
        "first file after {first:?}"
    );
    exactly_once(&s.out, &written).unwrap_or_else(|e| panic!("{e}\n{}", log_tail(&log)));
}

/// Issue 9: positions lived only in the output files, so after `COPY ... PURGE = TRUE` (or
/// any job deleting loaded files) a restart read every input from its start again. Run,
/// SIGTERM, delete every output file, append, restart: only the new lines arrive.
#[test]
fn a_purged_output_is_not_read_again() {
    let dir = tempfile::tempdir().unwrap();
    let s = Setup::local(dir.path());
    let first = lines("before the purge", 200);
    append(&s.logs.join("a.log"), &first);
    let agent = s.start("run1.log");
    wait_until(
        "the lines are committed",
        &agent.log,
        Duration::from_secs(30),
        || agent.log_text().contains("Following file"),
    );
    sleep(Duration::from_secs(2));
    let (status, _) = agent.terminate(Duration::from_secs(30));
    assert!(status.success());
    exactly_once(&s.out, &first).unwrap();
    for p in parquet_files(&s.out) {
        std::fs::remove_file(p).unwrap();
    }
    let second = lines("after the purge", 50);
    append(&s.logs.join("a.log"), &second);
    let agent = s.start("run2.log");
    agent.wait_for_log("Following input files", 1, Duration::from_secs(30));
    sleep(Duration::from_secs(2));
    let log = agent.log.clone();
    let (status, _) = agent.terminate(Duration::from_secs(30));
    assert!(status.success());
    exactly_once(&s.out, &second).unwrap_or_else(|e| panic!("{e}\n{}", log_tail(&log)));
}

/// Issue 9: a crash in the middle of a commit leaves the last spool segment cut anywhere.
/// Killed while the app writes, the last segment cut at a different offset each time: the
/// agent starts every time, says what it dropped, and every line is there exactly once.
#[test]
fn a_torn_spool_is_cut_and_every_line_lands_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = Setup::local(dir.path());
    let app = App::start(&s.logs, "t", Rotation::None, 3_000);
    let mut rng = Rng(0x70f0);
    let mut torn_said = 0;
    let mut cuts = Vec::new();
    for i in 0..8 {
        let agent = s.start("agent.log");
        agent.wait_for_log("Following input files", 1, Duration::from_secs(30));
        let text = agent.log_text();
        if text.contains("Cut the torn tail of the spool") {
            assert!(text.contains("dropped_bytes="), "{text}");
            torn_said += 1;
        }
        sleep(rng.millis(1_500, 2_500));
        agent.kill9();
        let spool = spool_dir(&s.out);
        let mut segs: Vec<PathBuf> = std::fs::read_dir(&spool)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "arrows"))
            .collect();
        segs.sort();
        let last = segs
            .pop()
            .unwrap_or_else(|| panic!("round {i}: no segment in {}", spool.display()));
        let len = std::fs::metadata(&last).unwrap().len();
        // Anywhere in the file but its end (which would cut nothing).
        let cut = rng.next() % len.max(1);
        OpenOptions::new()
            .write(true)
            .open(&last)
            .unwrap()
            .set_len(cut)
            .unwrap();
        cuts.push((len, cut));
    }
    let written = app.stop();
    let agent = s.start("agent.log");
    agent.wait_for_log("Following input files", 1, Duration::from_secs(30));
    if agent.log_text().contains("Cut the torn tail of the spool") {
        torn_said += 1;
    }
    sleep(Duration::from_secs(2));
    let log = agent.log.clone();
    let (status, _) = agent.terminate(Duration::from_secs(30));
    assert!(status.success(), "{status}\n{}", log_tail(&log));
    eprintln!("cuts (segment bytes, cut at): {cuts:?}; torn tails reported: {torn_said}");
    // A cut can land exactly between two commits (nothing torn); not 8 times in 8.
    assert!(
        torn_said >= 4,
        "only {torn_said} torn tails reported\n{}",
        log_tail(&log)
    );
    exactly_once(&s.out, &written).unwrap_or_else(|e| panic!("{e}\n{}", log_tail(&log)));
}

/// Issue 9: the spool's disk fills. Special setting: `--spool` on a 4 MiB tmpfs of its own,
/// the only way to fill the spool's disk and not the machine's. Reading pauses (the agent
/// says so and stays up), nothing is lost, and reading resumes when space returns.
#[test]
fn a_full_spool_disk_pauses_reading_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Setup::local(dir.path());
    let disk = dir.path().join("spooldisk");
    let _unmount = match mount_tmpfs(&disk, "4m") {
        Ok(m) => m,
        Err(e) => return cannot_run("full spool disk", &e),
    };
    s.args
        .extend(["--spool".to_string(), "spooldisk".to_string()]);
    let a = s.logs.join("a.log");
    let before = lines("before", 100);
    append(&a, &before);
    let mut agent = s.start("agent.log");
    agent.wait_for_log("Following input files", 1, Duration::from_secs(30));
    sleep(Duration::from_secs(2));
    // Fill the disk to its last byte.
    let filler = disk.join("filler");
    fill(&filler);
    let full = lines("while the spool disk is full", 3_000);
    append(&a, &full);
    agent.wait_for_log("Cannot commit to the spool", 1, Duration::from_secs(30));
    sleep(Duration::from_secs(2));
    let more = lines("still full", 1_000);
    append(&a, &more);
    sleep(Duration::from_secs(2));
    assert!(
        agent.try_wait().is_none(),
        "the agent exited\n{}",
        log_tail(&agent.log)
    );
    assert!(
        !agent.log_text().contains("Spool takes commits again"),
        "{}",
        log_tail(&agent.log)
    );
    std::fs::remove_file(&filler).unwrap();
    agent.wait_for_log("Spool takes commits again", 1, Duration::from_secs(30));
    sleep(Duration::from_secs(2));
    let log = agent.log.clone();
    let (status, _) = agent.terminate(Duration::from_secs(30));
    assert!(status.success(), "{status}\n{}", log_tail(&log));
    let all: Vec<String> = before.iter().chain(&full).chain(&more).cloned().collect();
    exactly_once(&s.out, &all).unwrap_or_else(|e| panic!("{e}\n{}", log_tail(&log)));
}

// ---------------------------------------------------------------------------------------
// `--once` uses no spool: it writes before it exits, and must not spend its time retrying
// what no retry cures.

/// Runs `firn-agent --once` over one small file into `output`, as user `uid` when given;
/// its exit code, stderr and how long it took.
fn once_into(d: &Path, output: &str, uid: Option<u32>) -> (Option<i32>, String, Duration) {
    use std::os::unix::process::CommandExt;
    std::fs::create_dir_all(d.join("logs")).unwrap();
    append(&d.join("logs/a.log"), &lines("once", 10));
    let mut cmd = std::process::Command::new(common::agent::FIRN);
    cmd.current_dir(d)
        .args(["--once", "--input", "logs/*.log", "--output", output])
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    if let Some(id) = uid {
        cmd.uid(id).gid(id);
    }
    let t0 = Instant::now();
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        t0.elapsed(),
    )
}

/// Issue 9: `--once` into an output it can never write (a file where the folder should be,
/// a folder it may not write) retried for 25 s before failing. It must fail at once, exit 1,
/// and say what to fix.
#[test]
fn once_fails_fast_on_a_permanent_write_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("out"), "a file where the output folder should be").unwrap();
    let (code, err, took) = once_into(d, "out", None);
    assert_eq!(code, Some(1), "{err}");
    assert!(took < Duration::from_secs(5), "took {took:?}\n{err}");
    assert!(err.contains("retrying will not help"), "{err}");
    // A folder the agent may not write (root may write anywhere: run as nobody).
    if rustix::process::geteuid().is_root() {
        use std::os::unix::fs::PermissionsExt;
        let d = dir.path().join("ro");
        std::fs::create_dir_all(d.join("out")).unwrap();
        for p in [dir.path(), &d] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::set_permissions(d.join("out"), std::fs::Permissions::from_mode(0o555)).unwrap();
        let (code, err, took) = once_into(&d, "out", Some(65534));
        assert_eq!(code, Some(1), "{err}");
        assert!(took < Duration::from_secs(5), "took {took:?}\n{err}");
        assert!(
            err.contains("Permission denied") && err.contains("retrying will not help"),
            "{err}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Where the spool lives (README, Inputs), default settings.

/// Rows DuckDB reads with the glob a user would write over the output folder.
fn duckdb_count(glob: &Path) -> Result<u64, String> {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import duckdb, sys; print(duckdb.sql(f\"SELECT count(*) FROM read_parquet('{sys.argv[1]}')\").fetchall()[0][0])",
        ])
        .arg(glob)
        .output()
        .map_err(|e| e.to_string())?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .map_err(|e| format!("{e}"))
}

/// Local output: the spool is a hidden folder per agent id under the output, and DuckDB's
/// `out/**/*.parquet` (which enters hidden folders) reads the rows and nothing of the spool,
/// even while the spool holds uncovered commits.
#[test]
fn the_default_local_spool_is_hidden_from_a_parquet_glob() {
    let dir = tempfile::tempdir().unwrap();
    let s = Setup::local(dir.path());
    let first = lines("glob", 100);
    append(&s.logs.join("a.log"), &first);
    let agent = s.start("run1.log");
    agent.wait_for_log("Following input files", 1, Duration::from_secs(30));
    sleep(Duration::from_secs(2));
    // Killed: the spool holds the rows, no file is written yet.
    agent.kill9();
    let spool = spool_dir(&s.out);
    assert!(
        std::fs::read_dir(&spool).unwrap().next().is_some(),
        "{} is empty",
        spool.display()
    );
    let agent = s.start("run2.log");
    agent.wait_for_log("Following input files", 1, Duration::from_secs(30));
    let log = agent.log.clone();
    let (status, _) = agent.terminate(Duration::from_secs(30));
    assert!(status.success(), "{}", log_tail(&log));
    exactly_once(&s.out, &first).unwrap();
    let rows = duckdb_count(&s.out.join("**/*.parquet"));
    // The output also holds the agent's own METRIC rows.
    assert!(rows.as_ref().is_ok_and(|n| *n > 100), "{rows:?}");
    let mut stack = vec![s.out.join(".firn-spool")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            assert!(
                p.extension().is_none_or(|x| x != "parquet"),
                "{}",
                p.display()
            );
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
}

/// Stage output: never a spool on the stage. Without `--spec` (and no `--spool`) one warning
/// at start says what a crash can cost and how to fix it; with `--spec`, the spool is on the
/// agent container's `local` volume and never read as input, even by a glob matching every
/// file there.
#[test]
fn a_stage_output_spools_on_the_local_volume_or_warns() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("plain");
    std::fs::create_dir_all(d.join("logs")).unwrap();
    let Some(_mounted) = stage_mount(&d.join("stage")) else {
        return;
    };
    append(&d.join("logs/a.log"), &lines("plain", 10));
    let agent = Agent::start(
        &d,
        "agent.log",
        &["--input", "logs/*.log", "--output", "stage"],
    );
    agent.wait_for_log("Following input files", 1, Duration::from_secs(30));
    let log = agent.log.clone();
    let (status, _) = agent.terminate(Duration::from_secs(30));
    assert!(status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.matches("No spool:").count(), 1, "{text}");
    assert!(text.contains("--spool DIR"), "{text}");
    assert!(!d.join("stage/.firn-spool").exists() && !d.join("stage.backing/.firn-spool").exists());

    let d = dir.path().join("spec");
    std::fs::create_dir_all(&d).unwrap();
    let Some(mut s) = Setup::stage(&d) else {
        return;
    };
    // Every file on the local volume, the spool's folder included.
    s.args
        .extend(["--input".to_string(), format!("{}/**", s.logs.display())]);
    let first = lines("spec", 300);
    append(&s.logs.join("a.log"), &first);
    let agent = s.start("agent.log");
    agent.wait_for_log("Following input files", 1, Duration::from_secs(30));
    sleep(Duration::from_secs(3));
    agent.kill9();
    assert!(
        s.logs.join(".firn-spool").is_dir(),
        "no spool on the local volume"
    );
    let agent = s.start("agent.log");
    agent.wait_for_log("Following input files", 1, Duration::from_secs(30));
    sleep(Duration::from_secs(2));
    let log = agent.log.clone();
    let (status, _) = agent.terminate(Duration::from_secs(30));
    assert!(status.success());
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("No spool:"), "{text}");
    s.check_stage_rules();
    exactly_once(&s.out, &first).unwrap_or_else(|e| panic!("{e}\n{}", log_tail(&log)));
}
