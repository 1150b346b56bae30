//! End-to-end: the real binary on the fixtures, checked by ffmpeg/ffprobe.
//! Lengths exact to the sample, loudness within ±0.5 LU of the peak-safe
//! expectation computed from ffmpeg's own measurement of the input, true
//! peak of the decoded renditions under −0.5 dBTP.

mod common;

use common::*;

const TARGET: f64 = -14.0;

/// `ingest … --formats ogg`: these tests read the progressive Ogg files.
fn ingest_ogg(input: &std::path::Path, out: &std::path::Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["--formats", "ogg"];
    args.extend_from_slice(extra);
    ingest_json(input, out, &args)
}
const CEILING: f64 = -1.0;

/// What the peak-safe normalizer should reach, from ffmpeg's measurement.
fn expected_loudness(input: &Loudness) -> f64 {
    let gain = (TARGET - input.integrated).min(CEILING - input.true_peak);
    input.integrated + gain
}

struct Case {
    file: &'static str,
    channels_out: u64,
    /// An ffmpeg filter giving what we encode (the stereo fold-down), if
    /// not the file itself.
    as_encoded: Option<&'static str>,
    extra: &'static [&'static str],
}

fn check_case(case: &Case) {
    let input = fixture(case.file);
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("pkg");
    let report = ingest_ogg(&input, &out, case.extra);

    let rate = ffprobe_stream(&input, "sample_rate")
        .parse::<u64>()
        .expect("rate");
    let source_frames = ffmpeg_frames(&input);
    assert_eq!(
        report["input"]["frames"], source_frames,
        "{}: decoded input length",
        case.file
    );
    let want_frames = len_at_48k(source_frames, rate);
    let measured_in = ffmpeg_loudness(&input, case.as_encoded);
    let want_lufs = expected_loudness(&measured_in);

    let renditions = report["renditions"].as_array().expect("renditions");
    assert_eq!(renditions.len(), 4, "{}: default ladder", case.file);
    for r in renditions {
        let file = out.join(r["file"].as_str().expect("file"));
        assert_eq!(ffprobe_stream(&file, "codec_name"), "opus");
        assert_eq!(
            ffprobe_stream(&file, "channels"),
            case.channels_out.to_string()
        );
        assert_eq!(
            ffmpeg_frames(&file),
            want_frames,
            "{}: decoded length of {}",
            case.file,
            file.display()
        );
        let l = ffmpeg_loudness(&file, None);
        assert!(
            (l.integrated - want_lufs).abs() <= 0.5,
            "{}: {} reads {:.2} LUFS, expected {want_lufs:.2}",
            case.file,
            file.display(),
            l.integrated
        );
        assert!(
            l.true_peak <= -0.5,
            "{}: {} true peak {:.2} dBTP",
            case.file,
            file.display(),
            l.true_peak
        );
        // The declared bitrate is what the encoder was asked for; constrained
        // VBR lands within 15 % on music.
        let target = r["bitrate_target_bps"].as_f64().expect("target");
        let measured = r["bitrate_measured_bps"].as_f64().expect("measured");
        assert!(
            (measured / target - 1.0).abs() < 0.15,
            "{}: {measured} vs {target} bit/s",
            case.file
        );
    }
    assert_no_staging_left(&out);
}

#[test]
fn stereo_flac_44100() {
    check_case(&Case {
        file: "demo.flac",
        channels_out: 2,
        as_encoded: None,
        extra: &[],
    });
}

#[test]
fn mono_wav_22050_gets_a_mono_ladder() {
    check_case(&Case {
        file: "mono_s16_22050.wav",
        channels_out: 1,
        as_encoded: None,
        extra: &[],
    });
}

#[test]
fn stereo_24bit_48000_no_resampling() {
    check_case(&Case {
        file: "stereo_s24_48000.wav",
        channels_out: 2,
        as_encoded: None,
        extra: &[],
    });
}

#[test]
fn mp3_gapless() {
    check_case(&Case {
        file: "stereo_44100.mp3",
        channels_out: 2,
        as_encoded: None,
        extra: &[],
    });
}

