//! # audiopack-flac
//!
//! The lossless tier's encoder: libFLAC 1.5.0 (built from `libflac-sys`'s
//! bundled sources with CMake, without Ogg) behind a small safe API that
//! hands back **one FLAC frame at a time**, because each frame becomes one
//! CMAF sample. The `fLaC` marker and the STREAMINFO block libFLAC writes
//! first are dropped: the MP4 sample entry (`dfLa`) carries the stream's
//! parameters.
//!
//! This is the only crate in the workspace with `unsafe` code (the rest
//! forbids it); every unsafe block says why it holds.
//!
//! ## Why libFLAC
//!
//! Until 2026-12 the tier was encoded by the pure-Rust `flacenc` crate.
//! On 300 s of the demo (44.1 kHz stereo, 16 bit, blocks of 4096) it took
//! about 2.6 s of CPU, a third of it in `f64::mul_add` calls that compile
//! to a library call without `-C target-feature=+fma`; libFLAC at its
//! compression level 7 encodes the same samples in 0.85 s into a file of
//! the same size (13.63 MB against flacenc's 13.64 MB at LPC order 8).
//! Level 5 would be 0.56 s but 6.7 % larger. (libFLAC's figures come from
//! timing the encoder alone on the raw PCM; flacenc's from a `perf`
//! profile of the whole job. The reproducible check is the whole job:
//! `benches/qc.sh`, and the tier's size in any package.)
//!
//! ## Settings
//!
//! Compression level 7 (LPC up to order 12, `tukey(5e-1);partial_tukey(2)`
//! apodization, adaptive mid/side, Rice partitions up to order 6), a fixed
//! block size (the last frame may be shorter), the streamable subset
//! enforced (the caller picks a block size inside it), no verification by
//! libFLAC itself: the pipeline decodes every frame again with an
//! independent decoder (symphonia) and compares sample for sample.
//!
//! ## Determinism
//!
//! libFLAC is deterministic for a given machine: reruns are byte-identical.
//! Its LPC analysis picks SSE/AVX2 code at run time, so two different CPUs
//! may choose different (equally lossless) coefficients.

use std::ffi::c_void;
use std::ptr::NonNull;

use libflac_sys as sys;

/// Compression level (libFLAC's 0–8; see the crate docs).
const COMPRESSION_LEVEL: u32 = 7;

