//! Holding the true-peak ceiling on what players decode.
//!
//! **Default mode** ([`hold_after_codec`]): the encode that writes decodes
//! and meters every rung; when one is more than 0.05 dB over the ceiling,
//! the common gain is lowered by the excess and the ladder encoded again
//! over the same files (at most three encodes). A publisher that already
//! stored a file hears of it again and stores the new bytes.
//!
//! **`--limiter`**: reach the target through the limiter, and hold the
//! ceiling by the limiter's own:
//!
//! 1. **Calibration** (meter-only dry runs, as before): limiting takes
//!    loudness away with the peaks, so the shortfall is measured and added
//!    back. New: each dB of gain past the ceiling must buy at least half a
//!    dB of loudness. When it does not (sparse clicks: the limiter removes
//!    the loudness as fast as gain adds it) the gain goes back to the
//!    peak-safe one and the report says "capped by the true-peak ceiling"
//!    instead of claiming the target (full-scale clicks got +70 dB before).
//! 2. **Peak passes**: the ladder is encoded without writing anything, every
//!    rendition decoded (libopus) and its true peak metered. The codec moves
//!    peaks (quiet_peaky decoded at −0.8 dBTP for a −1 ceiling), so while
//!    the worst rendition is over the ceiling the limiter's ceiling is
//!    lowered by the excess plus a margin (one ceiling for all rungs) and the
//!    ladder encoded again; at most [`MAX_PEAK_PASSES`].
//! 3. The final encode (the one that writes) meters the decoded peaks again;
//!    a rendition still over the ceiling + 0.1 dB is named in `warnings`.
//!
//! With the limiter, the outputs of the passes are never written: each
//! pass costs a whole unwritten encode, so the default mode (where an
//! excess is rare) writes first and repeats only when it must.

use audiopack_encode::{GainPlan, GainReason, Ladder, LoudnessReport, db_to_linear};
use serde::{Deserialize, Serialize};

use crate::config::JobConfig;
use crate::encode_pass::{EncodeOutcome, EncodePlan, encode};
use crate::error::JobError;
use crate::input::JobInput;
use crate::progress::Progress;

/// Peak passes before the final encode, at most.
pub(crate) const MAX_PEAK_PASSES: u32 = 3;
/// Meter-only calibration runs, at most.
const MAX_CALIBRATION_RUNS: u32 = 3;
/// A decoded peak this far over the ceiling (by our meter) passes. None:
/// the promised 0.1 dB is left for other meters' interpolation (ffmpeg's
/// ebur128 reads Opus-decoded clicks up to ~0.06 dB higher than ebur128-rs).
const HOLD_TOLERANCE_DB: f64 = 0.0;
/// What a rendition may exceed the ceiling by before it is reported.
const WARN_TOLERANCE_DB: f64 = 0.1;
/// Extra lowering on top of the measured excess.
const LOWERING_MARGIN_DB: f64 = 0.1;
/// The limiter's ceiling is never set more than this under the one asked.
const MAX_LOWERING_DB: f64 = 6.0;
/// Calibration: loudness gained per dB of gain added, at least.
const MIN_EFFICIENCY: f64 = 0.5;

/// How the true-peak ceiling was held on what players decode, in
/// `report.json` (`loudness.peak_control`): by the limiter (`--limiter`)
/// or, by default, by the gain ([`hold_after_codec`]).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PeakControl {
    /// The ceiling asked for (dBTP).
    pub ceiling_dbtp: f64,
    /// Where the limiter finally ran (dBTP): the ceiling, or lower when the
    /// codec pushed decoded peaks past it; `None` when it did not run.
    pub limiter_ceiling_dbtp: Option<f64>,
    /// Meter-only runs spent calibrating the gain through the limiter.
    pub calibration_runs: u32,
    /// Encodes of the whole ladder (nothing written) spent checking decoded
    /// peaks before the final one.
    pub peak_passes: u32,
    /// How far the worst decoded true peak went past the ceiling on the
    /// first check (dB; ≤ 0 when it held at once).
    pub first_excess_db: Option<f64>,
    /// Each rendition as written, decoded (libopus) and metered: what
    /// listeners get, codec effects included.
    pub decoded: Vec<DecodedRendition>,
    /// What went differently from the plan, in words.
    pub notes: Vec<String>,
    /// Renditions whose decoded true peak stayed over the ceiling + 0.1 dB.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DecodedRendition {
    pub rendition: String,
    /// dBTP; `None` for silence.
    pub true_peak_dbtp: Option<f64>,
    /// LUFS; `None` below the absolute gate.
    pub integrated_lufs: Option<f64>,
}

