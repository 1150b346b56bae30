//! What a listener gets: decode a rendition's Opus packets (libopus, as
//! players do) and meter the decoded 48 kHz PCM: integrated loudness, range,
//! true peak (4× at 48 kHz) and sample peak, plus the loudness over time
//! for `qc.json`. Lossy coding moves peaks (pre-echo, band energy
//! quantization), so a ceiling held before the encoder does not by itself
//! hold after the decoder.

use opus::{Channels, Decoder};

use crate::downmix::Speaker;
use crate::error::EncodeError;
use crate::loudness::{LoudnessMeter, LoudnessSeries};
use crate::opus_encoder::{OPUS_RATE, OpusPacket};

/// Largest decoded frame: 120 ms at 48 kHz.
const MAX_FRAME_SAMPLES: usize = 5760;
/// Below this a decoded peak is denormal dust from the decoder: silence.
const SILENCE_DBTP: f64 = -200.0;

pub struct DecodedPeakMeter {
    decoder: Decoder,
    meter: LoudnessMeter,
    channels: usize,
    /// Decoded samples still to drop at the start (the pre-skip).
    skip_left: u64,
    /// Real samples per channel metered so far.
    metered: u64,
    buf: Vec<f32>,
    planes: Vec<Vec<f32>>,
    report: Option<crate::LoudnessReport>,
}

impl DecodedPeakMeter {
    /// A meter for a `channels`-channel (1 or 2) stream with `pre_skip`;
    /// with `series_exact_above`, its per-second true peaks are exact only
    /// above that level (dBTP), which is faster.
    pub fn new(
        channels: u8,
        pre_skip: u16,
        series_exact_above: Option<f64>,
    ) -> Result<Self, EncodeError> {
        let layout = match channels {
            1 => Channels::Mono,
            2 => Channels::Stereo,
            n => {
                return Err(EncodeError::Config(format!(
                    "{n} channels: the decoded-peak meter takes mono or stereo"
                )));
            }
        };
        let decoder = Decoder::new(OPUS_RATE, layout).map_err(|source| EncodeError::Opus {
            bitrate_bps: 0,
            source,
        })?;
        let channels = usize::from(channels);
        let mut meter = LoudnessMeter::new(OPUS_RATE, &Speaker::default_layout(channels))?;
        if let Some(dbtp) = series_exact_above {
            meter = meter.series_exact_above(dbtp);
        }
        Ok(DecodedPeakMeter {
            decoder,
            meter,
            channels,
            skip_left: u64::from(pre_skip),
            metered: 0,
            buf: vec![0.0; MAX_FRAME_SAMPLES * channels],
            planes: vec![Vec::with_capacity(MAX_FRAME_SAMPLES); channels],
            report: None,
        })
    }

    /// Decodes `packet` and meters its samples, up to `real_frames` in all
    /// (the encoder's count of real input so far: the padding after the end
    /// is trimmed by every player, so it is not metered). Returns the
    /// decoded frames metered (interleaved in [`DecodedPeakMeter::last`]).
    pub fn push(&mut self, packet: &OpusPacket, real_frames: u64) -> Result<(), EncodeError> {
        let n = self
            .decoder
            .decode_float(&packet.data, &mut self.buf, false)
            .map_err(|source| EncodeError::Opus {
                bitrate_bps: 0,
                source,
            })?;
        let skip = self.skip_left.min(n as u64) as usize;
        self.skip_left -= skip as u64;
        let room = real_frames.saturating_sub(self.metered);
        let take = ((n - skip) as u64).min(room) as usize;
        let c = self.channels;
        let frames = &self.buf[skip * c..(skip + take) * c];
        match &mut self.planes[..] {
            [mono] => {
                mono.clear();
                mono.extend_from_slice(frames);
            }
            [left, right] => {
                left.clear();
                right.clear();
                for frame in frames.chunks_exact(2) {
                    left.push(frame[0]);
                    right.push(frame[1]);
                }
            }
            planes => {
                for (ch, plane) in planes.iter_mut().enumerate() {
                    plane.clear();
                    plane.extend(frames.iter().skip(ch).step_by(c));
                }
            }
        }
        if take > 0 {
            self.meter.push(&self.planes)?;
            self.metered += take as u64;
        }
        Ok(())
    }

