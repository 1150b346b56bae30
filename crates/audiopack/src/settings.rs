//! [`JobSettings`]: what shapes a job's package, as plain data that can be
//! stored or sent (a queue message, a saved preset) and turned back into a
//! [`JobBuilder`] anywhere.
//!
//! It holds the package-shaping options only: loudness, ladder, formats,
//! layout, limits. Where the job reads and writes (input, output, storage
//! endpoint, credentials), its CPU budget and its event handler belong to
//! the machine that runs it, so they are not part of it.

use std::time::Duration;

use audiopack_encode::NormalizePreset;
use audiopack_ingest::Limits;
use audiopack_pipeline::{Formats, Layout};
use serde::{Deserialize, Serialize};

use crate::builder::JobBuilder;
use crate::error::ConfigError;
use crate::job::Job;

/// A job's package-shaping settings, serializable (JSON field names are
/// stable; unknown fields are refused so a newer sender is not silently
/// misread). [`Default`] is the CLI's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSettings {
    /// `streaming` (−14 LUFS), `quiet` (−16) or `broadcast` (−23).
    pub preset: String,
    /// Integrated loudness target in LUFS, over the preset's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_lufs: Option<f64>,
    /// True-peak ceiling in dBTP, over the preset's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub true_peak_dbtp: Option<f64>,
    /// Hold peaks with the look-ahead limiter instead of lowering the gain.
    #[serde(default)]
    pub limiter: bool,
    /// Deliverables, comma-separated: `hls`, `dash`, `ogg`.
    pub formats: String,
    /// Numbered segments or one file per rendition.
    pub layout: Layout,
    /// Segment length in seconds.
    pub segment_duration_seconds: f64,
    /// Write the lossless FLAC tier.
    pub lossless: bool,
    /// Opus bitrates in kbit/s, comma-separated (None: the default ladder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ladder: Option<String>,
    /// Most channels accepted.
    pub max_channels: u16,
    /// Longest input accepted, in seconds.
    pub max_duration_seconds: f64,
    /// Accept damaged input (skip undecodable packets) instead of failing.
    #[serde(default)]
    pub lenient: bool,
    /// Common Encryption: how, and where the keys come from (a path or a
    /// key server URL, never a key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypt: Option<EncryptSettings>,
    /// Kept for compatibility with earlier messages; has no effect (every
    /// rendition is decoded and measured).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub measure_decoded: bool,
    /// Leave `report.html` out (`--no-qc-page`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_qc_page: bool,
}

/// The encryption options of [`JobSettings`] (the CLI's `--encrypt`
/// family).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EncryptSettings {
    /// `cbcs` or `cenc`.
    pub scheme: String,
    /// A key file or CPIX path, or a SPEKE v2 URL.
    pub keys: String,
    /// Comma-separated DRM systems; `None`: the default set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drm_systems: Option<String>,
    /// FairPlay's `skd://` key URI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fairplay_key_uri: Option<String>,
    /// ClearKey licence server URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clearkey_license_url: Option<String>,
    /// PlayReady `LA_URL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub playready_license_url: Option<String>,
    /// Content ID (default: the input's stem).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_id: Option<String>,
}

impl EncryptSettings {
    /// The builder option these settings describe.
    pub fn encryption(&self) -> Result<crate::Encryption, ConfigError> {
        let scheme = audiopack_drm::Scheme::parse(&self.scheme)
            .map_err(|e| ConfigError::new("encrypt", &self.scheme, e.to_string()))?;
        let mut e = crate::Encryption::new(scheme, crate::Keys::parse(&self.keys));
        if let Some(list) = &self.drm_systems {
            let systems = list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(audiopack_drm::DrmSystem::parse)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|err| ConfigError::new("drm_systems", list, err.to_string()))?;
            if systems.is_empty() {
                return Err(ConfigError::new("drm_systems", list, "at least one system"));
            }
            e = e.systems(systems);
        }
        if let Some(uri) = &self.fairplay_key_uri {
            e = e.fairplay_key_uri(uri.clone());
        }
        if let Some(url) = &self.clearkey_license_url {
            e = e.clearkey_license_url(url.clone());
        }
        if let Some(url) = &self.playready_license_url {
            e = e.playready_license_url(url.clone());
        }
        if let Some(id) = &self.content_id {
            e = e.content_id(id.clone());
        }
        Ok(e)
    }
}

