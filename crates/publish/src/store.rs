//! Where objects go: [`Store`] is a local directory or an S3 bucket
//! prefix, behind the same four operations.

use std::path::{Path, PathBuf};

use crate::dir_store::DirStore;
use crate::error::PublishError;
use crate::object::ObjectMeta;
use crate::s3_store::S3Store;

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
    /// What [`Store::existing`] found, as an expectation.
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

/// One object to write.
#[derive(Debug, Clone, Copy)]
pub struct PutObject<'a> {
    /// Path relative to the destination root, `/`-separated.
    pub relative: &'a str,
    pub bytes: &'a [u8],
    pub sha256: &'a str,
    pub meta: &'a ObjectMeta,
    pub expected: Expected<'a>,
}

/// A destination: a local directory or an S3 prefix.
pub enum Store {
    Dir(DirStore),
    /// Boxed: the client and its options are large beside a path.
    S3(Box<S3Store>),
}

impl Store {
    /// Checks, before any work, that the destination exists and takes
    /// writes. Writes nothing visible. Errors of the S3 store are
    /// [`PublishError::Store`]; those of a directory are local I/O
    /// ([`PublishError::Local`], [`PublishError::Destination`]).
    pub async fn preflight(&self) -> Result<(), PublishError> {
        match self {
            Store::Dir(d) => d.preflight().await,
            Store::S3(s) => Ok(s.preflight(true).await?),
        }
    }

    /// Like [`Store::preflight`] without the write probe (`--dry-run`).
    pub async fn preflight_read_only(&self) -> Result<(), PublishError> {
        match self {
            Store::Dir(d) => d.preflight_read_only().await,
            Store::S3(s) => Ok(s.preflight(false).await?),
        }
    }

    /// What is stored under `relative`, if anything.
    pub async fn existing(&self, relative: &str) -> Result<Option<Existing>, PublishError> {
        match self {
            Store::Dir(d) => d.existing(relative).await,
            Store::S3(s) => Ok(s.existing(relative).await?),
        }
    }

    /// Writes one object, whole or not at all (temp file + rename;
    /// multipart aborted on failure), retrying transient failures. When
    /// the object is no longer what `expected` says, fails with
    /// [`StoreErrorKind::Conflict`](crate::StoreErrorKind::Conflict)
    /// unless it already holds exactly these bytes (our own earlier
    /// attempt whose answer was lost).
    pub async fn put(&self, object: PutObject<'_>) -> Result<(), PublishError> {
        match self {
            Store::Dir(d) => d.put(object).await,
            Store::S3(s) => Ok(s.put(object).await?),
        }
    }

    /// Once a package is complete: a directory drops the files of the
    /// earlier package it replaced that this one does not have (`kept`:
    /// every file published, sorted). Objects under an S3 prefix are left
    /// (see the crate documentation).
    pub async fn remove_previous(&self, kept: &[String]) -> Result<(), PublishError> {
        match self {
            Store::Dir(d) => d.remove_previous(kept).await,
            Store::S3(_) => Ok(()),
        }
    }

    /// How an object is named in messages and the report.
    pub fn describe(&self, relative: &str) -> String {
        match self {
            Store::Dir(d) => d.path_of(relative).display().to_string(),
            Store::S3(s) => s.url_of(relative),
        }
    }

    /// Extra attempts made so far (transient failures retried).
    pub fn retries(&self) -> u64 {
        match self {
            Store::Dir(_) => 0,
            Store::S3(s) => s.retries(),
        }
    }
}

/// `relative` as a path below `root`, refusing anything that would leave it.
pub(crate) fn below(root: &Path, relative: &str) -> Option<PathBuf> {
    let mut path = root.to_path_buf();
    for part in relative.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return None;
        }
        path.push(part);
    }
    Some(path)
}
