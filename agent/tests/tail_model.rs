//! Model-based test of the tailer: random sequences of writes, rotations (rename),
//! copytruncate, deletes, re-creations and agent restarts (graceful or crash) against a model
//! of which lines must come out exactly once and which may be lost (deleted before read).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use firn_agent::file_tail::checkpoint::recover;
use firn_agent::file_tail::lines::LongLines;
use firn_agent::file_tail::{DecodeConfig, Format, ReaderConfig, TailConfig, Tailer};
use firn_agent::level_filter::LogLevel;
use firn_agent::pipeline::{SinkReport, SinkSettings, spawn_sink};
use firn_agent::telemetry::Counters;
use firn_schemas::{OutputMode, ParquetSink, SinkConfig};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Write(usize, usize),
    Step,
    Rotate(usize),
    CopyTruncate(usize),
    Delete(usize),
    Restart { crash: bool },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..2usize, 1..30usize).prop_map(|(f, n)| Op::Write(f, n)),
        4 => Just(Op::Step),
        1 => (0..2usize).prop_map(Op::Rotate),
        1 => (0..2usize).prop_map(Op::CopyTruncate),
        1 => (0..2usize).prop_map(Op::Delete),
        1 => any::<bool>().prop_map(|crash| Op::Restart { crash }),
    ]
}

struct Agent {
    tailer: Tailer,
    sink: JoinHandle<SinkReport>,
    abort: Arc<AtomicBool>,
}

struct World {
    logs: PathBuf,
    out: PathBuf,
    next: usize,
    must: BTreeSet<String>,
    may: BTreeSet<String>,
}

const NAMES: [&str; 2] = ["a", "b"];

impl World {
    fn path(&self, f: usize) -> PathBuf {
        self.logs.join(format!("{}.log", NAMES[f]))
    }

    fn lines_in(&self, p: &Path) -> Vec<String> {
        std::fs::read_to_string(p)
            .map(|s| s.lines().map(str::to_string).collect())
            .unwrap_or_default()
    }

    /// Shifts `x.log.N` to `x.log.N+1`, as logrotate does before rotating.
    fn shift(&self, f: usize) {
        let base = self.path(f);
        let mut n = 1;
        while Path::new(&format!("{}.{n}", base.display())).exists() {
            n += 1;
        }
        for k in (1..n).rev() {
            std::fs::rename(
                format!("{}.{k}", base.display()),
                format!("{}.{}", base.display(), k + 1),
            )
            .unwrap();
        }
    }

    fn apply(&mut self, op: &Op) {
        match *op {
            Op::Write(f, n) => {
                let mut file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(self.path(f))
                    .unwrap();
                let mut buf = String::new();
                for _ in 0..n {
                    let line = format!(
                        "{}-{:06}-{}",
                        NAMES[f],
                        self.next,
                        "z".repeat(self.next % 50)
                    );
                    self.next += 1;
                    buf.push_str(&line);
                    buf.push('\n');
                    self.must.insert(line);
                }
                file.write_all(buf.as_bytes()).unwrap();
            }
            Op::Rotate(f) => {
                if self.path(f).exists() {
                    self.shift(f);
                    std::fs::rename(self.path(f), format!("{}.1", self.path(f).display())).unwrap();
                }
            }
            Op::CopyTruncate(f) => {
                if self.path(f).exists() {
                    self.shift(f);
                    std::fs::copy(self.path(f), format!("{}.1", self.path(f).display())).unwrap();
                    std::fs::OpenOptions::new()
                        .write(true)
                        .truncate(true)
                        .open(self.path(f))
                        .unwrap();
                }
            }
            Op::Delete(f) => {
                let p = self.path(f);
                for l in self.lines_in(&p) {
                    self.must.remove(&l);
                    self.may.insert(l);
                }
                let _ = std::fs::remove_file(p);
            }
            Op::Step | Op::Restart { .. } => {}
        }
    }
}

fn tail_config(logs: &Path) -> TailConfig {
    let reader = ReaderConfig {
        max_line_bytes: 16 << 10,
        long_lines: LongLines::Truncate,
        decode: Arc::new(DecodeConfig {
            format: Format::Plain,
            multiline_start: None,
            level: LogLevel::Info,
            max_record_bytes: 16 << 10,
            ..DecodeConfig::default()
        }),
    };
    let pattern = glob::Pattern::new(&format!("{}/*.log*", logs.display())).unwrap();
    let mut cfg = TailConfig::new(vec![pattern], reader);
    cfg.rotate_wait = Duration::ZERO;
    cfg.use_events = false;
    cfg
}