impl PeakControl {
    fn new(ceiling_dbtp: f64) -> Self {
        PeakControl {
            ceiling_dbtp,
            limiter_ceiling_dbtp: None,
            calibration_runs: 0,
            peak_passes: 0,
            first_excess_db: None,
            decoded: Vec::new(),
            notes: Vec::new(),
            warnings: Vec::new(),
        }
    }
}

/// Runs calibration and peak passes and leaves `plan` and `gain` ready for
/// the final encode. `None` without `--limiter` (nothing is checked).
pub(crate) fn settle(
    input: &dyn JobInput,
    config: &JobConfig,
    plan: &mut EncodePlan<'_>,
    gain: &mut GainPlan,
    planned_on: &LoudnessReport,
    progress: &dyn Progress,
) -> Result<Option<PeakControl>, JobError> {
    let normalize = &config.normalize;
    if !normalize.limiter {
        return Ok(None);
    }
    let ceiling = normalize.true_peak_ceiling_dbtp;
    let mut control = PeakControl::new(ceiling);
    // An album's gain is the album's: the limiter holds peaks, and no
    // track's gain is calibrated to its own target.
    let mut calibrating = gain.limiter_engaged && config.album.is_none();
    if calibrating {
        calibrating = calibrate(
            input,
            config,
            plan,
            gain,
            planned_on.integrated_lufs,
            planned_on.peak_dbtp(),
            &mut control,
            progress,
        )?;
    }
    plan.check_decoded_peaks = true;
    let mut limiter_ceiling = ceiling;
    for pass in 1..=MAX_PEAK_PASSES {
        let probe = probe(input, config, plan, crate::Phase::PeakCheck, progress)?;
        control.peak_passes = pass;
        let worst = worst_peak(&probe);
        let excess = worst.as_ref().map(|(_, tp)| tp - ceiling);
        if control.first_excess_db.is_none() {
            control.first_excess_db = excess;
        }
        let peaks_held = excess.is_none_or(|e| e <= HOLD_TOLERANCE_DB);
        let shortfall = match probe.output_loudness.integrated_lufs {
            Some(reached) if calibrating => normalize.target_lufs - reached,
            _ => 0.0,
        };
        if peaks_held && shortfall.abs() < 0.1 {
            break;
        }
        if pass == MAX_PEAK_PASSES {
            break; // the final encode measures again and warns
        }
        if let (false, Some(e)) = (peaks_held, excess) {
            let lowered = (limiter_ceiling - e - LOWERING_MARGIN_DB).max(ceiling - MAX_LOWERING_DB);
            if let Some((name, tp)) = worst {
                control.notes.push(format!(
                    "pass {pass}: {name} decoded at {tp:.2} dBTP, limiter ceiling {limiter_ceiling:.2} -> {lowered:.2} dBTP"
                ));
            }
            limiter_ceiling = lowered;
            plan.limiter_ceiling_dbtp = Some(limiter_ceiling);
            gain.limiter_engaged = true;
        }
        if calibrating && shortfall.abs() >= 0.1 {
            gain.gain_db += shortfall;
            plan.gain = db_to_linear(gain.gain_db);
        }
    }
    control.limiter_ceiling_dbtp = plan.limiter_ceiling_dbtp;
    Ok(Some(control))
}

