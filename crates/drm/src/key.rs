//! Keys and key IDs. A [`ContentKey`]'s bytes are zeroed on drop and never
//! printed; a [`Kid`] is public.

use std::fmt;

use zeroize::Zeroizing;

use crate::system::{DrmSystem, uuid_text};

/// A 16-byte key ID (public: it is written in every init segment).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Kid(pub [u8; 16]);

impl Kid {
    /// The UUID form (`cenc:default_KID`, CPIX `kid`).
    pub fn uuid(&self) -> String {
        uuid_text(&self.0)
    }

    /// 32 lowercase hex digits.
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for Kid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Kid({})", self.uuid())
    }
}

impl fmt::Display for Kid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.uuid())
    }
}

/// Which part of the package a key protects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrackType {
    /// The Opus ladder.
    Lossy,
    /// The FLAC tier (a premium entitlement: may have its own key).
    Lossless,
}

impl TrackType {
    pub fn name(self) -> &'static str {
        match self {
            TrackType::Lossy => "lossy",
            TrackType::Lossless => "lossless",
        }
    }
}

/// An AES-128 content key with its key ID. The key bytes live in a
/// zeroize-on-drop box; `Debug` shows the key ID and `***`.
#[derive(Clone)]
pub struct ContentKey {
    pub kid: Kid,
    key: Zeroizing<[u8; 16]>,
    /// The cbcs constant IV when the key source gives one.
    pub iv: Option<[u8; 16]>,
}

impl ContentKey {
    pub fn new(kid: Kid, key: [u8; 16], iv: Option<[u8; 16]>) -> Self {
        let mut key = key;
        let boxed = Zeroizing::new(key);
        zeroize::Zeroize::zeroize(&mut key);
        ContentKey {
            kid,
            key: boxed,
            iv,
        }
    }

    /// The key bytes, for the cipher only.
    pub fn secret(&self) -> &[u8; 16] {
        &self.key
    }
}

impl fmt::Debug for ContentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContentKey")
            .field("kid", &self.kid)
            .field("key", &"***")
            .field("iv", &self.iv.map(|_| "<set>"))
            .finish()
    }
}

/// DRM-system data handed over by a key service (CPIX `DRMSystem`), used
/// verbatim instead of what audiopack would generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemData {
    pub system: DrmSystem,
    /// The key this data is for.
    pub kid: Kid,
    /// The whole `pssh` box (CPIX `PSSH`, base64-decoded).
    pub pssh: Option<Vec<u8>>,
    /// `HLSSignalingData playlist="media"`, decoded: the `#EXT-X-KEY` line.
    pub hls_media: Option<String>,
    /// `HLSSignalingData playlist="master"`, decoded: the
    /// `#EXT-X-SESSION-KEY` line.
    pub hls_master: Option<String>,
}

/// Where a job's keys come from (what `--keys` named). Printable: a SPEKE
/// URL is kept without user info or query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// A JSON key file.
    File(std::path::PathBuf),
    /// A CPIX document on disk.
    Cpix(std::path::PathBuf),
    /// A SPEKE v2 endpoint (credentials stripped).
    Speke(String),
}

impl KeySource {
    pub fn kind(&self) -> &'static str {
        match self {
            KeySource::File(_) => "file",
            KeySource::Cpix(_) => "cpix",
            KeySource::Speke(_) => "speke",
        }
    }

    /// The path or URL, for reports and messages.
    pub fn location(&self) -> String {
        match self {
            KeySource::File(p) | KeySource::Cpix(p) => p.display().to_string(),
            KeySource::Speke(url) => url.clone(),
        }
    }
}

/// The keys of one package.
#[derive(Debug, Clone)]
pub struct KeySet {
    pub lossy: ContentKey,
    /// The FLAC tier's key (the lossy key again when only one was given).
    pub lossless: ContentKey,
    /// Per-system data given by the key service, for either key.
    pub system_data: Vec<SystemData>,
    pub source: KeySource,
}

impl KeySet {
    pub fn key(&self, track: TrackType) -> &ContentKey {
        match track {
            TrackType::Lossy => &self.lossy,
            TrackType::Lossless => &self.lossless,
        }
    }

    /// The data a key service gave for `system` and `kid`, if any.
    pub fn provided(&self, system: DrmSystem, kid: Kid) -> Option<&SystemData> {
        self.system_data
            .iter()
            .find(|d| d.system == system && d.kid == kid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_key() {
        let key = ContentKey::new(Kid([0x11; 16]), [0xab; 16], Some([0xcd; 16]));
        let text = format!("{key:?} {:#?}", key);
        assert!(!text.to_lowercase().contains("abab"), "{text}");
        assert!(!text.to_lowercase().contains("cdcd"), "{text}");
        assert!(text.contains("***"), "{text}");
        assert!(
            text.contains("11111111-1111-1111-1111-111111111111"),
            "{text}"
        );
    }
}
