//! [`Encryption`]: the builder option that makes a job write an encrypted
//! package (ISO/IEC 23001-7 `cbcs` or `cenc`) with DRM key references.
//!
//! Keys come from a [`Keys`] source: a JSON key file or a CPIX document
//! (read when the job is built, so a bad file fails before any work), a
//! SPEKE v2 key server (asked when the job runs, before anything is
//! written), or a [`KeySet`] the caller already holds. Keys never appear
//! in `Debug`, events, reports or errors.

use std::path::PathBuf;
use std::sync::Arc;

use audiopack_drm::{DrmSystem, KeySet, KeySource, Kid, PackageProtection, Scheme};
use sha2::{Digest, Sha256};

use crate::error::{ConfigError, Error, ErrorKind};

/// Where a job's keys come from.
#[derive(Debug, Clone)]
pub enum Keys {
    /// A JSON key file or a CPIX document (told apart by content).
    File(PathBuf),
    /// A SPEKE v2 endpoint (`http://` or `https://`).
    Speke(String),
    /// Keys the caller already holds.
    Given(KeySet),
}

impl Keys {
    /// `--keys` text: an `http(s)://` URL is a SPEKE server, anything else
    /// a file.
    pub fn parse(text: &str) -> Keys {
        if text.starts_with("https://") || text.starts_with("http://") {
            Keys::Speke(text.to_string())
        } else {
            Keys::File(PathBuf::from(text))
        }
    }
}

/// How to encrypt a package.
#[derive(Debug, Clone)]
pub struct Encryption {
    pub(crate) scheme: Scheme,
    pub(crate) keys: Keys,
    pub(crate) systems: Option<Vec<DrmSystem>>,
    pub(crate) fairplay_key_uri: Option<String>,
    pub(crate) clearkey_license_url: Option<String>,
    pub(crate) playready_license_url: Option<String>,
    pub(crate) content_id: Option<String>,
}

impl Encryption {
    /// `scheme` with keys from `keys`; systems default to Widevine,
    /// PlayReady and ClearKey (plus FairPlay with cbcs when a FairPlay key
    /// URI is given).
    pub fn new(scheme: Scheme, keys: Keys) -> Self {
        Encryption {
            scheme,
            keys,
            systems: None,
            fairplay_key_uri: None,
            clearkey_license_url: None,
            playready_license_url: None,
            content_id: None,
        }
    }

    /// The DRM systems to signal.
    pub fn systems(mut self, systems: Vec<DrmSystem>) -> Self {
        self.systems = Some(systems);
        self
    }

    /// FairPlay's `skd://` key URI.
    pub fn fairplay_key_uri(mut self, uri: impl Into<String>) -> Self {
        self.fairplay_key_uri = Some(uri.into());
        self
    }

    /// A ClearKey licence server (`dashif:Laurl` in the MPD).
    pub fn clearkey_license_url(mut self, url: impl Into<String>) -> Self {
        self.clearkey_license_url = Some(url.into());
        self
    }

    /// PlayReady's `LA_URL` in the generated PlayReady header.
    pub fn playready_license_url(mut self, url: impl Into<String>) -> Self {
        self.playready_license_url = Some(url.into());
        self
    }

    /// The content ID (Widevine PSSH, SPEKE request). Default: the input's
    /// file stem (or object key stem).
    pub fn content_id(mut self, id: impl Into<String>) -> Self {
        self.content_id = Some(id.into());
        self
    }

    fn system_list(&self) -> Vec<DrmSystem> {
        let mut systems = match &self.systems {
            Some(list) => list.clone(),
            None => {
                let mut list = vec![
                    DrmSystem::Widevine,
                    DrmSystem::PlayReady,
                    DrmSystem::ClearKey,
                ];
                if self.scheme == Scheme::Cbcs && self.fairplay_key_uri.is_some() {
                    list.push(DrmSystem::FairPlay);
                }
                list
            }
        };
        systems.sort();
        systems.dedup();
        systems
    }
}

/// An [`Encryption`] checked at build time, its keys read when they come
/// from a file.
#[derive(Debug, Clone)]
pub(crate) struct PreparedEncryption {
    pub spec: Encryption,
    pub systems: Vec<DrmSystem>,
    pub content_id: String,
    /// Resolved keys (file, CPIX, given); `None` until a SPEKE server
    /// answers.
    pub resolved: Option<Arc<PackageProtection>>,
    pub fingerprint: String,
}

fn keys_error(e: audiopack_drm::DrmError) -> Error {
    match e {
        audiopack_drm::DrmError::Config(message) => {
            ConfigError::new("encryption", "", message).into()
        }
        other => Error::new(ErrorKind::Keys, other),
    }
}

/// A key ID for a SPEKE request, derived from the content ID and the
/// track type so a rerun asks for the same keys (UUID version 4 layout).
fn derived_kid(content_id: &str, track: &str) -> Kid {
    let h = Sha256::new()
        .chain_update(b"audiopack kid\0")
        .chain_update(content_id.as_bytes())
        .chain_update([0])
        .chain_update(track.as_bytes())
        .finalize();
    let mut kid = [0u8; 16];
    kid.copy_from_slice(&h[..16]);
    kid[6] = (kid[6] & 0x0f) | 0x40;
    kid[8] = (kid[8] & 0x3f) | 0x80;
    Kid(kid)
}