#[test]
fn float_wav_and_96k() {
    check_case(&Case {
        file: "stereo_f32_44100.wav",
        channels_out: 2,
        as_encoded: None,
        extra: &[],
    });
    check_case(&Case {
        file: "stereo_s32_96000.wav",
        channels_out: 2,
        as_encoded: None,
        extra: &[],
    });
}

#[test]
fn surround_is_folded_down_with_itu_coefficients() {
    // L R C LFE Ls Rs -> Lo = L + .707 C + .707 Ls, Ro = R + .707 C + .707 Rs
    check_case(&Case {
        file: "surround51_s16_48000.wav",
        channels_out: 2,
        as_encoded: Some("pan=stereo|c0=c0+0.7071*c2+0.7071*c4|c1=c1+0.7071*c2+0.7071*c5"),
        extra: &[],
    });
}

#[test]
fn peaky_master_is_capped_by_its_true_peak() {
    check_case(&Case {
        file: "quiet_peaky_s16_44100.wav",
        channels_out: 2,
        as_encoded: None,
        extra: &[],
    });
}

#[test]
fn limiter_reaches_the_target_on_a_peaky_master() {
    let input = fixture("quiet_peaky_s16_44100.wav");
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("pkg");
    let report = ingest_ogg(&input, &out, &["--limiter", "--ladder", "96"]);
    assert_eq!(report["processing"]["limiter"], true);
    let file = out.join("opus_96k.opus");
    let l = ffmpeg_loudness(&file, None);
    assert!(
        (l.integrated - TARGET).abs() <= 0.5,
        "{:.2} LUFS",
        l.integrated
    );
    assert!(l.true_peak <= -0.5, "true peak {:.2} dBTP", l.true_peak);
}

#[test]
fn presets_and_targets() {
    let input = fixture("demo.flac");
    let dir = tempfile::tempdir().expect("tempdir");
    for (args, want) in [
        (&["--preset", "broadcast"][..], -23.0),
        (&["--target-lufs", "-16"][..], -16.0),
    ] {
        let out = dir.path().join(format!("pkg{want}"));
        let mut all = vec!["--ladder", "128"];
        all.extend_from_slice(args);
        ingest_ogg(&input, &out, &all);
        let l = ffmpeg_loudness(&out.join("opus_128k.opus"), None);
        assert!(
            (l.integrated - want).abs() <= 0.5,
            "{args:?}: {:.2} LUFS",
            l.integrated
        );
    }
}

#[test]
fn output_is_deterministic_and_tags_travel() {
    // A tagged FLAC made here with ffmpeg.
    let dir = tempfile::tempdir().expect("tempdir");
    let tagged = dir.path().join("tagged.flac");
    let status = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(fixture("stereo_s16_44100.flac"))
        .args([
            "-metadata",
            "title=Test Title",
            "-metadata",
            "artist=Ünïcode Artist",
            "-c",
            "copy",
        ])
        .arg(&tagged)
        .status()
        .expect("ffmpeg");
    assert!(status.success());
    let run_once = |name: &str| {
        let out = dir.path().join(name);
        ingest_ogg(&tagged, &out, &["--ladder", "64,96"]);
        out
    };
    let a = run_once("a");
    let b = run_once("b");
    for file in ["opus_64k.opus", "opus_96k.opus", "report.json"] {
        let fa = std::fs::read(a.join(file)).expect("a");
        let fb = std::fs::read(b.join(file)).expect("b");
        if file == "report.json" {
            // Only the output directory differs; the report does not name it.
            assert_eq!(fa, fb, "report differs");
        } else {
            assert_eq!(fa, fb, "{file} differs between identical runs");
        }
    }
    let out = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream_tags=title,artist",
            "-of",
            "default=nw=1",
        ])
        .arg(a.join("opus_64k.opus"))
        .output()
        .expect("ffprobe");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Test Title") && text.contains("Ünïcode Artist"),
        "tags: {text}"
    );
}

#[test]
fn rerun_replaces_an_earlier_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("pkg");
    let input = fixture("mono_u8_8000.wav");
    for ladder in ["48,64", "32"] {
        ingest_ogg(&input, &out, &["--ladder", ladder]);
    }
    let mut names: Vec<String> = std::fs::read_dir(&out)
        .expect("out")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["opus_32k.opus", "qc.json", "report.html", "report.json"]
    );
    assert_no_staging_left(&out);
}
