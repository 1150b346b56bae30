//! Speaker positions and the ITU-R BS.775 fold-down to stereo.

/// Where a channel plays. The order of the variants follows the
/// WAVEFORMATEXTENSIBLE channel mask bits, which WAV, FLAC and symphonia use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Speaker {
    FrontLeft,
    FrontRight,
    FrontCenter,
    Lfe,
    BackLeft,
    BackRight,
    FrontLeftCenter,
    FrontRightCenter,
    BackCenter,
    SideLeft,
    SideRight,
    /// Height or unnamed channels: folded like a centre channel.
    Other,
}

const MASK_ORDER: [Speaker; 11] = [
    Speaker::FrontLeft,
    Speaker::FrontRight,
    Speaker::FrontCenter,
    Speaker::Lfe,
    Speaker::BackLeft,
    Speaker::BackRight,
    Speaker::FrontLeftCenter,
    Speaker::FrontRightCenter,
    Speaker::BackCenter,
    Speaker::SideLeft,
    Speaker::SideRight,
];

/// The speakers of a WAVEFORMATEXTENSIBLE channel mask, in channel order.
/// With no mask, or a mask that does not name `channels` speakers, the
/// default layout for that count is used.
pub fn speakers_from_mask(mask: Option<u32>, channels: usize) -> Vec<Speaker> {
    if let Some(mask) = mask {
        let mut speakers: Vec<Speaker> = (0..32)
            .filter(|bit| mask & (1 << bit) != 0)
            .map(|bit| MASK_ORDER.get(bit).copied().unwrap_or(Speaker::Other))
            .collect();
        if speakers.len() == channels {
            return speakers;
        }
        speakers.clear();
    }
    Speaker::default_layout(channels)
}

impl Speaker {
    /// The usual layout for a channel count (WAV/FLAC/SMPTE order):
    /// 1 mono, 2 stereo, 3 L R C, 4 quad, 5 L R C Ls Rs, 6 5.1,
    /// 7 6.1 (back centre), 8 7.1 (back + side).
    pub fn default_layout(channels: usize) -> Vec<Speaker> {
        use Speaker::*;
        match channels {
            1 => vec![FrontCenter],
            2 => vec![FrontLeft, FrontRight],
            3 => vec![FrontLeft, FrontRight, FrontCenter],
            4 => vec![FrontLeft, FrontRight, BackLeft, BackRight],
            5 => vec![FrontLeft, FrontRight, FrontCenter, BackLeft, BackRight],
            6 => vec![FrontLeft, FrontRight, FrontCenter, Lfe, BackLeft, BackRight],
            7 => vec![
                FrontLeft,
                FrontRight,
                FrontCenter,
                Lfe,
                BackCenter,
                SideLeft,
                SideRight,
            ],
            8 => vec![
                FrontLeft,
                FrontRight,
                FrontCenter,
                Lfe,
                BackLeft,
                BackRight,
                SideLeft,
                SideRight,
            ],
            n => vec![Other; n],
        }
    }

    /// ITU-R BS.775 coefficients (left gain, right gain) for this speaker.
    fn stereo_gains(self) -> (f32, f32) {
        const M3DB: f32 = std::f32::consts::FRAC_1_SQRT_2;
        match self {
            Speaker::FrontLeft | Speaker::FrontLeftCenter => (1.0, 0.0),
            Speaker::FrontRight | Speaker::FrontRightCenter => (0.0, 1.0),
            Speaker::FrontCenter | Speaker::BackCenter | Speaker::Other => (M3DB, M3DB),
            Speaker::BackLeft | Speaker::SideLeft => (M3DB, 0.0),
            Speaker::BackRight | Speaker::SideRight => (0.0, M3DB),
            Speaker::Lfe => (0.0, 0.0),
        }
    }
}

/// Folds any layout with more than two channels to stereo:
/// `Lo = L + 0.707·C + 0.707·Ls`, `Ro = R + 0.707·C + 0.707·Rs`, LFE dropped.
/// No normalization: the loudness stage measures the fold-down itself and
/// its peak-safe gain keeps the result under the ceiling.
#[derive(Debug, Clone)]
pub struct StereoDownmix {
    gains: Vec<(f32, f32)>,
}

impl StereoDownmix {
    pub fn new(speakers: &[Speaker]) -> Self {
        StereoDownmix {
            gains: speakers.iter().map(|s| s.stereo_gains()).collect(),
        }
    }

    /// Number of input channels this fold-down expects.
    pub fn input_channels(&self) -> usize {
        self.gains.len()
    }

    /// Folds `input` (one slice per input channel) into `out` (two channels,
    /// replaced).
    pub fn process(&self, input: &[Vec<f32>], out: &mut [Vec<f32>; 2]) {
        let frames = input.first().map_or(0, Vec::len);
        for o in out.iter_mut() {
            o.clear();
            o.resize(frames, 0.0);
        }
        let [left, right] = out;
        for (channel, &(gl, gr)) in input.iter().zip(&self.gains) {
            if gl != 0.0 {
                for (o, &x) in left.iter_mut().zip(channel) {
                    *o += gl * x;
                }
            }
            if gr != 0.0 {
                for (o, &x) in right.iter_mut().zip(channel) {
                    *o += gr * x;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_maps_to_speakers() {
        // 5.1 side: FL FR FC LFE SL SR = 0x60F
        let s = speakers_from_mask(Some(0x60F), 6);
        assert_eq!(s[3], Speaker::Lfe);
        assert_eq!(s[4], Speaker::SideLeft);
        // A mask that disagrees with the channel count falls back.
        assert_eq!(speakers_from_mask(Some(0x3), 6), Speaker::default_layout(6));
    }

    #[test]
    fn itu_fold_down_of_51() {
        let dm = StereoDownmix::new(&Speaker::default_layout(6));
        let input: Vec<Vec<f32>> = (0..6).map(|c| vec![(c + 1) as f32 * 0.1; 3]).collect();
        let mut out = [Vec::new(), Vec::new()];
        dm.process(&input, &mut out);
        let h = std::f32::consts::FRAC_1_SQRT_2;
        // L=0.1 C=0.3 LFE=0.4 Ls=0.5 ; R=0.2 Rs=0.6
        let want_l = 0.1 + h * 0.3 + h * 0.5;
        let want_r = 0.2 + h * 0.3 + h * 0.6;
        assert!(out[0].iter().all(|&x| (x - want_l).abs() < 1e-6));
        assert!(out[1].iter().all(|&x| (x - want_r).abs() < 1e-6));
        assert_eq!(out[0].len(), 3);
    }
}
