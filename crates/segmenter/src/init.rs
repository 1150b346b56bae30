//! Init segments (`ftyp` + `moov`) for one audio track.
//!
//! The `moov` is assembled box by box (typed mp4-atom boxes where they
//! exist, hand-written where they do not: `ludt`, a `srat` for FLAC above
//! 65 535 Hz, and `enca`/`sinf`/`tenc`/`pssh` for encryption).

use mp4_atom::{
    AnySampleGroupEntry, Audio, BufMut, Dfla, Dinf, Dops, Dref, Edts, Elst, ElstEntry, Encode,
    FlacMetadataBlock, Ftyp, Hdlr, Mdhd, Mehd, Mvex, Mvhd, Sgpd, SgpdEntry, Smhd, Stco, Stsc, Stsz,
    Stts, Tkhd, Trex, Url, u24,
};

use crate::encryption::{TrackEncryption, write_sinf};
use crate::error::SegmentError;
use crate::loudness_box::{TrackLoudness, write_ludt};

/// Opus timescale: everything is in 1/48000 s.
pub const OPUS_TIMESCALE: u32 = 48_000;
/// 20 ms Opus packets.
pub const OPUS_PACKET_TICKS: u32 = 960;
/// Opus pre-roll: 80 ms of 20 ms packets, as a negative count of samples.
pub const OPUS_ROLL_DISTANCE: i16 = -4;
pub(crate) const TRACK_ID: u32 = 1;

/// The codec configuration of the one track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleEntry {
    /// `Opus` + `dOps` (mapping family 0: mono or stereo).
    Opus {
        channels: u8,
        pre_skip: u16,
        input_sample_rate: u32,
    },
    /// `fLaC` + `dfLa` with a STREAMINFO for fixed-size blocks.
    Flac {
        channels: u8,
        bits_per_sample: u8,
        sample_rate: u32,
        block_size: u16,
        /// Total samples per channel (0 if unknown).
        total_samples: u64,
    },
}

/// Everything the init segment says about a track.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackDescription {
    pub entry: SampleEntry,
    /// Ticks per second: 48 000 for Opus, the sample rate for FLAC.
    pub timescale: u32,
    /// The real presented length, in ticks.
    pub duration: u64,
    /// Ticks of decoded media before the presentation starts (the edit
    /// list's `media_time`: the Opus pre-skip; 0 for FLAC).
    pub media_time: u64,
    /// Samples of pre-roll needed after a seek (`roll` group), if any.
    pub roll_distance: Option<i16>,
    pub loudness: Option<TrackLoudness>,
    /// Common Encryption: the sample entry becomes `enca` with a `sinf`,
    /// and the `pssh` boxes go into `moov`.
    pub encryption: Option<TrackEncryption>,
}

impl TrackDescription {
    /// An Opus track at 48 kHz with the standard 80 ms pre-roll.
    pub fn opus(channels: u8, pre_skip: u16, input_sample_rate: u32, frames: u64) -> Self {
        TrackDescription {
            entry: SampleEntry::Opus {
                channels,
                pre_skip,
                input_sample_rate,
            },
            timescale: OPUS_TIMESCALE,
            duration: frames,
            media_time: u64::from(pre_skip),
            roll_distance: Some(OPUS_ROLL_DISTANCE),
            loudness: None,
            encryption: None,
        }
    }
}

fn mp4(what: &'static str) -> impl Fn(mp4_atom::Error) -> SegmentError {
    move |source| SegmentError::Mp4 { what, source }
}

/// `ftyp` + `moov` for one track.
pub fn init_segment(track: &TrackDescription) -> Result<Vec<u8>, SegmentError> {
    let codec_brand: &[u8; 4] = match track.entry {
        SampleEntry::Opus { .. } => b"opus",
        SampleEntry::Flac { .. } => b"fLaC",
    };
    let ftyp = Ftyp {
        major_brand: b"iso6".into(),
        minor_version: 0,
        compatible_brands: vec![b"iso6".into(), b"cmfc".into(), codec_brand.into()],
    };
    let mut out = Vec::with_capacity(1024);
    ftyp.encode(&mut out).map_err(mp4("ftyp"))?;
    let mvhd = Mvhd {
        timescale: track.timescale,
        duration: track.duration,
        rate: 1.into(),
        volume: 1.into(),
        next_track_id: TRACK_ID + 1,
        ..Default::default()
    };
    let mvex = Mvex {
        mehd: Some(Mehd {
            fragment_duration: track.duration,
        }),
        trex: vec![Trex {
            track_id: TRACK_ID,
            default_sample_description_index: 1,
            ..Default::default()
        }],
    };
    out.encode_atom(b"moov", |b| {
        mvhd.encode(b)?;
        write_trak(b, track)?;
        mvex.encode(b)?;
        for pssh in track.encryption.iter().flat_map(|e| &e.pssh) {
            b.extend_from_slice(pssh);
        }
        Ok(())
    })
    .map_err(mp4("moov"))?;
    Ok(out)
}

