//! Issue 9, findings 10 and 11: loudness at high sample rates and the
//! `--limiter` ceiling on decoded renditions, checked on the decoded Ogg
//! Opus files with ffmpeg's `ebur128` as the outside oracle.

mod common;

use std::path::Path;

use common::*;

const TARGET: f64 = -14.0;
const CEILING: f64 = -1.0;

/// `ingest … --formats ogg EXTRA…`: the report, and each rendition's
/// decoded loudness by ffmpeg.
fn ingest_and_decode(
    input: &Path,
    out: &Path,
    extra: &[&str],
) -> (serde_json::Value, Vec<(String, Loudness)>) {
    let mut args = vec!["--formats", "ogg"];
    args.extend_from_slice(extra);
    let report = ingest_json(input, out, &args);
    let decoded = report["renditions"]
        .as_array()
        .expect("renditions")
        .iter()
        .map(|r| {
            let file = r["file"].as_str().expect("ogg file");
            (file.to_string(), ffmpeg_loudness(&out.join(file), None))
        })
        .collect();
    (report, decoded)
}

/// Pink noise with energy up to the source's Nyquist: what lies above
/// 24 kHz is not delivered (resampled away before Opus), so it must not
/// count in the gain plan.
#[test]
fn high_rate_pink_noise_lands_on_the_target() {
    let dir = tempfile::tempdir().expect("tempdir");
    for rate in [96_000, 192_000, 384_000] {
        let input = dir.path().join(format!("pink{rate}.wav"));
        ffmpeg_generate(
            &format!("anoisesrc=color=pink:sample_rate={rate}:amplitude=0.3:seed=7:duration=10"),
            &["-ac", "2", "-c:a", "pcm_s24le"],
            &input,
        );
        let out = dir.path().join(format!("pkg{rate}"));
        let (report, decoded) = ingest_and_decode(&input, &out, &["--ladder", "64,160"]);
        for (file, l) in &decoded {
            assert!(
                (l.integrated - TARGET).abs() <= 0.3,
                "{rate} Hz: {file} decodes at {:.2} LUFS, target {TARGET}",
                l.integrated
            );
        }
        // The report's input is still the source's own loudness.
        let source = ffmpeg_loudness(&input, None);
        let reported = report["loudness"]["input"]["integrated_lufs"]
            .as_f64()
            .expect("input loudness");
        assert!(
            (reported - source.integrated).abs() <= 0.2,
            "{rate} Hz: report input {reported:.2} LUFS, ffmpeg {:.2}",
            source.integrated
        );
    }
}

/// Every decoded rendition at or under the ceiling + 0.1 dB; the report's
/// per-rendition decoded peak and loudness agree with ffmpeg's (true-peak
/// meters interpolate single-sample clicks differently: ebur128-rs reads
/// them up to ~0.3 dB lower than ffmpeg's 192 kHz resampler); its
/// expected loudness is within `tolerance` LU of what the files decode to.
fn assert_ceiling_and_truth(
    what: &str,
    report: &serde_json::Value,
    decoded: &[(String, Loudness)],
    tolerance: f64,
) {
    // What the files are, against what the report says (fields the
    // report always had).
    let expected = report["loudness"]["gain"]["expected_integrated_lufs"].as_f64();
    for (file, l) in decoded {
        assert!(
            l.true_peak <= CEILING + 0.1,
            "{what}: {file} decodes to {:.2} dBTP, ceiling {CEILING}",
            l.true_peak
        );
        if l.integrated > -70.0 {
            let expected = expected.expect("expected loudness");
            assert!(
                (l.integrated - expected).abs() <= tolerance,
                "{what}: report expects {expected:.2} LUFS, {file} decodes at {:.2}",
                l.integrated
            );
        }
    }
    // The new record of what --limiter did.
    let control = &report["loudness"]["peak_control"];
    assert!(
        control["peak_passes"].as_u64().is_some_and(|n| n >= 1),
        "{what}: decoded peaks checked: {control}"
    );
    assert_eq!(
        control["warnings"].as_array().map(Vec::len),
        Some(0),
        "{what}: {control}"
    );
    let ours = control["decoded"].as_array().expect("decoded renditions");
    assert_eq!(ours.len(), decoded.len(), "{what}: {control}");
    for ((file, l), mine) in decoded.iter().zip(ours) {
        assert_eq!(
            format!("{}.opus", mine["rendition"].as_str().expect("name")),
            *file
        );
        if l.true_peak > -60.0 {
            let tp = mine["true_peak_dbtp"].as_f64().expect("decoded true peak");
            assert!(
                (tp - l.true_peak).abs() <= 0.3,
                "{what}: {file}: report {tp:.2} dBTP, ffmpeg {:.2}",
                l.true_peak
            );
        }
        if l.integrated > -70.0 {
            let i = mine["integrated_lufs"].as_f64().expect("decoded loudness");
            assert!(
                (i - l.integrated).abs() <= 0.3,
                "{what}: {file}: report {i:.2} LUFS, ffmpeg {:.2}",
                l.integrated
            );
        }
    }
}

