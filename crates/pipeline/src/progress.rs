/// What a pass over the source is for. Every phase decodes the whole
/// input once.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Phase {
    /// Pass 1: the source's loudness and the delivered signal's, which the
    /// gain is planned on.
    Measure,
    /// `--limiter`: a dry run through the limiter (nothing encoded) to
    /// calibrate the gain that reaches the target.
    LimiterCalibration,
    /// `--limiter`: the ladder encoded and decoded, nothing written, to
    /// check the decoded true peaks.
    PeakCheck,
    /// The pass that writes the package.
    Encode,
}

impl Phase {
    /// A short label for progress displays.
    pub fn label(self) -> &'static str {
        match self {
            Phase::Measure => "measuring loudness",
            Phase::LimiterCalibration => "measuring the limiter",
            Phase::PeakCheck => "checking decoded peaks",
            Phase::Encode => "encoding",
        }
    }
}

/// Progress callbacks, so a caller can draw a bar or send events.
/// Called from the job's driving thread only.
pub trait Progress: Sync {
    /// A new pass over the input begins; `total_frames` of input will be
    /// processed (when the header says).
    fn start(&self, phase: Phase, total_frames: Option<u64>);
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
    fn start(&self, _: Phase, _: Option<u64>) {}
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