/// One encoded FLAC frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub data: Vec<u8>,
    /// Samples per channel in this frame.
    pub samples: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum FlacError {
    #[error("libFLAC refused the stream settings: {0}")]
    Settings(&'static str),
    #[error("libFLAC failed while encoding: {0}")]
    Encoding(&'static str),
    #[error("{0}")]
    Input(String),
}

/// Where libFLAC's write callback puts the frames.
struct Sink {
    frames: Vec<Frame>,
}

/// Push/finish FLAC encoder with a fixed block size over planar integer
/// samples.
pub struct FrameEncoder {
    raw: NonNull<sys::FLAC__StreamEncoder>,
    /// Owned (from `Box::into_raw`); libFLAC holds a copy of the pointer as
    /// its client data. Freed in `Drop`, after the encoder.
    sink: NonNull<Sink>,
    channels: usize,
    min: i32,
    max: i32,
    finished: bool,
    pointers: Vec<*const i32>,
}

// SAFETY: a libFLAC encoder has no thread affinity (no thread-local state);
// it and the sink are only touched through `&mut self`, so moving the whole
// value to another thread is sound.
unsafe impl Send for FrameEncoder {}

unsafe extern "C" fn write_frame(
    _encoder: *const sys::FLAC__StreamEncoder,
    buffer: *const sys::FLAC__byte,
    bytes: usize,
    samples: u32,
    _current_frame: u32,
    client_data: *mut c_void,
) -> sys::FLAC__StreamEncoderWriteStatus {
    if samples == 0 {
        // The `fLaC` marker and metadata blocks: not a frame.
        return sys::FLAC__STREAM_ENCODER_WRITE_STATUS_OK;
    }
    // SAFETY: `client_data` is the `Sink` pointer given to init_stream,
    // alive until the encoder is deleted; libFLAC calls back only from
    // inside process/finish, which run under `&mut FrameEncoder`, and no
    // Rust reference to the sink exists during those calls.
    let sink = unsafe { &mut *client_data.cast::<Sink>() };
    // SAFETY: libFLAC passes `bytes` readable bytes at `buffer`, valid for
    // the duration of the call.
    let data = unsafe { std::slice::from_raw_parts(buffer, bytes) };
    sink.frames.push(Frame {
        data: data.to_vec(),
        samples,
    });
    sys::FLAC__STREAM_ENCODER_WRITE_STATUS_OK
}

impl FrameEncoder {
    /// An encoder for `channels` (1–8) channels of `bits_per_sample`-bit
    /// samples (4–32) at `sample_rate`, in frames of `block_size` samples.
    pub fn new(
        sample_rate: u32,
        channels: usize,
        bits_per_sample: u32,
        block_size: u32,
    ) -> Result<Self, FlacError> {
        if !(1..=8).contains(&channels) {
            return Err(FlacError::Settings("FLAC takes 1 to 8 channels"));
        }
        if !(4..=32).contains(&bits_per_sample) {
            return Err(FlacError::Settings("FLAC takes 4 to 32 bits per sample"));
        }
        // SAFETY: plain constructor; null is checked below.
        let raw = NonNull::new(unsafe { sys::FLAC__stream_encoder_new() })
            .ok_or(FlacError::Settings("out of memory"))?;
        let sink = NonNull::from(Box::leak(Box::new(Sink { frames: Vec::new() })));
        let half = 1i64 << (bits_per_sample - 1);
        let encoder = FrameEncoder {
            raw,
            sink,
            channels,
            min: (-half) as i32,
            max: (half - 1) as i32,
            finished: false,
            pointers: Vec::with_capacity(channels),
        };
        let e = encoder.raw.as_ptr();
        // SAFETY: `e` is a fresh, uninitialized encoder: the setters are
        // allowed in that state, and init_stream gets a callback with the
        // right signature and a client pointer that outlives the encoder
        // (both are released together in Drop, the encoder first).
        let status = unsafe {
            let ok = sys::FLAC__stream_encoder_set_channels(e, channels as u32) != 0
                && sys::FLAC__stream_encoder_set_bits_per_sample(e, bits_per_sample) != 0
                && sys::FLAC__stream_encoder_set_sample_rate(e, sample_rate) != 0
                && sys::FLAC__stream_encoder_set_compression_level(e, COMPRESSION_LEVEL) != 0
                && sys::FLAC__stream_encoder_set_blocksize(e, block_size) != 0
                && sys::FLAC__stream_encoder_set_streamable_subset(e, 1) != 0
                && sys::FLAC__stream_encoder_set_verify(e, 0) != 0;
            if !ok {
                return Err(FlacError::Settings("a setting was refused"));
            }
            sys::FLAC__stream_encoder_init_stream(
                e,
                Some(write_frame),
                None,
                None,
                None,
                encoder.sink.as_ptr().cast::<c_void>(),
            )
        };
        if status != sys::FLAC__STREAM_ENCODER_INIT_STATUS_OK {
            return Err(FlacError::Settings(init_status_text(status)));
        }
        Ok(encoder)
    }

    /// Encodes `planes` (one slice per channel, all the same length, every
    /// value inside the bit depth); completed frames wait in
    /// [`FrameEncoder::take_frames`].
    pub fn process(&mut self, planes: &[&[i32]]) -> Result<(), FlacError> {
        if self.finished {
            return Err(FlacError::Input("the encoder is finished".into()));
        }
        if planes.len() != self.channels {
            return Err(FlacError::Input(format!(
                "{} planes given to a {}-channel encoder",
                planes.len(),
                self.channels
            )));
        }
        let n = planes.first().map_or(0, |p| p.len());
        if planes.iter().any(|p| p.len() != n) {
            return Err(FlacError::Input("planes of different lengths".into()));
        }
        if n == 0 {
            return Ok(());
        }
        for plane in planes {
            if let Some(v) = plane.iter().find(|&&v| v < self.min || v > self.max) {
                return Err(FlacError::Input(format!(
                    "sample value {v} is outside the stream's bit depth"
                )));
            }
        }
        let samples = u32::try_from(n)
            .map_err(|_| FlacError::Input("more than 2^32 samples in one call".into()))?;
        self.pointers.clear();
        self.pointers.extend(planes.iter().map(|p| p.as_ptr()));
        // SAFETY: the encoder is initialized and not finished; `pointers`
        // holds `channels` pointers to `samples` readable values each
        // (checked above), which libFLAC only reads during the call.
        let ok = unsafe {
            sys::FLAC__stream_encoder_process(self.raw.as_ptr(), self.pointers.as_ptr(), samples)
        };
        if ok == 0 {
            return Err(FlacError::Encoding(self.state_text()));
        }
        Ok(())
    }

    /// Encodes the short last frame, if any. Later calls to `process` fail.
    pub fn finish(&mut self) -> Result<(), FlacError> {
        if self.finished {
            return Ok(());
        }
        self.finished = true;
        // SAFETY: the encoder is initialized; finish flushes the last block
        // through the callback, whose sink is alive.
        let ok = unsafe { sys::FLAC__stream_encoder_finish(self.raw.as_ptr()) };
        if ok == 0 {
            return Err(FlacError::Encoding("the last frame could not be written"));
        }
        Ok(())
    }

    /// Moves the frames completed so far to `out`, in order.
    pub fn take_frames(&mut self, out: &mut Vec<Frame>) {
        // SAFETY: the sink is alive (freed only in Drop) and libFLAC is not
        // running (we hold `&mut self`), so this is the only reference.
        let sink = unsafe { self.sink.as_mut() };
        out.append(&mut sink.frames);
    }

    fn state_text(&self) -> &'static str {
        // SAFETY: the encoder pointer is valid for the life of `self`.
        let state = unsafe { sys::FLAC__stream_encoder_get_state(self.raw.as_ptr()) };
        match state {
            sys::FLAC__STREAM_ENCODER_OK => "no error reported",
            sys::FLAC__STREAM_ENCODER_CLIENT_ERROR => "the frame writer failed",
            sys::FLAC__STREAM_ENCODER_IO_ERROR => "I/O error",
            sys::FLAC__STREAM_ENCODER_FRAMING_ERROR => "a frame could not be formed",
            sys::FLAC__STREAM_ENCODER_MEMORY_ALLOCATION_ERROR => "out of memory",
            sys::FLAC__STREAM_ENCODER_UNINITIALIZED => "the encoder is not initialized",
            _ => "internal encoder error",
        }
    }
}

impl Drop for FrameEncoder {
    fn drop(&mut self) {
        // SAFETY: delete finishes the stream if it is still open (which may
        // call back into the sink, still alive here) and frees the encoder;
        // the sink is freed afterwards, once, from the Box it came from.
        unsafe {
            sys::FLAC__stream_encoder_delete(self.raw.as_ptr());
            drop(Box::from_raw(self.sink.as_ptr()));
        }
    }
}

fn init_status_text(status: sys::FLAC__StreamEncoderInitStatus) -> &'static str {
    match status {
        sys::FLAC__STREAM_ENCODER_INIT_STATUS_INVALID_NUMBER_OF_CHANNELS => {
            "unsupported number of channels"
        }
        sys::FLAC__STREAM_ENCODER_INIT_STATUS_INVALID_BITS_PER_SAMPLE => {
            "unsupported bits per sample"
        }
        sys::FLAC__STREAM_ENCODER_INIT_STATUS_INVALID_SAMPLE_RATE => "unsupported sample rate",
        sys::FLAC__STREAM_ENCODER_INIT_STATUS_INVALID_BLOCK_SIZE => "unsupported block size",
        sys::FLAC__STREAM_ENCODER_INIT_STATUS_NOT_STREAMABLE => {
            "the settings leave FLAC's streamable subset (block size or rate)"
        }
        sys::FLAC__STREAM_ENCODER_INIT_STATUS_BLOCK_SIZE_TOO_SMALL_FOR_LPC_ORDER => {
            "block size too small"
        }
        _ => "the encoder could not start",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(planes: &[Vec<i32>], block: u32, chunk: usize) -> Vec<Frame> {
        let mut enc = FrameEncoder::new(44_100, planes.len(), 16, block).expect("encoder");
        let mut frames = Vec::new();
        let n = planes[0].len();
        for start in (0..n).step_by(chunk) {
            let end = (start + chunk).min(n);
            let parts: Vec<&[i32]> = planes.iter().map(|p| &p[start..end]).collect();
            enc.process(&parts).expect("process");
            enc.take_frames(&mut frames);
        }
        enc.finish().expect("finish");
        enc.take_frames(&mut frames);
        frames
    }

    #[test]
    fn one_frame_per_block_and_a_short_tail() {
        let n = 4000 * 3 + 123;
        let ch: Vec<i32> = (0..n).map(|i| (i % 200) - 100).collect();
        let frames = encode(&[ch.clone(), ch], 4000, 1500);
        let sizes: Vec<u32> = frames.iter().map(|f| f.samples).collect();
        assert_eq!(sizes, [4000, 4000, 4000, 123]);
        // Every frame starts with the sync code (fixed block size: 0xFFF8).
        for f in &frames {
            assert_eq!(
                (f.data[0], f.data[1] & 0xFE),
                (0xFF, 0xF8),
                "{:?}",
                &f.data[..4]
            );
        }
        // The metadata libFLAC writes first is not handed out.
        assert_ne!(&frames[0].data[..4], b"fLaC");
    }

    #[test]
    fn reruns_are_identical_and_chunking_does_not_matter() {
        let ch: Vec<i32> = (0..20_000)
            .map(|i| ((i as f64 * 0.05).sin() * 12_000.0) as i32)
            .collect();
        let a = encode(std::slice::from_ref(&ch), 4096, 1000);
        let b = encode(std::slice::from_ref(&ch), 4096, 7777);
        assert_eq!(a, b);
        // Compressible input compresses.
        let bytes: usize = a.iter().map(|f| f.data.len()).sum();
        assert!(bytes < 20_000, "{bytes} bytes for 40,000 bytes of PCM");
    }

    #[test]
    fn refuses_bad_input_without_crashing() {
        let mut enc = FrameEncoder::new(48_000, 2, 16, 4096).expect("encoder");
        let over = [40_000i32];
        assert!(enc.process(&[&over, &over]).is_err(), "out of range");
        assert!(enc.process(&[&[1, 2], &[3]]).is_err(), "uneven planes");
        assert!(enc.process(&[&[1]]).is_err(), "wrong channel count");
        enc.finish().expect("finish");
        assert!(enc.process(&[&[1], &[1]]).is_err(), "after finish");
        assert!(FrameEncoder::new(44_100, 9, 16, 4096).is_err());
        // A block size outside the streamable subset at 44.1 kHz.
        assert!(FrameEncoder::new(44_100, 2, 16, 8192).is_err());
    }
}
