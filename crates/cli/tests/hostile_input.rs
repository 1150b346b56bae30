//! Hostile inputs through the real binary (issue 9): tag bombs stay under
//! 128 MiB of peak RSS, special files are refused without blocking, absurd
//! samples, lying headers and huge channel counts get their exit codes.
//! Every hostile file is generated here (nothing big is committed).
//!
//! Peak RSS is measured by `/usr/bin/time -f %M` (GNU time), which reports
//! the child's `ru_maxrss` exactly, however short the run.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const MAX_RSS_KIB: u64 = 128 * 1024;

fn fixture_bytes(name: &str) -> Vec<u8> {
    std::fs::read(fixture(name)).expect("fixture")
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write");
    path
}

/// The wall-time ceiling for any one file (measured, generous: the
/// largest hostile file here takes about a second).
const MAX_WALL: Duration = Duration::from_secs(20);

/// Runs audiopack under GNU time, killed past [`MAX_WALL`] so a hang
/// fails instead of blocking; (exit code, stdout, stderr, peak RSS KiB).
/// Asserts the wall-time ceiling.
fn run_measured(args: &[&str]) -> (Option<i32>, String, String, u64) {
    let time = Path::new("/usr/bin/time");
    assert!(
        time.exists(),
        "GNU time (/usr/bin/time, Debian package `time`) is required to measure peak RSS"
    );
    let rss_file = tempfile::NamedTempFile::new().expect("temp file");
    let mut child = Command::new(time)
        .args(["-f", "%M", "-o"])
        .arg(rss_file.path())
        .arg(env!("CARGO_BIN_EXE_audiopack"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running audiopack under /usr/bin/time");
    // Drain the pipes on threads: a full pipe must not look like a hang.
    let mut out_pipe = child.stdout.take().expect("stdout");
    let mut err_pipe = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = out_pipe.read_to_string(&mut text);
        text
    });
    let err_reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = err_pipe.read_to_string(&mut text);
        text
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > MAX_WALL {
            let _ = child.kill();
            let _ = child.wait();
            panic!("audiopack {args:?} still running after {MAX_WALL:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let rss = std::fs::read_to_string(rss_file.path()).expect("time output");
    let rss: u64 = rss
        .lines()
        .last()
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no RSS in {rss:?}"));
    (
        status.code(),
        out_reader.join().expect("stdout reader"),
        err_reader.join().expect("stderr reader"),
        rss,
    )
}

/// `probe --json` and `ingest` both succeed on `input` in under 128 MiB, and
/// the probe reports that tag data was skipped.
fn assert_bounded(input: &Path, dir: &Path) {
    let name = input.display().to_string();
    let (code, stdout, stderr, rss) = run_measured(&["probe", &name, "--json"]);
    assert_eq!(code, Some(0), "{name}: {stderr}");
    assert!(rss < MAX_RSS_KIB, "{name}: probe peaked at {rss} KiB");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    let warnings = report["warnings"].to_string();
    assert!(warnings.contains("skipped"), "{name}: {warnings}");
    let out = dir.join("pkg");
    let out_name = out.display().to_string();
    let (code, _, stderr, rss) = run_measured(&[
        "ingest",
        &name,
        "--out",
        &out_name,
        "--formats",
        "ogg",
        "--ladder",
        "64",
        "--no-lossless",
        "-q",
    ]);
    assert_eq!(code, Some(0), "{name}: {stderr}");
    assert!(rss < MAX_RSS_KIB, "{name}: ingest peaked at {rss} KiB");
    std::fs::remove_dir_all(&out).expect("remove package");
}

fn synchsafe(n: u32) -> [u8; 4] {
    [21, 14, 7, 0].map(|s| ((n >> s) & 0x7F) as u8)
}

/// A FLAC VORBIS_COMMENT block body of tiny comments, about `size` bytes.
fn tiny_comments(size: usize) -> Vec<u8> {
    let mut body = Vec::with_capacity(size + 16);
    body.extend_from_slice(&6u32.to_le_bytes());
    body.extend_from_slice(b"vendor");
    body.extend_from_slice(&0u32.to_le_bytes());
    let mut n = 0u32;
    while body.len() + 9 < size {
        body.extend_from_slice(&5u32.to_le_bytes());
        body.extend_from_slice(format!("A={:03}", n % 1000).as_bytes());
        n += 1;
    }
    body[10..14].copy_from_slice(&n.to_le_bytes());
    body
}

/// The fixture FLAC with `blocks` VORBIS_COMMENT blocks of 16 MB each.
fn flac_bomb(blocks: usize) -> Vec<u8> {
    let f = fixture_bytes("stereo_s16_44100.flac");
    let mut out = f[..42].to_vec();
    let last = out[4] & 0x80;
    out[4] &= 0x7F;
    let body = tiny_comments(0xFF_FFF0);
    for i in 0..blocks {
        let flag = if i + 1 == blocks { last } else { 0 };
        out.push(4 | flag);
        out.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        out.extend_from_slice(&body);
    }
    out.extend_from_slice(&f[42..]);
    out
}

/// An ID3v2.3 tag of `size` bytes of tiny TXXX frames.
fn id3_bomb(size: usize) -> Vec<u8> {
    let mut frames = Vec::with_capacity(size + 16);
    let mut i = 0u8;
    while frames.len() + 12 < size {
        frames.extend_from_slice(b"TXXX\0\0\0\x02\0\0\x03");
        frames.push(b'A' + i % 26);
        i = i.wrapping_add(1);
    }
    let mut tag = b"ID3\x03\0\0".to_vec();
    tag.extend_from_slice(&synchsafe(frames.len() as u32));
    tag.extend_from_slice(&frames);
    tag
}

#[test]
fn tag_bombs_stay_under_128_mib() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    // A 16 MB FLAC comment block (713 MB before), three of them (2.1 GB).
    assert_bounded(&write(d, "comments1.flac", &flac_bomb(1)), d);
    assert_bounded(&write(d, "comments3.flac", &flac_bomb(3)), d);
    // An MP3 with a 48 MB ID3v2 tag of tiny frames (1.1 GB before).
    let mp3 = fixture_bytes("stereo_44100.mp3");
    assert_bounded(
        &write(d, "id3.mp3", &[id3_bomb(48 << 20), mp3.clone()].concat()),
        d,
    );
    // A 32 MB APE tag of tiny items at the end of an MP3.
    let mut items = Vec::new();
    let mut n = 0u32;
    while items.len() < 32 << 20 {
        items.extend_from_slice(&1u32.to_le_bytes());
        items.extend_from_slice(&0u32.to_le_bytes());
        items.extend_from_slice(b"K\0v");
        n += 1;
    }
    let mut footer = b"APETAGEX".to_vec();
    for v in [2000u32, items.len() as u32 + 32, n, 0, 0, 0] {
        footer.extend_from_slice(&v.to_le_bytes());
    }
    assert_bounded(&write(d, "ape.mp3", &[mp3, items, footer].concat()), d);
    // A WAV whose LIST/INFO chunk holds millions of entries.
    let wav = fixture_bytes("stereo_s24_48000.wav");
    let mut info = b"INFO".to_vec();
    while info.len() < 32 << 20 {
        info.extend_from_slice(b"INAM\x02\0\0\0A\0");
    }
    let mut body = b"WAVELIST".to_vec();
    body.extend_from_slice(&(info.len() as u32).to_le_bytes());
    body.extend_from_slice(&info);
    body.extend_from_slice(&wav[12..]);
    let riff = [
        b"RIFF".as_slice(),
        &(body.len() as u32).to_le_bytes(),
        &body,
    ]
    .concat();
    assert_bounded(&write(d, "info.wav", &riff), d);
    // An AIFF with a 32 MB ID3 chunk after the sound data.
    let aiff = fixture_bytes("stereo_s16_44100.aiff");
    let tag = id3_bomb(32 << 20);
    let mut body = aiff[8..].to_vec();
    body.extend_from_slice(b"ID3 ");
    body.extend_from_slice(&(tag.len() as u32).to_be_bytes());
    body.extend_from_slice(&tag);
    let form = [
        b"FORM".as_slice(),
        &(body.len() as u32).to_be_bytes(),
        &body,
    ]
    .concat();
    assert_bounded(&write(d, "id3.aiff", &form), d);
    // An Ogg Vorbis file whose comment header is 16 MB of tiny comments.
    assert_bounded(&write(d, "comments.ogg", &ogg_comment_bomb()), d);
}

/// The fixture Ogg Vorbis with its comment header replaced by 16 MB of
/// tiny comments (paged and checksummed like a real stream).
fn ogg_comment_bomb() -> Vec<u8> {
    let ogg = fixture_bytes("stereo_44100.ogg");
    // Pages: (header without lacing, lacing, body).
    let mut pages = Vec::new();
    let mut o = 0;
    while o + 27 <= ogg.len() {
        let n = usize::from(ogg[o + 26]);
        let lacing = ogg[o + 27..o + 27 + n].to_vec();
        let len: usize = lacing.iter().map(|&l| usize::from(l)).sum();
        let body = ogg[o + 27 + n..o + 27 + n + len].to_vec();
        pages.push((ogg[o..o + 26].to_vec(), lacing, body));
        o += 27 + n + len;
    }
    // Packets, with the page each one ends on.
    let mut packets = Vec::new();
    let mut cur = Vec::new();
    for (i, (_, lacing, body)) in pages.iter().enumerate() {
        let mut off = 0;
        for &l in lacing {
            cur.extend_from_slice(&body[off..off + usize::from(l)]);
            off += usize::from(l);
            if l < 255 {
                packets.push((std::mem::take(&mut cur), i));
            }
        }
    }
    let serial = pages[0].0[14..18].to_vec();
    let mut comments = b"\x03vorbis".to_vec();
    let mut block = tiny_comments(16 << 20);
    comments.append(&mut block);
    comments.push(1);
    let page = |lacing: &[u8], data: &[u8], flags: u8, granule: i64, seq: u32| {
        let mut p = b"OggS\0".to_vec();
        p.push(flags);
        p.extend_from_slice(&granule.to_le_bytes());
        p.extend_from_slice(&serial);
        p.extend_from_slice(&seq.to_le_bytes());
        p.extend_from_slice(&[0; 4]);
        p.push(lacing.len() as u8);
        p.extend_from_slice(lacing);
        p.extend_from_slice(data);
        let crc = ogg_crc(&p);
        p[22..26].copy_from_slice(&crc.to_le_bytes());
        p
    };
    let mut out = page(&[packets[0].0.len() as u8], &packets[0].0, 2, 0, 0);
    let mut seq = 1u32;
    let (mut lacing, mut data) = (Vec::new(), Vec::new());
    for packet in [&comments, &packets[2].0] {
        lacing.extend(std::iter::repeat_n(255u8, packet.len() / 255));
        lacing.push((packet.len() % 255) as u8);
        data.extend_from_slice(packet);
    }
    let (mut at, mut pos) = (0, 0);
    while at < lacing.len() {
        let segs = &lacing[at..(at + 255).min(lacing.len())];
        let size: usize = segs.iter().map(|&l| usize::from(l)).sum();
        let continued = if at > 0 && lacing[at - 1] == 255 {
            1
        } else {
            0
        };
        let granule = if at + 255 >= lacing.len() { 0 } else { -1 };
        out.extend(page(segs, &data[pos..pos + size], continued, granule, seq));
        seq += 1;
        at += 255;
        pos += size;
    }
    for (header, lacing, body) in &pages[packets[2].1 + 1..] {
        let mut p = header.clone();
        p[18..22].copy_from_slice(&seq.to_le_bytes());
        p[22..26].fill(0);
        p.push(lacing.len() as u8);
        p.extend_from_slice(lacing);
        p.extend_from_slice(body);
        let crc = ogg_crc(&p);
        p[22..26].copy_from_slice(&crc.to_le_bytes());
        out.extend(p);
        seq += 1;
    }
    out
}

fn ogg_crc(bytes: &[u8]) -> u32 {
    let mut crc = 0u32;
    for &b in bytes {
        crc ^= u32::from(b) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// Runs audiopack, killed after 20 s so a regression fails instead of
/// hanging; (exit code, stderr).
fn run_bounded(args: &[&str]) -> (Option<i32>, String) {
    let mut child = bin()
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn audiopack");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > Duration::from_secs(20) {
            child.kill().expect("kill");
            child.wait().expect("reap");
            panic!("audiopack {args:?} still running after 20 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        pipe.read_to_string(&mut stderr).expect("stderr");
    }
    (status.code(), stderr)
}

#[test]
fn a_fifo_or_a_device_is_refused_without_blocking() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("f.wav");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo");
    assert!(made.success());
    let out = dir.path().join("out");
    let fifo_name = fifo.to_str().expect("utf8");
    let out_name = out.to_str().expect("utf8");
    for args in [
        vec!["ingest", fifo_name, "--out", out_name],
        vec!["probe", fifo_name],
        vec!["loudness", fifo_name],
    ] {
        let (code, stderr) = run_bounded(&args);
        assert_eq!(code, Some(3), "{args:?}: {stderr}");
        assert!(
            stderr.contains("f.wav") && stderr.contains("not a regular file"),
            "{stderr}"
        );
    }
    assert!(!out.exists());
    assert_no_staging_left(&out);
    for path in ["/dev/zero", "/dev/null"] {
        let (code, stderr) = run_bounded(&["probe", path]);
        assert_eq!(code, Some(3), "{path}: {stderr}");
        assert!(stderr.contains(path), "{stderr}");
    }
}

/// A stereo float WAV of 1 s at 44.1 kHz with one absurd sample.
fn float_wav_with(bad: f32, at: usize) -> Vec<u8> {
    let mut samples = vec![0.1f32; 88_200];
    samples[at] = bad;
    let data: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    let mut w = b"RIFF".to_vec();
    w.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt \x10\0\0\0\x03\0\x02\0");
    w.extend_from_slice(&44_100u32.to_le_bytes());
    w.extend_from_slice(&(44_100u32 * 8).to_le_bytes());
    w.extend_from_slice(&[8, 0, 32, 0]);
    w.extend_from_slice(b"data");
    w.extend_from_slice(&(data.len() as u32).to_le_bytes());
    w.extend_from_slice(&data);
    w
}

#[test]
fn absurd_float_samples_are_bad_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), "huge.wav", &float_wav_with(1e30, 20_001));
    for cmd in ["loudness", "probe"] {
        let (code, stderr) = run_bounded(&[cmd, path.to_str().expect("utf8")]);
        assert_eq!(code, Some(3), "{cmd}: {stderr}");
        assert!(
            stderr.contains("huge.wav") && stderr.contains("frame 10000"),
            "{stderr}"
        );
    }
}

