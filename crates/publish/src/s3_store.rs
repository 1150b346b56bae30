//! S3-compatible object storage through `aws-sdk-s3`.
//!
//! * Client: the standard AWS chain (env, profile, SSO, IMDS) for
//!   credentials and region; endpoint from `--endpoint-url` or
//!   `AWS_ENDPOINT_URL(_S3)`; path-style addressing whenever the endpoint
//!   is custom; checksums `WhenRequired` (the most compatible mode); the
//!   SDK's retries off in favour of [`crate::retry`].
//! * Integrity: every PUT carries `x-amz-checksum-sha256`, which the
//!   server verifies, and the same digest in `x-amz-meta-sha256`, which a
//!   rerun compares (HEAD) to skip unchanged objects.
//! * Conditional writes: a PUT (or `CompleteMultipartUpload`) carries
//!   `If-None-Match: *` when the HEAD before it found nothing and
//!   `If-Match: <ETag>` when it found other bytes, so a concurrent writer is
//!   noticed rather than overwritten. A refusal (412) is then settled by
//!   the object: our bytes (our own earlier attempt landed and its answer
//!   was lost) is success, anything else a [`StoreErrorKind::Conflict`].
//!   A server that answers `501 NotImplemented` gets unconditional writes.
//! * Objects over the multipart threshold go up in parts; a failed upload
//!   is aborted. A `CompleteMultipartUpload` whose answer was lost and
//!   whose retry finds the upload gone is checked against the object.
//!
//! The options and their checks are in `s3_options`, the sorting of SDK
//! errors in `s3_errors`, and the download of inputs
//! ([`S3Store::fetch`]) in `s3_fetch`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

use crate::error::{PublishError, StoreError, StoreErrorKind};
use crate::location::S3Url;
use crate::object::{SHA256_METADATA, sha256_base64};
use crate::retry::{Failure, with_retries};
use crate::s3_errors::{classify, error_code, status};
use crate::s3_options::S3Options;
use crate::store::{Existing, Expected, PutObject};

pub struct S3Store {
    pub(crate) client: Client,
    pub(crate) url: S3Url,
    pub(crate) options: S3Options,
    pub(crate) retries: AtomicU64,
    /// Cleared when the server answers a conditional write
    /// `501 NotImplemented`: later writes go without conditions.
    conditional_writes: AtomicBool,
}

/// The key the preflight's write probe (a multipart upload, created and
/// aborted: no object ever appears) uses under the prefix.
const PREFLIGHT_KEY: &str = ".audiopack-preflight";

