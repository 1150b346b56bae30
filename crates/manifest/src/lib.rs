//! # audiopack-manifest
//!
//! HLS and DASH manifests (the packaging issue; not implemented yet). The
//! plan: pure functions from a description of the renditions (codec string,
//! measured peak and average bandwidth, segment durations in ticks, DRM key
//! references) to playlist and MPD text — `render_master_playlist`,
//! `render_media_playlist`, `render_mpd` — tested by parsing their output
//! back.
