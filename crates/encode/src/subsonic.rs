//! A subsonic (DC and near-DC) high-pass in front of the meter, the gain and
//! the limiter.
//!
//! Why: libopus removes what sits below a few Hz anyway (its encoder input
//! goes through a 3 Hz DC-reject filter), and BS.1770's K-weighting gives it
//! almost no loudness. Left in, DC and rumble take the limiter's headroom
//! and Opus's own high-pass then shifts the waveform after the limiter, so
//! decoded peaks pass the ceiling; and a DC-only or rumble-only master
//! reads as "quiet" and was boosted by tens of dB (full-scale DC got
//! +40 dB). With this filter the meter, the gain plan and the limiter see
//! what the listener gets: DC reads as silence and gets no gain.
//!
//! The filter: 4th-order Butterworth high-pass at 10 Hz (two biquads, f64
//! state so the poles stay exact at 384 kHz). It leaves 20 Hz within
//! 0.02 dB and takes 56 dB off 2 Hz. Each channel starts settled on its
//! first sample (as if the signal had always been there), so a file that
//! starts on a DC offset does not begin with a step, and a DC-only file
//! comes out as silence rather than as one full-scale thump.

/// The −3 dB corner.
pub const SUBSONIC_CUTOFF_HZ: f64 = 10.0;
/// Butterworth 4th order: the Q of each biquad section.
const SECTION_Q: [f64; 2] = [0.541_196_100_146_197, 1.306_562_964_876_376_6];

#[derive(Clone, Copy)]
struct Biquad {
    b0: f64,
    b1: f64,
    b2: f64,
    a1: f64,
    a2: f64,
}

impl Biquad {
    /// RBJ high-pass.
    fn high_pass(rate: u32, cutoff: f64, q: f64) -> Self {
        let w0 = 2.0 * std::f64::consts::PI * cutoff / f64::from(rate);
        let (sin, cos) = w0.sin_cos();
        let alpha = sin / (2.0 * q);
        let a0 = 1.0 + alpha;
        Biquad {
            b0: (1.0 + cos) / 2.0 / a0,
            b1: -(1.0 + cos) / a0,
            b2: (1.0 + cos) / 2.0 / a0,
            a1: -2.0 * cos / a0,
            a2: (1.0 - alpha) / a0,
        }
    }
}

/// Transposed direct form II state of one section of one channel.
#[derive(Clone, Copy, Default)]
struct State {
    s1: f64,
    s2: f64,
}

/// One sample through both sections (transposed direct form II).
#[inline(always)]
fn step(sections: &[Biquad; 2], states: &mut [State; 2], x: f32) -> f32 {
    let [f, g] = sections;
    let [s, t] = states;
    let x0 = f64::from(x);
    let y0 = f.b0 * x0 + s.s1;
    s.s1 = f.b1 * x0 - f.a1 * y0 + s.s2;
    s.s2 = f.b2 * x0 - f.a2 * y0;
    let y1 = g.b0 * y0 + t.s1;
    t.s1 = g.b1 * y0 - g.a1 * y1 + t.s2;
    t.s2 = g.b2 * y0 - g.a2 * y1;
    y1 as f32
}

/// Push-style subsonic filter over planar blocks (in place).
pub struct SubsonicFilter {
    sections: [Biquad; 2],
    states: Vec<[State; 2]>,
    settled: bool,
}

impl SubsonicFilter {
    pub fn new(rate: u32, channels: usize) -> Self {
        SubsonicFilter {
            sections: SECTION_Q.map(|q| Biquad::high_pass(rate, SUBSONIC_CUTOFF_HZ, q)),
            states: vec![[State::default(); 2]; channels],
            settled: false,
        }
    }

    /// Filters `block` (one slice per channel) in place.
    pub fn process(&mut self, block: &mut [Vec<f32>]) {
        if !self.settled && block.first().is_some_and(|c| !c.is_empty()) {
            self.settle(block);
        }
        let sections = self.sections;
        // Channels two at a time in one loop: each channel's recursion is a
        // serial chain, so two independent chains side by side run in about
        // the time of one (same arithmetic per channel, same output).
        let mut channels = block.iter_mut().zip(&mut self.states);
        loop {
            match (channels.next(), channels.next()) {
                (Some((a, sa)), Some((b, sb))) => {
                    for (x, y) in a.iter_mut().zip(b.iter_mut()) {
                        *x = step(&sections, sa, *x);
                        *y = step(&sections, sb, *y);
                    }
                }
                (Some((a, sa)), None) => {
                    for x in a.iter_mut() {
                        *x = step(&sections, sa, *x);
                    }
                    break;
                }
                _ => break,
            }
        }
    }

