//! Album gain: one gain for every track of an album, from all their gating
//! blocks together (BS.1770 integrated over the album, as ReplayGain 2.0
//! album gain does), capped so no track's true peak passes the ceiling.
//!
//! ```text
//!  measure_track(t1) ─┐                       ┌─► run_ingest_premeasured(t1, config + album)
//!  measure_track(t2) ─┼─► album_gain(&[..]) ──┼─► run_ingest_premeasured(t2, …)
//!  measure_track(t3) ─┘    AlbumGain          └─► …
//! ```
//!
//! Pass 1 of each track runs once, before the album's encodes, and its
//! result (a few kilobytes: the meter's histogram, not the audio) is
//! handed to that track's encode: no track is decoded more than twice.

use std::path::PathBuf;

use audiopack_encode::{GainPlan, GainReason, LoudnessMeter, LoudnessReport, NormalizeConfig};
use audiopack_ingest::SourceInfo;
use serde::{Deserialize, Serialize};

use crate::config::JobConfig;
use crate::error::JobError;
use crate::input::JobInput;
use crate::measure::{Measurement, measure_for_plan};
use crate::progress::Progress;

/// Pass 1 of one track, kept until its encode.
pub struct TrackMeasurement {
    pub(crate) label: PathBuf,
    pub(crate) measurement: Measurement,
    pub(crate) info: SourceInfo,
    pub(crate) warnings: Vec<String>,
    pub(crate) sha256: Option<String>,
}

impl TrackMeasurement {
    /// The loudness of the signal the renditions carry (what gains are
    /// planned on).
    pub fn loudness(&self) -> &LoudnessReport {
        self.measurement.encoded_signal()
    }

    /// The source as uploaded.
    pub fn source_loudness(&self) -> &LoudnessReport {
        &self.measurement.source
    }

    /// Decoded frames per channel.
    pub fn frames(&self) -> u64 {
        self.measurement.frames
    }

    /// Seconds of audio.
    pub fn duration_seconds(&self) -> f64 {
        self.measurement.frames as f64 / f64::from(self.info.sample_rate.max(1))
    }

    /// Hex SHA-256 of the input's bytes (`None` for a reader input).
    pub fn sha256(&self) -> Option<&str> {
        self.sha256.as_deref()
    }
}

impl std::fmt::Debug for TrackMeasurement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrackMeasurement")
            .field("input", &self.label)
            .field("frames", &self.measurement.frames)
            .field("loudness", self.loudness())
            .finish()
    }
}

/// Measures one track (pass 1) for its album.
pub fn measure_track(
    input: &dyn JobInput,
    config: &JobConfig,
    progress: &dyn Progress,
) -> Result<TrackMeasurement, JobError> {
    config.validate()?;
    input.check()?;
    crate::job::guarded(input.label(), || {
        let sha256 = input.sha256()?;
        let mut source = input.open(&config.ingest)?;
        let info = source.info().clone();
        let measurement = measure_for_plan(&mut source, progress, config.cpu.as_ref())?;
        Ok(TrackMeasurement {
            label: input.label().to_path_buf(),
            warnings: source.warnings().to_vec(),
            measurement,
            info,
            sha256,
        })
    })
}

/// An album's gain, recorded in each of its tracks' reports.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AlbumGain {
    /// Integrated loudness of the album's delivered signal, all tracks'
    /// gating blocks together (`None`: a silent album).
    pub integrated_lufs: Option<f64>,
    /// The gain every track of the album gets, in dB.
    pub gain_db: f64,
    /// Tracks measured together.
    pub tracks: usize,
    /// The gain to the target was lowered so the track with the highest
    /// true peak stays under the ceiling (without the limiter).
    pub peak_capped: bool,
}

/// The gain for an album of measured tracks: target − album loudness,
/// capped (without the limiter) so no track's true peak passes the
/// ceiling. With the limiter the full gain is kept and each track's
/// limiter holds its own peaks.
pub fn album_gain(
    tracks: &[&TrackMeasurement],
    normalize: &NormalizeConfig,
) -> Result<AlbumGain, JobError> {
    let meters: Vec<&LoudnessMeter> = tracks
        .iter()
        .filter_map(|t| t.measurement.planned_meter.as_ref())
        .collect();
    let integrated =
        LoudnessMeter::integrated_together(&meters).map_err(|source| JobError::Encode {
            input: tracks.first().map(|t| t.label.clone()).unwrap_or_default(),
            stage: "album loudness".into(),
            source,
        })?;
    let Some(integrated) = integrated else {
        return Ok(AlbumGain {
            integrated_lufs: None,
            gain_db: 0.0,
            tracks: tracks.len(),
            peak_capped: false,
        });
    };
    let wanted = normalize.target_lufs - integrated;
    let headroom = tracks
        .iter()
        .filter_map(|t| t.loudness().peak_dbtp())
        .map(|tp| normalize.true_peak_ceiling_dbtp - tp)
        .fold(f64::INFINITY, f64::min);
    let capped = !normalize.limiter && wanted > headroom;
    Ok(AlbumGain {
        integrated_lufs: Some(integrated),
        gain_db: if capped { headroom } else { wanted },
        tracks: tracks.len(),
        peak_capped: capped,
    })
}

/// One track's gain plan under its album's gain.
pub(crate) fn track_plan(
    album: &AlbumGain,
    track: &LoudnessReport,
    normalize: &NormalizeConfig,
) -> GainPlan {
    let headroom = track
        .peak_dbtp()
        .map_or(f64::INFINITY, |tp| normalize.true_peak_ceiling_dbtp - tp);
    let over = album.gain_db > headroom;
    // An album gain from elsewhere is held under the ceiling all the same.
    let gain_db = if over && !normalize.limiter {
        headroom
    } else {
        album.gain_db
    };
    GainPlan {
        gain_db,
        reason: GainReason::Album,
        limiter_engaged: over && normalize.limiter,
        expected_integrated_lufs: track.integrated_lufs.map(|i| i + gain_db),
    }
}
