use std::path::PathBuf;

use thiserror::Error;

/// What a caller can do about an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The file is broken or lies about itself: fix the upload.
    BadInput,
    /// A valid file audiopack does not handle (format, codec, layout).
    Unsupported,
    /// A valid file beyond the configured limits (channels, rate, duration).
    Limit,
    /// Reading failed (missing file, permissions, device).
    Io,
    /// The configuration itself is invalid.
    Config,
}

/// Every ingest failure names the file and the problem.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum IngestError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a regular file: {what}")]
    NotAFile { path: PathBuf, what: &'static str },
    #[error("{path}: the file is empty")]
    Empty { path: PathBuf },
    #[error("{path}: not a recognised audio format (WAV, AIFF, FLAC, MP3 or Ogg Vorbis): {detail}")]
    UnknownFormat { path: PathBuf, detail: String },
    #[error("{path}: unsupported: {detail}")]
    Unsupported { path: PathBuf, detail: String },
    #[error("{path}: malformed header or stream: {detail}")]
    Malformed { path: PathBuf, detail: String },
    #[error(
        "{path}: truncated: the header promises {expected} frames but the data ends after {decoded}"
    )]
    Truncated {
        path: PathBuf,
        expected: u64,
        decoded: u64,
    },
    #[error("{path}: corrupt data at {at_seconds:.3} s (frame {at_frame}): {detail}")]
    Corrupt {
        path: PathBuf,
        at_frame: u64,
        at_seconds: f64,
        detail: String,
    },
    #[error("{path}: over the limit: {detail}")]
    Limit { path: PathBuf, detail: String },
    #[error("invalid ingest configuration: {0}")]
    Config(String),
}

impl IngestError {
    /// The same error naming `label` instead of the path it was raised on
    /// (a local copy named after where it came from).
    pub fn relabeled(self, label: &std::path::Path) -> IngestError {
        let mut e = self;
        match &mut e {
            IngestError::Io { path, .. }
            | IngestError::NotAFile { path, .. }
            | IngestError::Empty { path }
            | IngestError::UnknownFormat { path, .. }
            | IngestError::Unsupported { path, .. }
            | IngestError::Malformed { path, .. }
            | IngestError::Truncated { path, .. }
            | IngestError::Corrupt { path, .. }
            | IngestError::Limit { path, .. } => *path = label.to_path_buf(),
            IngestError::Config(_) => {}
        }
        e
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            IngestError::Io { .. } => ErrorKind::Io,
            IngestError::Empty { .. }
            | IngestError::NotAFile { .. }
            | IngestError::Malformed { .. }
            | IngestError::Truncated { .. }
            | IngestError::Corrupt { .. } => ErrorKind::BadInput,
            IngestError::UnknownFormat { .. } | IngestError::Unsupported { .. } => {
                ErrorKind::Unsupported
            }
            IngestError::Limit { .. } => ErrorKind::Limit,
            IngestError::Config(_) => ErrorKind::Config,
        }
    }
}
