//! Bad input gets a clear error and loses nothing: a documented exit code,
//! a message naming the file, no panic, and nothing left at --out.
//! The broken files are made here from the committed fixtures.

mod common;

use std::path::{Path, PathBuf};

use common::*;

struct Bad {
    dir: tempfile::TempDir,
}

impl Bad {
    fn new() -> Self {
        Bad {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).expect("write");
        path
    }

    /// Runs `ingest` and checks the contract; returns stderr.
    fn expect_failure(&self, input: &Path, code: i32, extra: &[&str]) -> String {
        let out = self.dir.path().join("out");
        let mut args = vec![
            "ingest",
            input.to_str().expect("utf8"),
            "--out",
            out.to_str().expect("utf8"),
        ];
        args.extend_from_slice(extra);
        let o = run(&args);
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(
            o.status.code(),
            Some(code),
            "{}: stderr: {stderr}",
            input.display()
        );
        assert!(!stderr.contains("panicked"), "panic: {stderr}");
        let name = input.file_name().expect("name").to_string_lossy();
        assert!(
            stderr.contains(name.as_ref()),
            "message does not name {name}: {stderr}"
        );
        assert!(stderr.starts_with("error: "), "{stderr}");
        assert!(!out.exists(), "partial output left at {}", out.display());
        assert_no_staging_left(&out);
        // probe and loudness fail the same way.
        for cmd in ["probe", "loudness"] {
            let mut args = vec![cmd, input.to_str().expect("utf8")];
            args.extend_from_slice(extra);
            let o = run(&args);
            assert_eq!(o.status.code(), Some(code), "{cmd} {}", input.display());
        }
        stderr
    }
}

fn fixture_bytes(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).expect("fixture")
}

/// Offset of a RIFF chunk's payload.
fn chunk(bytes: &[u8], id: &[u8; 4]) -> usize {
    bytes.windows(4).position(|w| w == id).expect("chunk") + 8
}

#[test]
fn empty_file() {
    let bad = Bad::new();
    let err = bad.expect_failure(&bad.write("empty.wav", &[]), 3, &[]);
    assert!(err.contains("empty"), "{err}");
}

#[test]
fn garbage_is_an_unknown_format() {
    let bad = Bad::new();
    let mut x = 0x1234_5678u32;
    let bytes: Vec<u8> = (0..65_536)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (x >> 24) as u8
        })
        .collect();
    let err = bad.expect_failure(&bad.write("garbage.flac", &bytes), 4, &[]);
    assert!(err.contains("not a recognised audio format"), "{err}");
    bad.expect_failure(
        &bad.write("text.mp3", b"hello, this is not audio at all\n"),
        4,
        &[],
    );
}

#[test]
fn truncated_wav_flac_mp3() {
    let bad = Bad::new();
    for name in [
        "stereo_s24_48000.wav",
        "stereo_s16_44100.flac",
        "stereo_44100.mp3",
        "stereo_s16_44100.aiff",
    ] {
        let bytes = fixture_bytes(name);
        let cut = bad.write(&format!("cut_{name}"), &bytes[..bytes.len() * 6 / 10]);
        let err = bad.expect_failure(&cut, 3, &[]);
        assert!(err.contains("truncated"), "{name}: {err}");
    }
}

#[test]
fn lenient_mode_accepts_truncation_with_a_warning() {
    let bad = Bad::new();
    let bytes = fixture_bytes("stereo_s24_48000.wav");
    let cut = bad.write("cut.wav", &bytes[..bytes.len() / 2]);
    let out = bad.dir.path().join("pkg");
    let r = ingest_json(
        &cut,
        &out,
        &["--lenient", "--formats", "ogg", "--ladder", "64"],
    );
    let warnings = r["input"]["warnings"].as_array().expect("warnings");
    assert!(!warnings.is_empty());
    let frames = r["input"]["frames"].as_u64().expect("frames");
    assert_eq!(
        ffmpeg_frames(&out.join("opus_64k.opus")),
        len_at_48k(frames, 48_000)
    );
}

