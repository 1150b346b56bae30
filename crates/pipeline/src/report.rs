//! `report.json`: what the job read, decided and wrote. Deterministic (no
//! times, no absolute paths beyond the input as given).

use std::collections::BTreeMap;
use std::path::PathBuf;

use audiopack_encode::{GainPlan, LoudnessReport, NormalizeConfig};
use serde::{Deserialize, Serialize};

use crate::config::Layout;

use crate::inventory::PackageFile;

/// The version of the `report.json` layout this code writes. Bumped when a
/// field changes meaning or goes away (new fields do not bump it).
pub const REPORT_SCHEMA_VERSION: u32 = 1;

/// A rendition's codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Codec {
    Opus,
    Flac,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct JobReport {
    /// The version of this report's JSON layout ([`REPORT_SCHEMA_VERSION`];
    /// `docs/report.schema.json`). Absent (0) in reports written before it
    /// existed.
    #[serde(default)]
    pub schema_version: u32,
    /// [`crate::JobConfig::settings_digest`] of the job that wrote it.
    #[serde(default)]
    pub settings_digest: Option<String>,
    pub tool: ToolInfo,
    /// The package format ([`crate::PACKAGE_FORMAT_VERSION`]): with
    /// `files`, what tells a directory audiopack wrote from any other.
    pub format_version: u32,
    pub input: InputReport,
    pub loudness: LoudnessSection,
    pub processing: ProcessingReport,
    /// Opus renditions: encoder facts and the Ogg files, if written.
    pub renditions: Vec<RenditionReport>,
    /// The CMAF package (HLS/DASH), if written.
    pub package: Option<PackageReport>,
    /// Every file of the package below its directory with its size,
    /// `report.json` excepted (see [`crate::inspect_package`]).
    pub files: Vec<PackageFile>,
    /// How the package is encrypted (`--encrypt`); absent for clear
    /// packages. Key IDs and where the keys came from, never a key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protection: Option<ProtectionReport>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PackageReport {
    pub layout: Layout,
    pub segment_duration_seconds: f64,
    /// Entry points written: HLS master playlists and the MPD (each
    /// rendition's media playlist is listed with the rendition).
    pub manifests: Vec<String>,
    pub renditions: Vec<PackagedRendition>,
    /// Why there is no lossless tier, when there is none.
    pub lossless_skipped: Option<String>,
    /// The FLAC segments end at the same times as the Opus ones.
    pub lossless_aligned: Option<bool>,
}

/// `protection` in `report.json`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProtectionReport {
    /// `cbcs` or `cenc`.
    pub scheme: String,
    /// DRM systems signalled: `widevine`, `playready`, `fairplay`, `clearkey`.
    pub systems: Vec<String>,
    /// Key ID (UUID) of the Opus ladder.
    pub lossy_kid: String,
    /// Key ID (UUID) of the FLAC tier, when there is one.
    pub lossless_kid: Option<String>,
    /// `file`, `cpix` or `speke`.
    pub key_source: String,
    /// The key file or CPIX path, or the SPEKE URL without credentials.
    pub key_source_location: String,
    /// Systems whose PSSH / HLS data came from the key service verbatim.
    pub provided_by_key_service: Vec<String>,
}

