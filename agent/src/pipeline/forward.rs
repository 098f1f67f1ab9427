//! A second output that must take each batch before the batch (and the source positions it
//! moves) goes to Parquet: the OTLP export.

use std::sync::{Arc, Mutex};

use arrow_array::RecordBatch;

/// An output the sink thread hands each finished batch to before writing it.
pub trait Forward: Send {
    /// Delivers `batch`, retrying as long as it takes. `Ok` once every record was taken or
    /// refused for good (the output counts and logs refusals); `Err` when `give_up()` turned
    /// true first: the batch and the positions it carries are then not written anywhere.
    ///
    /// # Errors
    /// [`Undelivered`] as above.
    fn forward(
        &mut self,
        batch: &RecordBatch,
        give_up: &dyn Fn() -> bool,
    ) -> Result<(), Undelivered>;
}

/// Records an output could not deliver before the agent had to stop.
#[derive(Debug, thiserror::Error)]
#[error("{records} record(s) were not delivered to {output} before the stop")]
pub struct Undelivered {
    /// Records not delivered.
    pub records: usize,
    /// Which output.
    pub output: String,
}

/// A [`Forward`] that [`super::SinkSettings`] can hold (it is `Clone` and `Debug`).
#[derive(Clone)]
pub struct ForwardSlot(pub Arc<Mutex<Box<dyn Forward>>>);

impl ForwardSlot {
    /// Wraps an output.
    pub fn new(f: impl Forward + 'static) -> Self {
        Self(Arc::new(Mutex::new(Box::new(f))))
    }
}

impl std::fmt::Debug for ForwardSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ForwardSlot")
    }
}
