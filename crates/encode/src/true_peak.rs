//! A streaming 4× oversampling peak detector (BS.1770-4 Annex 2 style): the
//! limiter's view of inter-sample peaks.

/// Taps per polyphase branch; the interpolation looks `HALF` samples ahead.
const TAPS: usize = 12;
/// Detector delay in samples: peak(m) is known once x[m + HALF] arrived.
pub(crate) const HALF: usize = TAPS / 2;

/// Windowed-sinc coefficients for the fractional positions 1/4, 2/4, 3/4.
/// `COEFFS[p][k]` multiplies `x[m - HALF + 1 + k]` for the value at `m + (p+1)/4`.
fn coefficients() -> [[f32; TAPS]; 3] {
    let mut c = [[0f32; TAPS]; 3];
    let span = HALF as f64 + 0.5;
    for (p, row) in c.iter_mut().enumerate() {
        let frac = (p + 1) as f64 / 4.0;
        for (k, coef) in row.iter_mut().enumerate() {
            let i = k as f64 - (HALF as f64 - 1.0); // offset of the sample from m
            let t = frac - i;
            let sinc = if t == 0.0 {
                1.0
            } else {
                (std::f64::consts::PI * t).sin() / (std::f64::consts::PI * t)
            };
            let window = 0.5 * (1.0 + (std::f64::consts::PI * t / span).cos());
            *coef = (sinc * window) as f32;
        }
        // Normalize each branch to unity DC gain.
        let sum: f32 = row.iter().sum();
        row.iter_mut().for_each(|x| *x /= sum);
    }
    c
}

/// Per-frame peak (over all channels) of the 4× oversampled signal.
pub(crate) struct PeakDetector {
    coeffs: [[f32; TAPS]; 3],
    /// The last `TAPS` samples of each channel, oldest first.
    history: Vec<[f32; TAPS]>,
}

impl PeakDetector {
    pub(crate) fn new(channels: usize) -> Self {
        PeakDetector {
            coeffs: coefficients(),
            history: vec![[0.0; TAPS]; channels],
        }
    }

    /// Takes the next frame (one sample per channel) and returns the
    /// oversampled peak around the frame `HALF` frames back.
    pub(crate) fn push(&mut self, frame: impl Iterator<Item = f32>) -> f32 {
        let mut peak = 0f32;
        for (hist, x) in self.history.iter_mut().zip(frame) {
            hist.copy_within(1.., 0);
            hist[TAPS - 1] = x;
            peak = peak.max(hist[HALF - 1].abs());
            for row in &self.coeffs {
                let y: f32 = row.iter().zip(hist.iter()).map(|(c, s)| c * s).sum();
                peak = peak.max(y.abs());
            }
        }
        peak
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_peak_between_samples() {
        // fs/4 sine with 45° phase: samples at ±0.707, true peak 1.0.
        let mut det = PeakDetector::new(1);
        let mut max = 0f32;
        for i in 0..400 {
            let x =
                (std::f64::consts::FRAC_PI_2 * i as f64 + std::f64::consts::FRAC_PI_4).sin() as f32;
            max = max.max(det.push(std::iter::once(x)));
        }
        assert!(max > 0.97 && max < 1.03, "peak {max}");
    }
}
