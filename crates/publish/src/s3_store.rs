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
use tokio::io::AsyncWriteExt;

use audiopack_ingest::{ErrorKind as IngestErrorKind, IngestConfig, IngestError, Source};
use audiopack_pipeline::JobError;

use crate::error::{PublishError, StoreError, StoreErrorKind};
use crate::location::S3Url;
use crate::object::{SHA256_METADATA, sha256_base64};
use crate::retry::{Failure, RetryPolicy, with_retries};
use crate::store::{Existing, Expected, PutObject};

/// A fixed key pair, for a backend that holds its own credentials instead
/// of the AWS chain (environment, profile, SSO, IMDS).
#[derive(Clone)]
pub struct S3Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "** redacted **"),
            )
            .finish()
    }
}

/// How to reach the bucket.
#[derive(Debug, Clone)]
pub struct S3Options {
    /// `None`: the standard AWS credential chain.
    pub credentials: Option<S3Credentials>,
    /// Overrides `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`.
    pub endpoint_url: Option<String>,
    /// Overrides the AWS chain; without either, `us-east-1`.
    pub region: Option<String>,
    /// `None`: path-style for custom endpoints, virtual-hosted for AWS.
    pub path_style: Option<bool>,
    pub retry: RetryPolicy,
    /// Objects larger than this go up in parts.
    pub multipart_threshold: usize,
    /// Part size (S3: at least 5 MiB but the last part).
    pub part_size: usize,
    /// Establishing a connection (TCP, and TLS for https).
    pub connect_timeout: Duration,
    /// One attempt of a request without a large body (HeadBucket, HEAD of
    /// an object, a listing, creating or aborting a multipart upload, the
    /// headers of a download), from sending it to the answer's headers.
    /// Short: an endpoint that accepts connections and never answers fails
    /// the preflight within seconds.
    pub request_timeout: Duration,
    /// Waiting for the answer once a body is sent, and the longest pause
    /// allowed while a download streams in.
    pub first_byte_timeout: Duration,
    /// The slowest upload still taken for progress, in bytes per second:
    /// one attempt of a PUT, a part or a completion gets
    /// `first_byte_timeout + bytes / min_transfer_rate`, never a short
    /// fixed limit (a 8 MiB part at this rate: 4 min 46 s).
    pub min_transfer_rate: u64,
    /// `s3://` inputs larger than this are refused before any download.
    pub max_input_bytes: u64,
}

/// The S3 minimum part size.
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;

/// The default largest `s3://` input: 32 GiB, beyond a six-hour 8-channel
/// 48 kHz 24-bit WAV (25 GB), the longest input the default limits allow.
pub const DEFAULT_MAX_INPUT_BYTES: u64 = 32 << 30;

/// How much of an `s3://` input is read first (one ranged GET) to check its
/// header against the limits before the whole object is downloaded.
pub const INPUT_HEAD_BYTES: u64 = 64 * 1024;

impl Default for S3Options {
    fn default() -> Self {
        S3Options {
            credentials: None,
            endpoint_url: None,
            region: None,
            path_style: None,
            retry: RetryPolicy::default(),
            multipart_threshold: 16 * 1024 * 1024,
            part_size: 8 * 1024 * 1024,
            connect_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(3),
            first_byte_timeout: Duration::from_secs(30),
            min_transfer_rate: 32 * 1024,
            max_input_bytes: DEFAULT_MAX_INPUT_BYTES,
        }
    }
}

impl S3Options {
    /// Checks the options before any client is built: part sizes, timeouts,
    /// and the endpoint (`--endpoint-url`, else `AWS_ENDPOINT_URL_S3`, else
    /// `AWS_ENDPOINT_URL`) must be an `http://` or `https://` URL with a
    /// host. Errors are usage errors.
    pub fn validate(&self) -> Result<(), PublishError> {
        if self.part_size < MIN_PART_SIZE || self.multipart_threshold < self.part_size {
            return Err(PublishError::Config(format!(
                "part size {} B must be at least {MIN_PART_SIZE} B and at most the multipart threshold ({} B)",
                self.part_size, self.multipart_threshold
            )));
        }
        let timeouts = [
            self.connect_timeout,
            self.request_timeout,
            self.first_byte_timeout,
        ];
        if timeouts.iter().any(Duration::is_zero) || self.min_transfer_rate == 0 {
            return Err(PublishError::Config(
                "storage timeouts and the minimum transfer rate must be positive".into(),
            ));
        }
        match &self.endpoint_url {
            Some(url) => check_endpoint("--endpoint-url", url),
            None => {
                for var in ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"] {
                    if let Some(url) = std::env::var_os(var).filter(|v| !v.is_empty()) {
                        return check_endpoint(var, &url.to_string_lossy());
                    }
                }
                Ok(())
            }
        }
    }
}

