//! Opus CMAF round trip: encode a tone, segment it, then parse our boxes
//! back strictly (mp4-atom `strict`) and let ffprobe/ffmpeg read the result.

use std::process::Command;

use audiopack_encode::{OpusEncoder, Rung};
use audiopack_segmenter::{
    Fragmenter, MediaSegment, OPUS_ROLL_DISTANCE, TrackDescription, TrackLoudness, init_segment,
};
use mp4_atom::{Any, Decode, DecodeMaybe};

const FRAMES: usize = 48_000 * 5 / 2 + 17; // 2.5 s and a bit: an odd tail

fn encode_tone() -> (Vec<Vec<u8>>, u16) {
    let tone: Vec<f32> = (0..FRAMES)
        .map(|i| (0.3 * (2.0 * std::f64::consts::PI * 440.0 * i as f64 / 48_000.0).sin()) as f32)
        .collect();
    let mut encoder = OpusEncoder::new(Rung {
        bitrate_bps: 96_000,
        channels: 2,
    })
    .expect("encoder");
    let mut packets = Vec::new();
    encoder
        .push(&[tone.clone(), tone], &mut packets)
        .expect("push");
    encoder.finish(&mut packets).expect("finish");
    (
        packets.into_iter().map(|p| p.data).collect(),
        encoder.pre_skip(),
    )
}

const LOUDNESS: TrackLoudness = TrackLoudness {
    integrated_lufs: -14.0,
    true_peak_dbtp: -1.0,
    sample_peak_dbfs: -1.2,
};

/// Payload of the box at `path` (walking plain containers from the top).
fn find_box<'a>(mut bytes: &'a [u8], path: &[&[u8; 4]]) -> Option<&'a [u8]> {
    let (first, rest) = path.split_first()?;
    while bytes.len() >= 8 {
        let size = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
        if size < 8 || size > bytes.len() {
            return None;
        }
        if &bytes[4..8] == *first {
            let body = &bytes[8..size];
            return if rest.is_empty() {
                Some(body)
            } else {
                find_box(body, rest)
            };
        }
        bytes = &bytes[size..];
    }
    None
}

/// (init, segments, packet count, pre-skip); `loudness` adds a `ludt`,
/// which mp4-atom's strict parser does not know.
fn package_with(loudness: Option<TrackLoudness>) -> (Vec<u8>, Vec<MediaSegment>, usize, u16) {
    let (packets, pre_skip) = encode_tone();
    let mut track = TrackDescription::opus(2, pre_skip, 48_000, FRAMES as u64);
    track.loudness = loudness;
    let init = init_segment(&track).expect("init");
    let mut fragmenter = Fragmenter::new();
    let mut segments = Vec::new();
    for p in &packets {
        fragmenter.push(p, 960);
        if fragmenter.pending_duration() == 48_000 {
            segments.extend(fragmenter.cut().expect("cut"));
        }
    }
    segments.extend(fragmenter.cut().expect("cut"));
    (init, segments, packets.len(), pre_skip)
}

fn package() -> (Vec<u8>, Vec<MediaSegment>, usize, u16) {
    package_with(Some(LOUDNESS))
}

#[test]
fn loudness_travels_in_trak_udta_ludt() {
    let (init, _, _, _) = package();
    let tlou = find_box(&init, &[b"moov", b"trak", b"udta", b"ludt", b"tlou"]).expect("tlou");
    // version/flags, ids, then sample peak (12 bits) and true peak (12 bits).
    let peaks = u32::from_be_bytes([tlou[6], tlou[7], tlou[8], tlou[9]]);
    let true_peak_db = 20.0 - f64::from((peaks >> 8) & 0xFFF) / 32.0;
    assert!((true_peak_db - LOUDNESS.true_peak_dbtp).abs() < 1.0 / 32.0);
    assert_eq!(tlou[11], 1, "programme loudness");
    let lufs = -57.75 + f64::from(tlou[12]) / 4.0;
    assert!((lufs - LOUDNESS.integrated_lufs).abs() <= 0.125);
}

