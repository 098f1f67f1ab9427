//! A real `firn-agent` process for end-to-end tests: started in a folder, its stderr in a log
//! file of its own, stopped with SIGTERM or SIGKILL, killed if a check fails first.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use rustix::process::Signal;

/// The binary under test.
pub const FIRN: &str = env!("CARGO_BIN_EXE_firn-agent");

/// One running agent.
pub struct Agent {
    child: Child,
    /// Its stderr.
    pub log: PathBuf,
    /// Where its stderr starts in `log` (earlier runs may have written there).
    log_start: usize,
}

impl Agent {
    /// Starts the agent in `dir` (paths in `args` are relative to it), its stderr appended to
    /// `dir/<log_name>`.
    pub fn start(dir: &Path, log_name: &str, args: &[&str]) -> Agent {
        Self::start_with(dir, log_name, args, &[])
    }

    /// As [`start`](Self::start), with extra environment variables.
    pub fn start_with(dir: &Path, log_name: &str, args: &[&str], env: &[(&str, &str)]) -> Agent {
        Self::spawn(dir, log_name, args, env, None)
    }

    /// As [`start`](Self::start), as the user and group `id` (the caller must be root).
    pub fn start_as(dir: &Path, log_name: &str, args: &[&str], id: u32) -> Agent {
        Self::spawn(dir, log_name, args, &[], Some(id))
    }

    fn spawn(
        dir: &Path,
        log_name: &str,
        args: &[&str],
        env: &[(&str, &str)],
        id: Option<u32>,
    ) -> Agent {
        let log = dir.join(log_name);
        let log_start = std::fs::metadata(&log).map_or(0, |m| m.len() as usize);
        let err = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .unwrap();
        let mut cmd = Command::new(FIRN);
        cmd.current_dir(dir)
            .args(args)
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .env_remove("OTEL_RESOURCE_ATTRIBUTES")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err);
        for (k, v) in env {
            cmd.env(k, v);
        }
        if let Some(id) = id {
            use std::os::unix::process::CommandExt;
            cmd.uid(id).gid(id);
        }
        Agent {
            child: cmd.spawn().unwrap(),
            log,
            log_start,
        }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends `sig`.
    pub fn signal(&self, sig: Signal) {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).unwrap();
        rustix::process::kill_process(pid, sig).unwrap();
    }

    /// SIGKILL, and waits for it to be gone.
    pub fn kill9(mut self) {
        self.signal(Signal::KILL);
        self.child.wait().unwrap();
    }

    /// Its exit status, if it has exited.
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().unwrap()
    }

    /// Sends SIGTERM and waits up to `limit` for the exit: its status and how long it took.
    pub fn terminate(mut self, limit: Duration) -> (ExitStatus, Duration) {
        let t0 = Instant::now();
        self.signal(Signal::TERM);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return (s, t0.elapsed());
            }
            assert!(
                t0.elapsed() < limit,
                "the agent did not exit within {limit:?} of SIGTERM\n{}",
                log_tail(&self.log)
            );
            sleep(Duration::from_millis(10));
        }
    }

    /// What it has logged so far (not what earlier runs wrote to the same file).
    pub fn log_text(&self) -> String {
        let all = std::fs::read(&self.log).unwrap_or_default();
        String::from_utf8_lossy(all.get(self.log_start..).unwrap_or_default()).into_owned()
    }

    /// Waits until its log holds `needle` `times` times; panics with the log at `limit`.
    pub fn wait_for_log(&self, needle: &str, times: usize, limit: Duration) {
        let t0 = Instant::now();
        while self.log_text().matches(needle).count() < times {
            assert!(
                t0.elapsed() < limit,
                "{needle:?} did not appear {times} time(s) in the log within {limit:?}\n{}",
                log_tail(&self.log)
            );
            sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        // A failed check must not leave the agent running; a reaped child is not signalled.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The end of an agent's log, for failure messages.
pub fn log_tail(log: &Path) -> String {
    let s = std::fs::read(log).unwrap_or_default();
    let from = s.len().saturating_sub(6000);
    format!(
        "--- agent log ({}), last {} bytes ---\n{}",
        log.display(),
        s.len() - from,
        String::from_utf8_lossy(&s[from..])
    )
}

/// Polls `cond` every 100 ms until it holds; panics with `what` and the log at `limit`.
pub fn wait_until(what: &str, log: &Path, limit: Duration, mut cond: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        assert!(
            t0.elapsed() < limit,
            "{what}: not within {limit:?}\n{}",
            log_tail(log)
        );
        sleep(Duration::from_millis(100));
    }
}
