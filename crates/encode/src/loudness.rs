//! BS.1770-4 / EBU R128 measurement over planar blocks: loudness from
//! [`Bs1770Meter`], true peak from [`TruePeakMeter`] (oversampled by rate
//! to ≥ 192 kHz).

use serde::{Deserialize, Serialize};

use crate::bs1770::{Bs1770Meter, SURROUND_WEIGHT, lufs};
use crate::downmix::Speaker;
use crate::error::EncodeError;
use crate::true_peak_meter::TruePeakMeter;

/// What a measurement found. `None` stands for minus infinity: digital
/// silence, or less than one 400 ms gating block of signal.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoudnessReport {
    /// Gated integrated loudness (LUFS).
    pub integrated_lufs: Option<f64>,
    /// Loudness range (LU); 0 for silence or very short inputs.
    pub loudness_range_lu: f64,
    /// Highest inter-sample peak over all channels (dBTP), oversampled to
    /// at least 192 kHz (4× at 48 kHz, as BS.1770-4 specifies).
    pub true_peak_dbtp: Option<f64>,
    /// Highest sample value over all channels (dBFS).
    pub sample_peak_dbfs: Option<f64>,
}

/// Loudness over time, one value per interval (see
/// [`LoudnessMeter::series`]); `None` is minus infinity or no full window
/// yet.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoudnessSeries {
    /// Highest momentary (400 ms) loudness of the windows ending in each
    /// interval (LUFS).
    pub momentary_lufs: Vec<Option<f32>>,
    /// Short-term (3 s) loudness at the end of each interval (LUFS).
    pub short_term_lufs: Vec<Option<f32>>,
    /// Highest true peak in each interval (dBTP); empty from a meter made
    /// [`LoudnessMeter::overall_only`]. From a meter made
    /// [`LoudnessMeter::series_exact_above`], only the intervals over that
    /// level have a value (exact); the others are `None`.
    pub true_peak_dbtp: Vec<Option<f32>>,
}

/// Streaming loudness meter; memory grows by 16 bytes per 100 ms (the
/// gating blocks are kept, so gating is exact).
#[derive(Clone)]
pub struct LoudnessMeter {
    loudness: Bs1770Meter,
    peaks: TruePeakMeter,
    rate: u32,
    channels: usize,
    reported: bool,
    /// Set by [`LoudnessMeter::series_exact_above`] (linear).
    series_above: Option<f32>,
}

impl LoudnessMeter {
    /// A meter for `speakers.len()` channels at `rate` Hz. The speaker
    /// positions pick the BS.1770 weights: LFE is left out, surrounds count
    /// +1.5 dB, a mono input counts as one channel (as ffmpeg does).
    pub fn new(rate: u32, speakers: &[Speaker]) -> Result<Self, EncodeError> {
        let channels = speakers.len();
        if channels == 0 || rate == 0 {
            return Err(EncodeError::Config(format!(
                "loudness meter: {channels} channels at {rate} Hz"
            )));
        }
        let weights: Vec<f64> = if channels <= 2 {
            vec![1.0; channels]
        } else {
            speakers.iter().map(|s| s.bs1770_weight()).collect()
        };
        Ok(LoudnessMeter {
            loudness: Bs1770Meter::new(rate, &weights),
            peaks: TruePeakMeter::new(rate, channels).with_intervals(u64::from(rate)),
            rate,
            channels,
            reported: false,
            series_above: None,
        })
    }

    /// Keeps only the overall true peak (no per-second series): most of
    /// the signal is skipped against the peak found so far.
    pub fn overall_only(mut self) -> Self {
        self.peaks = TruePeakMeter::new(self.rate, self.channels);
        self
    }

    /// Per-second true peaks only where they are over `dbtp` (for marking
    /// overs; the others are `None` in [`LoudnessMeter::series`]); the
    /// overall figures stay exact. Much cheaper than a full series: the
    /// meter skips what cannot pass `dbtp`.
    pub fn series_exact_above(mut self, dbtp: f64) -> Self {
        self.peaks = TruePeakMeter::new(self.rate, self.channels)
            .with_intervals(u64::from(self.rate))
            .exact_above(dbtp);
        self.series_above = Some(10f64.powf(dbtp / 20.0) as f32);
        self
    }

