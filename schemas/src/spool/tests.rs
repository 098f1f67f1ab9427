#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use arrow_array::{Array, RecordBatch, StringArray};
use proptest::prelude::*;

use super::*;
use crate::{BatchBuilder, Row, Severity};

/// A batch of `lines`, each a LOG row whose VALUE is the line.
fn batch(lines: &[String]) -> RecordBatch {
    let mut b = BatchBuilder::new();
    for l in lines {
        b.append(&Row::log(1_700_000_000_000_000_000, Severity::Info, l));
    }
    b.finish().unwrap()
}

/// The VALUE column's texts (stored as JSON strings).
fn values(b: &RecordBatch) -> Vec<String> {
    let col = b.column_by_name("VALUE").unwrap();
    let s = col.as_any().downcast_ref::<StringArray>().unwrap();
    (0..s.len())
        .map(|i| serde_json::from_str::<String>(s.value(i)).unwrap())
        .collect()
}

fn lines(commit: usize, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("commit {commit} line {i}"))
        .collect()
}

fn open(dir: &Path) -> (Spool, Recovery) {
    Spool::open(SpoolConfig::new(dir), None).unwrap()
}

#[test]
fn commits_not_covered_are_replayed_in_order_with_their_positions() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, rec) = open(dir.path());
    assert!(rec.commits.is_empty() && rec.positions.is_none() && rec.torn.is_none());
    for c in 0..3 {
        let seq = s
            .commit(&batch(&lines(c, 5)), &format!("{{\"p\":{c}}}"))
            .unwrap();
        assert_eq!(seq, c as u64 + 1);
    }
    assert_eq!(s.stats().commits_total, 3);
    drop(s);
    let (_, rec) = open(dir.path());
    assert_eq!(rec.commits.len(), 3);
    for (c, commit) in rec.commits.iter().enumerate() {
        assert_eq!(values(&commit.batch), lines(c, 5));
        assert_eq!(commit.positions, format!("{{\"p\":{c}}}"));
    }
    assert_eq!(rec.positions.as_deref(), Some("{\"p\":2}"));
}

#[test]
fn covered_commits_are_deleted_and_their_positions_kept_for_a_purged_output() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SpoolConfig {
        // One commit per segment, so covering deletes files.
        segment_bytes: 1,
        ..SpoolConfig::new(dir.path())
    };
    let (mut s, _) = Spool::open(cfg.clone(), None).unwrap();
    for c in 0..4 {
        s.commit(&batch(&lines(c, 3)), &format!("{{\"p\":{c}}}"))
            .unwrap();
    }
    assert_eq!(s.stats().segments, 4);
    s.covered(3).unwrap();
    assert_eq!(s.stats().segments, 1);
    drop(s);
    let (mut s, rec) = Spool::open(cfg.clone(), None).unwrap();
    assert_eq!(rec.commits.len(), 1);
    assert_eq!(values(&rec.commits[0].batch), lines(3, 3));
    assert_eq!(rec.positions.as_deref(), Some("{\"p\":3}"));
    s.covered(4).unwrap();
    assert_eq!(s.stats().segments, 0);
    drop(s);
    // Every output file deleted since: nothing to replay, the positions are still known.
    let (_, rec) = Spool::open(cfg, None).unwrap();
    assert!(rec.commits.is_empty());
    assert_eq!(rec.positions.as_deref(), Some("{\"p\":3}"));
    assert_eq!(rec.covered, 4);
}

#[test]
fn the_output_saying_it_holds_a_commit_stops_its_replay() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, _) = open(dir.path());
    for c in 0..3 {
        s.commit(&batch(&lines(c, 2)), "{}").unwrap();
    }
    drop(s);
    // A crash after the output file with commits 1-2 was written, before covered(2).
    let (mut s, rec) = Spool::open(SpoolConfig::new(dir.path()), Some(2)).unwrap();
    assert_eq!(rec.commits.iter().map(|c| c.seq).collect::<Vec<_>>(), [3]);
    assert_eq!(s.commit(&batch(&lines(9, 1)), "{}").unwrap(), 4);
}

