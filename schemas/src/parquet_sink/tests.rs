use std::collections::HashSet;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use arrow_array::{Array, RecordBatch, StringArray};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::io::{Op, RecordingStorage};
use super::*;
use crate::{BatchBuilder, Row, Severity};

fn lines_batch(from: usize, n: usize) -> RecordBatch {
    let mut b = BatchBuilder::new();
    for i in from..from + n {
        let line = format!("line {i:08} {}", "x".repeat(i % 200));
        b.append(&Row::log(
            1_700_000_000_000_000_000 + i as i64,
            Severity::Info,
            &line,
        ));
    }
    b.finish().unwrap()
}

fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Reads every VALUE of every firn file below `dir`.
fn read_values(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for p in all_files(dir) {
        let name = p.file_name().unwrap().to_str().unwrap();
        assert!(naming::is_output_file(name), "stray file {p:?}");
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&p).unwrap())
            .unwrap()
            .build()
            .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            let v = batch
                .column_by_name("VALUE")
                .unwrap()
                .as_any()
                .downcast_ref::<StringArray>()
                .unwrap()
                .clone();
            for i in 0..v.len() {
                out.push(serde_json::from_str::<String>(v.value(i)).unwrap());
            }
        }
    }
    out
}

fn small_files(dir: &Path, mode: OutputMode) -> SinkConfig {
    let mut c = SinkConfig::new(dir, mode);
    c.max_file_bytes = 4 << 10;
    c.row_group_rows = 50;
    c
}

#[test]
fn stage_mode_creates_each_file_once_and_never_renames_or_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let rec = RecordingStorage::new();
    let mut sink = ParquetSink::with_storage(
        small_files(dir.path(), OutputMode::Stage),
        Box::new(rec.clone()),
    );
    for k in 0..20 {
        sink.write(&lines_batch(k * 100, 100), &[]).unwrap();
    }
    sink.close(Instant::now()).unwrap();
    let ops = rec.ops();
    let mut created = HashSet::new();
    let mut closed = HashSet::new();
    for op in &ops {
        match op {
            Op::Rename(..) => panic!("stage mode renamed: {op:?}"),
            Op::CreateNew(p) => assert!(created.insert(p.clone()), "created twice: {p:?}"),
            Op::Write(p, _) | Op::Sync(p) => {
                assert!(
                    created.contains(p) && !closed.contains(p),
                    "{op:?} outside open/close"
                )
            }
            Op::Close(p) => assert!(closed.insert(p.clone())),
            Op::Remove(p) => panic!("removed {p:?} with no failure"),
            Op::CreateDir(_) | Op::SyncDir(_) => {}
        }
    }
    assert!(
        created.len() > 3,
        "expected several files, got {}",
        created.len()
    );
    assert_eq!(created, closed);
    let values = read_values(dir.path());
    assert_eq!(values.len(), 2000);
    assert_eq!(sink.stats().files_written_total as usize, created.len());
}

#[test]
fn local_mode_readers_never_see_a_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let dir = dir.path().to_path_buf();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut checked = 0usize;
            while !stop.load(Ordering::Relaxed) {
                for p in all_files(&dir) {
                    let name = p.file_name().unwrap().to_str().unwrap().to_string();
                    if name.starts_with('.') {
                        continue; // hidden temporary: not for readers
                    }
                    let f = File::open(&p).unwrap();
                    let r = ParquetRecordBatchReaderBuilder::try_new(f)
                        .unwrap_or_else(|e| panic!("partial file visible: {p:?}: {e}"));
                    let rows: usize = r.build().unwrap().map(|b| b.unwrap().num_rows()).sum();
                    assert!(rows > 0);
                    checked += 1;
                }
            }
            checked
        })
    };
    let rec = RecordingStorage::new();
    let mut sink = ParquetSink::with_storage(
        small_files(dir.path(), OutputMode::Local),
        Box::new(rec.clone()),
    );
    for k in 0..200 {
        sink.write(&lines_batch(k * 50, 50), &[]).unwrap();
    }
    sink.close(Instant::now()).unwrap();
    stop.store(true, Ordering::Relaxed);
    let checked = reader.join().unwrap();
    assert!(checked > 0, "the reader saw no file");
    // Every final name came from a rename of a hidden, fsynced temporary file.
    let ops = rec.ops();
    for op in &ops {
        if let Op::Rename(from, to) = op {
            let tmp = from.file_name().unwrap().to_str().unwrap();
            assert!(tmp.starts_with('.') && tmp.ends_with(".tmp"));
            assert_eq!(from.parent(), to.parent());
            let synced = ops
                .iter()
                .position(|o| o == &Op::Sync(from.clone()))
                .unwrap();
            let renamed = ops.iter().position(|o| o == op).unwrap();
            assert!(synced < renamed, "renamed before fsync");
        }
    }
    assert_eq!(read_values(dir.path()).len(), 10_000);
}

