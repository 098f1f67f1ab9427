//! The one sink set-up the daemon and `--once` share: where sources resume (the spool's
//! positions, then the output footers), the spool itself, and the sink thread.

use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;

use firn_schemas::spool::{Spool, SpoolConfig};
use firn_schemas::{ParquetSink, WrittenFile};

use crate::config::AgentConfig;
use crate::file_tail::checkpoint::{self, Recovered};
use crate::pipeline::{Sender, SinkReport, SinkSettings, SpoolSetup, SpoolSlot, spawn_sink};
use crate::shutdown::Shutdown;
use crate::telemetry::Counters;

/// Why the sink could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SinkSetupError {
    /// The output folder could not be listed to find this agent's files.
    #[error("cannot read the output folder {} to resume", dir.display())]
    ReadOutput {
        /// The output folder.
        dir: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The sink's thread could not be started.
    #[error("cannot start the sink thread")]
    Thread(#[source] std::io::Error),
}

/// A started sink and where the sources resume.
#[derive(Debug)]
pub struct Started {
    /// The channel to the sink thread.
    pub tx: Sender,
    /// The sink thread.
    pub handle: JoinHandle<SinkReport>,
    /// Where each followed file resumes.
    pub recovered: Recovered,
}

/// Starts the sink. A daemon (`shutdown` given) resumes: it removes leftovers of its own
/// interrupted writes, opens the spool (replaying what it holds) and takes the newest
/// positions; `--once` (`shutdown` None) reads every file whole, with no spool.
///
/// # Errors
/// When the output folder cannot be read, the spool cannot be opened, or the thread cannot
/// start.
pub fn start(
    cfg: &AgentConfig,
    counters: &Arc<Counters>,
    shutdown: Option<&Shutdown>,
    on_written: Box<dyn FnMut(&WrittenFile) + Send>,
) -> Result<Started, SinkSetupError> {
    let mut settings = SinkSettings {
        forward: crate::otlp_export::forward_slot(cfg, counters),
        ..SinkSettings::default()
    };
    let mut recovered = Recovered::default();
    if let Some(sd) = shutdown {
        recovered = recover(cfg)?;
        if let Some(setup) = open_spool(cfg, counters, &mut recovered) {
            settings.spool = Some(SpoolSlot::new(setup));
            // A commit a second: batches cut by age (and size), not by a row count that
            // would fsync many times a second at a high rate.
            settings.batch_age = cfg.commit_interval;
            settings.batch_rows = 1 << 20;
        }
        // The shutdown's deadline (inside the platform's grace period) bounds the close.
        settings.initial_positions = recovered.positions.clone();
        // A run that follows no file has no position to carry, and must not write an empty
        // map over an earlier run's.
        settings.carry_positions = !cfg.inputs.is_empty();
        settings.shutdown = Some(sd.clone());
    }
    let (tx, handle) = spawn_sink(
        ParquetSink::new(cfg.sink.clone()),
        cfg.resource.to_json(),
        settings,
        on_written,
    )
    .map_err(SinkSetupError::Thread)?;
    Ok(Started {
        tx,
        handle,
        recovered,
    })
}

/// Removes this agent's leftovers of an interrupted write, whatever its sources, and finds
/// where its newest complete file says each followed file stood.
fn recover(cfg: &AgentConfig) -> Result<Recovered, SinkSetupError> {
    let recovered = checkpoint::recover(&cfg.sink.dir, &cfg.sink.agent_id).map_err(|source| {
        SinkSetupError::ReadOutput {
            dir: cfg.sink.dir.clone(),
            source,
        }
    })?;
    let (removed, left) = (recovered.removed.len(), recovered.left.len());
    if cfg.inputs.is_empty() {
        return Ok(Recovered {
            removed: recovered.removed,
            left: recovered.left,
            spool_commit: recovered.spool_commit,
            ..Recovered::default()
        });
    }
    if let Some(f) = &recovered.from {
        tracing::info!(from = %f.display(), files = recovered.checkpoints.len(), removed_partial = removed, left_unreadable = left, "Resuming from checkpoints");
    } else {
        tracing::info!(agent_id = %cfg.sink.agent_id, removed_partial = removed, left_unreadable = left, "No earlier output of this agent; reading files from their start");
    }
    Ok(recovered)
}

/// Opens the spool (cutting a torn tail) and takes its positions, which are never older
/// than the output's: every file's rows were committed before the file was written. `None`
/// when there is no spool, or it cannot be opened (logged: the agent runs without it).
fn open_spool(
    cfg: &AgentConfig,
    counters: &Arc<Counters>,
    recovered: &mut Recovered,
) -> Option<SpoolSetup> {
    let Some(dir) = &cfg.spool.dir else {
        if let Some(w) = &cfg.spool.warning {
            tracing::warn!("{w}");
        }
        return None;
    };
    let mut scfg = SpoolConfig::new(dir);
    scfg.max_bytes = cfg.spool_max_bytes;
    // Each written file's footer holds the positions to record.
    scfg.remember_positions = false;
    let (spool, rec) = match Spool::open(scfg, recovered.spool_commit) {
        Ok(r) => r,
        Err(e) => {
            // A sidecar that cannot start is worse than one that is durable only when its
            // files are written.
            tracing::error!(dir = %dir.display(), error = %e, "Cannot open the spool; running without it (a kill -9 re-reads up to --max-file-age of lines): give another with --spool DIR, or --spool none");
            return None;
        }
    };
    if let Some(t) = &rec.torn {
        tracing::warn!(
            path = %t.path.display(),
            kept_bytes = t.kept_bytes,
            dropped_bytes = t.dropped_bytes,
            reason = %t.reason,
            "Cut the torn tail of the spool (a crash in the middle of a commit); the lines it held are read again from their sources"
        );
    }
    let rows: usize = rec.commits.iter().map(|c| c.batch.num_rows()).sum();
    tracing::info!(
        dir = %dir.display(),
        reason = %cfg.spool.reason,
        covered = rec.covered,
        commits_to_replay = rec.commits.len(),
        rows_to_replay = rows,
        "Spool"
    );
    // The newest output file holds the newest commit when nothing is left to replay and it
    // says so (a crash between writing it and recording that, then a torn tail): its
    // positions are then the newest.
    let footer_is_newest =
        rec.commits.is_empty() && recovered.spool_commit.is_some_and(|h| h >= rec.covered);
    if let Some(p) = rec.positions.as_deref().filter(|p| !p.is_empty())
        && !cfg.inputs.is_empty()
        && !footer_is_newest
    {
        match recovered.set_positions(p) {
            Ok(()) => tracing::info!(
                files = recovered.checkpoints.len(),
                "Resuming from the spool's positions"
            ),
            Err(e) => {
                tracing::warn!(error = %e, "Unreadable positions in the spool; resuming from the output files' instead");
            }
        }
    }
    Some(SpoolSetup {
        spool,
        replay: rec.commits,
        counters: counters.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The message a user reads (`firn-agent: error: {e:#}`) names the folder and the cause,
    /// once each.
    #[test]
    fn an_unreadable_output_folder_is_named_with_its_cause_once() {
        let e = SinkSetupError::ReadOutput {
            dir: PathBuf::from("/stage/events"),
            source: std::io::Error::from_raw_os_error(13),
        };
        let shown = format!("{:#}", anyhow::Error::from(e));
        assert_eq!(
            shown,
            "cannot read the output folder /stage/events to resume: Permission denied (os error 13)"
        );
    }
}
