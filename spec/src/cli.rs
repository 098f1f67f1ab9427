//! The `spec` subcommands as library functions: the agent embeds [`SpecCommand`] and calls
//! [`run`] with its stdout and stderr.
//!
//! Exit codes: 0 success (warnings allowed), 1 the spec is invalid or cannot be rendered or
//! injected, 2 the file cannot be read or an argument is malformed.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::check::{CheckOptions, check, template_finding};
use crate::finding::Finding;
use crate::inject::{InjectError, InjectOptions, inject};
use crate::template::{self, Values};

/// Output format of `spec check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// `FILE:LINE:COL: error[code] path: message` with a help line.
    #[default]
    Text,
    /// A JSON array of findings.
    Json,
}

/// `firn-agent spec ...`: work with SPCS service specifications.
#[derive(Debug, Clone, PartialEq, clap::Subcommand)]
pub enum SpecCommand {
    /// Check a spec (or spec template) against the SPCS rules. Text findings go to stderr;
    /// `--format json` writes the findings to stdout.
    Check {
        /// The spec file (`-` for stdin).
        file: PathBuf,
        /// Template value, `name=value` (alphanumeric or JSON); repeatable.
        #[arg(long = "using", value_name = "NAME=VALUE")]
        using: Vec<String>,
        /// Check as a job service (`EXECUTE JOB SERVICE`): endpoints must be TCP.
        #[arg(long)]
        job: bool,
        /// Output format of the findings.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Render a spec template with `--using` values and print the YAML.
    Render {
        /// The template file (`-` for stdin).
        file: PathBuf,
        /// Template value, `name=value`; repeatable.
        #[arg(long = "using", value_name = "NAME=VALUE")]
        using: Vec<String>,
    },
    /// Print the spec with the firn `logging-agent` sidecar added; what else changed goes
    /// to stderr. A spec that `check` finds invalid is refused (exit 1) unless --force.
    Inject {
        /// The spec file (`-` for stdin).
        file: PathBuf,
        /// The app container whose logs to collect (needed if there are several).
        #[arg(long)]
        app: Option<String>,
        /// Stage for the Parquet output, e.g. `@LOGS`.
        #[arg(long)]
        stage: Option<String>,
        /// The firn image [default: the image of the spec's firn `logging-agent`, else
        /// the placeholder /db/schema/repo/firn:latest].
        #[arg(long)]
        image: Option<String>,
        /// Template value for the check that runs first, `name=value`; repeatable.
        #[arg(long = "using", value_name = "NAME=VALUE")]
        using: Vec<String>,
        /// Inject even when `check` finds errors (they are printed as warnings).
        #[arg(long)]
        force: bool,
    },
}

/// Run a `spec` subcommand. Returns the process exit code.
pub fn run(cmd: &SpecCommand, stdout: &mut dyn Write, stderr: &mut dyn Write) -> i32 {
    match cmd {
        SpecCommand::Check {
            file,
            using,
            job,
            format,
        } => run_check(file, using, *job, *format, stdout, stderr),
        SpecCommand::Render { file, using } => run_render(file, using, stdout, stderr),
        SpecCommand::Inject {
            file,
            app,
            stage,
            image,
            using,
            force,
        } => {
            let Some(values) = values(using, stderr) else {
                return 2;
            };
            let opts = InjectOptions {
                app: app.clone(),
                stage: stage.clone(),
                image: image.clone(),
                values,
                force: *force,
            };
            run_inject(file, &opts, stdout, stderr)
        }
    }
}

fn read(file: &Path, stderr: &mut dyn Write) -> Option<String> {
    let res = if file == Path::new("-") {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(file)
    };
    match res {
        Ok(t) => Some(t),
        Err(e) => {
            let _ = writeln!(
                stderr,
                "error: cannot read spec {}: {e}; check the path and permissions",
                file.display()
            );
            None
        }
    }
}

fn values(using: &[String], stderr: &mut dyn Write) -> Option<Values> {
    match Values::from_pairs(using) {
        Ok(v) => Some(v),
        Err(e) => {
            let _ = writeln!(stderr, "error: {e}");
            None
        }
    }
}

fn print_findings(findings: &[Finding], file: &Path, out: &mut dyn Write) {
    let name = file.display().to_string();
    for f in findings {
        let _ = writeln!(out, "{}", f.to_text(&name));
    }
}

/// `spec check FILE [--using k=v ...] [--job] [--format text|json]`.
pub fn run_check(
    file: &Path,
    using: &[String],
    job: bool,
    format: Format,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> i32 {
    let Some(text) = read(file, stderr) else {
        return 2;
    };
    let Some(values) = values(using, stderr) else {
        return 2;
    };
    let report = check(&text, &CheckOptions { values, job });
    if format == Format::Json {
        // Data for a pipe (`| jq`): stdout. The exit code still says valid or not.
        let json = match serde_json::to_string_pretty(&report.findings) {
            Ok(j) => j,
            Err(e) => {
                let _ = writeln!(stderr, "error: cannot write the findings as JSON: {e}");
                return 2;
            }
        };
        if writeln!(stdout, "{json}").is_err() {
            return 2;
        }
    } else {
        print_findings(&report.findings, file, stderr);
        let errors = report
            .findings
            .iter()
            .filter(|f| f.severity == crate::Severity::Error)
            .count();
        let warnings = report.findings.len() - errors;
        let verdict = if report.is_valid() {
            "valid"
        } else {
            "invalid"
        };
        let _ = writeln!(
            stderr,
            "{}: {verdict} ({errors} errors, {warnings} warnings)",
            file.display()
        );
    }
    if report.is_valid() { 0 } else { 1 }
}

/// `spec render FILE --using k=v ...`: rendered YAML on stdout.
pub fn run_render(
    file: &Path,
    using: &[String],
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> i32 {
    let Some(text) = read(file, stderr) else {
        return 2;
    };
    let Some(values) = values(using, stderr) else {
        return 2;
    };
    match template::render(&text, &values) {
        Ok(r) => {
            for name in &r.unused {
                let _ = writeln!(
                    stderr,
                    "warning: template value `{name}` is not used by {}",
                    file.display()
                );
            }
            if stdout.write_all(r.text.as_bytes()).is_err() {
                return 2;
            }
            0
        }
        Err(errors) => {
            let findings: Vec<Finding> = errors.iter().map(template_finding).collect();
            print_findings(&findings, file, stderr);
            1
        }
    }
}

/// `spec inject FILE [--app C] [--stage @S] [--image I] [--using k=v ...] [--force]`: the
/// injected spec on stdout; what changed besides the sidecar, on stderr.
pub fn run_inject(
    file: &Path,
    opts: &InjectOptions,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> i32 {
    let Some(text) = read(file, stderr) else {
        return 2;
    };
    match inject(&text, opts) {
        Ok(out) => {
            let name = file.display();
            for f in &out.ignored {
                let _ = writeln!(stderr, "warning: --force: {}", f.to_text(&name.to_string()));
            }
            for n in &out.notes {
                let _ = writeln!(stderr, "note: {name}: {n}");
            }
            if stdout.write_all(out.text.as_bytes()).is_err() {
                return 2;
            }
            0
        }
        Err(e) => {
            if let InjectError::Invalid(findings) = &e {
                print_findings(findings, file, stderr);
            }
            let _ = writeln!(stderr, "error: {}: {e}", file.display());
            1
        }
    }
}
