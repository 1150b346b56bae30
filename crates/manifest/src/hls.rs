//! HLS (RFC 8216) for fMP4 audio: a master playlist and one media playlist
//! per rendition.

use std::fmt::Write as _;

use crate::model::{Presentation, Rendition, Resource};
use crate::time::seconds_text;

/// fMP4 segments need `EXT-X-MAP`, which needs version 6+ (7 is what
/// Apple's authoring spec pairs with fMP4).
const HLS_VERSION: u8 = 7;

/// The master playlist: one `EXT-X-STREAM-INF` per rendition with the
/// measured peak (`BANDWIDTH`) and average (`AVERAGE-BANDWIDTH`) bit rates
/// and the lowercase `CODECS` string.
pub fn render_master_playlist(p: &Presentation) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "#EXTM3U");
    let _ = writeln!(s, "#EXT-X-VERSION:{HLS_VERSION}");
    let _ = writeln!(s, "#EXT-X-INDEPENDENT-SEGMENTS");
    let mut session_keys: Vec<String> = Vec::new();
    for line in p
        .renditions
        .iter()
        .filter_map(|r| r.protection.as_ref())
        .flat_map(|pr| pr.hls_lines("EXT-X-SESSION-KEY"))
    {
        if !session_keys.contains(&line) {
            let _ = writeln!(s, "{line}");
            session_keys.push(line);
        }
    }
    for r in &p.renditions {
        let _ = writeln!(
            s,
            "#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},CODECS=\"{}\"",
            r.peak_bandwidth, r.average_bandwidth, r.codecs
        );
        let _ = writeln!(s, "{}", r.playlist_uri);
    }
    s
}

/// A VOD media playlist with exact `EXTINF` durations, `EXT-X-MAP`, and
/// `EXT-X-BYTERANGE` when the segments are ranges of one file.
pub fn render_media_playlist(r: &Rendition) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "#EXTM3U");
    let _ = writeln!(s, "#EXT-X-VERSION:{HLS_VERSION}");
    let _ = writeln!(s, "#EXT-X-TARGETDURATION:{}", target_duration(r));
    let _ = writeln!(s, "#EXT-X-PLAYLIST-TYPE:VOD");
    let _ = writeln!(s, "#EXT-X-MEDIA-SEQUENCE:0");
    let _ = writeln!(s, "#EXT-X-INDEPENDENT-SEGMENTS");
    // Keys come before the map: the init segment is protected too (its
    // sample entry is `enca`).
    for line in r.protection.iter().flat_map(|pr| pr.hls_lines("EXT-X-KEY")) {
        let _ = writeln!(s, "{line}");
    }
    match &r.init {
        Resource::File { uri } => {
            let _ = writeln!(s, "#EXT-X-MAP:URI=\"{uri}\"");
        }
        Resource::Range {
            uri,
            offset,
            length,
        } => {
            let _ = writeln!(
                s,
                "#EXT-X-MAP:URI=\"{uri}\",BYTERANGE=\"{length}@{offset}\""
            );
        }
    }
    for seg in &r.segments {
        let _ = writeln!(
            s,
            "#EXTINF:{},",
            seconds_text(seg.duration_ticks, r.timescale)
        );
        if let Resource::Range { offset, length, .. } = &seg.resource {
            let _ = writeln!(s, "#EXT-X-BYTERANGE:{length}@{offset}");
        }
        let _ = writeln!(s, "{}", seg.resource.uri());
    }
    let _ = writeln!(s, "#EXT-X-ENDLIST");
    s
}

