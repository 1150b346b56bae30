//! Loudness normalization policy: from a measured [`LoudnessReport`] to one
//! static gain, peak-safe by default.

use serde::{Deserialize, Serialize};

use crate::error::EncodeError;
use crate::loudness::LoudnessReport;

/// Named targets. Presets are data: each is just a [`NormalizeConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NormalizePreset {
    /// −14 LUFS, −1 dBTP: what the large streaming services play back at.
    Streaming,
    /// −16 LUFS, −1 dBTP: AES TD1004 / podcast and Apple-style playback level.
    Quiet,
    /// −23 LUFS, −1 dBTP: EBU R128 broadcast.
    Broadcast,
}

impl NormalizePreset {
    pub fn config(self) -> NormalizeConfig {
        let target_lufs = match self {
            NormalizePreset::Streaming => -14.0,
            NormalizePreset::Quiet => -16.0,
            NormalizePreset::Broadcast => -23.0,
        };
        NormalizeConfig {
            target_lufs,
            true_peak_ceiling_dbtp: -1.0,
            limiter: false,
        }
    }
}

/// What the normalizer aims at. Build one, then [`validate`](Self::validate).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NormalizeConfig {
    /// Integrated loudness to reach, in LUFS.
    pub target_lufs: f64,
    /// The true peak the output must stay under, in dBTP.
    pub true_peak_ceiling_dbtp: f64,
    /// Reach the target even when that pushes peaks over the ceiling, and let
    /// the [`TruePeakLimiter`](crate::TruePeakLimiter) hold them down.
    pub limiter: bool,
}

impl Default for NormalizeConfig {
    fn default() -> Self {
        NormalizePreset::Streaming.config()
    }
}

impl NormalizeConfig {
    /// Rejects targets no real master needs: loudness outside −70..0 LUFS, a
    /// ceiling outside −20..0 dBTP.
    pub fn validate(&self) -> Result<(), EncodeError> {
        if !(-70.0..=0.0).contains(&self.target_lufs) {
            return Err(EncodeError::Config(format!(
                "target loudness {} LUFS is outside -70..0",
                self.target_lufs
            )));
        }
        if !(-20.0..=0.0).contains(&self.true_peak_ceiling_dbtp) {
            return Err(EncodeError::Config(format!(
                "true-peak ceiling {} dBTP is outside -20..0",
                self.true_peak_ceiling_dbtp
            )));
        }
        Ok(())
    }
}

/// Why the gain is what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GainReason {
    /// The full gain to the target fits under the ceiling (or the limiter takes the rest).
    Target,
    /// The gain was cut so the true peak lands on the ceiling (also with
    /// `--limiter` when limiting could not buy the loudness: sparse clicks,
    /// whose loudness the limiter takes away as fast as gain adds it).
    PeakCeiling,
    /// No gated loudness (digital silence, or too short to measure): no gain.
    Silence,
    /// The album's gain (target − album loudness, capped so no track of
    /// the album passes the ceiling), not the track's own.
    Album,
}

/// The decision of the normalizer, recorded in the report.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GainPlan {
    /// Static gain applied to every sample, in dB.
    pub gain_db: f64,
    pub reason: GainReason,
    /// True when the limiter must run (only with `limiter`, and only when the
    /// gained true peak would pass the ceiling).
    pub limiter_engaged: bool,
    /// What the integrated loudness should become (input + gain), if any.
    pub expected_integrated_lufs: Option<f64>,
}

/// Decides the gain for a measured input.
///
/// `gain = target − integrated`; without the limiter it is capped at
/// `ceiling − true_peak` so no true peak passes the ceiling. Silence (no
/// gated loudness) gets 0 dB.
pub fn plan_gain(measured: &LoudnessReport, config: &NormalizeConfig) -> GainPlan {
    let Some(integrated) = measured.integrated_lufs else {
        return GainPlan {
            gain_db: 0.0,
            reason: GainReason::Silence,
            limiter_engaged: false,
            expected_integrated_lufs: None,
        };
    };
    let wanted = config.target_lufs - integrated;
    let headroom = measured
        .peak_dbtp()
        .map_or(f64::INFINITY, |tp| config.true_peak_ceiling_dbtp - tp);
    let (gain_db, reason, limiter_engaged) = if wanted <= headroom {
        (wanted, GainReason::Target, false)
    } else if config.limiter {
        (wanted, GainReason::Target, true)
    } else {
        (headroom, GainReason::PeakCeiling, false)
    };
    GainPlan {
        gain_db,
        reason,
        limiter_engaged,
        expected_integrated_lufs: Some(integrated + gain_db),
    }
}

