//! Where the agent's write-ahead spool lives (`--spool`), or why there is none.
//!
//! - `--spool none`: no spool (rows are durable only once their Parquet file is written).
//! - `--spool DIR`: `DIR/<agent id>`; refused on a stage volume, which allows no append.
//! - by default, local output: `<output>/.firn-spool/<agent id>`. A hidden folder holding
//!   only `seg-*.arrows` and `state.json`: nothing in it matches a reader's
//!   `<output>/**/*.parquet` glob (DuckDB's glob enters hidden folders).
//! - by default, stage output: never on the stage. With `--spec`, on the agent container's
//!   first `local` volume mount (`<mount>/.firn-spool/<agent id>`, left out of the inputs);
//!   with neither, no spool and one warning at start saying what a crash can cost.

use std::path::{Path, PathBuf};

use firn_schemas::OutputMode;

/// The hidden folder the default spool goes in.
pub const SPOOL_FOLDER: &str = ".firn-spool";

/// Why the spool cannot go where `--spool` asks.
#[derive(Debug, thiserror::Error)]
pub enum SpoolPlaceError {
    /// The folder is on a stage volume.
    #[error(
        "--spool {}: the spool cannot live on a stage volume, which allows no append; give a folder on a local volume (or --spool none)",
        dir.display()
    )]
    OnStage {
        /// The folder asked for, made absolute.
        dir: PathBuf,
    },
}

/// Where the spool goes, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolPlace {
    /// The spool folder of this agent, or `None` for no spool.
    pub dir: Option<PathBuf>,
    /// Why, for the start-up log.
    pub reason: String,
    /// A warning to log once at start (no spool where one was wanted).
    pub warning: Option<String>,
}

/// Decides where the spool lives. `flag` is `--spool` as given; `local_dirs` the agent
/// container's `local` volume mounts from `--spec`; `is_stage_fs` tells whether a folder is
/// on a stage (FUSE) mount.
///
/// # Errors
/// When `--spool DIR` names a place on the stage.
pub fn place(
    flag: Option<&str>,
    mode: OutputMode,
    output: &Path,
    agent_id: &str,
    local_dirs: &[PathBuf],
    is_stage_fs: impl Fn(&Path) -> bool,
) -> Result<SpoolPlace, SpoolPlaceError> {
    match flag {
        Some("none") => Ok(SpoolPlace {
            dir: None,
            reason: "--spool none".into(),
            warning: None,
        }),
        Some(dir) => {
            let dir = absolute(Path::new(dir));
            if (mode == OutputMode::Stage && dir.starts_with(output)) || is_stage_fs(&dir) {
                return Err(SpoolPlaceError::OnStage { dir });
            }
            Ok(SpoolPlace {
                dir: Some(dir.join(agent_id)),
                reason: "--spool".into(),
                warning: None,
            })
        }
        None if mode == OutputMode::Local => Ok(SpoolPlace {
            dir: Some(output.join(SPOOL_FOLDER).join(agent_id)),
            reason: "default: a hidden folder under the local output".into(),
            warning: None,
        }),
        None => match local_dirs.first() {
            Some(local) => Ok(SpoolPlace {
                dir: Some(local.join(SPOOL_FOLDER).join(agent_id)),
                reason: "default with --spec: the agent container's local volume".into(),
                warning: None,
            }),
            None => Ok(SpoolPlace {
                dir: None,
                reason: "none: the output is a stage and no local volume is known".into(),
                warning: Some(
                    "No spool: the output is a stage volume (which allows no append) and no local volume was given. A kill -9 or a crash re-reads up to --max-file-age of lines, and loses those the app rotated away meanwhile; an agent that keeps crashing writes nothing. Give --spool DIR on a local volume, or run with --spec naming a `local` volume mounted into this container"
                        .into(),
                ),
            }),
        },
    }
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().map_or_else(|_| p.to_path_buf(), |d| d.join(p))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn never(_: &Path) -> bool {
        false
    }

    #[test]
    fn local_output_spools_in_a_hidden_folder_per_agent_by_default() {
        let p = place(None, OutputMode::Local, Path::new("/o"), "a1", &[], never).unwrap();
        assert_eq!(p.dir, Some(PathBuf::from("/o/.firn-spool/a1")));
        assert!(p.warning.is_none());
    }

    #[test]
    fn stage_output_spools_on_the_spec_local_volume_or_warns() {
        let locals = [PathBuf::from("/logs"), PathBuf::from("/other")];
        let p = place(
            None,
            OutputMode::Stage,
            Path::new("/s"),
            "a1",
            &locals,
            never,
        )
        .unwrap();
        assert_eq!(p.dir, Some(PathBuf::from("/logs/.firn-spool/a1")));
        let p = place(None, OutputMode::Stage, Path::new("/s"), "a1", &[], never).unwrap();
        assert_eq!(p.dir, None);
        assert!(p.warning.unwrap().contains("--spool DIR"));
    }

    #[test]
    fn an_explicit_spool_is_per_agent_and_never_on_the_stage() {
        let p = place(
            Some("/var/spool"),
            OutputMode::Stage,
            Path::new("/s"),
            "a1",
            &[],
            never,
        )
        .unwrap();
        assert_eq!(p.dir, Some(PathBuf::from("/var/spool/a1")));
        let e = place(
            Some("/s/x"),
            OutputMode::Stage,
            Path::new("/s"),
            "a1",
            &[],
            never,
        )
        .unwrap_err();
        assert!(e.to_string().contains("allows no append"), "{e}");
        let e = place(
            Some("/f"),
            OutputMode::Local,
            Path::new("/o"),
            "a1",
            &[],
            |_| true,
        )
        .unwrap_err();
        assert!(e.to_string().contains("stage"), "{e}");
        let p = place(
            Some("none"),
            OutputMode::Local,
            Path::new("/o"),
            "a1",
            &[],
            never,
        )
        .unwrap();
        assert_eq!(p.dir, None);
        assert!(p.warning.is_none());
    }
}
