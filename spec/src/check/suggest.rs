//! "Did you mean" hints for unknown keys.

/// Keys that are valid somewhere else in a spec, with where they belong.
const ELSEWHERE: &[(&str, &str)] = &[
    ("containers", "spec"),
    ("endpoints", "spec"),
    ("volumes", "spec"),
    ("logExporters", "spec"),
    ("platformMonitor", "spec"),
    ("serviceRoles", "the top level of the document"),
    ("capabilities", "the top level of the document"),
    ("spec", "the top level of the document"),
];

/// Help text for an unknown `key` found in the mapping at `path`.
pub(super) fn for_unknown_key(key: &str, path: &str, allowed: &[&str]) -> String {
    if let Some(best) = closest(key, allowed) {
        return format!("did you mean `{best}`?");
    }
    if let Some((_, home)) = ELSEWHERE.iter().find(|(k, _)| *k == key) {
        return format!(
            "`{key}` is valid, but belongs under {home}, not under `{}`; fix the indentation",
            if path.is_empty() { "(top level)" } else { path }
        );
    }
    if let Some((k, home)) = ELSEWHERE
        .iter()
        .find(|(k, _)| distance(&key.to_ascii_lowercase(), &k.to_ascii_lowercase()) <= 2)
    {
        return format!("did you mean `{k}` (which belongs under {home})?");
    }
    format!("valid keys here: {}", allowed.join(", "))
}

/// The allowed key closest to `key`, if close enough to be a plausible typo.
pub(crate) fn closest<'a>(key: &str, allowed: &[&'a str]) -> Option<&'a str> {
    let lower = key.to_ascii_lowercase();
    allowed
        .iter()
        .map(|a| (distance(&lower, &a.to_ascii_lowercase()), *a))
        .filter(|(d, a)| *d <= (a.chars().count() / 3).max(1))
        .min()
        .map(|(_, a)| a)
}

/// Levenshtein distance; inputs are short keys, so the quadratic table is fine.
pub(crate) fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}
