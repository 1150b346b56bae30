//! Conditional writes against a real S3-compatible server (s3s-fs, in
//! process) through a fault-injecting proxy: a write whose answer is lost is
//! settled by the object it left, and another writer's object is never
//! silently overwritten.

mod common;

use std::path::Path;
use std::sync::Arc;

use audiopack_publish::{ObjectStore, PublishErrorKind, S3Store, StoreErrorKind};
use audiopack_testkit::{Fault, FaultProxy, RequestInfo, S3Server, no_faults};
use common::*;

/// The bytes the server holds under `track/<relative>`.
fn stored(server: &S3Server, relative: &str) -> Vec<u8> {
    let key = format!("track/{relative}");
    std::fs::read(server.object_path(BUCKET, &key)).unwrap_or_else(|e| panic!("{key}: {e}"))
}

/// s3s-fs keeps a `.upload-<id>.json` per multipart upload still open.
fn open_uploads(root: &Path) -> usize {
    std::fs::read_dir(root)
        .expect("server root")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with(".upload-"))
        .count()
}

#[test]
fn a_write_whose_answer_was_lost_is_settled_by_the_object_it_left() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = server(tmp.path());
    // The server applies the first attempt of every write, then the
    // connection drops before the answer: the retry finds the object there
    // and its condition (If-None-Match: *) refused.
    let proxy = FaultProxy::start(
        server.addr(),
        Arc::new(|r: &RequestInfo| {
            let write = r.method == "PUT" || (r.method == "POST" && r.query.contains("uploadId"));
            (write && r.attempt == 1).then_some(Fault::DropAfterForward)
        }),
    )
    .expect("proxy");
    let small = noise(300_000, 1);
    let large = noise(11 * MIB + 123, 2);
    runtime().block_on(async {
        let store = store(options(&proxy.endpoint())).await;
        put_expecting(&store, "opus_96k/1.m4s", &small, None)
            .await
            .expect("a lost PUT answer is not an error");
        put_expecting(&store, "flac.mp4", &large, None)
            .await
            .expect("a lost CompleteMultipartUpload answer is not an error");
    });
    let stats = proxy.stats();
    // 1 PUT + 3 UploadPart + 1 Complete dropped after the server applied them.
    assert_eq!(stats.drop_after_forward, 5, "{stats:?}");
    assert_eq!(stored(&server, "opus_96k/1.m4s"), small);
    assert_eq!(stored(&server, "flac.mp4"), large);
    assert_eq!(open_uploads(server.root()), 0, "no upload left open");
}

#[test]
fn another_writers_object_is_a_conflict_and_is_not_overwritten() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = server(tmp.path());
    let proxy = FaultProxy::start(server.addr(), no_faults()).expect("proxy");
    let ours = noise(200_000, 3);
    let theirs = noise(200_000, 4);
    let later = noise(200_000, 5);
    let big_ours = noise(6 * MIB, 6);
    let big_theirs = noise(6 * MIB, 7);
    runtime().block_on(async {
        let store = store(options(&proxy.endpoint())).await;
        let other = store_direct(&server).await;

        // We look (nothing there), another writer puts its object, we write.
        let seen = store.head("1.m4s").await.expect("head");
        assert_eq!(seen, None);
        put_expecting(&other, "1.m4s", &theirs, None)
            .await
            .expect("the other writer");
        let err = put_expecting(&store, "1.m4s", &ours, seen.as_ref())
            .await
            .expect_err("their object must not be overwritten");
        assert_eq!(
            err.kind(),
            PublishErrorKind::Store(StoreErrorKind::Conflict),
            "{err}"
        );
        assert!(err.to_string().contains("/track/1.m4s: "), "{err}");
        assert_eq!(stored(&server, "1.m4s"), theirs);

        // Having seen theirs, we replace it (If-Match on its ETag)...
        let seen = store.head("1.m4s").await.expect("head");
        assert!(seen.as_ref().and_then(|e| e.etag.as_ref()).is_some());
        put_expecting(&store, "1.m4s", &ours, seen.as_ref())
            .await
            .expect("replacing the object we saw");
        assert_eq!(stored(&server, "1.m4s"), ours);
        // ...but not once it changed again behind our back.
        let seen = store.head("1.m4s").await.expect("head");
        let current = other.head("1.m4s").await.expect("head");
        put_expecting(&other, "1.m4s", &later, current.as_ref())
            .await
            .expect("the other writer again");
        let err = put_expecting(&store, "1.m4s", &ours, seen.as_ref())
            .await
            .expect_err("a stale ETag is refused");
        assert_eq!(
            err.kind(),
            PublishErrorKind::Store(StoreErrorKind::Conflict),
            "{err}"
        );
        assert_eq!(stored(&server, "1.m4s"), later);

        // The same for a multipart upload, which is aborted.
        put_expecting(&other, "flac.mp4", &big_theirs, None)
            .await
            .expect("the other writer's big object");
        let err = put_expecting(&store, "flac.mp4", &big_ours, None)
            .await
            .expect_err("their big object must not be overwritten");
        assert_eq!(
            err.kind(),
            PublishErrorKind::Store(StoreErrorKind::Conflict),
            "{err}"
        );
    });
    assert_eq!(stored(&server, "flac.mp4"), big_theirs);
    assert_eq!(
        open_uploads(server.root()),
        0,
        "the refused upload is aborted"
    );
}

/// A second writer, straight to the server.
async fn store_direct(server: &S3Server) -> S3Store {
    store(options(&server.endpoint())).await
}
