/// Progress callbacks, so the CLI can draw a bar and a backend can log.
/// Called from the job's driving thread only.
pub trait Progress: Sync {
    /// A new phase begins; `total_frames` of input will be processed.
    fn start(&self, phase: &str, total_frames: Option<u64>);
    /// `frames` more input frames are done.
    fn advance(&self, frames: u64);
    /// The current phase is over.
    fn finish(&self);
}

/// Reports nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _: &str, _: Option<u64>) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}
