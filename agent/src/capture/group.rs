//! The wrapped app's process group. The app is started in a group of its own (its pid is
//! the group id), so the SIGTERM of a shutdown and the SIGKILL after the grace period
//! reach the processes it started too — a shell's children, worker processes — and not
//! only the app. Without it, a grandchild that ignores SIGTERM outlives firn.

use std::os::fd::AsFd;

use rustix::process::{Pid, Signal, kill_process_group, test_kill_process_group};

use crate::telemetry::Counters;

/// The process group led by the wrapped app.
#[derive(Debug, Clone, Copy)]
pub(super) struct Group {
    pgid: Pid,
}

impl Group {
    /// The group of an app started with `process_group(0)`: its id is the app's pid.
    pub(super) fn led_by(pid: Pid) -> Self {
        Self { pgid: pid }
    }

    /// Sends `sig` to every process of the group.
    pub(super) fn signal(self, sig: Signal, counters: &Counters) {
        match kill_process_group(self.pgid, sig) {
            Ok(()) => Counters::add(&counters.child_signals_forwarded_total, 1),
            // ESRCH: the whole group has exited.
            Err(e) => {
                tracing::debug!(pgid = self.pgid.as_raw_nonzero().get(), signal = ?sig, error = %e, "Cannot signal the app's process group")
            }
        }
    }

    /// Whether a process of the group still runs. Zombies (exited, waiting to be reaped
    /// by their parent or by init) do not count.
    pub(super) fn alive(self) -> bool {
        if test_kill_process_group(self.pgid).is_err() {
            return false;
        }
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return true;
        };
        let pgid = self.pgid.as_raw_nonzero().get();
        dir.flatten().any(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.parse::<u32>().is_ok())
                && std::fs::read_to_string(e.path().join("stat"))
                    .ok()
                    .is_some_and(|stat| running_member(&stat, pgid))
        })
    }

    /// Hands the terminal to the app's group when firn holds it in the foreground, so an
    /// interactive app can read it (a background group would be stopped by SIGTTIN), as a
    /// shell does for a job. A no-op without a terminal, as in a container.
    pub(super) fn take_terminal(self) {
        let stdin = std::io::stdin();
        let fd = stdin.as_fd();
        if rustix::termios::isatty(fd)
            && rustix::termios::tcgetpgrp(fd).ok() == Some(rustix::process::getpgrp())
            && let Err(e) = rustix::termios::tcsetpgrp(fd, self.pgid)
        {
            tracing::debug!(error = %e, "Cannot give the terminal to the app");
        }
    }
}

/// Whether a `/proc/PID/stat` line is of a process in group `pgid` that is not a zombie.
/// The fields after the command (in parentheses, which may hold anything) are
/// `state ppid pgrp ...`.
pub(super) fn running_member(stat: &str, pgid: i32) -> bool {
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return false;
    };
    let mut f = rest.split_whitespace();
    let state = f.next();
    let pgrp = f.nth(1).and_then(|p| p.parse::<i32>().ok());
    pgrp == Some(pgid) && !matches!(state, Some("Z" | "X" | "x"))
}