/// After the final encode: the decoded peaks as written, warnings, and the
/// loudness the limited output really has.
pub(crate) fn conclude(control: &mut PeakControl, outcome: &EncodeOutcome, gain: &mut GainPlan) {
    let after = format!("after {} peak passes", control.peak_passes);
    record_decoded(control, outcome, &after);
    if gain.limiter_engaged {
        // What was reached, not what was aimed at.
        gain.expected_integrated_lufs = outcome.output_loudness.integrated_lufs;
    }
}

/// The gain through the limiter, calibrated on meter-only dry runs.
/// Returns whether the limiter is still engaged (the calibration works).
#[allow(clippy::too_many_arguments)]
fn calibrate(
    input: &dyn JobInput,
    config: &JobConfig,
    plan: &mut EncodePlan<'_>,
    gain: &mut GainPlan,
    measured_integrated: Option<f64>,
    measured_true_peak: Option<f64>,
    control: &mut PeakControl,
    progress: &dyn Progress,
) -> Result<bool, JobError> {
    let target = config.normalize.target_lufs;
    let ceiling = config.normalize.true_peak_ceiling_dbtp;
    // The peak-safe point needs no dry run: under the ceiling the limiter
    // does nothing, so the loudness is the measured one plus the gain.
    let safe = match (measured_integrated, measured_true_peak) {
        (Some(i), Some(tp)) => Some((ceiling - tp, i + ceiling - tp)),
        _ => None,
    };
    let mut previous = safe;
    let empty = Ladder { rungs: Vec::new() };
    for _ in 0..MAX_CALIBRATION_RUNS {
        let dry_plan = EncodePlan {
            phase: crate::Phase::LimiterCalibration,
            ladder: &empty,
            ogg: false,
            cmaf: None,
            lossless: None,
            check_decoded_peaks: false,
            ..plan.clone()
        };
        let mut source = input.open(&config.ingest)?;
        let dry = encode(&mut source, &dry_plan, progress)?;
        control.calibration_runs += 1;
        let Some(reached) = dry.output_loudness.integrated_lufs else {
            break;
        };
        if let Some((g0, r0)) = previous {
            let added = gain.gain_db - g0;
            if added > 0.1 && reached - r0 < MIN_EFFICIENCY * added {
                let back_to_safe = safe.is_some_and(|(g, _)| g == g0);
                control.notes.push(format!(
                    "{added:.1} dB more gain through the limiter moved the loudness by {:+.1} LU: gain kept at {g0:.2} dB{}",
                    reached - r0,
                    if back_to_safe { " (peak-safe)" } else { "" }
                ));
                gain.gain_db = g0;
                gain.expected_integrated_lufs = Some(r0);
                plan.gain = db_to_linear(g0);
                if back_to_safe {
                    gain.reason = GainReason::PeakCeiling;
                    gain.limiter_engaged = false;
                    plan.limiter_ceiling_dbtp = None;
                    return Ok(false);
                }
                return Ok(true);
            }
        }
        let shortfall = target - reached;
        if shortfall.abs() < 0.05 {
            break;
        }
        previous = Some((gain.gain_db, reached));
        gain.gain_db += shortfall;
        plan.gain = db_to_linear(gain.gain_db);
    }
    Ok(true)
}

/// Encodes the whole ladder with nothing written, decoding every rendition.
fn probe(
    input: &dyn JobInput,
    config: &JobConfig,
    plan: &EncodePlan<'_>,
    phase: crate::Phase,
    progress: &dyn Progress,
) -> Result<EncodeOutcome, JobError> {
    let probe_plan = EncodePlan {
        phase,
        ogg: false,
        cmaf: None,
        lossless: None,
        check_decoded_peaks: true,
        ..plan.clone()
    };
    let mut source = input.open(&config.ingest)?;
    encode(&mut source, &probe_plan, progress)
}

