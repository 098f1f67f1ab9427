use proptest::prelude::*;

use super::*;

#[test]
fn reference_examples_parse_as_documented() {
    assert_eq!(parse_memory("4Ki"), Ok(4096));
    assert_eq!(parse_memory("4k"), Ok(4000));
    assert_eq!(parse_memory("2G"), Ok(2_000_000_000));
    assert_eq!(parse_memory("2Gi"), Ok(2 * 1024 * 1024 * 1024));
    assert_eq!(parse_memory("100M"), Ok(100_000_000));
    assert_eq!(parse_memory("5Gi"), Ok(5 << 30));
    assert_eq!(parse_cpu("500m"), Ok(0.5));
    assert_eq!(parse_cpu("0.5"), Ok(0.5));
    assert_eq!(parse_cpu("2"), Ok(2.0));
    assert_eq!(parse_block_size("5Gi"), Ok(5 << 30));
    assert_eq!(parse_gpu("1"), Ok(1));
}

#[test]
fn memory_without_unit_is_refused_with_a_fix() {
    let e = parse_memory("4096").unwrap_err().to_string();
    assert!(e.contains("no unit") && e.contains("4096Mi"), "{e}");
    assert!(parse_memory("500m").is_err());
}

#[test]
fn units_not_in_the_reference_are_refused() {
    assert!(matches!(
        parse_memory("1Ti"),
        Err(UnitError::UnknownUnit { .. })
    ));
    assert!(matches!(
        parse_memory("1K"),
        Err(UnitError::UnknownUnit { .. })
    ));
    assert!(parse_memory("1 Gi").is_err());
    assert!(parse_memory("-1Gi").is_err());
    assert!(parse_memory("1.Gi").is_err());
    assert!(parse_memory("").is_err());
}

#[test]
fn block_size_is_whole_gi_only() {
    assert!(parse_block_size("10G").is_err());
    assert!(parse_block_size("1.5Gi").is_err());
    assert!(parse_block_size("1024Mi").is_err());
}

#[test]
fn cpu_rejects_sizes_and_zero() {
    assert!(parse_cpu("1Gi").is_err());
    assert!(parse_cpu("0").is_err());
    assert!(parse_cpu("0m").is_err());
}

#[test]
fn fractional_memory_must_be_whole_bytes() {
    assert_eq!(parse_memory("1.5Ki"), Ok(1536));
    assert_eq!(parse_memory("0.5Gi"), Ok(1 << 29));
    assert!(parse_memory("0.0001k").is_err());
}

#[test]
fn gpu_is_a_plain_count() {
    assert!(parse_gpu("1k").is_err());
    assert!(parse_gpu("1.5").is_err());
    assert!(parse_gpu("99999999999").is_err());
}

fn multiplier(u: Unit) -> u64 {
    match u {
        Unit::Ki => 1 << 10,
        Unit::Mi => 1 << 20,
        Unit::Gi => 1 << 30,
        Unit::K => 1_000,
        Unit::M => 1_000_000,
        Unit::G => 1_000_000_000,
        Unit::Milli => 0,
    }
}

proptest! {
    #[test]
    fn memory_round_trips_for_every_size_unit(n in 0u64..1_000_000, i in 0usize..6) {
        let u = Unit::ALL[i];
        prop_assert_eq!(parse_memory(&format!("{n}{}", u.suffix())), Ok(n * multiplier(u)));
    }

    #[test]
    fn format_bytes_reads_back(n in 1u64..(1 << 40)) {
        let s = format_bytes(n);
        if s.chars().all(|c| c.is_ascii_digit()) {
            prop_assert!(parse_memory(&s).is_err());
        } else {
            prop_assert_eq!(parse_memory(&s), Ok(n));
        }
    }

    #[test]
    fn millicores_equal_decimal_cores(m in 1u64..1_000_000) {
        let a = parse_cpu(&format!("{m}m")).unwrap();
        let b = parse_cpu(&format!("{}.{:03}", m / 1000, m % 1000)).unwrap();
        prop_assert!((a - b).abs() < 1e-9);
    }

    #[test]
    fn parser_never_panics(s in "\\PC{0,40}") {
        let _ = parse(&s);
        let _ = parse_memory(&s);
        let _ = parse_cpu(&s);
        let _ = parse_block_size(&s);
        let _ = parse_gpu(&s);
    }

    #[test]
    fn unit_like_garbage_is_rejected(n in 1u64..1000, suffix in "[A-Za-z]{1,3}") {
        let ok = Unit::ALL.iter().any(|u| u.suffix() == suffix);
        prop_assert_eq!(parse(&format!("{n}{suffix}")).is_ok(), ok);
    }
}
