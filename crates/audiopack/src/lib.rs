//! # audiopack
//!
//! Audio masters (WAV, AIFF, FLAC, MP3, Ogg Vorbis) to streaming packages
//! in one call: decode by content, validate, measure loudness (EBU R128 /
//! BS.1770-4), normalize peak-safely, resample once to 48 kHz, encode a
//! gapless Opus ladder in parallel plus a bit-exact FLAC tier, cut aligned
//! CMAF segments, write HLS and DASH manifests, and publish to a directory,
//! S3-compatible storage or any [`ObjectStore`] in manifest-safe order.
//!
//! This crate is the library for backends (an upload service, a queue
//! worker, a CI tool); the `audiopack` command is one of its users.
//!
//! ```
//! use audiopack::{CancellationToken, Event, Input, Job, Output};
//!
//! # fn main() -> Result<(), audiopack::Error> {
//! # let tmp = tempfile::tempdir().map_err(|_| audiopack::Error::from(
//! #     audiopack::ConfigError { field: "tmp", value: String::new(), expected: String::new() }))?;
//! # let song = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/demo.flac");
//! # let out = tmp.path().join("demo");
//! let cancel = CancellationToken::new();
//! let job = Job::builder()
//!     .input(Input::path(song))
//!     .output(Output::dir(&out))
//!     .on_event(|e: &Event| {
//!         if let Event::PhaseStarted { phase, pass, passes, .. } = e {
//!             eprintln!("pass {pass}/{passes}: {phase:?}");
//!         }
//!     })
//!     .cancel(cancel.clone())
//!     .build()?;
//! let report = job.run_blocking()?;           // or, inside tokio: job.run().await?
//! assert!(out.join("master.m3u8").is_file());
//! println!("gain {:+.2} dB", report.loudness.gain.gain_db);
//! # Ok(())
//! # }
//! ```
//!
//! ## The pieces
//!
//! * [`Job::builder`] takes every setting of `audiopack ingest` and
//!   validates them once ([`ConfigError`]: which field, which value, what
//!   was expected).
//! * [`Input`]: a path, an `s3://` object (downloaded once into the spool
//!   directory after its head is checked against the limits), or any
//!   reader the caller can open again. The job reads its input twice
//!   (measure, then encode), and names it by one label in every message.
//! * [`Output`]: a directory (staged and swapped in), an `s3://` prefix,
//!   or any [`ObjectStore`] (an embedder's own store;
//!   [`S3Store::from_client`] for a configured SDK client). Bodies are
//!   streamed from the spool: memory does not grow with object size.
//! * [`Job::run`] is a `Send` future for a tokio runtime: decoding and
//!   encoding run on threads of their own (bounded by
//!   [`JobBuilder::threads`] or a shared [`CpuBudget`]), uploads on the
//!   caller's runtime. [`Job::run_blocking`] for threads without one.
//! * [`Event`]s arrive in order: phases (typed [`Phase`], pass *i* of
//!   *n*), progress, renditions finished, objects stored, warnings, done.
//! * Cancelling the [`CancellationToken`] stops a job within one block
//!   of audio or one upload: the staging or spool directory is removed,
//!   multipart uploads are aborted, objects the job wrote are deleted,
//!   and the job returns [`ErrorKind::Cancelled`].
//! * [`Error::kind`] tells what to do: bad input, unsupported, over a
//!   limit, local I/O, storage (with [`StorageErrorKind`]), config,
//!   cancelled, internal (a bug). The cause is kept as `source()`.
//! * [`JobReport`] is `report.json` plus the publish section:
//!   `Serialize + Deserialize`, versioned ([`REPORT_SCHEMA_VERSION`]),
//!   with a JSON Schema ([`JobReport::json_schema`],
//!   `docs/report.schema.json`).
#![deny(missing_docs)]

mod builder;
mod encryption;
mod error;
mod event;
mod input;
mod job;
mod output;
mod report;
mod settings;
mod tools;

/// Keys, schemes and DRM systems (the `audiopack-drm` crate).
pub use audiopack_drm as drm;
pub use audiopack_drm::{DrmSystem, Scheme as EncryptionScheme};
pub use builder::JobBuilder;
pub use encryption::{Encryption, Keys};
pub use error::{ConfigError, Error, ErrorKind, StorageErrorKind};
pub use event::{Event, EventHandler};
pub use input::Input;
pub use job::Job;
pub use output::Output;
pub use report::{IngestReport, JobReport};
pub use settings::{EncryptSettings, JobSettings, parse_preset, preset_name};
pub use tools::{album_gain, album_members_digest, loudness, probe, publish, publish_blocking};

pub use audiopack_encode::NormalizePreset;
pub use audiopack_ingest::{IngestConfig, Limits, ScanReport};
pub use audiopack_pipeline::{
    AlbumGain, Codec, CpuBudget, Formats, Layout, LoudnessOnly, Phase, REPORT_SCHEMA_VERSION,
    TrackMeasurement, file_sha256,
};
pub use audiopack_publish::{
    Action, Body, DEFAULT_MAX_INPUT_BYTES, DirStore, Existing, Expected, MIN_PART_SIZE,
    ObjectClass, ObjectMeta, ObjectPolicy, ObjectReport, ObjectStore, PublishError, PublishOptions,
    PublishReport, PutObject, RetryPolicy, S3Credentials, S3Options, S3Store, StoreError,
    StoreErrorKind, sha256_hex,
};
pub use tokio_util::sync::CancellationToken;

/// The report types inside [`JobReport`], for code that reads them.
pub mod report_types {
    pub use audiopack_encode::{GainPlan, GainReason, LoudnessReport, NormalizeConfig};
    pub use audiopack_pipeline::{
        InputReport, LoudnessSection, PackageFile, PackageReport, PackagedRendition,
        ProcessingReport, RenditionReport,
    };
}

/// The async-trait attribute, for implementing [`ObjectStore`].
pub use async_trait::async_trait;
