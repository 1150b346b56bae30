use crate::error::IngestError;

/// What an upload may be. Defaults fit every real music or speech master;
/// they exist to reject absurd headers before any allocation follows them.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    pub max_channels: u16,
    pub min_sample_rate: u32,
    pub max_sample_rate: u32,
    pub max_duration_seconds: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_channels: 8,
            min_sample_rate: 8_000,
            max_sample_rate: 384_000,
            max_duration_seconds: 6.0 * 3600.0,
        }
    }
}

/// How to ingest. Build, [`validate`](Self::validate), then pass by reference.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestConfig {
    pub limits: Limits,
    /// Strict (default): undecodable packets, truncation and checksum
    /// mismatches are errors. Lenient: undecodable packets are skipped and a
    /// short file ends where its data ends; both are listed in
    /// [`SourceInfo::warnings`](crate::SourceInfo).
    pub strict: bool,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            limits: Limits::default(),
            strict: true,
        }
    }
}

impl IngestConfig {
    pub fn validate(&self) -> Result<(), IngestError> {
        let l = &self.limits;
        let bad = |what: String| Err(IngestError::Config(what));
        if l.max_channels == 0 || l.max_channels > 64 {
            return bad(format!("max channels {} is outside 1..=64", l.max_channels));
        }
        if l.min_sample_rate == 0 || l.min_sample_rate > l.max_sample_rate {
            return bad(format!(
                "sample-rate limits {}..={} Hz are empty",
                l.min_sample_rate, l.max_sample_rate
            ));
        }
        if l.max_sample_rate > 768_000 {
            return bad(format!(
                "max sample rate {} Hz is above 768 kHz",
                l.max_sample_rate
            ));
        }
        if !(l.max_duration_seconds > 0.0 && l.max_duration_seconds <= 48.0 * 3600.0) {
            return bad(format!(
                "max duration {} s is outside (0, 48 h]",
                l.max_duration_seconds
            ));
        }
        Ok(())
    }
}
