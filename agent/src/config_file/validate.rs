//! `firn-agent validate --config FILE [--spec FILE]`: the settings the agent would run with,
//! where each came from, and the files each input matches; then exit. As Vector's
//! `validate` and Fluent Bit's `--dry-run`.

use std::ffi::OsString;
use std::io::Write;

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches};

use super::ConfigFile;
use crate::cli::Cli;
use crate::config::AgentConfig;

/// `validate`'s own flags.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// The config file to check.
    #[arg(long, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    /// A service specification to take settings from, as the agent's own --spec.
    #[arg(long, value_name = "FILE")]
    pub spec: Option<std::path::PathBuf>,
    /// The agent's container in --spec.
    #[arg(long, value_name = "NAME")]
    pub container: Option<String>,
    /// Template values for --spec, NAME=VALUE. Repeatable.
    #[arg(long = "using", value_name = "NAME=VALUE")]
    pub using: Vec<String>,
}

/// Parses `args` (the program name first) as the agent does, with the `--config` file's
/// settings under the command line's.
///
/// # Errors
/// When the arguments or the file are wrong.
pub fn resolve(args: Vec<OsString>) -> anyhow::Result<(Cli, ArgMatches, Option<ConfigFile>)> {
    let cmd = Cli::command();
    let first = cmd.clone().try_get_matches_from(&args)?;
    let Some(path) = first.get_one::<std::path::PathBuf>("config").cloned() else {
        let cli = Cli::from_arg_matches(&first)?;
        return Ok((cli, first, None));
    };
    let file = ConfigFile::load(&path, &cmd)?;
    let (before, after) = file.args_under(&first);
    let mut all = vec![args.first().cloned().unwrap_or_else(|| "firn-agent".into())];
    all.extend(before);
    all.extend(args.into_iter().skip(1));
    all.extend(after);
    let matches = cmd.try_get_matches_from(all)?;
    let mut cli = Cli::from_arg_matches(&matches)?;
    cli.input_sections = file.inputs.clone();
    Ok((cli, matches, Some(file)))
}

/// Runs `validate`: prints to `out`; returns the exit code.
///
/// # Errors
/// When the settings are wrong (the caller prints the error).
pub fn run(v: &ValidateArgs, out: &mut dyn Write) -> anyhow::Result<u8> {
    let mut args: Vec<OsString> = vec!["firn-agent".into()];
    if let Some(c) = &v.config {
        args.extend(["--config".into(), c.clone().into_os_string()]);
    }
    if let Some(s) = &v.spec {
        args.extend(["--spec".into(), s.clone().into_os_string()]);
    }
    if let Some(c) = &v.container {
        args.extend(["--container".into(), c.into()]);
    }
    for u in &v.using {
        args.extend(["--using".into(), u.into()]);
    }
    let (mut cli, matches, file) = resolve(args)?;
    let origins = crate::spec_config::apply(&mut cli, &matches)?;
    let cfg = AgentConfig::from_cli(&cli, |k| std::env::var(k).ok())?;
    let from_file: Vec<&str> = file.as_ref().map(|f| f.ids().collect()).unwrap_or_default();
    writeln!(out, "Settings:")?;
    let cmd = Cli::command();
    for arg in cmd.get_arguments() {
        let id = arg.get_id().as_str();
        if matches!(id, "help" | "version") {
            continue;
        }
        let Some(raw) = matches.get_raw(id) else {
            continue;
        };
        let value = raw
            .map(|r| r.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        let spec = origins.iter().find(|o| o.name == id);
        let source = match (spec, matches.value_source(id)) {
            (Some(o), _) if !o.source.starts_with("--") => o.source.clone(),
            _ if from_file.contains(&id) => "config file".into(),
            (_, Some(ValueSource::DefaultValue)) => "default".into(),
            (_, Some(ValueSource::EnvVariable)) => "environment".into(),
            _ => "command line".into(),
        };
        let value = spec.map_or(value, |o| o.value.clone());
        let name = arg.get_long().unwrap_or(id);
        writeln!(out, "  {name} = {value}  ({source})")?;
    }
    writeln!(out, "Output: {}", cfg.describe_output())?;
    match &cfg.spool.dir {
        Some(d) => writeln!(out, "Spool: {} ({})", d.display(), cfg.spool.reason)?,
        None => writeln!(out, "Spool: none ({})", cfg.spool.reason)?,
    }
    writeln!(out, "Inputs:")?;
    let mut inputs: Vec<(String, Vec<glob::Pattern>)> = cfg
        .inputs
        .iter()
        .filter(|p| !cli.input_sections.iter().any(|s| s.paths.contains(p)))
        .map(|p| (p.as_str().to_string(), vec![p.clone()]))
        .collect();
    inputs.extend(
        cli.input_sections
            .iter()
            .map(|s| (format!("[[input]] {}", s.name), s.paths.clone())),
    );
    for (name, globs) in inputs {
        let files = matching(&globs, &cfg.excludes);
        writeln!(out, "  {name}: {} file(s)", files.len())?;
        for f in files {
            writeln!(out, "    {f}")?;
        }
    }
    writeln!(out, "OK")?;
    Ok(0)
}

/// Files matching `globs` and none of `excludes`, sorted.
fn matching(globs: &[glob::Pattern], excludes: &[glob::Pattern]) -> Vec<String> {
    let mut out: Vec<String> = globs
        .iter()
        .filter_map(|g| glob::glob(g.as_str()).ok())
        .flatten()
        .flatten()
        .filter(|p| p.is_file() && !excludes.iter().any(|e| e.matches_path(p)))
        .map(|p| p.display().to_string())
        .collect();
    out.sort();
    out.dedup();
    out
}
