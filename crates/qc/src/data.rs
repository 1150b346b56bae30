//! `qc.json`: measurements over time, compact enough to embed in a page.
//!
//! Every series is sampled on one grid: value `i` covers the time
//! `[i * resolution_seconds, (i + 1) * resolution_seconds)`. `null` in a
//! loudness series is minus infinity (silence, or not yet a full window).

use serde::{Deserialize, Serialize};

/// Bumped when a field changes meaning or goes away.
pub const QC_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct QcData {
    pub schema_version: u32,
    /// Seconds per value in the loudness series (1.0).
    pub resolution_seconds: f64,
    /// Duration of the source (seconds).
    pub duration_seconds: f64,
    /// The normalization target (LUFS) and true-peak ceiling (dBTP), for
    /// the plot's reference lines.
    pub target_lufs: f64,
    pub ceiling_dbtp: f64,
    /// The source as ingested (all channels, before gain).
    pub source: LoudnessSeries,
    /// One decoded rendition (the highest-bitrate Opus rung): what
    /// listeners get. `None` when nothing was decoded (Ogg-only output of
    /// zero renditions, or the measurement was skipped).
    pub delivered: Option<LoudnessSeries>,
    /// Peak envelope of the delivered rendition (decoded).
    pub envelope: Option<Envelope>,
    /// Every second in which a decoded rendition's true peak went over the
    /// ceiling.
    pub true_peak_overs: Vec<TruePeakOver>,
    /// Average spectrum of the source and of each decoded rung.
    pub spectrum: Option<Spectrum>,
}

/// BS.1770 momentary (400 ms) and short-term (3 s) loudness, evaluated every
/// 100 ms and kept at `resolution_seconds`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoudnessSeries {
    /// What was measured: `source` or a rendition name.
    pub label: String,
    /// Highest momentary loudness in each interval (LUFS).
    pub momentary_lufs: Vec<Option<f32>>,
    /// Short-term loudness at the end of each interval (LUFS).
    pub short_term_lufs: Vec<Option<f32>>,
    /// Highest true peak in each interval (dBTP) of the delivered
    /// rendition, only where it is over the ceiling (`null` elsewhere: the
    /// meter skips what cannot pass the ceiling, so lower values are not
    /// known exactly); empty for the source (only its overall true peak is
    /// measured, in `report.json`).
    pub true_peak_dbtp: Vec<Option<f32>>,
}

/// Minimum and maximum sample (both channels) per bucket of
/// `bucket_seconds`, linear full scale (−1..1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Envelope {
    pub label: String,
    pub bucket_seconds: f64,
    pub min: Vec<f32>,
    pub max: Vec<f32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TruePeakOver {
    pub rendition: String,
    /// Start of the one-second interval.
    pub time_seconds: f64,
    pub true_peak_dbtp: f32,
}

/// Average power spectra on shared log-spaced bands (1/6 octave).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Spectrum {
    /// Centre frequency of each band (Hz).
    pub frequencies_hz: Vec<f32>,
    /// The source's level per band (dB relative to full scale; `null`
    /// where the band lies above the source's Nyquist or is silent).
    pub source_db: Vec<Option<f32>>,
    pub renditions: Vec<RenditionSpectrum>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RenditionSpectrum {
    pub rendition: String,
    pub db: Vec<Option<f32>>,
}
