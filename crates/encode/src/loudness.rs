//! BS.1770-4 / EBU R128 measurement over planar blocks.

use ebur128::{Channel, EbuR128, Mode};
use serde::{Deserialize, Serialize};

use crate::downmix::Speaker;
use crate::error::EncodeError;
use crate::resample::Resampler;

/// What a measurement found. `None` stands for minus infinity: digital
/// silence, or less than one 400 ms gating block of signal.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoudnessReport {
    /// Gated integrated loudness (LUFS).
    pub integrated_lufs: Option<f64>,
    /// Loudness range (LU); 0 for silence or very short inputs.
    pub loudness_range_lu: f64,
    /// Highest inter-sample peak over all channels (dBTP, 4× oversampled
    /// below 96 kHz as BS.1770-4 asks).
    pub true_peak_dbtp: Option<f64>,
    /// Highest sample value over all channels (dBFS).
    pub sample_peak_dbfs: Option<f64>,
}

/// Streaming loudness meter. Uses ebur128's histogram mode so memory stays
/// fixed whatever the duration (its histogram resolution is 0.01 LU).
pub struct LoudnessMeter {
    meter: EbuR128,
    channels: usize,
    /// Sources below [`OVERSAMPLE_BELOW_HZ`]: a copy resampled to
    /// [`TRUE_PEAK_RATE`] whose sample peak is the true peak.
    oversampler: Option<Oversampler>,
}

/// ebur128's true peak oversamples 4× (2× from 96 kHz): at 8 kHz that
/// reaches only 32 kHz and misses inter-sample peaks. BS.1770-4 specifies
/// 4× at 48 kHz, i.e. an effective 192 kHz; below 44.1 kHz the signal is
/// resampled to 192 kHz (band-limited, as ffmpeg's ebur128 filter does)
/// and its sample peak taken.
const OVERSAMPLE_BELOW_HZ: u32 = 44_100;
const TRUE_PEAK_RATE: u32 = 192_000;

struct Oversampler {
    resampler: Resampler,
    out: Vec<Vec<f32>>,
    peak: f32,
    finished: bool,
}

impl Oversampler {
    fn take_peaks(&mut self) {
        for ch in &mut self.out {
            for &x in ch.iter() {
                self.peak = self.peak.max(x.abs());
            }
            ch.clear();
        }
    }
}

impl LoudnessMeter {
    /// A meter for `speakers.len()` channels at `rate` Hz. The speaker
    /// positions pick the BS.1770 weights: LFE is left out, surrounds count
    /// +1.5 dB, a mono input counts as one channel (as ffmpeg does).
    pub fn new(rate: u32, speakers: &[Speaker]) -> Result<Self, EncodeError> {
        let channels = speakers.len();
        let mode = Mode::I | Mode::LRA | Mode::TRUE_PEAK | Mode::HISTOGRAM;
        let mut meter = EbuR128::new(channels as u32, rate, mode)?;
        if channels > 2 {
            let map: Vec<Channel> = speakers.iter().map(|s| s.bs1770_channel()).collect();
            meter.set_channel_map(&map)?;
        }
        let oversampler = if rate < OVERSAMPLE_BELOW_HZ {
            Some(Oversampler {
                resampler: Resampler::new(rate, TRUE_PEAK_RATE, channels)?,
                out: vec![Vec::new(); channels],
                peak: 0.0,
                finished: false,
            })
        } else {
            None
        };
        Ok(LoudnessMeter {
            meter,
            channels,
            oversampler,
        })
    }

    /// Feeds one block: one slice per channel, all the same length.
    pub fn push(&mut self, block: &[Vec<f32>]) -> Result<(), EncodeError> {
        if block.len() != self.channels {
            return Err(EncodeError::Config(format!(
                "loudness meter set up for {} channels was given {}",
                self.channels,
                block.len()
            )));
        }
        let refs: Vec<&[f32]> = block.iter().map(Vec::as_slice).collect();
        self.meter.add_frames_planar_f32(&refs)?;
        if let Some(o) = self.oversampler.as_mut() {
            if o.finished {
                return Err(EncodeError::Config(
                    "loudness meter fed after its report".into(),
                ));
            }
            o.resampler.push(block, &mut o.out)?;
            o.take_peaks();
        }
        Ok(())
    }

    /// Gated integrated loudness (LUFS) of several meters' signals taken
    /// together, as if concatenated: BS.1770 over every gating block of
    /// all of them (an album's loudness, as ReplayGain 2.0 album gain
    /// computes it). `None` for silence.
    pub fn integrated_together(meters: &[&LoudnessMeter]) -> Result<Option<f64>, EncodeError> {
        let loudness = EbuR128::loudness_global_multiple(meters.iter().map(|m| &m.meter))?;
        Ok(finite(loudness))
    }

    /// The measurement over everything pushed (the meter takes no more
    /// audio after it).
    pub fn report(&mut self) -> Result<LoudnessReport, EncodeError> {
        if let Some(o) = self.oversampler.as_mut().filter(|o| !o.finished) {
            o.resampler.finish(&mut o.out)?;
            o.take_peaks();
            o.finished = true;
        }
        let integrated = self.meter.loudness_global()?;
        let range = self.meter.loudness_range()?;
        let mut true_peak = 0f64;
        let mut sample_peak = 0f64;
        for ch in 0..self.channels as u32 {
            true_peak = true_peak.max(self.meter.true_peak(ch)?);
            sample_peak = sample_peak.max(self.meter.sample_peak(ch)?);
        }
        if let Some(o) = &self.oversampler {
            // ebur128's 4× reading is replaced, not combined: its
            // interpolator overshoots near these rates' Nyquist.
            true_peak = f64::from(o.peak);
        }
        Ok(LoudnessReport {
            integrated_lufs: finite(integrated),
            loudness_range_lu: if range.is_finite() { range } else { 0.0 },
            true_peak_dbtp: finite(20.0 * true_peak.log10()),
            sample_peak_dbfs: finite(20.0 * sample_peak.log10()),
        })
    }
}

fn finite(value: f64) -> Option<f64> {
    value.is_finite().then_some(value)
}

impl Speaker {
    fn bs1770_channel(self) -> Channel {
        match self {
            Speaker::FrontLeft | Speaker::FrontLeftCenter => Channel::Left,
            Speaker::FrontRight | Speaker::FrontRightCenter => Channel::Right,
            Speaker::FrontCenter | Speaker::BackCenter => Channel::Center,
            Speaker::Lfe => Channel::Unused,
            Speaker::BackLeft | Speaker::SideLeft => Channel::LeftSurround,
            Speaker::BackRight | Speaker::SideRight => Channel::RightSurround,
            Speaker::Other => Channel::Center,
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
