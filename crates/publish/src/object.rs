//! What each file of a package is: its publish phase, Content-Type and
//! Cache-Control.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::Path;

use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

/// Publish phases, in order. Nothing of a later phase is written before
/// every object of the earlier ones is in place, so a published manifest
/// never references a missing object.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
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
    pub content_type: String,
    pub cache_control: String,
}

/// The Content-Type of a file whose extension the policy does not name.
const FALLBACK_CONTENT_TYPE: &str = "application/octet-stream";

/// The tag only a master playlist holds.
const STREAM_INF: &[u8] = b"#EXT-X-STREAM-INF";

/// How many bytes of a file the publisher reads to classify it (a master
/// playlist names its variants from the start).
const CLASSIFY_HEAD_BYTES: usize = 1 << 20;

/// The headers objects are written with: Cache-Control per class (media
/// never change under their name; playlists, manifests and the report
/// must show a republish soon) and Content-Type per file extension.
///
/// The classes themselves (the publish order) are not configurable: they
/// are what keeps a manifest from referencing a missing object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectPolicy {
    /// Cache-Control of media objects ([`ObjectClass::Media`]).
    pub immutable_cache_control: String,
    /// Cache-Control of playlists, manifests and `report.json`.
    pub short_cache_control: String,
    /// Content-Type by file extension (without the dot, case-sensitive);
    /// an extension not listed gets `application/octet-stream`.
    pub content_types: BTreeMap<String, String>,
}

impl Default for ObjectPolicy {
    /// [`CACHE_IMMUTABLE`], [`CACHE_SHORT`], and the types of what a
    /// package holds: `m3u8` (HLS), `mpd` (DASH), `json`, `mp4`/`m4s`
    /// (`audio/mp4`), `opus`/`ogg` (`audio/ogg`).
    fn default() -> Self {
        let content_types = [
            ("m3u8", "application/vnd.apple.mpegurl"),
            ("mpd", "application/dash+xml"),
            ("json", "application/json"),
            ("html", "text/html; charset=utf-8"),
            ("mp4", "audio/mp4"),
            ("m4s", "audio/mp4"),
            ("opus", "audio/ogg"),
            ("ogg", "audio/ogg"),
        ]
        .into_iter()
        .map(|(ext, content_type)| (ext.to_string(), content_type.to_string()))
        .collect();
        ObjectPolicy {
            immutable_cache_control: CACHE_IMMUTABLE.to_string(),
            short_cache_control: CACHE_SHORT.to_string(),
            content_types,
        }
    }
}

impl ObjectPolicy {
    /// Classifies a package file from its relative path and the start of
    /// its bytes (`head`; only `.m3u8` files are looked into: a playlist
    /// with `#EXT-X-STREAM-INF` there is a master). The publisher passes
    /// the first MiB.
    pub fn classify(&self, relative: &str, head: &[u8]) -> (ObjectClass, ObjectMeta) {
        let ext = relative.rsplit_once('.').map_or("", |(_, e)| e);
        let class = match ext {
            "m3u8" if head.windows(STREAM_INF.len()).any(|w| w == STREAM_INF) => {
                ObjectClass::Manifest
            }
            "m3u8" => ObjectClass::MediaPlaylist,
            "mpd" => ObjectClass::Manifest,
            "json" if relative == "report.json" => ObjectClass::Report,
            "json" => ObjectClass::Manifest,
            // report.html (the QC page) changes with every encode: short
            // cache, published with the manifests.
            "html" => ObjectClass::Manifest,
            _ => ObjectClass::Media,
        };
        let cache_control = match class {
            ObjectClass::Media => &self.immutable_cache_control,
            _ => &self.short_cache_control,
        };
        let content_type = self
            .content_types
            .get(ext)
            .map_or(FALLBACK_CONTENT_TYPE, String::as_str);
        (
            class,
            ObjectMeta {
                content_type: content_type.to_string(),
                cache_control: cache_control.clone(),
            },
        )
    }
}

impl ObjectPolicy {
    /// How many of a file's first bytes [`classify`](Self::classify) looks
    /// at (0: the path says it all).
    pub(crate) fn head_bytes(relative: &str) -> usize {
        if relative.ends_with(".m3u8") {
            CLASSIFY_HEAD_BYTES
        } else {
            0
        }
    }
}

