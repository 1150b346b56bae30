//! Shared setup for the storage tests: the test server's key pair and
//! bucket, a runtime, stores writing `s3://origin/track/`, and noise.
#![allow(dead_code)]

use std::path::Path;

use audiopack_publish::{
    Existing, Expected, PublishError, PutObject, S3Credentials, S3Options, S3Store, S3Url, Store,
    classify, sha256_hex,
};
use audiopack_testkit::S3Server;

pub const AK: &str = "AKIAPUBLISHTEST";
pub const SK: &str = "publish-test-secret";
pub const BUCKET: &str = "origin";
pub const MIB: usize = 1024 * 1024;

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// The test server over `root`, with [`BUCKET`].
pub fn server(root: &Path) -> S3Server {
    let server = S3Server::start(root, AK, SK).expect("server");
    server.create_bucket(BUCKET).expect("bucket");
    server
}

/// Options for `endpoint` with the test key pair, multipart above 5 MiB in
/// 5 MiB parts.
pub fn options(endpoint: &str) -> S3Options {
    S3Options {
        credentials: Some(S3Credentials {
            access_key_id: AK.into(),
            secret_access_key: SK.into(),
            session_token: None,
        }),
        endpoint_url: Some(endpoint.into()),
        multipart_threshold: 5 * MIB,
        part_size: 5 * MIB,
        ..S3Options::default()
    }
}

/// A store writing `s3://origin/track/` with `options`.
pub async fn store(options: S3Options) -> Store {
    let url = S3Url::parse_prefix(&format!("s3://{BUCKET}/track/")).expect("url");
    Store::S3(Box::new(
        S3Store::connect(url, options).await.expect("client"),
    ))
}

/// Writes `bytes` at `relative` expecting what the store holds now, as the
/// publisher does (HEAD, then a conditional PUT).
pub async fn put_expecting(
    store: &Store,
    relative: &str,
    bytes: &[u8],
    seen: Option<&Existing>,
) -> Result<(), PublishError> {
    let (_, meta) = classify(relative, bytes);
    let sha256 = sha256_hex(bytes);
    store
        .put(PutObject {
            relative,
            bytes,
            sha256: &sha256,
            meta: &meta,
            expected: Expected::from_existing(seen),
        })
        .await
}

/// `len` bytes of xorshift noise from `seed`.
pub fn noise(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}
