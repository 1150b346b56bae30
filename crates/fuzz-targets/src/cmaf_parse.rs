//! `cmaf_parse`: the mp4-atom parse-back our tests run on CMAF output.
//!
//! `crates/segmenter/tests/opus_cmaf.rs` reads an init segment as
//! `Ftyp::decode` then `Moov::decode`, and a media segment (or a
//! single-file rendition) as a loop of `Any::decode_maybe` until it returns
//! `None`; both with mp4-atom's `strict` feature, as here. A bad segment
//! must make such a helper return an error, never panic.

use mp4_atom::{Any, Buf, Decode, DecodeMaybe, Ftyp, Moov};

/// Parses `data` both ways: as an init segment and as a run of boxes.
pub fn cmaf_parse(data: &[u8]) {
    parse_init(data);
    parse_boxes(data);
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