    /// Feeds one block: one slice per channel, all the same length.
    pub fn push<S: AsRef<[f32]>>(&mut self, block: &[S]) -> Result<(), EncodeError> {
        if block.len() != self.channels {
            return Err(EncodeError::Config(format!(
                "loudness meter set up for {} channels was given {}",
                self.channels,
                block.len()
            )));
        }
        if self.reported {
            return Err(EncodeError::Config(
                "loudness meter fed after its report".into(),
            ));
        }
        self.loudness.push(block);
        self.peaks.push(block);
        Ok(())
    }

    /// Gated integrated loudness (LUFS) of several meters' signals taken
    /// together, as if concatenated: BS.1770 over every gating block of
    /// all of them (an album's loudness, as ReplayGain 2.0 album gain
    /// computes it). `None` for silence.
    pub fn integrated_together(meters: &[&LoudnessMeter]) -> Result<Option<f64>, EncodeError> {
        let cores: Vec<&Bs1770Meter> = meters.iter().map(|m| &m.loudness).collect();
        Ok(Bs1770Meter::integrated_together(&cores))
    }

    /// The measurement over everything pushed (the meter takes no more
    /// audio after it).
    pub fn report(&mut self) -> Result<LoudnessReport, EncodeError> {
        self.peaks.finish();
        self.reported = true;
        Ok(LoudnessReport {
            integrated_lufs: self.loudness.integrated_lufs(),
            loudness_range_lu: self.loudness.loudness_range_lu(),
            true_peak_dbtp: db(self.peaks.true_peak()),
            sample_peak_dbfs: db(self.peaks.sample_peak()),
        })
    }

    /// Loudness over time at one value per second (call after
    /// [`LoudnessMeter::report`] for the last second's peaks).
    pub fn series(&self) -> LoudnessSeries {
        let per_second = 10usize;
        let momentary = self.loudness.momentary_energies();
        let short_term = self.loudness.short_term_energies();
        // Whole or partial seconds of signal.
        let sub_blocks = momentary.len() + 3;
        let seconds = sub_blocks
            .div_ceil(per_second)
            .max(self.peaks.intervals().len());
        let level = |e: f64| -> Option<f32> {
            let l = lufs(e);
            (l.is_finite() && l > -120.0).then_some(l as f32)
        };
        let mut series = LoudnessSeries::default();
        for i in 0..seconds {
            // Momentary value k ends at (k + 4) / 10 s: in (i, i + 1].
            let lo = (per_second * i).saturating_sub(3);
            let hi = (per_second * (i + 1))
                .saturating_sub(3)
                .min(momentary.len());
            let m = momentary
                .get(lo.min(hi)..hi)
                .and_then(|w| w.iter().copied().reduce(f64::max))
                .and_then(level);
            series.momentary_lufs.push(m);
            // Short-term value k ends at (k + 30) / 10 s.
            let k = (per_second * (i + 1)).checked_sub(30);
            series
                .short_term_lufs
                .push(k.and_then(|k| short_term.get(k).copied()).and_then(level));
            if let Some(&p) = self.peaks.intervals().get(i) {
                // At or under the threshold the interval's value is only
                // known to be at most the threshold: not reported.
                let known = self.series_above.is_none_or(|t| p > t);
                series
                    .true_peak_dbtp
                    .push(db(p).filter(|_| known).map(|d| d as f32));
            }
        }
        series
    }

    pub fn rate(&self) -> u32 {
        self.rate
    }
}

fn db(linear: f32) -> Option<f64> {
    let d = 20.0 * f64::from(linear).log10();
    d.is_finite().then_some(d)
}

