//! The streaming package (default `ingest`): CMAF segments, HLS and DASH
//! manifests, the lossless tier. Playlists are parsed with m3u8-rs, media is
//! decoded by ffmpeg through the manifests, and the FLAC tier is checked
//! bit-exact against the source.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use m3u8_rs::{MasterPlaylist, MediaPlaylist, Playlist};

fn master(path: &Path) -> MasterPlaylist {
    let bytes = std::fs::read(path).expect("master playlist");
    match m3u8_rs::parse_playlist_res(&bytes) {
        Ok(Playlist::MasterPlaylist(m)) => m,
        other => panic!("{}: not a master playlist: {other:?}", path.display()),
    }
}

fn media(path: &Path) -> MediaPlaylist {
    let bytes = std::fs::read(path).expect("media playlist");
    match m3u8_rs::parse_playlist_res(&bytes) {
        Ok(Playlist::MediaPlaylist(m)) => m,
        other => panic!("{}: not a media playlist: {other:?}", path.display()),
    }
}

/// MD5 of the decoded PCM (as signed 16- or 24-bit) of any file or
/// manifest, by ffmpeg.
fn pcm_md5(path: &Path, sample_fmt: &str) -> String {
    let codec = if sample_fmt == "s16" {
        "pcm_s16le"
    } else {
        "pcm_s24le"
    };
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args(["-map", "0:a:0", "-c:a", codec, "-f", "md5", "-"])
        .output()
        .expect("ffmpeg");
    assert!(
        out.status.success(),
        "{}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn package(
    input: &str,
    extra: &[&str],
) -> (tempfile::TempDir, std::path::PathBuf, serde_json::Value) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("pkg");
    let report = ingest_json(&fixture(input), &out, extra);
    (dir, out, report)
}

#[test]
fn hls_playlists_tell_the_truth() {
    let (_dir, out, report) = package("demo.flac", &[]);
    let frames_48k = len_at_48k(882_000, 44_100);
    let m = master(&out.join("master.m3u8"));
    assert!(m.independent_segments);
    assert_eq!(m.version, Some(7));
    assert_eq!(m.variants.len(), 4);
    let mut extinfs = Vec::new();
    for v in &m.variants {
        assert_eq!(v.codecs.as_deref(), Some("opus"));
        let pl = media(&out.join(&v.uri));
        assert_eq!(pl.playlist_type, Some(m3u8_rs::MediaPlaylistType::Vod));
        assert!(pl.end_list);
        let map = pl.segments[0].map.as_ref().expect("EXT-X-MAP");
        assert!(out.join(&map.uri).is_file());
        // Exact durations: they add up to the real length, and each rounds
        // to at most the target duration.
        let total: f64 = pl.segments.iter().map(|s| f64::from(s.duration)).sum();
        assert!(
            (total - frames_48k as f64 / 48_000.0).abs() < 1e-4,
            "{}: {total}",
            v.uri
        );
        assert!(
            pl.segments
                .iter()
                .all(|s| (s.duration.round() as u64) <= pl.target_duration)
        );
        // BANDWIDTH is the measured peak and AVERAGE-BANDWIDTH the measured
        // average, from the segment files themselves.
        let mut bytes_total = 0u64;
        let mut peak = 0f64;
        for s in &pl.segments {
            let len = std::fs::metadata(out.join(&s.uri)).expect("segment").len();
            bytes_total += len;
            peak = peak.max(len as f64 * 8.0 / f64::from(s.duration));
        }
        let average = bytes_total as f64 * 8.0 / total;
        let declared_avg = v.average_bandwidth.expect("AVERAGE-BANDWIDTH") as f64;
        assert!(
            (declared_avg / average - 1.0).abs() < 0.01,
            "{}: {declared_avg} vs {average}",
            v.uri
        );
        assert!(
            (v.bandwidth as f64 / peak - 1.0).abs() < 0.01,
            "{}: {} vs {peak}",
            v.uri,
            v.bandwidth
        );
        extinfs.push(pl.segments.iter().map(|s| s.duration).collect::<Vec<_>>());
    }
    // Aligned: every Opus rendition has the same segment boundaries.
    assert!(extinfs.windows(2).all(|w| w[0] == w[1]));
    // The lossless tier has its own master.
    let lossless = master(&out.join("lossless.m3u8"));
    assert_eq!(lossless.variants.len(), 1);
    assert_eq!(lossless.variants[0].codecs.as_deref(), Some("flac"));
    assert_eq!(report["package"]["lossless_aligned"], true);
}

