//! The entry points: `probe`, `loudness`, `run_ingest`.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use audiopack_encode::{
    LoudnessReport, OPUS_RATE, db_to_linear, libopus_version, plan_gain, resampled_len,
};
use audiopack_ingest::{IngestConfig, ScanReport, Source, scan};
use serde::Serialize;

use audiopack_ingest::SourceInfo;
use audiopack_segmenter::{SampleEntry, TrackDescription, TrackLoudness};

use crate::album::TrackMeasurement;
use crate::config::JobConfig;
use crate::encode_pass::{CmafPlan, EncodeOutcome, EncodePlan, LosslessPlan, encode};
use crate::error::JobError;
use crate::input::JobInput;
use crate::inventory::{PACKAGE_FORMAT_VERSION, PackageFile, REPORT_FILE, list_files};
use crate::manifests::{self, TrackFacts};
use crate::measure::{Measurement, downmix_for, measure, measure_for_plan};
use crate::progress::{NoSink, OutputSink, Progress};
use crate::report::{
    InputReport, JobReport, LoudnessSection, PackageReport, ProcessingReport, RenditionReport,
    ToolInfo,
};
use crate::staging::Staging;

/// Runs `f`, turning a panic anywhere below into [`JobError::Internal`].
pub(crate) fn guarded<T>(
    input: &Path,
    f: impl FnOnce() -> Result<T, JobError>,
) -> Result<T, JobError> {
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
    input: &dyn JobInput,
    out_dir: &Path,
    config: &JobConfig,
    progress: &dyn Progress,
) -> Result<JobReport, JobError> {
    config.validate()?;
    // Before anything is created: a FIFO or device would block or never end.
    input.check()?;
    guarded(input.label(), || {
        let staging = Staging::new(out_dir, input.local_file())?;
        let report = run_into(input, staging.path(), config, progress, &NoSink, None)?;
        staging.commit()?;
        Ok(report)
    })
}

/// The whole job into `dir`, an existing empty directory the caller owns
/// (no staging, no rename: on error the caller removes `dir`). `sink` hears
/// of every media file as soon as it is complete, so a publisher can upload
/// while the encode goes on; the playlists, the MPD and `report.json` are
/// in `dir` when this returns.
pub fn run_ingest_into(
    input: &dyn JobInput,
    dir: &Path,
    config: &JobConfig,
    progress: &dyn Progress,
    sink: &dyn OutputSink,
) -> Result<JobReport, JobError> {
    config.validate()?;
    input.check()?;
    guarded(input.label(), || {
        run_into(input, dir, config, progress, sink, None)
    })
}

/// [`run_ingest`] with pass 1 already done ([`crate::measure_track`], for
/// an album): only the encode pass reads the input.
pub fn run_ingest_premeasured(
    input: &dyn JobInput,
    measured: TrackMeasurement,
    out_dir: &Path,
    config: &JobConfig,
    progress: &dyn Progress,
) -> Result<JobReport, JobError> {
    config.validate()?;
    input.check()?;
    guarded(input.label(), || {
        let staging = Staging::new(out_dir, input.local_file())?;
        let report = run_into(
            input,
            staging.path(),
            config,
            progress,
            &NoSink,
            Some(measured),
        )?;
        staging.commit()?;
        Ok(report)
    })
}

/// [`run_ingest_into`] with pass 1 already done ([`crate::measure_track`]).
pub fn run_ingest_into_premeasured(
    input: &dyn JobInput,
    measured: TrackMeasurement,
    dir: &Path,
    config: &JobConfig,
    progress: &dyn Progress,
    sink: &dyn OutputSink,
) -> Result<JobReport, JobError> {
    config.validate()?;
    input.check()?;
    guarded(input.label(), || {
        run_into(input, dir, config, progress, sink, Some(measured))
    })
}

/// Passes each finished media file on, noting its size first (the next
/// sink may delete it once stored): the report lists every file.
struct RecordingSink<'a> {
    dir: &'a Path,
    inner: &'a dyn OutputSink,
    files: Mutex<Vec<PackageFile>>,
}

