//! One sample-rate conversion to 48 kHz (or any rate), exact in length.

use rubato::audioadapter_buffers::direct::SequentialSliceOfVecs;
use rubato::{Fft, FixedSync, Indexing, Resampler as _};

use crate::error::EncodeError;

/// Input frames per FFT call: large enough to amortize, small enough to keep
/// latency and memory trivial.
const CHUNK_FRAMES: usize = 1024;

/// Length of `frames` at `from_hz` after conversion to `to_hz`:
/// `round(frames · to / from)`, in integers (half rounds up).
pub fn resampled_len(frames: u64, from_hz: u32, to_hz: u32) -> u64 {
    let (from, to) = (u128::from(from_hz), u128::from(to_hz));
    ((u128::from(frames) * to + from / 2) / from) as u64
}

/// Streaming resampler (push/finish). Rates that already match pass
/// through untouched. The filter's delay is dropped at the start and the
/// tail is flushed at the end, so `n` input frames become exactly
/// [`resampled_len`]`(n)` output frames aligned with the input.
pub struct Resampler {
    inner: Option<Inner>,
    from_hz: u32,
    to_hz: u32,
    frames_in: u64,
    frames_out: u64,
}

struct Inner {
    fft: Fft<f32>,
    pending: Vec<Vec<f32>>,
    scratch: Vec<Vec<f32>>,
    delay_left: usize,
}

impl Resampler {
    pub fn new(from_hz: u32, to_hz: u32, channels: usize) -> Result<Self, EncodeError> {
        let inner = if from_hz == to_hz {
            None
        } else {
            let fft = Fft::<f32>::new(
                from_hz as usize,
                to_hz as usize,
                CHUNK_FRAMES,
                channels,
                FixedSync::Input,
            )
            .map_err(|e| EncodeError::Resample {
                from_hz,
                to_hz,
                message: e.to_string(),
            })?;
            let scratch = vec![vec![0.0; fft.output_frames_max()]; channels];
            let delay_left = fft.output_delay();
            Some(Inner {
                fft,
                pending: vec![Vec::with_capacity(2 * CHUNK_FRAMES); channels],
                scratch,
                delay_left,
            })
        };
        Ok(Resampler {
            inner,
            from_hz,
            to_hz,
            frames_in: 0,
            frames_out: 0,
        })
    }

    /// Converts `input` and appends what is ready to `out` (same channel count).
    pub fn push(&mut self, input: &[Vec<f32>], out: &mut [Vec<f32>]) -> Result<(), EncodeError> {
        let frames = input.first().map_or(0, Vec::len);
        self.frames_in += frames as u64;
        let Some(inner) = self.inner.as_mut() else {
            for (o, i) in out.iter_mut().zip(input) {
                o.extend_from_slice(i);
            }
            self.frames_out += frames as u64;
            return Ok(());
        };
        for (p, i) in inner.pending.iter_mut().zip(input) {
            p.extend_from_slice(i);
        }
        while inner.pending[0].len() >= CHUNK_FRAMES {
            let n = inner.run(
                None,
                out,
                u64::MAX - self.frames_out,
                self.from_hz,
                self.to_hz,
            )?;
            self.frames_out += n as u64;
        }
        Ok(())
    }

    /// Flushes the tail: after this, exactly `resampled_len(frames_in)`
    /// frames have been appended in total.
    pub fn finish(&mut self, out: &mut [Vec<f32>]) -> Result<(), EncodeError> {
        let want = resampled_len(self.frames_in, self.from_hz, self.to_hz);
        let Some(inner) = self.inner.as_mut() else {
            return Ok(());
        };
        let mut guard = 0;
        while self.frames_out < want {
            let partial = inner.pending[0].len();
            let left = want - self.frames_out;
            let n = inner.run(Some(partial), out, left, self.from_hz, self.to_hz)?;
            self.frames_out += n as u64;
            guard += 1;
            if guard > 64 {
                return Err(EncodeError::Resample {
                    from_hz: self.from_hz,
                    to_hz: self.to_hz,
                    message: "flush did not converge".into(),
                });
            }
        }
        Ok(())
    }

    /// Frames appended so far.
    pub fn frames_out(&self) -> u64 {
        self.frames_out
    }
}

