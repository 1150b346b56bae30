//! What each file of a package is: its publish phase, Content-Type and
//! Cache-Control.

use sha2::{Digest, Sha256};

/// Publish phases, in order. Nothing of a later phase is written before
/// every object of the earlier ones is in place, so a published manifest
/// never references a missing object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObjectClass {
    /// Segments, init segments, single files, Ogg downloads.
    Media,
    /// HLS media playlists (they reference media objects).
    MediaPlaylist,
    /// Entry points: HLS master playlists and the MPD.
    Manifest,
    /// `report.json`, last.
    Report,
}

/// Cache-Control of objects whose bytes never change under their name.
pub const CACHE_IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Cache-Control of manifests and the report: a republish must show soon.
pub const CACHE_SHORT: &str = "public, max-age=60";

/// The user-metadata key holding the hex SHA-256 of the object's bytes
/// (`x-amz-meta-sha256`): how a rerun knows an object is already there.
pub const SHA256_METADATA: &str = "sha256";

/// Headers an object is written with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub content_type: &'static str,
    pub cache_control: &'static str,
}

/// Classifies a package file from its relative path and (for `.m3u8`)
/// its text: a playlist with `#EXT-X-STREAM-INF` is a master.
pub fn classify(relative: &str, bytes: &[u8]) -> (ObjectClass, ObjectMeta) {
    let ext = relative.rsplit_once('.').map_or("", |(_, e)| e);
    let media = |content_type| {
        (
            ObjectClass::Media,
            ObjectMeta {
                content_type,
                cache_control: CACHE_IMMUTABLE,
            },
        )
    };
    let short = |class, content_type| {
        (
            class,
            ObjectMeta {
                content_type,
                cache_control: CACHE_SHORT,
            },
        )
    };
    match ext {
        "m3u8" => {
            let master = bytes
                .windows(b"#EXT-X-STREAM-INF".len())
                .any(|w| w == b"#EXT-X-STREAM-INF");
            let class = if master {
                ObjectClass::Manifest
            } else {
                ObjectClass::MediaPlaylist
            };
            short(class, "application/vnd.apple.mpegurl")
        }
        "mpd" => short(ObjectClass::Manifest, "application/dash+xml"),
        "json" if relative == "report.json" => short(ObjectClass::Report, "application/json"),
        "json" => short(ObjectClass::Manifest, "application/json"),
        "mp4" | "m4s" => media("audio/mp4"),
        "opus" | "ogg" => media("audio/ogg"),
        _ => media("application/octet-stream"),
    }
}

/// Hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut text = String::with_capacity(64);
    for b in digest {
        text.push_str(&format!("{b:02x}"));
    }
    text
}

/// Base64 SHA-256 (the `x-amz-checksum-sha256` header form) from the hex.
pub(crate) fn sha256_base64(hex: &str) -> Option<String> {
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect();
    bytes.map(|b| audiopack_manifest::base64(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_follow_the_publish_order() {
        let master = b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nopus_64k.m3u8\n";
        let media = b"#EXTM3U\n#EXTINF:6.0,\n1.m4s\n";
        assert_eq!(classify("master.m3u8", master).0, ObjectClass::Manifest);
        assert_eq!(
            classify("opus_64k.m3u8", media).0,
            ObjectClass::MediaPlaylist
        );
        assert_eq!(classify("manifest.mpd", b"").0, ObjectClass::Manifest);
        assert_eq!(classify("report.json", b"").0, ObjectClass::Report);
        let (class, meta) = classify("opus_64k/1.m4s", b"");
        assert_eq!(class, ObjectClass::Media);
        assert_eq!(meta.content_type, "audio/mp4");
        assert_eq!(meta.cache_control, CACHE_IMMUTABLE);
        assert_eq!(classify("opus_64k.opus", b"").1.content_type, "audio/ogg");
        assert_eq!(
            classify("master.m3u8", master).1.content_type,
            "application/vnd.apple.mpegurl"
        );
        assert!(ObjectClass::Media < ObjectClass::MediaPlaylist);
        assert!(ObjectClass::MediaPlaylist < ObjectClass::Manifest);
        assert!(ObjectClass::Manifest < ObjectClass::Report);
    }

    #[test]
    fn sha256_forms_match_known_vectors() {
        // FIPS 180-2 "abc".
        let hex = sha256_hex(b"abc");
        assert_eq!(
            hex,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            sha256_base64(&hex).as_deref(),
            Some("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=")
        );
        assert_eq!(sha256_base64("zz"), None);
    }
}