/// RFC 8216 §4.3.3.1: every EXTINF, rounded to the nearest integer, is at
/// most the target duration.
fn target_duration(r: &Rendition) -> u64 {
    let ts = u64::from(r.timescale.max(1));
    r.segments
        .iter()
        .map(|seg| (seg.duration_ticks + ts / 2) / ts)
        .max()
        .unwrap_or(0)
        .max(1)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::Segment;

    pub(crate) fn opus_rendition(kbps: u64, ranges: bool) -> Rendition {
        let uri = format!("opus_{kbps}k.mp4");
        let res = |i: u64, offset: u64, length: u64| {
            if ranges {
                Resource::Range {
                    uri: uri.clone(),
                    offset,
                    length,
                }
            } else {
                Resource::File {
                    uri: format!("opus_{kbps}k/{i}.m4s"),
                }
            }
        };
        Rendition {
            id: format!("opus_{kbps}k"),
            codecs: "opus".into(),
            channels: 2,
            sample_rate: 48_000,
            timescale: 48_000,
            presentation_time_offset: 312,
            peak_bandwidth: kbps * 1100,
            average_bandwidth: kbps * 1000,
            init: if ranges {
                Resource::Range {
                    uri: uri.clone(),
                    offset: 0,
                    length: 700,
                }
            } else {
                Resource::File {
                    uri: format!("opus_{kbps}k/init.mp4"),
                }
            },
            index: ranges.then(|| Resource::Range {
                uri: uri.clone(),
                offset: 700,
                length: 68,
            }),
            segments: vec![
                Segment {
                    resource: res(1, 768, 48_000),
                    start_ticks: 0,
                    duration_ticks: 288_000 - 312,
                },
                Segment {
                    resource: res(2, 48_768, 30_000),
                    start_ticks: 288_000,
                    duration_ticks: 288_000,
                },
                Segment {
                    resource: res(3, 78_768, 5_000),
                    start_ticks: 576_000,
                    duration_ticks: 30_000,
                },
            ],
            playlist_uri: format!("opus_{kbps}k.m3u8"),
            media_template: (!ranges).then(|| format!("opus_{kbps}k/$Number$.m4s")),
            protection: None,
        }
    }

    #[test]
    fn master_lists_every_rendition_with_codecs_and_bandwidths() {
        let p = Presentation {
            duration_ticks: 605_688,
            timescale: 48_000,
            renditions: vec![opus_rendition(64, false), opus_rendition(96, false)],
        };
        let text = render_master_playlist(&p);
        let want = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n\
            #EXT-X-STREAM-INF:BANDWIDTH=70400,AVERAGE-BANDWIDTH=64000,CODECS=\"opus\"\nopus_64k.m3u8\n\
            #EXT-X-STREAM-INF:BANDWIDTH=105600,AVERAGE-BANDWIDTH=96000,CODECS=\"opus\"\nopus_96k.m3u8\n";
        assert_eq!(text, want);
    }

    #[test]
    fn media_playlist_segments() {
        let text = render_media_playlist(&opus_rendition(64, false));
        let want = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:6\n#EXT-X-PLAYLIST-TYPE:VOD\n\
            #EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-INDEPENDENT-SEGMENTS\n#EXT-X-MAP:URI=\"opus_64k/init.mp4\"\n\
            #EXTINF:5.9935,\nopus_64k/1.m4s\n#EXTINF:6.000,\nopus_64k/2.m4s\n#EXTINF:0.625,\nopus_64k/3.m4s\n\
            #EXT-X-ENDLIST\n";
        assert_eq!(text, want);
    }

    #[test]
    fn media_playlist_byte_ranges() {
        let text = render_media_playlist(&opus_rendition(64, true));
        assert!(text.contains("#EXT-X-MAP:URI=\"opus_64k.mp4\",BYTERANGE=\"700@0\"\n"));
        assert!(text.contains("#EXTINF:6.000,\n#EXT-X-BYTERANGE:30000@48768\nopus_64k.mp4\n"));
    }

    #[test]
    fn target_duration_rounds_to_nearest() {
        let mut r = opus_rendition(64, false);
        r.segments[1].duration_ticks = 48_000 * 6 + 24_000; // 6.5 s rounds to 7
        assert!(render_media_playlist(&r).contains("#EXT-X-TARGETDURATION:7\n"));
    }
}

#[cfg(test)]
pub(crate) mod protection_tests {
    use super::tests::opus_rendition;
    use super::*;
    use crate::protection::{HlsKeyReference, KeySystem, Protection, Scheme};

    pub(crate) fn fairplay_and_widevine() -> Protection {
        Protection {
            scheme: Scheme::Cbcs,
            default_kid: [0x11; 16],
            systems: vec![
                KeySystem {
                    dash_scheme_id_uri: "urn:uuid:94ce86fb-07ff-4f43-adb8-93d2fa968ca2".into(),
                    pssh: None,
                    license_url: None,
                    hls: Some(HlsKeyReference {
                        keyformat: "com.apple.streamingkeydelivery".into(),
                        uri: "skd://key-1".into(),
                    }),
                    hls_verbatim: None,
                    dash: true,
                },
                KeySystem {
                    dash_scheme_id_uri: "urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed".into(),
                    pssh: Some(b"foobar".to_vec()),
                    license_url: None,
                    hls: None,
                    hls_verbatim: None,
                    dash: true,
                },
            ],
        }
    }

    #[test]
    fn keys_in_media_and_master_playlists() {
        let mut r = opus_rendition(64, false);
        r.protection = Some(fairplay_and_widevine());
        let media = render_media_playlist(&r);
        let key = "#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"skd://key-1\",KEYFORMAT=\"com.apple.streamingkeydelivery\",KEYFORMATVERSIONS=\"1\"\n";
        assert!(media.contains(&format!("{key}#EXT-X-MAP:")), "{media}");
        let p = Presentation {
            duration_ticks: 1,
            timescale: 48_000,
            renditions: vec![r.clone(), r],
        };
        let master = render_master_playlist(&p);
        assert_eq!(
            master
                .matches("#EXT-X-SESSION-KEY:METHOD=SAMPLE-AES,URI=\"skd://key-1\"")
                .count(),
            1,
            "{master}"
        );
    }
}
