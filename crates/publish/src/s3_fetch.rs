//! Downloading an `s3://` input ([`fetch_input`], [`fetch_input_checked`]):
//! a ranged GET of the head first, checked against the maximum size and
//! the ingest limits, then the whole object.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use audiopack_ingest::{ErrorKind as IngestErrorKind, IngestConfig, IngestError, Source};
use audiopack_pipeline::JobError;

use crate::error::{PublishError, StoreError, StoreErrorKind};
use crate::location::S3Url;
use crate::retry::{Failure, with_retries};
use crate::s3_errors::{classify, one_line, status};
use crate::s3_options::S3Options;
use crate::s3_store::S3Store;

/// How much of an `s3://` input is read first (one ranged GET) to check its
/// header against the limits before the whole object is downloaded.
pub const INPUT_HEAD_BYTES: u64 = 64 * 1024;

impl S3Store {
    /// Downloads the object named by the URL's prefix (an object key) into
    /// `dest`, retrying transient network failures from the start.
    ///
    /// First one ranged GET of the head ([`INPUT_HEAD_BYTES`]): an object
    /// larger than `max_input_bytes`, or (given `limits`) whose header
    /// alone puts it over the limits, is refused before the download
    /// (exit-code kind `Limit`). A local write failure (a full `TMPDIR`) is
    /// a local I/O error, not retried.
    pub async fn fetch(
        &self,
        dest: &std::path::Path,
        limits: Option<&IngestConfig>,
    ) -> Result<u64, PublishError> {
        let target = format!("s3://{}/{}", self.url.bucket, self.url.prefix);
        let head = self.fetch_head(&target).await?;
        if let Some((bytes, total)) = &head {
            if *total > self.options.max_input_bytes {
                return Err(over_limit(
                    &target,
                    format!(
                        "the object is {total} bytes; at most {} are accepted",
                        self.options.max_input_bytes
                    ),
                ));
            }
            if let Some(limits) = limits {
                probe_head(&target, bytes, limits)?;
            }
            if bytes.len() as u64 == *total {
                // The head was the whole object.
                tokio::fs::write(dest, bytes)
                    .await
                    .map_err(PublishError::local(dest, "writing the downloaded input"))?;
                return Ok(*total);
            }
        }
        let local_failure = std::sync::Mutex::new(None);
        let too_large = AtomicBool::new(false);
        let fetched = with_retries(&self.options.retry, &target, &self.retries, || async {
            match self.download(dest).await {
                Ok(total) => Ok(total),
                Err(Download::Remote(failure)) => Err(failure),
                Err(Download::TooLarge) => {
                    too_large.store(true, Ordering::Relaxed);
                    Err(Failure::permanent(
                        StoreErrorKind::Failed,
                        "over the maximum input size",
                    ))
                }
                Err(Download::Local(e)) => {
                    let message = e.to_string();
                    if let Ok(mut slot) = local_failure.lock() {
                        *slot = Some(e);
                    }
                    Err(Failure::permanent(StoreErrorKind::Failed, message))
                }
            }
        })
        .await;
        if let Some(e) = local_failure.lock().ok().and_then(|mut slot| slot.take()) {
            let _ = tokio::fs::remove_file(dest).await;
            return Err(PublishError::Local {
                path: dest.to_path_buf(),
                action: "writing the downloaded input",
                source: e,
            });
        }
        match fetched {
            Err(_) if too_large.load(Ordering::Relaxed) => Err(over_limit(
                &target,
                format!(
                    "the object grew past {} bytes (the most accepted) while downloading",
                    self.options.max_input_bytes
                ),
            )),
            other => Ok(other?),
        }
    }

