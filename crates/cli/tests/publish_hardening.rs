//! Hardening of `publish` and of `ingest` with storage (issue 9): what the
//! real binary does against an endpoint that never answers, unusable
//! endpoint URLs and prefixes, missing credentials, destinations that are
//! not directories, and `s3://` inputs over the limits. Storage is a real
//! S3-compatible server (s3s-fs, in process on 127.0.0.1).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use audiopack_testkit::{FaultProxy, S3Server, StalledEndpoint, no_faults};
use common::*;

const AK: &str = "AKIDAUDIOPACKHARD";
const SK: &str = "audiopack-hardening-secret";
const BUCKET: &str = "origin";

/// `audiopack` with nothing from the machine's AWS setup, and the test
/// server's key pair unless `credentials` is false.
fn s3_bin(credentials: bool) -> Command {
    let mut c = bin();
    for var in [
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_SESSION_TOKEN",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
    ] {
        c.env_remove(var);
    }
    if credentials {
        c.env("AWS_ACCESS_KEY_ID", AK)
            .env("AWS_SECRET_ACCESS_KEY", SK);
    }
    c.env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent/audiopack-test")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/audiopack-test")
        .env("NO_PROXY", "127.0.0.1,localhost");
    c
}

fn s3_run(endpoint: &str, args: &[&str]) -> Output {
    s3_bin(true)
        .args(args)
        .args(["--endpoint-url", endpoint])
        .output()
        .expect("running audiopack")
}

/// Asserts the run failed with `code` and said so on one line; returns it.
fn assert_exit(out: &Output, code: i32) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert_eq!(err.lines().count(), 1, "one line expected: {err:?}");
    assert!(err.starts_with("error: "), "{err}");
    err
}

/// A small package (one Opus rung, no lossless tier).
fn package(dir: &Path) -> PathBuf {
    let out = dir.join("pkg");
    ingest_json(
        &fixture("demo.flac"),
        &out,
        &["--no-lossless", "--ladder", "64"],
    );
    out
}

fn server(dir: &Path) -> S3Server {
    let server = S3Server::start(&dir.join("s3"), AK, SK).expect("server");
    server.create_bucket(BUCKET).expect("bucket");
    server
}

#[test]
fn a_stalled_endpoint_is_exit_10_within_15_seconds() {
    let tmp = tempfile::tempdir().expect("tmp");
    let pkg = package(tmp.path());
    let stalled = StalledEndpoint::start().expect("stalled endpoint");
    let started = Instant::now();
    let out = s3_run(
        &stalled.endpoint(),
        &[
            "publish",
            pkg.to_str().expect("utf8"),
            "--out",
            "s3://origin/x/",
        ],
    );
    let took = started.elapsed();
    let err = assert_exit(&out, 10);
    eprintln!("stalled endpoint: exit 10 after {took:?}: {err}");
    assert!(took < Duration::from_secs(15), "took {took:?}");
    assert!(
        err.contains("s3://origin") && err.contains("timed out"),
        "{err}"
    );
    assert!(stalled.connections() >= 1, "never connected");

    // ingest to S3 checks the destination before encoding: the same.
    let started = Instant::now();
    let out = s3_run(
        &stalled.endpoint(),
        &[
            "ingest",
            fixture("demo.flac").to_str().expect("utf8"),
            "--out",
            "s3://origin/y/",
        ],
    );
    let took = started.elapsed();
    assert_exit(&out, 10);
    assert!(took < Duration::from_secs(15), "ingest took {took:?}");
}

