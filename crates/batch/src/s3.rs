//! What a batch asks of S3 beyond what a job does: list a prefix (the
//! `--from` catalog, a package's objects for the skip check), read a
//! small object (a package's `report.json`), hash an input object without
//! storing it. One client, built from the same [`S3Options`] as the jobs'
//! (endpoint, region, credentials, path-style, timeouts), and shared with
//! the batch's stores ([`S3Store::from_client`]).

use std::collections::BTreeMap;

use audiopack::{Error, PublishError, S3Options, S3Store, StoreError, StoreErrorKind};
use aws_config::retry::RetryConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use sha2::{Digest, Sha256};

/// `s3://bucket/prefix/` split (the URL was checked by the job builder or
/// is checked here by [`split_url`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct S3Location {
    pub bucket: String,
    /// Empty or ending in `/`.
    pub prefix: String,
}

impl S3Location {
    pub(crate) fn url(&self, relative: &str) -> String {
        format!("s3://{}/{}{relative}", self.bucket, self.prefix)
    }
}

/// Splits `s3://bucket/prefix` into the bucket and a directory-like prefix.
pub(crate) fn split_url(url: &str) -> Option<S3Location> {
    let rest = url.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return None;
    }
    let mut prefix = prefix.to_string();
    if !prefix.is_empty() && !prefix.ends_with('/') {
        prefix.push('/');
    }
    Some(S3Location {
        bucket: bucket.to_string(),
        prefix,
    })
}

/// A client configured as `S3Store::connect` configures the jobs' (a few
/// SDK retries for these small requests).
pub(crate) async fn client(options: &S3Options) -> Result<Client, Error> {
    Ok(S3Store::client_for(options, RetryConfig::standard().with_max_attempts(3)).await?)
}

/// A store writing below `location` + `relative` through `client`.
pub(crate) fn store(
    client: &Client,
    location: &S3Location,
    relative: &str,
    options: &S3Options,
) -> Result<S3Store, Error> {
    let store = S3Store::from_client(
        client.clone(),
        location.bucket.clone(),
        format!("{}{relative}", location.prefix),
    )?;
    Ok(store.with_options(options.clone())?)
}

fn storage_error<E>(target: &str, action: &str, e: &SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let (kind, said) = match e {
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            let code = ctx.err().code().unwrap_or("");
            let said = match ctx.err().message() {
                Some(m) => format!("{status} {code}: {m}"),
                None => format!("{status} {code}"),
            };
            let kind = match code {
                "NoSuchBucket" => StoreErrorKind::NoSuchBucket,
                "NoSuchKey" => StoreErrorKind::NoSuchKey,
                "InvalidAccessKeyId"
                | "SignatureDoesNotMatch"
                | "InvalidToken"
                | "ExpiredToken" => StoreErrorKind::Credentials,
                _ if status == 403 => StoreErrorKind::AccessDenied,
                _ => StoreErrorKind::Failed,
            };
            (kind, said)
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => {
            let mut said = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                said.push_str(&format!(": {s}"));
                source = s.source();
            }
            (StoreErrorKind::Unreachable, said)
        }
        _ => (StoreErrorKind::Failed, e.to_string()),
    };
    let said = said.split_whitespace().collect::<Vec<_>>().join(" ");
    Error::from(PublishError::Store(StoreError::new(
        kind,
        target,
        format!("{action}: {said}"),
    )))
}

/// Every key below `location` (recursively) with its size.
pub(crate) async fn list(
    client: &Client,
    location: &S3Location,
) -> Result<BTreeMap<String, u64>, Error> {
    let mut keys = BTreeMap::new();
    let mut token = None;
    loop {
        let answer = client
            .list_objects_v2()
            .bucket(&location.bucket)
            .prefix(&location.prefix)
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(|e| storage_error(&location.url(""), "listing", &e))?;
        for object in answer.contents() {
            if let Some(key) = object.key() {
                let size = object.size().unwrap_or(0).max(0) as u64;
                keys.insert(key.to_string(), size);
            }
        }
        match answer.next_continuation_token() {
            Some(next) if answer.is_truncated().unwrap_or(false) => token = Some(next.to_string()),
            _ => break,
        }
    }
    Ok(keys)
}

/// The bytes of a small object, `None` when there is none; anything over
/// `max_bytes` is refused as not ours.
pub(crate) async fn get_small(
    client: &Client,
    bucket: &str,
    key: &str,
    max_bytes: u64,
) -> Result<Option<Vec<u8>>, Error> {
    let target = format!("s3://{bucket}/{key}");
    let answer = match client.get_object().bucket(bucket).key(key).send().await {
        Ok(answer) => answer,
        Err(SdkError::ServiceError(ctx)) if ctx.raw().status().as_u16() == 404 => return Ok(None),
        Err(e) => return Err(storage_error(&target, "reading", &e)),
    };
    if answer.content_length().unwrap_or(0).max(0) as u64 > max_bytes {
        return Ok(None);
    }
    let bytes = answer.body.collect().await.map_err(|e| {
        Error::from(PublishError::Store(StoreError::new(
            StoreErrorKind::Failed,
            &target,
            format!("reading: {e}"),
        )))
    })?;
    Ok(Some(bytes.into_bytes().to_vec()))
}

/// Hex SHA-256 of an object's bytes, streamed (nothing stored).
pub(crate) async fn object_sha256(client: &Client, url: &str) -> Result<String, Error> {
    let Some(location) = url
        .strip_prefix("s3://")
        .and_then(|rest| rest.split_once('/'))
    else {
        return Err(Error::from(audiopack::ConfigError::new(
            "input",
            url,
            "s3://bucket/key",
        )));
    };
    let answer = client
        .get_object()
        .bucket(location.0)
        .key(location.1)
        .send()
        .await
        .map_err(|e| storage_error(url, "reading", &e))?;
    let mut body = answer.body;
    let mut hasher = Sha256::new();
    while let Some(chunk) = body.try_next().await.map_err(|e| {
        Error::from(PublishError::Store(StoreError::new(
            StoreErrorKind::Failed,
            url,
            format!("reading: {e}"),
        )))
    })? {
        hasher.update(&chunk);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}
