//! The `ObjectStore` trait from the outside: a store implemented here (in
//! memory) receives a package in manifest-safe order, the directory store
//! republishes idempotently, and `S3Store::from_client` works with a
//! client the caller built.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use audiopack_publish::{
    Action, Body, DirStore, Existing, ObjectClass, ObjectMeta, ObjectReport, ObjectStore,
    PublishError, PublishErrorKind, PublishOptions, Publisher, PutObject, S3Options, S3Store,
    classify, publish_package,
};
use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region};
use common::*;

/// An object in memory: its bytes, SHA-256 and headers.
type Stored = (Vec<u8>, String, ObjectMeta);

/// An embedder's backend: objects in a map, and the order of the writes.
#[derive(Default)]
struct MemoryStore {
    objects: Mutex<BTreeMap<String, Stored>>,
    writes: Mutex<Vec<String>>,
}

#[async_trait::async_trait]
impl ObjectStore for MemoryStore {
    fn describe(&self, relative: &str) -> String {
        format!("mem://{relative}")
    }

    async fn preflight(&self, _write: bool) -> Result<(), PublishError> {
        Ok(())
    }

    async fn head(&self, relative: &str) -> Result<Option<Existing>, PublishError> {
        let objects = self.objects.lock().expect("lock");
        Ok(objects.get(relative).map(|(bytes, sha256, _)| Existing {
            size: bytes.len() as u64,
            sha256: Some(sha256.clone()),
            etag: None,
        }))
    }

    async fn put(&self, object: PutObject<'_>) -> Result<(), PublishError> {
        let bytes = match object.body {
            Body::Bytes(bytes) => bytes.to_vec(),
            Body::File { path, .. } => tokio::fs::read(path)
                .await
                .map_err(PublishError::local(path, "reading"))?,
        };
        assert_eq!(bytes.len() as u64, object.body.len(), "{}", object.relative);
        self.writes
            .lock()
            .expect("lock")
            .push(object.relative.to_string());
        self.objects.lock().expect("lock").insert(
            object.relative.to_string(),
            (bytes, object.sha256.to_string(), object.meta.clone()),
        );
        Ok(())
    }

    async fn delete(&self, relative: &str) -> Result<(), PublishError> {
        self.objects.lock().expect("lock").remove(relative);
        Ok(())
    }
}

/// The class of each path, in the order written.
fn classes(paths: &[String], dir: &std::path::Path) -> Vec<ObjectClass> {
    paths
        .iter()
        .map(|p| classify(p, &std::fs::read(dir.join(p)).unwrap_or_default()).0)
        .collect()
}

#[test]
fn an_embedders_store_receives_the_package_in_manifest_safe_order() {
    let tmp = tempfile::tempdir().expect("tmp");
    let package = tmp.path().join("package");
    write_package(&package, &[("opus_96k/1.m4s", 40_000)]);
    let store = Arc::new(MemoryStore::default());
    let options = PublishOptions {
        concurrency: 3,
        ..PublishOptions::default()
    };
    let report = runtime()
        .block_on(publish_package(&package, store.clone(), &options))
        .expect("published");
    assert_eq!(report.objects_written, 7);
    assert_eq!(report.destination, "mem://");

    let writes = store.writes.lock().expect("lock").clone();
    assert_eq!(writes.len(), 8, "{writes:?}");
    assert_eq!(writes.last().map(String::as_str), Some("report.json"));
    let order = classes(&writes, &package);
    assert!(
        order.windows(2).all(|w| w[0] <= w[1]),
        "written out of order: {writes:?} {order:?}"
    );
    assert_eq!(
        order
            .iter()
            .filter(|c| **c == ObjectClass::Manifest)
            .count(),
        2,
        "master.m3u8 and manifest.mpd are the entry points: {writes:?}"
    );
    let objects = store.objects.lock().expect("lock");
    for (relative, (bytes, sha256, meta)) in objects.iter() {
        if relative == "report.json" {
            let report: serde_json::Value = serde_json::from_slice(bytes).expect("json");
            assert_eq!(report["publish"]["objects_written"], 7);
            continue;
        }
        let local = std::fs::read(package.join(relative)).expect("local");
        assert!(local == *bytes, "{relative} differs");
        assert_eq!(*sha256, audiopack_publish::sha256_hex(&local), "{relative}");
        assert_eq!(*meta, classify(relative, &local).1, "{relative}");
    }
}

