//! Pass 1: decode once and measure what the gain will be computed on.

use std::sync::mpsc::sync_channel;

use audiopack_encode::{
    LoudnessMeter, LoudnessReport, LoudnessSeries, OPUS_RATE, Resampler, Speaker, SpectrumMeter,
    StereoDownmix, SubsonicFilter, speakers_from_mask,
};
use audiopack_ingest::Source;

use crate::delivered::Conditioner;
use crate::error::JobError;
use crate::progress::Progress;

/// Blocks in flight to the delivered-signal meter thread.
const PLAN_BLOCKS: usize = 8;

pub(crate) struct Measurement {
    pub frames: u64,
    /// The source, all channels.
    pub source: LoudnessReport,
    /// The signal the renditions carry, as the gain plan sees it: the
    /// fold-down (more than two channels), subsonic-filtered, and resampled
    /// to 48 kHz when the source is above it (what lies over 24 kHz is not
    /// delivered, so it must not count). `None` when only the source was
    /// measured (`audiopack loudness`).
    pub planned: Option<LoudnessReport>,
    /// Whether the source has more than two channels (then `planned` is
    /// the stereo fold-down).
    pub downmixed: bool,
    /// The meter behind `planned`, kept for an album's loudness.
    pub planned_meter: Option<LoudnessMeter>,
    /// The source's loudness over time (one value per second), for
    /// `qc.json`.
    pub source_series: LoudnessSeries,
    /// The source's average spectrum ([`audiopack_encode::spectrum_bands_hz`]).
    pub source_spectrum: Vec<Option<f32>>,
}

impl Measurement {
    /// What the gain is planned on: the signal the encoders will see.
    pub fn encoded_signal(&self) -> &LoudnessReport {
        self.planned.as_ref().unwrap_or(&self.source)
    }

    /// The stereo fold-down as planned on, for sources with more than two
    /// channels.
    pub fn downmix(&self) -> Option<LoudnessReport> {
        self.planned.filter(|_| self.downmixed)
    }
}

/// The fold-down for a source, if it has more than two channels.
pub(crate) fn downmix_for(source: &Source) -> Option<StereoDownmix> {
    let info = source.info();
    let channels = usize::from(info.channels);
    (channels > 2).then(|| StereoDownmix::new(&speakers_from_mask(info.channel_mask, channels)))
}

/// The source's own loudness only (`audiopack loudness`).
pub(crate) fn measure(
    source: &mut Source,
    progress: &dyn Progress,
) -> Result<Measurement, JobError> {
    measure_inner(source, progress, false, None)
}

/// The source's loudness and the delivered signal's, which the gain is
/// planned on (`ingest`). The second chain (fold-down, resampler above
/// 48 kHz, subsonic filter, meter) runs on its own thread, so on two cores
/// pass 1 takes about as long as the source meter alone.
pub(crate) fn measure_for_plan(
    source: &mut Source,
    progress: &dyn Progress,
    cpu: Option<&crate::CpuBudget>,
) -> Result<Measurement, JobError> {
    measure_inner(source, progress, true, cpu)
}

