//! From packaged tracks to HLS playlists and the DASH MPD.

use std::path::Path;

use audiopack_drm::{DrmSystem, PackageProtection, Scheme, TrackType};
use audiopack_manifest::{
    HlsKeyReference, HlsVerbatim, KeySystem, Presentation, Protection, Rendition,
    Scheme as ManifestScheme, Segment, base64, render_master_playlist, render_media_playlist,
    render_mpd, uuid_text,
};

use crate::error::JobError;
use crate::package::PackagedTrack;
use crate::report::PackagedRendition;

/// What the manifests need to know about a packaged track beyond its
/// segments.
pub(crate) struct TrackFacts<'a> {
    pub track: &'a PackagedTrack,
    pub codecs: &'static str,
    pub channels: u8,
    pub sample_rate: u32,
    /// Decoded ticks before the presentation starts (Opus pre-skip).
    pub media_time: u64,
    /// Presented length in ticks.
    pub duration: u64,
    pub protection: Option<Protection>,
}

/// The key references of `track`'s renditions:
/// * DASH: `mp4protection` with the default KID, then per system its
///   `cenc:pssh` (Widevine, PlayReady), the W3C common PSSH plus ClearKey's
///   `e2719d58-…` scheme with `dashif:Laurl` when a licence URL is given.
///   FairPlay is signalled in HLS only (unless a key service gave a PSSH).
/// * HLS: FairPlay (`com.apple.streamingkeydelivery`, the `skd://` URI),
///   Widevine (its system URN, a `data:` URI of the PSSH box) and
///   PlayReady (`com.microsoft.playready`, a `data:` URI of the PlayReady
///   object, UTF-16). HLS has no standard ClearKey key format: ClearKey
///   players read the key ID from the init segment (`tenc`, the common
///   PSSH).
pub(crate) fn protection(p: &PackageProtection, track: TrackType) -> Protection {
    let kid = p.kid(track);
    let mut systems = Vec::new();
    for &system in &p.systems {
        let pssh = p.pssh(system, track);
        let given = p.keys.provided(system, kid);
        let urn = |id: &[u8; 16]| format!("urn:uuid:{}", uuid_text(id));
        match system {
            DrmSystem::Widevine => systems.push(KeySystem {
                dash_scheme_id_uri: urn(&system.system_id()),
                hls: Some(HlsKeyReference {
                    keyformat: urn(&system.system_id()),
                    uri: pssh
                        .as_ref()
                        .map(|b| format!("data:text/plain;base64,{}", base64(b)))
                        .unwrap_or_default(),
                }),
                pssh,
                license_url: None,
                hls_verbatim: given.and_then(hls_verbatim),
                dash: true,
            }),
            DrmSystem::PlayReady => {
                // The HLS URI carries the PlayReady object (the PSSH's data).
                let object = pssh
                    .as_deref()
                    .and_then(|b| audiopack_drm::pssh::Pssh::parse(b).ok())
                    .map(|parsed| parsed.data)
                    .unwrap_or_default();
                systems.push(KeySystem {
                    dash_scheme_id_uri: urn(&system.system_id()),
                    hls: Some(HlsKeyReference {
                        keyformat: "com.microsoft.playready".into(),
                        uri: format!("data:text/plain;charset=UTF-16;base64,{}", base64(&object)),
                    }),
                    pssh,
                    license_url: None,
                    hls_verbatim: given.and_then(hls_verbatim),
                    dash: true,
                });
            }
            DrmSystem::FairPlay => systems.push(KeySystem {
                dash_scheme_id_uri: urn(&system.system_id()),
                hls: p.fairplay_key_uri.as_ref().map(|uri| HlsKeyReference {
                    keyformat: "com.apple.streamingkeydelivery".into(),
                    uri: uri.clone(),
                }),
                dash: pssh.is_some(),
                pssh,
                license_url: None,
                hls_verbatim: given.and_then(hls_verbatim),
            }),
            DrmSystem::ClearKey => {
                systems.push(KeySystem {
                    dash_scheme_id_uri: urn(&system.system_id()),
                    hls: None,
                    pssh,
                    license_url: None,
                    hls_verbatim: None,
                    dash: true,
                });
                systems.push(KeySystem {
                    dash_scheme_id_uri: urn(&audiopack_drm::system::CLEARKEY_DASH_ID),
                    hls: None,
                    pssh: None,
                    license_url: p.clearkey_license_url.clone(),
                    hls_verbatim: None,
                    dash: true,
                });
            }
        }
    }
    Protection {
        scheme: match p.scheme {
            Scheme::Cenc => ManifestScheme::Cenc,
            Scheme::Cbcs => ManifestScheme::Cbcs,
        },
        default_kid: kid.0,
        systems,
    }
}

