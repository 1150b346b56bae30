//! 48 kHz planar audio to 20 ms Opus packets.

use opus::{Application, Bitrate, Channels, Encoder, Signal};

use crate::error::EncodeError;
use crate::ladder::Rung;

/// Opus always runs at 48 kHz here; timestamps are in 1/48000 s.
pub const OPUS_RATE: u32 = 48_000;
/// 20 ms frames: the best quality/overhead trade-off for music.
pub const OPUS_FRAME_SAMPLES: usize = 960;
/// The largest packet one 20 ms frame can make (RFC 6716: 1275 bytes per
/// frame); the buffer is a little larger.
const MAX_PACKET_BYTES: usize = 1500;

/// The libopus version string the encoder was built with.
pub fn libopus_version() -> &'static str {
    opus::version()
}

/// One encoded 20 ms frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpusPacket {
    pub data: Vec<u8>,
}

/// Push/finish Opus encoder for one rung of the ladder.
///
/// The encoder's lookahead becomes the stream's pre-skip; `finish` pads with
/// silence until the last real sample has left the encoder, so decoding all
/// packets and dropping `pre_skip` samples at the start and the padding at
/// the end gives back exactly `frames_in` samples.
pub struct OpusEncoder {
    encoder: Encoder,
    rung: Rung,
    pre_skip: u16,
    frame: Vec<f32>,
    frame_fill: usize,
    frames_in: u64,
    samples_encoded: u64,
    packet_buf: Vec<u8>,
}

impl OpusEncoder {
    pub fn new(rung: Rung) -> Result<Self, EncodeError> {
        let bitrate_bps = rung.bitrate_bps;
        let opus_err = |source| EncodeError::Opus {
            bitrate_bps,
            source,
        };
        let channels = match rung.channels {
            1 => Channels::Mono,
            2 => Channels::Stereo,
            n => {
                return Err(EncodeError::Config(format!(
                    "{n} channels: the Opus ladder is mono or stereo"
                )));
            }
        };
        let mut encoder =
            Encoder::new(OPUS_RATE, channels, Application::Audio).map_err(opus_err)?;
        encoder
            .set_bitrate(Bitrate::Bits(bitrate_bps as i32))
            .map_err(opus_err)?;
        encoder.set_vbr(true).map_err(opus_err)?;
        encoder.set_vbr_constraint(true).map_err(opus_err)?;
        encoder.set_complexity(10).map_err(opus_err)?;
        encoder.set_signal(Signal::Music).map_err(opus_err)?;
        let lookahead = encoder.get_lookahead().map_err(opus_err)?;
        let pre_skip = u16::try_from(lookahead).map_err(|_| {
            EncodeError::Config(format!(
                "encoder lookahead {lookahead} is not a valid pre-skip"
            ))
        })?;
        Ok(OpusEncoder {
            encoder,
            rung,
            pre_skip,
            frame: vec![0.0; OPUS_FRAME_SAMPLES * usize::from(rung.channels)],
            frame_fill: 0,
            frames_in: 0,
            samples_encoded: 0,
            packet_buf: vec![0; MAX_PACKET_BYTES],
        })
    }

    pub fn rung(&self) -> Rung {
        self.rung
    }

    /// Samples (at 48 kHz) the decoder must drop at the start.
    pub fn pre_skip(&self) -> u16 {
        self.pre_skip
    }

    /// Real (unpadded) samples per channel pushed so far.
    pub fn frames_in(&self) -> u64 {
        self.frames_in
    }

    /// Encodes `input` (planar, 48 kHz, `rung.channels` channels) and appends
    /// every completed packet to `out`.
    pub fn push(
        &mut self,
        input: &[Vec<f32>],
        out: &mut Vec<OpusPacket>,
    ) -> Result<(), EncodeError> {
        let channels = usize::from(self.rung.channels);
        if input.len() != channels {
            return Err(EncodeError::Config(format!(
                "opus encoder for {channels} channel(s) was given {}",
                input.len()
            )));
        }
        let frames = input[0].len();
        self.frames_in += frames as u64;
        let mut at = 0;
        while at < frames {
            let take = (OPUS_FRAME_SAMPLES - self.frame_fill).min(frames - at);
            for (c, channel) in input.iter().enumerate() {
                for (i, &x) in channel[at..at + take].iter().enumerate() {
                    self.frame[(self.frame_fill + i) * channels + c] = x;
                }
            }
            self.frame_fill += take;
            at += take;
            if self.frame_fill == OPUS_FRAME_SAMPLES {
                out.push(self.encode_frame()?);
            }
        }
        Ok(())
    }

