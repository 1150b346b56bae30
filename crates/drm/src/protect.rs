//! A package's protection: the scheme, the keys, the DRM systems asked
//! for and their options; from it come the per-track encryptors and the
//! `pssh` boxes. Manifest signalling is derived by the pipeline.

use crate::cipher::SampleEncryptor;
use crate::{DrmError, DrmSystem, KeySet, Kid, Scheme, TrackType, pssh};

/// Rendition index used for the lossless tier's IVs: far from the Opus
/// rungs' 0, 1, 2 … so the two never share an IV when they share a key.
pub const LOSSLESS_RENDITION_INDEX: u16 = 0x8000;

/// Everything about how a package is protected (keys included: `Debug`
/// hides them).
#[derive(Debug, Clone)]
pub struct PackageProtection {
    pub scheme: Scheme,
    pub keys: KeySet,
    /// The systems signalled, in a fixed order (deduplicated).
    pub systems: Vec<DrmSystem>,
    /// Widevine `content_id` (and the SPEKE content ID).
    pub content_id: Option<String>,
    /// FairPlay's `skd://` key URI (HLS `EXT-X-KEY` URI).
    pub fairplay_key_uri: Option<String>,
    /// ClearKey licence server (`dashif:Laurl`).
    pub clearkey_license_url: Option<String>,
    /// PlayReady `LA_URL` in the generated header.
    pub playready_license_url: Option<String>,
}

impl PackageProtection {
    /// Checks the combination: FairPlay needs cbcs and an `skd://` URI,
    /// URLs must be absolute.
    pub fn validate(&self) -> Result<(), DrmError> {
        if self.systems.is_empty() {
            return Err(DrmError::Config("no DRM system selected".into()));
        }
        if self.systems.contains(&DrmSystem::FairPlay) {
            if self.scheme != Scheme::Cbcs {
                return Err(DrmError::Config(
                    "FairPlay needs --encrypt cbcs (it does not play cenc)".into(),
                ));
            }
            match &self.fairplay_key_uri {
                Some(uri) if uri.starts_with("skd://") && uri.len() > 6 => {}
                Some(_) => {
                    return Err(DrmError::Config(
                        "--fairplay-key-uri must be an skd:// URI".into(),
                    ));
                }
                None => {
                    return Err(DrmError::Config(
                        "FairPlay needs --fairplay-key-uri skd://…".into(),
                    ));
                }
            }
        }
        for (flag, url) in [
            ("--clearkey-license-url", &self.clearkey_license_url),
            ("--playready-license-url", &self.playready_license_url),
        ] {
            if let Some(url) = url
                && !(url.starts_with("https://") || url.starts_with("http://"))
            {
                return Err(DrmError::Config(format!("{flag} must be an http(s) URL")));
            }
        }
        if let Some(uri) = &self.fairplay_key_uri
            && uri.chars().any(|c| c == '"' || c.is_control())
        {
            return Err(DrmError::Config(
                "--fairplay-key-uri must not contain quotes or control characters".into(),
            ));
        }
        Ok(())
    }

    pub fn kid(&self, track: TrackType) -> Kid {
        self.keys.key(track).kid
    }

    /// The encryptor of one rendition (`index` unique within the package).
    pub fn encryptor(&self, track: TrackType, index: u16, name: &str) -> SampleEncryptor {
        let index = match track {
            TrackType::Lossy => index,
            TrackType::Lossless => LOSSLESS_RENDITION_INDEX.wrapping_add(index),
        };
        SampleEncryptor::new(self.scheme, self.keys.key(track), index, name)
    }

    /// The PSSH box of `system` for `track`: the key service's when it
    /// gave one, else generated; `None` for systems without one (FairPlay
    /// is signalled in HLS only).
    pub fn pssh(&self, system: DrmSystem, track: TrackType) -> Option<Vec<u8>> {
        let kid = self.kid(track);
        if let Some(given) = self.keys.provided(system, kid).and_then(|d| d.pssh.clone()) {
            return Some(given);
        }
        match system {
            DrmSystem::Widevine => Some(pssh::widevine(
                &[kid],
                self.content_id.as_deref().map(str::as_bytes),
                self.scheme,
            )),
            DrmSystem::PlayReady => Some(pssh::playready(
                &kid,
                self.scheme,
                self.playready_license_url.as_deref(),
            )),
            DrmSystem::ClearKey => Some(pssh::common(&[kid])),
            DrmSystem::FairPlay => None,
        }
    }

    /// Every `pssh` box for the init segments of `track`.
    pub fn pssh_boxes(&self, track: TrackType) -> Vec<Vec<u8>> {
        self.systems
            .iter()
            .filter_map(|&s| self.pssh(s, track))
            .collect()
    }
}
