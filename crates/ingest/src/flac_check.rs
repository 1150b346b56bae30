//! Proof that the FLAC tier is lossless: every encoded frame is decoded
//! again by symphonia's FLAC decoder and its samples compared, one by one,
//! with the integer samples the encoder was given (stronger than comparing
//! hashes, and half the hashing). The source samples are also hashed (MD5,
//! FLAC's own convention: interleaved, signed little-endian,
//! `ceil(bits / 8)` bytes per sample); when every sample matched, that is
//! the decoded samples' MD5 too.
//!
//! For a FLAC source the source digest is also what its STREAMINFO MD5
//! should be, so a master and its lossless tier can be matched by hash.

use symphonia::core::audio::Channels;
use symphonia::core::checksum::Md5;
use symphonia::core::codecs::audio::well_known::CODEC_ID_FLAC;
use symphonia::core::codecs::audio::{AudioCodecParameters, AudioDecoder, AudioDecoderOptions};
use symphonia::core::io::Monitor;
use symphonia::core::packet::Packet;
use symphonia::core::units::{Duration, Timestamp};

/// Both digests, and whether they agree over the same sample count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlacCheck {
    pub source_md5: String,
    /// The decoded samples' MD5: the source's when every sample matched
    /// (`None` otherwise).
    pub decoded_md5: Option<String>,
    pub frames: u64,
    pub bit_exact: bool,
    /// The first sample frame that decoded differently, if any.
    pub first_difference: Option<u64>,
    /// A frame the decoder refused.
    pub failure: Option<String>,
}

pub struct FlacRoundTrip {
    decoder: Box<dyn AudioDecoder>,
    channels: usize,
    bytes: usize,
    scale: f32,
    source: Md5,
    /// Source samples (interleaved integers) not yet matched by a decoded
    /// frame: at most a frame and a block.
    pending: std::collections::VecDeque<i32>,
    mismatch: Option<u64>,
    source_frames: u64,
    decoded_frames: u64,
    planes: Vec<Vec<f32>>,
    bytes_buf: Vec<u8>,
    position: i64,
    /// The first decoding failure, if any (then not bit-exact).
    failure: Option<String>,
}

impl FlacRoundTrip {
    /// For frames of `block_size` samples of `bits` (8…24) at `rate`.
    pub fn new(rate: u32, channels: usize, bits: u32, block_size: u32) -> Result<Self, String> {
        let mut params = AudioCodecParameters::new();
        params
            .for_codec(CODEC_ID_FLAC)
            .with_sample_rate(rate)
            .with_bits_per_sample(bits)
            .with_channels(Channels::Discrete(channels as u16))
            .with_extra_data(stream_info(rate, channels, bits, block_size).into());
        let decoder = symphonia::default::get_codecs()
            .make_audio_decoder(&params, &AudioDecoderOptions::default())
            .map_err(|e| format!("FLAC decoder: {e}"))?;
        Ok(FlacRoundTrip {
            decoder,
            channels,
            bytes: bits.div_ceil(8) as usize,
            scale: (1i64 << (bits - 1)) as f32,
            source: Md5::default(),
            pending: std::collections::VecDeque::new(),
            mismatch: None,
            source_frames: 0,
            decoded_frames: 0,
            planes: Vec::new(),
            bytes_buf: Vec::new(),
            position: 0,
            failure: None,
        })
    }

    /// The planar samples as given to the encoder (full scale ±1.0).
    pub fn source(&mut self, block: &[Vec<f32>]) {
        let frames = block.first().map_or(0, Vec::len);
        self.bytes_buf.clear();
        for i in 0..frames {
            for c in block {
                let v = (c[i] * self.scale) as i32;
                self.pending.push_back(v);
                self.bytes_buf
                    .extend_from_slice(&v.to_le_bytes()[..self.bytes]);
            }
        }
        self.source.process_buf_bytes(&self.bytes_buf);
        self.source_frames += frames as u64;
    }

    /// One encoded frame of `samples` samples per channel.
    pub fn frame(&mut self, data: &[u8], samples: u32) {
        if self.failure.is_some() {
            return;
        }
        let packet = Packet::new(
            0,
            Timestamp::new(self.position),
            Duration::new(u64::from(samples)),
            data.to_vec(),
        );
        self.position += i64::from(samples);
        match self.decoder.decode(&packet) {
            Ok(buf) => {
                buf.copy_to_vecs_planar::<f32>(&mut self.planes);
                if self.planes.len() != self.channels {
                    self.failure = Some(format!(
                        "decoded {} channels, expected {}",
                        self.planes.len(),
                        self.channels
                    ));
                    return;
                }
                let frames = self.planes.first().map_or(0, Vec::len);
                for i in 0..frames {
                    for c in &self.planes {
                        let v = (c[i] * self.scale) as i32;
                        if self.pending.pop_front() != Some(v) && self.mismatch.is_none() {
                            self.mismatch = Some(self.decoded_frames + i as u64);
                        }
                    }
                }
                self.decoded_frames += frames as u64;
            }
            Err(e) => self.failure = Some(format!("frame at sample {}: {e}", self.position)),
        }
    }

    pub fn finish(self) -> FlacCheck {
        let source_md5 = hex(&self.source.md5());
        let bit_exact = self.failure.is_none()
            && self.mismatch.is_none()
            && self.pending.is_empty()
            && self.source_frames == self.decoded_frames;
        FlacCheck {
            bit_exact,
            decoded_md5: bit_exact.then(|| source_md5.clone()),
            source_md5,
            frames: self.decoded_frames,
            first_difference: self.mismatch,
            failure: self.failure,
        }
    }
}

/// A FLAC STREAMINFO block body (34 bytes) for fixed-size frames; sizes,
/// length and MD5 left unknown (0).
fn stream_info(rate: u32, channels: usize, bits: u32, block_size: u32) -> Vec<u8> {
    let mut v = Vec::with_capacity(34);
    let block = (block_size.min(65_535)) as u16;
    v.extend_from_slice(&block.to_be_bytes());
    v.extend_from_slice(&block.to_be_bytes());
    v.extend_from_slice(&[0; 6]); // min/max frame size unknown
    // rate (20 bits) | channels − 1 (3) | bits − 1 (5) | total samples (36).
    let packed: u64 = (u64::from(rate) << 44)
        | ((channels.saturating_sub(1) as u64 & 0x7) << 41)
        | ((u64::from(bits.saturating_sub(1)) & 0x1f) << 36);
    v.extend_from_slice(&packed.to_be_bytes());
    v.extend_from_slice(&[0; 16]);
    v
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