/// An endpoint is `http(s)://host[:port][/path]`: no other scheme (a
/// `file://` URL would otherwise surface as an unreachable endpoint), no
/// user info (it would end up in messages), no query or fragment.
fn check_endpoint(source: &str, url: &str) -> Result<(), PublishError> {
    let refuse = |why: &str| {
        Err(PublishError::Config(format!(
            "{source} {}: {why}",
            url.escape_debug()
        )))
    };
    if url.contains('@') {
        // Not echoed: the part before '@' may be a password.
        return Err(PublishError::Config(format!(
            "{source}: user info in the endpoint URL (credentials come from the AWS chain)"
        )));
    }
    let lower = url.to_ascii_lowercase();
    let Some(rest) = ["http://", "https://"]
        .iter()
        .find_map(|scheme| lower.strip_prefix(scheme).map(|_| &url[scheme.len()..]))
    else {
        return refuse("the endpoint must be an http:// or https:// URL");
    };
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return refuse("whitespace or a control character in the URL");
    }
    let authority = rest.split('/').next().unwrap_or("");
    if rest.contains(['?', '#']) {
        return refuse("a query or fragment in the endpoint URL");
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((addr, port)) if !addr.is_empty() => (addr, port.strip_prefix(':')),
            _ => return refuse("malformed IPv6 host"),
        },
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | ':'));
    if !host_ok {
        return refuse("no valid host in the endpoint URL");
    }
    if let Some(port) = port
        && !port.parse::<u16>().is_ok_and(|p| p > 0)
    {
        return refuse("invalid port in the endpoint URL");
    }
    Ok(())
}

