//! `ludt` (ISO/IEC 14496-12 §12.2.7): the loudness of what a track holds,
//! with values coded as in ISO/IEC 23003-4 (MPEG-D DRC).

use mp4_atom::{BufMut, Encode};

/// Measured loudness of a rendition, carried in its init segment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackLoudness {
    /// Integrated (programme) loudness, LUFS.
    pub integrated_lufs: f64,
    /// True peak, dBTP.
    pub true_peak_dbtp: f64,
    /// Sample peak, dBFS.
    pub sample_peak_dbfs: f64,
}

/// 23003-4 measurement system 2: ITU-R BS.1770-4.
const SYSTEM_BS1770_4: u8 = 2;
/// 23003-4 reliability 3: measured and accurate.
const RELIABILITY_ACCURATE: u8 = 3;
/// 23003-4 method definition 1: programme loudness.
const METHOD_PROGRAM_LOUDNESS: u8 = 1;

/// Peak levels are coded as `20 − value/32` dB in 12 bits; 0 means absent.
fn peak_code(db: f64) -> u32 {
    if !db.is_finite() {
        return 0;
    }
    ((20.0 - db) * 32.0).round().clamp(1.0, 4095.0) as u32
}

/// Programme loudness is coded as `−57.75 + value/4` LUFS in 8 bits.
fn loudness_code(lufs: f64) -> u8 {
    ((lufs + 57.75) * 4.0).round().clamp(0.0, 255.0) as u8
}

/// Writes `ludt` holding one `tlou` (version 0, one loudness base, one
/// measurement: programme loudness).
pub(crate) fn write_ludt(buf: &mut Vec<u8>, l: &TrackLoudness) -> mp4_atom::Result<()> {
    buf.encode_atom(b"ludt", |b| {
        b.encode_atom(b"tlou", |b| {
            0u32.encode(b)?; // version 0, flags 0
            // reserved(3) downmix_ID(7) DRC_set_ID(6): all zero (the track as is)
            0u16.encode(b)?;
            let peaks = (peak_code(l.sample_peak_dbfs) << 20)
                | (peak_code(l.true_peak_dbtp) << 8)
                | (u32::from(SYSTEM_BS1770_4) << 4)
                | u32::from(RELIABILITY_ACCURATE);
            peaks.encode(b)?;
            1u8.encode(b)?; // measurement_count
            METHOD_PROGRAM_LOUDNESS.encode(b)?;
            loudness_code(l.integrated_lufs).encode(b)?;
            ((SYSTEM_BS1770_4 << 4) | RELIABILITY_ACCURATE).encode(b)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ludt_bytes() {
        let mut buf = Vec::new();
        write_ludt(
            &mut buf,
            &TrackLoudness {
                integrated_lufs: -14.0,
                true_peak_dbtp: -1.0,
                sample_peak_dbfs: -1.5,
            },
        )
        .expect("ludt");
        // -14 LUFS -> (43.75 * 4) = 175; -1.5 dB -> 21.5*32 = 688; -1 dB -> 672.
        let want: Vec<u8> = [
            &[0, 0, 0, 30][..],
            b"ludt",
            &[0, 0, 0, 22],
            b"tlou",
            &[0, 0, 0, 0],
            &[0, 0],
            &((688u32 << 20) | (672 << 8) | (2 << 4) | 3).to_be_bytes(),
            &[1, 1, 175, 0x23],
        ]
        .concat();
        assert_eq!(buf, want);
    }

    #[test]
    fn codes_clamp() {
        assert_eq!(peak_code(f64::NEG_INFINITY), 0);
        assert_eq!(peak_code(25.0), 1);
        assert_eq!(loudness_code(-70.0), 0);
        assert_eq!(loudness_code(10.0), 255);
    }
}
