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
//!  caller (the facade, the CLI, an embedder)
//!    ObjectStore::preflight ── DirStore: the destination rule; S3Store: HeadBucket
//!    │                         + multipart create/abort: fail fast, write nothing
//!    Publisher::new(Arc<dyn ObjectStore>, spool or package dir, &PublishOptions)
//!    ├─ submit(rel) ─ Semaphore(concurrency) ─► task: hash the file in 1 MiB reads
//!    │     (blocking pool) ─► head ─► skip | put(PutObject { body: Body::File, cancel })
//!    │     ─► on_stored(&ObjectReport)
//!    └─ finish: media left ─► media playlists ─► master/MPD ─► report.json
//!                                              ─► remove_previous
//!  ObjectStore: DirStore (temp file + rename) │ S3Store (PUT │ multipart, streamed
//!               from the file, retried)       │ yours (an embedder's backend)
//! ```
//!
//! * **Pluggable**: [`ObjectStore`] is the whole contract between the
//!   publisher and a destination ([`DirStore`], [`S3Store`], or a
//!   backend of the embedder's, as `Arc<dyn ObjectStore>`).
//!   [`S3Store::from_client`] takes a client the embedder configured.
//! * **Order**: phases are barriers ([`ObjectClass`]); a phase starts when
//!   every object of the previous one is stored.
//! * **Overlap and back-pressure**: a caller submits segments while the
//!   encode runs ([`Publisher::submit`] waits for a free slot, so a fast
//!   encoder is held back). Each media file leaves the spool once stored
//!   ([`Publisher::discarding_stored_media`]), so local disk use is bounded
//!   by the queue and the uploads in flight, not the package size.
//! * **Streaming, bounded memory**: a file is never read whole into memory.
//!   It is hashed in 1 MiB reads on the blocking pool, and its [`Body`]
//!   names the file: S3 streams it from disk (`ByteStream::read_from`,
//!   re-opened at its offset for every attempt and every part), the
//!   directory store copies it through a buffer. Memory stays flat
//!   whatever the object size.
//! * **Cancellation** ([`PublishOptions::cancel`], [`Publisher::abort`]):
//!   no upload starts any more, those in flight stop (a single PUT is
//!   dropped: S3 never shows half an object; a multipart upload is aborted
//!   and the abort awaited before the call returns), and the call returns
//!   [`PublishError::Cancelled`]. [`Publisher::written`] lists exactly what
//!   this publisher wrote (not what it skipped), so a cancelled job can
//!   take it back with [`ObjectStore::delete`]. A PUT cut by the cancel
//!   at the very moment the server applied it may still land unlisted.
//! * **Events**: [`Publisher::on_stored`] is called once per object as soon
//!   as it is written or skipped, `report.json` last.
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
//!   are aborted on failure or cancellation; the directory store writes a
//!   temporary file (`create_new`) and renames it, never through a link.
//! * **Headers** ([`ObjectPolicy`]): Cache-Control per class (media
//!   immutable, the rest short) and Content-Type per extension, with
//!   today's values by default and overridable per run.
//! * **Only packages** ([`publish_package`]): the directory is checked by
//!   [`audiopack_pipeline::inspect_package`] before any request (an
//!   audiopack report of a known format listing every file with its size,
//!   no links, nothing unlisted unless [`PublishOptions::include_extra`]),
//!   and only what it lists is published. A local destination follows the
//!   rule of `ingest --out` (absent, empty or an earlier package).
//! * **Errors** ([`PublishError::kind`]): storage failures carry their
//!   kind and the SDK error as source ([`StoreError`]); a panicked or
//!   failed task is [`PublishErrorKind::Internal`] (a bug), never a
//!   configuration error.
//! * **Timeouts** ([`S3Options`]): a short attempt timeout for requests
//!   without a body (an endpoint that never answers fails the preflight in
//!   seconds), and one that grows with the body for uploads (a slow link
//!   that keeps moving is never cut short); downloads may pause only so
//!   long.
//! * **Inputs** ([`fetch_input_checked`]): a ranged GET of the head first;
//!   an object over the maximum size, or whose header is over the ingest
//!   limits, is refused before the download.
//!
//! ## Example
//!
//! Publishing a package with events, and taking back what a failed or
//! cancelled run wrote:
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use audiopack_publish::{
//!     CancellationToken, DirStore, ObjectReport, ObjectStore, PublishError, PublishOptions,
//!     Publisher,
//! };
//!
//! # async fn run() -> Result<(), PublishError> {
//! let store: Arc<dyn ObjectStore> = Arc::new(DirStore::new("/srv/origin/track-123"));
//! let cancel = CancellationToken::new(); // cancel() it from elsewhere to stop
//! let options = PublishOptions {
//!     cancel: Some(cancel.clone()),
//!     ..PublishOptions::default()
//! };
//! let package = std::path::Path::new("out/track-123");
//! let mut publisher = Publisher::for_package(package, Arc::clone(&store), &options)
//!     .await?
//!     .on_stored(Arc::new(|o: &ObjectReport| {
//!         println!("{} {:?}", o.location, o.action)
//!     }));
//! match publisher.finish().await {
//!     Ok(report) => println!("{} objects written", report.objects_written),
//!     Err(e) => {
//!         for relative in publisher.written() {
//!             store.delete(&relative).await?;
//!         }
//!         return Err(e);
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! What is not done: objects of an earlier, different package under the
//! same prefix that the new one no longer has are left in place (nothing
//! references them); a republish of *different* content over the same
//! prefix replaces segments in place while the old manifests are still
//! live (publish new versions under new prefixes). A file must not change
//! while it is published: its size is checked before every write, and a
//! single PUT carries its SHA-256 for the server to verify, but the parts
//! of a multipart upload are not checked against the hash taken before.

mod dir_store;
mod error;
mod location;
mod object;
mod object_store;
mod object_upload;
mod package;
mod publish_report;
mod publisher;
mod retry;
mod s3_errors;
mod s3_fetch;
mod s3_multipart;
mod s3_options;
mod s3_store;

pub use dir_store::DirStore;
pub use error::{PublishError, PublishErrorKind, StoreError, StoreErrorKind};
pub use location::{Location, S3Url};
pub use object::{
    CACHE_IMMUTABLE, CACHE_SHORT, ObjectClass, ObjectMeta, ObjectPolicy, SHA256_METADATA, classify,
    sha256_hex,
};
pub use object_store::{Body, Existing, Expected, ObjectStore, PutObject};
pub use package::package_files;
pub use publish_report::{Action, ObjectReport, PublishReport};
pub use publisher::{PublishOptions, Publisher, REPORT, publish_package};
pub use retry::RetryPolicy;
pub use s3_fetch::{INPUT_HEAD_BYTES, fetch_input, fetch_input_checked};
pub use s3_options::{DEFAULT_MAX_INPUT_BYTES, MIN_PART_SIZE, S3Credentials, S3Options};
pub use s3_store::S3Store;
/// The cancellation token of [`PublishOptions::cancel`] (`tokio-util`).
pub use tokio_util::sync::CancellationToken;
