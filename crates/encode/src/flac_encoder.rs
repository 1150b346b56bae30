//! Planar audio to FLAC frames, one at a time (one frame per MP4 sample),
//! bit-exact to integer PCM sources. The frames come from libFLAC
//! (`audiopack-flac`, which says why and with which settings).

pub use audiopack_flac::Frame as FlacFrame;
use audiopack_flac::FrameEncoder;

use crate::error::EncodeError;

/// Push/finish FLAC encoder with a fixed block size. Input is planar f32
/// as decoded from an integer source of `bits_per_sample` bits; every
/// sample must map back to an integer exactly, or the encoder refuses
/// (the lossless tier never rounds).
pub struct FlacEncoder {
    encoder: FrameEncoder,
    bits_per_sample: u32,
    channels: usize,
    scale: f32,
    max: i32,
    planes: Vec<Vec<i32>>,
    frames_in: u64,
}

impl FlacEncoder {
    pub fn new(
        sample_rate: u32,
        channels: usize,
        bits_per_sample: u32,
        block_size: usize,
    ) -> Result<Self, EncodeError> {
        let config_err = |what: String| EncodeError::Config(format!("flac: {what}"));
        if !matches!(bits_per_sample, 8 | 12 | 16 | 20 | 24) {
            return Err(config_err(format!(
                "{bits_per_sample}-bit samples are not supported (8/12/16/20/24)"
            )));
        }
        let block = u32::try_from(block_size)
            .map_err(|_| config_err(format!("block size {block_size}")))?;
        let encoder = FrameEncoder::new(sample_rate, channels, bits_per_sample, block)
            .map_err(|e| config_err(e.to_string()))?;
        let full_scale = (1i64 << (bits_per_sample - 1)) as f32;
        Ok(FlacEncoder {
            encoder,
            bits_per_sample,
            channels,
            scale: full_scale,
            max: (full_scale as i64 - 1) as i32,
            planes: vec![Vec::new(); channels],
            frames_in: 0,
        })
    }

    pub fn frames_in(&self) -> u64 {
        self.frames_in
    }

    /// Converts and encodes `input`; appends every completed frame.
    pub fn push(
        &mut self,
        input: &[Vec<f32>],
        out: &mut Vec<FlacFrame>,
    ) -> Result<(), EncodeError> {
        if input.len() != self.channels {
            return Err(EncodeError::Config(format!(
                "flac encoder for {} channels was given {}",
                self.channels,
                input.len()
            )));
        }
        let frames = input.first().map_or(0, Vec::len);
        for (channel, plane) in input.iter().zip(&mut self.planes) {
            plane.clear();
            plane.reserve(channel.len());
            for (i, &sample) in channel.iter().enumerate() {
                let scaled = sample * self.scale;
                let value = scaled as i32;
                if value as f32 != scaled || value > self.max {
                    return Err(EncodeError::Config(format!(
                        "flac: sample {sample} at frame {} is not a {}-bit integer value; the lossless tier needs integer PCM",
                        self.frames_in + i as u64,
                        self.bits_per_sample
                    )));
                }
                plane.push(value);
            }
        }
        let planes: Vec<&[i32]> = self.planes.iter().map(Vec::as_slice).collect();
        self.encoder
            .process(&planes)
            .map_err(|e| EncodeError::Config(format!("flac: {e}")))?;
        self.encoder.take_frames(out);
        self.frames_in += frames as u64;
        Ok(())
    }

    /// Encodes the short last frame, if any.
    pub fn finish(&mut self, out: &mut Vec<FlacFrame>) -> Result<(), EncodeError> {
        self.encoder
            .finish()
            .map_err(|e| EncodeError::Config(format!("flac: {e}")))?;
        self.encoder.take_frames(out);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_have_the_block_size_and_a_short_tail() {
        let n = 4000 * 3 + 123;
        let ch: Vec<f32> = (0..n)
            .map(|i| ((i % 200) as f32 - 100.0) / 32768.0)
            .collect();
        let mut enc = FlacEncoder::new(44_100, 2, 16, 4000).expect("encoder");
        let mut frames = Vec::new();
        enc.push(&[ch.clone(), ch], &mut frames).expect("push");
        enc.finish(&mut frames).expect("finish");
        let sizes: Vec<u32> = frames.iter().map(|f| f.samples).collect();
        assert_eq!(sizes, [4000, 4000, 4000, 123]);
        // Every frame starts with the FLAC frame sync code 0xFFF8.
        assert!(
            frames
                .iter()
                .all(|f| f.data[0] == 0xFF && f.data[1] & 0xFC == 0xF8)
        );
    }

    #[test]
    fn refuses_non_integer_input() {
        let mut enc = FlacEncoder::new(44_100, 1, 16, 1024).expect("encoder");
        let mut frames = Vec::new();
        let err = enc
            .push(&[vec![0.5 / 32768.0]], &mut frames)
            .expect_err("not integer");
        assert!(err.to_string().contains("integer"));
    }
}
