//! Real players in a real browser: the demo packaged in both layouts plays
//! in headless Chromium with Shaka Player (HLS and DASH), hls.js (HLS) and
//! dash.js (DASH), adaptive switching on, past a few seconds with no player
//! error (`players/run.mjs`). The README's test command installs Chromium
//! and the npm packages.

mod common;

use common::*;

#[test]
fn shaka_hlsjs_and_dashjs_play_both_layouts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let segments = dir.path().join("segments");
    let single = dir.path().join("single");
    let input = fixture("demo.flac");
    ingest_json(&input, &segments, &[]);
    ingest_json(&input, &single, &["--layout", "single-file"]);
    // A 96 kHz 24-bit master: its FLAC tier has a sample entry rate of 0
    // and an `srat` box, which Chromium must accept too.
    let hi_res = dir.path().join("hi_res");
    ingest_json(&hi_res_master(dir.path()), &hi_res, &["--ladder", "64"]);
    let (results, stdout, stderr, success) =
        play(&[segments.as_os_str(), single.as_os_str(), hi_res.as_os_str()]);
    // 3 packages × (Shaka HLS, hls.js HLS, Shaka DASH, dash.js DASH, and the
    // lossless master in Shaka and hls.js).
    assert_eq!(results.len(), 18, "{stdout}\n{stderr}");
    for r in &results {
        assert_eq!(r["ok"], true, "{r}");
        assert!(r["currentTime"].as_f64().expect("currentTime") > 3.0, "{r}");
    }
    assert!(success, "{stdout}");
}