impl OutputSink for RecordingSink<'_> {
    fn file_ready(&self, relative: &str) -> Result<(), String> {
        let bytes = std::fs::metadata(self.dir.join(relative))
            .map_err(|e| format!("{relative}: {e}"))?
            .len();
        if let Ok(mut files) = self.files.lock() {
            files.push(PackageFile {
                path: relative.to_string(),
                bytes,
            });
        }
        self.inner.file_ready(relative)
    }
}

fn run_into(
    input: &dyn JobInput,
    dir: &Path,
    config: &JobConfig,
    progress: &dyn Progress,
    sink: &dyn OutputSink,
    measured: Option<TrackMeasurement>,
) -> Result<JobReport, JobError> {
    let recorder = RecordingSink {
        dir,
        inner: sink,
        files: Mutex::new(Vec::new()),
    };
    let (pass1, sha256) = match measured {
        Some(m) => {
            let TrackMeasurement {
                measurement,
                info,
                warnings,
                sha256,
                ..
            } = m;
            (Some((measurement, info, warnings)), sha256)
        }
        None => (None, input.sha256()?),
    };
    let mut report = encode_into(input, dir, config, progress, &recorder, pass1)?;
    report.input.sha256 = sha256;
    report.settings_digest = Some(config.settings_digest());
    // Files announced (and perhaps already moved away by the sink) and
    // files still here (manifests, playlists, Ogg files).
    let mut files = recorder
        .files
        .into_inner()
        .map_err(|_| JobError::Internal {
            input: input.label().to_path_buf(),
            message: "file list poisoned".into(),
        })?;
    files.extend(list_files(dir)?);
    // The last word on each file wins: an encode repeated at a lower gain
    // announced it again, and what is on disk is what is there.
    let mut sizes = std::collections::BTreeMap::new();
    for f in files {
        sizes.insert(f.path, f.bytes);
    }
    sizes.remove(crate::qc::QC_PAGE);
    report.files = sizes
        .into_iter()
        .map(|(path, bytes)| PackageFile { path, bytes })
        .collect();
    if config.qc_page {
        write_qc_page(dir, &mut report)?;
    }
    write_report(dir, &report)?;
    Ok(report)
}

/// Writes `report.html` from the report as it will be written, listing
/// the page itself with its exact size (the page embeds the report, so
/// its size is found by rendering until it stops changing: the number's
/// digits are all that move).
fn write_qc_page(dir: &Path, report: &mut JobReport) -> Result<(), JobError> {
    let internal = |message: String| JobError::Internal {
        input: report.input.path.clone(),
        message,
    };
    let qc = std::fs::read_to_string(dir.join(crate::qc::QC_FILE)).ok();
    report.files.push(PackageFile {
        path: crate::qc::QC_PAGE.into(),
        bytes: 0,
    });
    report.files.sort();
    let mut page = String::new();
    for _ in 0..8 {
        let text = report_text(report)?;
        page = audiopack_qc::render_report_page(&text, qc.as_deref())
            .map_err(|e| internal(format!("rendering {}: {e}", crate::qc::QC_PAGE)))?;
        let entry = report
            .files
            .iter_mut()
            .find(|f| f.path == crate::qc::QC_PAGE)
            .ok_or_else(|| internal("report.html left the file list".into()))?;
        if entry.bytes == page.len() as u64 {
            break;
        }
        entry.bytes = page.len() as u64;
    }
    let path = dir.join(crate::qc::QC_PAGE);
    std::fs::write(&path, page).map_err(|source| JobError::Output {
        path,
        action: "writing",
        source,
    })
}

