use std::ffi::OsString;
use std::path::Path;

use clap::CommandFactory;
use clap::error::ErrorKind;

use super::*;
use crate::cli::Cli;

fn parse(text: &str) -> Result<ConfigFile, ConfigFileError> {
    ConfigFile::parse(text, Path::new("firn.toml"), &Cli::command())
}

/// A value `arg` accepts: its default, or the first of a few candidates its parser takes.
fn sample(cmd: &Command, arg: &clap::Arg) -> Option<String> {
    if let Some(d) = arg.get_default_values().first() {
        return Some(d.to_string_lossy().into_owned());
    }
    let long = arg.get_long()?;
    [
        "logs/*.log",
        "1",
        "1s",
        "k=v",
        "x",
        "127.0.0.1:0",
        "%Y-%m-%d %H:%M:%S",
    ]
    .into_iter()
    .find(|c| {
        let r = cmd
            .clone()
            .try_get_matches_from(["firn-agent", &format!("--{long}"), c]);
        !matches!(
            r.map_err(|e| e.kind()),
            Err(ErrorKind::InvalidValue | ErrorKind::ValueValidation)
        )
    })
    .map(str::to_string)
}

/// Every flag of the command line, present and future, can be written in the file: the
/// keys are mapped onto the parser's own flags, not listed by hand.
#[test]
fn every_flag_can_be_set_in_a_config_file() {
    let cmd = Cli::command();
    let mut checked = 0;
    for arg in cmd.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if NOT_IN_FILE.contains(&long) {
            continue;
        }
        let value = match arg.get_action() {
            ArgAction::SetTrue => "true".to_string(),
            ArgAction::Count => "1".to_string(),
            _ => format!(
                "'{}'",
                sample(&cmd, arg).unwrap_or_else(|| panic!("no sample for --{long}"))
            ),
        };
        for key in [long.to_string(), long.replace('-', "_")] {
            let file = parse(&format!("{key} = {value}\n"))
                .unwrap_or_else(|e| panic!("--{long} in a file: {e}"));
            let (id, args) = &file.flags[0];
            assert_eq!(id, arg.get_id().as_str());
            assert_eq!(args[0], OsString::from(format!("--{long}")), "{key}");
            let m = cmd.clone().try_get_matches_from(
                std::iter::once(OsString::from("firn-agent")).chain(args.iter().cloned()),
            );
            match m {
                Ok(m) => assert_eq!(
                    m.value_source(id),
                    Some(ValueSource::CommandLine),
                    "--{long}"
                ),
                // A flag that needs another (--container needs --spec) still parsed its value.
                Err(e) => assert!(
                    matches!(e.kind(), ErrorKind::MissingRequiredArgument),
                    "--{long}: {e}"
                ),
            }
        }
        checked += 1;
    }
    assert!(checked >= 25, "{checked} flags");
}

#[test]
fn flags_on_the_command_line_win_over_the_file() {
    let file = parse("log-level = 'ERROR'\ninput = ['from-file/*.log']\nformat = 'cri'\n").unwrap();
    let cli = Cli::command()
        .try_get_matches_from(["firn-agent", "--log-level", "INFO", "--input", "cli/*.log"])
        .unwrap();
    let (before, after) = file.args_under(&cli);
    assert_eq!(before, [OsString::from("--format"), OsString::from("cri")]);
    assert!(after.is_empty());
}

#[test]
fn an_unknown_key_is_refused_with_its_line_and_the_nearest_key() {
    let e = parse("output = 'o'\n\n[agent]\ntelemetry-intervall = '5s'\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "firn.toml:4: unknown key \"telemetry-intervall\"; did you mean \"telemetry-interval\"?"
    );
    let e = parse("[[input]]\npaths = ['a/*.log']\nmultiline_strat = 'x'\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "firn.toml:3: unknown key \"input.multiline_strat\"; did you mean \"multiline-start\"?"
    );
    let e = parse("zzzz = 1\n").unwrap_err();
    assert_eq!(e.to_string(), "firn.toml:1: unknown key \"zzzz\"");
}

#[test]
fn a_value_of_the_wrong_kind_is_refused_with_its_line() {
    let e = parse("output = 'o'\nmax-line-bytes = true\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("firn.toml:2: max-line-bytes: invalid value 'true'"),
        "{e}"
    );
    let e = parse("once = 'yes'\n").unwrap_err().to_string();
    assert_eq!(e, "firn.toml:1: once: expected true or false");
    let e = parse("output = ['a', 'b']\n").unwrap_err().to_string();
    assert_eq!(e, "firn.toml:1: output: expected one value, not a list");
    let e = parse("[[input]]\npaths = ['a']\ntimezone = 'Mars/Base'\n")
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("firn.toml:3: input.timezone: --timezone \"Mars/Base\""),
        "{e}"
    );
    let e = parse("[[input]]\nformat = 'cri'\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("needs paths"), "{e}");
    let e = parse("output = \n").unwrap_err().to_string();
    assert!(e.starts_with("firn.toml:1: not valid TOML"), "{e}");
}

#[test]
fn input_sections_carry_their_own_settings() {
    let file = parse(
        "[[input]]\nname = 'java'\npaths = ['/l/java/*.log']\nmultiline-start = '^\\d'\nlog-level = 'ERROR'\ntimezone = '+01:00'\nparse = 'none'\n",
    )
    .unwrap();
    let s = &file.inputs[0];
    assert_eq!(s.name, "java");
    let base = crate::file_tail::DecodeConfig::default();
    let d = s.decode(&base);
    assert_eq!(d.level, crate::level_filter::LogLevel::Error);
    assert_eq!(d.semantics.timezone.offset_secs, 3600);
    assert_eq!(d.semantics.parse, crate::line_semantics::ParseMode::None);
    assert!(d.multiline_start.is_some());
}