#[test]
fn limiter_holds_the_ceiling_after_decoding() {
    let dir = tempfile::tempdir().expect("tempdir");
    // About -26 LUFS with 0.1 ms clicks near -3 dBTP: +13 dB through the
    // limiter, and libopus moves the clicks' peaks over the ceiling.
    let input = fixture("quiet_peaky_s16_44100.wav");
    let (report, decoded) = ingest_and_decode(&input, &dir.path().join("peaky"), &["--limiter"]);
    assert_ceiling_and_truth("quiet_peaky", &report, &decoded, 0.5);
    for (file, l) in &decoded {
        assert!(
            (l.integrated - TARGET).abs() <= 0.5,
            "quiet_peaky: {file} at {:.2} LUFS",
            l.integrated
        );
    }
}

#[test]
fn limiter_does_not_chase_sparse_clicks() {
    // Single-sample full-scale clicks in digital silence, every 1.5 s: the
    // limiter takes their loudness away as fast as gain adds it. They got
    // +72.7 dB and a report saying "-14 LUFS" while decoding at -38.5.
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("clicks.wav");
    ffmpeg_generate(
        "aevalsrc='if(lt(mod(n\\,66150)\\,1)\\,0.999\\,0)|if(lt(mod(n\\,66150)\\,1)\\,0.999\\,0)':s=44100:d=12",
        &["-c:a", "pcm_s16le"],
        &input,
    );
    let (report, decoded) = ingest_and_decode(&input, &dir.path().join("pkg"), &["--limiter"]);
    // Opus renders single-sample clicks up to ~2 LU quieter than they go in.
    assert_ceiling_and_truth("clicks", &report, &decoded, 2.0);
    let gain = report["loudness"]["gain"]["gain_db"]
        .as_f64()
        .expect("gain");
    assert!(gain <= 0.0, "clicks at 0 dBFS get {gain:.1} dB");
    assert_eq!(report["loudness"]["gain"]["reason"], "peak_ceiling");
}

#[test]
fn limiter_on_dc_and_near_dc() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Full-scale DC: not audio. It got +31.9 dB and "to the target".
    let dc = dir.path().join("dc.wav");
    ffmpeg_generate(
        "aevalsrc='1.0|1.0':s=48000:d=10",
        &["-c:a", "pcm_s16le"],
        &dc,
    );
    let (report, decoded) = ingest_and_decode(&dc, &dir.path().join("dc"), &["--limiter"]);
    assert_ceiling_and_truth("dc", &report, &decoded, 0.5);
    let gain = &report["loudness"]["gain"];
    assert_eq!(gain["gain_db"], 0.0, "DC: {gain}");
    assert_eq!(gain["reason"], "silence", "DC: {gain}");
    for (file, l) in &decoded {
        assert!(
            l.true_peak < -60.0,
            "DC: {file} decodes to {:.1} dBTP",
            l.true_peak
        );
    }

    // A full-scale 2 Hz sine: inaudible, K-weighting gives it almost no
    // loudness. It got +60 dB and decoded at +2.1 dBTP, the report
    // claiming -14 LUFS while the files decode at -24.7.
    let rumble = dir.path().join("rumble.wav");
    ffmpeg_generate(
        "aevalsrc='sin(2*PI*2*t)|sin(2*PI*2*t)':s=48000:d=10",
        &["-c:a", "pcm_s16le"],
        &rumble,
    );
    let (report, decoded) = ingest_and_decode(&rumble, &dir.path().join("rumble"), &["--limiter"]);
    // What is left after the subsonic filter (the sine's start and -56 dB
    // of rumble) gets the peak-safe gain, not the target's.
    assert_ceiling_and_truth("2 Hz", &report, &decoded, 2.0);
    let gain = &report["loudness"]["gain"];
    assert_eq!(gain["reason"], "peak_ceiling", "2 Hz: {gain}");
    assert!(
        gain["gain_db"].as_f64().is_some_and(|g| g < 40.0),
        "2 Hz: {gain}"
    );
}
