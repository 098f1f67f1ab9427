use proptest::prelude::*;

use super::*;

#[derive(Debug, PartialEq, Eq, Clone)]
struct Out {
    text: Vec<u8>,
    pos: LinePos,
    truncated: bool,
    split: bool,
}

fn run(max: usize, policy: LongLines, chunks: &[&[u8]], flush: bool) -> (Vec<Out>, Vec<Dropped>) {
    let mut s = LineSplitter::new(max, policy, LinePos::default());
    let mut lines = Vec::new();
    let mut drops = Vec::new();
    let mut on_line = |l: RawLine<'_>| {
        lines.push(Out {
            text: l.bytes.to_vec(),
            pos: l.pos,
            truncated: l.truncated,
            split: l.split,
        })
    };
    let mut on_drop = |d| drops.push(d);
    for c in chunks {
        s.push(c, &mut on_line, &mut on_drop);
    }
    if flush {
        s.flush_partial(&mut on_line, &mut on_drop);
    }
    (lines, drops)
}

fn texts(o: &[Out]) -> Vec<String> {
    o.iter()
        .map(|l| String::from_utf8_lossy(&l.text).into_owned())
        .collect()
}

#[test]
fn plain_lines_and_crlf() {
    let (l, _) = run(100, LongLines::Truncate, &[b"a\r\nbb\nc", b"c\n"], false);
    assert_eq!(texts(&l), ["a", "bb", "cc"]);
    assert_eq!(l[0].pos.offset, 3);
    assert_eq!(l[2].pos.offset, 9);
}

#[test]
fn last_line_without_newline_is_held_until_flushed() {
    let (l, _) = run(100, LongLines::Truncate, &[b"a\nbc"], false);
    assert_eq!(texts(&l), ["a"]);
    let (l, _) = run(100, LongLines::Truncate, &[b"a\nbc"], true);
    assert_eq!(texts(&l), ["a", "bc"]);
    assert_eq!(l[1].pos.offset, 4);
}

#[test]
fn a_line_of_exactly_the_limit_is_whole() {
    let (l, _) = run(4, LongLines::Truncate, &[b"abcd\nabcd\r\n"], false);
    assert_eq!(texts(&l), ["abcd", "abcd"]);
    assert!(l.iter().all(|x| !x.truncated));
}

#[test]
fn truncate_keeps_the_head_and_skips_the_rest_across_reads() {
    let (l, d) = run(
        4,
        LongLines::Truncate,
        &[b"abcdefg", b"hij", b"k\nxy\n"],
        false,
    );
    assert_eq!(texts(&l), ["abcd", "xy"]);
    assert!(l[0].truncated && l[0].pos.skipping);
    assert_eq!(
        l[1].pos,
        LinePos {
            offset: 15,
            skipping: false
        }
    );
    assert!(d.is_empty());
}

#[test]
fn split_cuts_into_parts_at_character_boundaries() {
    // "é" is two bytes: a cut must not fall inside it.
    let input = "abcé defgh\n".as_bytes();
    let (l, _) = run(4, LongLines::Split, &[input], false);
    assert_eq!(texts(&l), ["abc", "é d", "efgh"]);
    assert!(l.iter().all(|x| x.split));
    assert_eq!(l.last().unwrap().pos.offset, input.len() as u64);
}

#[test]
fn drop_counts_the_line() {
    let (l, d) = run(4, LongLines::Drop, &[b"ok\nabcdefgh", b"ij\nyes\n"], false);
    assert_eq!(texts(&l), ["ok", "yes"]);
    assert_eq!(d, [Dropped::LongLine(10)]);
}

#[test]
fn resuming_while_skipping_does_not_emit_the_tail() {
    let mut s = LineSplitter::new(
        4,
        LongLines::Truncate,
        LinePos {
            offset: 7,
            skipping: true,
        },
    );
    let mut got = Vec::new();
    s.push(
        b"tail\nnext\n",
        &mut |l| got.push(l.bytes.to_vec()),
        &mut |_| {},
    );
    assert_eq!(got, [b"next".to_vec()]);
    assert_eq!(s.pos().offset, 17);
}

#[test]
fn memory_stays_bounded_on_a_huge_line() {
    let mut s = LineSplitter::new(16 << 10, LongLines::Truncate, LinePos::default());
    let block = vec![b'x'; 1 << 20];
    let mut n = 0;
    for _ in 0..64 {
        s.push(&block, &mut |_| n += 1, &mut |_| {});
        assert!(s.partial_len() <= 16 << 10);
    }
    assert_eq!(n, 1);
}

proptest! {
    /// However the stream is cut into reads, the same lines come out, and re-reading from
    /// any emitted position gives exactly the lines after it.
    #[test]
    fn chunking_does_not_matter(
        input in proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'\n'), Just(b'\r'), Just(0xC3u8), Just(0xA9u8)], 0..200),
        cuts in proptest::collection::vec(0usize..200, 0..10),
        max in 1usize..12,
        policy in prop_oneof![Just(LongLines::Truncate), Just(LongLines::Split), Just(LongLines::Drop)],
    ) {
        let whole = run(max, policy, &[&input], true).0;
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(input.len())).collect();
        cuts.sort();
        let mut chunks: Vec<&[u8]> = Vec::new();
        let mut prev = 0;
        for c in cuts { chunks.push(&input[prev..c]); prev = c; }
        chunks.push(&input[prev..]);
        let pieces = run(max, policy, &chunks, true).0;
        prop_assert_eq!(&whole, &pieces);
        for l in &whole {
            prop_assert!(l.text.len() <= max);
        }
        // Resume from every position: the rest must be the suffix of the whole run.
        for (k, l) in whole.iter().enumerate() {
            let mut s = LineSplitter::new(max, policy, l.pos);
            let mut rest = Vec::new();
            let mut on_line = |r: RawLine<'_>| rest.push(Out { text: r.bytes.to_vec(), pos: r.pos, truncated: r.truncated, split: r.split });
            s.push(&input[l.pos.offset as usize..], &mut on_line, &mut |_| {});
            s.flush_partial(&mut on_line, &mut |_| {});
            // The split flag of a resumed line's remainder is not kept across a restart.
            let strip = |v: &[Out]| v.iter().map(|o| (o.text.clone(), o.pos, o.truncated)).collect::<Vec<_>>();
            prop_assert_eq!(strip(&rest), strip(&whole[k + 1..]));
        }
    }
}
