//! The CLI contract other tools depend on: `probe` and `loudness` fields,
//! checked against ffprobe/ffmpeg.

mod common;

use common::*;

const DECODABLE: [&str; 12] = [
    "demo.flac",
    "stereo_s16_44100.flac",
    "stereo_s24_48000.wav",
    "stereo_f32_44100.wav",
    "mono_s16_22050.wav",
    "mono_u8_8000.wav",
    "stereo_s32_96000.wav",
    "stereo_44100.mp3",
    "stereo_s16_44100.aiff",
    "stereo_44100.ogg",
    "surround51_s16_48000.wav",
    "flac_named.wav",
];

#[test]
fn probe_agrees_with_ffmpeg() {
    for name in DECODABLE {
        let path = fixture(name);
        let p = run_json(&["probe", path.to_str().expect("utf8"), "--json"]);
        let frames = ffmpeg_frames(&path);
        assert_eq!(p["frames"], frames, "{name}: frames");
        let rate: u64 = ffprobe_stream(&path, "sample_rate").parse().expect("rate");
        assert_eq!(p["sample_rate"], rate, "{name}: sample_rate");
        let channels: u64 = ffprobe_stream(&path, "channels").parse().expect("channels");
        assert_eq!(p["channels"], channels, "{name}: channels");
        let duration = p["duration_seconds"].as_f64().expect("duration");
        assert!(
            (duration - frames as f64 / rate as f64).abs() < 1e-9,
            "{name}: duration"
        );
        for key in ["format", "codec", "tags"] {
            assert!(p.get(key).is_some(), "{name}: {key} missing");
        }
    }
}

#[test]
fn probe_detects_by_content_not_extension() {
    let p = run_json(&[
        "probe",
        fixture("flac_named.wav").to_str().expect("utf8"),
        "--json",
    ]);
    assert_eq!(p["format"], "flac");
    assert_eq!(p["codec"], "flac");
    assert_eq!(p["bits_per_sample"], 16);
    let p = run_json(&[
        "probe",
        fixture("stereo_s24_48000.wav").to_str().expect("utf8"),
        "--json",
    ]);
    assert_eq!(p["format"], "wav");
    assert_eq!(p["bits_per_sample"], 24);
}

#[test]
fn loudness_agrees_with_ffmpeg_ebur128() {
    for name in [
        "demo.flac",
        "stereo_s24_48000.wav",
        "stereo_44100.mp3",
        "mono_s16_22050.wav",
        "surround51_s16_48000.wav",
    ] {
        let path = fixture(name);
        let ours = run_json(&["loudness", path.to_str().expect("utf8"), "--json"]);
        let theirs = ffmpeg_loudness(&path, None);
        let get = |k: &str| ours[k].as_f64().unwrap_or(f64::NEG_INFINITY);
        assert!(
            (get("integrated_lufs") - theirs.integrated).abs() <= 0.1,
            "{name}: I {} vs {}",
            get("integrated_lufs"),
            theirs.integrated
        );
        // LRA is a statistic over 3 s windows: only meaningful (and only
        // comparable between implementations) on inputs of 10 s or more.
        let seconds = ours["frames"].as_f64().expect("frames")
            / ffprobe_stream(&path, "sample_rate")
                .parse::<f64>()
                .expect("rate");
        if seconds >= 10.0 {
            assert!(
                (get("loudness_range_lu") - theirs.range).abs() <= 0.2,
                "{name}: LRA {} vs {}",
                get("loudness_range_lu"),
                theirs.range
            );
        }
        assert!(
            (get("true_peak_dbtp") - theirs.true_peak).abs() <= 0.2,
            "{name}: TP {} vs {}",
            get("true_peak_dbtp"),
            theirs.true_peak
        );
        assert!(
            (get("sample_peak_dbfs") - theirs.sample_peak).abs() <= 0.05,
            "{name}: SP {} vs {}",
            get("sample_peak_dbfs"),
            theirs.sample_peak
        );
    }
}

#[test]
fn silence_has_no_loudness_and_gets_no_gain() {
    let dir = tempfile::tempdir().expect("tempdir");
    let silent = dir.path().join("silence.wav");
    let status = std::process::Command::new("ffmpeg")
        .args([
            "-nostdin",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "anullsrc=r=44100:cl=stereo",
            "-t",
            "2",
            "-c:a",
            "pcm_s16le",
        ])
        .arg(&silent)
        .status()
        .expect("ffmpeg");
    assert!(status.success());
    let l = run_json(&["loudness", silent.to_str().expect("utf8"), "--json"]);
    assert!(l["integrated_lufs"].is_null(), "{l}");
    let out = dir.path().join("pkg");
    let r = ingest_json(&silent, &out, &["--formats", "ogg", "--ladder", "64"]);
    assert_eq!(r["loudness"]["gain"]["gain_db"], 0.0);
    assert_eq!(r["loudness"]["gain"]["reason"], "silence");
    assert_eq!(
        ffmpeg_frames(&out.join("opus_64k.opus")),
        len_at_48k(88_200, 44_100)
    );
}

#[test]
fn human_output_and_quiet() {
    let path = fixture("mono_u8_8000.wav");
    let out = run(&["probe", path.to_str().expect("utf8")]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("sample_rate") && text.contains("8000 Hz"),
        "{text}"
    );
    let out = run(&["-q", "probe", path.to_str().expect("utf8")]);
    assert!(out.status.success());
    assert!(out.stdout.is_empty() && out.stderr.is_empty());
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(run(&["ingest"]).status.code(), Some(2));
    assert_eq!(run(&["frobnicate"]).status.code(), Some(2));
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("pkg");
    let input = fixture("mono_u8_8000.wav");
    for bad in [
        &["--ladder", "fast"][..],
        &["--target-lufs", "+5"],
        &["--formats", "mp4"],
        &["--true-peak", "-50"],
    ] {
        let mut args = vec![
            "ingest",
            input.to_str().expect("utf8"),
            "--out",
            out.to_str().expect("utf8"),
        ];
        args.extend_from_slice(bad);
        let o = run(&args);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{bad:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(!out.exists());
    }
}