fn start(world: &World) -> Agent {
    let mut sink_cfg = SinkConfig::new(&world.out, OutputMode::Local);
    sink_cfg.set_agent_id("model");
    sink_cfg.max_file_bytes = 4 << 10;
    let recovered = recover(&world.out, "model").unwrap();
    let abort = Arc::new(AtomicBool::new(false));
    let settings = SinkSettings {
        batch_rows: 16,
        batch_age: Duration::from_millis(1),
        initial_positions: recovered.positions.clone(),
        abort: Some(abort.clone()),
        ..SinkSettings::default()
    };
    let (tx, sink) =
        spawn_sink(ParquetSink::new(sink_cfg), None, settings, Box::new(|_| {})).unwrap();
    let tailer = Tailer::new(
        tail_config(&world.logs),
        &recovered,
        tx,
        Arc::new(Counters::default()),
    );
    Agent {
        tailer,
        sink,
        abort,
    }
}

fn stop(agent: Agent, crash: bool) {
    let Agent {
        mut tailer,
        sink,
        abort,
    } = agent;
    if crash {
        abort.store(true, std::sync::atomic::Ordering::Relaxed);
    } else {
        tailer.discover(Instant::now());
        tailer.finish();
    }
    drop(tailer);
    sink.join().unwrap();
}

fn step(agent: &mut Agent) {
    agent.tailer.discover(Instant::now());
    agent.tailer.read_pass(Instant::now());
}

fn run_ops(ops: &[Op]) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let mut world = World {
        logs: dir.path().join("logs"),
        out: dir.path().join("out"),
        next: 0,
        must: BTreeSet::new(),
        may: BTreeSet::new(),
    };
    std::fs::create_dir_all(&world.logs).unwrap();
    let mut agent = start(&world);
    for op in ops {
        match op {
            Op::Step => step(&mut agent),
            Op::Restart { crash } => {
                stop(agent, *crash);
                agent = start(&world);
            }
            _ => world.apply(op),
        }
    }
    stop(agent, false);
    let counts = common::line_counts(&world.out);
    for l in &world.must {
        let n = counts.get(l).copied().unwrap_or(0);
        if n != 1 {
            return Err(format!("line {l} appears {n} times, expected once"));
        }
    }
    for (l, n) in &counts {
        if !(world.must.contains(l) || world.may.contains(l)) {
            return Err(format!("unexpected line {l}"));
        }
        if *n > 1 {
            return Err(format!("line {l} (may be lost) appears {n} times"));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_line_arrives_exactly_once(ops in proptest::collection::vec(op(), 1..40)) {
        let r = run_ops(&ops);
        prop_assert!(r.is_ok(), "{} (ops {:?})", r.unwrap_err(), ops);
    }
}

#[test]
fn copytruncate_then_new_writes_then_restart() {
    use Op::*;
    run_ops(&[
        Write(0, 25),
        Write(0, 15),
        Write(0, 19),
        Write(1, 15),
        Step,
        CopyTruncate(0),
        Write(0, 23),
        Restart { crash: false },
    ])
    .unwrap();
}

#[test]
fn crash_after_two_copytruncates_then_delete() {
    use Op::*;
    run_ops(&[
        Write(1, 3),
        Rotate(0),
        Rotate(0),
        Write(0, 3),
        Delete(1),
        Restart { crash: false },
        Write(1, 16),
        Step,
        Write(1, 28),
        Rotate(1),
        Write(0, 9),
        Delete(1),
        Write(1, 12),
        CopyTruncate(1),
        Step,
        Step,
        Delete(1),
        Write(0, 29),
        Delete(1),
        Write(0, 28),
        Step,
        Write(0, 8),
        CopyTruncate(0),
        Write(1, 13),
        Write(0, 28),
        CopyTruncate(0),
        Write(1, 18),
        Step,
        Write(0, 19),
        Restart { crash: true },
        Write(1, 29),
        Delete(0),
        Step,
        Write(0, 11),
        Step,
    ])
    .unwrap();
}

#[test]
fn copy_position_is_durable_before_the_originals_reset() {
    use Op::*;
    let ops = [
        Write(1, 27),
        Write(0, 24),
        Step,
        Write(1, 6),
        Write(1, 3),
        Delete(0),
        Rotate(1),
        Step,
        CopyTruncate(1),
        Step,
        Step,
        Write(0, 17),
        Step,
        Write(1, 13),
        Step,
        Write(1, 14),
        Write(0, 10),
        Write(1, 16),
        CopyTruncate(0),
        Step,
        Step,
        Step,
        Step,
        Write(1, 1),
        Write(0, 21),
        Delete(0),
        Step,
        Write(1, 21),
        Write(0, 4),
        Step,
        Step,
        Write(1, 23),
        Restart { crash: true },
    ];
    let mut fails = 0;
    for _ in 0..30 {
        if let Err(e) = run_ops(&ops) {
            fails += 1;
            eprintln!("FAIL {e}");
        }
    }
    assert_eq!(fails, 0);
}
