//! `S3Server` against the real aws-sdk-s3 client, and the `s3-test-server` binary.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use audiopack_testkit::{Grant, S3Server, S3User};
use aws_sdk_s3::error::ProvideErrorMetadata;
use common::{ACCESS_KEY, BUCKET, SECRET_KEY};

#[test]
fn put_get_head_round_trip_lands_on_disk() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = S3Server::start(dir.path(), ACCESS_KEY, SECRET_KEY).expect("server starts");
    server.create_bucket(BUCKET).expect("bucket created");
    let body: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();

    common::runtime().block_on(async {
        let client = common::client(&server.endpoint()).await;
        common::put(&client, "opus_96k/1.m4s", &body)
            .await
            .expect("put succeeds");
        common::put(&client, "master.m3u8", b"#EXTM3U\n")
            .await
            .expect("put succeeds");

        let got = client
            .get_object()
            .bucket(BUCKET)
            .key("opus_96k/1.m4s")
            .send()
            .await
            .expect("get succeeds");
        let bytes = got.body.collect().await.expect("body reads").into_bytes();
        assert_eq!(bytes.as_ref(), body.as_slice());

        let head = client
            .head_object()
            .bucket(BUCKET)
            .key("master.m3u8")
            .send()
            .await
            .expect("head succeeds");
        assert_eq!(head.content_length(), Some(8));

        let missing = client
            .head_object()
            .bucket(BUCKET)
            .key("nope")
            .send()
            .await
            .expect_err("a missing object has no head");
        let status = missing.raw_response().map(|r| r.status().as_u16());
        assert_eq!(status, Some(404));

        let listed = client
            .list_objects_v2()
            .bucket(BUCKET)
            .send()
            .await
            .expect("list succeeds");
        let mut listed: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
        listed.sort_unstable();
        assert_eq!(listed, ["master.m3u8", "opus_96k/1.m4s"]);
    });

    assert_eq!(server.list_keys(BUCKET), ["master.m3u8", "opus_96k/1.m4s"]);
    let on_disk = std::fs::read(server.object_path(BUCKET, "opus_96k/1.m4s")).expect("object file");
    assert_eq!(on_disk, body);
    assert!(server.object_path(BUCKET, "x").starts_with(server.root()));
    assert!(server.list_keys("no-such-bucket").is_empty());
}

#[test]
fn wrong_secret_is_rejected() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = S3Server::start(dir.path(), ACCESS_KEY, SECRET_KEY).expect("server starts");
    server.create_bucket(BUCKET).expect("bucket created");

    common::runtime().block_on(async {
        let client = common::client_with_secret(&server.endpoint(), "wrong-secret").await;
        let err = common::put(&client, "k", b"x")
            .await
            .expect_err("bad signature is refused");
        assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(403));
        assert_eq!(err.code(), Some("SignatureDoesNotMatch"));
    });
    assert!(server.list_keys(BUCKET).is_empty());
}