#[test]
fn events_and_written_name_what_this_publisher_wrote() {
    let tmp = tempfile::tempdir().expect("tmp");
    let package = tmp.path().join("package");
    write_package(&package, &[]);
    let store = Arc::new(MemoryStore::default());
    let options = PublishOptions::default();
    let run = |store: Arc<MemoryStore>| {
        let events: Arc<Mutex<Vec<ObjectReport>>> = Arc::default();
        let seen = Arc::clone(&events);
        let (report, written) = runtime().block_on(async {
            let mut publisher = Publisher::for_package(&package, store, &options)
                .await
                .expect("checked")
                .on_stored(Arc::new(move |o: &ObjectReport| {
                    seen.lock().expect("lock").push(o.clone());
                }));
            let report = publisher.finish().await.expect("published");
            (report, publisher.written())
        });
        let events = events.lock().expect("lock").clone();
        (report, written, events)
    };

    let (report, mut written, events) = run(Arc::clone(&store));
    assert_eq!(report.objects_written, 6);
    assert_eq!(
        events.len(),
        7,
        "one event per object, report.json included"
    );
    assert_eq!(events.last().map(|e| e.path.as_str()), Some("report.json"));
    assert!(events.iter().all(|e| e.action == Action::Written));
    written.sort();
    let stored: Vec<String> = store
        .objects
        .lock()
        .expect("lock")
        .keys()
        .cloned()
        .collect();
    assert_eq!(written, stored);

    // A rerun skips everything, report.json too, and wrote nothing.
    let (report, written, events) = run(Arc::clone(&store));
    assert_eq!((report.objects_written, report.objects_skipped), (0, 6));
    assert!(written.is_empty(), "{written:?}");
    assert_eq!(events.len(), 7);
    assert!(events.iter().all(|e| e.action == Action::Skipped));
    assert_eq!(store.writes.lock().expect("lock").len(), 7);
}

#[test]
fn the_directory_store_republishes_nothing_that_is_unchanged() {
    let tmp = tempfile::tempdir().expect("tmp");
    let package = tmp.path().join("package");
    write_package(&package, &[("flac.mp4", 3 * MIB + 5)]);
    let dest = tmp.path().join("dest");
    let publish = || {
        let store: Arc<dyn ObjectStore> = Arc::new(DirStore::new(&dest));
        runtime()
            .block_on(publish_package(&package, store, &PublishOptions::default()))
            .expect("published")
    };
    let first = publish();
    assert_eq!(first.objects_written, 7);
    let copied = std::fs::read(dest.join("flac.mp4")).expect("copied");
    assert!(copied == std::fs::read(package.join("flac.mp4")).expect("local"));
    let second = publish();
    assert_eq!((second.objects_written, second.objects_skipped), (0, 7));

    // Never into the package itself.
    let inside: Arc<dyn ObjectStore> = Arc::new(DirStore::new(package.join("out")));
    let err = runtime()
        .block_on(publish_package(
            &package,
            inside,
            &PublishOptions::default(),
        ))
        .expect_err("a destination inside the package");
    assert_eq!(err.kind(), PublishErrorKind::Io, "{err}");
}

