//! The true peak (and loudness) of what a listener gets: decode a
//! rendition's Opus packets (libopus, as players do) and meter the decoded
//! 48 kHz PCM (ebur128 TRUE_PEAK, 4× oversampled, and integrated). Lossy coding moves peaks (pre-echo, band
//! energy quantization), so the limiter's ceiling before the encoder does
//! not by itself hold the ceiling after the decoder. Decoding costs a small
//! fraction of encoding.

use ebur128::{EbuR128, Mode};
use opus::{Channels, Decoder};

use crate::error::EncodeError;
use crate::opus_encoder::{OPUS_RATE, OpusPacket};

/// Largest decoded frame: 120 ms at 48 kHz.
const MAX_FRAME_SAMPLES: usize = 5760;
/// Below this a decoded peak is denormal dust from the decoder: silence.
const SILENCE_DBTP: f64 = -200.0;

pub struct DecodedPeakMeter {
    decoder: Decoder,
    meter: EbuR128,
    channels: usize,
    /// Decoded samples still to drop at the start (the pre-skip).
    skip_left: u64,
    /// Real samples per channel metered so far.
    metered: u64,
    buf: Vec<f32>,
}

impl DecodedPeakMeter {
    /// A meter for a `channels`-channel (1 or 2) stream with `pre_skip`.
    pub fn new(channels: u8, pre_skip: u16) -> Result<Self, EncodeError> {
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
        Ok(DecodedPeakMeter {
            decoder,
            meter: EbuR128::new(
                u32::from(channels),
                OPUS_RATE,
                Mode::TRUE_PEAK | Mode::SAMPLE_PEAK | Mode::I | Mode::LRA | Mode::HISTOGRAM,
            )?,
            channels: usize::from(channels),
            skip_left: u64::from(pre_skip),
            metered: 0,
            buf: vec![0.0; MAX_FRAME_SAMPLES * usize::from(channels)],
        })
    }

    /// Decodes `packet` and meters its samples, up to `real_frames` in all
    /// (the encoder's count of real input so far: the padding after the end
    /// is trimmed by every player, so it is not metered).
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
        if take > 0 {
            let c = self.channels;
            self.meter
                .add_frames_f32(&self.buf[skip * c..(skip + take) * c])?;
            self.metered += take as u64;
        }
        Ok(())
    }

    /// Highest decoded true peak over all channels (dBTP); `None` for
    /// digital silence (libopus leaves denormal dust there: ignored).
    pub fn true_peak_dbtp(&self) -> Result<Option<f64>, EncodeError> {
        let mut peak = 0f64;
        for ch in 0..self.channels as u32 {
            peak = peak.max(self.meter.true_peak(ch)?);
        }
        let db = 20.0 * peak.log10();
        Ok((db.is_finite() && db > SILENCE_DBTP).then_some(db))
    }

    /// Integrated loudness of the decoded rendition (LUFS); `None` below
    /// the absolute gate.
    pub fn integrated_lufs(&self) -> Result<Option<f64>, EncodeError> {
        let i = self.meter.loudness_global()?;
        Ok(i.is_finite().then_some(i))
    }

    /// Everything measured on the decoded rendition.
    pub fn measurement(&self) -> Result<DecodedMeasurement, EncodeError> {
        let mut sample_peak = 0f64;
        for ch in 0..self.channels as u32 {
            sample_peak = sample_peak.max(self.meter.sample_peak(ch)?);
        }
        let sp = 20.0 * sample_peak.log10();
        let lra = self.meter.loudness_range()?;
        Ok(DecodedMeasurement {
            integrated_lufs: self.integrated_lufs()?,
            loudness_range_lu: lra.is_finite().then_some(lra),
            true_peak_dbtp: self.true_peak_dbtp()?,
            sample_peak_dbfs: (sp.is_finite() && sp > SILENCE_DBTP).then_some(sp),
        })
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
        let mut meter = DecodedPeakMeter::new(channels, enc.pre_skip()).expect("meter");
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
