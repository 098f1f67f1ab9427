use super::*;

#[test]
fn nodes_carry_line_and_column() {
    let root = parse("spec:\n  containers:\n  - name: app\n")
        .unwrap()
        .unwrap();
    let name = root
        .get("spec")
        .unwrap()
        .get("containers")
        .unwrap()
        .as_seq()
        .unwrap()[0]
        .get("name")
        .unwrap();
    assert_eq!((name.start.line, name.start.column), (3, 11));
    assert_eq!(name.as_scalar(), Some(("app", Style::Plain)));
}

#[test]
fn offsets_are_bytes_even_after_multibyte_text() {
    let text = "a: \"é\"\nb: x\n";
    let root = parse(text).unwrap().unwrap();
    let b = root.get("b").unwrap();
    assert_eq!(&text[b.start.offset..b.end.offset], "x");
}

#[test]
fn malformed_yaml_is_an_error_with_position() {
    let e = parse("a: [1, 2\nb: c\n").unwrap_err();
    assert!(e.mark.line >= 1);
    let e = parse("a:\n  - b\n c: d\n").unwrap_err();
    assert!(!e.message.is_empty());
}

#[test]
fn deep_nesting_is_refused_not_a_stack_overflow() {
    let text = "[".repeat(10_000);
    assert!(parse(&text).is_err());
}

#[test]
fn alias_bombs_are_refused() {
    let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let p = i - 1;
        text.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    assert!(parse(&text).unwrap_err().message.contains("alias"));
}

#[test]
fn two_documents_are_refused_and_empty_is_none() {
    assert!(parse("a: 1\n---\nb: 2\n").is_err());
    assert_eq!(parse("").unwrap(), None);
    assert_eq!(parse("# only a comment\n").unwrap(), None);
}

#[test]
fn flow_collections_are_marked() {
    let root = parse("a: [1, 2]\nb:\n- 1\n").unwrap().unwrap();
    assert!(root.get("a").unwrap().flow);
    assert!(!root.get("b").unwrap().flow);
}

#[test]
fn scalar_quotes_only_when_needed() {
    assert_eq!(scalar("firn-logs"), "firn-logs");
    assert_eq!(scalar("@stage"), "\"@stage\"");
    assert_eq!(scalar("true"), "\"true\"");
    assert_eq!(scalar("8000"), "\"8000\"");
    assert_eq!(scalar("a: b"), "\"a: b\"");
}