fn encode_into(
    input: &dyn JobInput,
    dir: &Path,
    config: &JobConfig,
    progress: &dyn Progress,
    sink: &dyn OutputSink,
    pass1: Option<(Measurement, SourceInfo, Vec<String>)>,
) -> Result<JobReport, JobError> {
    // Pass 1: measure (unless done already, for an album).
    let (measured, info, warnings) = match pass1 {
        Some(done) => done,
        None => {
            let mut source = input.open(&config.ingest)?;
            let info = source.info().clone();
            let measured = measure_for_plan(&mut source, progress, config.cpu.as_ref())?;
            let warnings = source.warnings().to_vec();
            (measured, info, warnings)
        }
    };
    let gain = match &config.album {
        Some(album) => {
            crate::album::track_plan(album, measured.encoded_signal(), &config.normalize)
        }
        None => plan_gain(measured.encoded_signal(), &config.normalize),
    };

    // Pass 2: encode.
    let mut source = input.open(&config.ingest)?;
    let downmix = downmix_for(&source);
    let channels_out: u8 = if info.channels == 1 { 1 } else { 2 };
    let ladder = config.ladder_for(channels_out)?;
    let vendor = format!(
        "audiopack {} ({})",
        env!("CARGO_PKG_VERSION"),
        libopus_version()
    );
    let lossless = lossless_plan(&info, config, measured.frames);
    let mut plan = EncodePlan {
        phase: crate::Phase::Encode,
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
        ogg: config.formats.ogg,
        cmaf: config.formats.cmaf().then_some(CmafPlan {
            layout: config.layout,
            segment_packets: config.segment_packets,
            frames_out: resampled_len(measured.frames, info.sample_rate, OPUS_RATE),
            protection: config.protection.clone(),
        }),
        lossless: lossless.as_ref().ok().map(|(plan, _)| *plan),
        // With `measure_decoded`, every rendition is decoded and measured
        // as it is written: what listeners get (`renditions[].decoded`).
        check_decoded_peaks: config.measure_decoded,
        sink,
        cpu: config.cpu.as_ref(),
        ceiling_dbtp: config.normalize.true_peak_ceiling_dbtp,
    };
    let mut gain = gain;
    // --limiter: calibrate the gain through the limiter and hold the
    // ceiling on the decoded renditions (peak_control.rs).
    let planned_on = *measured.encoded_signal();
    let mut peak_control =
        crate::peak_control::settle(input, config, &mut plan, &mut gain, &planned_on, progress)?;
    let mut outcome = encode(&mut source, &plan, progress)?;
    match &mut peak_control {
        Some(control) => crate::peak_control::conclude(control, &outcome, &mut gain),
        // Without --limiter: the gain holds the ceiling on what players
        // decode, lowered and encoded again when a rung went over.
        None if plan.check_decoded_peaks && !plan.ladder.rungs.is_empty() => {
            peak_control = Some(crate::peak_control::hold_after_codec(
                input,
                config,
                &mut plan,
                &mut gain,
                &mut outcome,
                progress,
            )?);
        }
        None => {}
    }
    if outcome.frames_in != measured.frames {
        return Err(JobError::InputChanged {
            input: input.label().to_path_buf(),
            first: measured.frames,
            second: outcome.frames_in,
        });
    }
    let expected_out = resampled_len(measured.frames, info.sample_rate, OPUS_RATE);
    if outcome.frames_out != expected_out {
        return Err(JobError::Internal {
            input: input.label().to_path_buf(),
            message: format!(
                "produced {} frames at 48 kHz, expected {expected_out}",
                outcome.frames_out
            ),
        });
    }

    let duration_seconds = measured.frames as f64 / f64::from(info.sample_rate);
    let package = if config.formats.cmaf() {
        Some(package_outputs(
            dir,
            &info,
            config,
            &mut outcome,
            &measured.source,
            sink,
            lossless
                .as_ref()
                .map(|(_, aligned)| *aligned)
                .map_err(Clone::clone),
        )?)
    } else {
        None
    };
    let renditions = outcome
        .renditions
        .iter()
        .map(|r| RenditionReport {
            name: r.rung.name(),
            codec: crate::report::Codec::Opus,
            file: r.ogg.as_ref().map(|o| o.file_name.clone()),
            channels: r.rung.channels,
            sample_rate: OPUS_RATE,
            bitrate_target_bps: r.rung.bitrate_bps,
            bitrate_measured_bps: (r.audio_bytes as f64 * 8.0 / duration_seconds.max(1e-9)).round()
                as u64,
            bytes: r.ogg.as_ref().map_or(0, |o| o.file_bytes),
            packets: r.packets,
            pre_skip: r.pre_skip,
            frames: r.frames,
            decoded: r.decoded.map(Into::into),
        })
        .collect();
    let report = JobReport {
        schema_version: crate::report::REPORT_SCHEMA_VERSION,
        settings_digest: None,
        tool: ToolInfo {
            name: "audiopack".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            encoder: libopus_version().to_string(),
        },
        format_version: PACKAGE_FORMAT_VERSION,
        input: InputReport {
            path: input.report_name(),
            sha256: None,
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
            downmix: measured.downmix(),
            planned_on,
            gain,
            album: config.album,
            output: outcome.output_loudness,
            // Without peak control no rendition was decoded (lossless
            // only): nothing to warn about.
            decoded_warnings: peak_control
                .as_ref()
                .map(|control| control.warnings.clone())
                .unwrap_or_default(),
            peak_control,
        },
        processing: ProcessingReport {
            downmixed_to_stereo: plan.downmix.is_some(),
            limiter: gain.limiter_engaged,
            output_sample_rate: OPUS_RATE,
            output_channels: channels_out,
            output_frames: outcome.frames_out,
        },
        renditions,
        protection: config.protection.as_deref().map(|p| {
            let lossless = package
                .as_ref()
                .is_some_and(|pk| pk.renditions.iter().any(|r| r.codecs == "flac"));
            crate::report::ProtectionReport::new(p, lossless)
        }),
        package,
        files: Vec::new(),
    };
    if config.measure_decoded {
        let qc = crate::qc::qc_data(
            &measured,
            &outcome,
            &report.loudness.gain,
            &config.normalize,
            duration_seconds,
        );
        crate::qc::write_qc(dir, &qc, &report.input.path)?;
    }
    Ok(report)
}

