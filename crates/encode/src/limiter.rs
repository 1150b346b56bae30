//! A look-ahead true-peak limiter for `--limiter`: reaches the loudness
//! target on quiet, peaky masters without passing the ceiling.
//!
//! Design (per frame, channels linked so the stereo image does not move):
//! 1. a 4× oversampling detector gives the inter-sample peak `p`;
//! 2. the gain each frame needs is `g = min(1, ceiling / p)`;
//! 3. a sliding minimum over the look-ahead window `L` and an instant-attack,
//!    exponential-release follower give `r`;
//! 4. an `L`-tap moving average of `r` ramps the gain down smoothly *before*
//!    the peak; because every value in that average is at most the gain the
//!    peak needs, the peak itself is always held under the ceiling;
//! 5. the audio is delayed to meet its gain. `finish` flushes the delay, so
//!    the output has exactly as many frames as the input.

use std::collections::VecDeque;

use crate::true_peak::{HALF, PeakDetector};

/// Look-ahead (and attack) time.
const LOOKAHEAD_SECONDS: f64 = 0.005;
/// Release time constant.
const RELEASE_SECONDS: f64 = 0.080;
/// Headroom kept below the ceiling for the detector's interpolation error.
const DETECTOR_MARGIN_DB: f64 = 0.2;

pub struct TruePeakLimiter {
    threshold: f32,
    detector: PeakDetector,
    lookahead: usize,
    release: f64,
    /// Monotonic deque of (frame index, needed gain) for the sliding minimum.
    minima: VecDeque<(u64, f32)>,
    follower: f64,
    /// The last `lookahead` follower values and their sum (the moving average).
    ramp: VecDeque<f64>,
    ramp_sum: f64,
    /// Audio waiting for its gain, per channel.
    delay: Vec<VecDeque<f32>>,
    frames_in: u64,
    frames_out: u64,
    /// Frames of detector input seen (input + flush zeros).
    detector_frames: u64,
}

impl TruePeakLimiter {
    /// A limiter holding the true peak under `ceiling_dbtp` at `rate` Hz.
    pub fn new(ceiling_dbtp: f64, rate: u32, channels: usize) -> Self {
        let lookahead = ((f64::from(rate) * LOOKAHEAD_SECONDS).round() as usize).max(1);
        let threshold = 10f64.powf((ceiling_dbtp - DETECTOR_MARGIN_DB) / 20.0) as f32;
        TruePeakLimiter {
            threshold,
            detector: PeakDetector::new(channels),
            lookahead,
            release: 1.0 - (-1.0 / (RELEASE_SECONDS * f64::from(rate))).exp(),
            minima: VecDeque::new(),
            follower: 1.0,
            ramp: std::iter::repeat_n(1.0, lookahead).collect(),
            ramp_sum: lookahead as f64,
            delay: vec![VecDeque::new(); channels],
            frames_in: 0,
            frames_out: 0,
            detector_frames: 0,
        }
    }

    /// Frames of latency between input and output (flushed by `finish`).
    pub fn latency(&self) -> usize {
        HALF + self.lookahead - 1
    }

    /// Limits `input` and appends the frames that are ready to `out`.
    pub fn push(&mut self, input: &[Vec<f32>], out: &mut [Vec<f32>]) {
        let frames = input.first().map_or(0, Vec::len);
        self.frames_in += frames as u64;
        for i in 0..frames {
            for (d, channel) in self.delay.iter_mut().zip(input) {
                d.push_back(channel[i]);
            }
            let peak = self.detector.push(input.iter().map(|c| c[i]));
            self.step(peak, out);
        }
    }

    /// Flushes the look-ahead with silence; the output then has exactly as
    /// many frames as were pushed.
    pub fn finish(&mut self, out: &mut [Vec<f32>]) {
        let channels = self.delay.len();
        while self.frames_out < self.frames_in {
            for d in &mut self.delay {
                d.push_back(0.0);
            }
            let peak = self.detector.push(std::iter::repeat_n(0.0, channels));
            self.step(peak, out);
        }
    }

