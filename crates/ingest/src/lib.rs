//! # audiopack-ingest
//!
//! Opens an uploaded master, finds out what it is **from its bytes** (never
//! the file name), checks it against limits, and streams it out as bounded
//! blocks of planar `f32`, strictly: a file that lies about its length, has
//! undecodable frames or fails its own checksum is an error naming the file
//! and the problem, never a silently shorter output.
//!
//! ## Design
//!
//! * [`IngestConfig`] (limits, strictness) is validated once and passed by
//!   reference.
//! * [`Source::open`] probes with symphonia 0.6 (WAV, AIFF, FLAC, MP3, Ogg
//!   Vorbis), validates the header against the [`Limits`], and returns a
//!   [`SourceInfo`] with the facts (format, codec, rate, channels, bit depth,
//!   declared length, tags).
//! * [`Source::next_block`] is the pull side: one decoded packet at a time
//!   (a few thousand frames), so memory is bounded by the codec's packet
//!   size whatever the duration. Gapless trimming (MP3 LAME/Xing delay and
//!   padding, Ogg) is done by the decoders.
//! * At the end of the stream the decoded length is checked against what the
//!   header promised (WAV/AIFF data size, FLAC STREAMINFO, MP3 Xing/LAME
//!   frame count) and FLAC's MD5 is verified.
//! * [`scan`] decodes a whole file once to report its exact decoded length
//!   (what `audiopack probe` prints).
//!
//! ## Hostile input
//!
//! * [`check_input_file`] refuses anything but a regular file from its
//!   metadata alone (a FIFO would block `open`, `/dev/zero` never ends) as
//!   bad input; a directory stays an I/O error. [`Source::open`] and
//!   [`scan`] call it first.
//! * Before symphonia parses anything, a bounded pre-scan (`prescan.rs`)
//!   walks the container's headers: tag data past **8 MiB / 10,000
//!   entries per file** is patched out of symphonia's view (`patched.rs`:
//!   a FLAC block becomes PADDING, a RIFF/AIFF chunk `JUNK`, a FLAC or Ogg
//!   comment count shrinks) and listed in [`Source::warnings`]. ID3v2 and
//!   APE tags, which the probe finds anywhere, go through our own probe
//!   (`probe.rs`) whose readers parse an in-memory copy cut to the same
//!   budget; more than 64 such tags is bad input. Symphonia 0.6.1's
//!   `MetadataOptions` limits are read by no reader, hence all this.
//! * Headers that lie and symphonia would follow silently — a second WAV
//!   `fmt ` chunk, an AIFF COMM frame count that is not the SSND data, an
//!   MP3 Xing/Info frame count below the frames in the stream (gapless
//!   trimming would cut the audio to it) — are bad input, or
//!   warnings when lenient. A well-formed WAV/AIFF header with more
//!   channels than the limit is [`ErrorKind::Limit`] whatever the count.
//! * Float samples that are NaN, infinite or beyond ±1e6 are bad input.
//!
//! Symphonia is a pure-Rust decoder, but our fuzzing found panics in 0.6.1
//! on crafted files (integer overflows in the WAV `fmt ` parser, failed
//! asserts and overflows in Ogg Vorbis codebook setup; inputs in
//! `fuzz/regressions/`). Every call into it runs under `catch_unwind`
//! (`contained` in `source.rs`), so such a file is bad input (exit 3); the
//! job layer above also catches any other panic as an internal error.
//!
//! Known limits of the decoders (symphonia 0.6.1): WAV `LIST/INFO` tags are
//! parsed but not exposed (ID3 chunks are); MP3 files without a Xing/LAME
//! header have no exact length, so their truncation cannot be detected.

mod config;
mod error;
mod flac_check;
mod input_file;
mod metadata_budget;
mod patched;
mod prescan;
mod probe;
mod source;
mod tags;

pub use config::{IngestConfig, Limits};
pub use error::{ErrorKind, IngestError};
pub use flac_check::{FlacCheck, FlacRoundTrip};
pub use input_file::check_input_file;
pub use source::{ReadSeek, ScanReport, Source, SourceInfo, scan};