#[test]
fn a_full_spool_refuses_commits_until_covered() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SpoolConfig {
        max_bytes: 1,
        segment_bytes: 1,
        ..SpoolConfig::new(dir.path())
    };
    let (mut s, _) = Spool::open(cfg, None).unwrap();
    s.commit(&batch(&lines(0, 1)), "{}").unwrap();
    let e = s.commit(&batch(&lines(1, 1)), "{}").unwrap_err();
    assert!(matches!(e, SpoolError::Full { .. }), "{e}");
    s.covered(1).unwrap();
    assert_eq!(s.commit(&batch(&lines(1, 1)), "{}").unwrap(), 2);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// A crash in the middle of an append leaves the last segment cut anywhere: the spool
    /// opens, replays exactly the complete commits before the cut, says what it dropped, and
    /// goes on committing after them (no crash loop, no gap, no duplicate).
    #[test]
    fn a_torn_last_segment_keeps_exactly_the_complete_commits(
        sizes in proptest::collection::vec(1usize..40, 1..6),
        cut_frac in 0.0f64..1.0,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let (mut s, _) = open(dir.path());
        let mut ends = Vec::new();
        for (c, n) in sizes.iter().enumerate() {
            s.commit(&batch(&lines(c, *n)), &format!("{{\"p\":{c}}}")).unwrap();
            ends.push(s.stats().bytes);
        }
        drop(s);
        let seg = segment::list_segments(dir.path()).unwrap().pop().unwrap().0;
        let len = std::fs::metadata(&seg).unwrap().len();
        let cut = (len as f64 * cut_frac) as u64;
        std::fs::OpenOptions::new().write(true).open(&seg).unwrap().set_len(cut).unwrap();
        let kept = ends.iter().filter(|e| **e <= cut).count();
        let (mut s, rec) = open(dir.path());
        prop_assert_eq!(rec.commits.len(), kept);
        for (c, commit) in rec.commits.iter().enumerate() {
            prop_assert_eq!(values(&commit.batch), lines(c, sizes[c]));
            prop_assert_eq!(commit.seq, c as u64 + 1);
        }
        let exact = ends.contains(&cut) || cut == 0;
        prop_assert_eq!(rec.torn.is_some(), !exact, "{:?}", rec.torn);
        if let Some(t) = &rec.torn {
            prop_assert_eq!(t.kept_bytes + t.dropped_bytes, cut);
        }
        // The next commit follows the last complete one, and all read back in order.
        let seq = s.commit(&batch(&lines(99, 2)), "{\"p\":99}").unwrap();
        prop_assert_eq!(seq, kept as u64 + 1);
        drop(s);
        let (_, rec) = open(dir.path());
        prop_assert!(rec.torn.is_none());
        prop_assert_eq!(rec.commits.len(), kept + 1);
        prop_assert_eq!(values(&rec.commits[kept].batch), lines(99, 2));
        prop_assert_eq!(rec.positions.as_deref(), Some("{\"p\":99}"));
    }
}

#[test]
fn positions_given_at_cover_are_kept_for_a_purged_output_when_not_remembered() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SpoolConfig {
        remember_positions: false,
        segment_bytes: 1,
        ..SpoolConfig::new(dir.path())
    };
    let (mut s, _) = Spool::open(cfg.clone(), None).unwrap();
    for c in 0..3 {
        s.commit(&batch(&lines(c, 2)), &format!("{{\"p\":{c}}}"))
            .unwrap();
    }
    // The output file holding commits 1-2 says where its sources stood.
    s.covered_at(2, Some("{\"p\":1}")).unwrap();
    drop(s);
    let (_, rec) = Spool::open(cfg, None).unwrap();
    assert_eq!(rec.commits.iter().map(|c| c.seq).collect::<Vec<_>>(), [3]);
    assert_eq!(rec.positions.as_deref(), Some("{\"p\":2}"));
    assert_eq!(rec.covered, 2);
    // Commit 3 gone too (covered by a file deleted since): the cover's positions remain.
    std::fs::remove_file(dir.path().join(segment::segment_name(3))).unwrap();
    let (_, rec) = Spool::open(
        SpoolConfig {
            remember_positions: false,
            ..SpoolConfig::new(dir.path())
        },
        None,
    )
    .unwrap();
    assert!(rec.commits.is_empty());
    assert_eq!(rec.positions.as_deref(), Some("{\"p\":1}"));
}
