use proptest::prelude::*;

use super::*;

fn vals(pairs: &[&str]) -> Values {
    Values::from_pairs(pairs).unwrap()
}

#[test]
fn substitutes_inside_a_scalar() {
    let r = render(
        "image: repo/app:{{ tag_name }}\n",
        &vals(&["tag_name=latest"]),
    )
    .unwrap();
    assert_eq!(r.text, "image: repo/app:latest\n");
}

#[test]
fn json_values_render_as_flow_yaml() {
    let v = vals(&[
        r#"env_values={"SERVER_PORT": 8000, "CHARACTER_NAME": "Bob"}"#,
        r#"ARGS=["-n", 2]"#,
        r#"path= "/path/file.txt" "#,
    ]);
    let r = render("env: {{env_values}}\nargs: {{ARGS}}\np: {{ path }}\n", &v).unwrap();
    assert_eq!(
        r.text,
        "env: {\"SERVER_PORT\": 8000, \"CHARACTER_NAME\": \"Bob\"}\nargs: [\"-n\", 2]\np: /path/file.txt\n"
    );
}

#[test]
fn defaults_follow_the_blank_flag() {
    let t = "a: {{ x | default('Bob') }}\nb: {{ y | default('echo-endpoint', true) }}\n";
    assert_eq!(
        render(t, &Values::default()).unwrap().text,
        "a: Bob\nb: echo-endpoint\n"
    );
    let blank = vals(&["x=", "y="]);
    assert_eq!(render(t, &blank).unwrap().text, "a: \nb: echo-endpoint\n");
}

#[test]
fn undefined_variable_is_an_error_with_its_position() {
    let errs = render("spec:\n  image: {{ image_url }}\n", &Values::default()).unwrap_err();
    assert_eq!(errs.len(), 1);
    match &errs[0] {
        TemplateError::Undefined { name, at } => {
            assert_eq!(name, "image_url");
            assert_eq!((at.line, at.column), (2, 10));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn syntax_errors_are_reported() {
    assert!(matches!(
        render("a: {{ x", &Values::default()).unwrap_err()[0],
        TemplateError::Syntax { .. }
    ));
    assert!(matches!(
        render("a: {{ x | upper }}", &Values::default()).unwrap_err()[0],
        TemplateError::Syntax { .. }
    ));
    assert!(matches!(
        render("a: {{ }}", &Values::default()).unwrap_err()[0],
        TemplateError::Syntax { .. }
    ));
    assert!(matches!(
        render("a: {{ x | default('a', maybe) }}", &Values::default()).unwrap_err()[0],
        TemplateError::Syntax { .. }
    ));
}

#[test]
fn values_must_be_alphanumeric_or_json() {
    assert!(Values::from_pairs(&["a=blah123", "b=111", "c=true", "d=-1.2", "e=> x1"]).is_ok());
    assert!(matches!(
        Values::from_pairs(&["a=/path/file"]),
        Err(TemplateError::BadValue { .. })
    ));
    assert!(matches!(
        Values::from_pairs(&["novalue"]),
        Err(TemplateError::BadPair { .. })
    ));
    assert!(matches!(
        Values::from_pairs(&["1x=a"]),
        Err(TemplateError::BadPair { .. })
    ));
}

#[test]
fn names_are_case_sensitive_and_unused_values_are_listed() {
    let r = render("a: {{ X | default('d') }}\n", &vals(&["x=1"])).unwrap();
    assert_eq!(r.text, "a: d\n");
    assert_eq!(r.unused, vec!["x".to_string()]);
}

#[test]
fn positions_map_back_to_the_template() {
    let r = render(
        "a: {{ long_variable_name }} b: c\nx: y\n",
        &vals(&["long_variable_name=1"]),
    )
    .unwrap();
    assert_eq!(r.text, "a: 1 b: c\nx: y\n");
    assert_eq!(r.to_template(1, 6), (1, 29)); // `b` after the placeholder
    assert_eq!(r.to_template(1, 4), (1, 4)); // inside the substitution: its start
    assert_eq!(r.to_template(2, 1), (2, 1));
}

#[test]
fn mask_keeps_byte_offsets() {
    let t = "a: {{ x }}\nb: {{ ä }}\n";
    let m = mask(t);
    assert_eq!(m.len(), t.len());
    assert!(!m.contains("{{"));
}

proptest! {
    #[test]
    fn text_without_braces_renders_unchanged(s in "[^{}]{0,200}") {
        let r = render(&s, &Values::default()).unwrap();
        prop_assert_eq!(r.text, s);
    }

    #[test]
    fn alphanumeric_values_substitute_verbatim(name in "[a-z_][a-z0-9_]{0,10}", value in "[A-Za-z0-9_]{1,20}", pre in "[^{}]{0,20}", post in "[^{}]{0,20}") {
        let t = format!("{pre}{{{{ {name} }}}}{post}");
        let r = render(&t, &vals(&[&format!("{name}={value}")])).unwrap();
        prop_assert_eq!(r.text, format!("{pre}{value}{post}"));
        prop_assert!(r.unused.is_empty());
    }

    #[test]
    fn json_strings_render_as_their_content(name in "[a-z][a-z0-9_]{0,10}", content in "[^\"\\\\\\p{Cc}]{0,30}") {
        let json = serde_json::Value::String(content.clone()).to_string();
        let r = render(&format!("v: {{{{{name}}}}}"), &vals(&[&format!("{name}={json}")])).unwrap();
        prop_assert_eq!(r.text, format!("v: {content}"));
    }

    #[test]
    fn default_applies_exactly_when_it_should(value in proptest::option::of("[A-Za-z0-9]{0,5}"), blank_flag in any::<bool>()) {
        let t = format!("{{{{ v | default('D', {blank_flag}) }}}}");
        let values = match &value { Some(v) => vals(&[&format!("v={v}")]), None => Values::default() };
        let out = render(&t, &values).unwrap().text;
        let expected = match value.as_deref() {
            None => "D".to_string(),
            Some("") if blank_flag => "D".to_string(),
            Some(v) => v.to_string(),
        };
        prop_assert_eq!(out, expected);
    }

    #[test]
    fn renderer_never_panics(s in "\\PC{0,80}") {
        let _ = render(&s, &vals(&["a=1"]));
        let m = mask(&s);
        prop_assert_eq!(m.len(), s.len());
    }

    #[test]
    fn mapped_positions_stay_inside_the_template(s in "[a-z {}|()'\\n]{0,60}") {
        if let Ok(r) = render(&s, &vals(&["a=1", "b=xyz"])) {
            let lines = s.lines().count().max(1);
            for (i, line) in r.text.split('\n').enumerate() {
                for c in 1..=line.chars().count() + 1 {
                    let (l, _) = r.to_template(i + 1, c);
                    prop_assert!(l >= 1 && l <= lines + 1);
                }
            }
        }
    }
}
