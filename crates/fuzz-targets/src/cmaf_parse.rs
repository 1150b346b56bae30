//! `cmaf_parse`: the mp4-atom parse-back our tests run on CMAF output.
//!
//! `crates/segmenter/tests/opus_cmaf.rs` reads an init segment as
//! `Ftyp::decode` then `Moov::decode`, and a media segment (or a
//! single-file rendition) as a loop of `Any::decode_maybe` until it returns
//! `None`; both with mp4-atom's `strict` feature, as here. A bad segment
//! must make such a helper return an error, never panic.

use mp4_atom::{Any, Buf, Decode, DecodeMaybe, Ftyp, Moov};

/// Parses `data` both ways: as an init segment and as a run of boxes,
/// once [`counts_are_bounded`] found nothing that would make mp4-atom
/// allocate without bound.
pub fn cmaf_parse(data: &[u8]) {
    if !counts_are_bounded(data) {
        return;
    }
    parse_init(data);
    parse_boxes(data);
}

/// Boxes whose payload is a run of child boxes.
const CONTAINERS: &[&[u8; 4]] = &[
    b"moov", b"trak", b"mdia", b"minf", b"stbl", b"mvex", b"moof", b"traf", b"edts", b"dinf",
    b"udta", b"mfra", b"sinf", b"schi",
];

/// A table whose entries carry no bytes (a `trun` with no per-sample
/// fields, an `stsz` with one size for all) cannot be bounded by its
/// payload: more entries than this is not a segment of ours.
const MAX_EMPTY_ENTRIES: u64 = 1 << 20;

/// mp4-atom 0.17.0 sizes a table from the count the box declares
/// (fuzzing found a 56-byte `sgpd` asking for 1.3 GB:
/// `fuzz/regressions/cmaf_parse/`). A parse-back of untrusted bytes first
/// checks, for every full box with an entry count, that the count fits the
/// box's payload at the entry's smallest size; the box tree is walked by
/// headers only.
pub fn counts_are_bounded(data: &[u8]) -> bool {
    boxes_bounded(data, 0)
}

fn be32(data: &[u8], at: usize) -> Option<u32> {
    let bytes = data.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

fn boxes_bounded(mut data: &[u8], depth: usize) -> bool {
    if depth > 16 {
        return false;
    }
    while data.len() >= 8 {
        let Some(size32) = be32(data, 0) else {
            return false;
        };
        let kind: [u8; 4] = [data[4], data[5], data[6], data[7]];
        let (header, size) = match size32 {
            0 => (8, data.len() as u64),
            1 => match (be32(data, 8), be32(data, 12)) {
                (Some(hi), Some(lo)) => (16, (u64::from(hi) << 32) | u64::from(lo)),
                _ => return false,
            },
            n => (8, u64::from(n)),
        };
        // A box larger than what is left is cut short: mp4-atom refuses it
        // by its size before reading any count.
        let Some(size) = usize::try_from(size).ok().filter(|&s| s >= header) else {
            return true;
        };
        let Some(payload) = data.get(header..size.min(data.len())) else {
            return true;
        };
        let ok = if CONTAINERS.contains(&&kind) {
            boxes_bounded(payload, depth + 1)
        } else {
            table_bounded(&kind, payload)
        };
        if !ok {
            return false;
        }
        if size >= data.len() {
            return true;
        }
        data = &data[size..];
    }
    true
}

/// `payload` starts with the full box's version and flags.
fn table_bounded(kind: &[u8; 4], payload: &[u8]) -> bool {
    let Some(&version) = payload.first() else {
        return true;
    };
    let flags = be32(payload, 0).map_or(0, |v| v & 0x00FF_FFFF);
    // (offset of the count after version/flags, smallest entry in bytes)
    let (at, entry) = match kind {
        b"sgpd" => (if version == 0 { 4 } else { 8 }, 1),
        b"sbgp" => (if version == 1 { 8 } else { 4 }, 8),
        b"trun" => {
            let fields = [0x100, 0x200, 0x400, 0x800]
                .iter()
                .filter(|&&bit| flags & bit != 0)
                .count();
            (0, 4 * fields)
        }
        b"stts" | b"ctts" | b"co64" | b"stsd" | b"dref" => (0, 8),
        b"stsc" => (0, 12),
        b"stco" | b"stss" => (0, 4),
        b"elst" => (0, if version == 1 { 20 } else { 12 }),
        b"stsz" => (
            4,
            if be32(payload, 4).unwrap_or(0) == 0 {
                4
            } else {
                0
            },
        ),
        b"senc" => (0, 0),
        _ => return true,
    };
    let Some(count) = be32(payload, 4 + at) else {
        return true;
    };
    let count = u64::from(count);
    let room = payload.len().saturating_sub(8 + at) as u64;
    if entry == 0 {
        count <= MAX_EMPTY_ENTRIES
    } else {
        count.saturating_mul(entry as u64) <= room
    }
}

/// `ftyp` then `moov`, as the init-segment check does.
fn parse_init(data: &[u8]) {
    let mut input = data;
    if Ftyp::decode(&mut input).is_err() {
        return;
    }
    let before = input.len();
    if Moov::decode(&mut input).is_ok() {
        assert!(input.len() < before, "a decoded moov consumed bytes");
    }
}

/// Every top-level box in turn, as the media-segment check does.
fn parse_boxes(data: &[u8]) {
    let mut input = data;
    loop {
        let before = input.remaining();
        match Any::decode_maybe(&mut input) {
            Ok(Some(atom)) => {
                let _ = atom.kind();
                // A box is at least its 8-byte header: the loop ends.
                assert!(
                    input.remaining() < before,
                    "{:?} consumed nothing",
                    atom.kind()
                );
            }
            Ok(None) | Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &str) -> Vec<(String, Vec<u8>)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
            .expect("saved inputs")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.file_name().is_some_and(|n| n != "README.md"))
            .map(|p| (p.display().to_string(), std::fs::read(&p).expect("read")))
            .collect();
        out.sort();
        out
    }

    #[test]
    fn our_segments_pass_and_the_unbounded_findings_do_not() {
        let seeds = files("../../fuzz/corpus/cmaf_parse");
        assert!(seeds.len() >= 3);
        for (name, bytes) in &seeds {
            assert!(counts_are_bounded(bytes), "{name}: a real segment refused");
        }
        let findings = files("../../fuzz/regressions/cmaf_parse");
        let refused = findings
            .iter()
            .filter(|(_, bytes)| !counts_are_bounded(bytes))
            .count();
        assert!(refused > 0, "the sgpd findings are caught by the check");
    }
}