#[test]
fn boxes_parse_back_strictly() {
    let (init, segments, packets, pre_skip) = package_with(None);
    let mut input = init.as_slice();
    let ftyp = mp4_atom::Ftyp::decode(&mut input).expect("ftyp");
    assert!(ftyp.compatible_brands.contains(&b"cmfc".into()));
    let moov = mp4_atom::Moov::decode(&mut input).expect("moov");
    assert!(input.is_empty());
    let trak = &moov.trak[0];
    let elst = trak
        .edts
        .as_ref()
        .and_then(|e| e.elst.as_ref())
        .expect("elst");
    assert_eq!(elst.entries[0].media_time, Some(u64::from(pre_skip)));
    assert_eq!(elst.entries[0].segment_duration, FRAMES as u64);
    assert_eq!(trak.mdia.mdhd.timescale, 48_000);
    let stbl = &trak.mdia.minf.stbl;
    let mp4_atom::Codec::Opus(opus) = &stbl.stsd.codecs[0] else {
        panic!("not Opus: {:?}", stbl.stsd.codecs[0]);
    };
    assert_eq!(opus.dops.pre_skip, 312);
    assert_eq!(opus.dops.output_channel_count, 2);
    let mp4_atom::AnySampleGroupEntry::UnknownGroupingType(kind, body) =
        &stbl.sgpd[0].entries[0].entry
    else {
        panic!("no roll entry");
    };
    assert_eq!(kind, &b"roll".into());
    assert_eq!(i16::from_be_bytes([body[0], body[1]]), OPUS_ROLL_DISTANCE);

    // Media segments: continuous decode times, sizes that add up.
    let mut next_time = 0;
    let mut total_samples = 0;
    for (i, seg) in segments.iter().enumerate() {
        let mut s = seg.bytes.as_slice();
        let mut saw_mdat = false;
        while let Some(atom) = Any::decode_maybe(&mut s).expect("segment box") {
            match atom {
                Any::Moof(moof) => {
                    assert_eq!(moof.mfhd.sequence_number, i as u32 + 1);
                    let traf = &moof.traf[0];
                    assert!(traf.tfhd.default_base_is_moof);
                    assert_eq!(
                        traf.tfdt.as_ref().expect("tfdt").base_media_decode_time,
                        next_time
                    );
                    assert_eq!(traf.sbgp[0].entries[0].sample_count, seg.samples);
                    next_time += seg.duration;
                    total_samples += seg.samples as usize;
                }
                Any::Mdat(mdat) => {
                    saw_mdat = true;
                    assert!(!mdat.data.is_empty());
                }
                Any::Styp(_) => {}
                other => panic!("unexpected {:?}", other.kind()),
            }
        }
        assert!(saw_mdat);
    }
    assert_eq!(total_samples, packets);
    assert_eq!(segments.len(), 3);
}

#[test]
fn ffmpeg_reads_and_trims_the_start() {
    let (init, segments, packets, pre_skip) = package();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("rendition.mp4");
    let mut file = init;
    for s in &segments {
        file.extend_from_slice(&s.bytes);
    }
    std::fs::write(&path, &file).expect("write");
    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,sample_rate,channels",
            "-of",
            "csv=p=0",
        ])
        .arg(&path)
        .output()
        .expect("ffprobe is required: run scripts/test.sh");
    assert_eq!(
        String::from_utf8_lossy(&probe.stdout).trim(),
        "opus,48000,2"
    );
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(&path)
        .args(["-f", "f32le", "-"])
        .output()
        .expect("ffmpeg");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let decoded = out.stdout.len() / 8;
    // ffmpeg honours the edit list's start (pre-skip) but not its end in
    // fragmented files: it may keep the padding of the last packet.
    let untrimmed = packets * 960 - usize::from(pre_skip);
    assert!(
        decoded >= FRAMES && decoded <= untrimmed,
        "decoded {decoded}, real {FRAMES}, untrimmed {untrimmed}"
    );
}

#[test]
fn segments_are_deterministic() {
    let (a_init, a, _, _) = package();
    let (b_init, b, _, _) = package();
    assert_eq!(a_init, b_init);
    assert_eq!(a, b);
}