fn measure_inner(
    source: &mut Source,
    progress: &dyn Progress,
    plan: bool,
    cpu: Option<&crate::CpuBudget>,
) -> Result<Measurement, JobError> {
    let info = source.info().clone();
    let encode_err = |source| JobError::Encode {
        input: info.path.clone(),
        stage: "loudness measurement".into(),
        source,
    };
    let channels = usize::from(info.channels);
    let speakers = speakers_from_mask(info.channel_mask, channels);
    // Only the overall true peak of the source is reported (the per-second
    // peaks drawn are the delivered rendition's): most of it is skipped.
    let mut source_meter = LoudnessMeter::new(info.sample_rate, &speakers)
        .map_err(encode_err)?
        .overall_only();
    let mut spectrum = SpectrumMeter::new(info.sample_rate, channels);
    let downmix = downmix_for(source);
    let downmixed = downmix.is_some();
    let delivered = if plan {
        Some(
            DeliveredMeter::new(downmix, info.sample_rate, if channels == 1 { 1 } else { 2 })
                .map_err(encode_err)?,
        )
    } else {
        None
    };
    std::thread::scope(|scope| {
        let mut planner = delivered.map(|mut d| {
            let (tx, rx) = sync_channel::<Vec<Vec<f32>>>(PLAN_BLOCKS);
            let handle = scope.spawn(move || {
                for block in rx {
                    let _slot = crate::budget::slot(cpu);
                    d.push(&block)?;
                }
                d.finish()
            });
            (tx, handle)
        });
        progress.start(crate::Phase::Measure, info.declared_frames);
        loop {
            let slot = crate::budget::slot(cpu);
            let Some(block) = source.next_block()? else {
                break;
            };
            source_meter.push(block).map_err(encode_err)?;
            spectrum.push(block);
            drop(slot);
            if let Some((tx, _)) = &planner
                && tx.send(block.to_vec()).is_err()
            {
                break; // the meter thread failed: its error is below
            }
            progress.advance(block[0].len() as u64);
            if progress.cancelled() {
                return Err(JobError::Cancelled {
                    input: info.path.clone(),
                });
            }
        }
        progress.finish();
        let planned = match planner.take() {
            Some((tx, handle)) => {
                drop(tx);
                let report = handle.join().unwrap_or_else(|panic| {
                    panic!(
                        "loudness meter thread panicked: {}",
                        crate::job::panic_message(panic.as_ref())
                    )
                });
                Some(report.map_err(encode_err)?)
            }
            None => None,
        };
        let (planned, planned_meter) = match planned {
            Some((report, meter)) => (Some(report), Some(meter)),
            None => (None, None),
        };
        let source_report = source_meter.report().map_err(encode_err)?;
        Ok(Measurement {
            frames: source.frames(),
            source: source_report,
            planned,
            downmixed,
            planned_meter,
            source_series: source_meter.series(),
            source_spectrum: spectrum.bands_db(),
        })
    })
}

/// Fold-down → (resampler to 48 kHz, for sources above it) → subsonic
/// filter → meter: what pass 2 feeds the gain stage.
struct DeliveredMeter {
    conditioner: Conditioner,
    resampler: Option<Resampler>,
    subsonic: SubsonicFilter,
    meter: LoudnessMeter,
    out: Vec<Vec<f32>>,
}

impl DeliveredMeter {
    fn new(
        downmix: Option<StereoDownmix>,
        rate: u32,
        channels: usize,
    ) -> Result<Self, audiopack_encode::EncodeError> {
        // Above 48 kHz, what the resampler removes (everything over 24 kHz)
        // is not delivered. At or below it, resampling adds nothing that
        // changes the loudness, so the source rate is metered as it is.
        let resampler = (rate > OPUS_RATE)
            .then(|| Resampler::new(rate, OPUS_RATE, channels))
            .transpose()?;
        let meter_rate = if resampler.is_some() { OPUS_RATE } else { rate };
        Ok(DeliveredMeter {
            conditioner: Conditioner::new(downmix),
            resampler,
            subsonic: SubsonicFilter::new(meter_rate, channels),
            meter: LoudnessMeter::new(meter_rate, &Speaker::default_layout(channels))?
                .overall_only(),
            out: vec![Vec::new(); channels],
        })
    }

    fn push(&mut self, block: &[Vec<f32>]) -> Result<(), audiopack_encode::EncodeError> {
        let signal = self.conditioner.fold(block);
        self.out.iter_mut().for_each(Vec::clear);
        match &mut self.resampler {
            Some(rs) => rs.push(signal, &mut self.out)?,
            None => {
                for (o, s) in self.out.iter_mut().zip(signal) {
                    o.extend_from_slice(s);
                }
            }
        }
        self.subsonic.process(&mut self.out);
        self.meter.push(&self.out)
    }

    fn finish(mut self) -> Result<(LoudnessReport, LoudnessMeter), audiopack_encode::EncodeError> {
        if let Some(rs) = &mut self.resampler {
            self.out.iter_mut().for_each(Vec::clear);
            rs.finish(&mut self.out)?;
            self.subsonic.process(&mut self.out);
            self.meter.push(&self.out)?;
        }
        Ok((self.meter.report()?, self.meter))
    }
}