impl ProtectionReport {
    pub(crate) fn new(p: &audiopack_drm::PackageProtection, lossless: bool) -> Self {
        use audiopack_drm::TrackType;
        let mut provided: Vec<String> = p
            .keys
            .system_data
            .iter()
            .filter(|d| p.systems.contains(&d.system))
            .map(|d| d.system.name().to_string())
            .collect();
        provided.dedup();
        ProtectionReport {
            scheme: p.scheme.fourcc().to_string(),
            systems: p.systems.iter().map(|s| s.name().to_string()).collect(),
            lossy_kid: p.kid(TrackType::Lossy).uuid(),
            lossless_kid: lossless.then(|| p.kid(TrackType::Lossless).uuid()),
            key_source: p.keys.source.kind().to_string(),
            key_source_location: p.keys.source.location(),
            provided_by_key_service: provided,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PackagedRendition {
    pub name: String,
    /// RFC 6381 codec string as in the manifests.
    pub codecs: String,
    pub channels: u8,
    pub sample_rate: u32,
    pub timescale: u32,
    /// Largest segment bit rate (HLS BANDWIDTH).
    pub peak_bandwidth_bps: u64,
    /// Whole-rendition bit rate (HLS AVERAGE-BANDWIDTH, DASH @bandwidth).
    pub average_bandwidth_bps: u64,
    pub segments: usize,
    pub playlist: String,
    pub files: Vec<String>,
    /// The lossless tier only: every encoded frame decoded again
    /// (symphonia) and its samples' MD5 compared with the source's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lossless_check: Option<LosslessCheck>,
}

/// The FLAC tier decoded and compared with the source, sample for sample.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LosslessCheck {
    /// Every decoded sample equals the source's.
    pub bit_exact: bool,
    /// MD5 of the source's samples (FLAC's STREAMINFO convention:
    /// interleaved, signed little-endian, whole bytes per sample), so a
    /// FLAC master's own STREAMINFO MD5 matches it.
    pub source_md5: String,
    /// MD5 of the FLAC tier's decoded samples, same convention (the
    /// source's when bit-exact; `None` otherwise).
    pub decoded_md5: Option<String>,
    /// Why not bit-exact: the first differing sample frame, or the frame
    /// the decoder refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ToolInfo {
    pub name: String,
    pub version: String,
    pub encoder: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct InputReport {
    /// The input's file name (or the URL it was fetched from): never a
    /// local directory path, since reports are published.
    pub path: PathBuf,
    /// Hex SHA-256 of the input's bytes (as downloaded, for `s3://`;
    /// `None` for an embedder's reader).
    #[serde(default)]
    pub sha256: Option<String>,
    pub format: String,
    pub codec: String,
    pub sample_rate: u32,
    pub channels: u16,
    pub bits_per_sample: Option<u32>,
    /// Decoded frames per channel (after gapless trimming).
    pub frames: u64,
    pub duration_seconds: f64,
    pub tags: BTreeMap<String, String>,
    /// Problems lenient mode let through (always empty in strict mode).
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoudnessSection {
    pub config: NormalizeConfig,
    /// The source as uploaded (all channels, BS.1770 weights).
    pub input: LoudnessReport,
    /// The stereo fold-down the gain was computed on, when the source had
    /// more than two channels (as in `planned_on`).
    pub downmix: Option<LoudnessReport>,
    /// What the gain was computed on: the signal the renditions carry
    /// (fold-down, subsonic filter, and resampled to 48 kHz when the source
    /// is above it: what lies over 24 kHz is not delivered).
    pub planned_on: LoudnessReport,
    pub gain: GainPlan,
    /// `--album-gain`: the album's loudness and gain (the track's own
    /// loudness is `planned_on`).
    #[serde(default)]
    pub album: Option<crate::AlbumGain>,
    /// Measured on the processed 48 kHz signal that every rendition encodes
    /// (after gain, limiter and resampling; before the lossy codec).
    pub output: LoudnessReport,
    /// `--limiter` only: calibration, decoded-peak passes, decoded true
    /// peaks per rendition, warnings.
    pub peak_control: Option<crate::peak_control::PeakControl>,
    /// Without `--limiter`: renditions whose decoded true peak
    /// (`renditions[].decoded`) is over the ceiling + 0.1 dB (the lossy
    /// codec's overshoot), named.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub decoded_warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProcessingReport {
    pub downmixed_to_stereo: bool,
    pub limiter: bool,
    pub output_sample_rate: u32,
    pub output_channels: u8,
    /// Exactly round(frames · 48000 / input rate).
    pub output_frames: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RenditionReport {
    pub name: String,
    pub codec: Codec,
    /// The Ogg Opus file (`--formats ogg`), if written.
    pub file: Option<String>,
    pub channels: u8,
    pub sample_rate: u32,
    pub bitrate_target_bps: u32,
    /// Opus payload bits over the real duration (without Ogg framing).
    pub bitrate_measured_bps: u64,
    /// The whole Ogg file, framing and headers included (0 without one).
    pub bytes: u64,
    pub packets: u64,
    pub pre_skip: u16,
    pub frames: u64,
    /// The rendition as listeners get it: its packets decoded (libopus, as
    /// players do) and measured like the source (BS.1770-4). Codec effects
    /// included: the true peak can sit above the PCM's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decoded: Option<DecodedLoudness>,
}

/// Loudness and peaks of a decoded rendition (`None`: silence, or below
/// the gate).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DecodedLoudness {
    pub integrated_lufs: Option<f64>,
    pub loudness_range_lu: Option<f64>,
    pub true_peak_dbtp: Option<f64>,
    pub sample_peak_dbfs: Option<f64>,
}

impl From<audiopack_encode::DecodedMeasurement> for DecodedLoudness {
    fn from(m: audiopack_encode::DecodedMeasurement) -> Self {
        DecodedLoudness {
            integrated_lufs: m.integrated_lufs,
            loudness_range_lu: m.loudness_range_lu,
            true_peak_dbtp: m.true_peak_dbtp,
            sample_peak_dbfs: m.sample_peak_dbfs,
        }
    }
}
