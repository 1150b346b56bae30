//! Media segments: `styp` + `moof` + `mdat`, one track, one `trun`.

use mp4_atom::{
    Atom, Encode, Header, Mdat, Mfhd, Moof, Saio, Saiz, Sbgp, SbgpEntry, Senc, SencBoxVersion,
    Styp, Tfdt, Tfhd, Traf, Trun, TrunEntry,
};

use crate::error::SegmentError;
use crate::init::TRACK_ID;

/// Sample flags for audio: every sample is a sync sample that depends on
/// no other (sample_depends_on = 2).
const SYNC_SAMPLE_FLAGS: u32 = 0x0200_0000;

/// One finished media segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSegment {
    /// 1-based, as in `mfhd`.
    pub sequence: u32,
    /// Decode time of the first sample, in track ticks.
    pub base_media_decode_time: u64,
    /// Sum of the sample durations, in track ticks.
    pub duration: u64,
    pub samples: u32,
    pub bytes: Vec<u8>,
}

/// Collects samples and cuts them into media segments on request; the
/// caller decides where segments end (aligned across renditions).
#[derive(Debug, Default)]
pub struct Fragmenter {
    /// Single-file layout: fragments follow each other in one file, no `styp`.
    without_styp: bool,
    sequence: u32,
    next_time: u64,
    entries: Vec<TrunEntry>,
    payload: Vec<u8>,
    pending_duration: u64,
    /// Bytes of per-sample IV (Common Encryption with `senc`), 0 when the
    /// samples are clear or use a constant IV.
    iv_size: u8,
    /// The per-sample IVs of the collected samples.
    ivs: Vec<u8>,
}

impl Fragmenter {
    /// Segments that start with `styp` (one file per segment).
    pub fn new() -> Self {
        Self::default()
    }

    /// Fragments without `styp`, for the single-file layout (`moof` +
    /// `mdat` pairs indexed by a `sidx`).
    pub fn without_styp() -> Self {
        Fragmenter {
            without_styp: true,
            ..Self::default()
        }
    }

    /// Encrypted samples with `iv_size`-byte per-sample IVs (cenc: 8):
    /// every fragment gets `senc` with the IVs, `saiz` and `saio`.
    pub fn with_sample_ivs(mut self, iv_size: u8) -> Self {
        self.iv_size = iv_size;
        self
    }

    /// Adds one encrypted sample with its per-sample IV (`iv.len()` must be
    /// the size given to [`Fragmenter::with_sample_ivs`]).
    pub fn push_encrypted(
        &mut self,
        sample: &[u8],
        duration: u32,
        iv: &[u8],
    ) -> Result<(), SegmentError> {
        if iv.len() != usize::from(self.iv_size) {
            return Err(SegmentError::Limit(format!(
                "a {}-byte IV for {}-byte per-sample IVs",
                iv.len(),
                self.iv_size
            )));
        }
        self.ivs.extend_from_slice(iv);
        self.push(sample, duration);
        Ok(())
    }

    /// Adds one sample (an Opus packet or a FLAC frame) of `duration` ticks.
    pub fn push(&mut self, sample: &[u8], duration: u32) {
        self.entries.push(TrunEntry {
            duration: Some(duration),
            size: Some(sample.len() as u32),
            ..Default::default()
        });
        self.payload.extend_from_slice(sample);
        self.pending_duration += u64::from(duration);
    }

    /// Ticks collected since the last cut.
    pub fn pending_duration(&self) -> u64 {
        self.pending_duration
    }

