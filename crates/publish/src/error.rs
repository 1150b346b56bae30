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

/// A boxed error kept as the cause of another.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A storage operation that failed for good (after any retries).
///
/// Its `Display` is `target: message`, one line; the underlying error (the
/// SDK's, for the S3 store) is its [`source`](std::error::Error::source).
#[derive(Debug, Error)]
#[error("{target}: {message}")]
pub struct StoreError {
    pub kind: StoreErrorKind,
    /// The object, bucket or directory concerned (`s3://bucket/key`, a path).
    pub target: String,
    pub message: String,
    /// What caused it, when there is more to it than the message.
    #[source]
    pub source: Option<BoxError>,
}

impl StoreError {
    /// A failure of `target` (how the object or bucket is named in
    /// messages), without a source.
    pub fn new(
        kind: StoreErrorKind,
        target: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        StoreError {
            kind,
            target: target.into(),
            message: message.into(),
            source: None,
        }
    }

    /// The same failure, caused by `source`.
    pub fn with_source(mut self, source: impl Into<BoxError>) -> Self {
        self.source = Some(source.into());
        self
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
    /// The work was cancelled ([`PublishOptions::cancel`](crate::PublishOptions::cancel)).
    Cancelled,
    /// A bug: a task panicked or failed to run.
    Internal,
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
    /// Stopped on request before `target` was complete.
    #[error("{target}: cancelled")]
    Cancelled { target: String },
    /// A task panicked or could not run: a bug, not the input's or the
    /// destination's fault.
    #[error("internal error: {0}")]
    Internal(String),
}

impl PublishError {
    pub fn kind(&self) -> PublishErrorKind {
        match self {
            PublishError::Job(e) => PublishErrorKind::Job(e.kind()),
            PublishError::Store(e) => PublishErrorKind::Store(e.kind),
            PublishError::Local { .. } | PublishError::Destination { .. } => PublishErrorKind::Io,
            PublishError::Config(_) => PublishErrorKind::Config,
            PublishError::Cancelled { .. } => PublishErrorKind::Cancelled,
            PublishError::Internal(_) => PublishErrorKind::Internal,
        }
    }

    /// A task that panicked or was aborted while doing `what`.
    pub(crate) fn task(what: &str) -> impl FnOnce(tokio::task::JoinError) -> PublishError {
        move |e| PublishError::Internal(format!("{what}: {e}"))
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
