//! The whole run to a store: preflight, encode into a local spool while a
//! [`Publisher`] uploads each media file as soon as it is complete, then
//! the playlists, manifests and report in order.

use std::path::Path;
use std::sync::Arc;

use audiopack_pipeline::{
    IngestConfig, JobConfig, JobError, JobReport, OutputSink, Progress, ScratchDir, relabel_input,
    run_ingest_into,
};
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use crate::error::PublishError;
use crate::location::S3Url;
use crate::package::{check_apart, files_to_publish};
use crate::publisher::{PublishOptions, PublishReport, Publisher};
use crate::s3_options::S3Options;
use crate::s3_store::S3Store;
use crate::store::Store;

/// Finished media files waiting for an upload slot. Small: when uploads
/// lag, the encoder threads wait rather than the spool growing unseen.
const READY_QUEUE: usize = 16;

struct ChannelSink {
    tx: mpsc::Sender<String>,
}

impl OutputSink for ChannelSink {
    fn file_ready(&self, relative: &str) -> Result<(), String> {
        self.tx
            .blocking_send(relative.to_string())
            .map_err(|_| "the upload stopped".to_string())
    }
}

/// Encodes `input` and publishes the package to `store`.
///
/// Blocking: call it from a plain thread (or `spawn_blocking`), with a
/// handle to the multi-threaded runtime the uploads run on. The package is
/// spooled in a temporary directory (`TMPDIR`) that holds only the media
/// not yet stored (each file is deleted once uploaded), removed at the
/// end, or by the next run if this process is killed.
/// `input_label` replaces the input path in the report (e.g. the
/// `s3://` URL a spooled input came from).
pub fn ingest_to_store(
    runtime: &Handle,
    input: &Path,
    input_label: Option<&str>,
    store: Arc<Store>,
    config: &JobConfig,
    progress: &dyn Progress,
    options: &PublishOptions,
) -> Result<(JobReport, PublishReport), PublishError> {
    config.validate()?;
    // A FIFO or device is refused before the preflight and the spool.
    audiopack_ingest::check_input_file(input).map_err(audiopack_pipeline::JobError::from)?;
    runtime.block_on(store.preflight())?;
    let spool = ScratchDir::in_temp("audiopack-spool-").map_err(PublishError::local(
        std::env::temp_dir(),
        "creating a spool directory",
    ))?;
    let (tx, mut rx) = mpsc::channel::<String>(READY_QUEUE);
    let mut publisher = Publisher::new(store, spool.path(), options).discarding_stored_media();
    let uploader = runtime.spawn(async move {
        while let Some(relative) = rx.recv().await {
            publisher.submit(relative).await?;
        }
        Ok::<_, PublishError>(publisher)
    });
    let sink = ChannelSink { tx };
    let job = run_ingest_into(input, spool.path(), config, progress, &sink);
    drop(sink);
    let uploads = runtime
        .block_on(uploader)
        .map_err(|e| PublishError::Config(format!("upload task failed: {e}")))
        .and_then(|r| r);
    let (mut report, publisher) = match (job, uploads) {
        (Ok(report), Ok(publisher)) => (report, publisher),
        // The upload failed and stopped the encode: its error is the cause.
        (Err(JobError::Sink { .. }), Err(e)) | (Ok(_), Err(e)) => return Err(e),
        (Err(e), _) => return Err(e.into()),
    };
    if let Some(label) = input_label {
        relabel_input(spool.path(), &mut report, label)?;
    }
    let published = runtime.block_on(publisher.finish())?;
    Ok((report, published))
}

/// Publishes an already packaged directory (`audiopack publish`).
///
/// The package is checked first, before the destination is even looked
/// at ([`audiopack_pipeline::inspect_package`]): an audiopack report of a
/// known format that lists every file present with its size, no link or
/// special file anywhere, and nothing unlisted unless
/// [`PublishOptions::include_extra`]. Only the files it lists are
/// published. A local destination must be absent, empty or an earlier
/// package, and apart from the package.
pub async fn publish_package(
    dir: &Path,
    store: Arc<Store>,
    options: &PublishOptions,
) -> Result<PublishReport, PublishError> {
    let checked = dir.to_path_buf();
    let include_extra = options.include_extra;
    let files = tokio::task::spawn_blocking(move || files_to_publish(&checked, include_extra))
        .await
        .map_err(|e| PublishError::Config(format!("checking the package: {e}")))??;
    if let Store::Dir(dest) = store.as_ref() {
        check_apart(dir, dest.root())?;
    }
    if options.dry_run {
        store.preflight_read_only().await?;
    } else {
        store.preflight().await?;
    }
    Publisher::new(store, dir, options)
        .with_files(files)
        .finish()
        .await
}

/// Downloads an `s3://bucket/key` input into `dir` (under the key's file
/// name, so messages still name the file) and returns the local path.
///
/// An object larger than [`S3Options::max_input_bytes`] is refused before
/// the download (kind `Limit`); a local write failure (a full `TMPDIR`) is
/// a local I/O error and is not retried. [`fetch_input_checked`] also
/// checks the header against the ingest limits first.
pub async fn fetch_input(
    url: &str,
    options: &S3Options,
    dir: &Path,
) -> Result<std::path::PathBuf, PublishError> {
    fetch(url, options, dir, None).await
}

/// [`fetch_input`], checking the object's head (one ranged GET of its
/// first 64 KiB) against `limits` before the download: a header over the
/// limits (channels, sample rate, declared duration) fails at once with
/// the ingest's own `Limit` error, naming the URL, instead of after
/// downloading the whole object.
pub async fn fetch_input_checked(
    url: &str,
    options: &S3Options,
    dir: &Path,
    limits: &IngestConfig,
) -> Result<std::path::PathBuf, PublishError> {
    fetch(url, options, dir, Some(limits)).await
}

async fn fetch(
    url: &str,
    options: &S3Options,
    dir: &Path,
    limits: Option<&IngestConfig>,
) -> Result<std::path::PathBuf, PublishError> {
    let object = S3Url::parse_object(url)?;
    let name = object
        .prefix
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty() && *n != "." && *n != "..")
        .unwrap_or("input")
        .to_string();
    let store = S3Store::connect(object, options.clone()).await?;
    let dest = dir.join(name);
    store.fetch(&dest, limits).await?;
    Ok(dest)
}
