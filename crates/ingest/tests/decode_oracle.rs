//! Our decode against ffmpeg's, sample by sample, on the lossless fixtures;
//! and strictness on small in-memory files.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::Command;

use audiopack_ingest::{ErrorKind, IngestConfig, Source};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(name)
}

/// Interleaved f32 from ffmpeg (the outside oracle).
fn ffmpeg_f32(path: &Path) -> Vec<f32> {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args(["-f", "f32le", "-"])
        .output()
        .expect("ffmpeg is required: run scripts/test.sh, which installs it");
    assert!(out.status.success());
    out.stdout
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

fn decode_interleaved(source: &mut Source) -> Vec<f32> {
    let mut all = Vec::new();
    while let Some(block) = source.next_block().expect("decode") {
        for i in 0..block[0].len() {
            for channel in block {
                all.push(channel[i]);
            }
        }
    }
    all
}

#[test]
fn lossless_fixtures_decode_exactly_like_ffmpeg() {
    for name in [
        "demo.flac",
        "stereo_s24_48000.wav",
        "stereo_f32_44100.wav",
        "mono_s16_22050.wav",
        "mono_u8_8000.wav",
        "stereo_s32_96000.wav",
        "stereo_s16_44100.aiff",
        "surround51_s16_48000.wav",
        "flac_named.wav",
    ] {
        let path = fixture(name);
        let mut source = Source::open(&path, &IngestConfig::default()).expect("open");
        let ours = decode_interleaved(&mut source);
        let theirs = ffmpeg_f32(&path);
        assert_eq!(ours.len(), theirs.len(), "{name}: length");
        let max_diff = ours
            .iter()
            .zip(&theirs)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        // s32 → f32 rounds differently in the last bit of the mantissa.
        assert!(max_diff <= 1e-6, "{name}: max difference {max_diff}");
    }
}

#[test]
fn lossy_fixtures_match_ffmpeg_closely() {
    for name in ["stereo_44100.mp3", "stereo_44100.ogg"] {
        let path = fixture(name);
        let mut source = Source::open(&path, &IngestConfig::default()).expect("open");
        let ours = decode_interleaved(&mut source);
        let theirs = ffmpeg_f32(&path);
        assert_eq!(ours.len(), theirs.len(), "{name}: gapless length");
        let err: f64 = ours
            .iter()
            .zip(&theirs)
            .map(|(a, b)| f64::from(a - b).powi(2))
            .sum::<f64>();
        let sig: f64 = theirs.iter().map(|a| f64::from(*a).powi(2)).sum::<f64>();
        let snr = 10.0 * (sig / err.max(1e-30)).log10();
        assert!(snr > 60.0, "{name}: decoders agree only to {snr:.1} dB");
    }
}

/// A float WAV (format tag 3) in memory.
fn float_wav(channels: u16, rate: u32, samples: &[f32]) -> Vec<u8> {
    let data_len = (samples.len() * 4) as u32;
    let mut w = Vec::new();
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + data_len).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&3u16.to_le_bytes());
    w.extend_from_slice(&channels.to_le_bytes());
    w.extend_from_slice(&rate.to_le_bytes());
    w.extend_from_slice(&(rate * 4 * u32::from(channels)).to_le_bytes());
    w.extend_from_slice(&(4 * channels).to_le_bytes());
    w.extend_from_slice(&32u16.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        w.extend_from_slice(&s.to_le_bytes());
    }
    w
}

fn open_bytes(
    bytes: Vec<u8>,
    config: &IngestConfig,
) -> Result<Source, audiopack_ingest::IngestError> {
    Source::from_media(
        Path::new("memory.wav"),
        Box::new(Cursor::new(bytes)),
        config,
    )
}

#[test]
fn in_memory_wav_roundtrip() {
    let samples: Vec<f32> = (0..2000).map(|i| (i as f32 * 0.01).sin() * 0.5).collect();
    let mut source =
        open_bytes(float_wav(2, 44_100, &samples), &IngestConfig::default()).expect("open");
    assert_eq!(source.info().channels, 2);
    assert_eq!(source.info().declared_frames, Some(1000));
    assert_eq!(decode_interleaved(&mut source), samples);
}

#[test]
fn nan_samples_are_corrupt_input() {
    let mut samples = vec![0.1f32; 2000];
    samples[1501] = f32::NAN;
    let mut source =
        open_bytes(float_wav(2, 44_100, &samples), &IngestConfig::default()).expect("open");
    let err = loop {
        match source.next_block() {
            Ok(Some(_)) => continue,
            Ok(None) => panic!("NaN accepted"),
            Err(e) => break e,
        }
    };
    assert_eq!(err.kind(), ErrorKind::BadInput);
    let text = err.to_string();
    assert!(
        text.contains("memory.wav") && text.contains("NaN") && text.contains("frame 750"),
        "{text}"
    );
}

#[test]
fn limits_come_from_the_config() {
    let samples = vec![0.0f32; 8];
    let config = IngestConfig {
        limits: audiopack_ingest::Limits {
            max_channels: 1,
            ..Default::default()
        },
        ..Default::default()
    };
    let err =
        open_bytes(float_wav(2, 44_100, &samples), &config).expect_err("over the channel limit");
    assert_eq!(err.kind(), ErrorKind::Limit);
    let bad = IngestConfig {
        limits: audiopack_ingest::Limits {
            min_sample_rate: 0,
            ..Default::default()
        },
        ..Default::default()
    };
    assert_eq!(
        bad.validate().expect_err("invalid").kind(),
        ErrorKind::Config
    );
}