impl PreparedEncryption {
    /// Checks the options and reads file keys. `default_content_id` is the
    /// input's stem.
    pub fn prepare(spec: Encryption, default_content_id: &str) -> Result<Self, Error> {
        let systems = spec.system_list();
        let content_id = spec
            .content_id
            .clone()
            .unwrap_or_else(|| default_content_id.to_string());
        if content_id.is_empty()
            || content_id.len() > 256
            || content_id.chars().any(char::is_control)
        {
            return Err(ConfigError::new(
                "content_id",
                &content_id,
                "1 to 256 bytes without control characters",
            )
            .into());
        }
        let keys = match &spec.keys {
            Keys::File(path) => Some(read_key_file(path)?),
            Keys::Given(set) => Some(set.clone()),
            Keys::Speke(url) => {
                let authority = url.split_once("://").map_or("", |(_, rest)| {
                    rest.split(['/', '?', '#']).next().unwrap_or("")
                });
                if authority.contains('@') {
                    return Err(ConfigError::new(
                        "keys",
                        audiopack_drm::speke::redact_url(url),
                        "a key server URL without user:password (they would travel in queue \
                         messages and process lists): configure AWS credentials for SigV4",
                    )
                    .into());
                }
                if url.len() > 2048 || url.chars().any(|c| c.is_control() || c == ' ') {
                    return Err(ConfigError::new(
                        "keys",
                        audiopack_drm::speke::redact_url(url),
                        "an http(s) URL",
                    )
                    .into());
                }
                None
            }
        };
        let protection = |keys: KeySet| PackageProtection {
            scheme: spec.scheme,
            keys,
            systems: systems.clone(),
            content_id: Some(content_id.clone()),
            fairplay_key_uri: spec.fairplay_key_uri.clone(),
            clearkey_license_url: spec.clearkey_license_url.clone(),
            playready_license_url: spec.playready_license_url.clone(),
        };
        let resolved = keys.map(|k| Arc::new(protection(k)));
        if let Some(p) = &resolved {
            p.validate().map_err(keys_error)?;
        } else {
            // The same checks without keys: a placeholder set.
            let placeholder = audiopack_drm::ContentKey::new(Kid([0; 16]), [0; 16], None);
            protection(KeySet {
                lossy: placeholder.clone(),
                lossless: placeholder,
                system_data: Vec::new(),
                source: KeySource::Speke(String::new()),
            })
            .validate()
            .map_err(keys_error)?;
        }
        let (source, kids) = match (&spec.keys, &resolved) {
            (Keys::Speke(url), _) => (
                format!("speke {}", audiopack_drm::speke::redact_url(url)),
                format!(
                    "{} {}",
                    derived_kid(&content_id, "lossy").hex(),
                    derived_kid(&content_id, "lossless").hex()
                ),
            ),
            (_, Some(p)) => (
                format!("{} {}", p.keys.source.kind(), p.keys.source.location()),
                format!("{} {}", p.keys.lossy.kid.hex(), p.keys.lossless.kid.hex()),
            ),
            (_, None) => (String::new(), String::new()),
        };
        let fingerprint = serde_json::json!({
            "scheme": spec.scheme.fourcc(),
            "systems": systems.iter().map(|s| s.name()).collect::<Vec<_>>(),
            "content_id": content_id,
            "fairplay_key_uri": spec.fairplay_key_uri,
            "clearkey_license_url": spec.clearkey_license_url,
            "playready_license_url": spec.playready_license_url,
            "key_source": source,
            "kids": kids,
        })
        .to_string();
        Ok(PreparedEncryption {
            spec,
            systems,
            content_id,
            resolved,
            fingerprint,
        })
    }

    /// The protection with keys, asking the SPEKE server when that is
    /// where they come from.
    pub async fn resolve(&self) -> Result<Arc<PackageProtection>, Error> {
        if let Some(p) = &self.resolved {
            return Ok(Arc::clone(p));
        }
        let Keys::Speke(url) = &self.spec.keys else {
            return Err(Error::internal("encryption keys were not resolved"));
        };
        let request = audiopack_drm::cpix::KeyRequest {
            content_id: self.content_id.clone(),
            scheme: self.spec.scheme,
            systems: self.systems.clone(),
            lossy_kid: derived_kid(&self.content_id, "lossy"),
            lossless_kid: Some(derived_kid(&self.content_id, "lossless")),
        };
        let keys = audiopack_drm::speke::fetch_keys(url, &request)
            .await
            .map_err(keys_error)?;
        let p = PackageProtection {
            scheme: self.spec.scheme,
            keys,
            systems: self.systems.clone(),
            content_id: Some(self.content_id.clone()),
            fairplay_key_uri: self.spec.fairplay_key_uri.clone(),
            clearkey_license_url: self.spec.clearkey_license_url.clone(),
            playready_license_url: self.spec.playready_license_url.clone(),
        };
        p.validate().map_err(keys_error)?;
        Ok(Arc::new(p))
    }
}

/// Reads a key file or a CPIX document (told apart by content).
fn read_key_file(path: &std::path::Path) -> Result<KeySet, Error> {
    const MAX_BYTES: u64 = 1 << 20;
    let unavailable = |message: String| {
        keys_error(audiopack_drm::DrmError::Unavailable {
            source_name: path.display().to_string(),
            message,
        })
    };
    let meta = std::fs::metadata(path).map_err(|e| unavailable(e.to_string()))?;
    if !meta.is_file() {
        return Err(unavailable("not a regular file".into()));
    }
    if meta.len() > MAX_BYTES {
        return Err(unavailable(format!(
            "{} bytes is too large for a key file or CPIX document",
            meta.len()
        )));
    }
    let bytes =
        zeroize::Zeroizing::new(std::fs::read(path).map_err(|e| unavailable(e.to_string()))?);
    if audiopack_drm::cpix::is_cpix(&bytes) {
        audiopack_drm::cpix::parse_document(&bytes, KeySource::Cpix(path.to_path_buf()))
    } else {
        audiopack_drm::keyfile::parse(&bytes, KeySource::File(path.to_path_buf()))
    }
    .map_err(keys_error)
}
