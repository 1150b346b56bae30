//! Memory does not grow with the object size: a 192 MiB file goes up in
//! one streamed PUT (the single-file layout's case) and in parts, and the
//! process's peak resident memory grows by far less than the file.
//!
//! Alone in its test binary so no other test's allocations count. The
//! in-process server (s3s-fs) streams bodies to disk, so what it holds is
//! bounded too.

mod common;

use std::sync::Arc;

use audiopack_publish::{DirStore, ObjectStore, PublishOptions, S3Options, publish_package};
use common::*;

/// The peak resident set size so far (`VmHWM`), in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .and_then(|kb| kb.trim().parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .expect("VmHWM in /proc/self/status")
}

#[test]
fn publishing_a_large_file_keeps_memory_flat() {
    const LEN: usize = 192 * MIB;
    // Far below one copy of the file (the old code held two).
    const ALLOWED: u64 = 48 * MIB as u64;
    let tmp = tempfile::tempdir().expect("tmp");
    let server = server(&tmp.path().join("s3"));
    let package = tmp.path().join("package");
    write_package(&package, &[("opus_96k.mp4", LEN)]);
    let rt = runtime();
    // Warm up: the client, the server and the runtime's threads.
    rt.block_on(async {
        let store = store(options(&server.endpoint())).await;
        put_expecting(&store, "warm-up", &noise(6 * MIB, 1), None)
            .await
            .expect("warm-up");
    });
    for (name, threshold) in [("single PUT", 512 * MIB), ("multipart", 16 * MIB)] {
        let before = peak_rss();
        let report = rt.block_on(async {
            let store = store(S3Options {
                multipart_threshold: threshold,
                part_size: 8 * MIB,
                ..options(&server.endpoint())
            })
            .await;
            publish_package(&package, Arc::new(store), &PublishOptions::default())
                .await
                .expect("published")
        });
        let after = peak_rss();
        let grew = after.saturating_sub(before);
        eprintln!(
            "{name}: {} MiB object, peak RSS {:.1} -> {:.1} MiB",
            LEN / MIB,
            before as f64 / MIB as f64,
            after as f64 / MIB as f64
        );
        assert!(report.objects_written >= 1, "{name}: nothing written");
        assert!(grew < ALLOWED, "{name}: peak RSS grew by {grew} bytes");
        // The next round writes everything again.
        std::fs::remove_dir_all(server.root().join(BUCKET).join("track")).expect("clear");
    }
    // The directory store copies through a buffer.
    let before = peak_rss();
    let dest: Arc<dyn ObjectStore> = Arc::new(DirStore::new(tmp.path().join("dest")));
    rt.block_on(publish_package(&package, dest, &PublishOptions::default()))
        .expect("published to a directory");
    let after = peak_rss();
    let grew = after.saturating_sub(before);
    eprintln!(
        "directory: peak RSS {:.1} -> {:.1} MiB",
        before as f64 / MIB as f64,
        after as f64 / MIB as f64
    );
    assert!(grew < ALLOWED, "directory: peak RSS grew by {grew} bytes");
}
