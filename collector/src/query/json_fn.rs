//! `attr(json, 'key', ...)`: reaches into the JSON text columns (RECORD_ATTRIBUTES,
//! RESOURCE_ATTRIBUTES, RECORD, VALUE, ...) the way Snowflake's `col['key']` does.
//!
//! Each key is one whole object key, dots included (`attr(RECORD_ATTRIBUTES,
//! 'log.file.path')`); more keys go deeper (`attr(RECORD, 'metric', 'name')`); no key gives the
//! value itself (`attr(VALUE)`: a log line without its JSON quotes). The result is text: a
//! JSON string without its quotes, any other value as its JSON text (`3`, `true`,
//! `{"a":1}`), NULL when the key is missing, the value is JSON `null`, or the text is not
//! JSON. The same as DuckDB's `->>` (and the `attr` macro `schemas/duckdb/views.sql` defines).

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
};
use serde_json::value::RawValue;

/// The `attr` scalar function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Attr {
    signature: Signature,
}

impl Attr {
    /// The function, ready to register.
    pub(crate) fn udf() -> ScalarUDF {
        ScalarUDF::new_from_impl(Self {
            signature: Signature::user_defined(Volatility::Immutable),
        })
    }
}

fn is_text(t: &DataType) -> bool {
    matches!(
        t,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null
    )
}

impl ScalarUDFImpl for Attr {
    fn name(&self) -> &str {
        "attr"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let Some((first, keys)) = arg_types.split_first() else {
            return plan_err!("attr(json, 'key', ...) needs at least the JSON column");
        };
        let first = match first {
            DataType::Dictionary(_, v) if is_text(v) => first.clone(),
            t if is_text(t) => first.clone(),
            other => {
                return plan_err!(
                    "attr(json, 'key', ...): the first argument must be JSON text, not {other}"
                );
            }
        };
        let mut out = vec![first];
        for k in keys {
            if !is_text(k) {
                return plan_err!("attr(json, 'key', ...): each key must be text, not {k}");
            }
            out.push(DataType::Utf8);
        }
        Ok(out)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let Some((json, key_args)) = args.args.split_first() else {
            return exec_err!("attr(json, 'key', ...) needs at least the JSON column");
        };
        let mut keys = Vec::with_capacity(key_args.len());
        for k in key_args {
            match k {
                ColumnarValue::Scalar(
                    ScalarValue::Utf8(k) | ScalarValue::LargeUtf8(k) | ScalarValue::Utf8View(k),
                ) => match k {
                    Some(k) => keys.push(k.as_str()),
                    // A NULL key finds nothing, as in DuckDB.
                    None => {
                        return Ok(ColumnarValue::Scalar(ScalarValue::Utf8(None)));
                    }
                },
                _ => return exec_err!("attr(json, 'key', ...): keys must be text constants"),
            }
        }
        match json {
            ColumnarValue::Scalar(s) => {
                let text = match s {
                    ScalarValue::Utf8(v) | ScalarValue::LargeUtf8(v) | ScalarValue::Utf8View(v) => {
                        v.as_deref()
                    }
                    ScalarValue::Dictionary(_, v) => match v.as_ref() {
                        ScalarValue::Utf8(v)
                        | ScalarValue::LargeUtf8(v)
                        | ScalarValue::Utf8View(v) => v.as_deref(),
                        _ => None,
                    },
                    _ => None,
                };
                Ok(ColumnarValue::Scalar(ScalarValue::Utf8(
                    text.and_then(|t| lookup(t, &keys)),
                )))
            }
            ColumnarValue::Array(a) => Ok(ColumnarValue::Array(eval_array(a, &keys)?)),
        }
    }
}

/// Evaluates over an array; a dictionary's distinct values are looked up once each.
fn eval_array(a: &ArrayRef, keys: &[&str]) -> Result<ArrayRef> {
    if let Some(dict) = a.as_any_dictionary_opt() {
        let values = eval_array(dict.values(), keys)?;
        let remapped = dict.with_values(values);
        return Ok(cast(&remapped, &DataType::Utf8)?);
    }
    let mut out = StringBuilder::with_capacity(a.len(), a.len() * 8);
    match a.data_type() {
        DataType::Utf8 => eval_iter(a.as_string::<i32>().iter(), keys, &mut out),
        DataType::LargeUtf8 => eval_iter(a.as_string::<i64>().iter(), keys, &mut out),
        DataType::Utf8View => eval_iter(a.as_string_view().iter(), keys, &mut out),
        DataType::Null => (0..a.len()).for_each(|_| out.append_null()),
        other => return exec_err!("attr(json, 'key', ...): cannot read JSON from {other}"),
    }
    Ok(Arc::new(out.finish()))
}

