//! Pass 1: decode once and measure what the gain will be computed on.

use audiopack_encode::{LoudnessMeter, LoudnessReport, Speaker, StereoDownmix, speakers_from_mask};
use audiopack_ingest::Source;

use crate::error::JobError;
use crate::progress::Progress;

pub(crate) struct Measurement {
    pub frames: u64,
    /// The source, all channels.
    pub source: LoudnessReport,
    /// The stereo fold-down, for sources with more than two channels.
    pub downmix: Option<LoudnessReport>,
}

impl Measurement {
    /// What the gain is planned on: the signal the encoders will see.
    pub fn encoded_signal(&self) -> &LoudnessReport {
        self.downmix.as_ref().unwrap_or(&self.source)
    }
}

/// The fold-down for a source, if it has more than two channels.
pub(crate) fn downmix_for(source: &Source) -> Option<StereoDownmix> {
    let info = source.info();
    let channels = usize::from(info.channels);
    (channels > 2).then(|| StereoDownmix::new(&speakers_from_mask(info.channel_mask, channels)))
}

pub(crate) fn measure(
    source: &mut Source,
    progress: &dyn Progress,
) -> Result<Measurement, JobError> {
    let info = source.info().clone();
    let encode_err = |source| JobError::Encode {
        input: info.path.clone(),
        stage: "loudness measurement".into(),
        source,
    };
    let channels = usize::from(info.channels);
    let speakers = speakers_from_mask(info.channel_mask, channels);
    let mut source_meter = LoudnessMeter::new(info.sample_rate, &speakers).map_err(encode_err)?;
    let downmix = downmix_for(source);
    let mut mix_meter = match downmix {
        Some(_) => Some(
            LoudnessMeter::new(info.sample_rate, &Speaker::default_layout(2))
                .map_err(encode_err)?,
        ),
        None => None,
    };
    let mut mix = [Vec::new(), Vec::new()];
    progress.start("measuring loudness", info.declared_frames);
    while let Some(block) = source.next_block()? {
        source_meter.push(block).map_err(encode_err)?;
        if let (Some(dm), Some(meter)) = (&downmix, &mut mix_meter) {
            dm.process(block, &mut mix);
            meter.push(&mix).map_err(encode_err)?;
        }
        progress.advance(block[0].len() as u64);
    }
    progress.finish();
    Ok(Measurement {
        frames: source.frames(),
        source: source_meter.report().map_err(encode_err)?,
        downmix: mix_meter
            .map(|m| m.report())
            .transpose()
            .map_err(encode_err)?,
    })
}
