//! # audiopack-batch
//!
//! A catalog of tracks through [`audiopack::Job`]s in one process:
//! `audiopack batch CATALOG --out DIR|s3://bucket/prefix/`.
//!
//! ## Design
//!
//! ```text
//!  catalog (CSV | JSON Lines | s3:// listing) ── checked whole ──► Catalog   (CatalogError: file:line: column)
//!        │
//!  runner::plan: per row, the caller's JobTemplate(row settings)
//!        + Input + OUT/<id>/ + one shared CpuBudget(jobs) + child CancellationToken
//!        └─► Job::build()   (a bad value in a row is a catalog error; nothing ran)
//!        │
//!  destination preflight, once (mkdir; S3: HeadBucket + a multipart probe)
//!        │
//!  one tokio runtime; at most `jobs` tracks at once:
//!     skip::check ── report.json digest == job.settings_digest()
//!                    && every listed file there with its size
//!                    && input.sha256 == SHA-256 of the input ──► skipped (nothing decoded)
//!     else job.run().await ──► done | failed (ExitClass: the CLI's exit code for it)
//!     stop starting on a signal (the token) or after --max-failures;
//!     running jobs are cancelled by the token (their output removed)
//!        │
//!  report: OUT/batch-report.json (temp + rename; S3: one object) ─ junit: --junit FILE
//! ```
//!
//! * **One CPU budget**: every job draws its threads' slots from one
//!   [`audiopack::CpuBudget`] of `jobs` slots, so `jobs` is the number of
//!   threads the whole batch computes on, however many renditions the
//!   running tracks have; `jobs` tracks run at once.
//! * **Async where I/O is**: the jobs' CPU work runs on their own threads
//!   (the budget caps them); skip checks, uploads and listings are tasks
//!   of the caller's runtime. One S3 client serves the listing, the skip
//!   checks, the batch report and every track's store.
//! * **Resumable**: a package is published or swapped in only when whole
//!   (the job's rule), and its `report.json` records the input's SHA-256
//!   and the settings digest; a rerun after `kill -9` skips what was
//!   finished and redoes the rest. The batch report is rewritten as tracks
//!   finish (`stopped: "in-progress"`), so a killed batch leaves what it
//!   finished on record; the rerun's replaces it.
//! * **Failures stay per track**: a failing track's error is in its entry
//!   (class, exit code, the message `ingest` prints); the others go on.
//!
//! ```no_run
//! use std::sync::Arc;
//! use audiopack::Job;
//! use audiopack_batch::{BatchOptions, JobTemplate, read_catalog, run_batch};
//!
//! # async fn example() -> Result<(), audiopack_batch::BatchError> {
//! let catalog = read_catalog(std::path::Path::new("catalog.csv"))?;
//! let template: JobTemplate = Arc::new(|row| {
//!     let mut job = Job::builder();
//!     if let Some(preset) = row.preset {
//!         job = job.preset(preset);
//!     }
//!     if let Some(lufs) = row.target_lufs {
//!         job = job.target_lufs(lufs);
//!     }
//!     Ok(job)
//! });
//! let report = run_batch(catalog, template, BatchOptions::new("out")).await?;
//! println!("{} done, {} failed", report.totals.done, report.totals.failed);
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

mod album;
pub mod catalog;
mod cpu;
mod destination;
mod error;
pub mod junit;
pub mod report;
mod runner;
mod s3;
mod site;
mod skip;

pub use catalog::{
    BATCH_REPORT, Catalog, CatalogError, CatalogTrack, TrackSettings, parse_catalog, read_catalog,
};
pub use cpu::process_cpu_seconds;
pub use error::{BatchError, ExitClass, error_message};
pub use report::{BatchReport, EXIT_TRACKS_FAILED, Totals, TrackEntry, TrackStatus};
pub use runner::{BatchEvent, BatchEventHandler, BatchOptions, JobTemplate, run_batch};
pub use site::{DonePackage, PackageSite};

/// A catalog from the objects under `s3://bucket/prefix/` whose names end
/// in an audio extension (id = the file name without it).
///
/// # Errors
///
/// A storage error (its kind gives the exit code), or a [`CatalogError`]
/// naming the key (two keys with one stem, a stem that is not a valid id,
/// no audio object at all).
pub async fn list_catalog(
    url: &str,
    storage: &audiopack::S3Options,
) -> Result<Catalog, BatchError> {
    let location = s3::split_url(url).ok_or_else(|| {
        audiopack::Error::from(audiopack::ConfigError::new(
            "--from",
            url,
            "s3://bucket/prefix/",
        ))
    })?;
    let client = s3::client(storage).await?;
    let keys = s3::list(&client, &location).await?;
    Ok(catalog::catalog_from_keys(
        url,
        &location.bucket,
        keys.keys().map(String::as_str),
    )?)
}