    /// The first [`INPUT_HEAD_BYTES`] of the object and its total size;
    /// `None` when the store cannot answer a range (an empty object: 416).
    async fn fetch_head(&self, target: &str) -> Result<Option<(Vec<u8>, u64)>, StoreError> {
        with_retries(&self.options.retry, target, &self.retries, || async {
            let out = match self
                .client
                .get_object()
                .bucket(&self.url.bucket)
                .key(&self.url.prefix)
                .range(format!("bytes=0-{}", INPUT_HEAD_BYTES - 1))
                .send()
                .await
            {
                Ok(out) => out,
                Err(e) if status(&e) == Some(416) => return Ok(None),
                Err(e) => return Err(classify(e)),
            };
            let total = out
                .content_range
                .as_deref()
                .and_then(|r| r.rsplit_once('/'))
                .and_then(|(_, total)| total.parse::<u64>().ok())
                .or_else(|| out.content_length.and_then(|n| u64::try_from(n).ok()));
            // A store that ignores the range sends everything: read only
            // the head and drop the rest (the connection is closed).
            let mut body = out.body;
            let mut head = Vec::new();
            while (head.len() as u64) < INPUT_HEAD_BYTES {
                match tokio::time::timeout(self.options.first_byte_timeout, body.try_next()).await {
                    Ok(Ok(Some(chunk))) => head.extend_from_slice(&chunk),
                    Ok(Ok(None)) => break,
                    Ok(Err(e)) => {
                        let message = one_line(&format!("download interrupted: {e}"));
                        return Err(
                            Failure::transient(StoreErrorKind::Failed, message).caused_by(e)
                        );
                    }
                    Err(_) => return Err(stalled(self.options.first_byte_timeout)),
                }
            }
            head.truncate(INPUT_HEAD_BYTES as usize);
            Ok(total.map(|total| (head, total)))
        })
        .await
    }

    /// One attempt at the whole object.
    async fn download(&self, dest: &std::path::Path) -> Result<u64, Download> {
        let out = self
            .client
            .get_object()
            .bucket(&self.url.bucket)
            .key(&self.url.prefix)
            .send()
            .await
            .map_err(|e| Download::Remote(classify(e)))?;
        let mut file = tokio::fs::File::create(dest)
            .await
            .map_err(Download::Local)?;
        let mut body = out.body;
        let mut total = 0u64;
        loop {
            match tokio::time::timeout(self.options.first_byte_timeout, body.try_next()).await {
                Ok(Ok(Some(chunk))) => {
                    total += chunk.len() as u64;
                    if total > self.options.max_input_bytes {
                        return Err(Download::TooLarge);
                    }
                    file.write_all(&chunk).await.map_err(Download::Local)?;
                }
                Ok(Ok(None)) => break,
                Ok(Err(e)) => {
                    let message = one_line(&format!("download interrupted: {e}"));
                    return Err(Download::Remote(
                        Failure::transient(StoreErrorKind::Failed, message).caused_by(e),
                    ));
                }
                Err(_) => {
                    return Err(Download::Remote(stalled(self.options.first_byte_timeout)));
                }
            }
        }
        // Errors of writes handed to the blocking pool surface here.
        file.flush().await.map_err(Download::Local)?;
        file.sync_all().await.map_err(Download::Local)?;
        Ok(total)
    }
}

/// How one download attempt failed: the network (maybe retried), the
/// local disk (never), or an object larger than the maximum input size.
enum Download {
    Remote(Failure),
    Local(std::io::Error),
    TooLarge,
}

fn stalled(after: Duration) -> Failure {
    Failure::transient(
        StoreErrorKind::Unreachable,
        format!(
            "the download stalled (nothing received for {} s)",
            after.as_secs()
        ),
    )
}

fn over_limit(target: &str, detail: String) -> PublishError {
    PublishError::Job(JobError::Ingest(IngestError::Limit {
        path: target.into(),
        detail,
    }))
}

/// Refuses an input whose head alone shows it over the limits (channels,
/// sample rate, declared duration). Anything else the head cannot settle
/// (a cut-off header, a format whose length needs the end of the file) is
/// left to the decode of the whole file.
fn probe_head(target: &str, head: &[u8], limits: &IngestConfig) -> Result<(), PublishError> {
    let media = Box::new(std::io::Cursor::new(head.to_vec()));
    let probed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Source::from_media(std::path::Path::new(target), media, limits).map(|_| ())
    }));
    match probed {
        Ok(Err(e)) if e.kind() == IngestErrorKind::Limit => Err(PublishError::Job(e.into())),
        _ => Ok(()),
    }
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
