//! Pass 2: decode again, process once, fan the 48 kHz stream out to one
//! encoder thread per rendition (and a meter thread) over bounded channels.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use audiopack_encode::{
    DecodedPeakMeter, EncodeError, FlacEncoder, Ladder, LoudnessMeter, LoudnessReport,
    OPUS_FRAME_SAMPLES, OPUS_RATE, OggOpusWriter, OpusEncoder, OpusHead, PeakEnvelope, Resampler,
    Rung, Speaker, SpectrumMeter, StereoDownmix, SubsonicFilter, TruePeakLimiter, apply_gain,
    opus_tags_packet,
};
use audiopack_ingest::{FlacRoundTrip, Source};

use crate::config::Layout;
use crate::delivered::Conditioner;
use crate::error::JobError;
use crate::package::{TrackCrypto, TrackPackager};
use crate::progress::{OutputSink, Progress};
use audiopack_drm::TrackType;

/// Blocks in flight per consumer. With ~4 k-frame blocks this is well under
/// a megabyte per rendition, and it lets the decoder run a little ahead.
const CHANNEL_BLOCKS: usize = 8;

type Block = Arc<Vec<Vec<f32>>>;

#[derive(Clone)]
pub(crate) struct EncodePlan<'a> {
    /// What this pass is for (progress).
    pub phase: crate::Phase,
    pub gain: f32,
    /// True-peak ceiling for the limiter, when it is engaged.
    pub limiter_ceiling_dbtp: Option<f64>,
    pub downmix: Option<StereoDownmix>,
    /// 1 or 2: what the renditions (and the output meter) carry.
    pub channels_out: u8,
    /// The renditions to encode; empty for a measuring-only pass.
    pub ladder: &'a Ladder,
    pub out_dir: &'a Path,
    pub vendor: &'a str,
    pub tags: Vec<(String, String)>,
    /// Write Ogg Opus files.
    pub ogg: bool,
    /// Cut CMAF segments for HLS/DASH.
    pub cmaf: Option<CmafPlan>,
    /// Encode the FLAC tier from the untouched source.
    pub lossless: Option<LosslessPlan>,
    /// Decode every rendition's packets and meter their true peak
    /// (`--limiter`: the ceiling is checked on what players output).
    pub check_decoded_peaks: bool,
    /// Told about each media file as it is completed.
    pub sink: &'a dyn OutputSink,
    /// Slots every stage takes around each block's computation.
    pub cpu: Option<&'a crate::CpuBudget>,
    /// The true-peak ceiling asked for (dBTP).
    pub ceiling_dbtp: f64,
}

#[derive(Clone)]
pub(crate) struct CmafPlan {
    pub layout: Layout,
    pub segment_packets: u32,
    /// The real length at 48 kHz (known from pass 1).
    pub frames_out: u64,
    /// Common Encryption of every rendition.
    pub protection: Option<std::sync::Arc<audiopack_drm::PackageProtection>>,
}

#[derive(Clone, Copy)]
pub(crate) struct LosslessPlan {
    pub bits_per_sample: u32,
    pub block_size: usize,
    /// Source-rate ticks per segment (a multiple of the block size when
    /// the boundaries align with the Opus ones).
    pub segment_ticks: u64,
    /// The real length at the source rate.
    pub frames: u64,
}

pub(crate) struct OggOutcome {
    pub file_name: String,
    pub file_bytes: u64,
}

pub(crate) struct RenditionOutcome {
    pub rung: Rung,
    pub ogg: Option<OggOutcome>,
    pub packager: Option<TrackPackager>,
    /// Opus payload bytes (no container framing).
    pub audio_bytes: u64,
    pub packets: u64,
    pub pre_skip: u16,
    pub frames: u64,
    /// Everything measured on the decoded rendition, when checked
    /// (`None` inside for silence or below the gate).
    pub decoded: Option<audiopack_encode::DecodedMeasurement>,
    /// Loudness over time and spectrum of the decoded rendition (and its
    /// peak envelope for the delivered one), when checked.
    pub qc: Option<RenditionQc>,
}

pub(crate) struct RenditionQc {
    pub series: audiopack_encode::LoudnessSeries,
    pub spectrum_db: Vec<Option<f32>>,
    /// Seconds per bucket, minima, maxima.
    pub envelope: Option<(f64, Vec<f32>, Vec<f32>)>,
}

impl RenditionOutcome {
    /// The decoded rendition's true peak (dBTP), when checked and not
    /// silent.
    pub fn decoded_true_peak_dbtp(&self) -> Option<f64> {
        self.decoded.and_then(|d| d.true_peak_dbtp)
    }
}