/// A store whose write of one object takes until it is cancelled, and
/// then takes back what it started (as S3 aborts a multipart upload).
struct SlowStore {
    inner: MemoryStore,
    slow: &'static str,
    started: tokio::sync::Notify,
    taken_back: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl ObjectStore for SlowStore {
    fn describe(&self, relative: &str) -> String {
        self.inner.describe(relative)
    }

    async fn preflight(&self, write: bool) -> Result<(), PublishError> {
        self.inner.preflight(write).await
    }

    async fn head(&self, relative: &str) -> Result<Option<Existing>, PublishError> {
        self.inner.head(relative).await
    }

    async fn put(&self, object: PutObject<'_>) -> Result<(), PublishError> {
        if object.relative != self.slow {
            return self.inner.put(object).await;
        }
        self.started.notify_one();
        if let Some(cancel) = object.cancel {
            cancel.cancelled().await;
        }
        // Taking back takes a while; the publisher must wait for it.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        self.taken_back
            .store(true, std::sync::atomic::Ordering::SeqCst);
        Err(PublishError::Cancelled {
            target: self.describe(object.relative),
        })
    }

    async fn delete(&self, relative: &str) -> Result<(), PublishError> {
        self.inner.delete(relative).await
    }
}

#[test]
fn a_cancelled_publisher_waits_for_the_writes_in_flight_and_lists_what_it_wrote() {
    let tmp = tempfile::tempdir().expect("tmp");
    let package = tmp.path().join("package");
    write_package(&package, &[]);
    let store = Arc::new(SlowStore {
        inner: MemoryStore::default(),
        slow: "opus_64k/2.m4s",
        started: tokio::sync::Notify::new(),
        taken_back: false.into(),
    });
    let cancel = audiopack_publish::CancellationToken::new();
    let options = PublishOptions {
        cancel: Some(cancel.clone()),
        ..PublishOptions::default()
    };
    let (result, written) = runtime().block_on(async {
        let mut publisher = Publisher::for_package(&package, store.clone(), &options)
            .await
            .expect("checked");
        let job = tokio::spawn(async move {
            let result = publisher.finish().await;
            (result, publisher.written())
        });
        store.started.notified().await;
        cancel.cancel();
        job.await.expect("joined")
    });
    let err = result.expect_err("cancelled");
    assert_eq!(err.kind(), PublishErrorKind::Cancelled, "{err}");
    assert!(
        store.taken_back.load(std::sync::atomic::Ordering::SeqCst),
        "returned before the write in flight was taken back"
    );
    let mut written = written;
    written.sort();
    let stored: Vec<String> = store
        .inner
        .objects
        .lock()
        .expect("lock")
        .keys()
        .cloned()
        .collect();
    assert_eq!(written, stored, "written() is exactly what was stored");
    assert!(
        !written
            .iter()
            .any(|w| w.ends_with(".m3u8") || w == "report.json")
    );

    // Aborting a publisher mid-way: the same, without an error.
    let store = Arc::new(SlowStore {
        inner: MemoryStore::default(),
        slow: "opus_64k/init.mp4",
        started: tokio::sync::Notify::new(),
        taken_back: false.into(),
    });
    let written = runtime().block_on(async {
        let mut publisher = Publisher::new(store.clone(), &package, &PublishOptions::default());
        for relative in ["opus_64k/1.m4s", "opus_64k/init.mp4"] {
            publisher.submit(relative.into()).await.expect("submitted");
        }
        store.started.notified().await;
        // The other write lands first (the slow one never does by itself).
        while !store
            .inner
            .objects
            .lock()
            .expect("lock")
            .contains_key("opus_64k/1.m4s")
        {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        publisher.abort().await
    });
    assert!(store.taken_back.load(std::sync::atomic::Ordering::SeqCst));
    assert_eq!(written, vec!["opus_64k/1.m4s".to_string()]);
}

/// A client as an embedder builds it: its own credentials, endpoint and
/// region, nothing of audiopack's.
fn client(endpoint: &str) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .credentials_provider(Credentials::new(AK, SK, None, None, "embedder"))
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

#[test]
fn a_store_from_the_callers_client_publishes_a_package() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = server(&tmp.path().join("s3"));
    let package = tmp.path().join("package");
    write_package(&package, &[("flac.mp4", 7 * MIB)]);
    let endpoint = server.endpoint();

    for (bucket, prefix) in [("Origin", "x"), ("origin/x", ""), ("origin", "a//b")] {
        let err = S3Store::from_client(client(&endpoint), bucket, prefix)
            .err()
            .map(|e| e.kind());
        assert_eq!(err, Some(PublishErrorKind::Config), "{bucket:?} {prefix:?}");
    }
    let report = runtime().block_on(async {
        let store = S3Store::from_client(client(&endpoint), BUCKET, "embedded/catalog")
            .expect("store")
            .with_options(S3Options {
                multipart_threshold: 5 * MIB,
                part_size: 5 * MIB,
                ..S3Options::default()
            })
            .expect("options");
        let err = S3Store::from_client(client(&endpoint), BUCKET, "")
            .expect("store")
            .with_options(S3Options {
                part_size: MIB,
                ..S3Options::default()
            })
            .err();
        assert!(matches!(err, Some(PublishError::Config(_))), "{err:?}");
        assert_eq!(
            store.describe("a.m4s"),
            "s3://origin/embedded/catalog/a.m4s"
        );
        publish_package(&package, Arc::new(store), &PublishOptions::default())
            .await
            .expect("published")
    });
    assert_eq!(report.objects_written, 7);
    let keys = server.list_keys(BUCKET);
    assert_eq!(keys.len(), 8, "{keys:?}");
    assert!(
        keys.iter().all(|k| k.starts_with("embedded/catalog/")),
        "{keys:?}"
    );
    let stored =
        std::fs::read(server.object_path(BUCKET, "embedded/catalog/flac.mp4")).expect("stored");
    assert!(stored == std::fs::read(package.join("flac.mp4")).expect("local"));
}