    /// One detector frame: update the gain path and emit one output frame
    /// once the delay line is full.
    fn step(&mut self, peak: f32, out: &mut [Vec<f32>]) {
        self.detector_frames += 1;
        // The detector speaks about frame m = detector_frames - 1 - HALF.
        if self.detector_frames <= HALF as u64 {
            return;
        }
        let m = self.detector_frames - 1 - HALF as u64;
        let needed = if peak > self.threshold {
            self.threshold / peak
        } else {
            1.0
        };
        while self.minima.back().is_some_and(|&(_, g)| g >= needed) {
            self.minima.pop_back();
        }
        self.minima.push_back((m, needed));
        while self
            .minima
            .front()
            .is_some_and(|&(i, _)| i + (self.lookahead as u64) <= m)
        {
            self.minima.pop_front();
        }
        let window_min = f64::from(self.minima.front().map_or(1.0, |&(_, g)| g));
        self.follower = (self.follower + (1.0 - self.follower) * self.release).min(window_min);
        self.ramp_sum += self.follower - self.ramp.pop_front().unwrap_or(1.0);
        self.ramp.push_back(self.follower);
        let gain = (self.ramp_sum / self.lookahead as f64) as f32;
        // The output frame is m - (lookahead - 1).
        if m + 1 < self.lookahead as u64 {
            return;
        }
        if self.frames_out >= self.frames_in {
            return;
        }
        for (o, d) in out.iter_mut().zip(&mut self.delay) {
            let x = d.pop_front().unwrap_or(0.0);
            o.push(x * gain.min(1.0));
        }
        self.frames_out += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::true_peak::PeakDetector;

    fn run(input: &[Vec<f32>], ceiling: f64, block: usize) -> Vec<Vec<f32>> {
        let mut lim = TruePeakLimiter::new(ceiling, 48_000, input.len());
        let mut out = vec![Vec::new(); input.len()];
        let n = input[0].len();
        let mut at = 0;
        while at < n {
            let end = (at + block).min(n);
            let part: Vec<Vec<f32>> = input.iter().map(|c| c[at..end].to_vec()).collect();
            lim.push(&part, &mut out);
            at = end;
        }
        lim.finish(&mut out);
        out
    }

    fn true_peak(x: &[Vec<f32>]) -> f32 {
        let mut det = PeakDetector::new(x.len());
        let mut max = 0f32;
        for i in 0..x[0].len() + HALF {
            max = max.max(det.push(x.iter().map(|c| c.get(i).copied().unwrap_or(0.0))));
        }
        max
    }

    #[test]
    fn holds_peaks_under_the_ceiling_and_keeps_length() {
        // A quiet tone with loud clicks (+3 dBFS, i.e. after a big gain).
        let n = 48_000 + 17;
        let one: Vec<f32> = (0..n)
            .map(|i| {
                let t = i as f64 / 48_000.0;
                let click = if i % 12_000 < 24 {
                    1.4 * (2.0 * std::f64::consts::PI * 3000.0 * t).sin()
                } else {
                    0.0
                };
                (0.1 * (2.0 * std::f64::consts::PI * 440.0 * t).sin() + click) as f32
            })
            .collect();
        let input = vec![one.clone(), one];
        let out = run(&input, -1.0, 1000);
        assert_eq!(out[0].len(), n);
        let tp_db = 20.0 * true_peak(&out).log10();
        assert!(tp_db <= -1.0, "true peak {tp_db} dBTP");
        // Away from the clicks the tone is untouched (and not delayed).
        let i = 6_000;
        assert!((out[0][i] - input[0][i]).abs() < 1e-6);
    }

    #[test]
    fn quiet_audio_passes_unchanged() {
        let one: Vec<f32> = (0..10_000)
            .map(|i| 0.25 * ((i as f32) * 0.01).sin())
            .collect();
        let out = run(std::slice::from_ref(&one), -1.0, 333);
        assert_eq!(out[0], one);
    }
}
