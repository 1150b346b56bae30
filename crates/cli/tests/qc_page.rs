//! Issue 14: what was delivered, measured and shown.
//!
//! * The ceiling holds after the codec: a quiet 96 kHz master with a
//!   full-scale click (its PCM put on the ceiling by the gain) decodes over
//!   it at 64 kbit/s; the gain is lowered and the ladder encoded again, and
//!   ffmpeg's `ebur128` on every decoded rendition reads ≤ ceiling + 0.1 dB
//!   (default mode and `--limiter`).
//! * The FLAC tier is bit-exact: the report's source MD5 is the demo
//!   master's own STREAMINFO MD5, and ffmpeg's MD5 of the decoded FLAC tier
//!   is the report's decoded MD5.
//! * `qc.json`'s short-term loudness over time agrees with ffmpeg's
//!   `ebur128` frame log.
//! * `report.html` in headless Chromium (`players/qc.mjs`): from file://
//!   and through `audiopack serve`, plots drawn, no console errors, not
//!   blank, and the audition player plays two rungs and the lossless tier
//!   with A/B switching within 0.5 s.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use common::*;

/// A quiet 96 kHz master (about −34 LUFS) with a click near full scale:
/// its gain is capped by the true peak, and Opus overshoots on the click.
fn clicky_master(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("click96.wav");
    ffmpeg_generate(
        "aevalsrc=exprs='0.02*sin(2*PI*440*t)+0.015*sin(2*PI*1234*t+1)+0.01*sin(2*PI*3100*t)\
         +if(between(n\\,960000\\,960003)\\,0.99\\,0)-if(between(n\\,960004\\,960007)\\,0.99\\,0)'\
         :s=96000:d=20,aformat=channel_layouts=stereo",
        &["-c:a", "pcm_s24le"],
        &path,
    );
    path
}

/// A hot master: pink noise pushed into clipping (−7 LUFS or so).
fn hot_master(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("hot.wav");
    ffmpeg_generate(
        "anoisesrc=c=pink:r=44100:a=0.6:d=12:s=3,volume=9dB,aformat=channel_layouts=stereo",
        &["-c:a", "pcm_s16le"],
        &path,
    );
    path
}

#[test]
fn every_rung_holds_the_ceiling_after_the_codec() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let clicky = clicky_master(tmp.path());
    let hot = hot_master(tmp.path());
    for (name, input, extra) in [
        ("default", &clicky, &[][..]),
        ("limiter", &clicky, &["--limiter"][..]),
        ("hot", &hot, &[][..]),
        ("hot-limiter", &hot, &["--limiter"][..]),
    ] {
        let out = tmp.path().join(name);
        let mut args = vec!["--formats", "hls,ogg"];
        args.extend_from_slice(extra);
        let report = ingest_json(input, &out, &args);
        let loudness = &report["loudness"];
        let ceiling = loudness["config"]["true_peak_ceiling_dbtp"]
            .as_f64()
            .expect("ceiling");
        let control = &loudness["peak_control"];
        for r in report["renditions"].as_array().expect("renditions") {
            let file = out.join(r["file"].as_str().expect("ogg"));
            let ffmpeg = ffmpeg_loudness(&file, None).true_peak;
            assert!(
                ffmpeg <= ceiling + 0.1,
                "{name} {}: ffmpeg reads {ffmpeg:.2} dBTP decoded, over {ceiling} + 0.1; {control}",
                r["name"]
            );
            let ours = r["decoded"]["true_peak_dbtp"].as_f64().expect("decoded tp");
            assert!((ours - ffmpeg).abs() <= 0.3, "{name}: {ours} vs {ffmpeg}");
        }
        assert_eq!(
            loudness["decoded_warnings"].as_array().map_or(0, Vec::len),
            0,
            "{loudness}"
        );
        if name == "default" {
            // The first encode went over; the gain was lowered for every
            // rung and the ladder encoded again.
            assert!(
                control["peak_passes"].as_u64().expect("passes") >= 1,
                "{control}"
            );
            assert!(control["first_excess_db"].as_f64().expect("excess") > 0.05);
            assert_eq!(loudness["gain"]["reason"], "peak_ceiling");
            let planned_tp = loudness["planned_on"]["true_peak_dbtp"]
                .as_f64()
                .expect("tp");
            let gain = loudness["gain"]["gain_db"].as_f64().expect("gain");
            assert!(
                planned_tp + gain < ceiling - 0.1,
                "the PCM was lowered under the ceiling: {planned_tp} + {gain}"
            );
        }
    }
}