#[test]
fn channel_counts_over_the_limit_exit_5() {
    let dir = tempfile::tempdir().expect("tempdir");
    for channels in [9u16, 19, 32, 64] {
        let align = channels * 2;
        let mut w = b"RIFF".to_vec();
        let data = vec![0u8; usize::from(align) * 100];
        w.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
        w.extend_from_slice(b"WAVEfmt \x10\0\0\0\x01\0");
        w.extend_from_slice(&channels.to_le_bytes());
        w.extend_from_slice(&48_000u32.to_le_bytes());
        w.extend_from_slice(&(48_000 * u32::from(align)).to_le_bytes());
        w.extend_from_slice(&align.to_le_bytes());
        w.extend_from_slice(&16u16.to_le_bytes());
        w.extend_from_slice(b"data");
        w.extend_from_slice(&(data.len() as u32).to_le_bytes());
        w.extend_from_slice(&data);
        let path = write(dir.path(), &format!("ch{channels}.wav"), &w);
        let (code, stderr) = run_bounded(&["probe", path.to_str().expect("utf8")]);
        assert_eq!(code, Some(5), "{channels} channels: {stderr}");
        assert!(stderr.contains(&format!("{channels} channels")), "{stderr}");
    }
}

#[test]
fn lying_headers_exit_3_or_warn_when_lenient() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut mp3 = fixture_bytes("stereo_44100.mp3");
    let info = mp3
        .windows(4)
        .position(|w| w == b"Info" || w == b"Xing")
        .expect("Xing/Info");
    mp3[info + 8..info + 12].copy_from_slice(&3u32.to_be_bytes());
    let mut aiff = fixture_bytes("stereo_s16_44100.aiff");
    let comm = aiff.windows(4).position(|w| w == b"COMM").expect("COMM") + 10;
    aiff[comm..comm + 4].copy_from_slice(&u32::MAX.to_be_bytes());
    for (name, bytes, lie) in [
        ("xing.mp3", mp3, "Xing/Info header counts 3"),
        ("comm.aiff", aiff, "COMM chunk declares 4294967295 frames"),
    ] {
        let path = write(dir.path(), name, &bytes);
        let path = path.to_str().expect("utf8");
        let (code, stderr) = run_bounded(&["probe", path]);
        assert_eq!(code, Some(3), "{name}: {stderr}");
        assert!(stderr.contains(name) && stderr.contains(lie), "{stderr}");
        let report = run_json(&["probe", path, "--lenient", "--json"]);
        assert!(
            report["warnings"].to_string().contains(lie),
            "{name}: {report}"
        );
    }
}

