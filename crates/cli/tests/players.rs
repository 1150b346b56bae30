//! Real players in a real browser: the demo packaged in both layouts plays
//! in headless Chromium with Shaka Player (HLS and DASH), hls.js (HLS) and
//! dash.js (DASH), adaptive switching on, past a few seconds with no player
//! error (`players/run.mjs`). The README's test command installs Chromium
//! and the npm packages.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;

#[test]
fn shaka_hlsjs_and_dashjs_play_both_layouts() {
    let players = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../players");
    assert!(
        players.join("node_modules/playwright-core").is_dir(),
        "players/node_modules is missing: run scripts/test.sh (it runs npm ci in players/)"
    );
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
    let out = Command::new("node")
        .arg(players.join("run.mjs"))
        .arg(&segments)
        .arg(&single)
        .arg(&hi_res)
        .output()
        .expect("node is required: run scripts/test.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let results: Vec<serde_json::Value> = stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("result line"))
        .collect();
    // 3 packages × (Shaka HLS, hls.js HLS, Shaka DASH, dash.js DASH, and the
    // lossless master in Shaka and hls.js).
    assert_eq!(
        results.len(),
        18,
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for r in &results {
        assert_eq!(r["ok"], true, "{r}");
        assert!(r["currentTime"].as_f64().expect("currentTime") > 3.0, "{r}");
    }
    assert!(out.status.success(), "{stdout}");
}
