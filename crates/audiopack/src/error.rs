//! One error type for everything a job can do, with a kind a caller (and
//! the CLI's exit code) acts on, the file / object / rendition in the
//! message, and the underlying cause kept as [`std::error::Error::source`].

use std::fmt;

use audiopack_pipeline::{JobError, JobErrorKind};
use audiopack_publish::{PublishError, PublishErrorKind, StoreErrorKind};

/// What went wrong, in terms a caller can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input is broken or lies about itself (corrupt, truncated, empty,
    /// a header that does not match the data): fix the upload.
    BadInput,
    /// A valid input audiopack does not handle (format, codec).
    Unsupported,
    /// A valid input beyond the configured limits (channels, rate,
    /// duration, size).
    Limit,
    /// Local I/O: reading the input, writing the output or the spool.
    Io,
    /// The object store failed; the sub-kind says how.
    Storage(StorageErrorKind),
    /// The job's settings are invalid ([`Error::config`] says which).
    Config,
    /// Encryption keys could not be had: an unreadable or invalid key file
    /// or CPIX document, a key server that refused, failed or answered
    /// something unusable.
    Keys,
    /// The job was cancelled; everything it wrote was removed.
    Cancelled,
    /// A bug: a panic, a failed task, an encoder failing on valid input.
    Internal,
}

/// How the object store failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StorageErrorKind {
    /// Credentials rejected (unknown key, bad signature, expired) or none.
    Credentials,
    /// Valid credentials without the permission needed.
    AccessDenied,
    /// The bucket does not exist.
    NoBucket,
    /// An input object does not exist.
    NoSuchKey,
    /// The endpoint could not be reached (refused, DNS, timeouts).
    Unreachable,
    /// Another writer changed an object between our look and our write.
    Conflict,
    /// Anything else that persisted through every retry.
    Failed,
}

/// An invalid setting: which field, the value given, what was expected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid {field} {value:?}: {expected}")]
pub struct ConfigError {
    /// The builder setting (`target_lufs`, `segment_duration`, `output`, …).
    pub field: &'static str,
    /// The value given, as text.
    pub value: String,
    /// What would have been accepted (a range, a form).
    pub expected: String,
}

impl ConfigError {
    /// `field` was given `value`; `expected` says what would do.
    pub fn new(
        field: &'static str,
        value: impl fmt::Display,
        expected: impl Into<String>,
    ) -> ConfigError {
        ConfigError {
            field,
            value: value.to_string(),
            expected: expected.into(),
        }
    }
}

/// The error of every audiopack operation.
pub struct Error {
    kind: ErrorKind,
    inner: Box<dyn std::error::Error + Send + Sync + 'static>,
}

impl Error {
    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The invalid setting, for [`ErrorKind::Config`] errors from the
    /// builder.
    pub fn config(&self) -> Option<&ConfigError> {
        self.inner.downcast_ref::<ConfigError>()
    }

    /// For [`ErrorKind::Keys`]: `true` when the key source could not be
    /// read or reached (a key server down, failing with 5xx or too slow,
    /// or with a certificate not trusted here; a key file that cannot be
    /// read), which may pass; `false` for keys
    /// that are invalid or a request the key server refused (4xx), which
    /// will not. `false` for every other kind.
    pub fn keys_unavailable(&self) -> bool {
        self.kind == ErrorKind::Keys
            && matches!(
                self.inner.downcast_ref::<audiopack_drm::DrmError>(),
                Some(audiopack_drm::DrmError::Unavailable { .. })
            )
    }

    /// `true` for [`ErrorKind::Cancelled`].
    pub fn is_cancelled(&self) -> bool {
        self.kind == ErrorKind::Cancelled
    }

    pub(crate) fn new(
        kind: ErrorKind,
        inner: impl std::error::Error + Send + Sync + 'static,
    ) -> Error {
        Error {
            kind,
            inner: Box::new(inner),
        }
    }

    pub(crate) fn cancelled(what: &str) -> Error {
        Error {
            kind: ErrorKind::Cancelled,
            inner: format!("{what}: cancelled").into(),
        }
    }

    /// An [`ErrorKind::Internal`] error: a bug (exit code 1 in the CLI).
    pub fn internal(message: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::Internal,
            inner: format!("internal error (please report): {}", message.into()).into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("message", &self.inner.to_string())
            .finish()
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        // The inner error is the message itself; its cause is ours.
        self.inner.source()
    }
}

impl From<ConfigError> for Error {
    fn from(e: ConfigError) -> Error {
        Error {
            kind: ErrorKind::Config,
            inner: Box::new(e),
        }
    }
}

fn job_kind(kind: JobErrorKind) -> ErrorKind {
    match kind {
        JobErrorKind::BadInput => ErrorKind::BadInput,
        JobErrorKind::Unsupported => ErrorKind::Unsupported,
        JobErrorKind::Limit => ErrorKind::Limit,
        JobErrorKind::Io => ErrorKind::Io,
        JobErrorKind::Config => ErrorKind::Config,
        JobErrorKind::Internal => ErrorKind::Internal,
        JobErrorKind::Cancelled => ErrorKind::Cancelled,
    }
}

fn storage_kind(kind: StoreErrorKind) -> ErrorKind {
    ErrorKind::Storage(match kind {
        StoreErrorKind::Credentials => StorageErrorKind::Credentials,
        StoreErrorKind::AccessDenied => StorageErrorKind::AccessDenied,
        StoreErrorKind::NoSuchBucket => StorageErrorKind::NoBucket,
        StoreErrorKind::NoSuchKey => StorageErrorKind::NoSuchKey,
        StoreErrorKind::Unreachable => StorageErrorKind::Unreachable,
        StoreErrorKind::Conflict => StorageErrorKind::Conflict,
        StoreErrorKind::Failed => StorageErrorKind::Failed,
    })
}

impl From<JobError> for Error {
    fn from(e: JobError) -> Error {
        Error {
            kind: job_kind(e.kind()),
            inner: Box::new(e),
        }
    }
}

impl From<PublishError> for Error {
    fn from(e: PublishError) -> Error {
        let kind = match e.kind() {
            PublishErrorKind::Job(k) => job_kind(k),
            PublishErrorKind::Store(k) => storage_kind(k),
            PublishErrorKind::Io => ErrorKind::Io,
            PublishErrorKind::Config => ErrorKind::Config,
            PublishErrorKind::Internal => ErrorKind::Internal,
            PublishErrorKind::Cancelled => ErrorKind::Cancelled,
        };
        Error {
            kind,
            inner: Box::new(e),
        }
    }
}
