//! BS.1770-4 loudness and EBU Tech 3342 loudness range, our own streaming
//! implementation (true peak lives in [`crate::TruePeakMeter`]).
//!
//! * K-weighting: the two BS.1770 biquads (high shelf, then RLB high-pass),
//!   designed for the actual rate from their analog prototypes (the 48 kHz
//!   coefficients of the standard come out to within 1e-9), run in f64.
//! * Energy is summed per 100 ms sub-block (`round(rate / 10)` frames), per
//!   channel, weighted (L/R/C 1.0, surrounds 1.41, LFE 0), as each sample is
//!   filtered: nothing is summed twice.
//! * Momentary (400 ms) and short-term (3 s) energies are the sums of the
//!   last 4 and 30 sub-blocks, evaluated every 100 ms and **kept** (8 bytes
//!   each, 10 per second: 2.3 MB for the longest 6-hour input), so gating
//!   is exact (no histogram bins), an album's gating runs over its tracks'
//!   blocks together, and the loudness-over-time series for `qc.json` come
//!   for free.
//! * Integrated: absolute gate −70 LUFS, relative gate −10 LU. Loudness
//!   range: short-term values with an absolute gate of −70 LUFS and a
//!   relative gate of −20 LU, 95th minus 10th percentile (nearest rank).
//!
//! Replaces the `ebur128` crate, which filtered and re-summed each 400 ms
//! block frame by frame: metering the source, the planned signal, the
//! output and four decoded renditions cost a fifth of a whole job.

/// Channel weight of a surround channel (+1.5 dB).
pub const SURROUND_WEIGHT: f64 = 1.41;

/// K-weighting for one channel: two biquads in direct form II transposed.
#[derive(Clone, Copy)]
struct KWeighting {
    shelf: Biquad,
    highpass: Biquad,
}

#[derive(Clone, Copy, Default)]
struct Biquad {
    b: [f64; 3],
    a: [f64; 2],
    s1: f64,
    s2: f64,
}

impl Biquad {
    #[inline(always)]
    fn run(&mut self, x: f64) -> f64 {
        let y = self.b[0] * x + self.s1;
        self.s1 = self.b[1] * x - self.a[0] * y + self.s2;
        self.s2 = self.b[2] * x - self.a[1] * y;
        y
    }
}

impl KWeighting {
    fn new(rate: u32) -> Self {
        let rate = f64::from(rate);
        // Stage 1: high shelf (head effects).
        let f0 = 1_681.974_450_955_533;
        let gain_db = 3.999_843_853_973_347;
        let q = 0.707_175_236_955_419_6;
        let k = (std::f64::consts::PI * f0 / rate).tan();
        let vh = 10f64.powf(gain_db / 20.0);
        let vb = vh.powf(0.499_666_774_154_541_6);
        let a0 = 1.0 + k / q + k * k;
        let shelf = Biquad {
            b: [
                (vh + vb * k / q + k * k) / a0,
                2.0 * (k * k - vh) / a0,
                (vh - vb * k / q + k * k) / a0,
            ],
            a: [2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0],
            ..Biquad::default()
        };
        // Stage 2: RLB high-pass.
        let f0 = 38.135_470_876_024_44;
        let q = 0.500_327_037_323_877_3;
        let k = (std::f64::consts::PI * f0 / rate).tan();
        let a0 = 1.0 + k / q + k * k;
        let highpass = Biquad {
            b: [1.0, -2.0, 1.0],
            a: [2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0],
            ..Biquad::default()
        };
        KWeighting { shelf, highpass }
    }

    /// Sum of squares of the K-weighted `xs`.
    #[inline]
    fn energy(&mut self, xs: &[f32]) -> f64 {
        let mut sum = 0.0;
        for &x in xs {
            let y = self.highpass.run(self.shelf.run(f64::from(x)));
            sum += y * y;
        }
        self.flush_denormals();
        sum
    }

    /// Denormals in the state would slow every later sample down (after
    /// the input goes silent).
    fn flush_denormals(&mut self) {
        for s in [
            &mut self.shelf.s1,
            &mut self.shelf.s2,
            &mut self.highpass.s1,
            &mut self.highpass.s2,
        ] {
            if s.abs() < 1e-30 {
                *s = 0.0;
            }
        }
    }

    /// Both channels of a stereo pair in one loop (independent chains run
    /// side by side in the CPU).
    #[inline]
    fn energy_pair(a: &mut Self, b: &mut Self, xa: &[f32], xb: &[f32]) -> (f64, f64) {
        let (mut sa, mut sb) = (0.0, 0.0);
        for (&x, &y) in xa.iter().zip(xb) {
            let ya = a.highpass.run(a.shelf.run(f64::from(x)));
            let yb = b.highpass.run(b.shelf.run(f64::from(y)));
            sa += ya * ya;
            sb += yb * yb;
        }
        a.flush_denormals();
        b.flush_denormals();
        (sa, sb)
    }
}

