//! Hostile inputs (issue 9): special files, absurd samples, headers that
//! lie, channel counts past what symphonia maps, and tag bombs. Every file
//! is made here, in memory or in a temp dir.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use audiopack_ingest::{ErrorKind, IngestConfig, IngestError, Source, check_input_file, scan};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(name)
}

fn fixture_bytes(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).expect("fixture")
}

fn lenient() -> IngestConfig {
    IngestConfig {
        strict: false,
        ..Default::default()
    }
}

fn open(name: &str, bytes: Vec<u8>, config: &IngestConfig) -> Result<Source, IngestError> {
    Source::from_media(Path::new(name), Box::new(Cursor::new(bytes)), config)
}

/// Decodes to the end; the error if any, else the source's warnings.
fn decode(name: &str, bytes: Vec<u8>, config: &IngestConfig) -> Result<Vec<String>, IngestError> {
    let mut source = open(name, bytes, config)?;
    while source.next_block()?.is_some() {}
    Ok(source.warnings().to_vec())
}

fn bad_input(result: Result<Vec<String>, IngestError>, needle: &str) -> String {
    let err = result.expect_err("refused");
    let text = err.to_string();
    assert_eq!(err.kind(), ErrorKind::BadInput, "{text}");
    assert!(text.contains(needle), "{text}");
    text
}

/// A WAV with `channels` channels of PCM (tag 1) or float (tag 3).
fn wav(format: u16, channels: u16, bits: u16, data: &[u8]) -> Vec<u8> {
    let align = channels * (bits / 8);
    let mut fmt = Vec::new();
    fmt.extend_from_slice(&format.to_le_bytes());
    fmt.extend_from_slice(&channels.to_le_bytes());
    fmt.extend_from_slice(&44_100u32.to_le_bytes());
    fmt.extend_from_slice(&(44_100 * u32::from(align)).to_le_bytes());
    fmt.extend_from_slice(&align.to_le_bytes());
    fmt.extend_from_slice(&bits.to_le_bytes());
    riff_wave(&[(b"fmt ", fmt), (b"data", data.to_vec())])
}

fn riff_wave(chunks: &[(&[u8; 4], Vec<u8>)]) -> Vec<u8> {
    let mut body = b"WAVE".to_vec();
    for (id, data) in chunks {
        body.extend_from_slice(*id);
        body.extend_from_slice(&(data.len() as u32).to_le_bytes());
        body.extend_from_slice(data);
        if data.len() % 2 == 1 {
            body.push(0);
        }
    }
    let mut w = b"RIFF".to_vec();
    w.extend_from_slice(&(body.len() as u32).to_le_bytes());
    w.extend_from_slice(&body);
    w
}

fn floats(samples: &[f32]) -> Vec<u8> {
    samples.iter().flat_map(|s| s.to_le_bytes()).collect()
}

// --- Finding 4: FIFOs and devices -------------------------------------------

#[test]
fn a_fifo_is_refused_without_opening_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("f.wav");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let err = check_input_file(&fifo).expect_err("a FIFO");
    assert_eq!(err.kind(), ErrorKind::BadInput);
    assert!(err.to_string().contains("f.wav") && err.to_string().contains("FIFO"));
    // Source::open and scan check first too: they must answer, not block
    // in open() waiting for a writer.
    let (tx, rx) = mpsc::channel();
    let path = fifo.clone();
    std::thread::spawn(move || {
        let open = Source::open(&path, &IngestConfig::default()).map(|_| ());
        let scanned = scan(&path, &IngestConfig::default()).map(|_| ());
        let _ = tx.send((open, scanned));
    });
    let (open, scanned) = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("Source::open blocked on a FIFO");
    for result in [open, scanned] {
        let err = result.expect_err("refused");
        assert_eq!(err.kind(), ErrorKind::BadInput, "{err}");
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }
}