fn hls_verbatim(data: &audiopack_drm::SystemData) -> Option<HlsVerbatim> {
    data.hls_media.as_ref().map(|media| HlsVerbatim {
        media: media.clone(),
        master: data.hls_master.clone(),
    })
}

/// Builds the manifest description of one track: segment durations as
/// presented (the edit list trims the pre-skip from the first and the
/// padding from the last), bandwidths measured from the segment sizes.
pub(crate) fn rendition(facts: &TrackFacts<'_>) -> Rendition {
    let t = facts.track;
    let ts = u128::from(t.timescale.max(1));
    let mut peak = 0u64;
    let segments: Vec<Segment> = t
        .segments
        .iter()
        .zip(&t.segment_bytes)
        .map(|(seg, &bytes)| {
            let start = seg
                .start_ticks
                .saturating_sub(facts.media_time)
                .min(facts.duration);
            let end = (seg.start_ticks + seg.duration_ticks)
                .saturating_sub(facts.media_time)
                .min(facts.duration);
            let presented = end - start;
            if presented > 0 {
                peak = peak.max((u128::from(bytes) * 8 * ts / u128::from(presented)) as u64);
            }
            Segment {
                resource: seg.resource.clone(),
                start_ticks: seg.start_ticks,
                duration_ticks: presented,
            }
        })
        .collect();
    let average = (u128::from(t.media_bytes) * 8 * ts / u128::from(facts.duration.max(1))) as u64;
    let template = segments
        .first()
        .is_some_and(|s| matches!(s.resource, audiopack_manifest::Resource::File { .. }))
        .then(|| format!("{}/$Number$.m4s", t.name));
    Rendition {
        id: t.name.clone(),
        codecs: facts.codecs.to_string(),
        channels: facts.channels,
        sample_rate: facts.sample_rate,
        timescale: t.timescale,
        presentation_time_offset: facts.media_time,
        peak_bandwidth: peak.max(average),
        average_bandwidth: average,
        init: t.init.clone(),
        index: t.index.clone(),
        segments,
        playlist_uri: format!("{}.m3u8", t.name),
        media_template: template,
        protection: facts.protection.clone(),
    }
}

/// Writes the manifests into `dir`; returns the names of the master
/// playlists and the MPD written (media playlists are per rendition).
/// HLS: `master.m3u8` (the Opus ladder), `lossless.m3u8` (the FLAC tier,
/// a master of its own so no player switches codecs mid-stream) and one
/// media playlist per rendition. DASH: `manifest.mpd` with one
/// AdaptationSet per codec.
pub(crate) fn write_manifests(
    dir: &Path,
    opus: &[Rendition],
    flac: Option<&Rendition>,
    duration_ticks: u64,
    timescale: u32,
    hls: bool,
    dash: bool,
) -> Result<Vec<String>, JobError> {
    let write = |name: &str, text: String| -> Result<(), JobError> {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|source| JobError::Output {
            path,
            action: "writing",
            source,
        })
    };
    let mut written = Vec::new();
    let mut write_top = |name: &str, text: String| -> Result<(), JobError> {
        write(name, text)?;
        written.push(name.to_string());
        Ok(())
    };
    if hls {
        for r in opus.iter().chain(flac) {
            write(&r.playlist_uri, render_media_playlist(r))?;
        }
        write_top(
            "master.m3u8",
            render_master_playlist(&Presentation {
                duration_ticks,
                timescale,
                renditions: opus.to_vec(),
            }),
        )?;
        if let Some(f) = flac {
            write_top(
                "lossless.m3u8",
                render_master_playlist(&Presentation {
                    duration_ticks,
                    timescale,
                    renditions: vec![f.clone()],
                }),
            )?;
        }
    }
    if dash {
        let mut all = opus.to_vec();
        all.extend(flac.cloned());
        write_top(
            "manifest.mpd",
            render_mpd(&Presentation {
                duration_ticks,
                timescale,
                renditions: all,
            }),
        )?;
    }
    Ok(written)
}

/// The report's view of a packaged rendition.
pub(crate) fn report_entry(r: &Rendition, track: &PackagedTrack) -> PackagedRendition {
    PackagedRendition {
        name: r.id.clone(),
        codecs: r.codecs.clone(),
        channels: r.channels,
        sample_rate: r.sample_rate,
        timescale: r.timescale,
        peak_bandwidth_bps: r.peak_bandwidth,
        average_bandwidth_bps: r.average_bandwidth,
        segments: r.segments.len(),
        playlist: r.playlist_uri.clone(),
        files: track.files.clone(),
        lossless_check: None,
    }
}