fn worst_peak(outcome: &EncodeOutcome) -> Option<(String, f64)> {
    outcome
        .renditions
        .iter()
        .filter_map(|r| r.decoded_true_peak_dbtp().map(|tp| (r.rung.name(), tp)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

/// A decoded rung this far over the ceiling (by our meter) is encoded
/// again at a lower gain. Half the promised 0.1 dB: the rest is left for
/// other meters' interpolation.
const REENCODE_OVER_DB: f64 = 0.05;
/// Encodes in all, at most, in the default mode (the first included).
const MAX_GAIN_ENCODES: u32 = 3;

/// The default mode (no limiter): after the encode, every rung's decoded
/// true peak must be within the ceiling + 0.1 dB. When one is over, the
/// common gain is lowered by the worst excess (one gain for every rung, so
/// switching rungs never jumps in loudness) and the ladder encoded again,
/// over the same files: rare (the codec's overshoot on a peak-capped
/// gain), and reported as `peak_passes` with the excess found. A file
/// announced by the first encode is announced again with its new size.
pub(crate) fn hold_after_codec(
    input: &dyn JobInput,
    config: &JobConfig,
    plan: &mut EncodePlan<'_>,
    gain: &mut GainPlan,
    outcome: &mut EncodeOutcome,
    progress: &dyn Progress,
) -> Result<PeakControl, JobError> {
    let ceiling = config.normalize.true_peak_ceiling_dbtp;
    let mut control = PeakControl::new(ceiling);
    for encodes in 1..=MAX_GAIN_ENCODES {
        let worst = worst_peak(outcome);
        let excess = worst.as_ref().map(|(_, tp)| tp - ceiling);
        if encodes == 1 {
            control.first_excess_db = excess;
        }
        let (Some((name, tp)), Some(excess)) = (worst, excess) else {
            break;
        };
        if excess <= REENCODE_OVER_DB || encodes == MAX_GAIN_ENCODES {
            break;
        }
        let lowered = gain.gain_db - excess - LOWERING_MARGIN_DB / 2.0;
        control.notes.push(format!(
            "encode {encodes}: {name} decoded at {tp:.2} dBTP, {excess:.2} dB over the ceiling: \
             gain {:+.2} -> {lowered:+.2} dB for every rung, encoded again",
            gain.gain_db
        ));
        let drop = gain.gain_db - lowered;
        gain.gain_db = lowered;
        gain.expected_integrated_lufs = gain.expected_integrated_lufs.map(|l| l - drop);
        if matches!(gain.reason, GainReason::Target) {
            gain.reason = GainReason::PeakCeiling;
        }
        plan.gain = db_to_linear(lowered);
        let mut source = input.open(&config.ingest)?;
        *outcome = encode(&mut source, plan, progress)?;
        control.peak_passes += 1;
    }
    let after = format!("after {} encodes at lowered gain", control.peak_passes + 1);
    record_decoded(&mut control, outcome, &after);
    Ok(control)
}

/// Each rung's decoded peak and loudness into `control.decoded`, and a
/// warning (ending with `after`) for every rung still over the ceiling +
/// 0.1 dB.
fn record_decoded(control: &mut PeakControl, outcome: &EncodeOutcome, after: &str) {
    let ceiling = control.ceiling_dbtp;
    for r in &outcome.renditions {
        let name = r.rung.name();
        if let Some(tp) = r.decoded_true_peak_dbtp()
            && tp > ceiling + WARN_TOLERANCE_DB
        {
            control.warnings.push(format!(
                "{name}: decoded true peak {tp:.2} dBTP is over the {ceiling:.1} dBTP ceiling {after}"
            ));
        }
        control.decoded.push(DecodedRendition {
            rendition: name,
            true_peak_dbtp: r.decoded_true_peak_dbtp(),
            integrated_lufs: r.decoded.and_then(|d| d.integrated_lufs),
        });
    }
}
