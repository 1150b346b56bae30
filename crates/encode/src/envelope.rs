//! Peak envelope for a waveform picture: min and max sample (over all
//! channels) per time bucket, in bounded memory whatever the duration.
//!
//! Buckets start at 10 ms; whenever there are more than [`MAX_BUCKETS`],
//! neighbours are merged and the bucket doubles, so a 6-hour input keeps
//! the same few thousand pairs as a song.

const START_SECONDS: f64 = 0.01;
pub const MAX_BUCKETS: usize = 4096;

pub struct PeakEnvelope {
    rate: u32,
    /// Frames per bucket.
    bucket: u64,
    fill: u64,
    min: Vec<f32>,
    max: Vec<f32>,
    cur_min: f32,
    cur_max: f32,
}

impl PeakEnvelope {
    pub fn new(rate: u32) -> Self {
        PeakEnvelope {
            rate,
            bucket: ((f64::from(rate) * START_SECONDS) as u64).max(1),
            fill: 0,
            min: Vec::new(),
            max: Vec::new(),
            cur_min: 0.0,
            cur_max: 0.0,
        }
    }

    /// One slice per channel, all the same length.
    pub fn push<S: AsRef<[f32]>>(&mut self, block: &[S]) {
        let n = block.first().map_or(0, |c| c.as_ref().len());
        let mut at = 0;
        while at < n {
            let take = ((self.bucket - self.fill) as usize).min(n - at);
            for c in block {
                for &x in &c.as_ref()[at..at + take] {
                    self.cur_min = self.cur_min.min(x);
                    self.cur_max = self.cur_max.max(x);
                }
            }
            self.fill += take as u64;
            at += take;
            if self.fill == self.bucket {
                self.close_bucket();
            }
        }
    }

    fn close_bucket(&mut self) {
        self.min.push(self.cur_min);
        self.max.push(self.cur_max);
        self.cur_min = 0.0;
        self.cur_max = 0.0;
        self.fill = 0;
        if self.min.len() > MAX_BUCKETS {
            self.min = merge(&self.min, f32::min);
            self.max = merge(&self.max, f32::max);
            self.bucket *= 2;
        }
    }

    /// Seconds per bucket, and the buckets (the last one partial).
    pub fn finish(mut self) -> (f64, Vec<f32>, Vec<f32>) {
        if self.fill > 0 {
            self.min.push(self.cur_min);
            self.max.push(self.cur_max);
        }
        (
            self.bucket as f64 / f64::from(self.rate),
            self.min,
            self.max,
        )
    }
}

/// Pairs merged; an odd last bucket is kept and stays a bucket of its own.
fn merge(v: &[f32], f: fn(f32, f32) -> f32) -> Vec<f32> {
    v.chunks(2)
        .map(|p| p.iter().copied().reduce(f).unwrap_or(0.0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_double_and_keep_the_extremes() {
        let rate = 48_000;
        let mut e = PeakEnvelope::new(rate);
        let n = rate as usize * 600; // 10 minutes
        let mut x = vec![0.1f32; n];
        x[n / 2] = 0.9;
        x[n / 3] = -0.8;
        for part in x.chunks(4800) {
            e.push(&[part]);
        }
        let (secs, min, max) = e.finish();
        assert!(
            min.len() <= MAX_BUCKETS && min.len() > MAX_BUCKETS / 2,
            "{}",
            min.len()
        );
        assert!((secs * min.len() as f64 - 600.0).abs() < secs * 2.0);
        assert_eq!(max.iter().copied().fold(0.0, f32::max), 0.9);
        assert_eq!(min.iter().copied().fold(0.0, f32::min), -0.8);
        let at = (n / 2) as f64 / f64::from(rate) / secs;
        assert_eq!(max[at as usize], 0.9);
    }
}