    /// The planar samples the last [`DecodedPeakMeter::push`] metered.
    pub fn last(&self) -> &[Vec<f32>] {
        &self.planes
    }

    /// Ends the metering (flushes the true-peak interpolator); later
    /// pushes fail.
    pub fn finish(&mut self) -> Result<(), EncodeError> {
        if self.report.is_none() {
            self.report = Some(self.meter.report()?);
        }
        Ok(())
    }

    fn report(&mut self) -> Result<crate::LoudnessReport, EncodeError> {
        self.finish()?;
        self.report
            .ok_or_else(|| EncodeError::Config("decoded meter not finished".into()))
    }

    /// Highest decoded true peak over all channels (dBTP); `None` for
    /// digital silence (libopus leaves denormal dust there: ignored).
    pub fn true_peak_dbtp(&mut self) -> Result<Option<f64>, EncodeError> {
        Ok(self
            .report()?
            .true_peak_dbtp
            .filter(|&db| db > SILENCE_DBTP))
    }

    /// Everything measured on the decoded rendition.
    pub fn measurement(&mut self) -> Result<DecodedMeasurement, EncodeError> {
        let r = self.report()?;
        Ok(DecodedMeasurement {
            integrated_lufs: r.integrated_lufs,
            loudness_range_lu: r.integrated_lufs.map(|_| r.loudness_range_lu),
            true_peak_dbtp: r.true_peak_dbtp.filter(|&db| db > SILENCE_DBTP),
            sample_peak_dbfs: r.sample_peak_dbfs.filter(|&db| db > SILENCE_DBTP),
        })
    }

    /// Loudness and true peak over time, one value per second.
    pub fn series(&mut self) -> Result<LoudnessSeries, EncodeError> {
        self.finish()?;
        Ok(self.meter.series())
    }
}

/// A decoded rendition's loudness and peaks (`None`: silence, or below the
/// gate).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DecodedMeasurement {
    pub integrated_lufs: Option<f64>,
    pub loudness_range_lu: Option<f64>,
    pub true_peak_dbtp: Option<f64>,
    pub sample_peak_dbfs: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ladder::Rung;
    use crate::opus_encoder::OpusEncoder;

    fn encode_and_meter(input: &[Vec<f32>]) -> Option<f64> {
        let channels = input.len() as u8;
        let mut enc = OpusEncoder::new(Rung {
            bitrate_bps: 96_000,
            channels,
        })
        .expect("encoder");
        let mut meter = DecodedPeakMeter::new(channels, enc.pre_skip(), None).expect("meter");
        let mut packets = Vec::new();
        for start in (0..input[0].len()).step_by(4000) {
            let end = (start + 4000).min(input[0].len());
            let part: Vec<Vec<f32>> = input.iter().map(|c| c[start..end].to_vec()).collect();
            enc.push(&part, &mut packets).expect("push");
            for p in packets.drain(..) {
                meter.push(&p, enc.frames_in()).expect("decode");
            }
        }
        enc.finish(&mut packets).expect("finish");
        for p in packets.drain(..) {
            meter.push(&p, enc.frames_in()).expect("decode");
        }
        meter.true_peak_dbtp().expect("peak")
    }

    #[test]
    fn a_decoded_tone_peaks_where_it_was_encoded() {
        // A -6 dBFS 997 Hz tone decodes to about -6 dBTP.
        let amp = 10f64.powf(-6.0 / 20.0);
        let tone: Vec<f32> = (0..48_000)
            .map(|i| {
                (amp * (2.0 * std::f64::consts::PI * 997.0 * i as f64 / 48_000.0).sin()) as f32
            })
            .collect();
        let tp = encode_and_meter(&[tone.clone(), tone]).expect("peak");
        assert!((tp + 6.0).abs() < 0.3, "{tp:.2} dBTP");
    }

    #[test]
    fn silence_has_no_peak() {
        assert_eq!(encode_and_meter(&[vec![0.0; 20_000]]), None);
    }
}
