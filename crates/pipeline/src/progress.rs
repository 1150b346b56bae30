/// Progress callbacks, so the CLI can draw a bar and a backend can log.
/// Called from the job's driving thread only.
pub trait Progress: Sync {
    /// A new phase begins; `total_frames` of input will be processed.
    fn start(&self, phase: &str, total_frames: Option<u64>);
    /// `frames` more input frames are done.
    fn advance(&self, frames: u64);
    /// The current phase is over.
    fn finish(&self);
    /// Asked once per decoded block in every pass: `true` stops the job
    /// with [`crate::JobError::Cancelled`], removing what it wrote.
    fn cancelled(&self) -> bool {
        false
    }
}

/// Reports nothing.
pub struct NoProgress;

impl Progress for NoProgress {
    fn start(&self, _: &str, _: Option<u64>) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}

/// Told about each media file the moment it is complete in the output
/// directory, so a caller can publish while the encode goes on (see
/// [`crate::run_ingest_into`]). Called from the encoder threads; a slow
/// sink blocks them, which is the back-pressure a bounded upload queue
/// wants. Playlists, the MPD and `report.json` are not announced: they are
/// written after every media file, when the job returns.
pub trait OutputSink: Sync {
    /// `relative` is the path below the output directory, `/`-separated.
    /// An error stops the job ([`crate::JobError::Sink`]).
    fn file_ready(&self, relative: &str) -> Result<(), String>;
}

/// Ignores every file.
pub struct NoSink;

impl OutputSink for NoSink {
    fn file_ready(&self, _: &str) -> Result<(), String> {
        Ok(())
    }
}