/// The MD5 in a FLAC file's STREAMINFO (the first metadata block).
fn streaminfo_md5(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("flac");
    assert_eq!(&bytes[..4], b"fLaC");
    assert_eq!(bytes[4] & 0x7f, 0, "STREAMINFO first");
    bytes[26..42].iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn the_lossless_tier_is_bit_exact_by_md5() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = fixture("demo.flac");
    let out = tmp.path().join("pkg");
    let report = ingest_json(&input, &out, &[]);
    let flac = report["package"]["renditions"]
        .as_array()
        .expect("renditions")
        .iter()
        .find(|r| r["codecs"] == "flac")
        .expect("flac tier")
        .clone();
    let check = &flac["lossless_check"];
    assert_eq!(check["bit_exact"], true, "{check}");
    // The flac tool that made the demo master recorded its samples' MD5.
    assert_eq!(check["source_md5"], streaminfo_md5(&input).as_str());
    // ffmpeg decodes the FLAC tier to the same samples.
    let track = tmp.path().join("flac.mp4");
    std::fs::write(&track, whole_track(&out, "flac")).expect("write");
    let md5 = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(&track)
        .args(["-c:a", "pcm_s16le", "-f", "md5", "-"])
        .output()
        .expect("ffmpeg");
    let text = String::from_utf8_lossy(&md5.stdout);
    assert_eq!(
        text.trim().trim_start_matches("MD5="),
        check["decoded_md5"].as_str().expect("decoded md5"),
        "{text}"
    );
}

/// ffmpeg's short-term loudness (`S:`) every 100 ms: (time, LUFS).
fn ffmpeg_short_term(path: &Path) -> Vec<(f64, f64)> {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-nostats", "-v", "verbose", "-i"])
        .arg(path)
        .args(["-af", "ebur128=framelog=verbose", "-f", "null", "-"])
        .output()
        .expect("ffmpeg");
    let text = String::from_utf8_lossy(&out.stderr);
    text.lines()
        .filter_map(|l| {
            let t = l
                .split("t:")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()?;
            let s = l
                .split(" S:")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse()
                .ok()?;
            Some((t, s))
        })
        .collect()
}

#[test]
fn qc_json_follows_the_loudness_over_time_like_ffmpeg() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = fixture("demo.flac");
    let out = tmp.path().join("pkg");
    ingest_json(
        &input,
        &out,
        &["--formats", "hls,ogg", "--ladder", "64,160"],
    );
    let qc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("qc.json")).expect("qc.json"))
            .expect("json");
    assert_eq!(qc["resolution_seconds"], 1.0);
    let ffmpeg = ffmpeg_short_term(&input);
    assert!(ffmpeg.len() > 50, "{} frames from ffmpeg", ffmpeg.len());
    let source = qc["source"]["short_term_lufs"].as_array().expect("series");
    let mut compared = 0;
    for (i, v) in source.iter().enumerate() {
        let Some(ours) = v.as_f64() else { continue };
        // Ours at index i is the 3 s window ending at i + 1 s.
        let end = (i + 1) as f64;
        let Some(&(_, theirs)) = ffmpeg.iter().find(|(t, _)| (t - end).abs() < 0.01) else {
            continue;
        };
        if theirs < -60.0 {
            continue;
        }
        assert!(
            (ours - theirs).abs() <= 0.3,
            "short-term at {end} s: ours {ours:.2}, ffmpeg {theirs:.2}"
        );
        compared += 1;
    }
    assert!(compared >= 5, "only {compared} seconds compared");
    // The delivered rendition is the top rung, decoded: its short-term
    // loudness agrees with ffmpeg's on the decoded Ogg file.
    assert_eq!(qc["delivered"]["label"], "opus_160k");
    let decoded = ffmpeg_short_term(&out.join("opus_160k.opus"));
    let delivered = qc["delivered"]["short_term_lufs"]
        .as_array()
        .expect("series");
    let end = delivered.len().min(decoded.len() / 10) - 1;
    let ours = delivered[end - 1].as_f64().expect("value");
    let theirs = decoded
        .iter()
        .find(|(t, _)| (t - end as f64).abs() < 0.01)
        .expect("frame")
        .1;
    assert!((ours - theirs).abs() <= 0.3, "{ours} vs {theirs}");
    // Envelope, spectrum: present and sane.
    let env = &qc["envelope"];
    let max = env["max"].as_array().expect("max");
    assert!(!max.is_empty() && max.len() <= 4096);
    let spectrum = &qc["spectrum"];
    let bands = spectrum["frequencies_hz"].as_array().expect("bands").len();
    for r in spectrum["renditions"].as_array().expect("renditions") {
        assert_eq!(r["db"].as_array().expect("db").len(), bands);
    }
}

