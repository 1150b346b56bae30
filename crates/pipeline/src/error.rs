use std::path::PathBuf;

use audiopack_encode::EncodeError;
use audiopack_ingest::{ErrorKind, IngestError};
use thiserror::Error;

/// What the caller (and the CLI's exit code) can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobErrorKind {
    BadInput,
    Unsupported,
    Limit,
    /// Reading the input or writing the output failed.
    Io,
    Config,
    /// A bug: a panic or an encoder failure on valid input.
    Internal,
    /// The caller cancelled the job.
    Cancelled,
}

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum JobError {
    #[error(transparent)]
    Ingest(#[from] IngestError),
    #[error("{input}: {stage}: {source}")]
    Encode {
        input: PathBuf,
        stage: String,
        #[source]
        source: EncodeError,
    },
    #[error("{path}: {action}: {source}")]
    Output {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// The destination exists and may not be replaced (nothing touched).
    #[error("{path}: refusing to replace it: {reason}")]
    OutputExists { path: PathBuf, reason: String },
    /// Not an audiopack package (see [`crate::inspect_package`]).
    #[error("{path}: not an audiopack package: {reason}")]
    NotAPackage { path: PathBuf, reason: String },
    /// The job was cancelled ([`crate::Progress::cancelled`]); everything
    /// it wrote was removed.
    #[error("{input}: cancelled")]
    Cancelled { input: PathBuf },
    #[error("{input}: the input changed between the two passes ({first} frames, then {second})")]
    InputChanged {
        input: PathBuf,
        first: u64,
        second: u64,
    },
    #[error("invalid configuration: {0}")]
    Config(String),
    /// The [`crate::OutputSink`] refused a file (its own error says why).
    #[error("output stopped: {message}")]
    Sink { message: String },
    #[error("{input}: internal error (please report): {message}")]
    Internal { input: PathBuf, message: String },
}

impl JobError {
    pub fn kind(&self) -> JobErrorKind {
        match self {
            JobError::Ingest(e) => match e.kind() {
                ErrorKind::BadInput => JobErrorKind::BadInput,
                ErrorKind::Unsupported => JobErrorKind::Unsupported,
                ErrorKind::Limit => JobErrorKind::Limit,
                ErrorKind::Io => JobErrorKind::Io,
                ErrorKind::Config => JobErrorKind::Config,
            },
            JobError::Encode { .. } | JobError::Internal { .. } => JobErrorKind::Internal,
            JobError::Output { .. }
            | JobError::OutputExists { .. }
            | JobError::NotAPackage { .. }
            | JobError::InputChanged { .. }
            | JobError::Sink { .. } => JobErrorKind::Io,
            JobError::Config(_) => JobErrorKind::Config,
            JobError::Cancelled { .. } => JobErrorKind::Cancelled,
        }
    }
}