/// Every fixture cut short at several points and a set of headers that
/// lie: decoding each (`probe`, the full decode) stays under 128 MiB and
/// 20 s, and ends in success or a bad-input/unsupported/limit code —
/// never a panic (101) or an internal error (1).
#[test]
fn truncations_and_header_lies_stay_within_the_ceilings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cases: Vec<(String, Vec<u8>)> = Vec::new();
    for name in [
        "demo.flac",
        "stereo_44100.mp3",
        "stereo_44100.ogg",
        "stereo_f32_44100.wav",
        "stereo_s16_44100.aiff",
        "stereo_s16_44100.flac",
        "stereo_s24_48000.wav",
        "surround51_s16_48000.wav",
        "mono_u8_8000.wav",
    ] {
        let bytes = fixture_bytes(name);
        for cut in [
            12,
            44,
            200,
            bytes.len() / 10,
            bytes.len() / 2,
            bytes.len() - 7,
        ] {
            cases.push((
                format!("cut{cut}_{name}"),
                bytes[..cut.min(bytes.len())].to_vec(),
            ));
        }
    }
    // Size fields that promise far more than the file holds.
    let mut wav = fixture_bytes("stereo_s24_48000.wav");
    let data = wav.windows(4).position(|w| w == b"data").expect("data") + 4;
    wav[data..data + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    cases.push(("data_max.wav".into(), wav));
    let mut wav = fixture_bytes("stereo_s24_48000.wav");
    wav[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    cases.push(("riff_max.wav".into(), wav));
    let mut flac = fixture_bytes("stereo_s16_44100.flac");
    // STREAMINFO total samples (36 bits from byte 21 of the block body).
    flac[8 + 13] |= 0x0F;
    flac[8 + 14..8 + 18].copy_from_slice(&[0xFF; 4]);
    cases.push(("samples_max.flac".into(), flac));
    let mut aiff = fixture_bytes("stereo_s16_44100.aiff");
    let comm = aiff.windows(4).position(|w| w == b"COMM").expect("COMM") + 10;
    for (i, frames) in [u32::MAX, 1000].into_iter().enumerate() {
        aiff[comm..comm + 4].copy_from_slice(&frames.to_be_bytes());
        cases.push((format!("comm{i}.aiff"), aiff.clone()));
    }
    let mut mp3 = fixture_bytes("stereo_44100.mp3");
    let info = mp3
        .windows(4)
        .position(|w| w == b"Info" || w == b"Xing")
        .expect("Xing/Info");
    mp3[info + 8..info + 12].copy_from_slice(&u32::MAX.to_be_bytes());
    cases.push(("xing_max.mp3".into(), mp3));
    // A huge ID3v2 size on an empty tag.
    let mut id3 = b"ID3\x04\0\0".to_vec();
    id3.extend_from_slice(&[0x7F; 4]);
    id3.extend_from_slice(&fixture_bytes("stereo_44100.mp3"));
    cases.push(("id3_size_max.mp3".into(), id3));

    assert!(cases.len() > 60, "{} cases", cases.len());
    for (name, bytes) in &cases {
        let path = write(dir.path(), name, bytes);
        let (code, _, stderr, rss) = run_measured(&["probe", path.to_str().expect("utf8")]);
        assert!(
            matches!(code, Some(0 | 3 | 4 | 5)),
            "{name}: exit {code:?}: {stderr}"
        );
        assert!(rss < MAX_RSS_KIB, "{name}: peaked at {rss} KiB");
        if code != Some(0) {
            assert!(
                stderr.contains(name.as_str()),
                "{name}: message names the file: {stderr}"
            );
            assert_eq!(stderr.lines().count(), 1, "{name}: one line: {stderr}");
        }
    }
}

/// Every input the fuzzers ever crashed a decoder with
/// (`fuzz/regressions/decode/`: symphonia 0.6.1 overflows and failed
/// asserts on crafted WAV `fmt ` chunks and Vorbis codebooks) is bad input
/// through the binary: an exit code of the table and one line naming the
/// file, never a panic's output or exit 101/1.
#[test]
fn inputs_that_crashed_the_decoders_are_bad_input() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions/decode");
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("fuzz/regressions/decode")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.file_name().is_some_and(|n| n != "README.md"))
        .collect();
    inputs.sort();
    assert!(
        !inputs.is_empty(),
        "no saved crash inputs in {}",
        dir.display()
    );
    for input in &inputs {
        let name = input.to_str().expect("utf8");
        let (code, _, stderr, rss) = run_measured(&["probe", name]);
        assert!(
            matches!(code, Some(0 | 3 | 4 | 5)),
            "{name}: exit {code:?}: {stderr}"
        );
        assert!(rss < MAX_RSS_KIB, "{name}: peaked at {rss} KiB");
        if code != Some(0) {
            assert_eq!(stderr.lines().count(), 1, "{name}: one line: {stderr}");
            assert!(stderr.contains(name), "{name}: {stderr}");
        }
    }
}