#[test]
fn corrupt_flac_frames_in_the_middle() {
    let bad = Bad::new();
    let mut bytes = fixture_bytes("stereo_s16_44100.flac");
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 3000] {
        *b ^= 0x5A;
    }
    let err = bad.expect_failure(&bad.write("corrupt.flac", &bytes), 3, &[]);
    assert!(err.contains("corrupt"), "{err}");
}

#[test]
fn lying_wav_headers() {
    let bad = Bad::new();
    let base = fixture_bytes("stereo_s24_48000.wav");
    let fmt = chunk(&base, b"fmt ");
    let data = chunk(&base, b"data") - 4;

    let mut zero_channels = base.clone();
    zero_channels[fmt + 2..fmt + 4].copy_from_slice(&0u16.to_le_bytes());
    bad.expect_failure(&bad.write("zero_channels.wav", &zero_channels), 3, &[]);

    let mut zero_rate = base.clone();
    zero_rate[fmt + 4..fmt + 8].copy_from_slice(&0u32.to_le_bytes());
    bad.expect_failure(&bad.write("zero_rate.wav", &zero_rate), 3, &[]);

    let mut tiny_rate = base.clone();
    tiny_rate[fmt + 4..fmt + 8].copy_from_slice(&100u32.to_le_bytes());
    let err = bad.expect_failure(&bad.write("rate_100.wav", &tiny_rate), 5, &[]);
    assert!(err.contains("100 Hz"), "{err}");

    // A data chunk that claims 4 GB: 149 h of 8 kHz 8-bit mono, over the
    // 6 h limit, refused before decoding anything.
    let mut huge = fixture_bytes("mono_u8_8000.wav");
    let huge_data = chunk(&huge, b"data") - 4;
    huge[huge_data..huge_data + 4].copy_from_slice(&0xFFFF_0000u32.to_le_bytes());
    huge[4..8].copy_from_slice(&0xFFFF_FF00u32.to_le_bytes());
    let err = bad.expect_failure(&bad.write("huge.wav", &huge), 5, &[]);
    assert!(err.contains("over the limit"), "{err}");

    // A data chunk longer than the file: truncated.
    let mut longer = base.clone();
    let declared = u32::from_le_bytes(base[data..data + 4].try_into().expect("4 bytes"));
    longer[data..data + 4].copy_from_slice(&(declared + 6 * 1000).to_le_bytes());
    let riff = u32::from_le_bytes(base[4..8].try_into().expect("4 bytes"));
    longer[4..8].copy_from_slice(&(riff + 6 * 1000).to_le_bytes());
    let err = bad.expect_failure(&bad.write("longer.wav", &longer), 3, &[]);
    assert!(err.contains("truncated"), "{err}");
}

#[test]
fn limits_are_enforced() {
    let bad = Bad::new();
    let err = bad.expect_failure(
        &fixture("surround51_s16_48000.wav"),
        5,
        &["--max-channels", "2"],
    );
    assert!(err.contains("6 channels"), "{err}");
    let err = bad.expect_failure(&fixture("demo.flac"), 5, &["--max-duration", "5"]);
    assert!(err.contains("over the limit"), "{err}");
}

#[test]
fn missing_or_unreadable_input_is_io() {
    let bad = Bad::new();
    let missing = bad.dir.path().join("missing.flac");
    bad.expect_failure(&missing, 6, &[]);
    let as_dir = bad.dir.path().join("adir.wav");
    std::fs::create_dir(&as_dir).expect("mkdir");
    bad.expect_failure(&as_dir, 6, &[]);
}

#[test]
fn refuses_to_replace_a_foreign_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("precious");
    std::fs::create_dir(&out).expect("mkdir");
    std::fs::write(out.join("notes.txt"), b"keep me").expect("write");
    let o = run(&[
        "ingest",
        fixture("mono_u8_8000.wav").to_str().expect("utf8"),
        "--out",
        out.to_str().expect("utf8"),
    ]);
    assert_eq!(o.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&o.stderr).contains("refusing"));
    assert_eq!(
        std::fs::read(out.join("notes.txt")).expect("kept"),
        b"keep me"
    );
    assert_no_staging_left(&out);
}