fn write_trak(b: &mut Vec<u8>, track: &TrackDescription) -> mp4_atom::Result<()> {
    let tkhd = Tkhd {
        track_id: TRACK_ID,
        duration: track.duration,
        enabled: true,
        in_movie: true,
        volume: 1.into(),
        ..Default::default()
    };
    let edts = Edts {
        elst: Some(Elst {
            entries: vec![ElstEntry {
                segment_duration: track.duration,
                media_time: Some(track.media_time),
                media_rate: 1.into(),
            }],
        }),
    };
    b.encode_atom(b"trak", |b| {
        tkhd.encode(b)?;
        edts.encode(b)?;
        b.encode_atom(b"mdia", |b| {
            Mdhd {
                timescale: track.timescale,
                language: "und".into(),
                ..Default::default()
            }
            .encode(b)?;
            Hdlr {
                handler: b"soun".into(),
                name: "SoundHandler".into(),
            }
            .encode(b)?;
            b.encode_atom(b"minf", |b| {
                Smhd::default().encode(b)?;
                Dinf {
                    dref: Dref {
                        entries: vec![
                            Url {
                                location: String::new(),
                            }
                            .into(),
                        ],
                    },
                }
                .encode(b)?;
                b.encode_atom(b"stbl", |b| {
                    write_stsd(b, &track.entry, track.encryption.as_ref())?;
                    Stts::default().encode(b)?;
                    Stsc::default().encode(b)?;
                    Stsz::default().encode(b)?;
                    Stco::default().encode(b)?;
                    if let Some(distance) = track.roll_distance {
                        roll_group(distance).encode(b)?;
                    }
                    Ok(())
                })
            })
        })?;
        if let Some(loudness) = &track.loudness {
            b.encode_atom(b"udta", |b| write_ludt(b, loudness))?;
        }
        Ok(())
    })
}

fn write_stsd(
    b: &mut Vec<u8>,
    entry: &SampleEntry,
    encryption: Option<&TrackEncryption>,
) -> mp4_atom::Result<()> {
    b.encode_atom(b"stsd", |b| {
        0u32.encode(b)?; // version, flags
        1u32.encode(b)?; // entry_count
        match *entry {
            SampleEntry::Opus {
                channels,
                pre_skip,
                input_sample_rate,
            } => b.encode_atom(encryption.map_or(b"Opus", |_| b"enca"), |b| {
                Audio {
                    data_reference_index: 1,
                    channel_count: u16::from(channels),
                    sample_size: 16,
                    sample_rate: (OPUS_TIMESCALE as u16).into(),
                }
                .encode(b)?;
                Dops {
                    output_channel_count: channels,
                    pre_skip,
                    input_sample_rate,
                    output_gain: 0,
                    channel_mapping: None,
                }
                .encode(b)?;
                if let Some(enc) = encryption {
                    write_sinf(b, b"Opus", enc)?;
                }
                Ok(())
            }),
            SampleEntry::Flac {
                channels,
                bits_per_sample,
                sample_rate,
                block_size,
                total_samples,
            } => b.encode_atom(encryption.map_or(b"fLaC", |_| b"enca"), |b| {
                // Rates above 65535 do not fit the 16.16 field: write 0 and
                // carry the rate in a SamplingRateBox (and in STREAMINFO).
                let field_rate = u16::try_from(sample_rate).unwrap_or(0);
                Audio {
                    data_reference_index: 1,
                    channel_count: u16::from(channels),
                    sample_size: u16::from(bits_per_sample),
                    sample_rate: field_rate.into(),
                }
                .encode(b)?;
                Dfla {
                    blocks: vec![FlacMetadataBlock::StreamInfo {
                        minimum_block_size: block_size,
                        maximum_block_size: block_size,
                        minimum_frame_size: u24::from([0; 3]),
                        maximum_frame_size: u24::from([0; 3]),
                        sample_rate: sample_rate & 0xF_FFFF,
                        num_channels_minus_one: channels.saturating_sub(1) & 0x7,
                        bits_per_sample_minus_one: bits_per_sample.saturating_sub(1) & 0x1F,
                        number_of_interchannel_samples: total_samples & 0xF_FFFF_FFFF,
                        md5_checksum: vec![0; 16],
                    }],
                }
                .encode(b)?;
                if field_rate == 0 {
                    b.encode_atom(b"srat", |b| {
                        0u32.encode(b)?;
                        sample_rate.encode(b)
                    })?;
                }
                if let Some(enc) = encryption {
                    write_sinf(b, b"fLaC", enc)?;
                }
                Ok(())
            }),
        }
    })
}

/// The `roll` sample group description: one entry, a signed 16-bit roll
/// distance in samples.
pub(crate) fn roll_group(distance: i16) -> Sgpd {
    Sgpd {
        grouping_type: b"roll".into(),
        default_length: Some(2),
        default_group_description_index: None,
        static_group_description: false,
        static_mapping: false,
        essential: false,
        entries: vec![SgpdEntry {
            description_length: Some(2),
            entry: AnySampleGroupEntry::UnknownGroupingType(
                b"roll".into(),
                distance.to_be_bytes().to_vec(),
            ),
        }],
    }
}
