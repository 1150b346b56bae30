//! # audiopack-publish
//!
//! Storage for audiopack packages: a local directory or S3-compatible
//! object storage (AWS S3, MinIO, Ceph, R2, …), written so that a CDN
//! pulling from the origin never sees a manifest pointing at a missing
//! object, whatever fails (network, server, or the process itself).
//!
//! ## Design
//!
//! ```text
//!  ingest_to_store (blocking; encode on the calling thread)
//!    Store::preflight  ── HeadBucket + multipart create/abort: fail fast, write nothing
//!    pipeline::run_ingest_into(spool dir, sink) ─ file_ready(rel) ─► bounded mpsc
//!        └─► Publisher::submit ─ Semaphore(concurrency) ─► HEAD ─► skip | PUT (retried)
//!    Publisher::finish: media left ─► media playlists ─► master/MPD ─► report.json
//! ```
//!
//! * **Order**: phases are barriers ([`ObjectClass`]); a phase starts when
//!   every object of the previous one is stored.
//! * **Overlap and back-pressure**: segments are uploaded while the encode
//!   runs; when uploads lag, the queue fills and the encoder threads wait.
//!   Each media file leaves the spool once stored
//!   ([`Publisher::discarding_stored_media`]), so local disk use is bounded
//!   by the queue and the uploads in flight, not the package size.
//! * **Idempotent**: each object carries its SHA-256 in user metadata
//!   (`x-amz-meta-sha256`) and is skipped when the stored one matches; an
//!   identical rerun writes nothing (not even `report.json`), a rerun after
//!   `kill -9` completes the package.
//! * **Retries** ([`RetryPolicy`]): 5xx, SlowDown, timeouts, dropped
//!   connections, with exponential backoff and jitter. Bad credentials,
//!   access denied and a missing bucket are not retried.
//! * **Conditional writes** ([`Expected`]): a write carries what the HEAD
//!   before it saw (`If-None-Match: *` / `If-Match: ETag`). A refusal is
//!   settled by the object: our bytes mean our own earlier attempt landed
//!   and its answer was lost (success); other bytes are another writer's
//!   ([`StoreErrorKind::Conflict`], never overwritten). A retried
//!   `CompleteMultipartUpload` refused for any reason is settled the same
//!   way.
//! * **Atomic objects**: a PUT is whole or absent on S3; multipart uploads
//!   are aborted on failure; the directory store writes a temporary file
//!   (`create_new`) and renames it, never through a link.
//! * **Only packages** ([`publish_package`]): the directory is checked by
//!   [`audiopack_pipeline::inspect_package`] before any request (an
//!   audiopack report of a known format listing every file with its size,
//!   no links, nothing unlisted unless [`PublishOptions::include_extra`]),
//!   and only what it lists is published. A local destination follows the
//!   rule of `ingest --out` (absent, empty or an earlier package).
//! * **Timeouts** ([`S3Options`]): a short attempt timeout for requests
//!   without a body (an endpoint that never answers fails the preflight in
//!   seconds), and one that grows with the body for uploads (a slow link
//!   that keeps moving is never cut short); downloads may pause only so
//!   long.
//! * **Inputs** ([`fetch_input_checked`]): a ranged GET of the head first;
//!   an object over the maximum size, or whose header is over the ingest
//!   limits, is refused before the download.
//!
//! What is not done: objects of an earlier, different package under the
//! same prefix that the new one no longer has are left in place (nothing
//! references them); a republish of *different* content over the same
//! prefix replaces segments in place while the old manifests are still
//! live (publish new versions under new prefixes).

mod dir_store;
mod error;
mod ingest;
mod location;
mod object;
mod package;
mod publisher;
mod retry;
mod s3_errors;
mod s3_fetch;
mod s3_options;
mod s3_store;
mod store;

pub use dir_store::DirStore;
pub use error::{PublishError, PublishErrorKind, StoreError, StoreErrorKind};
pub use ingest::{fetch_input, fetch_input_checked, ingest_to_store, publish_package};
pub use location::{Location, S3Url};
pub use object::{
    CACHE_IMMUTABLE, CACHE_SHORT, ObjectClass, ObjectMeta, SHA256_METADATA, classify, sha256_hex,
};
pub use publisher::{
    Action, ObjectReport, PublishOptions, PublishReport, Publisher, REPORT, package_files,
};
pub use retry::RetryPolicy;
pub use s3_fetch::INPUT_HEAD_BYTES;
pub use s3_options::{DEFAULT_MAX_INPUT_BYTES, MIN_PART_SIZE, S3Credentials, S3Options};
pub use s3_store::S3Store;
pub use store::{Existing, Expected, PutObject, Store};
