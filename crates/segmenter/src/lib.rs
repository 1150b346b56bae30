//! # audiopack-segmenter
//!
//! CMAF fragmented MP4 for audiopack renditions. Pure: encoded packets in,
//! bytes out; no files, no clocks (creation times are 0), so the same input
//! gives byte-identical segments.
//!
//! ## Status
//!
//! Used by every package the job writes, for Opus and FLAC:
//! [`init_segment`] (with `ludt` loudness), the [`Fragmenter`] that cuts
//! media segments, and the single-file layout (init, `sidx`, fragments).
//! Segments parse back with mp4-atom, ffprobe and shaka-packager, and play
//! in Shaka Player, hls.js and dash.js (crates/cli/tests/players.rs).
//! Encrypted tracks ([`TrackEncryption`]): `enca` + `sinf`
//! (`frma`/`schm`/`schi`/`tenc`) and `pssh` boxes in the init segment,
//! `senc`/`saiz`/`saio` per fragment when samples carry their own IVs
//! ([`Fragmenter::with_sample_ivs`]). The caller encrypts the samples
//! (audiopack-drm); this crate never sees a key. See docs/drm.md.
//!
//! ## Layout written
//!
//! * Init segment: `ftyp` (`iso6`, `cmfc`, `opus`), `moov` with `mvhd`
//!   (timescale 48 000), `mvex/mehd/trex`, one `trak`: `tkhd`, `edts/elst`,
//!   `mdia` (`mdhd` timescale 48 000, `hdlr soun`, `minf/smhd/dinf/stbl`),
//!   `stsd` with `Opus` + `dOps`, and an `sgpd` of grouping type `roll`.
//! * Media segment: `styp`, `moof` (`mfhd`, `traf` with `tfhd`
//!   default-base-is-moof, `tfdt`, `trun` with per-sample sizes, `sbgp`
//!   mapping every sample to the roll group), `mdat`.
//!
//! ## Gapless
//!
//! The edit list starts the presentation at `media_time = pre_skip` and lasts
//! exactly the real length (`segment_duration`), which is how players drop
//! the encoder delay at the start and the padding at the end. Opus needs
//! 80 ms of pre-roll to converge after a seek: `roll_distance = −4` packets of
//! 20 ms (the unit is samples of the track, i.e. packets, not ticks).

mod encryption;
mod error;
mod fragment;
mod index;
mod init;
mod loudness_box;

pub use encryption::TrackEncryption;
pub use error::SegmentError;
pub use fragment::{Fragmenter, MediaSegment};
pub use index::segment_index;
pub use init::{
    OPUS_PACKET_TICKS, OPUS_ROLL_DISTANCE, OPUS_TIMESCALE, SampleEntry, TrackDescription,
    init_segment,
};
pub use loudness_box::TrackLoudness;