    /// Cuts a media segment from the collected samples (`None` if empty).
    pub fn cut(&mut self) -> Result<Option<MediaSegment>, SegmentError> {
        if self.entries.is_empty() {
            return Ok(None);
        }
        self.sequence += 1;
        let samples = self.entries.len() as u32;
        let mut moof = Moof {
            mfhd: Mfhd {
                sequence_number: self.sequence,
            },
            traf: vec![Traf {
                tfhd: Tfhd {
                    track_id: TRACK_ID,
                    default_sample_flags: Some(SYNC_SAMPLE_FLAGS),
                    default_base_is_moof: true,
                    ..Default::default()
                },
                tfdt: Some(Tfdt {
                    base_media_decode_time: self.next_time,
                }),
                trun: vec![Trun {
                    data_offset: Some(0),
                    samples: std::mem::take(&mut self.entries).into(),
                }],
                sbgp: vec![Sbgp {
                    grouping_type: b"roll".into(),
                    grouping_type_parameter: None,
                    entries: vec![SbgpEntry {
                        sample_count: samples,
                        group_description_index: 1,
                    }],
                }],
                ..Default::default()
            }],
        };
        if self.iv_size > 0 {
            let traf = &mut moof.traf[0];
            let mut data = Vec::with_capacity(4 + self.ivs.len());
            data.extend_from_slice(&samples.to_be_bytes());
            data.append(&mut self.ivs);
            traf.senc = Some(Senc {
                version: SencBoxVersion::V0,
                use_subsamples: false,
                data,
            });
            traf.saiz.push(Saiz {
                aux_info: None,
                default_sample_info_size: self.iv_size,
                sample_count: samples,
                sample_info_size: Vec::new(),
            });
            traf.saio.push(Saio {
                aux_info: None,
                offsets: vec![0],
            });
        }
        let mp4 = |what| move |source| SegmentError::Mp4 { what, source };
        // The trun data offset counts from the moof start to the first
        // payload byte: the moof's own size plus the 8-byte mdat header.
        // The saio offset counts from the moof start (default-base-is-moof)
        // to the first IV in senc. Both placeholders encode at full width.
        let mut probe = Vec::new();
        moof.encode(&mut probe).map_err(mp4("moof"))?;
        let offset = i32::try_from(probe.len() + 8)
            .map_err(|_| SegmentError::Limit("moof larger than 2 GiB".into()))?;
        moof.traf[0].trun[0].data_offset = Some(offset);
        if self.iv_size > 0 {
            let senc = find_box(&probe, &[b"moof", b"traf", b"senc"])
                .ok_or_else(|| SegmentError::Limit("senc missing from the encoded moof".into()))?;
            // Header (8), version and flags (4), sample_count (4).
            moof.traf[0].saio[0].offsets = vec![senc as u64 + 16];
        }

        let mut bytes = Vec::with_capacity(probe.len() + self.payload.len() + 64);
        if !self.without_styp {
            Styp {
                major_brand: b"cmfs".into(),
                minor_version: 0,
                compatible_brands: vec![b"cmfs".into(), b"msdh".into()],
            }
            .encode(&mut bytes)
            .map_err(mp4("styp"))?;
        }
        moof.encode(&mut bytes).map_err(mp4("moof"))?;
        if self.payload.len() > u32::MAX as usize - 8 {
            return Err(SegmentError::Limit(
                "media segment payload over 4 GiB".into(),
            ));
        }
        Header {
            kind: Mdat::KIND,
            size: Some(self.payload.len()),
        }
        .encode(&mut bytes)
        .map_err(mp4("mdat"))?;
        bytes.extend_from_slice(&self.payload);
        self.payload.clear();

        let segment = MediaSegment {
            sequence: self.sequence,
            base_media_decode_time: self.next_time,
            duration: self.pending_duration,
            samples,
            bytes,
        };
        self.next_time += self.pending_duration;
        self.pending_duration = 0;
        Ok(Some(segment))
    }
}

/// The offset of the box at `path` (nested box types from the start of
/// `bytes`), following 32-bit box sizes.
pub(crate) fn find_box(bytes: &[u8], path: &[&[u8; 4]]) -> Option<usize> {
    let (first, rest) = path.split_first()?;
    let mut at = 0usize;
    while at + 8 <= bytes.len() {
        let size = u32::from_be_bytes(bytes[at..at + 4].try_into().ok()?) as usize;
        if size < 8 || at + size > bytes.len() {
            return None;
        }
        if &bytes[at + 4..at + 8] == *first {
            if rest.is_empty() {
                return Some(at);
            }
            // Container boxes here (moof, traf) have no fields before
            // their children.
            return find_box(&bytes[at + 8..at + size], rest).map(|inner| at + 8 + inner);
        }
        at += size;
    }
    None
}