#[test]
fn devices_are_bad_input_and_directories_unreadable() {
    let err = Source::open(Path::new("/dev/zero"), &IngestConfig::default()).expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::BadInput, "{err}");
    assert!(err.to_string().contains("not a regular file"), "{err}");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let err = Source::open(dir, &IngestConfig::default()).expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
}

// --- Finding 12: absurd float samples ---------------------------------------

#[test]
fn absurd_float_samples_are_bad_input() {
    for bad in [1e30f32, -1e30, 2e6, f32::INFINITY] {
        let mut samples = vec![0.25f32; 2000];
        samples[1201] = bad;
        let text = bad_input(
            decode("huge.wav", wav(3, 2, 32, &floats(&samples)), &lenient()),
            "huge.wav",
        );
        assert!(
            text.contains("frame 600") && text.contains("channel 2"),
            "{text}"
        );
    }
    // Loud but plausible floats (+60 dBFS) still decode.
    let mut samples = vec![0.25f32; 2000];
    samples[7] = -1000.0;
    decode(
        "loud.wav",
        wav(3, 2, 32, &floats(&samples)),
        &IngestConfig::default(),
    )
    .expect("a loud float file is audio");
}

// --- Finding 13: channel counts over the limit -------------------------------

#[test]
fn any_channel_count_over_the_limit_is_a_limit() {
    for channels in [9u16, 19, 26, 27, 32, 64, 300] {
        let data = vec![0u8; usize::from(channels) * 2 * 10];
        let err = open(
            "many.wav",
            wav(1, channels, 16, &data),
            &IngestConfig::default(),
        )
        .expect_err("over the limit");
        assert_eq!(err.kind(), ErrorKind::Limit, "{channels}: {err}");
        assert!(
            err.to_string()
                .contains(&format!("{channels} channels; at most 8")),
            "{err}"
        );
    }
    // Within a raised limit, what symphonia cannot map is unsupported (an
    // extensible header with 32 channels made it panic).
    let mut fmt = Vec::new();
    for v in [0xFFFEu16, 32] {
        fmt.extend_from_slice(&v.to_le_bytes());
    }
    fmt.extend_from_slice(&44_100u32.to_le_bytes());
    fmt.extend_from_slice(&(44_100u32 * 64).to_le_bytes());
    for v in [64u16, 16, 22, 16] {
        fmt.extend_from_slice(&v.to_le_bytes());
    }
    fmt.extend_from_slice(&0u32.to_le_bytes()); // no speaker mask
    fmt.extend_from_slice(&[
        1, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xAA, 0, 0x38, 0x9B, 0x71,
    ]);
    let ext = riff_wave(&[(b"fmt ", fmt), (b"data", vec![0u8; 64 * 10])]);
    let config = IngestConfig {
        limits: audiopack_ingest::Limits {
            max_channels: 64,
            ..Default::default()
        },
        ..Default::default()
    };
    let err = open("ext.wav", ext, &config).expect_err("unsupported");
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
    // A header that is broken otherwise (block align 0) stays bad input.
    let mut broken = wav(1, 40, 16, &[0u8; 800]);
    broken[32..34].copy_from_slice(&0u16.to_le_bytes());
    let err = open("broken.wav", broken, &IngestConfig::default()).expect_err("broken");
    assert_eq!(err.kind(), ErrorKind::BadInput, "{err}");
}

// --- Finding 14: headers that lie --------------------------------------------

