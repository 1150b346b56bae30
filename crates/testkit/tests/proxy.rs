//! `FaultProxy` between the real aws-sdk-s3 client and `S3Server`.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use audiopack_testkit::{Fault, FaultPlan, FaultProxy, RequestInfo, S3Server, no_faults};
use aws_config::retry::ErrorKind;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use common::{ACCESS_KEY, BUCKET, SECRET_KEY};
use tempfile::TempDir;

/// A server with [`BUCKET`], and a proxy in front of it.
struct Setup {
    server: S3Server,
    proxy: FaultProxy,
    _dir: TempDir,
}

fn setup(plan: FaultPlan) -> Setup {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = S3Server::start(dir.path(), ACCESS_KEY, SECRET_KEY).expect("server starts");
    server.create_bucket(BUCKET).expect("bucket created");
    let proxy = FaultProxy::start(server.addr(), plan).expect("proxy starts");
    Setup {
        server,
        proxy,
        _dir: dir,
    }
}

/// A plan failing the first attempt of every PUT with `fault`.
fn first_put(fault: Fault) -> FaultPlan {
    Arc::new(move |r: &RequestInfo| (r.method == "PUT" && r.attempt == 1).then_some(fault))
}

/// Asserts that `err` is a lost connection: aws-sdk-s3 reports a connection
/// closed before the response (hyper `IncompleteMessage`) as a dispatch
/// failure of kind "other: transient", and a reset one as an I/O dispatch
/// failure. Either way the client cannot know whether the request landed.
fn assert_connection_lost<E: std::fmt::Debug>(err: &SdkError<E>) {
    match err {
        SdkError::DispatchFailure(failure) => assert!(
            failure.is_io() || failure.as_other() == Some(ErrorKind::TransientError),
            "{err:?}"
        ),
        other => panic!("expected a lost connection, got {other:?}"),
    }
}

fn status<E>(err: &SdkError<E>) -> Option<u16> {
    err.raw_response().map(|r| r.status().as_u16())
}

#[test]
fn slow_down_on_first_attempt_then_the_retry_passes() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let t = setup(Arc::new(move |r: &RequestInfo| {
        record.lock().expect("lock").push(r.clone());
        (r.method == "PUT" && r.attempt == 1).then_some(Fault::SlowDown)
    }));

    common::runtime().block_on(async {
        let client = common::client(&t.proxy.endpoint()).await;
        let err = common::put(&client, "seg/1.m4s", b"one")
            .await
            .expect_err("first try throttled");
        assert!(matches!(err, SdkError::ServiceError(_)), "{err:?}");
        assert_eq!(status(&err), Some(503));
        assert_eq!(err.code(), Some("SlowDown"));
        assert_eq!(err.message(), Some("Please reduce your request rate."));
        assert!(
            t.server.list_keys(BUCKET).is_empty(),
            "the server never saw it"
        );

        common::put(&client, "seg/1.m4s", b"one")
            .await
            .expect("second try passes");
    });

    assert_eq!(t.server.list_keys(BUCKET), ["seg/1.m4s"]);
    let stats = t.proxy.stats();
    assert_eq!(
        (stats.requests, stats.forwarded, stats.slow_down),
        (2, 1, 1)
    );
    let seen = seen.lock().expect("lock");
    let summary: Vec<_> = seen
        .iter()
        .map(|r| {
            (
                r.method.as_str(),
                r.path.as_str(),
                r.query.as_str(),
                r.seq,
                r.attempt,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("PUT", "/media/seg/1.m4s", "x-id=PutObject", 0, 1),
            ("PUT", "/media/seg/1.m4s", "x-id=PutObject", 1, 2),
        ]
    );
}

#[test]
fn internal_error_is_a_500_service_error() {
    let t = setup(first_put(Fault::InternalError));
    common::runtime().block_on(async {
        let client = common::client(&t.proxy.endpoint()).await;
        let err = common::put(&client, "k", b"x")
            .await
            .expect_err("first try fails");
        assert_eq!(status(&err), Some(500));
        assert_eq!(err.code(), Some("InternalError"));
        common::put(&client, "k", b"x")
            .await
            .expect("second try passes");
    });
    assert_eq!(t.proxy.stats().internal_error, 1);
}

#[test]
fn drop_after_forward_loses_the_answer_but_the_write_lands() {
    let t = setup(first_put(Fault::DropAfterForward));
    common::runtime().block_on(async {
        let client = common::client(&t.proxy.endpoint()).await;
        let err = common::put(&client, "lost-answer", b"landed")
            .await
            .expect_err("no answer");
        assert_connection_lost(&err);
        let path = t.server.object_path(BUCKET, "lost-answer");
        let on_disk = std::fs::read(path).expect("the object exists anyway");
        assert_eq!(on_disk, b"landed");
        // The connection is gone; the retry reconnects and overwrites.
        common::put(&client, "lost-answer", b"again")
            .await
            .expect("the retry passes");
    });
    let on_disk =
        std::fs::read(t.server.object_path(BUCKET, "lost-answer")).expect("object exists");
    assert_eq!(on_disk, b"again");
    let stats = t.proxy.stats();
    assert_eq!(
        (stats.drop_after_forward, stats.forwarded, stats.connections),
        (1, 2, 2)
    );
}

