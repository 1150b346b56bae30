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
//! * Bodies stream: a file is sent straight from disk
//!   (`ByteStream::read_from`, re-opened on every attempt), never read
//!   whole into memory.
//! * Objects over the multipart threshold go up in parts (`s3_multipart`);
//!   a failed or cancelled upload is aborted. A `CompleteMultipartUpload`
//!   whose answer was lost and whose retry finds the upload gone is checked
//!   against the object.
//! * Failures keep the SDK's error as their source (`StoreError::source`).
//!
//! The options and their checks are in `s3_options`, the sorting of SDK
//! errors in `s3_errors`, and the download of inputs
//! ([`S3Store::fetch`]) in `s3_fetch`.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::{RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::{ByteStream, Length};

use crate::error::{PublishError, StoreError, StoreErrorKind};
use crate::location::S3Url;
use crate::object::{SHA256_METADATA, sha256_base64};
use crate::object_store::{Body, Existing, Expected, ObjectStore, PutObject, cancelled};
use crate::retry::{Failure, with_retries};
use crate::s3_errors::{classify, error_code, status};
use crate::s3_options::S3Options;

/// An S3 bucket prefix as an [`ObjectStore`].
pub struct S3Store {
    pub(crate) client: Client,
    pub(crate) url: S3Url,
    pub(crate) options: S3Options,
    pub(crate) retries: AtomicU64,
    /// Cleared when the server answers a conditional write
    /// `501 NotImplemented`: later writes go without conditions.
    conditional_writes: AtomicBool,
}

/// How long a cancelled single PUT already on the wire may take to finish
/// (see `put_single`).
const CANCEL_GRACE: Duration = Duration::from_millis(250);

/// The key the preflight's write probe (a multipart upload, created and
/// aborted: no object ever appears) uses under the prefix.
const PREFLIGHT_KEY: &str = ".audiopack-preflight";

impl S3Store {
    /// Builds the client. Does not contact the server (see `preflight`).
    pub async fn connect(url: S3Url, options: S3Options) -> Result<S3Store, PublishError> {
        // The SDK's own retries are off: `crate::retry` retries, and
        // settles lost answers by looking at the object.
        let client = S3Store::client_for(&options, RetryConfig::disabled()).await?;
        Ok(S3Store::with_client(client, url, options))
    }

    /// A client configured from `options` as every store's is: the
    /// standard AWS chain for credentials and region, the endpoint (and
    /// path-style whenever it is custom), checksums `WhenRequired`,
    /// connect and attempt timeouts; `retry` for the SDK's own retries
    /// (`RetryConfig::disabled()` for stores, which retry themselves).
    /// Does not contact the server. For callers that need requests a store
    /// does not make (listing a prefix, reading a small object).
    pub async fn client_for(
        options: &S3Options,
        retry: RetryConfig,
    ) -> Result<Client, PublishError> {
        options.validate()?;
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .retry_config(retry)
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
        Ok(Client::from_conf(builder.build()))
    }

    /// A store writing below `prefix` (directory-like: `""`, `"dir"` or
    /// `"dir/"`) of `bucket` through a client the caller configured
    /// (credentials, region, endpoint, HTTP client are its own). The
    /// bucket and prefix are checked as in an `s3://` URL. The client's own
    /// retries are turned off in favour of the store's
    /// [`RetryPolicy`](crate::RetryPolicy), and each request gets the
    /// store's timeouts (the per-request attempt timeouts of [`S3Options`]);
    /// the rest of the options are [`S3Options::default`] (see
    /// [`with_options`](Self::with_options)). Does not contact the server.
    pub fn from_client(
        client: Client,
        bucket: impl Into<String>,
        prefix: impl Into<String>,
    ) -> Result<S3Store, PublishError> {
        let url = S3Url::new(&bucket.into(), &prefix.into())?;
        let config = client
            .config()
            .to_builder()
            .retry_config(RetryConfig::disabled())
            .build();
        Ok(S3Store::with_client(
            Client::from_conf(config),
            url,
            S3Options::default(),
        ))
    }

    /// The same store with other retry, multipart, timeout and input-size
    /// options; what only applies to building a client (credentials,
    /// endpoint, region, addressing) is ignored.
    pub fn with_options(mut self, options: S3Options) -> Result<S3Store, PublishError> {
        options.validate_transfer()?;
        self.options = options;
        Ok(self)
    }

    fn with_client(client: Client, url: S3Url, options: S3Options) -> S3Store {
        S3Store {
            client,
            url,
            options,
            retries: AtomicU64::new(0),
            conditional_writes: AtomicBool::new(true),
        }
    }

    /// The bucket and prefix written to.
    pub fn url(&self) -> &S3Url {
        &self.url
    }