#[test]
fn grants_deny_what_a_key_may_not_do_with_403_access_denied() {
    let dir = tempfile::tempdir().expect("temp dir");
    let users = [
        S3User::new(ACCESS_KEY, SECRET_KEY, Grant::Full),
        S3User::new("AKIAREADER", "reader-secret", Grant::ReadOnly),
        S3User::new("AKIASTRANGER", "stranger-secret", Grant::Nothing),
    ];
    let server = S3Server::start_with_users(dir.path(), 0, &users).expect("server starts");
    server.create_bucket(BUCKET).expect("bucket created");

    common::runtime().block_on(async {
        let owner = common::client(&server.endpoint()).await;
        common::put(&owner, "k", b"owner wrote this")
            .await
            .expect("a full key writes");

        let reader = common::client_as(&server.endpoint(), "AKIAREADER", "reader-secret").await;
        reader
            .head_bucket()
            .bucket(BUCKET)
            .send()
            .await
            .expect("a reader may HeadBucket");
        let got = reader
            .get_object()
            .bucket(BUCKET)
            .key("k")
            .send()
            .await
            .expect("a reader may GET");
        let bytes = got.body.collect().await.expect("body").into_bytes();
        assert_eq!(bytes.as_ref(), b"owner wrote this");
        let err = common::put(&reader, "k", b"reader overwrote it")
            .await
            .expect_err("a reader may not PUT");
        assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(403));
        assert_eq!(err.code(), Some("AccessDenied"));
        let err = reader
            .create_multipart_upload()
            .bucket(BUCKET)
            .key("big")
            .send()
            .await
            .expect_err("a reader may not start a multipart upload");
        assert_eq!(err.code(), Some("AccessDenied"));

        let stranger =
            common::client_as(&server.endpoint(), "AKIASTRANGER", "stranger-secret").await;
        let err = stranger
            .head_bucket()
            .bucket(BUCKET)
            .send()
            .await
            .expect_err("a stranger may not even HeadBucket");
        assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(403));
        let err = stranger
            .list_objects_v2()
            .bucket(BUCKET)
            .send()
            .await
            .expect_err("nor list");
        assert_eq!(err.code(), Some("AccessDenied"));

        // A key the server does not know is a signature problem, not a
        // permission one.
        let unknown = common::client_as(&server.endpoint(), "AKIAUNKNOWN", "x").await;
        let err = common::put(&unknown, "k", b"x")
            .await
            .expect_err("an unknown key is refused");
        assert_ne!(err.code(), Some("AccessDenied"), "{err:?}");
    });
    assert_eq!(
        std::fs::read(server.object_path(BUCKET, "k")).expect("object"),
        b"owner wrote this"
    );
    assert_eq!(server.list_keys(BUCKET), ["k"]);
}

#[test]
fn create_bucket_refuses_names_s3_would_not_serve() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = S3Server::start(dir.path(), ACCESS_KEY, SECRET_KEY).expect("server starts");
    for bad in ["", "UPPER", "../escape", "a"] {
        let err = server.create_bucket(bad).expect_err("invalid bucket name");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{bad:?}");
    }
    server.create_bucket("ok-bucket").expect("valid name");
    server
        .create_bucket("ok-bucket")
        .expect("creating twice is fine");
}

#[test]
fn drop_stops_the_server_promptly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = S3Server::start(dir.path(), ACCESS_KEY, SECRET_KEY).expect("server starts");
    let addr = server.addr();
    // An open, idle client connection must not keep the server alive.
    let idle = TcpStream::connect(addr).expect("connects while running");

    let started = Instant::now();
    drop(server);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "drop took {:?}",
        started.elapsed()
    );
    assert!(
        TcpStream::connect(addr).is_err(),
        "nothing listens after drop"
    );
    drop(idle);
}

/// Kills the child process when the test ends, pass or fail.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn binary_prints_its_endpoint_and_serves() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("root");
    let mut child = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_s3-test-server"))
            .arg(&root)
            .args([
                "--port",
                "0",
                "--access-key",
                ACCESS_KEY,
                "--secret-key",
                SECRET_KEY,
            ])
            .stdout(Stdio::piped())
            .spawn()
            .expect("binary starts"),
    );
    let stdout = child.0.stdout.take().expect("piped stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("reads the endpoint line");
    let endpoint = line
        .trim_end()
        .strip_prefix("endpoint ")
        .expect("line is `endpoint URL`")
        .to_owned();
    assert!(endpoint.starts_with("http://127.0.0.1:"), "{endpoint}");

    std::fs::create_dir_all(root.join(BUCKET)).expect("bucket dir");
    common::runtime().block_on(async {
        let client = common::client(&endpoint).await;
        common::put(&client, "k", b"served by the binary")
            .await
            .expect("put succeeds");
    });
    let on_disk = std::fs::read(root.join(BUCKET).join("k")).expect("object file");
    assert_eq!(on_disk, b"served by the binary");
}

#[test]
fn binary_rejects_bad_arguments() {
    let output = Command::new(env!("CARGO_BIN_EXE_s3-test-server"))
        .args(["root", "--access-key", "ak"])
        .output()
        .expect("binary runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("missing --secret-key"), "{stderr}");
}
