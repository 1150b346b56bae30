//! Shared setup for the storage tests: the test server's key pair and
//! bucket, a runtime, stores writing `s3://origin/track/`, packages, and
//! noise.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;

use audiopack_publish::{
    Body, Existing, Expected, ObjectStore, PublishError, PutObject, S3Credentials, S3Options,
    S3Store, S3Url, classify, sha256_hex,
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
pub async fn store(options: S3Options) -> S3Store {
    let url = S3Url::parse_prefix(&format!("s3://{BUCKET}/track/")).expect("url");
    S3Store::connect(url, options).await.expect("client")
}

/// Writes `bytes` at `relative` expecting what the store holds now, as the
/// publisher does (HEAD, then a conditional PUT).
pub async fn put_expecting(
    store: &dyn ObjectStore,
    relative: &str,
    bytes: &[u8],
    seen: Option<&Existing>,
) -> Result<(), PublishError> {
    let (_, meta) = classify(relative, bytes);
    let sha256 = sha256_hex(bytes);
    store
        .put(PutObject {
            relative,
            body: &Body::from(bytes.to_vec()),
            sha256: &sha256,
            meta: &meta,
            expected: Expected::from_existing(seen),
            cancel: None,
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

/// Writes `len` bytes of noise from `seed` to `path` in 1 MiB pieces
/// (never the whole file in memory); returns its hex SHA-256.
pub fn write_noise_file(path: &Path, len: usize, seed: u32) -> String {
    use sha2::Digest;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let mut hasher = sha2::Sha256::new();
    let mut left = len;
    let mut piece = 0u32;
    while left > 0 {
        let n = left.min(MIB);
        let bytes = noise(n, seed.wrapping_mul(7919).wrapping_add(piece));
        hasher.update(&bytes);
        file.write_all(&bytes).expect("write");
        left -= n;
        piece += 1;
    }
    file.flush().expect("flush");
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The playlists, manifest and report of a small package.
pub const MEDIA_PLAYLIST: &str = "#EXTM3U\n#EXT-X-MAP:URI=\"opus_64k/init.mp4\"\n#EXTINF:6.0,\nopus_64k/1.m4s\n#EXTINF:6.0,\nopus_64k/2.m4s\n#EXT-X-ENDLIST\n";
pub const MASTER_PLAYLIST: &str =
    "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=64000,CODECS=\"opus\"\nopus_64k.m3u8\n";

/// Writes a package at `dir`: an Opus rendition (init and two segments),
/// its media playlist, a master playlist, an MPD, `extra` media files
/// (path, size in bytes: noise written in pieces), and a `report.json`
/// listing them all with their sizes.
pub fn write_package(dir: &Path, extra: &[(&str, usize)]) {
    let mut files: Vec<(String, u64)> = Vec::new();
    let mut put = |relative: &str, bytes: &[u8]| {
        let path = dir.join(relative);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, bytes).expect("write");
        files.push((relative.to_string(), bytes.len() as u64));
    };
    put("opus_64k/init.mp4", &noise(700, 11));
    put("opus_64k/1.m4s", &noise(30_000, 12));
    put("opus_64k/2.m4s", &noise(29_000, 13));
    put("opus_64k.m3u8", MEDIA_PLAYLIST.as_bytes());
    put("master.m3u8", MASTER_PLAYLIST.as_bytes());
    put("manifest.mpd", b"<?xml version=\"1.0\"?>\n<MPD/>\n");
    for (i, (relative, len)) in extra.iter().enumerate() {
        write_noise_file(&dir.join(relative), *len, 100 + i as u32);
        files.push((relative.to_string(), *len as u64));
    }
    let listed: Vec<serde_json::Value> = files
        .iter()
        .map(|(path, bytes)| serde_json::json!({ "path": path, "bytes": bytes }))
        .collect();
    let report = serde_json::json!({
        "tool": { "name": "audiopack" },
        "format_version": 1,
        "files": listed,
    });
    std::fs::write(
        dir.join("report.json"),
        serde_json::to_vec_pretty(&report).expect("json"),
    )
    .expect("report");
}