pub(crate) struct LosslessOutcome {
    pub packager: TrackPackager,
    pub frames: u64,
    pub plan: LosslessPlan,
    /// The encoded frames decoded again and compared with the source.
    pub check: Option<audiopack_ingest::FlacCheck>,
}

pub(crate) struct EncodeOutcome {
    pub frames_in: u64,
    pub frames_out: u64,
    pub output_loudness: LoudnessReport,
    pub renditions: Vec<RenditionOutcome>,
    pub lossless: Option<LosslessOutcome>,
}

/// Why the producer stopped early.
enum Stop {
    Failed(JobError),
    /// A consumer hung up: its own error says why.
    ConsumerGone,
}

pub(crate) fn encode(
    source: &mut Source,
    plan: &EncodePlan<'_>,
    progress: &dyn Progress,
) -> Result<EncodeOutcome, JobError> {
    let info = source.info().clone();
    let channels_out = plan.channels_out;
    std::thread::scope(|scope| {
        let mut senders: Vec<SyncSender<Block>> = Vec::new();
        let mut encoders = Vec::new();
        for (index, &rung) in plan.ladder.rungs.iter().enumerate() {
            let (tx, rx) = sync_channel::<Block>(CHANNEL_BLOCKS);
            senders.push(tx);
            let sinks = RenditionSinks {
                ogg: plan.ogg.then(|| OggSink {
                    file_name: format!("{}.opus", rung.name()),
                    head: OpusHead {
                        channels: rung.channels,
                        pre_skip: 0, // set from the encoder inside the thread
                        input_sample_rate: info.sample_rate,
                        output_gain_q8: 0,
                    },
                    tags: opus_tags_packet(plan.vendor, &plan.tags),
                }),
                cmaf: plan.cmaf.clone(),
                index: index as u16,
                check_peaks: plan.check_decoded_peaks,
                // The highest-bitrate rung is the one the QC page draws.
                delivered: Some(index) == delivered_index(plan.ladder),
                ceiling_dbtp: plan.ceiling_dbtp,
            };
            let input = info.path.clone();
            let dir = plan.out_dir.to_path_buf();
            let sink = plan.sink;
            let cpu = plan.cpu;
            encoders.push(
                scope.spawn(move || encode_rendition(rx, rung, sinks, dir, input, sink, cpu)),
            );
        }
        let mut lossless_tx = None;
        let mut lossless = None;
        if let (Some(lp), Some(c)) = (plan.lossless, plan.cmaf.as_ref()) {
            let (tx, rx) = sync_channel::<Block>(CHANNEL_BLOCKS);
            lossless_tx = Some(tx);
            let packager = TrackPackager::new(
                &info.path,
                plan.out_dir,
                "flac",
                c.layout,
                info.sample_rate,
                lp.segment_ticks,
                lp.frames,
            )?
            .encrypted(
                c.protection
                    .as_ref()
                    .map(|p| TrackCrypto::new(p, TrackType::Lossless, 0, "flac")),
            );
            let input = info.path.clone();
            let (rate, channels) = (info.sample_rate, usize::from(info.channels));
            let sink = plan.sink;
            let cpu = plan.cpu;
            let verify = plan.check_decoded_peaks;
            lossless = Some(scope.spawn(move || {
                encode_lossless(rx, lp, rate, channels, packager, input, sink, cpu, verify)
            }));
        }
        let (meter_tx, meter_rx) = sync_channel::<Block>(CHANNEL_BLOCKS);
        senders.push(meter_tx);
        let meter_input = info.path.clone();
        let cpu = plan.cpu;
        let meter = scope.spawn(move || measure_output(meter_rx, channels_out, meter_input, cpu));

        let produced = produce(
            source,
            plan,
            usize::from(channels_out),
            &senders,
            lossless_tx.as_ref(),
            progress,
        );
        drop(senders);
        drop(lossless_tx);

        let mut renditions = Vec::new();
        let mut first_error = None;
        for handle in encoders {
            match join(handle, &info.path) {
                Ok(r) => renditions.push(r),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        let loudness = join(meter, &info.path);
        let lossless = match lossless.map(|h| join(h, &info.path)).transpose() {
            Ok(l) => l,
            Err(e) => {
                first_error.get_or_insert(e);
                None
            }
        };
        let (frames_in, frames_out) = match produced {
            Ok(counts) => counts,
            Err(Stop::Failed(e)) => return Err(e),
            Err(Stop::ConsumerGone) => {
                return Err(first_error
                    .or(loudness.err())
                    .unwrap_or_else(|| JobError::Internal {
                        input: info.path.clone(),
                        message: "an encoder stopped without saying why".into(),
                    }));
            }
        };
        if let Some(e) = first_error {
            return Err(e);
        }
        Ok(EncodeOutcome {
            frames_in,
            frames_out,
            output_loudness: loudness?,
            renditions,
            lossless,
        })
    })
}

fn join<T>(
    handle: std::thread::ScopedJoinHandle<'_, Result<T, JobError>>,
    input: &Path,
) -> Result<T, JobError> {
    handle.join().unwrap_or_else(|panic| {
        Err(JobError::Internal {
            input: input.to_path_buf(),
            message: format!(
                "worker thread panicked: {}",
                crate::job::panic_message(panic.as_ref())
            ),
        })
    })
}

/// Decode → (downmix) → resample → subsonic filter → gain → (limiter) →
/// every consumer.
/// Returns (input frames, output frames).
fn produce(
    source: &mut Source,
    plan: &EncodePlan<'_>,
    channels_out: usize,
    senders: &[SyncSender<Block>],
    lossless: Option<&SyncSender<Block>>,
    progress: &dyn Progress,
) -> Result<(u64, u64), Stop> {
    let info = source.info().clone();
    let failed = |stage: &str, source: EncodeError| {
        Stop::Failed(JobError::Encode {
            input: info.path.clone(),
            stage: stage.to_string(),
            source,
        })
    };
    let mut resampler = Resampler::new(info.sample_rate, OPUS_RATE, channels_out)
        .map_err(|e| failed("resampler", e))?;
    let mut limiter = plan
        .limiter_ceiling_dbtp
        .map(|ceiling| TruePeakLimiter::new(ceiling, OPUS_RATE, channels_out));
    let mut conditioner = Conditioner::new(plan.downmix.clone());
    let mut subsonic = SubsonicFilter::new(OPUS_RATE, channels_out);
    let mut frames_out = 0u64;
    let mut emit = |mut block: Vec<Vec<f32>>,
                    limiter: &mut Option<TruePeakLimiter>,
                    last: bool|
     -> Result<(), Stop> {
        apply_gain(&mut block, plan.gain);
        if let Some(lim) = limiter.as_mut() {
            let mut limited = vec![Vec::with_capacity(block[0].len()); channels_out];
            lim.push(&block, &mut limited);
            if last {
                lim.finish(&mut limited);
            }
            block = limited;
        }
        if block[0].is_empty() {
            return Ok(());
        }
        frames_out += block[0].len() as u64;
        let block = Arc::new(block);
        for tx in senders {
            tx.send(Arc::clone(&block))
                .map_err(|_| Stop::ConsumerGone)?;
        }
        Ok(())
    };
    progress.start(plan.phase, source.info().declared_frames);
    loop {
        let slot = crate::budget::slot(plan.cpu);
        let block = match source.next_block() {
            Ok(Some(block)) => block,
            Ok(None) => break,
            Err(e) => return Err(Stop::Failed(e.into())),
        };
        let frames = block[0].len();
        let original = lossless.map(|_| Arc::new(block.to_vec()));
        let input = conditioner.fold(block);
        let mut out = vec![Vec::with_capacity(frames * 2); channels_out];
        resampler
            .push(input, &mut out)
            .map_err(|e| failed("resampler", e))?;
        subsonic.process(&mut out);
        // Given back before waiting on the consumers' channels.
        drop(slot);
        if let (Some(tx), Some(original)) = (lossless, original) {
            tx.send(original).map_err(|_| Stop::ConsumerGone)?;
        }
        emit(out, &mut limiter, false)?;
        progress.advance(frames as u64);
        if progress.cancelled() {
            return Err(Stop::Failed(JobError::Cancelled {
                input: source.info().path.clone(),
            }));
        }
    }
    let mut tail = vec![Vec::new(); channels_out];
    resampler
        .finish(&mut tail)
        .map_err(|e| failed("resampler", e))?;
    subsonic.process(&mut tail);
    emit(tail, &mut limiter, true)?;
    progress.finish();
    Ok((source.frames(), frames_out))
}

/// Where one rendition's packets go.
struct RenditionSinks {
    ogg: Option<OggSink>,
    cmaf: Option<CmafPlan>,
    /// The rung's place in the ladder (distinct IVs per rendition).
    index: u16,
    /// Decode the packets and meter their true peak.
    check_peaks: bool,
    /// Keep the decoded peak envelope too.
    delivered: bool,
    /// The true-peak ceiling (overs are marked above it).
    ceiling_dbtp: f64,
}

/// The rung whose decoded signal stands for "delivered" in `qc.json`.
pub(crate) fn delivered_index(ladder: &Ladder) -> Option<usize> {
    ladder
        .rungs
        .iter()
        .enumerate()
        .max_by_key(|(_, r)| r.bitrate_bps)
        .map(|(i, _)| i)
}

struct OggSink {
    file_name: String,
    head: OpusHead,
    tags: Vec<u8>,
}

fn encode_rendition(
    rx: Receiver<Block>,
    rung: Rung,
    sinks: RenditionSinks,
    dir: PathBuf,
    input: PathBuf,
    sink: &dyn OutputSink,
    cpu: Option<&crate::CpuBudget>,
) -> Result<RenditionOutcome, JobError> {
    let stage = format!("rendition {}", rung.name());
    let encode_err = |path: &Path, source: EncodeError| match source {
        EncodeError::Io(source) => JobError::Output {
            path: path.to_path_buf(),
            action: "writing",
            source,
        },
        source => JobError::Encode {
            input: input.clone(),
            stage: stage.clone(),
            source,
        },
    };
    let mut encoder = OpusEncoder::new(rung).map_err(|e| encode_err(&dir, e))?;
    let pre_skip = encoder.pre_skip();
    let mut ogg = match sinks.ogg {
        Some(sink) => {
            let path = dir.join(&sink.file_name);
            let file = File::create(&path).map_err(|source| JobError::Output {
                path: path.clone(),
                action: "creating",
                source,
            })?;
            let head = OpusHead {
                pre_skip,
                ..sink.head
            };
            let serial = stable_serial(&rung.name());
            let writer = OggOpusWriter::new(
                BufWriter::with_capacity(64 * 1024, file),
                serial,
                head,
                sink.tags,
            )
            .map_err(|e| encode_err(&path, e))?;
            Some((writer, path, sink.file_name))
        }
        None => None,
    };
    // Every Opus rendition has the same pre-skip, so the same cuts.
    let mut cmaf = match sinks.cmaf {
        Some(c) => Some(
            TrackPackager::new(
                &input,
                &dir,
                &rung.name(),
                c.layout,
                OPUS_RATE,
                u64::from(c.segment_packets) * OPUS_FRAME_SAMPLES as u64,
                u64::from(pre_skip) + c.frames_out,
            )?
            .encrypted(
                c.protection
                    .as_ref()
                    .map(|p| TrackCrypto::new(p, TrackType::Lossy, sinks.index, &rung.name())),
            ),
        ),
        None => None,
    };
    let mut packets = Vec::new();
    let mut count = 0u64;
    let mut audio_bytes = 0u64;
    let mut peaks = if sinks.check_peaks {
        // Per-second true peaks only mark overs of the ceiling (qc.json's
        // `true_peak_overs`): what cannot pass it is skipped, which is most
        // of the signal.
        Some(
            DecodedPeakMeter::new(rung.channels, pre_skip, Some(sinks.ceiling_dbtp))
                .map_err(|e| encode_err(&dir, e))?,
        )
    } else {
        None
    };
    let mut spectrum = sinks
        .check_peaks
        .then(|| SpectrumMeter::new(OPUS_RATE, usize::from(rung.channels)));
    let mut envelope = (sinks.check_peaks && sinks.delivered).then(|| PeakEnvelope::new(OPUS_RATE));
    // Decoding and metering what was encoded: CPU work, done under the
    // caller's budget slot.
    let mut measure =
        |packets: &[audiopack_encode::OpusPacket], real_frames: u64| -> Result<(), JobError> {
            let Some(meter) = peaks.as_mut() else {
                return Ok(());
            };
            for p in packets {
                meter
                    .push(p, real_frames)
                    .map_err(|e| encode_err(&dir, e))?;
                if let Some(s) = spectrum.as_mut() {
                    s.push(meter.last());
                }
                if let Some(e) = envelope.as_mut() {
                    e.push(meter.last());
                }
            }
            Ok(())
        };
    // Packaging and writing, which may wait on the output: no slot held.
    let mut deliver = |packets: &mut Vec<audiopack_encode::OpusPacket>| -> Result<(), JobError> {
        for p in packets.drain(..) {
            count += 1;
            audio_bytes += p.data.len() as u64;
            if let Some(pk) = cmaf.as_mut() {
                pk.push(&p.data, OPUS_FRAME_SAMPLES as u32, sink)?;
            }
            if let Some((writer, path, _)) = ogg.as_mut() {
                writer.write(p).map_err(|e| encode_err(path, e))?;
            }
        }
        Ok(())
    };
    for block in rx {
        let slot = crate::budget::slot(cpu);
        encoder
            .push(&block, &mut packets)
            .map_err(|e| encode_err(&dir, e))?;
        measure(&packets, encoder.frames_in())?;
        drop(slot);
        deliver(&mut packets)?;
    }
    let slot = crate::budget::slot(cpu);
    encoder
        .finish(&mut packets)
        .map_err(|e| encode_err(&dir, e))?;
    measure(&packets, encoder.frames_in())?;
    drop(slot);
    deliver(&mut packets)?;
    let (decoded, qc) = match peaks.as_mut() {
        Some(meter) => (
            Some(meter.measurement().map_err(|e| encode_err(&dir, e))?),
            Some(RenditionQc {
                series: meter.series().map_err(|e| encode_err(&dir, e))?,
                spectrum_db: spectrum.map(|s| s.bands_db()).unwrap_or_default(),
                envelope: envelope.map(PeakEnvelope::finish),
            }),
        ),
        None => (None, None),
    };
    let frames = encoder.frames_in();
    let ogg = match ogg {
        Some((writer, path, file_name)) => {
            let write_err = |source| JobError::Output {
                path: path.clone(),
                action: "writing",
                source,
            };
            let mut out = writer.finish(frames).map_err(|e| encode_err(&path, e))?;
            out.flush().map_err(write_err)?;
            let file = out.into_inner().map_err(|e| write_err(e.into_error()))?;
            let file_bytes = file.metadata().map_err(write_err)?.len();
            drop(file);
            sink.file_ready(&file_name)
                .map_err(|message| JobError::Sink { message })?;
            Some(OggOutcome {
                file_name,
                file_bytes,
            })
        }
        None => None,
    };
    if let Some(pk) = cmaf.as_mut() {
        pk.finish_fragments(sink)?;
    }
    Ok(RenditionOutcome {
        rung,
        ogg,
        packager: cmaf,
        audio_bytes,
        packets: count,
        pre_skip,
        frames,
        decoded,
        qc,
    })
}

#[allow(clippy::too_many_arguments)]
fn encode_lossless(
    rx: Receiver<Block>,
    plan: LosslessPlan,
    rate: u32,
    channels: usize,
    mut packager: TrackPackager,
    input: PathBuf,
    sink: &dyn OutputSink,
    cpu: Option<&crate::CpuBudget>,
    verify: bool,
) -> Result<LosslessOutcome, JobError> {
    let encode_err = |source| JobError::Encode {
        input: input.clone(),
        stage: "lossless tier".into(),
        source,
    };
    let mut encoder = FlacEncoder::new(rate, channels, plan.bits_per_sample, plan.block_size)
        .map_err(encode_err)?;
    // Every frame decoded again (symphonia) and hashed against the input.
    let mut check = if verify {
        FlacRoundTrip::new(rate, channels, plan.bits_per_sample, plan.block_size as u32).ok()
    } else {
        None
    };
    let mut frames = Vec::new();
    for block in rx {
        let slot = crate::budget::slot(cpu);
        encoder.push(&block, &mut frames).map_err(encode_err)?;
        if let Some(c) = check.as_mut() {
            c.source(&block);
            for f in &frames {
                c.frame(&f.data, f.samples);
            }
        }
        drop(slot);
        for f in frames.drain(..) {
            packager.push(&f.data, f.samples, sink)?;
        }
    }
    encoder.finish(&mut frames).map_err(encode_err)?;
    if let Some(c) = check.as_mut() {
        for f in &frames {
            c.frame(&f.data, f.samples);
        }
    }
    for f in frames.drain(..) {
        packager.push(&f.data, f.samples, sink)?;
    }
    packager.finish_fragments(sink)?;
    Ok(LosslessOutcome {
        packager,
        frames: encoder.frames_in(),
        plan,
        check: check.map(FlacRoundTrip::finish),
    })
}

fn measure_output(
    rx: Receiver<Block>,
    channels: u8,
    input: PathBuf,
    cpu: Option<&crate::CpuBudget>,
) -> Result<LoudnessReport, JobError> {
    let encode_err = |source| JobError::Encode {
        input: input.clone(),
        stage: "output loudness".into(),
        source,
    };
    let mut meter = LoudnessMeter::new(OPUS_RATE, &Speaker::default_layout(usize::from(channels)))
        .map_err(encode_err)?
        .overall_only();
    for block in rx {
        let _slot = crate::budget::slot(cpu);
        meter.push(&block).map_err(encode_err)?;
    }
    meter.report().map_err(encode_err)
}

/// A deterministic Ogg serial number per rendition (FNV-1a of its name), so
/// reruns are byte-identical and renditions differ from each other.
fn stable_serial(name: &str) -> u32 {
    name.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}
