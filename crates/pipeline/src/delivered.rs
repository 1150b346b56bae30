//! The signal the renditions carry, before resampling: the stereo fold-down
//! (more than two channels). Pass 1 meters it (resampled to 48 kHz when the
//! source is above it, then subsonic-filtered) to plan the gain; pass 2
//! resamples, filters, gains, limits and encodes it. One type for both, so
//! the plan is made on what is encoded.
//!
//! The subsonic filter runs after the resampler (on 48 kHz in pass 2, and
//! in pass 1 on 48 kHz above it, the source rate at or below): at 384 kHz
//! that is 8× fewer samples to filter.

use audiopack_encode::StereoDownmix;

pub(crate) struct Conditioner {
    downmix: Option<StereoDownmix>,
    mix: [Vec<f32>; 2],
}

impl Conditioner {
    pub fn new(downmix: Option<StereoDownmix>) -> Self {
        Conditioner {
            downmix,
            mix: [Vec::new(), Vec::new()],
        }
    }

    /// Folds one source block down (or passes it through); the result
    /// lives until the next call.
    pub fn fold<'a>(&'a mut self, block: &'a [Vec<f32>]) -> &'a [Vec<f32>] {
        match &self.downmix {
            Some(dm) => {
                dm.process(block, &mut self.mix);
                &self.mix
            }
            None => block,
        }
    }
}
