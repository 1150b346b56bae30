//! Multipart uploads of objects over the threshold: parts streamed from
//! the body one after the other (each re-read from its offset on every
//! attempt), then `CompleteMultipartUpload` carrying the write condition.
//!
//! An upload that fails, or is cancelled while its parts go up, is
//! aborted, and the abort is awaited before `put` returns: no upload is
//! left behind for a lifecycle rule to reap. Once the parts are up, the
//! completion is not interrupted (it is short, and cutting it would leave
//! the caller unsure whether the object exists).

use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use crate::error::{PublishError, StoreError, StoreErrorKind};
use crate::object::SHA256_METADATA;
use crate::object_store::{PutObject, cancelled};
use crate::retry::{Failure, with_retries};
use crate::s3_errors::classify;
use crate::s3_store::{S3Store, byte_stream};

impl S3Store {
    pub(crate) async fn put_multipart(&self, object: PutObject<'_>) -> Result<(), PublishError> {
        let bucket = &self.url.bucket;
        let key = self.url.key(object.relative);
        let target = self.url_of(object.relative);
        let policy = &self.options.retry;
        let upload_id = with_retries(policy, &target, &self.retries, || async {
            let out = self
                .client
                .create_multipart_upload()
                .bucket(bucket)
                .key(&key)
                .content_type(&object.meta.content_type)
                .cache_control(&object.meta.cache_control)
                .metadata(SHA256_METADATA, object.sha256)
                .customize()
                .config_override(self.short_attempt())
                .send()
                .await
                .map_err(classify)?;
            out.upload_id
                .ok_or_else(|| Failure::transient(StoreErrorKind::Failed, "no upload id"))
        })
        .await?;
        let upload = Upload {
            store: self,
            key: &key,
            upload_id: &upload_id,
            target: &target,
        };
        // Cancellation stops the parts; the completion, once started, runs.
        let parts = tokio::select! {
            biased;
            () = cancelled(object.cancel) => None,
            parts = upload.parts(object) => Some(parts),
        };
        let completed = match parts {
            Some(Ok(parts)) => upload.complete(object, parts).await,
            Some(Err(e)) => Err(e),
            None => {
                upload.abort().await;
                return Err(PublishError::Cancelled { target });
            }
        };
        if !matches!(completed, Ok(true)) {
            upload.abort().await;
        }
        Ok(completed.map(|_| ())?)
    }
}

/// One multipart upload in progress.
struct Upload<'a> {
    store: &'a S3Store,
    key: &'a str,
    upload_id: &'a str,
    target: &'a str,
}

impl Upload<'_> {
    /// Sends every part, in order; their numbers and ETags.
    async fn parts(&self, object: PutObject<'_>) -> Result<Vec<CompletedPart>, StoreError> {
        let store = self.store;
        let len = object.body.len();
        let part_size = store.options.part_size as u64;
        let mut parts = Vec::new();
        let mut offset = 0;
        while offset < len {
            let part_len = part_size.min(len - offset);
            let number = i32::try_from(parts.len() + 1).unwrap_or(i32::MAX);
            let etag = with_retries(
                &store.options.retry,
                self.target,
                &store.retries,
                || async {
                    let body = byte_stream(object.body, offset, part_len).await?;
                    let out = store
                        .client
                        .upload_part()
                        .bucket(&store.url.bucket)
                        .key(self.key)
                        .upload_id(self.upload_id)
                        .part_number(number)
                        .content_length(part_len as i64)
                        .body(body)
                        .customize()
                        .config_override(store.body_attempt(part_len))
                        .send()
                        .await
                        .map_err(classify)?;
                    Ok(out.e_tag)
                },
            )
            .await?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(etag)
                    .build(),
            );
            offset += part_len;
        }
        Ok(parts)
    }

    /// `Ok(true)`: completed by this request; `Ok(false)`: the object was
    /// found to hold our bytes (a lost answer), so the upload may linger
    /// and is aborted by the caller.
    async fn complete(
        &self,
        object: PutObject<'_>,
        parts: Vec<CompletedPart>,
    ) -> Result<bool, StoreError> {
        let store = self.store;
        let completed = CompletedMultipartUpload::builder()
            .set_parts(Some(parts))
            .build();
        let mut attempt = 0;
        with_retries(&store.options.retry, self.target, &store.retries, || {
            attempt += 1;
            let completed = completed.clone();
            let retried = attempt > 1;
            async move {
                let (if_match, if_none_match) = store.conditions(object.expected);
                let conditional = if_match.is_some() || if_none_match.is_some();
                let result = store
                    .client
                    .complete_multipart_upload()
                    .bucket(&store.url.bucket)
                    .key(self.key)
                    .upload_id(self.upload_id)
                    .multipart_upload(completed)
                    .set_if_match(if_match)
                    .set_if_none_match(if_none_match)
                    .customize()
                    .config_override(self.completion_attempt(object.body.len()))
                    .send()
                    .await;
                match result {
                    Ok(_) => Ok(true),
                    // A retry after a lost answer finds the upload gone
                    // (NoSuchUpload on AWS, 403 on s3s-fs) or the
                    // condition failing: the object says whether it
                    // was ours.
                    Err(e) => store
                        .write_refused(e, object, conditional, retried)
                        .await
                        .map(|()| false),
                }
            }
        })
        .await
    }

    /// Completing a multipart upload sends little, but some stores
    /// (s3s-fs, MinIO) assemble the parts before answering: one
    /// `first_byte_timeout` per started GiB.
    fn completion_attempt(&self, bytes: u64) -> aws_sdk_s3::config::Builder {
        let gib = bytes.div_ceil(1 << 30).max(1);
        self.store.with_attempt_timeout(
            self.store
                .options
                .first_byte_timeout
                .saturating_mul(u32::try_from(gib).unwrap_or(u32::MAX)),
        )
    }

    /// Aborts the upload and waits for the answer, retrying what may pass
    /// on another attempt. A failure is not reported: the upload is
    /// invisible, and the failure that led here is what matters.
    async fn abort(&self) {
        let store = self.store;
        let policy = store.options.retry.preflight();
        let _ = with_retries(&policy, self.target, &store.retries, || async {
            store
                .client
                .abort_multipart_upload()
                .bucket(&store.url.bucket)
                .key(self.key)
                .upload_id(self.upload_id)
                .customize()
                .config_override(store.short_attempt())
                .send()
                .await
                .map(|_| ())
                .map_err(classify)
        })
        .await;
    }
}