#[test]
fn disk_full_keeps_rows_in_memory_and_loses_none() {
    for mode in [OutputMode::Local, OutputMode::Stage] {
        let dir = tempfile::tempdir().unwrap();
        let rec = RecordingStorage::new();
        let mut sink =
            ParquetSink::with_storage(small_files(dir.path(), mode), Box::new(rec.clone()));
        sink.write(&lines_batch(0, 300), &[]).unwrap();
        sink.flush().unwrap();
        let before = all_files(dir.path());
        assert!(!before.is_empty());
        // The disk fills up part-way through the next file.
        rec.set_space_left(Some(1000));
        for k in 1..10 {
            sink.write(&lines_batch(k * 300, 300), &[]).unwrap();
        }
        sink.flush().unwrap();
        let stats = sink.stats();
        assert!(stats.write_errors_total >= 1, "{stats:?}");
        assert!(stats.files_pending >= 1);
        // What was written before is intact, and no partial file is visible.
        let now: Vec<_> = all_files(dir.path());
        for p in &before {
            assert!(now.contains(p));
        }
        let visible = read_values(dir.path()); // panics on a corrupt or stray file
        assert!(visible.len() < 3000);
        // Space comes back: everything lands, exactly once.
        rec.set_space_left(None);
        sink.close(Instant::now() + Duration::from_secs(60))
            .unwrap();
        let mut values = read_values(dir.path());
        values.sort();
        let expected: Vec<String> = {
            let b = lines_batch(0, 3000);
            let v = b.column(crate::columns::idx::VALUE);
            let v = v.as_any().downcast_ref::<StringArray>().unwrap();
            let mut e: Vec<String> = (0..v.len())
                .map(|i| serde_json::from_str(v.value(i)).unwrap())
                .collect();
            e.sort();
            e
        };
        assert_eq!(values, expected, "mode {mode:?}");
        assert_eq!(sink.stats().files_pending, 0);
    }
}

#[test]
fn close_reports_what_could_not_be_written() {
    let dir = tempfile::tempdir().unwrap();
    let rec = RecordingStorage::new();
    rec.set_space_left(Some(0));
    let mut sink =
        ParquetSink::with_storage(small_files(dir.path(), OutputMode::Local), Box::new(rec));
    sink.write(&lines_batch(0, 10), &[]).unwrap();
    let err = sink
        .close(Instant::now() + Duration::from_millis(50))
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("10 row(s)") && msg.contains("No space left"),
        "{msg}"
    );
}

#[test]
fn backpressure_is_signalled_while_files_wait() {
    let dir = tempfile::tempdir().unwrap();
    let rec = RecordingStorage::new();
    rec.set_space_left(Some(0));
    let mut cfg = small_files(dir.path(), OutputMode::Local);
    cfg.max_pending_bytes = 16 << 10;
    let mut sink = ParquetSink::with_storage(cfg, Box::new(rec.clone()));
    let mut k = 0;
    while !sink.is_backpressured() {
        sink.write(&lines_batch(k * 100, 100), &[]).unwrap();
        k += 1;
        assert!(k < 1000, "never backpressured");
    }
    rec.set_space_left(None);
    sink.close(Instant::now() + Duration::from_secs(60))
        .unwrap();
    assert!(!sink.is_backpressured());
    assert_eq!(read_values(dir.path()).len(), k * 100);
}

