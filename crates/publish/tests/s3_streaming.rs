//! Bodies streamed from files to a real S3-compatible server (s3s-fs, in
//! process), and cancellation in the middle of a multipart upload: the
//! call returns promptly, and neither an object nor an upload is left.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use audiopack_publish::{
    CancellationToken, ObjectStore, PublishErrorKind, PublishOptions, Publisher, SHA256_METADATA,
};
use audiopack_testkit::{FaultProxy, RequestInfo};
use common::*;

/// What s3s-fs keeps under its root for multipart uploads still open: a
/// `.upload-<id>.json` per upload, `.upload_id-<id>.part-<n>` per part,
/// and the pending object's `….upload-<id>.metadata.json`.
fn upload_leftovers(root: &Path) -> Vec<String> {
    std::fs::read_dir(root)
        .expect("server root")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(".upload") || name.contains(".upload-"))
        .collect()
}

#[test]
fn a_40_mib_file_streams_up_in_parts_byte_identical() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = server(&tmp.path().join("s3"));
    let package = tmp.path().join("package");
    write_package(&package, &[("flac.mp4", 40 * MIB + 777)]);
    let sha256 = {
        let bytes = std::fs::read(package.join("flac.mp4")).expect("local");
        audiopack_publish::sha256_hex(&bytes)
    };
    let (report, found) = runtime().block_on(async {
        let store = Arc::new(store(options(&server.endpoint())).await);
        let report =
            audiopack_publish::publish_package(&package, store.clone(), &PublishOptions::default())
                .await
                .expect("published");
        let found = store.head("flac.mp4").await.expect("head");
        (report, found)
    });
    assert_eq!(report.objects_written, 7);
    let found = found.expect("stored");
    assert_eq!(found.size, 40 * MIB as u64 + 777);
    assert_eq!(
        found.sha256.as_deref(),
        Some(sha256.as_str()),
        "{SHA256_METADATA}"
    );
    // The ETag of a multipart object ends in its part count: 9 parts of 5 MiB.
    assert!(
        found.etag.as_deref().is_some_and(|e| e.ends_with("-9\"")),
        "{found:?}"
    );
    let stored = std::fs::read(server.object_path(BUCKET, "track/flac.mp4")).expect("stored");
    assert_eq!(audiopack_publish::sha256_hex(&stored), sha256);
    assert!(upload_leftovers(server.root()).is_empty());
}

#[test]
fn cancelling_during_a_multipart_upload_aborts_it_before_returning() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = server(&tmp.path().join("s3"));
    let package = tmp.path().join("package");
    write_package(&package, &[("flac.mp4", 16 * MIB)]);
    // The upload of our object has begun once its multipart upload is
    // created (`POST …/flac.mp4?uploads`).
    let created = Arc::new(AtomicBool::new(false));
    let seen = Arc::clone(&created);
    let proxy = FaultProxy::start(
        server.addr(),
        Arc::new(move |r: &RequestInfo| {
            if r.method == "POST" && r.path.ends_with("/flac.mp4") && r.query.contains("uploads") {
                seen.store(true, Ordering::SeqCst);
            }
            None
        }),
    )
    .expect("proxy");
    // 1 MiB/s: each 5 MiB part takes 5 s to send.
    proxy.set_read_rate(Some(MIB as u64));
    let cancel = CancellationToken::new();
    let options = PublishOptions {
        cancel: Some(cancel.clone()),
        ..PublishOptions::default()
    };
    let rt = runtime();
    let (result, written, took) = rt.block_on(async {
        let store = Arc::new(store(common::options(&proxy.endpoint())).await);
        let mut publisher = Publisher::for_package(&package, store, &options)
            .await
            .expect("checked");
        let job = tokio::spawn(async move {
            let result = publisher.finish().await;
            (result, publisher.written())
        });
        let started = Instant::now();
        while !created.load(Ordering::SeqCst) {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "no upload began"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Well into the first part.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(!job.is_finished(), "the upload ended before the cancel");
        let cancelled = Instant::now();
        cancel.cancel();
        let (result, written) = job.await.expect("joined");
        (result, written, cancelled.elapsed())
    });
    eprintln!("cancelled mid-part: returned after {took:?}: {result:?}");
    let err = result.expect_err("cancelled");
    assert_eq!(err.kind(), PublishErrorKind::Cancelled, "{err}");
    assert!(took < Duration::from_millis(500), "took {took:?}");
    assert!(
        written
            .iter()
            .all(|w| w != "flac.mp4" && w != "report.json"),
        "{written:?}"
    );
    assert!(
        !server
            .list_keys(BUCKET)
            .contains(&"track/flac.mp4".to_string()),
        "{:?}",
        server.list_keys(BUCKET)
    );
    assert_eq!(upload_leftovers(server.root()), Vec::<String>::new());
    // Nothing lands later either (a part still on its way, say).
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(upload_leftovers(server.root()), Vec::<String>::new());
    assert!(
        !server
            .list_keys(BUCKET)
            .contains(&"track/flac.mp4".to_string())
    );
    // What was written before the cancel (the small segments, maybe) can
    // be taken back exactly.
    rt.block_on(async {
        let store = store(common::options(&server.endpoint())).await;
        for relative in &written {
            store.delete(relative).await.expect("deleted");
        }
    });
    assert_eq!(server.list_keys(BUCKET), Vec::<String>::new());
}
