//! One error type for storage and publishing, with kinds a caller (and the
//! CLI's exit code) can act on.

use std::path::PathBuf;

use audiopack_pipeline::JobError;
use thiserror::Error;

/// What went wrong with the storage, in terms a caller can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreErrorKind {
    /// The credentials were rejected (unknown key, bad signature, expired
    /// token) or none could be found.
    Credentials,
    /// Valid credentials without the permission needed.
    AccessDenied,
    /// The bucket does not exist.
    NoSuchBucket,
    /// An input object (`s3://…` input) does not exist.
    NoSuchKey,
    /// The endpoint could not be reached (refused, DNS, timeouts).
    Unreachable,
    /// Another writer changed an object between our look and our write
    /// (a conditional write refused, and the object is not ours).
    Conflict,
    /// Anything else: a failure that persisted through every retry, or a
    /// request the server refused for another reason.
    Failed,
}

/// A storage operation that failed for good (after any retries).
#[derive(Debug, Error)]
#[error("{target}: {message}")]
pub struct StoreError {
    pub kind: StoreErrorKind,
    /// The object, bucket or directory concerned (`s3://bucket/key`, a path).
    pub target: String,
    pub message: String,
}

impl StoreError {
    pub(crate) fn new(
        kind: StoreErrorKind,
        target: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        StoreError {
            kind,
            target: target.into(),
            message: message.into(),
        }
    }
}

/// What the caller (and the CLI's exit code) can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishErrorKind {
    /// The job failed: the pipeline's own kind says how.
    Job(audiopack_pipeline::JobErrorKind),
    Store(StoreErrorKind),
    /// Reading the package or writing the local spool failed.
    Io,
    Config,
}

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PublishError {
    #[error(transparent)]
    Job(#[from] JobError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{path}: {action}: {source}")]
    Local {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// A local destination that may not receive the package (a file, a
    /// link, a directory holding something else); nothing was written.
    #[error("{path}: refusing to publish here: {reason}")]
    Destination { path: PathBuf, reason: String },
    #[error("invalid destination or option: {0}")]
    Config(String),
}

impl PublishError {
    pub fn kind(&self) -> PublishErrorKind {
        match self {
            PublishError::Job(e) => PublishErrorKind::Job(e.kind()),
            PublishError::Store(e) => PublishErrorKind::Store(e.kind),
            PublishError::Local { .. } | PublishError::Destination { .. } => PublishErrorKind::Io,
            PublishError::Config(_) => PublishErrorKind::Config,
        }
    }

    /// Maps an I/O error on `path` while doing `action`.
    pub fn local(
        path: impl Into<PathBuf>,
        action: &'static str,
    ) -> impl FnOnce(std::io::Error) -> PublishError {
        let path = path.into();
        move |source| PublishError::Local {
            path,
            action,
            source,
        }
    }
}