impl Inner {
    /// One FFT call on the head of `pending` (`partial`: that many real
    /// frames, zero-padded). Appends at most `limit` frames; returns how many.
    fn run(
        &mut self,
        partial: Option<usize>,
        out: &mut [Vec<f32>],
        limit: u64,
        from_hz: u32,
        to_hz: u32,
    ) -> Result<usize, EncodeError> {
        let channels = self.pending.len();
        let take = partial.unwrap_or(CHUNK_FRAMES);
        let err = |message: String| EncodeError::Resample {
            from_hz,
            to_hz,
            message,
        };
        // A partial call still wants a full chunk's worth of input buffer.
        let avail = self.pending[0].len();
        if avail < CHUNK_FRAMES {
            for p in &mut self.pending {
                p.resize(CHUNK_FRAMES, 0.0);
            }
        }
        let capacity = self.scratch[0].len();
        let produced = {
            let input = SequentialSliceOfVecs::new(&self.pending, channels, CHUNK_FRAMES)
                .map_err(|e| err(e.to_string()))?;
            let mut output = SequentialSliceOfVecs::new_mut(&mut self.scratch, channels, capacity)
                .map_err(|e| err(e.to_string()))?;
            let indexing = partial.map(|p| Indexing::new().partial_len(p));
            let (_, produced) = self
                .fft
                .process_into_buffer(&input, &mut output, indexing.as_ref())
                .map_err(|e| err(e.to_string()))?;
            produced
        };
        for p in &mut self.pending {
            p.drain(..take.min(avail));
            if partial.is_some() {
                p.clear();
            }
        }
        let skip = self.delay_left.min(produced);
        self.delay_left -= skip;
        let keep = ((produced - skip) as u64).min(limit) as usize;
        for (o, s) in out.iter_mut().zip(&self.scratch) {
            o.extend_from_slice(&s[skip..skip + keep]);
        }
        Ok(keep)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: u32, freq: f64, frames: usize) -> Vec<f32> {
        (0..frames)
            .map(|i| {
                (0.5 * (2.0 * std::f64::consts::PI * freq * i as f64 / rate as f64).sin()) as f32
            })
            .collect()
    }

    fn convert(from: u32, to: u32, input: &[Vec<f32>], block: usize) -> Vec<Vec<f32>> {
        let mut rs = Resampler::new(from, to, input.len()).expect("resampler");
        let mut out = vec![Vec::new(); input.len()];
        let n = input[0].len();
        let mut at = 0;
        while at < n {
            let end = (at + block).min(n);
            let part: Vec<Vec<f32>> = input.iter().map(|c| c[at..end].to_vec()).collect();
            rs.push(&part, &mut out).expect("push");
            at = end;
        }
        rs.finish(&mut out).expect("finish");
        out
    }

    #[test]
    fn exact_lengths_for_common_rates() {
        for (from, n) in [
            (44_100, 132_301),
            (22_050, 66_151),
            (96_000, 96_001),
            (8_000, 7),
            (44_100, 0),
        ] {
            let input = vec![tone(from, 440.0, n); 2];
            let out = convert(from, 48_000, &input, 1000);
            let want = resampled_len(n as u64, from, 48_000) as usize;
            assert_eq!(out[0].len(), want, "{from} Hz, {n} frames");
            assert_eq!(out[1].len(), want);
        }
    }

    #[test]
    fn delay_is_compensated() {
        // A 1 kHz tone at 44.1 kHz converted to 48 kHz must stay in phase with
        // the same tone generated at 48 kHz: no leading delay.
        let input = vec![tone(44_100, 1000.0, 44_100)];
        let out = convert(44_100, 48_000, &input, 4096);
        let reference = tone(48_000, 1000.0, 48_000);
        let mid = 10_000..38_000;
        let err: f64 = out[0][mid.clone()]
            .iter()
            .zip(&reference[mid.clone()])
            .map(|(a, b)| f64::from(a - b).powi(2))
            .sum::<f64>()
            / mid.len() as f64;
        assert!(err.sqrt() < 1e-3, "rms error {}", err.sqrt());
    }

    #[test]
    fn same_rate_passes_through() {
        let input = vec![tone(48_000, 440.0, 1234)];
        let out = convert(48_000, 48_000, &input, 100);
        assert_eq!(out, input);
    }

    #[test]
    fn rounding_is_half_up() {
        assert_eq!(resampled_len(1, 44_100, 48_000), 1);
        assert_eq!(resampled_len(66_151, 22_050, 48_000), 144_002);
        assert_eq!(resampled_len(3, 96_000, 48_000), 2);
    }
}
