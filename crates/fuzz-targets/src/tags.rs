//! `tags`: the metadata path (FLAC blocks and Vorbis comments, ID3v2/ID3v1
//! and APE tags, RIFF/AIFF tag chunks, Ogg comment headers).
//!
//! The ingest crate exposes tags only as [`SourceInfo::tags`]
//! (audiopack_ingest::SourceInfo), read when a source is opened, with the
//! metadata budget (`metadata_budget.rs`, crate-private) applied by the
//! pre-scan and the probe. So this target opens without decoding: the
//! budget, the bounded tag readers and symphonia's metadata parsers get all
//! the executions, while `decode` carries the same inputs through the audio.

use audiopack_ingest::IngestConfig;

use crate::decode::open;

/// Tags kept per source: the budget allows 10 000 entries, and only the
/// standard names are kept, one value each.
const MAX_TAGS_KEPT: usize = 64;

/// Opens `data` (leniently, so a header lie does not stop the tags being
/// read) and checks what the tags came to.
pub fn tags(data: &[u8]) {
    let lenient = IngestConfig {
        strict: false,
        ..IngestConfig::default()
    };
    let Ok(source) = open(data, &lenient) else {
        return;
    };
    let tags = &source.info().tags;
    assert!(tags.len() <= MAX_TAGS_KEPT, "{} tags kept", tags.len());
    for (key, value) in tags {
        assert!(!key.is_empty() && !value.is_empty(), "empty tag {key:?}");
        assert_eq!(value.trim(), value, "tag values are trimmed");
    }
    // Skipped tag data is listed, and the list itself is bounded.
    assert!(source.warnings().len() <= 64, "{:?}", source.warnings());
}
