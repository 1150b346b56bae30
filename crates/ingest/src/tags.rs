//! Source tags as Vorbis-comment style `KEY=value` pairs.

use std::collections::BTreeMap;

use symphonia::core::formats::FormatReader;
use symphonia::core::meta::{MetadataRevision, StandardTag};

/// Reads every metadata revision the reader found (ID3v2/ID3v1/APE picked
/// up by the probe, then the container's own) and keeps the descriptive
/// tags under their Vorbis comment names. Later revisions win.
pub(crate) fn read_tags(reader: &mut dyn FormatReader) -> BTreeMap<String, String> {
    let mut revisions: Vec<MetadataRevision> = Vec::new();
    let mut log = reader.metadata();
    while let Some(rev) = log.pop() {
        revisions.push(rev);
    }
    if let Some(rev) = log.current() {
        revisions.push(rev.clone());
    }
    let mut tags = BTreeMap::new();
    for tag in revisions.iter().flat_map(|r| r.media.tags.iter()) {
        if let Some((key, value)) = tag.std.as_ref().and_then(vorbis_comment) {
            let value = value.trim().to_string();
            if !value.is_empty() {
                tags.insert(key.to_string(), value);
            }
        }
    }
    tags
}

fn vorbis_comment(tag: &StandardTag) -> Option<(&'static str, String)> {
    use StandardTag as T;
    Some(match tag {
        T::TrackTitle(s) => ("TITLE", s.to_string()),
        T::Artist(s) => ("ARTIST", s.to_string()),
        T::Album(s) => ("ALBUM", s.to_string()),
        T::AlbumArtist(s) => ("ALBUMARTIST", s.to_string()),
        T::Genre(s) => ("GENRE", s.to_string()),
        T::Composer(s) => ("COMPOSER", s.to_string()),
        T::Conductor(s) => ("CONDUCTOR", s.to_string()),
        T::Performer(s) => ("PERFORMER", s.to_string()),
        T::Lyricist(s) => ("LYRICIST", s.to_string()),
        T::Label(s) => ("LABEL", s.to_string()),
        T::Copyright(s) => ("COPYRIGHT", s.to_string()),
        T::License(s) => ("LICENSE", s.to_string()),
        T::Comment(s) => ("COMMENT", s.to_string()),
        T::Description(s) => ("DESCRIPTION", s.to_string()),
        T::Language(s) => ("LANGUAGE", s.to_string()),
        T::IdentIsrc(s) => ("ISRC", s.to_string()),
        T::IdentBarcode(s) => ("BARCODE", s.to_string()),
        T::IdentCatalogNumber(s) => ("CATALOGNUMBER", s.to_string()),
        T::ReleaseDate(s) | T::RecordingDate(s) => ("DATE", s.to_string()),
        T::ReleaseYear(y) | T::RecordingYear(y) => ("DATE", y.to_string()),
        T::TrackNumber(n) => ("TRACKNUMBER", n.to_string()),
        T::TrackTotal(n) => ("TRACKTOTAL", n.to_string()),
        T::DiscNumber(n) => ("DISCNUMBER", n.to_string()),
        T::DiscTotal(n) => ("DISCTOTAL", n.to_string()),
        _ => return None,
    })
}