/// Runs `players/qc.mjs` with `args`; panics with its output on failure.
fn qc_page(args: &[&str]) -> Vec<serde_json::Value> {
    let players = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../players");
    assert!(
        players.join("node_modules/playwright-core").is_dir(),
        "players/node_modules is missing: run scripts/test.sh"
    );
    let out = Command::new("node")
        .arg(players.join("qc.mjs"))
        .args(args)
        .output()
        .expect("node is required: run scripts/test.sh");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "qc.mjs {args:?} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

fn checks(results: &[serde_json::Value]) -> Vec<String> {
    results
        .iter()
        .map(|r| r["check"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn the_qc_page_works_from_file_and_through_serve() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = fixture("demo.flac");
    let segments = tmp.path().join("segments");
    let report = ingest_json(&input, &segments, &[]);
    // The page is listed in the report with its exact size.
    let page = segments.join("report.html");
    let listed = report["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["path"] == "report.html")
        .expect("report.html listed")["bytes"]
        .as_u64()
        .expect("bytes");
    assert_eq!(listed, std::fs::metadata(&page).expect("page").len());

    // file://: plots drawn, not blank, nothing fetched.
    let shot = tmp.path().join("file.png");
    let results = qc_page(&[
        "--file",
        segments.to_str().expect("utf8"),
        "--screenshot",
        shot.to_str().expect("utf8"),
    ]);
    let names = checks(&results);
    for c in [
        "load",
        "plots",
        "renditions",
        "screenshot",
        "network",
        "console",
    ] {
        assert!(names.iter().any(|n| n == c), "{c} missing: {names:?}");
    }
    assert!(std::fs::metadata(&shot).expect("screenshot").len() > 10_000);

    // Single-file layout with Ogg downloads, from file://: the audition
    // player plays the downloads.
    let single = tmp.path().join("single");
    ingest_json(
        &input,
        &single,
        &["--layout", "single-file", "--formats", "hls,dash,ogg"],
    );
    qc_page(&["--file", single.to_str().expect("utf8"), "--audition"]);

    // Through `audiopack serve`: the audition player over the package's own
    // HLS playlists (MSE), two rungs and the lossless tier, A/B switching.
    let mut child = bin()
        .args(["serve", segments.to_str().expect("utf8"), "--port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("URL line");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("URL")
        .trim_end_matches('/')
        .to_string();
    let results = qc_page(&["--url", &format!("{url}/report.html"), "--audition"]);
    let _ = child.kill();
    let _ = child.wait();
    let names = checks(&results);
    let plays = names.iter().filter(|n| n.starts_with("play:")).count();
    assert!(plays >= 3, "{names:?}");
    assert!(
        names.iter().any(|n| n.starts_with("play:flac")),
        "{names:?}"
    );
    assert!(names.iter().any(|n| n.starts_with("switch:")), "{names:?}");
    for r in &results {
        assert_eq!(r["ok"], true, "{r}");
    }
}

#[test]
fn no_qc_page_leaves_the_page_out_but_keeps_qc_json() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("pkg");
    let report = ingest_json(&fixture("demo.flac"), &out, &["--no-qc-page"]);
    assert!(!out.join("report.html").exists());
    assert!(out.join("qc.json").is_file());
    let files = report["files"].as_array().expect("files");
    assert!(files.iter().all(|f| f["path"] != "report.html"));
    assert!(files.iter().any(|f| f["path"] == "qc.json"));
}
