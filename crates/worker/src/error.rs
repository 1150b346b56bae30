//! [`WorkerError`]: what stops `submit`, `worker` or `status` as a whole.
//! A failing job is not one: it is recorded in the job's state.

use audiopack::{ErrorKind, StorageErrorKind};
use audiopack_batch::{BatchError, ExitClass};

/// Why a command stopped.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The NATS server could not be reached, or refused an operation.
    #[error("NATS {server}: {action}: {message}")]
    Nats {
        /// The server, credentials removed.
        server: String,
        /// What was being done.
        action: &'static str,
        /// What went wrong.
        message: String,
        /// No connection at all (exit 10), rather than a refused
        /// operation (exit 11).
        unreachable: bool,
    },
    /// An invalid catalog, an option, a storage preflight.
    #[error(transparent)]
    Batch(#[from] BatchError),
    /// A job of the catalog could not be made from its settings (its row
    /// named).
    #[error("{source_name}:{line}: {error}")]
    Row {
        /// The catalog.
        source_name: String,
        /// The row's line.
        line: usize,
        /// What is wrong.
        error: audiopack::Error,
    },
    /// A worker stopped pulling because an error would fail every job the
    /// same way (credentials, access denied, a missing bucket, a full
    /// disk); the jobs it held went back to the queue.
    #[error("worker stopped: {message}")]
    Systemic {
        /// The exit class of the error.
        class: ExitClass,
        /// The error, as `ingest` prints it.
        message: String,
    },
}

impl WorkerError {
    /// The command's exit code and class name.
    pub fn exit_class(&self) -> ExitClass {
        match self {
            WorkerError::Nats {
                unreachable: true, ..
            } => ExitClass::of(ErrorKind::Storage(StorageErrorKind::Unreachable), None),
            WorkerError::Nats { .. } => {
                ExitClass::of(ErrorKind::Storage(StorageErrorKind::Failed), None)
            }
            WorkerError::Batch(e) => ExitClass::of(e.kind(), None),
            WorkerError::Row { .. } => ExitClass::of(ErrorKind::Config, None),
            WorkerError::Systemic { class, .. } => *class,
        }
    }
}