#[test]
fn endpoint_urls_and_prefixes_that_cannot_work_are_usage_errors() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = server(tmp.path());
    let demo = fixture("demo.flac");
    let demo = demo.to_str().expect("utf8");
    for endpoint in [
        "file:///tmp/bucket",
        "ftp://127.0.0.1:21",
        "http://",
        "127.0.0.1:9000",
    ] {
        let started = Instant::now();
        let out = s3_run(endpoint, &["ingest", demo, "--out", "s3://origin/x/"]);
        let err = assert_exit(&out, 2);
        assert!(err.contains("--endpoint-url"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    let out = s3_bin(true)
        .env("AWS_ENDPOINT_URL_S3", "file:///tmp/bucket")
        .args(["ingest", demo, "--out", "s3://origin/x/"])
        .output()
        .expect("run");
    let err = assert_exit(&out, 2);
    assert!(err.contains("AWS_ENDPOINT_URL_S3"), "{err}");

    for prefix in [
        "s3://origin/track\nid/",
        "s3://origin/track\r/",
        "s3://origin/a\u{1b}[31m/",
        "s3://origin/./x/",
        "s3://origin/x/../y/",
        "s3://origin/../y/",
        "s3://origin//x/",
        "s3://origin/a//b/",
        "s3://origin/a\\b/",
    ] {
        let out = s3_run(&server.endpoint(), &["ingest", demo, "--out", prefix]);
        assert_exit(&out, 2);
    }
    // As an input object, too.
    let out = s3_run(
        &server.endpoint(),
        &[
            "ingest",
            "s3://origin/up/../x.flac",
            "--out",
            "s3://origin/x/",
        ],
    );
    assert_exit(&out, 2);
    assert!(server.list_keys(BUCKET).is_empty(), "nothing written");
}

#[test]
fn missing_credentials_are_one_line_and_exit_7() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = server(tmp.path());
    let out = s3_bin(false)
        .args([
            "ingest",
            fixture("demo.flac").to_str().expect("utf8"),
            "--out",
            "s3://origin/x/",
            "--endpoint-url",
            &server.endpoint(),
        ])
        .output()
        .expect("run");
    let err = assert_exit(&out, 7);
    assert!(
        err.contains("s3://origin") && err.contains("no usable credentials"),
        "{err}"
    );
    assert!(
        !err.contains("Attempted") && !err.contains("ProviderChainError") && !err.contains("\\n"),
        "{err}"
    );
    assert!(err.len() < 400, "{} chars: {err}", err.len());
}

#[test]
fn a_destination_that_is_a_file_is_exit_6() {
    let tmp = tempfile::tempdir().expect("tmp");
    let pkg = package(tmp.path());
    let file = pkg.join("report.json");
    let before = std::fs::read(&file).expect("report");
    let out = run(&[
        "publish",
        pkg.to_str().expect("utf8"),
        "--out",
        file.to_str().expect("utf8"),
    ]);
    let err = assert_exit(&out, 6);
    assert!(
        err.contains("report.json") && err.contains("not a directory"),
        "{err}"
    );
    assert_eq!(std::fs::read(&file).expect("report"), before);
}

#[test]
fn an_s3_input_over_the_size_limit_is_exit_5_before_the_download() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = server(tmp.path());
    let object = server.object_path(BUCKET, "uploads/huge.wav");
    std::fs::create_dir_all(object.parent().expect("parent")).expect("mkdir");
    std::fs::write(&object, vec![0u8; 24 << 20]).expect("object");
    let proxy = FaultProxy::start(server.addr(), no_faults()).expect("proxy");
    let out_dir = tmp.path().join("out");
    let started = Instant::now();
    let out = s3_run(
        &proxy.endpoint(),
        &[
            "ingest",
            "s3://origin/uploads/huge.wav",
            "--out",
            out_dir.to_str().expect("utf8"),
            "--max-input-size",
            "16",
        ],
    );
    let took = started.elapsed();
    let err = assert_exit(&out, 5);
    let served = proxy.stats().response_bytes;
    eprintln!("24 MiB object over a 16 MiB limit: {took:?}, {served} bytes served: {err}");
    assert!(
        err.contains("s3://origin/uploads/huge.wav") && err.contains("25165824 bytes"),
        "{err}"
    );
    assert!(
        served < 128 * 1024,
        "{served} bytes downloaded to refuse it"
    );
    assert!(!out_dir.exists());
}