/// Appends the lookup of every value. Rows of one file mostly repeat RECORD and
/// RESOURCE_ATTRIBUTES, so a value equal to the previous row's is not parsed again.
fn eval_iter<'a>(
    values: impl Iterator<Item = Option<&'a str>>,
    keys: &[&str],
    out: &mut StringBuilder,
) {
    let mut prev: Option<(&'a str, Option<String>)> = None;
    for v in values {
        let Some(text) = v else {
            out.append_null();
            continue;
        };
        if !matches!(&prev, Some((p, _)) if *p == text) {
            prev = Some((text, lookup(text, keys)));
        }
        match prev.as_ref().and_then(|(_, r)| r.as_deref()) {
            Some(s) => out.append_value(s),
            None => out.append_null(),
        }
    }
}

/// The text at `keys` in the JSON `text`, or None.
pub(crate) fn lookup(text: &str, keys: &[&str]) -> Option<String> {
    let mut raw: &RawValue = serde_json::from_str(text).ok()?;
    for key in keys {
        // Objects only; the key's value is kept as raw text, so nothing below it is parsed.
        let obj: HashMap<std::borrow::Cow<'_, str>, &RawValue> =
            serde_json::from_str(raw.get()).ok()?;
        raw = obj.get(*key).copied()?;
    }
    let s = raw.get();
    match s.as_bytes().first() {
        Some(b'"') => serde_json::from_str::<String>(s).ok(),
        _ if s == "null" => None,
        _ => Some(s.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::{eval_array, lookup};
    use datafusion::arrow::array::{
        Array, ArrayRef, AsArray, DictionaryArray, StringArray, StringViewArray,
    };
    use datafusion::arrow::datatypes::Int32Type;
    use std::sync::Arc;

    fn texts(a: &ArrayRef) -> Vec<Option<String>> {
        a.as_string::<i32>()
            .iter()
            .map(|v| v.map(str::to_string))
            .collect()
    }

    #[test]
    fn repeated_values_nulls_views_and_dictionaries() {
        let rows = [
            Some(r#"{"a":1}"#),
            Some(r#"{"a":1}"#),
            None,
            Some(r#"{"a":2}"#),
            Some(r#"{"b":2}"#),
            Some(r#"{"a":2}"#),
        ];
        let want = [Some("1"), Some("1"), None, Some("2"), None, Some("2")]
            .map(|v| v.map(str::to_string))
            .to_vec();
        let plain: ArrayRef = Arc::new(StringArray::from(rows.to_vec()));
        assert_eq!(texts(&eval_array(&plain, &["a"]).unwrap()), want);
        let view: ArrayRef = Arc::new(StringViewArray::from(rows.to_vec()));
        assert_eq!(texts(&eval_array(&view, &["a"]).unwrap()), want);
        let dict: DictionaryArray<Int32Type> = rows.iter().copied().collect();
        let dict: ArrayRef = Arc::new(dict);
        let out = eval_array(&dict, &["a"]).unwrap();
        assert_eq!(out.len(), 6);
        assert_eq!(texts(&out), want);
    }

    #[test]
    fn keys_are_whole_names_and_go_deeper_one_by_one() {
        let j = r#"{"log.file.path":"/var/log/a.log","metric":{"name":"cpu","unit":"1"},"n":3,"b":true,"z":null,"o":{"x":[1,2]}}"#;
        assert_eq!(
            lookup(j, &["log.file.path"]).as_deref(),
            Some("/var/log/a.log")
        );
        assert_eq!(lookup(j, &["metric", "name"]).as_deref(), Some("cpu"));
        assert_eq!(lookup(j, &["n"]).as_deref(), Some("3"));
        assert_eq!(lookup(j, &["b"]).as_deref(), Some("true"));
        assert_eq!(lookup(j, &["o"]).as_deref(), Some(r#"{"x":[1,2]}"#));
        assert_eq!(lookup(j, &["z"]), None);
        assert_eq!(lookup(j, &["missing"]), None);
        assert_eq!(lookup(j, &["log", "file"]), None);
        assert_eq!(lookup(j, &["n", "deeper"]), None);
    }

    #[test]
    fn no_key_gives_the_value_itself_unquoted() {
        assert_eq!(
            lookup(r#""a \"quoted\" line\n""#, &[]).as_deref(),
            Some("a \"quoted\" line\n")
        );
        assert_eq!(lookup("42.5", &[]).as_deref(), Some("42.5"));
        assert_eq!(lookup("not json", &[]), None);
        assert_eq!(lookup("", &["a"]), None);
    }

    #[test]
    fn escaped_keys_match_their_text() {
        assert_eq!(
            lookup(r#"{"a\u002eb":"x"}"#, &["a.b"]).as_deref(),
            Some("x")
        );
    }
}