#[test]
fn ffmpeg_decodes_every_variant_and_the_mpd() {
    let (_dir, out, _) = package("demo.flac", &["--ladder", "64,128"]);
    let real = len_at_48k(882_000, 44_100);
    for entry in ["opus_64k.m3u8", "opus_128k.m3u8", "manifest.mpd"] {
        let decoded = ffmpeg_frames(&out.join(entry));
        // ffmpeg trims the pre-skip (edit list) but not the padding of the
        // last packet in fragmented MP4: allow less than one packet.
        assert!(
            decoded >= real && decoded < real + 960,
            "{entry}: {decoded} vs {real}"
        );
    }
    assert_eq!(ffmpeg_frames(&out.join("flac.m3u8")), 882_000);
}

#[test]
fn lossless_tier_is_bit_exact_16_and_24_bit() {
    for (input, fmt) in [
        ("demo.flac", "s16"),
        ("stereo_s24_48000.wav", "s24"),
        ("mono_s16_22050.wav", "s16"),
    ] {
        let (_dir, out, report) = package(input, &["--ladder", "64"]);
        assert_eq!(
            pcm_md5(&out.join("flac.m3u8"), fmt),
            pcm_md5(&fixture(input), fmt),
            "{input}"
        );
        let flac = report["package"]["renditions"]
            .as_array()
            .expect("renditions")
            .iter()
            .find(|r| r["codecs"] == "flac")
            .expect("flac rendition")
            .clone();
        assert_eq!(
            flac["sample_rate"],
            ffprobe_stream(&fixture(input), "sample_rate")
                .parse::<u64>()
                .expect("rate")
        );
    }
}

#[test]
fn single_file_layout_uses_byte_ranges() {
    let (_dir, out, _) = package(
        "mono_s16_22050.wav",
        &["--layout", "single-file", "--ladder", "48"],
    );
    let pl = media(&out.join("opus_48k.m3u8"));
    assert!(
        pl.segments
            .iter()
            .all(|s| s.uri == "opus_48k.mp4" && s.byte_range.is_some())
    );
    assert!(
        pl.segments[0]
            .map
            .as_ref()
            .and_then(|m| m.byte_range.as_ref())
            .is_some()
    );
    let names: Vec<String> = std::fs::read_dir(&out)
        .expect("out")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| n.ends_with(".m4s") || n.starts_with('.')),
        "{names:?}"
    );
    let mpd = std::fs::read_to_string(out.join("manifest.mpd")).expect("mpd");
    assert!(mpd.contains("isoff-on-demand:2011") && mpd.contains("indexRange="));
    let real = len_at_48k(66_151, 22_050);
    let decoded = ffmpeg_frames(&out.join("opus_48k.m3u8"));
    assert!(decoded >= real && decoded < real + 960);
    assert_eq!(
        pcm_md5(&out.join("flac.m3u8"), "s16"),
        pcm_md5(&fixture("mono_s16_22050.wav"), "s16")
    );
}

#[test]
fn lossy_sources_get_no_lossless_tier() {
    let (_dir, out, report) = package("stereo_44100.mp3", &["--ladder", "64"]);
    let why = report["package"]["lossless_skipped"]
        .as_str()
        .expect("reason");
    assert!(why.contains("mp3"), "{why}");
    assert!(!out.join("lossless.m3u8").exists());
    assert!(
        !std::fs::read_to_string(out.join("manifest.mpd"))
            .expect("mpd")
            .contains("flac")
    );
}

