//! Enum values as their proto names (`SPAN_KIND_SERVER`), the way Snowflake writes them,
//! and back. An unknown number is kept as a number.

const SPAN_KINDS: [&str; 6] = [
    "SPAN_KIND_UNSPECIFIED",
    "SPAN_KIND_INTERNAL",
    "SPAN_KIND_SERVER",
    "SPAN_KIND_CLIENT",
    "SPAN_KIND_PRODUCER",
    "SPAN_KIND_CONSUMER",
];
const STATUS_CODES: [&str; 3] = ["STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"];
const TEMPORALITIES: [&str; 3] = [
    "AGGREGATION_TEMPORALITY_UNSPECIFIED",
    "AGGREGATION_TEMPORALITY_DELTA",
    "AGGREGATION_TEMPORALITY_CUMULATIVE",
];

fn name(names: &'static [&'static str], n: i32) -> Option<&'static str> {
    usize::try_from(n).ok().and_then(|i| names.get(i)).copied()
}

fn number(names: &[&str], v: &serde_json::Value) -> i32 {
    match v {
        serde_json::Value::String(s) => names
            .iter()
            .position(|n| n == s)
            .and_then(|i| i32::try_from(i).ok())
            .unwrap_or(0),
        v => v.as_i64().and_then(|i| i32::try_from(i).ok()).unwrap_or(0),
    }
}

pub(crate) fn span_kind_name(n: i32) -> Option<&'static str> {
    name(&SPAN_KINDS, n)
}
pub(crate) fn status_code_name(n: i32) -> Option<&'static str> {
    name(&STATUS_CODES, n)
}
pub(crate) fn temporality_name(n: i32) -> Option<&'static str> {
    name(&TEMPORALITIES, n)
}
pub(crate) fn span_kind_number(v: &serde_json::Value) -> i32 {
    number(&SPAN_KINDS, v)
}
pub(crate) fn status_code_number(v: &serde_json::Value) -> i32 {
    number(&STATUS_CODES, v)
}
pub(crate) fn temporality_number(v: &serde_json::Value) -> i32 {
    number(&TEMPORALITIES, v)
}