#[test]
fn files_close_by_age_and_carry_footer_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = SinkConfig::new(dir.path(), OutputMode::Local);
    cfg.max_file_age = Duration::from_millis(1);
    let mut sink = ParquetSink::new(cfg);
    sink.write(
        &lines_batch(0, 5),
        &[(META_SOURCE_POSITIONS, "{\"a\":1}".into())],
    )
    .unwrap();
    sink.write(
        &lines_batch(5, 5),
        &[(META_SOURCE_POSITIONS, "{\"a\":2}".into())],
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(5));
    sink.tick(Instant::now()).unwrap();
    // The file was closed by age; it is written on the file thread: wait for that.
    sink.flush().unwrap();
    let written = sink.take_written();
    assert_eq!(written.len(), 1);
    assert_eq!(written[0].rows, 10);
    let reader =
        ParquetRecordBatchReaderBuilder::try_new(File::open(&written[0].path).unwrap()).unwrap();
    let kv = reader
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .unwrap();
    let get = |k: &str| kv.iter().find(|e| e.key == k).and_then(|e| e.value.clone());
    assert_eq!(get(META_SOURCE_POSITIONS).as_deref(), Some("{\"a\":2}"));
    assert_eq!(get(META_ROWS).as_deref(), Some("10"));
    assert!(get(META_WRITER).unwrap().starts_with("firn "));
    let rel = written[0].path.strip_prefix(dir.path()).unwrap();
    let parts: Vec<_> = rel
        .iter()
        .map(|s| s.to_str().unwrap().to_string())
        .collect();
    assert!(
        parts[0].starts_with("date=") && parts[1].starts_with("hour="),
        "{rel:?}"
    );
}

#[test]
fn a_full_folder_spills_into_part_folders() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_files(dir.path(), OutputMode::Stage);
    cfg.max_files_per_dir = 3;
    cfg.partition_by_hour = false;
    let mut sink = ParquetSink::new(cfg);
    for k in 0..8 {
        sink.write(&lines_batch(k * 10, 10), &[]).unwrap();
        sink.flush().unwrap();
    }
    sink.close(Instant::now()).unwrap();
    let count = |d: &Path| {
        std::fs::read_dir(d)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().is_file())
            .count()
    };
    assert_eq!(count(dir.path()), 3);
    assert_eq!(count(&dir.path().join("part-1")), 3);
    assert_eq!(count(&dir.path().join("part-2")), 2);
    assert_eq!(read_values(dir.path()).len(), 80);
}

#[test]
fn compression_names() {
    // Issue 8 item 7: the start-up line printed ZSTD(ZstdLevel(1)); it says what was typed.
    for (typed, shown) in [
        ("zstd", "zstd:1"),
        ("zstd:3", "zstd:3"),
        ("snappy", "snappy"),
        ("none", "none"),
    ] {
        assert_eq!(
            describe_compression(parse_compression(typed).unwrap()),
            shown
        );
    }
    assert!(parse_compression("zstd:3").is_ok());
    assert!(parse_compression("snappy").is_ok());
    assert!(
        parse_compression("zstd:99")
            .unwrap_err()
            .contains("out of range")
    );
    assert!(
        parse_compression("lzma")
            .unwrap_err()
            .contains("unknown compression")
    );
}