impl S3Store {
    /// Builds the client. Does not contact the server (see `preflight`).
    pub async fn connect(url: S3Url, options: S3Options) -> Result<S3Store, PublishError> {
        options.validate()?;
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                // No `read_timeout`: the SDK's HTTP client times the whole
                // exchange up to the answer's headers with it, the body
                // sent included, so it would cap slow uploads too. Requests
                // with a body get their own attempt timeout instead
                // (`S3Store::body_attempt`).
                TimeoutConfig::builder()
                    .connect_timeout(options.connect_timeout)
                    .operation_attempt_timeout(options.request_timeout)
                    .build(),
            );
        if let Some(endpoint) = &options.endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        if let Some(region) = &options.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(c) = &options.credentials {
            loader = loader.credentials_provider(aws_sdk_s3::config::Credentials::new(
                c.access_key_id.clone(),
                c.secret_access_key.clone(),
                c.session_token.clone(),
                None,
                "audiopack-options",
            ));
        }
        let sdk = loader.load().await;
        let custom_endpoint = options.endpoint_url.is_some()
            || ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
                .iter()
                .any(|v| std::env::var(v).is_ok_and(|s| !s.is_empty()));
        let mut builder = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(options.path_style.unwrap_or(custom_endpoint));
        if sdk.region().is_none() {
            builder = builder.region(Region::new("us-east-1"));
        }
        Ok(S3Store {
            client: Client::from_conf(builder.build()),
            url,
            options,
            retries: AtomicU64::new(0),
            conditional_writes: AtomicBool::new(true),
        })
    }

    /// The per-request configuration of a request sending `bytes` of body
    /// (or completing an object of that size): an attempt may take the
    /// time the body needs at the slowest acceptable rate, plus the wait
    /// for the answer.
    fn body_attempt(&self, bytes: usize) -> aws_sdk_s3::config::Builder {
        let rate = self.options.min_transfer_rate.max(1) as f64;
        self.with_attempt_timeout(
            self.options.first_byte_timeout + Duration::from_secs_f64(bytes as f64 / rate),
        )
    }

    /// Completing a multipart upload sends little, but some stores
    /// (s3s-fs, MinIO) assemble the parts before answering: one
    /// `first_byte_timeout` per started GiB.
    fn completion_attempt(&self, bytes: usize) -> aws_sdk_s3::config::Builder {
        let gib = (bytes as u64).div_ceil(1 << 30).max(1);
        self.with_attempt_timeout(
            self.options
                .first_byte_timeout
                .saturating_mul(u32::try_from(gib).unwrap_or(u32::MAX)),
        )
    }

    fn with_attempt_timeout(&self, attempt: Duration) -> aws_sdk_s3::config::Builder {
        aws_sdk_s3::config::Builder::new().timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(self.options.connect_timeout)
                .operation_attempt_timeout(attempt)
                .build(),
        )
    }

    pub(crate) fn url_of(&self, relative: &str) -> String {
        format!("s3://{}/{}", self.url.bucket, self.url.key(relative))
    }

    pub(crate) fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    /// HeadBucket (exists? credentials good?), then, when `write`, a
    /// multipart upload created and aborted under the prefix (may we
    /// write?). Few quick retries: an unreachable endpoint fails fast.
    pub(crate) async fn preflight(&self, write: bool) -> Result<(), StoreError> {
        let bucket = &self.url.bucket;
        let target = format!("s3://{bucket}");
        let policy = self.options.retry.preflight();
        let head = with_retries(&policy, &target, &self.retries, || async {
            match self.client.head_bucket().bucket(bucket).send().await {
                Ok(_) => Ok(Ok(())),
                Err(e) => match classify(&e) {
                    // HEAD answers carry no error code: 403 may be bad
                    // credentials or a missing permission (asked below).
                    Failure::Permanent(_, _) if status(&e) == Some(403) => Ok(Err(())),
                    Failure::Permanent(_, _) if status(&e) == Some(404) => Err(Failure::Permanent(
                        StoreErrorKind::NoSuchBucket,
                        "the bucket does not exist".into(),
                    )),
                    other => Err(other),
                },
            }
        })
        .await?;
        if head.is_err() {
            // A GET answers with a code: which kind of 403 is it?
            let listed = self
                .client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(&self.url.prefix)
                .max_keys(1)
                .send()
                .await;
            return Err(match listed {
                Err(e) => match classify(&e) {
                    Failure::Permanent(kind, message) => StoreError::new(kind, target, message),
                    Failure::Transient(kind, message) => StoreError::new(kind, target, message),
                },
                Ok(_) => StoreError::new(
                    StoreErrorKind::AccessDenied,
                    target,
                    "HeadBucket is denied (audiopack needs s3:ListBucket, s3:GetObject and s3:PutObject)",
                ),
            });
        }
        if !write {
            return Ok(());
        }
        let key = self.url.key(PREFLIGHT_KEY);
        let probe_target = self.url_of(PREFLIGHT_KEY);
        let upload_id = with_retries(&policy, &probe_target, &self.retries, || async {
            let out = self
                .client
                .create_multipart_upload()
                .bucket(bucket)
                .key(&key)
                .send()
                .await
                .map_err(|e| classify(&e))?;
            out.upload_id
                .ok_or_else(|| Failure::Transient(StoreErrorKind::Failed, "no upload id".into()))
        })
        .await
        .map_err(|e| StoreError {
            message: format!("write probe refused: {}", e.message),
            ..e
        })?;
        // Best effort: an upload left behind is invisible (and S3 lifecycle
        // rules reap it).
        let _ = self
            .client
            .abort_multipart_upload()
            .bucket(bucket)
            .key(&key)
            .upload_id(upload_id)
            .send()
            .await;
        Ok(())
    }

    pub(crate) async fn existing(&self, relative: &str) -> Result<Option<Existing>, StoreError> {
        let key = self.url.key(relative);
        let target = self.url_of(relative);
        with_retries(&self.options.retry, &target, &self.retries, || async {
            match self
                .client
                .head_object()
                .bucket(&self.url.bucket)
                .key(&key)
                .send()
                .await
            {
                Ok(out) => Ok(Some(Existing {
                    size: out.content_length.map_or(0, |n| n.max(0) as u64),
                    sha256: out
                        .metadata
                        .as_ref()
                        .and_then(|m| m.get(SHA256_METADATA))
                        .cloned(),
                    etag: out.e_tag,
                })),
                Err(e) if status(&e) == Some(404) => Ok(None),
                Err(e) => Err(classify(&e)),
            }
        })
        .await
    }

    pub(crate) async fn put(&self, object: PutObject<'_>) -> Result<(), StoreError> {
        if object.bytes.len() > self.options.multipart_threshold {
            return self.put_multipart(object).await;
        }
        let key = self.url.key(object.relative);
        let target = self.url_of(object.relative);
        let checksum = sha256_base64(object.sha256);
        with_retries(&self.options.retry, &target, &self.retries, || async {
            let (if_match, if_none_match) = self.conditions(object.expected);
            let conditional = if_match.is_some() || if_none_match.is_some();
            match self
                .client
                .put_object()
                .bucket(&self.url.bucket)
                .key(&key)
                .body(ByteStream::from(object.bytes.to_vec()))
                .content_length(object.bytes.len() as i64)
                .content_type(object.meta.content_type)
                .cache_control(object.meta.cache_control)
                .metadata(SHA256_METADATA, object.sha256)
                .set_checksum_sha256(checksum.clone())
                .set_if_match(if_match)
                .set_if_none_match(if_none_match)
                .customize()
                .config_override(self.body_attempt(object.bytes.len()))
                .send()
                .await
            {
                Ok(_) => Ok(()),
                Err(e) => self.write_refused(&e, object, conditional, false).await,
            }
        })
        .await
    }

    /// The `If-Match` / `If-None-Match` values that check `expected`.
    fn conditions(&self, expected: Expected<'_>) -> (Option<String>, Option<String>) {
        if !self.conditional_writes.load(Ordering::Relaxed) {
            return (None, None);
        }
        match expected {
            Expected::Absent => (None, Some("*".to_string())),
            Expected::ETag(etag) => (Some(etag.to_string()), None),
            Expected::Anything => (None, None),
        }
    }

    /// Why a write failed, and whether to try again. A refused condition
    /// (412) or, on a retry, a vanished multipart upload is our own
    /// earlier attempt having landed when the object now holds exactly our
    /// bytes (its answer was lost), and a conflict with another writer
    /// otherwise. A server without conditional writes (501) gets the rest
    /// of this run's writes unconditionally.
    async fn write_refused<E>(
        &self,
        e: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
        object: PutObject<'_>,
        conditional: bool,
        retried_completion: bool,
    ) -> Result<(), Failure>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let code = error_code(e);
        let precondition = status(e) == Some(412) || code == Some("PreconditionFailed");
        if conditional && (status(e) == Some(501) || code == Some("NotImplemented")) {
            self.conditional_writes.store(false, Ordering::Relaxed);
            return Err(Failure::Transient(
                StoreErrorKind::Failed,
                "conditional writes are not implemented here: writing without".into(),
            ));
        }
        let failure = classify(e);
        let settled_elsewhere = (conditional && precondition)
            || (retried_completion
                && matches!(failure, Failure::Permanent(kind, _) if kind != StoreErrorKind::Credentials));
        if !settled_elsewhere {
            return Err(failure);
        }
        match self.existing(object.relative).await {
            Ok(Some(found))
                if found.size == object.bytes.len() as u64
                    && found.sha256.as_deref() == Some(object.sha256) =>
            {
                Ok(())
            }
            Ok(_) if precondition => Err(Failure::Permanent(
                StoreErrorKind::Conflict,
                "another writer changed this object while it was being published \
                 (a conditional write was refused); rerun to publish over it"
                    .into(),
            )),
            Ok(_) => Err(failure),
            Err(e) => Err(Failure::Permanent(e.kind, e.message)),
        }
    }

    async fn put_multipart(&self, object: PutObject<'_>) -> Result<(), StoreError> {
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
                .content_type(object.meta.content_type)
                .cache_control(object.meta.cache_control)
                .metadata(SHA256_METADATA, object.sha256)
                .send()
                .await
                .map_err(|e| classify(&e))?;
            out.upload_id
                .ok_or_else(|| Failure::Transient(StoreErrorKind::Failed, "no upload id".into()))
        })
        .await?;
        let (key, upload_id) = (&key, &upload_id);
        let uploaded = async {
            let mut parts = Vec::new();
            for (i, chunk) in object.bytes.chunks(self.options.part_size).enumerate() {
                let number = i as i32 + 1;
                let etag = with_retries(policy, &target, &self.retries, || async {
                    let out = self
                        .client
                        .upload_part()
                        .bucket(bucket)
                        .key(key.as_str())
                        .upload_id(upload_id.as_str())
                        .part_number(number)
                        .content_length(chunk.len() as i64)
                        .body(ByteStream::from(chunk.to_vec()))
                        .customize()
                        .config_override(self.body_attempt(chunk.len()))
                        .send()
                        .await
                        .map_err(|e| classify(&e))?;
                    Ok(out.e_tag)
                })
                .await?;
                parts.push(
                    CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(etag)
                        .build(),
                );
            }
            let completed = CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build();
            // `Ok(true)`: completed by this request; `Ok(false)`: the
            // object was found to hold our bytes (a lost answer), so the
            // upload may linger and is aborted below.
            let mut attempt = 0;
            with_retries(policy, &target, &self.retries, || {
                attempt += 1;
                let completed = completed.clone();
                let retried = attempt > 1;
                async move {
                    let (key, upload_id) = (key, upload_id);
                    let (if_match, if_none_match) = self.conditions(object.expected);
                    let conditional = if_match.is_some() || if_none_match.is_some();
                    match self
                        .client
                        .complete_multipart_upload()
                        .bucket(bucket)
                        .key(key.as_str())
                        .upload_id(upload_id.as_str())
                        .multipart_upload(completed)
                        .set_if_match(if_match)
                        .set_if_none_match(if_none_match)
                        .customize()
                        .config_override(self.completion_attempt(object.bytes.len()))
                        .send()
                        .await
                    {
                        Ok(_) => Ok(true),
                        // A retry after a lost answer finds the upload gone
                        // (NoSuchUpload on AWS, 403 on s3s-fs) or the
                        // condition failing: the object says whether it
                        // was ours.
                        Err(e) => self
                            .write_refused(&e, object, conditional, retried)
                            .await
                            .map(|()| false),
                    }
                }
            })
            .await
        }
        .await;
        if !matches!(uploaded, Ok(true)) {
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(bucket)
                .key(key.as_str())
                .upload_id(upload_id.as_str())
                .send()
                .await;
        }
        uploaded.map(|_| ())
    }
}
