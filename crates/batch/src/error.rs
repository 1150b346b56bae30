//! [`BatchError`]: what stops a batch as a whole (an invalid catalog, the
//! destination's preflight, writing the reports), and [`ExitClass`]: how a
//! failed track is classed, with the exit code `audiopack ingest` would
//! have given it.

use std::error::Error as _;
use std::path::PathBuf;

use audiopack::{Error, ErrorKind, StorageErrorKind};

use crate::catalog::CatalogError;

/// Why a batch could not run (or finish writing its reports). A failing
/// track is not one: it is in the report.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// The catalog is invalid (line and column named); nothing was encoded.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// An option, the listing of `--from`, or the destination's preflight
    /// failed (its kind tells which exit code).
    #[error(transparent)]
    Job(#[from] Error),
    /// Local I/O: reading the catalog, writing a report.
    #[error("{path}: {action}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What was being done.
        action: &'static str,
        #[source]
        /// The I/O error.
        source: std::io::Error,
    },
}

impl BatchError {
    /// The kind the command maps to its exit code (an invalid catalog is a
    /// usage error, 2).
    pub fn kind(&self) -> ErrorKind {
        match self {
            BatchError::Catalog(_) => ErrorKind::Config,
            BatchError::Job(e) => e.kind(),
            BatchError::Io { .. } => ErrorKind::Io,
        }
    }
}

/// A track's outcome class: a name and the exit code `audiopack ingest`
/// gives the same error (the one mapping of the command's exit codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitClass {
    /// `ok`, `bad-input`, `io`, `storage-unreachable`, `cancelled`, …
    pub name: &'static str,
    /// The exit code `audiopack ingest` gives the same outcome.
    pub code: u8,
}

impl ExitClass {
    /// Done or skipped.
    pub const OK: ExitClass = ExitClass {
        name: "ok",
        code: 0,
    };

    /// The class of an error kind. `signal` is the stop signal that
    /// cancelled the batch, if any (a cancelled track is 128 + it; 130
    /// without one).
    pub fn of(kind: ErrorKind, signal: Option<i32>) -> ExitClass {
        let (name, code) = match kind {
            ErrorKind::Cancelled => (
                "cancelled",
                u8::try_from(128 + signal.unwrap_or(2)).unwrap_or(130),
            ),
            ErrorKind::Config => ("usage", 2),
            ErrorKind::BadInput => ("bad-input", 3),
            ErrorKind::Unsupported => ("unsupported", 4),
            ErrorKind::Limit => ("limit", 5),
            ErrorKind::Io => ("io", 6),
            ErrorKind::Storage(StorageErrorKind::NoSuchKey) => ("no-such-key", 6),
            ErrorKind::Storage(StorageErrorKind::Credentials) => ("storage-credentials", 7),
            ErrorKind::Storage(StorageErrorKind::AccessDenied) => ("storage-access-denied", 8),
            ErrorKind::Storage(StorageErrorKind::NoBucket) => ("storage-no-bucket", 9),
            ErrorKind::Storage(StorageErrorKind::Unreachable) => ("storage-unreachable", 10),
            ErrorKind::Storage(StorageErrorKind::Conflict) => ("storage-conflict", 12),
            ErrorKind::Storage(_) => ("storage-failed", 11),
            ErrorKind::Keys => ("keys", 14),
            _ => ("internal", 1),
        };
        ExitClass { name, code }
    }
}

/// The message `audiopack ingest` prints for `e` (after `error: `): its
/// text, then deeper causes that add something (storage messages already
/// say what the SDK error meant).
pub fn error_message(e: &Error) -> String {
    let mut message = e.to_string();
    if matches!(e.kind(), ErrorKind::Storage(_)) {
        return message;
    }
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !message.contains(&text) {
            message.push_str(&format!(": {text}"));
        }
        source = s.source();
    }
    message
}
