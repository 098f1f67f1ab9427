//! The tailer's parts on real files, with the sink replaced by a channel read here.

use std::sync::mpsc::{Receiver, sync_channel};

use super::*;
use crate::file_tail::decode::{DecodeConfig, Format};
use crate::file_tail::lines::LongLines;
use crate::level_filter::LogLevel;
use crate::pipeline::Msg;

fn config(glob: &str) -> TailConfig {
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
    let mut cfg = TailConfig::new(vec![glob::Pattern::new(glob).unwrap()], reader);
    cfg.use_events = false;
    cfg
}

fn tailer(cfg: TailConfig) -> (Tailer, Receiver<Msg>) {
    let (tx, rx) = sync_channel(1 << 16);
    let t = Tailer::new(
        cfg,
        &Recovered::default(),
        tx,
        Arc::new(Counters::default()),
    );
    (t, rx)
}

/// Every line received so far, with its file's path attribute.
fn lines(rx: &Receiver<Msg>) -> Vec<String> {
    let mut out = Vec::new();
    while let Ok(m) = rx.try_recv() {
        if let Msg::Logs(c) = m {
            out.extend(c.iter().map(|(s, _)| s.to_string()));
        }
    }
    out
}

fn write_files(dir: &Path, n: usize) {
    for i in 0..n {
        std::fs::write(dir.join(format!("f{i:03}.log")), format!("line of {i}\n")).unwrap();
    }
}

#[test]
fn new_files_are_started_in_batches_so_reading_begins_before_all_are_open() {
    let d = tempfile::tempdir().unwrap();
    write_files(d.path(), 5);
    let (mut t, rx) = tailer(config(&format!("{}/*.log", d.path().display())));
    t.start_batch = 2;
    t.discover(Instant::now());
    assert_eq!((t.watched(), t.queue.len()), (2, 3));
    t.read_pass(Instant::now()).unwrap();
    assert_eq!(
        lines(&rx).len(),
        2,
        "the first batch is read before the rest is opened"
    );
    t.start_queued(Instant::now());
    t.start_queued(Instant::now());
    assert_eq!((t.watched(), t.queue.len()), (5, 0));
    assert!(t.finish());
    assert_eq!(lines(&rx).len(), 3);
}

#[test]
fn with_more_files_than_descriptors_every_file_is_read_and_the_limit_holds() {
    let d = tempfile::tempdir().unwrap();
    write_files(d.path(), 7);
    let mut cfg = config(&format!("{}/*.log", d.path().display()));
    cfg.max_open_files = 2;
    let (mut t, rx) = tailer(cfg);
    t.discover(Instant::now());
    let mut got = Vec::new();
    for _ in 0..20 {
        t.read_pass(Instant::now()).unwrap();
        let open = t.files.values().filter(|f| f.reader.is_some()).count();
        assert_eq!(open, t.open, "the open count is kept right");
        assert!(open <= 2);
        got.extend(lines(&rx));
    }
    got.sort();
    let want: Vec<String> = (0..7).map(|i| format!("line of {i}")).collect();
    assert_eq!(got, want);
}

#[test]
fn a_file_renamed_within_the_inputs_is_followed_under_its_new_name() {
    let d = tempfile::tempdir().unwrap();
    let a = d.path().join("app.log");
    std::fs::write(&a, "one\n").unwrap();
    let (mut t, rx) = tailer(config(&format!("{}/app.log*", d.path().display())));
    t.discover(Instant::now());
    t.read_pass(Instant::now()).unwrap();
    std::fs::rename(&a, d.path().join("app.log.1")).unwrap();
    t.discover(Instant::now());
    let f = t.files.values().next().unwrap();
    assert_eq!(f.path, d.path().join("app.log.1"));
    assert_eq!(f.origin, a, "the origin name stays, for copy detection");
    assert_eq!(
        f.reader.as_ref().unwrap().path(),
        d.path().join("app.log.1")
    );
    assert_eq!(lines(&rx), ["one"]);
}

#[test]
fn excluded_and_compressed_names_are_left_out() {
    let ex = [glob::Pattern::new("*/skip-*").unwrap()];
    assert!(discovery::kept(&ex, Path::new("/l/app.log")));
    assert!(!discovery::kept(&ex, Path::new("/l/skip-me.log")));
    assert!(!discovery::kept(&ex, Path::new("/l/app.log.1.gz")));
    assert!(!discovery::kept(&ex, Path::new("/l/app.log.2.zst")));
}

/// Issue 16 item 4: a followed file that is idle costs little. Its reader (about 650 bytes
/// of line, record and row state) was held inline even when closed, which made 880 bytes a
/// file before any heap: 17 MB for 20,000 files.
#[test]
fn an_idle_file_is_small() {
    let tracked = std::mem::size_of::<super::Tracked>();
    assert!(tracked <= 320, "Tracked is {tracked} bytes");
}