#[test]
fn a_second_fmt_chunk_is_a_lie() {
    let fmt = |channels: u16| {
        let mut f = Vec::new();
        for v in [1u16, channels] {
            f.extend_from_slice(&v.to_le_bytes());
        }
        f.extend_from_slice(&44_100u32.to_le_bytes());
        f.extend_from_slice(&(44_100 * 2 * u32::from(channels)).to_le_bytes());
        f.extend_from_slice(&(2 * channels).to_le_bytes());
        f.extend_from_slice(&16u16.to_le_bytes());
        f
    };
    let file = riff_wave(&[
        (b"fmt ", fmt(2)),
        (b"fmt ", fmt(1)),
        (b"data", vec![0u8; 4000]),
    ]);
    bad_input(
        decode("twofmt.wav", file.clone(), &IngestConfig::default()),
        "two `fmt ` chunks",
    );
    let warnings = decode("twofmt.wav", file, &lenient()).expect("lenient");
    assert!(
        warnings.iter().any(|w| w.contains("two `fmt ` chunks")),
        "{warnings:?}"
    );
}

/// The fixture AIFF with its COMM frame count replaced.
fn aiff_claiming(frames: impl Fn(u32) -> u32) -> Vec<u8> {
    let mut a = fixture_bytes("stereo_s16_44100.aiff");
    let comm = a.windows(4).position(|w| w == b"COMM").expect("COMM") + 8;
    let at = comm + 2..comm + 6;
    let real = u32::from_be_bytes(a[at.clone()].try_into().expect("4 bytes"));
    a[at].copy_from_slice(&frames(real).to_be_bytes());
    a
}

#[test]
fn aiff_comm_frame_counts_that_lie() {
    decode(
        "honest.aiff",
        aiff_claiming(|n| n),
        &IngestConfig::default(),
    )
    .expect("the fixture is honest");
    for claim in [&(|_| u32::MAX) as &dyn Fn(u32) -> u32, &|n| n * 2, &|_| {
        1000
    }] {
        let text = bad_input(
            decode("lying.aiff", aiff_claiming(claim), &IngestConfig::default()),
            "lying.aiff",
        );
        assert!(text.contains("COMM chunk declares"), "{text}");
        let warnings = decode("lying.aiff", aiff_claiming(claim), &lenient()).expect("lenient");
        assert!(
            warnings.iter().any(|w| w.contains("COMM chunk declares")),
            "{warnings:?}"
        );
    }
}

#[test]
fn mp3_xing_frame_count_that_lies() {
    let honest = fixture_bytes("stereo_44100.mp3");
    decode("honest.mp3", honest.clone(), &IngestConfig::default()).expect("the fixture is honest");
    let info = honest
        .windows(4)
        .position(|w| w == b"Info" || w == b"Xing")
        .expect("Xing/Info header");
    let mut lying = honest;
    lying[info + 8..info + 12].copy_from_slice(&3u32.to_be_bytes());
    let text = bad_input(
        decode("lying.mp3", lying.clone(), &IngestConfig::default()),
        "lying.mp3",
    );
    assert!(
        text.contains("Xing/Info header counts 3 MP3 frames but the stream holds 116"),
        "{text}"
    );
    let warnings = decode("lying.mp3", lying, &lenient()).expect("lenient");
    assert!(warnings.iter().any(|w| w.contains("Xing")), "{warnings:?}");
}

// --- Finding 2: what tags may cost -------------------------------------------

/// The fixture FLAC with a VORBIS_COMMENT block of `n` comments (TITLE
/// first) inserted after STREAMINFO.
fn flac_with_comments(n: u32) -> Vec<u8> {
    let f = fixture_bytes("stereo_s16_44100.flac");
    let mut body = Vec::new();
    body.extend_from_slice(&3u32.to_le_bytes());
    body.extend_from_slice(b"bom");
    body.extend_from_slice(&n.to_le_bytes());
    for i in 0..n {
        let c = if i == 0 {
            "TITLE=kept".to_string()
        } else {
            format!("X={}", i % 10)
        };
        body.extend_from_slice(&(c.len() as u32).to_le_bytes());
        body.extend_from_slice(c.as_bytes());
    }
    let mut out = f[..42].to_vec();
    let last = out[4] & 0x80;
    out[4] &= 0x7F;
    out.push(4 | last);
    out.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    out.extend_from_slice(&body);
    out.extend_from_slice(&f[42..]);
    out
}

