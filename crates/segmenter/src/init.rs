//! The Opus init segment (`ftyp` + `moov`).

use mp4_atom::{
    AnySampleGroupEntry, Audio, Dinf, Dops, Dref, Edts, Elst, ElstEntry, Encode, Ftyp, Hdlr, Mdhd,
    Mdia, Mehd, Minf, Moov, Mvex, Mvhd, Opus, Sgpd, SgpdEntry, Smhd, Stbl, Stco, Stsd, Tkhd, Trak,
    Trex, Url,
};

use crate::error::SegmentError;

/// Opus timescale: everything is in 1/48000 s.
pub(crate) const OPUS_TIMESCALE: u32 = 48_000;
/// 20 ms packets.
pub(crate) const OPUS_PACKET_TICKS: u32 = 960;
/// Pre-roll in packets: 80 ms of 20 ms packets (a negative count of samples).
pub const OPUS_ROLL_DISTANCE: i16 = -4;
pub(crate) const TRACK_ID: u32 = 1;

/// What the init segment says about one Opus rendition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusTrack {
    pub channels: u8,
    pub pre_skip: u16,
    /// The source's rate (informational, as in OpusHead).
    pub input_sample_rate: u32,
    /// The real length at 48 kHz, without pre-skip or end padding.
    pub frames: u64,
}

/// `ftyp` + `moov` for one Opus rendition.
pub fn opus_init_segment(track: &OpusTrack) -> Result<Vec<u8>, SegmentError> {
    let ftyp = Ftyp {
        major_brand: b"iso6".into(),
        minor_version: 0,
        compatible_brands: vec![b"iso6".into(), b"cmfc".into(), b"opus".into()],
    };
    let opus = Opus {
        audio: Audio {
            data_reference_index: 1,
            channel_count: u16::from(track.channels),
            sample_size: 16,
            sample_rate: (OPUS_TIMESCALE as u16).into(),
        },
        dops: Dops {
            output_channel_count: track.channels,
            pre_skip: track.pre_skip,
            input_sample_rate: track.input_sample_rate,
            output_gain: 0,
            channel_mapping: None,
        },
        btrt: None,
    };
    let trak = Trak {
        tkhd: Tkhd {
            track_id: TRACK_ID,
            duration: track.frames,
            enabled: true,
            in_movie: true,
            volume: 1.into(),
            ..Default::default()
        },
        edts: Some(Edts {
            elst: Some(Elst {
                entries: vec![ElstEntry {
                    segment_duration: track.frames,
                    media_time: Some(u64::from(track.pre_skip)),
                    media_rate: 1.into(),
                }],
            }),
        }),
        mdia: Mdia {
            mdhd: Mdhd {
                timescale: OPUS_TIMESCALE,
                language: "und".into(),
                ..Default::default()
            },
            hdlr: Hdlr {
                handler: b"soun".into(),
                name: "SoundHandler".into(),
            },
            minf: Minf {
                smhd: Some(Smhd::default()),
                dinf: Dinf {
                    dref: Dref {
                        entries: vec![
                            Url {
                                location: String::new(),
                            }
                            .into(),
                        ],
                    },
                },
                stbl: Stbl {
                    stsd: Stsd {
                        codecs: vec![opus.into()],
                    },
                    stco: Some(Stco::default()),
                    sgpd: vec![roll_group(OPUS_ROLL_DISTANCE)],
                    ..Default::default()
                },
                ..Default::default()
            },
        },
        ..Default::default()
    };
    let moov = Moov {
        mvhd: Mvhd {
            timescale: OPUS_TIMESCALE,
            duration: track.frames,
            rate: 1.into(),
            volume: 1.into(),
            next_track_id: TRACK_ID + 1,
            ..Default::default()
        },
        mvex: Some(Mvex {
            mehd: Some(Mehd {
                fragment_duration: track.frames,
            }),
            trex: vec![Trex {
                track_id: TRACK_ID,
                default_sample_description_index: 1,
                default_sample_duration: OPUS_PACKET_TICKS,
                ..Default::default()
            }],
        }),
        trak: vec![trak],
        ..Default::default()
    };
    let mut out = Vec::with_capacity(1024);
    ftyp.encode(&mut out).map_err(|source| SegmentError::Mp4 {
        what: "ftyp",
        source,
    })?;
    moov.encode(&mut out).map_err(|source| SegmentError::Mp4 {
        what: "moov",
        source,
    })?;
    Ok(out)
}

/// The `roll` sample group description: one entry, a signed 16-bit
/// roll distance in samples (packets).
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
