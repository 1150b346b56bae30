//! `qc.json` and `report.html`: what the job measured over time, and the
//! page that shows it (rendered by `audiopack-qc`).

use std::path::Path;

use audiopack_encode::{GainPlan, LoudnessSeries, NormalizeConfig, spectrum_bands_hz};
use audiopack_qc::{
    Envelope, QC_SCHEMA_VERSION, QcData, RenditionSpectrum, Spectrum, TruePeakOver,
};

use crate::encode_pass::{EncodeOutcome, delivered_index};
use crate::error::JobError;
use crate::measure::Measurement;

pub const QC_FILE: &str = "qc.json";
pub const QC_PAGE: &str = "report.html";

pub(crate) fn qc_data(
    measured: &Measurement,
    outcome: &EncodeOutcome,
    gain: &GainPlan,
    normalize: &NormalizeConfig,
    duration_seconds: f64,
) -> QcData {
    let ceiling = normalize.true_peak_ceiling_dbtp;
    let ladder = audiopack_encode::Ladder {
        rungs: outcome.renditions.iter().map(|r| r.rung).collect(),
    };
    let delivered = delivered_index(&ladder).and_then(|i| outcome.renditions.get(i));
    let series = |label: String, s: &LoudnessSeries| audiopack_qc::LoudnessSeries {
        label,
        momentary_lufs: s.momentary_lufs.clone(),
        short_term_lufs: s.short_term_lufs.clone(),
        true_peak_dbtp: s.true_peak_dbtp.clone(),
    };
    let mut overs = Vec::new();
    for r in &outcome.renditions {
        let Some(qc) = &r.qc else { continue };
        for (i, tp) in qc.series.true_peak_dbtp.iter().enumerate() {
            if let Some(tp) = *tp
                && f64::from(tp) > ceiling
            {
                overs.push(TruePeakOver {
                    rendition: r.rung.name(),
                    time_seconds: i as f64,
                    true_peak_dbtp: tp,
                });
            }
        }
    }
    // The source as normalized: its spectrum shifted by the gain, so it
    // lines up with the renditions (which carry the gain).
    let shift = gain.gain_db as f32;
    let spectrum = Spectrum {
        frequencies_hz: spectrum_bands_hz(),
        source_db: measured
            .source_spectrum
            .iter()
            .map(|d| d.map(|d| d + shift))
            .collect(),
        renditions: outcome
            .renditions
            .iter()
            .filter_map(|r| {
                r.qc.as_ref().map(|qc| RenditionSpectrum {
                    rendition: r.rung.name(),
                    db: qc.spectrum_db.clone(),
                })
            })
            .collect(),
    };
    QcData {
        schema_version: QC_SCHEMA_VERSION,
        resolution_seconds: 1.0,
        duration_seconds,
        target_lufs: normalize.target_lufs,
        ceiling_dbtp: ceiling,
        source: series("source".into(), &measured.source_series),
        delivered: delivered
            .and_then(|r| r.qc.as_ref().map(|qc| series(r.rung.name(), &qc.series))),
        envelope: delivered.and_then(|r| {
            let qc = r.qc.as_ref()?;
            let (bucket_seconds, min, max) = qc.envelope.clone()?;
            Some(Envelope {
                label: r.rung.name(),
                bucket_seconds,
                min,
                max,
            })
        }),
        true_peak_overs: overs,
        spectrum: Some(spectrum),
    }
}

pub(crate) fn write_qc(dir: &Path, qc: &QcData, input: &Path) -> Result<(), JobError> {
    let text = serde_json::to_string(qc).map_err(|e| JobError::Internal {
        input: input.to_path_buf(),
        message: format!("serializing qc.json: {e}"),
    })?;
    let path = dir.join(QC_FILE);
    std::fs::write(&path, text).map_err(|source| JobError::Output {
        path,
        action: "writing",
        source,
    })
}