/// Classifies a package file with the default [`ObjectPolicy`] (see
/// [`ObjectPolicy::classify`]).
pub fn classify(relative: &str, head: &[u8]) -> (ObjectClass, ObjectMeta) {
    ObjectPolicy::default().classify(relative, head)
}

/// Hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(digest: &[u8]) -> String {
    let mut text = String::with_capacity(64);
    for b in digest {
        text.push_str(&format!("{b:02x}"));
    }
    text
}

/// The size of each read when hashing a file.
const HASH_BUFFER_BYTES: usize = 1 << 20;

/// What hashing a file found.
pub(crate) struct FileDigest {
    /// Hex SHA-256.
    pub sha256: String,
    /// Bytes read (the file's size at the time).
    pub len: u64,
    /// Its first bytes (as many as asked for, or all of a shorter file).
    pub head: Vec<u8>,
}

/// Hashes a file in 1 MiB reads, keeping its first `head_bytes` (at most
/// one read's worth). Blocking: run it on a blocking thread. `Ok(None)`
/// when `cancel` fired before the end.
pub(crate) fn sha256_file(
    path: &Path,
    head_bytes: usize,
    cancel: Option<&CancellationToken>,
) -> io::Result<Option<FileDigest>> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; HASH_BUFFER_BYTES];
    let mut head = Vec::new();
    let mut len = 0u64;
    loop {
        if cancel.is_some_and(CancellationToken::is_cancelled) {
            return Ok(None);
        }
        let n = read_full(&mut file, &mut buffer)?;
        if len == 0 {
            head.extend_from_slice(&buffer[..n.min(head_bytes)]);
        }
        hasher.update(&buffer[..n]);
        len += n as u64;
        if n < buffer.len() {
            break;
        }
    }
    Ok(Some(FileDigest {
        sha256: hex(&hasher.finalize()),
        len,
        head,
    }))
}

/// Reads until `buffer` is full or the file ends; the bytes read.
fn read_full(file: &mut impl Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match file.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
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
    fn a_policy_overrides_headers_not_classes() {
        let mut policy = ObjectPolicy {
            immutable_cache_control: "max-age=10".into(),
            short_cache_control: "no-cache".into(),
            ..ObjectPolicy::default()
        };
        policy
            .content_types
            .insert("m4s".into(), "video/iso.segment".into());
        let (class, meta) = policy.classify("opus_64k/1.m4s", b"");
        assert_eq!(class, ObjectClass::Media);
        assert_eq!(meta.content_type, "video/iso.segment");
        assert_eq!(meta.cache_control, "max-age=10");
        let (class, meta) = policy.classify("manifest.mpd", b"");
        assert_eq!(class, ObjectClass::Manifest);
        assert_eq!(meta.content_type, "application/dash+xml");
        assert_eq!(meta.cache_control, "no-cache");
        let (class, meta) = policy.classify("notes.txt", b"");
        assert_eq!(class, ObjectClass::Media);
        assert_eq!(meta.content_type, "application/octet-stream");
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

    #[test]
    fn files_hash_in_reads_like_bytes_in_memory() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("f");
        // Three reads: two full buffers and a short one.
        let bytes: Vec<u8> = (0..2 * HASH_BUFFER_BYTES + 12345)
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        std::fs::write(&path, &bytes)?;
        let digest = sha256_file(&path, 10, None)?.ok_or(io::ErrorKind::Interrupted)?;
        assert_eq!(digest.sha256, sha256_hex(&bytes));
        assert_eq!(digest.len, bytes.len() as u64);
        assert_eq!(digest.head, bytes[..10]);
        let cancel = CancellationToken::new();
        cancel.cancel();
        assert!(sha256_file(&path, 0, Some(&cancel))?.is_none());
        std::fs::write(&path, b"")?;
        let empty = sha256_file(&path, 10, None)?.ok_or(io::ErrorKind::Interrupted)?;
        assert_eq!((empty.len, empty.sha256), (0, sha256_hex(b"")));
        Ok(())
    }
}