    /// Pads with silence until every real sample has been encoded past the
    /// lookahead; appends the last packets.
    pub fn finish(&mut self, out: &mut Vec<OpusPacket>) -> Result<(), EncodeError> {
        let needed = self.frames_in + u64::from(self.pre_skip);
        let buffered = self.samples_encoded + self.frame_fill as u64;
        if buffered < needed || self.frame_fill > 0 {
            // Zero the rest of the partial frame and encode it, then whole
            // silent frames until `needed` is covered.
            let channels = usize::from(self.rung.channels);
            self.frame[self.frame_fill * channels..].fill(0.0);
            self.frame_fill = OPUS_FRAME_SAMPLES;
            out.push(self.encode_frame()?);
            while self.samples_encoded < needed {
                self.frame.fill(0.0);
                self.frame_fill = OPUS_FRAME_SAMPLES;
                out.push(self.encode_frame()?);
            }
        }
        Ok(())
    }

    fn encode_frame(&mut self) -> Result<OpusPacket, EncodeError> {
        let bitrate_bps = self.rung.bitrate_bps;
        let len = self
            .encoder
            .encode_float(&self.frame, &mut self.packet_buf)
            .map_err(|source| EncodeError::Opus {
                bitrate_bps,
                source,
            })?;
        self.frame_fill = 0;
        self.samples_encoded += OPUS_FRAME_SAMPLES as u64;
        Ok(OpusPacket {
            data: self.packet_buf[..len].to_vec(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(frames: usize, freq: f64) -> Vec<f32> {
        (0..frames)
            .map(|i| (0.3 * (2.0 * std::f64::consts::PI * freq * i as f64 / 48_000.0).sin()) as f32)
            .collect()
    }

    #[test]
    fn packets_cover_the_input_plus_pre_skip() {
        for frames in [1usize, 960, 961, 48_000 - 312, 48_017] {
            let mut enc = OpusEncoder::new(Rung {
                bitrate_bps: 64_000,
                channels: 2,
            })
            .expect("encoder");
            assert_eq!(enc.pre_skip(), 312);
            let mut packets = Vec::new();
            let input = vec![tone(frames, 440.0), tone(frames, 660.0)];
            enc.push(&input, &mut packets).expect("push");
            enc.finish(&mut packets).expect("finish");
            let need = frames + 312;
            assert_eq!(
                packets.len(),
                need.div_ceil(OPUS_FRAME_SAMPLES),
                "{frames} frames"
            );
        }
    }

    #[test]
    fn decodes_back_to_the_input() {
        // Decode with libopus, drop pre-skip and padding: the tone comes back
        // in phase (correlation near 1), at the right length.
        let frames = 48_000;
        let input = tone(frames, 440.0);
        let mut enc = OpusEncoder::new(Rung {
            bitrate_bps: 96_000,
            channels: 1,
        })
        .expect("encoder");
        let mut packets = Vec::new();
        enc.push(std::slice::from_ref(&input), &mut packets)
            .expect("push");
        enc.finish(&mut packets).expect("finish");
        let mut dec = opus::Decoder::new(48_000, opus::Channels::Mono).expect("decoder");
        let mut pcm = Vec::new();
        let mut buf = vec![0f32; 5760];
        for p in &packets {
            let n = dec.decode_float(&p.data, &mut buf, false).expect("decode");
            pcm.extend_from_slice(&buf[..n]);
        }
        let pre = usize::from(enc.pre_skip());
        let out = &pcm[pre..pre + frames];
        let dot: f64 = out.iter().zip(&input).map(|(a, b)| f64::from(a * b)).sum();
        let e1: f64 = out.iter().map(|a| f64::from(a * a)).sum();
        let e2: f64 = input.iter().map(|a| f64::from(a * a)).sum();
        let corr = dot / (e1 * e2).sqrt();
        assert!(corr > 0.99, "correlation {corr}");
    }
}