/// The FLAC tier for this source, and whether its segments can end at the
/// same times as the Opus ones; or why there is none.
fn lossless_plan(
    info: &SourceInfo,
    config: &JobConfig,
    frames: u64,
) -> Result<(LosslessPlan, bool), String> {
    if !config.lossless {
        return Err("disabled (--no-lossless)".into());
    }
    if !config.formats.cmaf() {
        return Err("no HLS/DASH package requested".into());
    }
    let integer_pcm = info.codec == "flac"
        || (info.codec.starts_with("pcm_s") || info.codec.starts_with("pcm_u"))
            && info.format != "mp3";
    if !integer_pcm {
        return Err(format!(
            "the source is {} ({}): a lossless tier needs integer PCM or FLAC",
            info.codec, info.format
        ));
    }
    let bits = info.bits_per_sample.unwrap_or(0);
    if !matches!(bits, 8 | 12 | 16 | 20 | 24) {
        return Err(format!(
            "{bits}-bit samples: the FLAC tier takes 8, 12, 16, 20 or 24 bits"
        ));
    }
    if info.sample_rate > 96_000 {
        return Err(format!(
            "{} Hz: the FLAC encoder stops at 96 kHz",
            info.sample_rate
        ));
    }
    let rate_ticks = u64::from(info.sample_rate) * u64::from(config.segment_packets);
    let max_block = if info.sample_rate <= 48_000 {
        4608
    } else {
        16_384
    };
    if rate_ticks % 50 == 0 {
        let segment_ticks = rate_ticks / 50;
        if let Some(block) = (1024..=max_block.min(segment_ticks))
            .filter(|d| segment_ticks % d == 0)
            .max_by_key(|d| (d.trailing_zeros().min(6), *d))
        {
            return Ok((
                LosslessPlan {
                    bits_per_sample: bits,
                    block_size: block as usize,
                    segment_ticks,
                    frames,
                },
                true,
            ));
        }
    }
    // No block size divides the segment: segments end on the first block
    // boundary past each target, so they drift from the Opus boundaries.
    Ok((
        LosslessPlan {
            bits_per_sample: bits,
            block_size: 4096,
            segment_ticks: rate_ticks.div_ceil(50),
            frames,
        },
        false,
    ))
}

fn track_loudness(l: &LoudnessReport) -> Option<TrackLoudness> {
    Some(TrackLoudness {
        integrated_lufs: l.integrated_lufs?,
        true_peak_dbtp: l.true_peak_dbtp?,
        sample_peak_dbfs: l.sample_peak_dbfs?,
    })
}

