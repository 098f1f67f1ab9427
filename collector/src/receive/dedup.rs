//! Exactly once for firn agents: a batch resent after its answer was lost is dropped by its
//! stamp, the `firn-agent-id` and `firn-batch-seq` headers (gRPC metadata) every firn agent
//! sends.
//!
//! An agent sends one request at a time, with sequence numbers that only grow (also across its
//! restarts), and a resend carries the same number. So the collector keeps, per agent id, the
//! highest number it has durably written, and answers a request at or below it 200 without
//! writing it again. That number is kept **with the rows**: the file that ends a group of
//! requests holding a stamped batch carries the whole map in its footer
//! (`firn.collector.batch_seqs`), and the files reach the output in order, so the newest
//! complete file of this collector tells where each agent was, after any restart or `kill -9`.
//! (A group that fills a file and goes on in the next claims its stamps only in the last one:
//! a crash between the two can make a resend be written again, never a write be forgotten.)
//!
//! Three states per stamp: *durable* (in a closed, synced file: a resend is a duplicate),
//! *in the sink* (handed to the Parquet sink, not yet on disk, e.g. while the output fails: a
//! resend is answered 503 until it is), and *queued* (waiting for the writer thread: a resend
//! is answered 503 too, so two tries of one batch are never written side by side).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// Footer key holding `{"<agent id>": [<last seq>, <last seen, unix s>], ...}`.
pub const META_BATCH_SEQS: &str = "firn.collector.batch_seqs";

/// Header (gRPC metadata key) naming the sending agent.
pub const AGENT_ID_HEADER: &str = "firn-agent-id";
/// Header with the request's sequence number.
pub const BATCH_SEQ_HEADER: &str = "firn-batch-seq";

/// Longest agent id taken (a longer one is refused with 400).
pub const MAX_AGENT_ID_BYTES: usize = 256;

/// A request's stamp.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Stamp {
    /// `firn-agent-id`.
    pub agent: String,
    /// `firn-batch-seq`.
    pub seq: u64,
}

/// A stamp header that is present but unusable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StampError {
    /// Only one of the two headers.
    #[error("{AGENT_ID_HEADER} and {BATCH_SEQ_HEADER} must be sent together")]
    Half,
    /// Not a number.
    #[error("{BATCH_SEQ_HEADER} {0:?} is not a whole number")]
    Seq(String),
    /// Empty, too long, or not printable ASCII.
    #[error("{AGENT_ID_HEADER} must be 1 to {MAX_AGENT_ID_BYTES} printable ASCII characters")]
    Agent,
}

impl Stamp {
    /// From the two header values, either of which may be missing. `Ok(None)` when both are.
    ///
    /// # Errors
    /// [`StampError`] when one is missing or either is malformed.
    pub fn parse(agent: Option<&str>, seq: Option<&str>) -> Result<Option<Self>, StampError> {
        match (agent, seq) {
            (None, None) => Ok(None),
            (Some(a), Some(s)) => {
                let a = a.trim();
                if a.is_empty()
                    || a.len() > MAX_AGENT_ID_BYTES
                    || !a.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
                {
                    return Err(StampError::Agent);
                }
                let seq = s
                    .trim()
                    .parse()
                    .map_err(|_| StampError::Seq(s.to_string()))?;
                Ok(Some(Self {
                    agent: a.to_string(),
                    seq,
                }))
            }
            _ => Err(StampError::Half),
        }
    }
}

/// What to do with a stamped request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Not seen: write it (the stamp is now queued).
    New,
    /// Already durable: answer 200, write nothing.
    Duplicate,
    /// An earlier try is being written: answer 503, the client tries again.
    InFlight,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    seq: u64,
    seen_s: u64,
}

#[derive(Debug, Default)]
struct State {
    /// In closed, synced files.
    durable: HashMap<String, Entry>,
    /// Handed to the sink (durable or not yet): what the next footer says.
    in_sink: HashMap<String, Entry>,
    /// Accepted, waiting for the writer thread.
    queued: HashSet<Stamp>,
}