impl Default for JobSettings {
    fn default() -> Self {
        let limits = Limits::default();
        JobSettings {
            preset: "streaming".into(),
            target_lufs: None,
            true_peak_dbtp: None,
            limiter: false,
            formats: "hls,dash".into(),
            layout: Layout::Segments,
            segment_duration_seconds: 6.0,
            lossless: true,
            ladder: None,
            max_channels: limits.max_channels,
            max_duration_seconds: limits.max_duration_seconds,
            lenient: false,
            encrypt: None,
            measure_decoded: false,
            no_qc_page: false,
        }
    }
}

/// `streaming`, `quiet` or `broadcast`.
pub fn parse_preset(text: &str) -> Result<NormalizePreset, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "streaming" => Ok(NormalizePreset::Streaming),
        "quiet" => Ok(NormalizePreset::Quiet),
        "broadcast" => Ok(NormalizePreset::Broadcast),
        _ => Err(format!(
            "unknown preset {text:?} (streaming, quiet or broadcast)"
        )),
    }
}

/// The name [`parse_preset`] reads back.
pub fn preset_name(preset: NormalizePreset) -> &'static str {
    match preset {
        NormalizePreset::Streaming => "streaming",
        NormalizePreset::Quiet => "quiet",
        NormalizePreset::Broadcast => "broadcast",
    }
}

impl JobSettings {
    /// A builder with these settings (no input, output, storage or CPU
    /// budget yet). Values are checked here as far as they parse;
    /// [`JobBuilder::build`] checks the rest.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the field: an unknown preset, a bad format
    /// list, a segment duration that is not a duration.
    pub fn builder(&self) -> Result<JobBuilder, ConfigError> {
        let preset =
            parse_preset(&self.preset).map_err(|m| ConfigError::new("preset", &self.preset, m))?;
        let formats = Formats::parse(&self.formats)
            .map_err(|e| ConfigError::new("formats", &self.formats, e.to_string()))?;
        let segment = Duration::try_from_secs_f64(self.segment_duration_seconds).map_err(|_| {
            ConfigError::new(
                "segment_duration",
                self.segment_duration_seconds,
                "1 to 20 s, a multiple of 0.02 s",
            )
        })?;
        let mut job = Job::builder()
            .preset(preset)
            .limiter(self.limiter)
            .formats(formats)
            .layout(self.layout)
            .segment_duration(segment)
            .lossless(self.lossless)
            .limits(Limits {
                max_channels: self.max_channels,
                max_duration_seconds: self.max_duration_seconds,
                ..Limits::default()
            })
            .lenient(self.lenient);
        if let Some(t) = self.target_lufs {
            job = job.target_lufs(t);
        }
        if let Some(c) = self.true_peak_dbtp {
            job = job.true_peak_ceiling(c);
        }
        if let Some(ladder) = &self.ladder {
            job = job.ladder(ladder.clone());
        }
        job = job.qc_page(!self.no_qc_page);
        if let Some(encrypt) = &self.encrypt {
            job = job.encryption(encrypt.encryption()?);
        }
        Ok(job)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_through_json_and_refuse_unknown_fields() {
        let settings = JobSettings {
            preset: "broadcast".into(),
            target_lufs: Some(-20.0),
            ladder: Some("48,96".into()),
            layout: Layout::SingleFile,
            ..JobSettings::default()
        };
        let json = serde_json::to_string(&settings).expect("json");
        assert!(json.contains("\"layout\":\"single-file\""), "{json}");
        let back: JobSettings = serde_json::from_str(&json).expect("parse");
        assert_eq!(back, settings);
        let mut value: serde_json::Value = serde_json::from_str(&json).expect("value");
        value["encryption"] = serde_json::json!("cbcs");
        let e = serde_json::from_value::<JobSettings>(value).expect_err("unknown field");
        assert!(e.to_string().contains("encryption"), "{e}");
    }

    #[test]
    fn a_bad_preset_or_format_is_a_config_error_naming_the_field() {
        let bad = JobSettings {
            preset: "loud".into(),
            ..JobSettings::default()
        };
        let e = bad.builder().err().expect("bad preset");
        assert_eq!(e.field, "preset");
        let bad = JobSettings {
            formats: "hls,mp3".into(),
            ..JobSettings::default()
        };
        let e = bad.builder().err().expect("bad formats");
        assert_eq!(e.field, "formats");
    }
}
