//! Reading log files: line splitting with bounded memory, decoding, and delivery as chunks.

pub mod lines;
mod reader;

pub use reader::{FileAttrs, FileReader, ReadOutcome};