impl LoudnessReport {
    /// The peak the ceiling is held against: the true peak, or the sample
    /// peak if higher (ebur128's 4× interpolator reads an isolated
    /// full-scale sample up to 2 dB low at 44.1 kHz; no true peak is under
    /// a sample).
    pub fn peak_dbtp(&self) -> Option<f64> {
        match (self.true_peak_dbtp, self.sample_peak_dbfs) {
            (Some(t), Some(s)) => Some(t.max(s)),
            (t, s) => t.or(s),
        }
    }
}

/// dB to a linear amplitude factor.
pub fn db_to_linear(db: f64) -> f32 {
    10f64.powf(db / 20.0) as f32
}

/// Multiplies every sample of every channel by `factor`.
pub fn apply_gain(channels: &mut [Vec<f32>], factor: f32) {
    if factor == 1.0 {
        return;
    }
    for channel in channels {
        for sample in channel.iter_mut() {
            *sample *= factor;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(integrated: Option<f64>, tp: Option<f64>) -> LoudnessReport {
        LoudnessReport {
            integrated_lufs: integrated,
            loudness_range_lu: 0.0,
            true_peak_dbtp: tp,
            sample_peak_dbfs: tp,
        }
    }

    #[test]
    fn full_gain_when_peaks_allow() {
        let plan = plan_gain(
            &report(Some(-20.0), Some(-10.0)),
            &NormalizeConfig::default(),
        );
        assert!((plan.gain_db - 6.0).abs() < 1e-9);
        assert_eq!(plan.reason, GainReason::Target);
        assert_eq!(plan.expected_integrated_lufs, Some(-14.0));
    }

    #[test]
    fn gain_is_capped_by_true_peak() {
        // -30 LUFS wants +16 dB, but a -3 dBTP peak leaves only 2 dB to -1 dBTP.
        let plan = plan_gain(
            &report(Some(-30.0), Some(-3.0)),
            &NormalizeConfig::default(),
        );
        assert!((plan.gain_db - 2.0).abs() < 1e-9);
        assert_eq!(plan.reason, GainReason::PeakCeiling);
        assert!(!plan.limiter_engaged);
    }

    #[test]
    fn limiter_takes_the_full_gain() {
        let config = NormalizeConfig {
            limiter: true,
            ..NormalizeConfig::default()
        };
        let plan = plan_gain(&report(Some(-30.0), Some(-3.0)), &config);
        assert!((plan.gain_db - 16.0).abs() < 1e-9);
        assert!(plan.limiter_engaged);
    }

    #[test]
    fn loud_masters_are_attenuated() {
        let plan = plan_gain(&report(Some(-8.0), Some(0.5)), &NormalizeConfig::default());
        assert!((plan.gain_db + 6.0).abs() < 1e-9);
        assert_eq!(plan.reason, GainReason::Target);
    }

    #[test]
    fn a_sample_peak_over_the_true_peak_caps_the_gain() {
        // An isolated full-scale sample: the interpolator reads -2 dBTP,
        // the sample is at -0.01 dBFS. The cap follows the sample.
        let r = LoudnessReport {
            integrated_lufs: Some(-37.0),
            loudness_range_lu: 0.0,
            true_peak_dbtp: Some(-2.0),
            sample_peak_dbfs: Some(-0.01),
        };
        let plan = plan_gain(&r, &NormalizeConfig::default());
        assert!((plan.gain_db + 0.99).abs() < 1e-9, "{}", plan.gain_db);
    }

    #[test]
    fn silence_gets_no_gain() {
        let plan = plan_gain(&report(None, None), &NormalizeConfig::default());
        assert_eq!(plan.gain_db, 0.0);
        assert_eq!(plan.reason, GainReason::Silence);
    }

    #[test]
    fn presets_and_validation() {
        assert_eq!(NormalizePreset::Broadcast.config().target_lufs, -23.0);
        assert!(NormalizePreset::Quiet.config().validate().is_ok());
        let bad = NormalizeConfig {
            target_lufs: 3.0,
            ..NormalizeConfig::default()
        };
        assert!(bad.validate().is_err());
    }
}