    /// Sets each channel's first section to the steady state of a constant
    /// input equal to its first sample (output 0); the second section then
    /// starts from zeros and stays at rest.
    fn settle(&mut self, block: &[Vec<f32>]) {
        let f = self.sections[0];
        for (channel, [s, _]) in block.iter().zip(&mut self.states) {
            let first = channel.first().map_or(0.0, |&x| f64::from(x));
            s.s2 = f.b2 * first;
            s.s1 = (f.b1 + f.b2) * first;
        }
        self.settled = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(rate: u32, input: &[f32], block: usize) -> Vec<f32> {
        let mut filter = SubsonicFilter::new(rate, 1);
        let mut out = Vec::new();
        for part in input.chunks(block) {
            let mut b = vec![part.to_vec()];
            filter.process(&mut b);
            out.extend_from_slice(&b[0]);
        }
        out
    }

    fn sine(rate: u32, freq: f64, amp: f64, frames: usize) -> Vec<f32> {
        (0..frames)
            .map(|i| {
                (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin())
                    as f32
            })
            .collect()
    }

    fn rms(x: &[f32]) -> f64 {
        (x.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
    }

    #[test]
    fn channels_filtered_together_equal_each_filtered_alone() {
        // Three channels: a pair in one loop and a single one.
        let rate = 44_100;
        let inputs = [
            sine(rate, 30.0, 0.5, 5000),
            sine(rate, 3.0, 0.7, 5000),
            sine(rate, 1000.0, 0.2, 5000),
        ];
        let mut together = SubsonicFilter::new(rate, 3);
        let mut out: Vec<Vec<f32>> = vec![Vec::new(); 3];
        for start in (0..5000).step_by(700) {
            let mut b: Vec<Vec<f32>> = inputs
                .iter()
                .map(|c| c[start..(start + 700).min(5000)].to_vec())
                .collect();
            together.process(&mut b);
            for (o, c) in out.iter_mut().zip(b) {
                o.extend(c);
            }
        }
        for (input, got) in inputs.iter().zip(&out) {
            assert_eq!(&run(rate, input, 700), got);
        }
    }

    #[test]
    fn full_scale_dc_becomes_silence() {
        for rate in [8_000, 44_100, 384_000] {
            let out = run(rate, &vec![1.0; rate as usize], 4096);
            let peak = out.iter().fold(0f32, |m, &x| m.max(x.abs()));
            assert!(peak < 1e-6, "{rate} Hz: peak {peak}");
        }
    }

    #[test]
    fn passes_the_audible_band_and_stops_rumble() {
        for rate in [44_100, 96_000, 384_000] {
            let n = rate as usize * 4;
            let steady = n / 2..n;
            for (freq, lo_db, hi_db) in [
                (20.0, -0.05, 0.01),
                (1000.0, -0.01, 0.01),
                (2.0, -70.0, -50.0),
            ] {
                let x = sine(rate, freq, 0.5, n);
                let y = run(rate, &x, 1000);
                let db = 20.0 * (rms(&y[steady.clone()]) / rms(&x[steady.clone()])).log10();
                assert!(
                    (lo_db..=hi_db).contains(&db),
                    "{rate} Hz, {freq} Hz tone: {db:.3} dB"
                );
            }
        }
    }

    #[test]
    fn a_dc_offset_is_removed_without_a_step() {
        // Music-like tone on a 0.3 DC offset: the output is the tone alone
        // from the start (no click), whatever the block size.
        let rate = 48_000;
        let tone = sine(rate, 440.0, 0.2, rate as usize);
        let offset: Vec<f32> = tone.iter().map(|x| x + 0.3).collect();
        let y = run(rate, &offset, 333);
        let worst = y
            .iter()
            .zip(&tone)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst < 0.05, "worst deviation {worst}");
    }
}
