//! Shared helpers: an aws-sdk-s3 client configured the way `audiopack-publish`
//! talks to S3-compatible storage (path-style, plain http, no retries).

#![allow(dead_code)] // each test file uses a different subset

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{
    Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::operation::put_object::{PutObjectError, PutObjectOutput};
use aws_sdk_s3::primitives::ByteStream;

/// The key pair the test servers accept.
pub const ACCESS_KEY: &str = "AKIATESTKIT";
/// The secret of [`ACCESS_KEY`].
pub const SECRET_KEY: &str = "testkit-secret-key";
/// The bucket the tests create.
pub const BUCKET: &str = "media";

/// A runtime for driving the async client from a plain `#[test]`.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime starts")
}

/// A client for `endpoint` with the given secret.
pub async fn client_with_secret(endpoint: &str, secret_key: &str) -> Client {
    client_as(endpoint, ACCESS_KEY, secret_key).await
}

/// A client for `endpoint` signing with the given key pair.
pub async fn client_as(endpoint: &str, access_key: &str, secret_key: &str) -> Client {
    refuse_proxy_env();
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            access_key, secret_key, None, None, "static",
        ))
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
        .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
        .retry_config(RetryConfig::disabled())
        // A broken proxy must fail a test, not hang it.
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(Duration::from_secs(30))
                .build(),
        )
        .load()
        .await;
    Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    )
}

/// A client for `endpoint` with the test key pair.
pub async fn client(endpoint: &str) -> Client {
    client_with_secret(endpoint, SECRET_KEY).await
}

/// PUTs `body` at `key` in [`BUCKET`].
pub async fn put(
    client: &Client,
    key: &str,
    body: &[u8],
) -> Result<PutObjectOutput, SdkError<PutObjectError>> {
    client
        .put_object()
        .bucket(BUCKET)
        .key(key)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
}

/// The default HTTP client honours `HTTP_PROXY`/`ALL_PROXY`; through a real
/// proxy our 127.0.0.1 endpoints would be unreachable or, worse, reach
/// something else. Fail with the fix instead of a confusing error.
fn refuse_proxy_env() {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty());
    let proxied = ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
        .iter()
        .any(|name| set(name));
    let bypassed = ["NO_PROXY", "no_proxy"].iter().any(|name| {
        std::env::var(name).is_ok_and(|v| v.split(',').any(|h| h.trim() == "127.0.0.1"))
    });
    assert!(
        !proxied || bypassed,
        "an HTTP proxy is configured in the environment; set NO_PROXY=127.0.0.1,localhost to run these tests"
    );
}
