//! Common Encryption boxes (ISO/IEC 23001-7): what the init segment says
//! about an encrypted track (`enca` + `sinf` = `frma`/`schm`/`schi`/`tenc`,
//! and `pssh` boxes in `moov`). The sample bytes are encrypted by the
//! caller (audiopack-drm); this crate only describes them, so it stays pure
//! and key-free: nothing here ever sees a key.

use mp4_atom::{BufMut, Encode};

/// How a track is encrypted, as the init segment states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackEncryption {
    /// `cenc` or `cbcs`.
    pub scheme: [u8; 4],
    pub default_kid: [u8; 16],
    /// Bytes of per-sample IV in `senc` (cenc: 8; cbcs: 0, a constant IV).
    pub per_sample_iv_size: u8,
    /// The constant IV (cbcs).
    pub constant_iv: Option<[u8; 16]>,
    /// Whole `pssh` boxes, written into `moov` in this order.
    pub pssh: Vec<Vec<u8>>,
}

/// `sinf` for a sample entry whose original format is `original`.
pub(crate) fn write_sinf(
    b: &mut Vec<u8>,
    original: &[u8; 4],
    enc: &TrackEncryption,
) -> mp4_atom::Result<()> {
    b.encode_atom(b"sinf", |b| {
        b.encode_atom(b"frma", |b| {
            b.extend_from_slice(original);
            Ok(())
        })?;
        b.encode_atom(b"schm", |b| {
            0u32.encode(b)?; // version 0, flags 0
            b.extend_from_slice(&enc.scheme);
            0x0001_0000u32.encode(b) // scheme_version 1.0
        })?;
        b.encode_atom(b"schi", |b| write_tenc(b, enc))
    })
}

/// `tenc` (ISO/IEC 23001-7 §8.2): version 1 for cbcs (the pattern byte;
/// 0/0 for audio, which has no pattern), version 0 otherwise.
fn write_tenc(b: &mut Vec<u8>, enc: &TrackEncryption) -> mp4_atom::Result<()> {
    let cbcs = &enc.scheme == b"cbcs";
    b.encode_atom(b"tenc", |b| {
        let version: u32 = if cbcs { 1 } else { 0 };
        (version << 24).encode(b)?; // version, flags 0
        0u8.encode(b)?; // reserved
        0u8.encode(b)?; // v1: crypt_byte_block 0 | skip_byte_block 0; v0: reserved
        1u8.encode(b)?; // default_isProtected
        enc.per_sample_iv_size.encode(b)?;
        b.extend_from_slice(&enc.default_kid);
        if enc.per_sample_iv_size == 0 {
            let iv = enc.constant_iv.unwrap_or([0; 16]);
            16u8.encode(b)?;
            b.extend_from_slice(&iv);
        }
        Ok(())
    })
}
