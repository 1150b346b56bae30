//! A static DASH MPD (ISO/IEC 23009-1): one AdaptationSet per codec.

use std::fmt::Write as _;

use crate::model::{Presentation, Rendition, Resource, Segment};
use crate::time::iso8601_duration;

const PROFILE_SEGMENTS: &str = "urn:mpeg:dash:profile:isoff-live:2011";
const PROFILE_SINGLE_FILE: &str = "urn:mpeg:dash:profile:isoff-on-demand:2011";
const CHANNEL_SCHEME: &str = "urn:mpeg:mpegB:cicp:ChannelConfiguration";

/// Renders the MPD. Renditions with a `media_template` are addressed with
/// `SegmentTemplate` + `SegmentTimeline`; the others (single file) with
/// `BaseURL` + `SegmentBase indexRange`.
pub fn render_mpd(p: &Presentation) -> String {
    let single_file = p.renditions.iter().all(|r| r.media_template.is_none());
    let profile = if single_file {
        PROFILE_SINGLE_FILE
    } else {
        PROFILE_SEGMENTS
    };
    let mut s = String::new();
    let _ = writeln!(s, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        s,
        r#"<MPD xmlns="urn:mpeg:dash:schema:mpd:2011"{} profiles="{profile}" type="static" mediaPresentationDuration="{}" minBufferTime="PT2S">"#,
        if p.renditions.iter().any(|r| r.protection.is_some()) {
            r#" xmlns:cenc="urn:mpeg:cenc:2013" xmlns:dashif="https://dashif.org/CPS""#
        } else {
            ""
        },
        iso8601_duration(p.duration_ticks, p.timescale)
    );
    let _ = writeln!(s, r#"  <Period id="0" start="PT0S">"#);
    let mut codecs: Vec<&str> = Vec::new();
    for r in &p.renditions {
        if !codecs.contains(&r.codecs.as_str()) {
            codecs.push(&r.codecs);
        }
    }
    for (set_id, codec) in codecs.iter().enumerate() {
        let members: Vec<&Rendition> = p.renditions.iter().filter(|r| r.codecs == *codec).collect();
        let Some(first) = members.first() else {
            continue;
        };
        let _ = writeln!(
            s,
            r#"    <AdaptationSet id="{set_id}" contentType="audio" mimeType="audio/mp4" codecs="{}" audioSamplingRate="{}" lang="und" segmentAlignment="true" startWithSAP="1">"#,
            xml(codec),
            first.sample_rate
        );
        if let Some(protection) = &first.protection {
            s.push_str(&protection.dash_elements("      "));
        }
        let _ = writeln!(
            s,
            r#"      <AudioChannelConfiguration schemeIdUri="{CHANNEL_SCHEME}" value="{}"/>"#,
            first.channels
        );
        for r in members {
            let _ = writeln!(
                s,
                r#"      <Representation id="{}" bandwidth="{}" audioSamplingRate="{}">"#,
                xml(&r.id),
                r.average_bandwidth,
                r.sample_rate
            );
            match &r.media_template {
                Some(template) => write_template(&mut s, r, template),
                None => write_segment_base(&mut s, r),
            }
            let _ = writeln!(s, "      </Representation>");
        }
        let _ = writeln!(s, "    </AdaptationSet>");
    }
    let _ = writeln!(s, "  </Period>");
    let _ = writeln!(s, "</MPD>");
    s
}

fn write_template(s: &mut String, r: &Rendition, template: &str) {
    let _ = writeln!(
        s,
        r#"        <SegmentTemplate timescale="{}" presentationTimeOffset="{}" initialization="{}" media="{}" startNumber="1">"#,
        r.timescale,
        r.presentation_time_offset,
        xml(r.init.uri()),
        xml(template)
    );
    let _ = writeln!(s, "          <SegmentTimeline>");
    for (i, run) in runs(&r.segments).iter().enumerate() {
        let t = if i == 0 {
            format!(r#" t="{}""#, run.start)
        } else {
            String::new()
        };
        let repeat = if run.repeat > 0 {
            format!(r#" r="{}""#, run.repeat)
        } else {
            String::new()
        };
        let _ = writeln!(s, r#"            <S{t} d="{}"{repeat}/>"#, run.duration);
    }
    let _ = writeln!(s, "          </SegmentTimeline>");
    let _ = writeln!(s, "        </SegmentTemplate>");
}

fn write_segment_base(s: &mut String, r: &Rendition) {
    let _ = writeln!(s, "        <BaseURL>{}</BaseURL>", xml(r.init.uri()));
    let index = match &r.index {
        Some(Resource::Range { offset, length, .. }) => {
            format!(r#" indexRange="{}-{}""#, offset, offset + length - 1)
        }
        _ => String::new(),
    };
    let _ = writeln!(
        s,
        r#"        <SegmentBase timescale="{}" presentationTimeOffset="{}"{index}>"#,
        r.timescale, r.presentation_time_offset
    );
    if let Resource::Range { offset, length, .. } = &r.init {
        let _ = writeln!(
            s,
            r#"          <Initialization range="{}-{}"/>"#,
            offset,
            offset + length - 1
        );
    }
    let _ = writeln!(s, "        </SegmentBase>");
}

/// A SegmentTimeline `S` element: `repeat + 1` segments of `duration`
/// ticks, the first starting at `start`.
struct Run {
    start: u64,
    duration: u64,
    repeat: u64,
}

/// Run-length encodes the segment durations, by *decode* time: the
/// timeline counts media ticks, so it uses the time between segment starts
/// (the last segment keeps its own duration).
fn runs(segments: &[Segment]) -> Vec<Run> {
    let mut out: Vec<Run> = Vec::new();
    for (i, seg) in segments.iter().enumerate() {
        let duration = segments.get(i + 1).map_or(seg.duration_ticks, |next| {
            next.start_ticks - seg.start_ticks
        });
        match out.last_mut() {
            Some(run) if run.duration == duration => run.repeat += 1,
            _ => out.push(Run {
                start: seg.start_ticks,
                duration,
                repeat: 0,
            }),
        }
    }
    out
}

/// Text for XML content and attribute values.
pub(crate) fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hls::tests::opus_rendition;

    fn presentation(ranges: bool) -> Presentation {
        Presentation {
            duration_ticks: 605_688,
            timescale: 48_000,
            renditions: vec![opus_rendition(64, ranges), opus_rendition(96, ranges)],
        }
    }

    #[test]
    fn segment_template_with_timeline() {
        let mpd = render_mpd(&presentation(false));
        assert!(mpd.contains(r#"profiles="urn:mpeg:dash:profile:isoff-live:2011" type="static" mediaPresentationDuration="PT12.6185S""#), "{mpd}");
        assert!(mpd.contains(r#"<AudioChannelConfiguration schemeIdUri="urn:mpeg:mpegB:cicp:ChannelConfiguration" value="2"/>"#));
        assert!(mpd.contains(
            r#"<Representation id="opus_96k" bandwidth="96000" audioSamplingRate="48000">"#
        ));
        assert!(mpd.contains(r#"presentationTimeOffset="312" initialization="opus_64k/init.mp4" media="opus_64k/$Number$.m4s" startNumber="1">"#));
        // Two 6 s segments by decode time, then the 0.625 s tail.
        assert!(
            mpd.contains("<S t=\"0\" d=\"288000\" r=\"1\"/>\n            <S d=\"30000\"/>\n"),
            "{mpd}"
        );
        assert_eq!(mpd.matches("<AdaptationSet").count(), 1);
    }

    #[test]
    fn single_file_uses_segment_base() {
        let mpd = render_mpd(&presentation(true));
        assert!(mpd.contains("isoff-on-demand:2011"));
        assert!(mpd.contains("<BaseURL>opus_64k.mp4</BaseURL>"));
        assert!(mpd.contains(
            r#"<SegmentBase timescale="48000" presentationTimeOffset="312" indexRange="700-767">"#
        ));
        assert!(mpd.contains(r#"<Initialization range="0-699"/>"#));
        assert!(!mpd.contains("SegmentTemplate"));
    }

    #[test]
    fn content_protection_elements() {
        let mut p = presentation(false);
        for r in &mut p.renditions {
            r.protection = Some(crate::hls::protection_tests::fairplay_and_widevine());
        }
        let mpd = render_mpd(&p);
        assert!(mpd.contains(r#"xmlns:cenc="urn:mpeg:cenc:2013""#));
        assert!(mpd.contains(r#"<ContentProtection schemeIdUri="urn:mpeg:dash:mp4protection:2011" value="cbcs" cenc:default_KID="11111111-1111-1111-1111-111111111111"/>"#), "{mpd}");
        assert!(mpd.contains("<ContentProtection schemeIdUri=\"urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed\">\n        <cenc:pssh>Zm9vYmFy</cenc:pssh>\n"), "{mpd}");
        // ContentProtection precedes AudioChannelConfiguration (schema order).
        assert!(mpd.find("ContentProtection") < mpd.find("AudioChannelConfiguration"));
    }

    #[test]
    fn codecs_get_their_own_adaptation_sets_and_text_is_escaped() {
        let mut p = presentation(false);
        let mut flac = opus_rendition(900, false);
        flac.codecs = "flac".into();
        flac.id = "a&b".into();
        p.renditions.push(flac);
        let mpd = render_mpd(&p);
        assert_eq!(mpd.matches("<AdaptationSet").count(), 2);
        assert!(mpd.contains(r#"id="a&amp;b""#));
    }
}
