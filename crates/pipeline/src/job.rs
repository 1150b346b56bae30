//! The entry points: `probe`, `loudness`, `run_ingest`.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use audiopack_encode::{
    Ladder, LoudnessReport, OPUS_RATE, db_to_linear, libopus_version, plan_gain, resampled_len,
};
use audiopack_ingest::{IngestConfig, ScanReport, Source, scan};
use serde::Serialize;

use crate::config::JobConfig;
use crate::encode_pass::{EncodePlan, encode};
use crate::error::JobError;
use crate::measure::{downmix_for, measure};
use crate::progress::Progress;
use crate::report::{
    InputReport, JobReport, LoudnessSection, ProcessingReport, RenditionReport, ToolInfo,
};
use crate::staging::{MARKER, Staging};

/// Runs `f`, turning a panic anywhere below into [`JobError::Internal`].
fn guarded<T>(input: &Path, f: impl FnOnce() -> Result<T, JobError>) -> Result<T, JobError> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|panic| {
        Err(JobError::Internal {
            input: input.to_path_buf(),
            message: panic_message(panic.as_ref()),
        })
    })
}

pub(crate) fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

/// Decodes the whole file and reports its facts and exact decoded length.
pub fn probe(input: &Path, config: &IngestConfig) -> Result<ScanReport, JobError> {
    config.validate()?;
    guarded(input, || Ok(scan(input, config)?))
}

/// The loudness of a file as uploaded.
#[derive(Debug, Clone, Serialize)]
pub struct LoudnessOnly {
    pub path: PathBuf,
    pub frames: u64,
    #[serde(flatten)]
    pub loudness: LoudnessReport,
}

/// Measures integrated loudness, range, true and sample peak (one pass).
pub fn loudness(
    input: &Path,
    config: &IngestConfig,
    progress: &dyn Progress,
) -> Result<LoudnessOnly, JobError> {
    config.validate()?;
    guarded(input, || {
        let mut source = Source::open(input, config)?;
        let m = measure(&mut source, progress)?;
        Ok(LoudnessOnly {
            path: input.to_path_buf(),
            frames: m.frames,
            loudness: m.source,
        })
    })
}

/// The whole job: measure, normalize, encode the ladder into `out_dir`.
/// On error nothing is left at `out_dir` (an earlier output there stays).
pub fn run_ingest(
    input: &Path,
    out_dir: &Path,
    config: &JobConfig,
    progress: &dyn Progress,
) -> Result<JobReport, JobError> {
    config.validate()?;
    guarded(input, || {
        let staging = Staging::new(out_dir)?;
        let report = run_into(input, staging.path(), config, progress)?;
        staging.commit()?;
        Ok(report)
    })
}

fn run_into(
    input: &Path,
    dir: &Path,
    config: &JobConfig,
    progress: &dyn Progress,
) -> Result<JobReport, JobError> {
    // Pass 1: measure.
    let mut source = Source::open(input, &config.ingest)?;
    let info = source.info().clone();
    let measured = measure(&mut source, progress)?;
    let warnings = source.warnings().to_vec();
    drop(source);
    let gain = plan_gain(measured.encoded_signal(), &config.normalize);

    // Pass 2: encode.
    let mut source = Source::open(input, &config.ingest)?;
    let downmix = downmix_for(&source);
    let channels_out: u8 = if info.channels == 1 { 1 } else { 2 };
    let ladder = config.ladder_for(channels_out)?;
    let vendor = format!(
        "audiopack {} ({})",
        env!("CARGO_PKG_VERSION"),
        libopus_version()
    );
    let mut plan = EncodePlan {
        phase: "encoding",
        gain: db_to_linear(gain.gain_db),
        limiter_ceiling_dbtp: gain
            .limiter_engaged
            .then_some(config.normalize.true_peak_ceiling_dbtp),
        downmix,
        channels_out,
        ladder: &ladder,
        out_dir: dir,
        vendor: &vendor,
        tags: info
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    };
    let mut gain = gain;
    if gain.limiter_engaged {
        // Limiting takes loudness away with the peaks. Measure how much on a
        // dry run (no encoding) and add it back, so --limiter lands on the
        // target; the limiter still holds the ceiling.
        for _ in 0..2 {
            let mut dry_source = Source::open(input, &config.ingest)?;
            let empty = Ladder { rungs: Vec::new() };
            let dry = encode(
                &mut dry_source,
                &EncodePlan {
                    ladder: &empty,
                    ..plan.clone()
                },
                progress,
            )?;
            let Some(reached) = dry.output_loudness.integrated_lufs else {
                break;
            };
            let shortfall = config.normalize.target_lufs - reached;
            if shortfall.abs() < 0.05 {
                break;
            }
            gain.gain_db += shortfall;
            plan.gain = db_to_linear(gain.gain_db);
        }
        gain.expected_integrated_lufs = Some(config.normalize.target_lufs);
    }
    let outcome = encode(&mut source, &plan, progress)?;
    if outcome.frames_in != measured.frames {
        return Err(JobError::InputChanged {
            input: input.to_path_buf(),
            first: measured.frames,
            second: outcome.frames_in,
        });
    }
    let expected_out = resampled_len(measured.frames, info.sample_rate, OPUS_RATE);
    if outcome.frames_out != expected_out {
        return Err(JobError::Internal {
            input: input.to_path_buf(),
            message: format!(
                "produced {} frames at 48 kHz, expected {expected_out}",
                outcome.frames_out
            ),
        });
    }

    let duration_seconds = measured.frames as f64 / f64::from(info.sample_rate);
    let renditions = outcome
        .renditions
        .iter()
        .map(|r| RenditionReport {
            name: r.rung.name(),
            codec: "opus",
            container: "ogg",
            file: r.file_name.clone(),
            channels: r.rung.channels,
            sample_rate: OPUS_RATE,
            bitrate_target_bps: r.rung.bitrate_bps,
            bitrate_measured_bps: (r.audio_bytes as f64 * 8.0 / duration_seconds.max(1e-9)).round()
                as u64,
            bytes: r.file_bytes,
            packets: r.packets,
            pre_skip: r.pre_skip,
            frames: r.frames,
        })
        .collect();
    let report = JobReport {
        tool: ToolInfo {
            name: "audiopack",
            version: env!("CARGO_PKG_VERSION"),
            encoder: libopus_version().to_string(),
        },
        input: InputReport {
            path: input.to_path_buf(),
            format: info.format.clone(),
            codec: info.codec.clone(),
            sample_rate: info.sample_rate,
            channels: info.channels,
            bits_per_sample: info.bits_per_sample,
            frames: measured.frames,
            duration_seconds,
            tags: info.tags.clone(),
            warnings,
        },
        loudness: LoudnessSection {
            config: config.normalize,
            input: measured.source,
            downmix: measured.downmix,
            gain,
            output: outcome.output_loudness,
        },
        processing: ProcessingReport {
            downmixed_to_stereo: info.channels > 2,
            limiter: gain.limiter_engaged,
            output_sample_rate: OPUS_RATE,
            output_channels: channels_out,
            output_frames: outcome.frames_out,
        },
        renditions,
    };
    write_report(dir, &report)?;
    Ok(report)
}

fn write_report(dir: &Path, report: &JobReport) -> Result<(), JobError> {
    let path = dir.join(MARKER);
    let mut text = serde_json::to_string_pretty(report).map_err(|e| JobError::Internal {
        input: report.input.path.clone(),
        message: format!("serializing the report: {e}"),
    })?;
    text.push('\n');
    std::fs::write(&path, text).map_err(|source| JobError::Output {
        path,
        action: "writing",
        source,
    })
}