#[test]
fn a_flac_comment_bomb_keeps_the_first_comments_and_says_so() {
    let small = open(
        "small.flac",
        flac_with_comments(50),
        &IngestConfig::default(),
    )
    .expect("open");
    assert_eq!(
        small.info().tags.get("TITLE").map(String::as_str),
        Some("kept")
    );
    assert!(small.warnings().is_empty(), "{:?}", small.warnings());

    let bomb = open(
        "bomb.flac",
        flac_with_comments(200_000),
        &IngestConfig::default(),
    )
    .expect("open");
    assert_eq!(
        bomb.info().tags.get("TITLE").map(String::as_str),
        Some("kept")
    );
    let warnings = bomb.warnings().join("\n");
    assert!(
        warnings.contains("VORBIS_COMMENT block at byte 42: 190000 of its 200000 comments"),
        "{warnings}"
    );
    // And the audio is untouched.
    let mut source = bomb;
    while source.next_block().expect("decode").is_some() {}
    assert_eq!(source.frames(), 132_300);
}

fn id3v2_tag(frames: usize) -> Vec<u8> {
    let mut body = Vec::new();
    for i in 0..frames {
        let (id, text): (&[u8; 4], String) = if i == 0 {
            (b"TIT2", "kept".into())
        } else {
            (b"TXXX", format!("{}", i % 10))
        };
        body.extend_from_slice(id);
        body.extend_from_slice(&(text.len() as u32 + 1).to_be_bytes());
        body.extend_from_slice(&[0, 0, 3]);
        body.extend_from_slice(text.as_bytes());
    }
    let size = body.len() as u32;
    let mut tag = b"ID3\x03\x00\x00".to_vec();
    tag.extend([21, 14, 7, 0].map(|s| ((size >> s) & 0x7F) as u8));
    tag.extend_from_slice(&body);
    tag
}

#[test]
fn an_id3v2_bomb_keeps_the_first_frames_and_chains_are_refused() {
    let mp3 = fixture_bytes("stereo_44100.mp3");
    let bomb = [id3v2_tag(100_000), mp3.clone()].concat();
    let source = open("bomb.mp3", bomb, &IngestConfig::default()).expect("open");
    assert_eq!(
        source.info().tags.get("TITLE").map(String::as_str),
        Some("kept")
    );
    let warnings = source.warnings().join("\n");
    assert!(
        warnings.contains("ID3v2 tag at byte 0") && warnings.contains("first 10000 frames"),
        "{warnings}"
    );
    // A chain of many small tags: each would become a metadata revision.
    let chain = [id3v2_tag(1).repeat(100), mp3].concat();
    let err = open("chain.mp3", chain, &IngestConfig::default()).expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::BadInput, "{err}");
    assert!(
        err.to_string().contains("more than 64 ID3v2/APE tags"),
        "{err}"
    );
}

#[test]
fn a_wav_info_bomb_is_skipped() {
    let mut info = b"INFO".to_vec();
    for _ in 0..20_000 {
        info.extend_from_slice(b"INAM\x02\0\0\0A\0");
    }
    let pcm = |c: u16| {
        let mut f = Vec::new();
        for v in [1u16, c] {
            f.extend_from_slice(&v.to_le_bytes());
        }
        f.extend_from_slice(&8_000u32.to_le_bytes());
        f.extend_from_slice(&16_000u32.to_le_bytes());
        f.extend_from_slice(&2u16.to_le_bytes());
        f.extend_from_slice(&16u16.to_le_bytes());
        f
    };
    let file = riff_wave(&[
        (b"fmt ", pcm(1)),
        (b"LIST", info),
        (b"data", vec![0u8; 1600]),
    ]);
    let warnings = decode("info.wav", file, &IngestConfig::default()).expect("decodes");
    assert!(
        warnings.iter().any(|w| w.contains("WAV LIST/INFO chunk")),
        "{warnings:?}"
    );
}