/// Streaming BS.1770 meter over planar f32 blocks.
#[derive(Clone)]
pub struct Bs1770Meter {
    filters: Vec<KWeighting>,
    weights: Vec<f64>,
    /// Frames per 100 ms sub-block.
    sub_len: usize,
    /// Frames in the current sub-block so far, and its weighted energy.
    sub_fill: usize,
    sub_energy: f64,
    /// Weighted energy sums of the last 30 complete sub-blocks (ring).
    recent: [f64; 30],
    completed: u64,
    /// Mean-square (weighted) of each 400 ms block, one per 100 ms from
    /// the fourth sub-block on.
    momentary: Vec<f64>,
    /// Mean-square of each 3 s block, one per 100 ms from the 30th on.
    short_term: Vec<f64>,
}

impl Bs1770Meter {
    /// `weights`: one per channel (1.0 front, [`SURROUND_WEIGHT`] surround,
    /// 0.0 LFE).
    pub fn new(rate: u32, weights: &[f64]) -> Self {
        Bs1770Meter {
            filters: vec![KWeighting::new(rate); weights.len()],
            weights: weights.to_vec(),
            sub_len: ((rate as usize) + 5) / 10,
            sub_fill: 0,
            sub_energy: 0.0,
            recent: [0.0; 30],
            completed: 0,
            momentary: Vec::new(),
            short_term: Vec::new(),
        }
    }

    pub fn channels(&self) -> usize {
        self.weights.len()
    }

    /// One slice per channel, all the same length.
    pub fn push<S: AsRef<[f32]>>(&mut self, block: &[S]) {
        if block.len() != self.weights.len() {
            return;
        }
        let n = block.first().map_or(0, |c| c.as_ref().len());
        let mut at = 0;
        while at < n {
            let take = (self.sub_len - self.sub_fill).min(n - at);
            self.sub_energy += self.energy(block, at, at + take);
            self.sub_fill += take;
            at += take;
            if self.sub_fill == self.sub_len {
                self.complete_sub_block();
            }
        }
    }

    fn energy<S: AsRef<[f32]>>(&mut self, block: &[S], from: usize, to: usize) -> f64 {
        let mut total = 0.0;
        let mut c = 0;
        while c < block.len() {
            if c + 1 < block.len() {
                let (left, right) = self.filters.split_at_mut(c + 1);
                let (ea, eb) = KWeighting::energy_pair(
                    &mut left[c],
                    &mut right[0],
                    &block[c].as_ref()[from..to],
                    &block[c + 1].as_ref()[from..to],
                );
                total += self.weights[c] * ea + self.weights[c + 1] * eb;
                c += 2;
            } else {
                total += self.weights[c] * self.filters[c].energy(&block[c].as_ref()[from..to]);
                c += 1;
            }
        }
        total
    }

    fn complete_sub_block(&mut self) {
        let slot = (self.completed % 30) as usize;
        self.recent[slot] = self.sub_energy;
        self.completed += 1;
        self.sub_energy = 0.0;
        self.sub_fill = 0;
        let n = self.completed as usize;
        let len = self.sub_len as f64;
        if n >= 4 {
            let sum: f64 = (0..4).map(|i| self.recent[(n - 1 - i) % 30]).sum();
            self.momentary.push(sum / (4.0 * len));
        }
        if n >= 30 {
            let sum: f64 = self.recent.iter().sum();
            self.short_term.push(sum / (30.0 * len));
        }
    }

    /// Mean squares of every 400 ms block so far (one per 100 ms).
    pub fn momentary_energies(&self) -> &[f64] {
        &self.momentary
    }

    /// Mean squares of every 3 s block so far (one per 100 ms).
    pub fn short_term_energies(&self) -> &[f64] {
        &self.short_term
    }

    /// Gated integrated loudness (LUFS); `None` below the gates or with
    /// less than one 400 ms block.
    pub fn integrated_lufs(&self) -> Option<f64> {
        integrated(&[self])
    }

    /// Integrated loudness over several meters' blocks together (an
    /// album's, as ReplayGain 2.0 album gain computes it).
    pub fn integrated_together(meters: &[&Bs1770Meter]) -> Option<f64> {
        integrated(meters)
    }

    /// EBU Tech 3342 loudness range (LU); 0 for silence or under 3 s.
    pub fn loudness_range_lu(&self) -> f64 {
        let absolute = energy_of(-70.0);
        let gated: Vec<f64> = self
            .short_term
            .iter()
            .copied()
            .filter(|&e| e > absolute)
            .collect();
        if gated.is_empty() {
            return 0.0;
        }
        let mean = gated.iter().sum::<f64>() / gated.len() as f64;
        let relative = mean * db_ratio(-20.0);
        let mut kept: Vec<f64> = gated
            .into_iter()
            .filter(|&e| e > relative)
            .map(lufs)
            .collect();
        if kept.is_empty() {
            return 0.0;
        }
        kept.sort_by(f64::total_cmp);
        let at = |p: f64| kept[((kept.len() - 1) as f64 * p).round() as usize];
        (at(0.95) - at(0.10)).max(0.0)
    }
}