/// Every prefix of a real file is told partial, the whole file complete: the check that
/// decides what recovery removes never takes a whole file for a partial one.
#[test]
fn every_prefix_of_a_file_is_partial_and_the_whole_file_complete() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small_files(dir.path(), OutputMode::Local);
    cfg.set_agent_id("chk");
    let mut sink = ParquetSink::new(cfg);
    sink.write(&lines_batch(0, 300), &[]).unwrap();
    sink.close(Instant::now() + Duration::from_secs(5)).unwrap();
    let file = all_files(dir.path()).remove(0);
    let bytes = std::fs::read(&file).unwrap();
    let probe = dir.path().join("probe.parquet");
    let cuts: Vec<usize> = (0..bytes.len())
        .step_by(97)
        .chain([bytes.len() - 1])
        .collect();
    for cut in cuts {
        std::fs::write(&probe, &bytes[..cut]).unwrap();
        assert!(
            matches!(
                leftovers::check_file(&probe),
                leftovers::FileState::Partial(_)
            ),
            "{cut} of {} bytes",
            bytes.len()
        );
    }
    match leftovers::check_file(&file) {
        leftovers::FileState::Complete(meta) => {
            assert_eq!(meta.get(META_AGENT_ID).map(String::as_str), Some("chk"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        leftovers::check_file(&dir.path().join("missing.parquet")),
        leftovers::FileState::Unreadable(_)
    ));
}

/// Issue 16 item 2: a failed stage write whose removal failed left a partial file for good,
/// and nothing was logged. The removal is now tried again (three times at once, then after
/// the next file written): here it fails four times, then works.
#[test]
fn a_failed_attempt_whose_removal_fails_is_removed_later() {
    for mode in [OutputMode::Stage, OutputMode::Local] {
        let dir = tempfile::tempdir().unwrap();
        let rec = RecordingStorage::new();
        let mut sink =
            ParquetSink::with_storage(small_files(dir.path(), mode), Box::new(rec.clone()));
        rec.set_space_left(Some(1000));
        rec.set_failing_removes(4);
        sink.write(&lines_batch(0, 300), &[]).unwrap();
        sink.flush().unwrap();
        assert!(sink.stats().write_errors_total >= 1);
        // The failed attempt is still there: its removal failed three times.
        let partial = all_files(dir.path());
        assert_eq!(partial.len(), 1, "{mode:?}: {partial:?}");
        rec.set_space_left(None);
        sink.close(Instant::now() + Duration::from_secs(60))
            .unwrap();
        // Gone once a file could be written; every row is in a whole file.
        let left: Vec<_> = all_files(dir.path())
            .into_iter()
            .filter(|p| matches!(leftovers::check_file(p), leftovers::FileState::Partial(_)))
            .collect();
        assert!(left.is_empty(), "{mode:?}: partial files left: {left:?}");
        assert!(!partial[0].exists());
        assert_eq!(read_values(dir.path()).len(), 300, "{mode:?}");
        let removes = rec
            .ops()
            .iter()
            .filter(|o| matches!(o, Op::Remove(p) if *p == partial[0]))
            .count();
        assert_eq!(removes, 5, "{mode:?}");
    }
}

/// Issue 17: when the file thread cannot start, files are still written, through the
/// storage the sink was given, and what was handed over drains (no lasting backpressure,
/// nothing reported undelivered at close).
#[test]
fn without_a_file_thread_files_are_written_through_the_given_storage() {
    let dir = tempfile::tempdir().unwrap();
    let rec = RecordingStorage::new();
    let mut cfg = small_files(dir.path(), OutputMode::Stage);
    cfg.max_pending_bytes = 16 << 10;
    let mut sink = ParquetSink::start(cfg, Box::new(rec.clone()), |_| {
        Err(std::io::Error::from_raw_os_error(libc::EAGAIN))
    });
    // Far more than max_pending_bytes: with nothing draining, backpressure would stay on.
    for k in 0..100 {
        sink.write(&lines_batch(k * 100, 100), &[]).unwrap();
        assert!(
            !sink.is_backpressured(),
            "still backpressured after batch {k}"
        );
    }
    // A failed write is retried on tick, without a thread to do it.
    rec.set_space_left(Some(0));
    sink.write(&lines_batch(10_000, 100), &[]).unwrap();
    sink.flush().unwrap();
    assert!(sink.stats().write_errors_total >= 1);
    rec.set_space_left(None);
    let t0 = Instant::now();
    while sink.stats().files_pending > 0 {
        assert!(t0.elapsed() < Duration::from_secs(10), "never retried");
        std::thread::sleep(Duration::from_millis(50));
        sink.tick(Instant::now()).unwrap();
    }
    sink.close(Instant::now() + Duration::from_secs(5)).unwrap();
    assert_eq!(sink.rows_in_flight(), 0);
    let created = rec
        .ops()
        .iter()
        .filter(|o| matches!(o, Op::CreateNew(_)))
        .count();
    let stats = sink.stats();
    assert!(created > 3, "the given storage saw {created} files");
    assert_eq!(
        stats.files_written_total as usize,
        created - stats.write_errors_total as usize
    );
    assert_eq!(read_values(dir.path()).len(), 10_100);
}

/// Log lines, `noise` hex digits of them random (incompressible) per line.
fn varied_batch(seed: &mut u64, from: usize, n: usize, noise: usize) -> RecordBatch {
    let mut b = BatchBuilder::new();
    for i in from..from + n {
        let mut hex = String::new();
        while hex.len() < noise {
            *seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            hex.push_str(&format!("{:016x}", *seed >> 1));
        }
        hex.truncate(noise);
        let line = format!(
            "2024-05-01T12:00:{:02}Z INFO n={i:08} path=/api/v1/items status=200 {hex}",
            i % 60
        );
        b.append(&Row::log(
            1_700_000_000_000_000_000 + i as i64,
            Severity::Info,
            &line,
        ));
    }
    b.finish().unwrap()
}

/// Issue 8 / 16: `--max-file-size 256KiB` gave 370 KB files, a whole batch over. Every file
/// now stays at or under the limit (footer included), whatever the batch sizes and however
/// well the rows compress; batches bigger than a whole file are split. No file is far under
/// it either (files close within an eighth of the limit plus one batch), and every row is
/// read back exactly once.
#[test]
fn files_stay_under_max_file_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = SinkConfig::new(dir.path(), OutputMode::Local);
    cfg.max_file_bytes = 256 << 10;
    let limit = cfg.max_file_bytes;
    let mut sink = ParquetSink::new(cfg);
    let mut seed = 7;
    let mut n = 0;
    // (rows per batch, random hex digits per line): small and large batches, compressible
    // and not, and batches far bigger than a file (8,192 rows of 300 random digits: 2.5 MB).
    let plan = [
        (100, 0),
        (1000, 0),
        (8192, 0),
        (200, 300),
        (8192, 300),
        (50, 40),
        (3000, 40),
    ];
    for (rows, noise) in plan {
        for _ in 0..6 {
            let batch = varied_batch(&mut seed, n, rows, noise);
            sink.write(&batch, &[("firn.test", format!("through {}", n + rows))])
                .unwrap();
            n += rows;
        }
    }
    sink.close(Instant::now() + Duration::from_secs(30))
        .unwrap();
    let files = all_files(dir.path());
    let sizes: Vec<u64> = files
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .collect();
    eprintln!("{} files: {sizes:?}", sizes.len());
    for (p, s) in files.iter().zip(&sizes) {
        assert!(
            *s <= limit,
            "{p:?} has {s} bytes, over the limit of {limit}"
        );
    }
    assert!(files.len() > 20, "{} files", files.len());
    // All but the last file were closed by size: none is below half the limit.
    let small = sizes[..sizes.len() - 1]
        .iter()
        .filter(|s| **s < limit / 2)
        .count();
    assert_eq!(small, 0, "files far under the limit: {sizes:?}");
    let mut values = read_values(dir.path());
    assert_eq!(values.len(), n);
    values.sort();
    values.dedup();
    assert_eq!(values.len(), n, "a row was written twice");
}
