//! `report.json`: what the job read, decided and wrote. Deterministic (no
//! times, no absolute paths beyond the input as given).

use std::collections::BTreeMap;
use std::path::PathBuf;

use audiopack_encode::{GainPlan, LoudnessReport, NormalizeConfig};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct JobReport {
    pub tool: ToolInfo,
    pub input: InputReport,
    pub loudness: LoudnessSection,
    pub processing: ProcessingReport,
    pub renditions: Vec<RenditionReport>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ToolInfo {
    pub name: &'static str,
    pub version: &'static str,
    pub encoder: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct InputReport {
    pub path: PathBuf,
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

#[derive(Debug, Clone, Serialize)]
pub struct LoudnessSection {
    pub config: NormalizeConfig,
    /// The source as uploaded (all channels, BS.1770 weights).
    pub input: LoudnessReport,
    /// The stereo fold-down the gain was computed on, when the source had
    /// more than two channels.
    pub downmix: Option<LoudnessReport>,
    pub gain: GainPlan,
    /// Measured on the processed 48 kHz signal that every rendition encodes
    /// (after gain, limiter and resampling; before the lossy codec).
    pub output: LoudnessReport,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProcessingReport {
    pub downmixed_to_stereo: bool,
    pub limiter: bool,
    pub output_sample_rate: u32,
    pub output_channels: u8,
    /// Exactly round(frames · 48000 / input rate).
    pub output_frames: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RenditionReport {
    pub name: String,
    pub codec: &'static str,
    pub container: &'static str,
    pub file: String,
    pub channels: u8,
    pub sample_rate: u32,
    pub bitrate_target_bps: u32,
    /// Opus payload bits over the real duration (without Ogg framing).
    pub bitrate_measured_bps: u64,
    /// Whole file, Ogg framing and headers included.
    pub bytes: u64,
    pub packets: u64,
    pub pre_skip: u16,
    pub frames: u64,
}
