//! [`PackageSite`]: the batch's destination and skip rule for one track at
//! a time, for runners that are not a batch (a queue worker gets one
//! catalog row per message and must tell "already done" from "to do"
//! exactly as a batch rerun does).

use audiopack::{Error, Output, S3Options};

use crate::destination::{Destination, S3Side};
use crate::error::BatchError;
use crate::skip::{self, Decision};

/// A directory or `s3://bucket/prefix/` holding packages at `<id>/`, with
/// its S3 client (one per site, shared by every check and output).
pub struct PackageSite {
    destination: Destination,
    s3: S3Side,
}

/// What an existing, current package says about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct DonePackage {
    /// SHA-256 of the input it was made from.
    pub input_sha256: Option<String>,
    /// Length of the input in seconds.
    pub audio_seconds: f64,
    /// Integrated loudness of the input and of the output, LUFS.
    pub input_integrated_lufs: Option<f64>,
    /// Integrated loudness of the output, LUFS.
    pub output_integrated_lufs: Option<f64>,
    /// The gain applied, dB.
    pub gain_db: f64,
}

impl PackageSite {
    /// Opens `out` (contacts nothing but the AWS configuration chain when
    /// an S3 client is needed: for an `s3://` site, or when `s3_inputs`).
    ///
    /// # Errors
    ///
    /// An invalid `s3://` URL, or no usable S3 configuration.
    pub async fn open(
        out: &str,
        storage: &S3Options,
        s3_inputs: bool,
    ) -> Result<PackageSite, BatchError> {
        let client = if s3_inputs || out.starts_with("s3://") {
            Some(crate::s3::client(storage).await?)
        } else {
            None
        };
        let s3 = S3Side {
            client,
            options: storage.clone(),
        };
        let destination = Destination::open(out, &s3)?;
        Ok(PackageSite { destination, s3 })
    }

    /// The output of package `id`.
    ///
    /// # Errors
    ///
    /// An S3 site whose store cannot be made.
    pub fn output(&self, id: &str) -> Result<Output, Error> {
        self.destination.output(id, &self.s3)
    }

    /// Where package `id` is (a path or an `s3://` URL).
    pub fn label(&self, id: &str) -> String {
        self.destination.track_label(id)
    }

    /// The batch's skip rule: `Ok` when `<id>/` already holds a complete
    /// package made from the same input bytes with settings digest
    /// `digest`; otherwise `Err` with the reason it must be made.
    /// Reads the package's report and listing and hashes the input; never
    /// decodes.
    pub async fn check(&self, id: &str, input: &str, digest: &str) -> Result<DonePackage, String> {
        match skip::check(&self.destination, &self.s3, id, input, digest, None).await {
            Decision::Skip(summary) => Ok(DonePackage {
                input_sha256: summary.input.sha256.clone(),
                audio_seconds: summary.input.duration_seconds,
                input_integrated_lufs: summary.loudness.input.integrated_lufs,
                output_integrated_lufs: summary.loudness.output.integrated_lufs,
                gain_db: summary.loudness.gain.gain_db,
            }),
            Decision::Run(reason) => Err(reason),
        }
    }
}
