//! # audiopack-pipeline
//!
//! The audiopack job as a library, for backends that embed it; the
//! `audiopack` binary is a thin shell over these functions.
//!
//! ## The job
//!
//! ```text
//!  JobConfig::validate
//!  pass 1  Source ─► [StereoDownmix] ─► LoudnessMeter(s) ─► plan_gain ─► GainPlan
//!  pass 2  Source ─► [StereoDownmix] ─► Resampler(48 kHz) ─► gain ─► [TruePeakLimiter]
//!             └─ Arc<block> over bounded channels ─┬─► thread: OpusEncoder 64k ─► CMAF / Ogg ─► staging/…
//!                                                  │      └─► libopus decoder ─► LoudnessMeter, spectrum, envelope (what listeners get)
//!                                                  ├─► thread: OpusEncoder 96k ─► …
//!                                                  ├─► thread: FlacEncoder ─► CMAF; frames decoded again, compared with the source
//!                                                  └─► thread: LoudnessMeter (output report)
//!  a rung decoded over the ceiling ─► gain lowered by the excess, pass 2 again (peak_control.rs)
//!  qc.json, report.html (audiopack-qc), report.json ─► staging dir renamed onto --out (only on success)
//! ```
//!
//! * **Two passes, bounded memory**: the input is decoded twice rather than
//!   held; every stage is a push/finish processor over blocks of a few
//!   thousand frames, and the bounded channels (back-pressure) keep the
//!   decoder from running ahead of the slowest encoder. Peak memory does not
//!   grow with duration.
//! * **One decode, one resample per pass**: every rendition is encoded from
//!   the same 48 kHz stream, each on its own thread.
//! * **Nothing partial is left behind**: output is written into a staging
//!   directory next to the destination and renamed into place at the end; on
//!   any error (or panic, which is caught at the job boundary) the staging
//!   directory is removed.
//! * **Deterministic**: same input and options, byte-identical files (no
//!   clocks, stable names and Ogg serial numbers).

mod album;
mod budget;
mod config;
mod delivered;
mod digest;
mod encode_pass;
mod error;
mod input;
mod inventory;
mod job;
mod manifests;
mod measure;
mod package;
mod peak_control;
mod progress;
mod qc;
mod report;
mod scratch;
mod staging;

pub use album::{AlbumGain, TrackMeasurement, album_gain, measure_track};
pub use budget::{CpuBudget, CpuSlot};
pub use config::{DEFAULT_SEGMENT_PACKETS, Formats, JobConfig, Layout};
pub use digest::{file_sha256, reader_sha256};
pub use error::{JobError, JobErrorKind};
pub use input::{JobInput, LabeledFile, ReaderFactory, ReaderInput};
pub use inventory::{
    PACKAGE_FORMAT_VERSION, PackageFile, PackageInventory, REPORT_FILE, inspect_package,
};
pub use job::{
    LoudnessOnly, loudness, probe, run_ingest, run_ingest_into, run_ingest_into_premeasured,
    run_ingest_premeasured,
};
pub use progress::{NoProgress, NoSink, OutputSink, Phase, Progress};
pub use report::{
    Codec, InputReport, JobReport, LoudnessSection, PackageReport, PackagedRendition,
    ProcessingReport, REPORT_SCHEMA_VERSION, RenditionReport,
};
pub use scratch::ScratchDir;

pub use audiopack_encode::{
    GainPlan, GainReason, Ladder, LoudnessReport, NormalizeConfig, NormalizePreset,
};
pub use audiopack_ingest::{IngestConfig, Limits, ScanReport, SourceInfo};
