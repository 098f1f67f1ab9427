//! Reading log files: discovery, identity across renames and restarts, line splitting with
//! bounded memory, record decoding, and delivery with checkpointed positions.

pub mod checkpoint;
pub mod decode;
pub mod identity;
pub mod lines;
pub mod names;
pub mod open;
mod reader;
pub mod tailer;
pub mod walk;
pub mod watch;

pub use decode::{DecodeConfig, Format};
pub use reader::{FileReader, ReadOutcome, ReaderConfig};
pub use tailer::{TailConfig, Tailer};
pub use walk::FollowSymlinks;
