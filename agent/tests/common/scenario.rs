//! Scenarios for end-to-end tests: an app writing and rotating its logs at a steady rate, an
//! agent set up in a folder (local output, or stage output on the FUSE file system with
//! `--spec`, as in SPCS), and the exactly-once check over its output.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{JoinHandle, sleep};
use std::time::{Duration, Instant};

use super::agent::Agent;
use super::{assert_no_refusals, stage_mount};

/// Each of `lines` once in the output's complete files and nothing else, or how not.
pub fn exactly_once(out: &Path, lines: &[String]) -> Result<(), String> {
    super::tail::exactly_once(&super::tail::final_counts(out), lines)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rotation {
    /// `app2.log` renamed to `app2.log.1` (`.1` to `.2`, ... the oldest, `.9`, overwritten).
    Rename,
    /// `app2.log` copied to `app2.log.1` (older copies shifted the same way), then truncated.
    CopyTruncate,
    /// No rotation.
    None,
}

/// An app writing numbered lines into `app1.log`, `app2.log` and `app3.log` at about `rate`
/// lines a second, rotating `app2.log` about once a second. Every line it wrote is returned
/// when it stops.
pub struct App {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Vec<String>>,
}

impl App {
    pub fn start(logs: &Path, tag: &str, rotation: Rotation, rate: usize) -> App {
        let stop = Arc::new(AtomicBool::new(false));
        let (logs, tag) = (logs.to_path_buf(), tag.to_string());
        let handle = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let open = |name: &str| {
                    OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(logs.join(name))
                        .unwrap()
                };
                let names = ["app1.log", "app2.log", "app3.log"];
                let mut files: Vec<File> = names.iter().map(|n| open(n)).collect();
                let mut all = Vec::new();
                let per_tick = (rate / 100).max(1);
                let t0 = Instant::now();
                let mut last_rotation = Instant::now();
                while !stop.load(Ordering::SeqCst) {
                    let mut bufs = vec![String::new(); 3];
                    for _ in 0..per_tick {
                        let n = all.len();
                        let f = n % 3;
                        let l =
                            format!("{tag} {} line {n} padding to a realistic length", names[f]);
                        bufs[f].push_str(&l);
                        bufs[f].push('\n');
                        all.push(l);
                    }
                    for (f, b) in files.iter_mut().zip(&bufs) {
                        f.write_all(b.as_bytes()).unwrap();
                    }
                    if rotation != Rotation::None
                        && last_rotation.elapsed() >= Duration::from_secs(1)
                    {
                        last_rotation = Instant::now();
                        let p = |k: usize| logs.join(format!("app2.log.{k}"));
                        for k in (1..9).rev() {
                            if p(k).exists() {
                                std::fs::rename(p(k), p(k + 1)).unwrap();
                            }
                        }
                        if rotation == Rotation::Rename {
                            std::fs::rename(logs.join("app2.log"), p(1)).unwrap();
                            files[1] = open("app2.log");
                        } else {
                            std::fs::copy(logs.join("app2.log"), p(1)).unwrap();
                            files[1].set_len(0).unwrap();
                        }
                    }
                    // Paced by the clock, not by the sleeps: the rate holds under load.
                    let due = t0 + Duration::from_secs_f64(all.len() as f64 / rate as f64);
                    sleep(due.saturating_duration_since(Instant::now()));
                }
                all
            })
        };
        App { stop, handle }
    }

    pub fn stop(self) -> Vec<String> {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.join().unwrap()
    }
}

/// A spec with the agent container mounting `logs` (a `local` volume) and `stage` (a stage
/// volume), as `firn-agent spec inject` writes one.
pub fn write_spec(dir: &Path, logs: &Path, stage: &Path) -> PathBuf {
    let spec = format!(
        "spec:
  containers:
  - name: app
    image: /db/schema/repo/app:1
    volumeMounts:
    - name: logs
      mountPath: /app/logs
  - name: logging-agent
    image: /db/schema/repo/firn:1
    volumeMounts:
    - name: logs
      mountPath: {}
    - name: out
      mountPath: {}
  volumes:
  - name: logs
    source: local
  - name: out
    source: stage
    stageConfig:
      name: '@events'
",
        logs.display(),
        stage.display()
    );
    let p = dir.join("service.yaml");
    std::fs::write(&p, spec).unwrap();
    p
}

/// Where an agent in `d` reads and writes, and its arguments.
pub struct Setup {
    pub d: PathBuf,
    pub logs: PathBuf,
    pub out: PathBuf,
    pub args: Vec<String>,
    stage: Option<firn_stagefs::Mounted>,
}

impl Setup {
    /// Local output: `--input logs/*.log --output out`, nothing else.
    pub fn local(d: &Path) -> Setup {
        std::fs::create_dir_all(d.join("logs")).unwrap();
        Setup {
            d: d.to_path_buf(),
            logs: d.join("logs"),
            out: d.join("out"),
            args: ["--input", "logs/*.log", "--output", "out"]
                .map(String::from)
                .to_vec(),
            stage: None,
        }
    }

    /// Stage output on the FUSE file system, everything from `--spec`; None where FUSE
    /// cannot be used (outside CI).
    pub fn stage(d: &Path) -> Option<Setup> {
        let stage = d.join("stage");
        let mounted = stage_mount(&stage)?;
        let logs = d.join("logs");
        std::fs::create_dir_all(&logs).unwrap();
        let spec = write_spec(d, &logs, &stage);
        Some(Setup {
            d: d.to_path_buf(),
            logs,
            out: stage,
            args: vec!["--spec".into(), spec.display().to_string()],
            stage: Some(mounted),
        })
    }

    pub fn args(&self) -> Vec<&str> {
        self.args.iter().map(String::as_str).collect()
    }

    pub fn start(&self, log: &str) -> Agent {
        Agent::start(&self.d, log, &self.args())
    }

    pub fn check_stage_rules(&self) {
        if let Some(m) = &self.stage {
            assert_no_refusals(m);
        }
    }
}