#[test]
fn packages_are_deterministic() {
    let (_a_dir, a, _) = package("stereo_s16_44100.flac", &["--ladder", "64"]);
    let (_b_dir, b, _) = package("stereo_s16_44100.flac", &["--ladder", "64"]);
    let mut files = Vec::new();
    let mut stack = vec![a.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p.strip_prefix(&a).expect("prefix").to_path_buf());
            }
        }
    }
    assert!(files.len() >= 10, "{files:?}");
    for f in files {
        assert_eq!(
            std::fs::read(a.join(&f)).expect("a"),
            std::fs::read(b.join(&f)).expect("b"),
            "{}",
            f.display()
        );
    }
}

#[test]
fn segment_duration_option() {
    let (_dir, out, report) = package("demo.flac", &["--ladder", "64", "--segment-duration", "2"]);
    let pl = media(&out.join("opus_64k.m3u8"));
    assert_eq!(pl.target_duration, 2);
    assert_eq!(pl.segments.len(), 10);
    assert_eq!(report["package"]["segment_duration_seconds"], 2.0);
    let flac = media(&out.join("flac.m3u8"));
    assert_eq!(flac.segments.len(), 10);
}

#[test]
fn mpd_parses_and_matches_the_media() {
    let (_dir, out, report) = package("demo.flac", &["--ladder", "64,128"]);
    let text = std::fs::read_to_string(out.join("manifest.mpd")).expect("mpd");
    let mpd = dash_mpd_core::parse(&text).expect("the MPD parses");
    assert_eq!(mpd.mpdtype.as_deref(), Some("static"));
    let duration = mpd.mediaPresentationDuration.expect("duration");
    assert!((duration.as_secs_f64() - 20.0).abs() < 1e-3, "{duration:?}");
    let period = &mpd.periods[0];
    let codecs: Vec<_> = period
        .adaptations
        .iter()
        .map(|a| a.codecs.clone().unwrap_or_default())
        .collect();
    assert_eq!(codecs, ["opus", "flac"]);
    let packaged = report["package"]["renditions"]
        .as_array()
        .expect("renditions");
    for set in &period.adaptations {
        assert_eq!(set.AudioChannelConfiguration[0].value.as_deref(), Some("2"));
        for rep in &set.representations {
            let id = rep.id.clone().expect("id");
            let entry = packaged
                .iter()
                .find(|p| p["name"] == id.as_str())
                .expect("in the report");
            assert_eq!(rep.bandwidth, entry["average_bandwidth_bps"].as_u64());
            let template = rep.SegmentTemplate.as_ref().expect("SegmentTemplate");
            let timeline = template.SegmentTimeline.as_ref().expect("SegmentTimeline");
            let ticks: u64 = timeline
                .segments
                .iter()
                .map(|s| s.d * (s.r.unwrap_or(0) as u64 + 1))
                .sum();
            let count: u64 = timeline
                .segments
                .iter()
                .map(|s| s.r.unwrap_or(0) as u64 + 1)
                .sum();
            assert_eq!(count, entry["segments"].as_u64().expect("segments"), "{id}");
            let pto = template.presentationTimeOffset.unwrap_or(0);
            let timescale = template.timescale.expect("timescale");
            // The timeline ends exactly where the presentation ends.
            assert_eq!(
                ticks - pto,
                (duration.as_secs_f64() * timescale as f64).round() as u64,
                "{id}"
            );
        }
    }
}

#[test]
fn lossless_tier_above_65535_hz() {
    // 96 kHz does not fit the sample entry's 16.16 rate: it is written as 0
    // with an `srat` box, and STREAMINFO carries the rate.
    let dir = tempfile::tempdir().expect("tempdir");
    let input = hi_res_master(dir.path());
    let out = dir.path().join("pkg");
    ingest_json(&input, &out, &["--ladder", "64"]);
    assert_eq!(
        ffprobe_stream(&out.join("flac/init.mp4"), "sample_rate"),
        "96000"
    );
    assert_eq!(
        pcm_md5(&out.join("flac.m3u8"), "s24"),
        pcm_md5(&input, "s24")
    );
}
