//! Timeouts, input limits and local failures, against a real S3-compatible
//! server (s3s-fs, in process) through the testkit's proxy, or against an
//! endpoint that accepts connections and never answers.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use audiopack_pipeline::{IngestConfig, JobErrorKind};
use audiopack_publish::{
    INPUT_HEAD_BYTES, ObjectStore, PublishError, PublishErrorKind, S3Options, StoreErrorKind,
    fetch_input, fetch_input_checked,
};
use audiopack_testkit::{FaultProxy, S3Server, StalledEndpoint, no_faults};
use common::*;

#[test]
fn a_stalled_endpoint_fails_the_preflight_quickly_as_unreachable() {
    let stalled = StalledEndpoint::start().expect("stalled endpoint");
    let started = Instant::now();
    let err = runtime().block_on(async {
        let store = store(options(&stalled.endpoint())).await;
        store.preflight(true).await.expect_err("nobody answers")
    });
    let took = started.elapsed();
    eprintln!("stalled endpoint: preflight gave up after {took:?}: {err}");
    assert_eq!(
        err.kind(),
        PublishErrorKind::Store(StoreErrorKind::Unreachable),
        "{err}"
    );
    assert!(took < Duration::from_secs(15), "took {took:?}");
    assert!(stalled.connections() >= 1, "the endpoint was never tried");
    assert!(!err.to_string().contains('\n'), "{err}");
}

#[test]
fn a_slow_but_progressing_multipart_upload_is_not_cut_short() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = server(tmp.path());
    let proxy = FaultProxy::start(server.addr(), no_faults()).expect("proxy");
    // 1 MiB/s: the first 5 MiB part takes about 5 s to send, longer than
    // a request without a body may take (3 s), and the answer comes only
    // after that.
    proxy.set_read_rate(Some(MIB as u64));
    let bytes = noise(6 * MIB, 9);
    let options = S3Options {
        request_timeout: Duration::from_secs(3),
        first_byte_timeout: Duration::from_secs(2),
        ..options(&proxy.endpoint())
    };
    let started = Instant::now();
    let retries = runtime().block_on(async {
        let store = store(options).await;
        put_expecting(&store, "flac.mp4", &bytes, None)
            .await
            .expect("a slow upload that progresses succeeds");
        store.retries()
    });
    let took = started.elapsed();
    eprintln!("6 MiB in two parts at 1 MiB/s: {took:?}, {retries} retries");
    assert!(
        took > Duration::from_secs(5),
        "the proxy did not slow it: {took:?}"
    );
    assert_eq!(retries, 0, "an attempt was cut short and retried");
    let stored = std::fs::read(server.object_path(BUCKET, "track/flac.mp4")).expect("stored");
    assert!(stored == bytes, "stored bytes differ");
}

/// A WAV header declaring 8 kHz mono 16-bit with `data_bytes` of samples,
/// followed by `actual` bytes of silence.
fn wav(data_bytes: u32, actual: usize) -> Vec<u8> {
    let mut w = Vec::with_capacity(44 + actual);
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&data_bytes.saturating_add(36).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes()); // PCM
    w.extend_from_slice(&1u16.to_le_bytes()); // mono
    w.extend_from_slice(&8000u32.to_le_bytes());
    w.extend_from_slice(&16000u32.to_le_bytes());
    w.extend_from_slice(&2u16.to_le_bytes());
    w.extend_from_slice(&16u16.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&data_bytes.to_le_bytes());
    w.resize(44 + actual, 0);
    w
}

fn upload(server: &S3Server, key: &str, bytes: &[u8]) {
    let path = server.object_path(BUCKET, key);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, bytes).expect("upload");
}

/// The test server over `root/s3` holding `bytes` at `key`, a proxy in
/// front of it, and an empty spool directory `root/spool`.
fn serving(root: &Path, key: &str, bytes: &[u8]) -> (S3Server, FaultProxy, PathBuf) {
    let server = server(&root.join("s3"));
    upload(&server, key, bytes);
    let proxy = FaultProxy::start(server.addr(), no_faults()).expect("proxy");
    let dir = root.join("spool");
    std::fs::create_dir_all(&dir).expect("spool");
    (server, proxy, dir)
}

