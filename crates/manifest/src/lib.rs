//! # audiopack-manifest
//!
//! HLS playlists and DASH MPDs from a description of the renditions: pure
//! functions, values in, text out — no files, no clocks.
//!
//! * [`Presentation`] holds the [`Rendition`]s of one package: codec string,
//!   channels, timescale, **measured** peak and average bandwidth, the init
//!   resource and every segment's exact duration in ticks (and byte range,
//!   in the single-file layout).
//! * [`render_master_playlist`], [`render_media_playlist`] (RFC 8216, fMP4:
//!   version 7, `EXT-X-MAP`, `EXT-X-BYTERANGE` for single files) and
//!   [`render_mpd`] (static MPD: `SegmentTemplate` + `SegmentTimeline` for
//!   segments, `SegmentBase indexRange` for single files).
//! * DRM: a rendition may carry a [`Protection`] (scheme, default KID, one
//!   entry per DRM system) that becomes `EXT-X-KEY` in its media playlist,
//!   `EXT-X-SESSION-KEY` in the master and `ContentProtection` (with
//!   `cenc:default_KID`, `cenc:pssh`, `dashif:Laurl`) in the MPD.
//!
//! Status: every package the job writes uses these renderers; the
//! playlists and MPDs are checked by m3u8-rs, dash-mpd parsing, ffprobe
//! and real players (Shaka Player, hls.js, dash.js). `Protection` is
//! modelled and rendered but nothing sets it yet (the DRM issue).

mod dash;
mod hls;
mod model;
mod protection;
mod time;

pub use dash::render_mpd;
pub use hls::{render_master_playlist, render_media_playlist};
pub use model::{Presentation, Rendition, Resource, Segment};
pub use protection::{
    HlsKeyReference, HlsVerbatim, KeySystem, Protection, Scheme, base64, uuid_text,
};
pub use time::{iso8601_duration, seconds_text};
