//! Where objects go: the [`ObjectStore`] trait (a local directory, an S3
//! bucket prefix, or whatever an embedder implements), and what it is
//! handed: a [`PutObject`] whose [`Body`] is bytes in memory or a range of
//! a file streamed from disk.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use tokio_util::sync::CancellationToken;

use crate::error::PublishError;
use crate::object::ObjectMeta;

/// A destination for a package's objects, addressed by `/`-separated
/// paths relative to its root (an S3 prefix, a directory).
///
/// [`DirStore`](crate::DirStore) and [`S3Store`](crate::S3Store) implement
/// it; an embedder may implement it for another backend and hand it to
/// [`Publisher`](crate::Publisher) or
/// [`publish_package`](crate::publish_package) as `Arc<dyn ObjectStore>`.
///
/// The contract the publisher relies on:
/// * [`put`](Self::put) leaves the object whole or not at all, and honours
///   [`PutObject::expected`] when the backend can (a conditional write);
///   when the object changed in between and does not hold exactly these
///   bytes, it fails with
///   [`StoreErrorKind::Conflict`](crate::StoreErrorKind::Conflict).
/// * [`put`](Self::put) returns soon after [`PutObject::cancel`] fires,
///   with [`PublishError::Cancelled`], having taken back anything partial
///   it started (an S3 multipart upload is aborted, and that abort awaited):
///   the publisher waits for it.
/// * [`head`](Self::head) reports the SHA-256 a previous `put` stored
///   ([`Existing::sha256`]): that is how unchanged objects are skipped.
/// * Errors are [`PublishError`]s; a backend's own failures are best
///   [`PublishError::Store`] built with [`StoreError::new`](crate::StoreError::new)
///   (its kind decides the caller's reaction, its source keeps the cause).
#[async_trait::async_trait]
pub trait ObjectStore: Send + Sync + 'static {
    /// How an object is named in messages and reports (`s3://bucket/key`,
    /// a path); `describe("")` names the destination itself.
    fn describe(&self, relative: &str) -> String;

    /// Checks the destination before any work: it exists and (with
    /// `write`) takes writes; `write: false` is a read-only check (a dry
    /// run). Writes nothing visible.
    async fn preflight(&self, write: bool) -> Result<(), PublishError>;

    /// What is stored under `relative` (a HEAD), if anything.
    async fn head(&self, relative: &str) -> Result<Option<Existing>, PublishError>;

    /// Writes one object, whole or not at all, streaming its body, retrying
    /// what may succeed on another attempt. See the trait documentation
    /// for conditions and cancellation.
    async fn put(&self, object: PutObject<'_>) -> Result<(), PublishError>;

    /// Removes one object (used to take back what a cancelled job wrote).
    /// Removing an object that is not there succeeds.
    async fn delete(&self, relative: &str) -> Result<(), PublishError>;

    /// Called once a package is complete, with every file published
    /// (`kept`, sorted, `report.json` aside). A directory drops the files
    /// of the earlier package it replaced that this one does not have; the
    /// default does nothing (objects under an S3 prefix are left, see the
    /// crate documentation).
    async fn remove_previous(&self, kept: &[String]) -> Result<(), PublishError> {
        let _ = kept;
        Ok(())
    }

    /// Extra attempts made so far (transient failures retried). Default 0.
    fn retries(&self) -> u64 {
        0
    }

    /// The local directory, when this store is one: a package is never
    /// published into itself (nor a destination inside the package).
    /// Default `None`.
    fn local_root(&self) -> Option<&Path> {
        None
    }
}

/// What is already stored under a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Existing {
    pub size: u64,
    /// Hex SHA-256 from our metadata (S3) or of the file (directory);
    /// `None` for an object written by something else.
    pub sha256: Option<String>,
    /// The store's version tag (S3 ETag, quotes included); `None` for a
    /// directory.
    pub etag: Option<String>,
}

/// What a writer saw under a key before writing it. The S3 store sends it
/// as a conditional write (`If-None-Match: *` / `If-Match: ETag`), so an
/// object another writer changed in between is noticed instead of
/// overwritten; a directory has one writer and ignores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected<'a> {
    /// Nothing.
    Absent,
    /// The object with this ETag.
    ETag(&'a str),
    /// Anything (no check).
    Anything,
}

impl<'a> Expected<'a> {
    /// What [`ObjectStore::head`] found, as an expectation.
    pub fn from_existing(existing: Option<&'a Existing>) -> Expected<'a> {
        match existing {
            None => Expected::Absent,
            Some(Existing {
                etag: Some(etag), ..
            }) => Expected::ETag(etag),
            Some(_) => Expected::Anything,
        }
    }
}

/// The bytes of an object: in memory (cheap to clone), or the first `len`
/// bytes of a file, which stores stream from disk and never read whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Bytes(Bytes),
    /// A file, `len` bytes long (its size when it was hashed). A store
    /// refuses to write it when the file no longer has that size.
    File {
        path: PathBuf,
        len: u64,
    },
}

impl Body {
    /// The object's size in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Body::Bytes(bytes) => bytes.len() as u64,
            Body::File { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks, before a write, that a file body still has its size (the
    /// publisher hashed it at that size); bytes are always fine.
    pub(crate) async fn check(&self) -> Result<(), PublishError> {
        let Body::File { path, len } = self else {
            return Ok(());
        };
        let meta = tokio::fs::metadata(path)
            .await
            .map_err(PublishError::local(path, "reading"))?;
        if meta.len() != *len {
            return Err(changed_while_published(path, meta.len(), *len));
        }
        Ok(())
    }
}

/// The error for a file that no longer has the size it had when hashed.
pub(crate) fn changed_while_published(path: &Path, now: u64, was: u64) -> PublishError {
    PublishError::Local {
        path: path.to_path_buf(),
        action: "reading",
        source: std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{now} bytes, {was} when it was hashed: it changed while being published"),
        ),
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Body {
        Body::Bytes(bytes)
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Body {
        Body::Bytes(Bytes::from(bytes))
    }
}

/// One object to write.
#[derive(Debug, Clone, Copy)]
pub struct PutObject<'a> {
    /// Path relative to the destination root, `/`-separated.
    pub relative: &'a str,
    pub body: &'a Body,
    /// Hex SHA-256 of the body (stored with the object, compared on reruns).
    pub sha256: &'a str,
    pub meta: &'a ObjectMeta,
    pub expected: Expected<'a>,
    /// When it fires, the write stops: see [`ObjectStore`].
    pub cancel: Option<&'a CancellationToken>,
}

impl PutObject<'_> {
    /// Whether the write was asked to stop.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.is_some_and(CancellationToken::is_cancelled)
    }
}

/// Resolves when `cancel` fires; never without one.
pub(crate) async fn cancelled(cancel: Option<&CancellationToken>) {
    match cancel {
        Some(token) => token.cancelled().await,
        None => std::future::pending().await,
    }
}
