//! Average spectrum of a signal on shared 1/6-octave bands, for comparing
//! the source with each decoded rung (a band-limited low rung shows as a
//! cliff).
//!
//! Welch's method on a sample of the signal: Hann-windowed 4096-point
//! frames (8192 from 96 kHz up, so bands keep their resolution), one frame
//! analysed out of every [`STRIDE`] (the average of a whole song does not
//! need every frame; this keeps it to a few milliseconds per minute), power
//! averaged over frames and channels, then over the FFT bins inside each
//! band. Levels are dB relative to a full-scale sine.

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};

/// Band centres: 1000 Hz · 2^(k/6) for k in this range (20 Hz … 22.6 kHz).
const BAND_K: std::ops::RangeInclusive<i32> = -34..=27;
/// Analyse one frame out of every `STRIDE`.
const STRIDE: u64 = 3;

/// The centre frequency of every band (Hz), shared by all spectra.
pub fn spectrum_bands_hz() -> Vec<f32> {
    BAND_K
        .map(|k| (1000.0 * 2f64.powf(f64::from(k) / 6.0)) as f32)
        .collect()
}

pub struct SpectrumMeter {
    rate: u32,
    channels: usize,
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    /// Per channel: samples of the frame being gathered.
    pending: Vec<Vec<f32>>,
    frame_index: u64,
    power: Vec<f64>,
    frames: u64,
    input: Vec<f32>,
    output: Vec<realfft::num_complex::Complex<f32>>,
    scratch: Vec<realfft::num_complex::Complex<f32>>,
}

impl SpectrumMeter {
    pub fn new(rate: u32, channels: usize) -> Self {
        let size = if rate >= 96_000 { 8192 } else { 4096 };
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(size);
        let window: Vec<f32> = (0..size)
            .map(|i| {
                let x = std::f64::consts::PI * 2.0 * i as f64 / size as f64;
                (0.5 - 0.5 * x.cos()) as f32
            })
            .collect();
        let output = fft.make_output_vec();
        let scratch = fft.make_scratch_vec();
        SpectrumMeter {
            rate,
            channels,
            input: vec![0.0; size],
            power: vec![0.0; output.len()],
            output,
            scratch,
            fft,
            window,
            pending: vec![Vec::with_capacity(size); channels],
            frame_index: 0,
            frames: 0,
        }
    }

    /// One slice per channel, all the same length.
    pub fn push<S: AsRef<[f32]>>(&mut self, block: &[S]) {
        if block.len() != self.channels {
            return;
        }
        let size = self.window.len();
        let n = block.first().map_or(0, |c| c.as_ref().len());
        let mut at = 0;
        while at < n {
            let have = self.pending[0].len();
            let take = (size - have).min(n - at);
            let analysed = self.frame_index.is_multiple_of(STRIDE);
            if analysed {
                for (p, c) in self.pending.iter_mut().zip(block) {
                    p.extend_from_slice(&c.as_ref()[at..at + take]);
                }
            } else {
                // Skipped frames only count their length.
                for p in &mut self.pending {
                    p.resize(have + take, 0.0);
                }
            }
            at += take;
            if self.pending[0].len() == size {
                if analysed {
                    self.analyse();
                }
                self.pending.iter_mut().for_each(Vec::clear);
                self.frame_index += 1;
            }
        }
    }

    fn analyse(&mut self) {
        for c in 0..self.channels {
            for ((i, x), w) in self
                .input
                .iter_mut()
                .zip(&self.pending[c])
                .zip(&self.window)
            {
                *i = x * w;
            }
            if self
                .fft
                .process_with_scratch(&mut self.input, &mut self.output, &mut self.scratch)
                .is_err()
            {
                return;
            }
            for (p, z) in self.power.iter_mut().zip(&self.output) {
                *p += f64::from(z.norm_sqr());
            }
        }
        self.frames += 1;
    }

    /// Level per band of [`spectrum_bands_hz`] (dB re a full-scale sine);
    /// `None` above Nyquist, for silence, or before one whole frame.
    pub fn bands_db(&self) -> Vec<Option<f32>> {
        let bands = spectrum_bands_hz();
        if self.frames == 0 {
            return vec![None; bands.len()];
        }
        let size = self.window.len() as f64;
        let sum_w2: f64 = self.window.iter().map(|&w| f64::from(w).powi(2)).sum();
        // Parseval: a sine of amplitude 1 puts N·Σw²/4 on its side of the
        // spectrum, spread over the window's main lobe.
        let scale = 4.0 / (size * sum_w2) / (self.frames as f64 * self.channels as f64);
        let bin_hz = f64::from(self.rate) / size;
        let nyquist = f64::from(self.rate) / 2.0;
        let last = self.power.len() - 1;
        bands
            .iter()
            .map(|&f| {
                let f = f64::from(f);
                let (lo, hi) = (f * 2f64.powf(-1.0 / 12.0), f * 2f64.powf(1.0 / 12.0));
                if hi > nyquist {
                    return None;
                }
                let first = ((lo / bin_hz).ceil() as usize).min(last);
                let end = ((hi / bin_hz).floor() as usize).min(last);
                // Narrow low bands hold no bin: take the nearest. Sum the
                // band's power (a band's level is its energy, so a sine reads
                // the same whichever band width holds it).
                let power = if end < first {
                    self.power[((f / bin_hz).round() as usize).min(last)]
                } else {
                    self.power[first..=end].iter().sum()
                };
                let db = 10.0 * (power * scale).log10();
                (db.is_finite() && db > -200.0).then_some(db as f32)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, freq: f64, amp: f64, n: usize) -> Vec<f32> {
        (0..n)
            .map(|i| {
                (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin())
                    as f32
            })
            .collect()
    }

    #[test]
    fn a_full_scale_sine_reads_about_0_db_in_its_band() {
        for rate in [44_100, 48_000, 96_000] {
            let x = sine(rate, 1000.0, 1.0, rate as usize * 5);
            let mut m = SpectrumMeter::new(rate, 1);
            m.push(&[&x]);
            let db = m.bands_db();
            let bands = spectrum_bands_hz();
            let at = bands
                .iter()
                .position(|&f| (f - 1000.0).abs() < 1.0)
                .expect("1 kHz band");
            let level = db[at].expect("level");
            assert!(level.abs() < 1.5, "{rate}: {level} dB");
            // Far from the tone: the window's sidelobes only.
            let far = bands.iter().position(|&f| f > 8000.0).expect("8 kHz band");
            assert!(db[far].is_none_or(|d| d < -60.0), "{:?}", db[far]);
        }
    }

    #[test]
    fn bands_above_nyquist_are_empty() {
        let x = sine(22_050, 1000.0, 0.5, 44_100);
        let mut m = SpectrumMeter::new(22_050, 1);
        m.push(&[&x]);
        let db = m.bands_db();
        let bands = spectrum_bands_hz();
        for (f, d) in bands.iter().zip(&db) {
            if f * 2f32.powf(1.0 / 12.0) > 11_025.0 {
                assert!(d.is_none(), "{f} Hz");
            }
        }
    }
}