/// Completes every packaged track (init segments now that the loudness is
/// known) and writes the manifests.
fn package_outputs(
    dir: &Path,
    info: &SourceInfo,
    config: &JobConfig,
    outcome: &mut EncodeOutcome,
    source_loudness: &LoudnessReport,
    sink: &dyn OutputSink,
    lossless: Result<bool, String>,
) -> Result<PackageReport, JobError> {
    let output_loudness = track_loudness(&outcome.output_loudness);
    let mut opus_tracks = Vec::new();
    for r in &mut outcome.renditions {
        let Some(packager) = r.packager.take() else {
            continue;
        };
        // dOps InputSampleRate is informational per the spec, but Chromium's
        // MP4 parser rejects an Opus entry whose dOps rate differs from the
        // sample entry's 48 kHz (found by the player tests): write 48 kHz.
        let mut track = TrackDescription::opus(r.rung.channels, r.pre_skip, OPUS_RATE, r.frames);
        track.loudness = output_loudness;
        opus_tracks.push((
            packager.complete(&track, sink)?,
            r.rung.channels,
            u64::from(r.pre_skip),
            r.frames,
        ));
    }
    let mut lossless_check = None;
    let flac_track = match outcome.lossless.take() {
        Some(l) => {
            lossless_check = l.check.clone();
            let track = TrackDescription {
                entry: SampleEntry::Flac {
                    channels: info.channels as u8,
                    bits_per_sample: l.plan.bits_per_sample as u8,
                    sample_rate: info.sample_rate,
                    block_size: l.plan.block_size as u16,
                    total_samples: l.frames,
                },
                timescale: info.sample_rate,
                duration: l.frames,
                media_time: 0,
                roll_distance: None,
                loudness: track_loudness(source_loudness),
                encryption: None,
            };
            Some((l.packager.complete(&track, sink)?, l.frames))
        }
        None => None,
    };
    let opus: Vec<_> = opus_tracks
        .iter()
        .map(|(t, channels, pre_skip, frames)| {
            manifests::rendition(&TrackFacts {
                track: t,
                codecs: "opus",
                channels: *channels,
                sample_rate: OPUS_RATE,
                media_time: *pre_skip,
                duration: *frames,
                protection: config
                    .protection
                    .as_deref()
                    .map(|p| manifests::protection(p, audiopack_drm::TrackType::Lossy)),
            })
        })
        .collect();
    let flac = flac_track.as_ref().map(|(t, frames)| {
        manifests::rendition(&TrackFacts {
            track: t,
            codecs: "flac",
            channels: info.channels as u8,
            sample_rate: info.sample_rate,
            media_time: 0,
            duration: *frames,
            protection: config
                .protection
                .as_deref()
                .map(|p| manifests::protection(p, audiopack_drm::TrackType::Lossless)),
        })
    });
    let duration_ticks = outcome.frames_out;
    let manifests = manifests::write_manifests(
        dir,
        &opus,
        flac.as_ref(),
        duration_ticks,
        OPUS_RATE,
        config.formats.hls,
        config.formats.dash,
    )?;
    let mut renditions: Vec<_> = opus
        .iter()
        .zip(&opus_tracks)
        .map(|(r, (t, ..))| manifests::report_entry(r, t))
        .collect();
    if let (Some(r), Some((t, _))) = (&flac, &flac_track) {
        let mut entry = manifests::report_entry(r, t);
        entry.lossless_check = lossless_check.map(|c| crate::report::LosslessCheck {
            bit_exact: c.bit_exact,
            problem: c.failure.or_else(|| {
                c.first_difference
                    .map(|f| format!("sample frame {f} differs"))
            }),
            source_md5: c.source_md5,
            decoded_md5: c.decoded_md5,
        });
        renditions.push(entry);
    }
    Ok(PackageReport {
        layout: config.layout,
        segment_duration_seconds: f64::from(config.segment_packets) / 50.0,
        manifests,
        renditions,
        lossless_skipped: lossless.as_ref().err().cloned(),
        lossless_aligned: lossless.ok(),
    })
}

fn report_text(report: &JobReport) -> Result<String, JobError> {
    let mut text = serde_json::to_string_pretty(report).map_err(|e| JobError::Internal {
        input: report.input.path.clone(),
        message: format!("serializing the report: {e}"),
    })?;
    text.push('\n');
    Ok(text)
}

fn write_report(dir: &Path, report: &JobReport) -> Result<(), JobError> {
    let path = dir.join(REPORT_FILE);
    let text = report_text(report)?;
    std::fs::write(&path, text).map_err(|source| JobError::Output {
        path,
        action: "writing",
        source,
    })
}