impl Speaker {
    /// BS.1770 channel weight (the positions ebur128's channel map gave).
    fn bs1770_weight(self) -> f64 {
        match self {
            Speaker::FrontLeft
            | Speaker::FrontLeftCenter
            | Speaker::FrontRight
            | Speaker::FrontRightCenter
            | Speaker::FrontCenter
            | Speaker::BackCenter
            | Speaker::Other => 1.0,
            Speaker::Lfe => 0.0,
            Speaker::BackLeft | Speaker::SideLeft | Speaker::BackRight | Speaker::SideRight => {
                SURROUND_WEIGHT
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sine at `dbfs` peak level, `seconds` long, on `channels` channels.
    fn sine(rate: u32, freq: f64, dbfs: f64, seconds: f64, channels: usize) -> Vec<Vec<f32>> {
        let amp = 10f64.powf(dbfs / 20.0);
        let n = (rate as f64 * seconds) as usize;
        let one: Vec<f32> = (0..n)
            .map(|i| {
                (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / rate as f64).sin()) as f32
            })
            .collect();
        vec![one; channels]
    }

    fn measure(rate: u32, block: &[Vec<f32>]) -> LoudnessReport {
        let speakers = Speaker::default_layout(block.len());
        let mut meter = LoudnessMeter::new(rate, &speakers).expect("meter");
        // Feed in uneven blocks, as a decoder would.
        let n = block[0].len();
        let mut at = 0;
        while at < n {
            let end = (at + 4099).min(n);
            let part: Vec<Vec<f32>> = block.iter().map(|c| c[at..end].to_vec()).collect();
            meter.push(&part).expect("push");
            at = end;
        }
        meter.report().expect("report")
    }

    // EBU Tech 3341 case 1: stereo 1 kHz at -23 dBFS reads -23.0 LUFS.
    #[test]
    fn tech3341_stereo_sine_minus_23() {
        for rate in [44_100, 48_000] {
            let r = measure(rate, &sine(rate, 1000.0, -23.0, 20.0, 2));
            let i = r.integrated_lufs.expect("integrated");
            assert!((i + 23.0).abs() <= 0.1, "{rate} Hz: {i} LUFS");
            assert!(r.loudness_range_lu < 0.1);
        }
    }

    // EBU Tech 3341 case 2: stereo 1 kHz at -33 dBFS reads -33.0 LUFS.
    #[test]
    fn tech3341_stereo_sine_minus_33() {
        let r = measure(48_000, &sine(48_000, 1000.0, -33.0, 20.0, 2));
        let i = r.integrated_lufs.expect("integrated");
        assert!((i + 33.0).abs() <= 0.1, "{i} LUFS");
    }

    // Tech 3341 case 3/4 style: 10 s at -36, 60 s at -23, 10 s at -36 dBFS
    // gates away the quiet parts: -23.0 LUFS.
    #[test]
    fn tech3341_relative_gate() {
        let rate = 48_000;
        let mut block = sine(rate, 1000.0, -36.0, 10.0, 2);
        for (c, loud) in block.iter_mut().zip(sine(rate, 1000.0, -23.0, 60.0, 2)) {
            c.extend(loud);
        }
        for (c, quiet) in block.iter_mut().zip(sine(rate, 1000.0, -36.0, 10.0, 2)) {
            c.extend(quiet);
        }
        let i = measure(rate, &block).integrated_lufs.expect("integrated");
        assert!((i + 23.0).abs() <= 0.1, "{i} LUFS");
    }

    // A mono 1 kHz sine is measured as one channel: 3 dB below the same
    // sine on two channels (ffmpeg's ebur128 filter agrees).
    #[test]
    fn mono_counts_one_channel() {
        let i = measure(48_000, &sine(48_000, 1000.0, -23.0, 10.0, 1))
            .integrated_lufs
            .expect("integrated");
        assert!((i + 26.0).abs() <= 0.1, "{i} LUFS");
    }

    // True peak: a 0 dBFS sine sampled at fs/4 with a 45° phase has sample
    // peaks at -3 dB but true peaks at 0 dBTP.
    #[test]
    fn true_peak_sees_between_samples() {
        let rate = 48_000;
        let n = rate as usize * 2;
        let one: Vec<f32> = (0..n)
            .map(|i| {
                (std::f64::consts::FRAC_PI_2 * i as f64 + std::f64::consts::FRAC_PI_4).sin() as f32
            })
            .collect();
        let r = measure(rate, &[one.clone(), one]);
        let tp = r.true_peak_dbtp.expect("tp");
        let sp = r.sample_peak_dbfs.expect("sp");
        assert!((sp + 3.01).abs() < 0.05, "sample peak {sp}");
        assert!(tp > -0.4 && tp < 0.3, "true peak {tp}");
    }

    #[test]
    fn silence_is_minus_infinity() {
        let r = measure(48_000, &[vec![0.0; 96_000], vec![0.0; 96_000]]);
        assert_eq!(r.integrated_lufs, None);
        assert_eq!(r.true_peak_dbtp, None);
        assert_eq!(r.loudness_range_lu, 0.0);
    }

    #[test]
    fn surround_lfe_is_ignored() {
        // 5.1 with signal only in the LFE: nothing is measured.
        let rate = 48_000;
        let mut block = vec![vec![0.0f32; rate as usize * 2]; 6];
        block[3] = sine(rate, 50.0, -6.0, 2.0, 1).remove(0);
        assert_eq!(measure(rate, &block).integrated_lufs, None);
    }
}
