//! One file of a package to the store: hashed in reads on a blocking
//! thread, looked up (HEAD), skipped when the store holds the same bytes,
//! else written with its body streamed from the file.

use std::path::Path;
use std::sync::Mutex;

use audiopack_pipeline::JobError;
use tokio_util::sync::CancellationToken;

use crate::error::PublishError;
use crate::object::{ObjectPolicy, sha256_file};
use crate::object_store::{Body, Expected, ObjectStore, PutObject};
use crate::publish_report::{Action, ObjectReport};

/// How one file is published.
pub(crate) struct FileUpload<'a> {
    pub store: &'a dyn ObjectStore,
    pub policy: &'a ObjectPolicy,
    pub dry_run: bool,
    pub cancel: &'a CancellationToken,
    /// Every write started, noted before it goes out: a write cancelled
    /// in flight may still have landed ([`crate::Publisher::abort`] looks).
    pub attempts: &'a Mutex<Vec<Attempt>>,
}

/// A write that was started: the key, and the bytes it was to hold.
#[derive(Debug, Clone)]
pub(crate) struct Attempt {
    pub relative: String,
    pub sha256: String,
    pub len: u64,
}

impl FileUpload<'_> {
    /// Checks the file at `path` against the store and writes it under
    /// `relative` unless unchanged. `size`: what the package listed (the
    /// file must still have it).
    pub(crate) async fn run(
        &self,
        path: &Path,
        relative: &str,
        size: Option<u64>,
    ) -> Result<ObjectReport, PublishError> {
        let cancelled = || PublishError::Cancelled {
            target: self.store.describe(relative),
        };
        let hashed = path.to_path_buf();
        let head_bytes = ObjectPolicy::head_bytes(relative);
        let cancel = self.cancel.clone();
        // Hash big files off the async workers, never holding one whole.
        let digest =
            tokio::task::spawn_blocking(move || sha256_file(&hashed, head_bytes, Some(&cancel)))
                .await
                .map_err(PublishError::task("hashing"))?
                .map_err(PublishError::local(path, "reading"))?
                .ok_or_else(cancelled)?;
        if let Some(size) = size
            && size != digest.len
        {
            return Err(PublishError::Job(JobError::NotAPackage {
                path: path.to_path_buf(),
                reason: format!(
                    "{} bytes, {size} when the package was checked: it changed while being published",
                    digest.len
                ),
            }));
        }
        let (class, meta) = self.policy.classify(relative, &digest.head);
        let stored = tokio::select! {
            biased;
            () = self.cancel.cancelled() => return Err(cancelled()),
            stored = self.store.head(relative) => stored?,
        };
        let unchanged = stored.as_ref().is_some_and(|e| {
            e.size == digest.len && e.sha256.as_deref() == Some(digest.sha256.as_str())
        });
        let action = match (unchanged, self.dry_run) {
            (true, false) => Action::Skipped,
            (true, true) => Action::Unchanged,
            (false, true) => Action::WouldWrite,
            (false, false) => {
                let body = Body::File {
                    path: path.to_path_buf(),
                    len: digest.len,
                };
                if let Ok(mut attempts) = self.attempts.lock() {
                    attempts.push(Attempt {
                        relative: relative.to_string(),
                        sha256: digest.sha256.clone(),
                        len: digest.len,
                    });
                }
                self.store
                    .put(PutObject {
                        relative,
                        body: &body,
                        sha256: &digest.sha256,
                        meta: &meta,
                        expected: Expected::from_existing(stored.as_ref()),
                        cancel: Some(self.cancel),
                    })
                    .await?;
                Action::Written
            }
        };
        Ok(ObjectReport {
            path: relative.to_string(),
            location: self.store.describe(relative),
            class,
            bytes: digest.len,
            sha256: digest.sha256,
            action,
        })
    }
}