/// The shared record of stamps.
#[derive(Debug)]
pub struct Dedup {
    state: Mutex<State>,
    max_agents: usize,
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Dedup {
    /// Empty, keeping at most `max_agents` agents (the least recently seen are forgotten).
    pub fn new(max_agents: usize) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State::default()),
            max_agents: max_agents.max(1),
        })
    }

    /// From a footer value written by [`Dedup::footer`].
    ///
    /// # Errors
    /// A message when it is not the expected JSON.
    pub fn restore(footer: &str, max_agents: usize) -> Result<Arc<Self>, String> {
        let map: BTreeMap<String, (u64, u64)> =
            serde_json::from_str(footer).map_err(|e| format!("{META_BATCH_SEQS}: {e}"))?;
        let entries: HashMap<String, Entry> = map
            .into_iter()
            .map(|(k, (seq, seen_s))| (k, Entry { seq, seen_s }))
            .collect();
        let d = Self::new(max_agents);
        {
            let mut s = d.lock();
            s.durable = entries.clone();
            s.in_sink = entries;
        }
        Ok(d)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Agents known.
    pub fn agents(&self) -> usize {
        self.lock().in_sink.len()
    }

    /// Decides about a request; a [`Check::New`] stamp is queued until [`Self::written`] or
    /// [`Self::abandon`].
    pub fn check(&self, stamp: &Stamp) -> Check {
        let mut s = self.lock();
        if s.durable
            .get(&stamp.agent)
            .is_some_and(|e| stamp.seq <= e.seq)
        {
            return Check::Duplicate;
        }
        if s.in_sink
            .get(&stamp.agent)
            .is_some_and(|e| stamp.seq <= e.seq)
            || s.queued.contains(stamp)
        {
            return Check::InFlight;
        }
        s.queued.insert(stamp.clone());
        Check::New
    }

    /// A queued stamp that will not be written (refused, or the writer could not take it).
    pub fn abandon(&self, stamp: &Stamp) {
        self.lock().queued.remove(stamp);
    }

    /// The footer value: every agent's last number handed to the sink.
    pub fn footer(&self) -> String {
        let s = self.lock();
        let map: BTreeMap<&str, (u64, u64)> = s
            .in_sink
            .iter()
            .map(|(k, e)| (k.as_str(), (e.seq, e.seen_s)))
            .collect();
        serde_json::to_string(&map).unwrap_or_default()
    }

    /// `stamp`'s rows were handed to the sink.
    pub fn written(&self, stamp: &Stamp) {
        let mut s = self.lock();
        s.queued.remove(stamp);
        let e = s
            .in_sink
            .entry(stamp.agent.clone())
            .or_insert(Entry { seq: 0, seen_s: 0 });
        e.seq = e.seq.max(stamp.seq);
        e.seen_s = now_s();
        if s.in_sink.len() > self.max_agents {
            // Forget the agent seen longest ago: its next resend (if it ever comes) is
            // written again. Bounds memory and the footer's size.
            if let Some(oldest) = s
                .in_sink
                .iter()
                .filter(|(k, _)| **k != stamp.agent)
                .min_by_key(|(_, e)| e.seen_s)
                .map(|(k, _)| k.clone())
            {
                s.in_sink.remove(&oldest);
                s.durable.remove(&oldest);
            }
        }
    }

    /// Everything handed to the sink is now in closed, synced files.
    pub fn settle(&self) {
        let mut s = self.lock();
        s.durable = s.in_sink.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(agent: &str, seq: u64) -> Stamp {
        Stamp {
            agent: agent.into(),
            seq,
        }
    }

    #[test]
    fn stamps_parse_from_both_headers_or_neither() {
        assert_eq!(Stamp::parse(None, None), Ok(None));
        assert_eq!(Stamp::parse(Some("a"), Some(" 7 ")), Ok(Some(st("a", 7))));
        assert_eq!(Stamp::parse(Some("a"), None), Err(StampError::Half));
        assert_eq!(Stamp::parse(None, Some("1")), Err(StampError::Half));
        assert_eq!(
            Stamp::parse(Some("a"), Some("-1")),
            Err(StampError::Seq("-1".into()))
        );
        assert_eq!(Stamp::parse(Some(""), Some("1")), Err(StampError::Agent));
        let long = "x".repeat(MAX_AGENT_ID_BYTES + 1);
        assert_eq!(Stamp::parse(Some(&long), Some("1")), Err(StampError::Agent));
    }

    #[test]
    fn a_resend_is_in_flight_until_durable_then_a_duplicate() {
        let d = Dedup::new(10);
        assert_eq!(d.check(&st("a", 5)), Check::New);
        assert_eq!(d.check(&st("a", 5)), Check::InFlight, "queued");
        d.written(&st("a", 5));
        assert_eq!(d.check(&st("a", 5)), Check::InFlight, "in the sink");
        d.settle();
        assert_eq!(d.check(&st("a", 5)), Check::Duplicate);
        assert_eq!(d.check(&st("a", 4)), Check::Duplicate, "older");
        assert_eq!(d.check(&st("a", 6)), Check::New);
        assert_eq!(d.check(&st("b", 1)), Check::New, "agents are apart");
    }

    #[test]
    fn an_abandoned_stamp_can_be_written_by_its_resend() {
        let d = Dedup::new(10);
        assert_eq!(d.check(&st("a", 1)), Check::New);
        d.abandon(&st("a", 1));
        assert_eq!(d.check(&st("a", 1)), Check::New);
    }

    #[test]
    fn the_footer_restores_what_was_durable() {
        let d = Dedup::new(10);
        d.check(&st("a", 9));
        d.written(&st("a", 9));
        let footer = d.footer();
        let back = Dedup::restore(&footer, 10).unwrap();
        assert_eq!(back.check(&st("a", 9)), Check::Duplicate);
        assert_eq!(back.check(&st("a", 10)), Check::New);
        assert!(Dedup::restore("[1]", 10).is_err());
    }

    #[test]
    fn past_the_cap_the_least_recently_seen_agent_is_forgotten() {
        let d = Dedup::new(2);
        for a in ["a", "b", "c"] {
            d.check(&st(a, 1));
            d.written(&st(a, 1));
        }
        assert_eq!(d.agents(), 2);
    }
}
