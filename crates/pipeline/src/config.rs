use audiopack_encode::{Ladder, NormalizeConfig};
use audiopack_ingest::IngestConfig;

use crate::error::JobError;

/// Which deliverables to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Formats {
    /// Progressive Ogg Opus files, one per rung (RFC 7845).
    pub ogg: bool,
}

impl Formats {
    /// Parses `--formats` (comma-separated). Known today: `ogg`.
    pub fn parse(text: &str) -> Result<Formats, JobError> {
        let mut formats = Formats { ogg: false };
        for name in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match name {
                "ogg" => formats.ogg = true,
                other => {
                    return Err(JobError::Config(format!(
                        "unknown output format {other:?} (known: ogg)"
                    )));
                }
            }
        }
        if !formats.ogg {
            return Err(JobError::Config("no output format selected".into()));
        }
        Ok(formats)
    }
}

impl Default for Formats {
    fn default() -> Self {
        Formats { ogg: true }
    }
}

/// Everything a job needs, validated once by [`JobConfig::validate`].
#[derive(Debug, Clone, Default)]
pub struct JobConfig {
    pub ingest: IngestConfig,
    pub normalize: NormalizeConfig,
    /// `--ladder` text (kbit/s list); `None` for the default ladder of the
    /// output channel count. Parsed once the channel count is known.
    pub ladder: Option<String>,
    pub formats: Formats,
}

impl JobConfig {
    pub fn validate(&self) -> Result<(), JobError> {
        self.ingest.validate()?;
        self.normalize
            .validate()
            .map_err(|e| JobError::Config(e.to_string()))?;
        if let Some(text) = &self.ladder {
            // Channel count only changes the upper bound; check with stereo.
            Ladder::parse(text, 2).map_err(|e| JobError::Config(e.to_string()))?;
        }
        Ok(())
    }

    /// The ladder for an output of `channels` (1 or 2) channels.
    pub fn ladder_for(&self, channels: u8) -> Result<Ladder, JobError> {
        match &self.ladder {
            Some(text) => {
                Ladder::parse(text, channels).map_err(|e| JobError::Config(e.to_string()))
            }
            None => Ok(Ladder::default_for(channels)),
        }
    }
}