    /// The per-request configuration of a request sending `bytes` of body
    /// (or completing an object of that size): an attempt may take the
    /// time the body needs at the slowest acceptable rate, plus the wait
    /// for the answer.
    pub(crate) fn body_attempt(&self, bytes: u64) -> aws_sdk_s3::config::Builder {
        let rate = self.options.min_transfer_rate.max(1) as f64;
        self.with_attempt_timeout(
            self.options.first_byte_timeout + Duration::from_secs_f64(bytes as f64 / rate),
        )
    }

    /// A request without a body: the short attempt timeout.
    pub(crate) fn short_attempt(&self) -> aws_sdk_s3::config::Builder {
        self.with_attempt_timeout(self.options.request_timeout)
    }

    pub(crate) fn with_attempt_timeout(&self, attempt: Duration) -> aws_sdk_s3::config::Builder {
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

    /// HeadBucket (exists? credentials good?), then, when `write`, a
    /// multipart upload created and aborted under the prefix (may we
    /// write?). Few quick retries: an unreachable endpoint fails fast.
    async fn check_bucket(&self, write: bool) -> Result<(), StoreError> {
        let bucket = &self.url.bucket;
        let target = format!("s3://{bucket}");
        let policy = self.options.retry.preflight();
        let head = with_retries(&policy, &target, &self.retries, || async {
            let result = self
                .client
                .head_bucket()
                .bucket(bucket)
                .customize()
                .config_override(self.short_attempt())
                .send()
                .await;
            match result {
                Ok(_) => Ok(Ok(())),
                Err(e) => {
                    let code = status(&e);
                    let failure = classify(e);
                    match code {
                        // HEAD answers carry no error code: 403 may be bad
                        // credentials or a missing permission (asked below).
                        Some(403) if !failure.transient => Ok(Err(())),
                        Some(404) if !failure.transient => Err(Failure {
                            kind: StoreErrorKind::NoSuchBucket,
                            message: "the bucket does not exist".into(),
                            ..failure
                        }),
                        _ => Err(failure),
                    }
                }
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
                .customize()
                .config_override(self.short_attempt())
                .send()
                .await;
            return Err(match listed {
                Err(e) => classify(e).into_error(&target),
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
                .customize()
                .config_override(self.short_attempt())
                .send()
                .await
                .map_err(classify)?;
            out.upload_id
                .ok_or_else(|| Failure::transient(StoreErrorKind::Failed, "no upload id"))
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
            .customize()
            .config_override(self.short_attempt())
            .send()
            .await;
        Ok(())
    }

    /// HEAD of one object.
    pub(crate) async fn head_object(&self, relative: &str) -> Result<Option<Existing>, StoreError> {
        let key = self.url.key(relative);
        let target = self.url_of(relative);
        with_retries(&self.options.retry, &target, &self.retries, || async {
            let result = self
                .client
                .head_object()
                .bucket(&self.url.bucket)
                .key(&key)
                .customize()
                .config_override(self.short_attempt())
                .send()
                .await;
            match result {
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
                Err(e) => Err(classify(e)),
            }
        })
        .await
    }

    /// One PUT of the whole object, retried; dropped when cancelled (S3
    /// never shows half an object).
    async fn put_single(&self, object: PutObject<'_>) -> Result<(), PublishError> {
        let key = self.url.key(object.relative);
        let target = self.url_of(object.relative);
        let checksum = sha256_base64(object.sha256);
        let len = object.body.len();
        let put = with_retries(&self.options.retry, &target, &self.retries, || async {
            if object.is_cancelled() {
                // No new attempt once cancelled (one in flight may finish).
                return Err(Failure::permanent(StoreErrorKind::Failed, "cancelled"));
            }
            let (if_match, if_none_match) = self.conditions(object.expected);
            let conditional = if_match.is_some() || if_none_match.is_some();
            let body = byte_stream(object.body, 0, len).await?;
            let result = self
                .client
                .put_object()
                .bucket(&self.url.bucket)
                .key(&key)
                .body(body)
                .content_length(len as i64)
                .content_type(&object.meta.content_type)
                .cache_control(&object.meta.cache_control)
                .metadata(SHA256_METADATA, object.sha256)
                .set_checksum_sha256(checksum.clone())
                .set_if_match(if_match)
                .set_if_none_match(if_none_match)
                .customize()
                .config_override(self.body_attempt(len))
                .send()
                .await;
            match result {
                Ok(_) => Ok(()),
                Err(e) => self.write_refused(e, object, conditional, false).await,
            }
        });
        tokio::pin!(put);
        tokio::select! {
            biased;
            put = &mut put => Ok(put?),
            () = cancelled(object.cancel) => {
                // A request in flight may still land: dropping it would
                // leave an object nobody knows about. Let it finish for a
                // moment, so the caller learns it was written (and can take
                // it back); a retry waiting out its backoff just ends.
                match tokio::time::timeout(CANCEL_GRACE, &mut put).await {
                    Ok(Ok(())) => Ok(()),
                    _ => Err(PublishError::Cancelled {
                        target: self.url_of(object.relative),
                    }),
                }
            }
        }
    }

    /// The `If-Match` / `If-None-Match` values that check `expected`.
    pub(crate) fn conditions(&self, expected: Expected<'_>) -> (Option<String>, Option<String>) {
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
    pub(crate) async fn write_refused<E>(
        &self,
        e: SdkError<E, HttpResponse>,
        object: PutObject<'_>,
        conditional: bool,
        retried_completion: bool,
    ) -> Result<(), Failure>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let code = error_code(&e);
        let precondition = status(&e) == Some(412) || code == Some("PreconditionFailed");
        if conditional && (status(&e) == Some(501) || code == Some("NotImplemented")) {
            self.conditional_writes.store(false, Ordering::Relaxed);
            return Err(Failure::transient(
                StoreErrorKind::Failed,
                "conditional writes are not implemented here: writing without",
            )
            .caused_by(e));
        }
        let failure = classify(e);
        let settled_elsewhere = (conditional && precondition)
            || (retried_completion
                && !failure.transient
                && failure.kind != StoreErrorKind::Credentials);
        if !settled_elsewhere {
            return Err(failure);
        }
        match self.head_object(object.relative).await {
            Ok(Some(found))
                if found.size == object.body.len()
                    && found.sha256.as_deref() == Some(object.sha256) =>
            {
                Ok(())
            }
            Ok(_) if precondition => Err(Failure {
                transient: false,
                kind: StoreErrorKind::Conflict,
                message: "another writer changed this object while it was being published \
                 (a conditional write was refused); rerun to publish over it"
                    .into(),
                ..failure
            }),
            Ok(_) => Err(failure),
            Err(e) => Err(e.into()),
        }
    }
}

/// `len` bytes of `body` from `offset`, as a request body: a slice of the
/// bytes, or the file streamed from disk (opened anew for each attempt).
pub(crate) async fn byte_stream(body: &Body, offset: u64, len: u64) -> Result<ByteStream, Failure> {
    match body {
        Body::Bytes(bytes) => {
            let start = usize::try_from(offset)
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            let end = usize::try_from(offset.saturating_add(len))
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            Ok(ByteStream::from(bytes.slice(start..end)))
        }
        Body::File { path, .. } => ByteStream::read_from()
            .path(path)
            .offset(offset)
            .length(Length::Exact(len))
            .build()
            .await
            .map_err(|e| {
                Failure::permanent(StoreErrorKind::Failed, reading_failed(path, &e)).caused_by(e)
            }),
    }
}

fn reading_failed(path: &Path, e: &dyn std::error::Error) -> String {
    format!("reading {}: {e}", path.display())
}

#[async_trait::async_trait]
impl ObjectStore for S3Store {
    fn describe(&self, relative: &str) -> String {
        self.url_of(relative)
    }

    /// Errors are [`PublishError::Store`].
    async fn preflight(&self, write: bool) -> Result<(), PublishError> {
        Ok(self.check_bucket(write).await?)
    }

    async fn head(&self, relative: &str) -> Result<Option<Existing>, PublishError> {
        Ok(self.head_object(relative).await?)
    }

    /// A PUT, or a multipart upload above the threshold (aborted on
    /// failure or cancellation, the abort awaited), retrying transient
    /// failures. When the object is no longer what `expected` says, fails
    /// with [`StoreErrorKind::Conflict`] unless it already holds exactly
    /// these bytes (our own earlier attempt whose answer was lost).
    async fn put(&self, object: PutObject<'_>) -> Result<(), PublishError> {
        if object.is_cancelled() {
            return Err(PublishError::Cancelled {
                target: self.url_of(object.relative),
            });
        }
        object.body.check().await?;
        if object.body.len() > self.options.multipart_threshold as u64 {
            self.put_multipart(object).await
        } else {
            self.put_single(object).await
        }
    }

    async fn delete(&self, relative: &str) -> Result<(), PublishError> {
        let key = self.url.key(relative);
        let target = self.url_of(relative);
        with_retries(&self.options.retry, &target, &self.retries, || async {
            let result = self
                .client
                .delete_object()
                .bucket(&self.url.bucket)
                .key(&key)
                .customize()
                .config_override(self.short_attempt())
                .send()
                .await;
            match result {
                Ok(_) => Ok(()),
                Err(e) if status(&e) == Some(404) => Ok(()),
                Err(e) => Err(classify(e)),
            }
        })
        .await?;
        Ok(())
    }

    fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }
}