pub struct S3Store {
    client: Client,
    url: S3Url,
    options: S3Options,
    retries: AtomicU64,
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
                    Err(Failure::Permanent(
                        StoreErrorKind::Failed,
                        "over the maximum input size".into(),
                    ))
                }
                Err(Download::Local(e)) => {
                    let message = e.to_string();
                    if let Ok(mut slot) = local_failure.lock() {
                        *slot = Some(e);
                    }
                    Err(Failure::Permanent(StoreErrorKind::Failed, message))
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
                Err(e) => return Err(classify(&e)),
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
                        return Err(Failure::Transient(
                            StoreErrorKind::Failed,
                            one_line(&format!("download interrupted: {e}")),
                        ));
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
            .map_err(|e| Download::Remote(classify(&e)))?;
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
                    return Err(Download::Remote(Failure::Transient(
                        StoreErrorKind::Failed,
                        one_line(&format!("download interrupted: {e}")),
                    )));
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
    Failure::Transient(
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

/// The causes of an SDK error, outermost first, joined with `: ` on one
/// line: each cause's `Display` only (the SDK's `DisplayErrorContext` adds
/// a `Debug` dump of the whole error, with the credential chain's every
/// attempt on its own line), skipping causes that repeat what is already
/// said, capped in length.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    const MAX_CHARS: usize = 300;
    let mut text = one_line(&e.to_string());
    let mut source = e.source();
    while let Some(cause) = source {
        let part = one_line(&cause.to_string());
        if !part.is_empty() && !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    if text.chars().count() > MAX_CHARS {
        text = text.chars().take(MAX_CHARS).collect::<String>() + "…";
    }
    text
}

/// One line for a credential failure: what the chain said first (for a
/// missing key: "no credentials found in chain"), without the list of
/// every provider it tried, and where credentials come from.
fn credentials_message(chain: &str) -> String {
    let said = chain
        .split(" Attempted:")
        .next()
        .unwrap_or(chain)
        .trim_start_matches("dispatch failure: ")
        .trim_start_matches("other: ")
        .trim_end_matches(['.', ' ']);
    format!(
        "no usable credentials ({said}): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, \
         or AWS_PROFILE, or use an instance or container role"
    )
}

/// Error texts of the SDK and the HTTP stack span several lines (one per
/// cause); a message is one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn status<E, R: HasStatus>(e: &SdkError<E, R>) -> Option<u16> {
    e.raw_response().map(HasStatus::status_code)
}

trait HasStatus {
    fn status_code(&self) -> u16;
}

impl HasStatus for aws_sdk_s3::config::http::HttpResponse {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

fn error_code<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> Option<&str> {
    match e {
        SdkError::ServiceError(ctx) => ctx.err().code(),
        _ => None,
    }
}

const CREDENTIAL_CODES: &[&str] = &[
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "NotSignedUp",
    "InvalidToken",
    "ExpiredToken",
    "TokenRefreshRequired",
    "InvalidSecurity",
    "AuthorizationHeaderMalformed",
];

const TRANSIENT_CODES: &[&str] = &[
    "SlowDown",
    "RequestTimeout",
    "InternalError",
    "ServiceUnavailable",
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "OperationAborted",
];

/// Sorts a failed request into "try again" or "give up, because …".
fn classify<E>(e: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let text = error_chain(e);
    match e {
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            let code = ctx.err().code();
            // The server's words, on one line whatever it sent.
            let message = one_line(&match (code, ctx.err().message()) {
                (Some(c), Some(m)) => format!("{status} {c}: {m}"),
                (Some(c), None) => format!("{status} {c}"),
                _ => format!("HTTP {status}"),
            });
            if code.is_some_and(|c| TRANSIENT_CODES.contains(&c))
                || status >= 500
                || status == 429
                || status == 408
            {
                Failure::Transient(StoreErrorKind::Failed, message)
            } else if code.is_some_and(|c| CREDENTIAL_CODES.contains(&c)) {
                Failure::Permanent(
                    StoreErrorKind::Credentials,
                    format!("credentials rejected ({message})"),
                )
            } else if status == 403 {
                Failure::Permanent(
                    StoreErrorKind::AccessDenied,
                    format!("access denied ({message})"),
                )
            } else if code == Some("NoSuchBucket") {
                Failure::Permanent(
                    StoreErrorKind::NoSuchBucket,
                    "the bucket does not exist".into(),
                )
            } else if code == Some("NoSuchKey") || status == 404 {
                Failure::Permanent(StoreErrorKind::NoSuchKey, "no such object".into())
            } else if status == 301 || code == Some("PermanentRedirect") {
                Failure::Permanent(
                    StoreErrorKind::Failed,
                    format!("{message} (the bucket is in another region: set --region)"),
                )
            } else {
                Failure::Permanent(StoreErrorKind::Failed, message)
            }
        }
        _ if text.to_ascii_lowercase().contains("credential") => {
            Failure::Permanent(StoreErrorKind::Credentials, credentials_message(&text))
        }
        SdkError::TimeoutError(_) => {
            Failure::Transient(StoreErrorKind::Unreachable, format!("timed out ({text})"))
        }
        SdkError::DispatchFailure(d) if d.is_io() || d.is_timeout() || d.is_other() => {
            Failure::Transient(
                StoreErrorKind::Unreachable,
                format!("cannot reach the endpoint ({text})"),
            )
        }
        SdkError::ResponseError(_) => {
            Failure::Transient(StoreErrorKind::Failed, format!("bad response ({text})"))
        }
        _ => Failure::Permanent(StoreErrorKind::Failed, text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_http_urls_with_a_host() {
        for good in [
            "http://127.0.0.1:9000",
            "https://minio.example:9000/",
            "HTTPS://s3.eu-west-1.amazonaws.com",
            "http://[::1]:9000",
            "https://gateway.example/s3",
        ] {
            assert!(check_endpoint("--endpoint-url", good).is_ok(), "{good}");
        }
        for bad in [
            "file:///tmp/bucket",
            "ftp://host",
            "127.0.0.1:9000",
            "http://",
            "http:///path",
            "http://host:99999",
            "http://host:port",
            "http://user:secret@host",
            "http://host?x=1",
            "http://ho st",
            "http://host\n",
            "http://[::1",
        ] {
            let err = check_endpoint("--endpoint-url", bad).err();
            assert!(
                matches!(err, Some(PublishError::Config(_))),
                "{bad:?}: {err:?}"
            );
            let text = err.map(|e| e.to_string()).unwrap_or_default();
            assert!(!text.contains('\n') && !text.contains("secret"), "{text}");
        }
    }

    #[test]
    fn options_refuse_a_zero_rate() {
        let options = S3Options::default();
        assert!(options.validate().is_ok());
        let bad = S3Options {
            min_transfer_rate: 0,
            ..S3Options::default()
        };
        assert!(matches!(bad.validate(), Err(PublishError::Config(_))));
    }

    #[test]
    fn messages_are_one_line() {
        assert_eq!(one_line("a\n  b\r\n\tc "), "a b c");
    }
}
