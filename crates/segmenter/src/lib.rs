//! # audiopack-segmenter
//!
//! CMAF packaging (the packaging issue; not implemented yet). The plan, so
//! the encode side can be built to fit:
//!
//! * Pure: encoded packets with their durations in, bytes out. No files.
//! * Per rendition an init segment (`ftyp` with CMAF brands, `moov` with
//!   `mvhd`, `trak`/`edts`/`elst`, `mdia` at timescale 48 000 for Opus or the
//!   source rate for FLAC, `Opus`+`dOps` or `fLaC`+`dfLa`, `sgpd` roll,
//!   `mvex`/`trex`) and media segments (`styp`, `moof` with `tfhd`
//!   default-base-is-moof, `tfdt`, `trun`, `sbgp`; `mdat`), written with
//!   `mp4-atom`.
//! * Gapless: `elst` media_time = the Opus pre-skip
//!   ([`OpusEncoder::pre_skip`](../audiopack_encode/struct.OpusEncoder.html)),
//!   segment_duration = the exact output length; roll distance −4 packets.
//! * Segment boundaries on whole 20 ms packets, identical for every rendition.