fn integrated(meters: &[&Bs1770Meter]) -> Option<f64> {
    let absolute = energy_of(-70.0);
    let blocks = || {
        meters
            .iter()
            .flat_map(|m| m.momentary.iter().copied())
            .filter(|&e| e > absolute)
    };
    let (sum, count) = blocks().fold((0.0, 0usize), |(s, n), e| (s + e, n + 1));
    if count == 0 {
        return None;
    }
    let relative = sum / count as f64 * db_ratio(-10.0);
    let (sum, count) = blocks()
        .filter(|&e| e > relative)
        .fold((0.0, 0usize), |(s, n), e| (s + e, n + 1));
    (count > 0).then(|| lufs(sum / count as f64))
}

/// Loudness of a weighted mean square.
pub fn lufs(energy: f64) -> f64 {
    -0.691 + 10.0 * energy.log10()
}

fn energy_of(lufs: f64) -> f64 {
    10f64.powf((lufs + 0.691) / 10.0)
}

fn db_ratio(db: f64) -> f64 {
    10f64.powf(db / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k_weighting_at_48k_matches_the_standard_coefficients() {
        // BS.1770-4 Table 1 and 2 (48 kHz).
        let k = KWeighting::new(48_000);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(close(k.shelf.b[0], 1.535_124_859_586_97));
        assert!(close(k.shelf.b[1], -2.691_696_189_406_38));
        assert!(close(k.shelf.b[2], 1.198_392_810_852_85));
        assert!(close(k.shelf.a[0], -1.690_659_293_182_41));
        assert!(close(k.shelf.a[1], 0.732_480_774_215_85));
        assert!(close(k.highpass.a[0], -1.990_047_454_833_98));
        assert!(close(k.highpass.a[1], 0.990_072_250_366_21));
    }

    fn sine(rate: u32, freq: f64, dbfs: f64, seconds: f64) -> Vec<f32> {
        let amp = 10f64.powf(dbfs / 20.0);
        (0..(f64::from(rate) * seconds) as usize)
            .map(|i| {
                (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin())
                    as f32
            })
            .collect()
    }

    #[test]
    fn stereo_1k_at_minus_23_reads_minus_23() {
        for rate in [8_000, 11_025, 44_100, 48_000, 96_000, 192_000] {
            let x = sine(rate, 1000.0, -23.0, 10.0);
            let mut m = Bs1770Meter::new(rate, &[1.0, 1.0]);
            for (a, b) in x.chunks(1234).zip(x.chunks(1234)) {
                m.push(&[a, b]);
            }
            let i = m.integrated_lufs().expect("loud enough");
            assert!((i + 23.0).abs() < 0.05, "{rate}: {i}");
            assert!(m.loudness_range_lu() < 0.1);
        }
    }

    #[test]
    fn tech3342_case_1_range_is_10() {
        // EBU Tech 3342 test 1: 20 s at -20 dBFS then 20 s at -30 dBFS,
        // 1 kHz stereo: LRA 10 LU (±1).
        let rate = 48_000;
        let mut x = sine(rate, 1000.0, -20.0, 20.0);
        x.extend(sine(rate, 1000.0, -30.0, 20.0));
        let mut m = Bs1770Meter::new(rate, &[1.0, 1.0]);
        m.push(&[&x, &x]);
        let lra = m.loudness_range_lu();
        assert!((lra - 10.0).abs() < 1.0, "{lra}");
    }

    #[test]
    fn silence_and_short_inputs_have_no_loudness() {
        let mut m = Bs1770Meter::new(48_000, &[1.0]);
        m.push(&[vec![0.0f32; 96_000]]);
        assert_eq!(m.integrated_lufs(), None);
        let mut m = Bs1770Meter::new(48_000, &[1.0]);
        m.push(&[sine(48_000, 1000.0, -10.0, 0.3)]);
        assert_eq!(m.integrated_lufs(), None);
        assert_eq!(m.loudness_range_lu(), 0.0);
    }

    #[test]
    fn blocks_every_100_ms() {
        let mut m = Bs1770Meter::new(44_100, &[1.0]);
        m.push(&[vec![0.1f32; 44_100 * 5]]);
        assert_eq!(m.momentary_energies().len(), 47);
        assert_eq!(m.short_term_energies().len(), 21);
    }

    #[test]
    fn album_gating_runs_over_both_tracks() {
        let rate = 48_000;
        let loud = sine(rate, 1000.0, -20.0, 10.0);
        let quiet = sine(rate, 1000.0, -26.0, 10.0);
        let mut a = Bs1770Meter::new(rate, &[1.0]);
        a.push(&[&loud]);
        let mut b = Bs1770Meter::new(rate, &[1.0]);
        b.push(&[&quiet]);
        let mut both = Bs1770Meter::new(rate, &[1.0]);
        both.push(&[&loud]);
        both.push(&[&quiet]);
        let together = Bs1770Meter::integrated_together(&[&a, &b]).expect("loud");
        let concatenated = both.integrated_lufs().expect("loud");
        // The seam block is the only difference.
        assert!(
            (together - concatenated).abs() < 0.05,
            "{together} {concatenated}"
        );
    }
}