#[test]
fn an_input_whose_header_is_over_the_limits_is_refused_before_the_download() {
    let tmp = tempfile::tempdir().expect("tmp");
    // 4 GB of 8 kHz 16-bit mono declared: 74 h, over the 6 h limit; the
    // object itself is 48 MiB.
    let object = wav(0xFFFF_0000, 48 * MIB);
    let (server, proxy, dir) = serving(tmp.path(), "uploads/long.wav", &object);
    let started = Instant::now();
    let result = runtime().block_on(fetch_input_checked(
        "s3://origin/uploads/long.wav",
        &options(&proxy.endpoint()),
        &dir,
        &IngestConfig::default(),
    ));
    let took = started.elapsed();
    let served = proxy.stats().response_bytes;
    eprintln!("over-limit header: refused after {took:?}, {served} bytes served: {result:?}");
    let err = result.expect_err("over the limits");
    assert_eq!(
        err.kind(),
        PublishErrorKind::Job(JobErrorKind::Limit),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("s3://origin/uploads/long.wav") && text.contains("at most"),
        "{text}"
    );
    assert!(
        served < INPUT_HEAD_BYTES + 16 * 1024,
        "{served} bytes downloaded to refuse it"
    );
    assert!(!dir.join("long.wav").exists(), "nothing downloaded");

    // The same object within the limits it declares is fetched whole.
    let ok = wav(48 * MIB as u32, 48 * MIB);
    upload(&server, "uploads/ok.wav", &ok);
    let path = runtime()
        .block_on(fetch_input_checked(
            "s3://origin/uploads/ok.wav",
            &options(&proxy.endpoint()),
            &dir,
            &IngestConfig::default(),
        ))
        .expect("within the limits");
    assert!(std::fs::read(path).expect("downloaded") == ok);
}

#[test]
fn an_input_larger_than_the_maximum_size_is_refused_before_the_download() {
    let tmp = tempfile::tempdir().expect("tmp");
    let (_server, proxy, dir) = serving(tmp.path(), "uploads/big.bin", &noise(12 * MIB, 3));
    let err = runtime()
        .block_on(fetch_input(
            "s3://origin/uploads/big.bin",
            &S3Options {
                max_input_bytes: 10 * MIB as u64,
                ..options(&proxy.endpoint())
            },
            &dir,
        ))
        .expect_err("over the maximum size");
    let served = proxy.stats().response_bytes;
    assert_eq!(
        err.kind(),
        PublishErrorKind::Job(JobErrorKind::Limit),
        "{err}"
    );
    assert!(err.to_string().contains("12582912 bytes"), "{err}");
    assert!(
        served < INPUT_HEAD_BYTES + 16 * 1024,
        "{served} bytes served"
    );
}

#[test]
fn a_full_local_disk_while_downloading_is_local_io_and_not_retried() {
    if !Path::new("/dev/full").exists() {
        panic!("/dev/full is needed to simulate a full disk");
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let (_server, proxy, dir) = serving(tmp.path(), "uploads/song.flac", &noise(3 * MIB, 5));
    // The download lands on /dev/full: every write fails with ENOSPC, as on
    // a full TMPDIR.
    std::os::unix::fs::symlink("/dev/full", dir.join("song.flac")).expect("symlink");
    let started = Instant::now();
    let err = runtime()
        .block_on(fetch_input(
            "s3://origin/uploads/song.flac",
            &options(&proxy.endpoint()),
            &dir,
        ))
        .expect_err("the disk is full");
    let took = started.elapsed();
    let requests = proxy.stats().requests;
    eprintln!("full disk: {err} after {took:?}, {requests} requests");
    assert_eq!(err.kind(), PublishErrorKind::Io, "{err}");
    assert!(matches!(err, PublishError::Local { .. }), "{err:?}");
    // The ranged GET of the head, then one GET: no retry.
    assert_eq!(requests, 2, "a local failure was retried");
    assert!(took < Duration::from_secs(5), "took {took:?}");
}