#[test]
fn drop_before_forward_fails_and_nothing_lands() {
    let t = setup(first_put(Fault::DropBeforeForward));
    common::runtime().block_on(async {
        let client = common::client(&t.proxy.endpoint()).await;
        let err = common::put(&client, "never", b"x")
            .await
            .expect_err("dropped");
        assert_connection_lost(&err);
    });
    assert!(!t.server.object_path(BUCKET, "never").exists());
    assert!(t.server.list_keys(BUCKET).is_empty());
    let stats = t.proxy.stats();
    assert_eq!((stats.drop_before_forward, stats.forwarded), (1, 0));
}

#[test]
fn delay_waits_then_forwards() {
    let delay = Duration::from_millis(300);
    let t = setup(first_put(Fault::Delay(delay)));
    common::runtime().block_on(async {
        let client = common::client(&t.proxy.endpoint()).await;
        let started = Instant::now();
        common::put(&client, "slow", b"x")
            .await
            .expect("delayed put passes");
        assert!(started.elapsed() >= delay, "took {:?}", started.elapsed());
    });
    assert_eq!(t.server.list_keys(BUCKET), ["slow"]);
    assert_eq!(t.proxy.stats().delayed, 1);
}

#[test]
fn client_connections_are_kept_alive_through_the_proxy() {
    let t = setup(no_faults());
    common::runtime().block_on(async {
        let client = common::client(&t.proxy.endpoint()).await;
        for i in 0..5 {
            common::put(&client, &format!("k{i}"), b"x")
                .await
                .expect("put passes");
        }
        // A service error answered by the proxy keeps the connection too.
        t.proxy
            .set_plan(Arc::new(|_: &RequestInfo| Some(Fault::SlowDown)));
        common::put(&client, "k5", b"x")
            .await
            .expect_err("throttled");
        t.proxy.set_plan(no_faults());
        common::put(&client, "k5", b"x").await.expect("put passes");
    });
    let stats = t.proxy.stats();
    assert_eq!(
        (stats.requests, stats.forwarded, stats.connections),
        (7, 6, 1)
    );
    assert_eq!(t.server.list_keys(BUCKET).len(), 6);
}

#[test]
fn refusing_fails_new_and_pooled_connections_until_lifted() {
    let t = setup(no_faults());
    common::runtime().block_on(async {
        let client = common::client(&t.proxy.endpoint()).await;
        // Leaves an idle pooled connection the refusal has to close.
        common::put(&client, "before", b"x")
            .await
            .expect("put passes");

        t.proxy.set_refusing(true);
        let err = common::put(&client, "during", b"x")
            .await
            .expect_err("refused");
        assert_connection_lost(&err);
        let fresh = common::client(&t.proxy.endpoint()).await;
        let err = common::put(&fresh, "during", b"x")
            .await
            .expect_err("refused");
        assert_connection_lost(&err);

        t.proxy.set_refusing(false);
        common::put(&client, "after", b"x")
            .await
            .expect("accepted again");
    });
    assert_eq!(t.server.list_keys(BUCKET), ["after", "before"]);
    assert!(t.proxy.stats().refused_connections >= 2);
}

#[test]
fn drop_stops_the_proxy_promptly() {
    let t = setup(no_faults());
    let addr = t.proxy.addr();
    let idle = TcpStream::connect(addr).expect("connects while running");
    let started = Instant::now();
    drop(t.proxy);
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

/// Sends raw bytes and reads until the proxy closes the connection.
fn raw_exchange(proxy: &FaultProxy, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(proxy.addr()).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout set");
    stream.write_all(request).expect("request sent");
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .expect("response read to EOF");
    String::from_utf8_lossy(&response).into_owned()
}

#[test]
fn head_request_gets_a_bodiless_slow_down() {
    let t = setup(Arc::new(|_: &RequestInfo| Some(Fault::SlowDown)));
    let response = raw_exchange(
        &t.proxy,
        b"HEAD /media/k HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(
        response.starts_with("HTTP/1.1 503 Slow Down\r\n"),
        "{response}"
    );
    assert!(
        response.contains("Content-Type: application/xml\r\n"),
        "{response}"
    );
    assert!(
        response.ends_with("Connection: close\r\n\r\n"),
        "no body after a HEAD: {response}"
    );
}

#[test]
fn expect_continue_is_answered_once() {
    let t = setup(no_faults());
    let mut stream = TcpStream::connect(t.proxy.addr()).expect("connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout set");
    stream
        .write_all(b"PUT /media/k HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\nConnection: close\r\n\r\n")
        .expect("head sent");
    let mut interim = [0u8; 25];
    stream.read_exact(&mut interim).expect("interim response");
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    stream.write_all(b"abc").expect("body sent");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("final response");
    // Unsigned, so the server refuses it; its own 100 Continue is not relayed.
    assert!(response.starts_with("HTTP/1.1 403 "), "{response}");
    assert!(!response.contains("100 Continue"), "{response}");
    assert!(t.server.list_keys(BUCKET).is_empty());
}

#[test]
fn chunked_requests_are_not_implemented() {
    let t = setup(no_faults());
    let response = raw_exchange(
        &t.proxy,
        b"PUT /media/k HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    );
    assert!(
        response.starts_with("HTTP/1.1 501 Not Implemented\r\n"),
        "{response}"
    );
    assert_eq!(t.proxy.stats().forwarded, 0);
}
