//! The bitrate ladder: which Opus renditions to make.

use serde::Serialize;

use crate::error::EncodeError;

/// One rendition of the ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rung {
    /// Target bitrate of the whole stream, bits per second.
    pub bitrate_bps: u32,
    /// 1 (mono) or 2 (stereo).
    pub channels: u8,
}

impl Rung {
    /// A stable file-name stem, e.g. `opus_96k`.
    pub fn name(&self) -> String {
        format!("opus_{}k", self.bitrate_bps / 1000)
    }
}

/// The set of renditions, lowest bitrate first, all with the same channel count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ladder {
    pub rungs: Vec<Rung>,
}

/// Stereo music: 64 kbit/s is the floor for transparent-ish Opus, 160 the
/// point past which listeners stop hearing a difference.
pub const DEFAULT_STEREO_KBPS: [u32; 4] = [64, 96, 128, 160];
/// Mono needs a bit over half the stereo rates for the same quality.
pub const DEFAULT_MONO_KBPS: [u32; 4] = [32, 48, 64, 96];

impl Ladder {
    /// The default ladder for a channel count of the encoded stream (1 or 2).
    pub fn default_for(channels: u8) -> Ladder {
        let kbps: &[u32] = if channels == 1 {
            &DEFAULT_MONO_KBPS
        } else {
            &DEFAULT_STEREO_KBPS
        };
        Ladder {
            rungs: kbps
                .iter()
                .map(|&k| Rung {
                    bitrate_bps: k * 1000,
                    channels,
                })
                .collect(),
        }
    }

    /// Parses `--ladder` text: comma-separated kbit/s values, e.g. `48,96,160`
    /// (a `k` suffix is allowed). Sorted and de-duplicated.
    pub fn parse(text: &str, channels: u8) -> Result<Ladder, EncodeError> {
        let mut rungs = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let digits = part.trim_end_matches(['k', 'K']);
            let kbps: u32 = digits.parse().map_err(|_| {
                EncodeError::Config(format!("ladder entry {part:?} is not a bitrate in kbit/s"))
            })?;
            rungs.push(Rung {
                bitrate_bps: kbps.saturating_mul(1000),
                channels,
            });
        }
        rungs.sort_by_key(|r| r.bitrate_bps);
        rungs.dedup();
        let ladder = Ladder { rungs };
        ladder.validate()?;
        Ok(ladder)
    }

    /// Every rung within what libopus can do: 6 kbit/s up to 256 kbit/s per
    /// channel; at least one rung, at most 16.
    pub fn validate(&self) -> Result<(), EncodeError> {
        if self.rungs.is_empty() {
            return Err(EncodeError::Config("the ladder is empty".into()));
        }
        if self.rungs.len() > 16 {
            return Err(EncodeError::Config(format!(
                "the ladder has {} rungs; at most 16",
                self.rungs.len()
            )));
        }
        for rung in &self.rungs {
            let max = 256_000 * u32::from(rung.channels);
            if !(1..=2).contains(&rung.channels) {
                return Err(EncodeError::Config(format!(
                    "{} channels: Opus renditions are mono or stereo",
                    rung.channels
                )));
            }
            if rung.bitrate_bps < 6_000 || rung.bitrate_bps > max {
                return Err(EncodeError::Config(format!(
                    "{} kbit/s is outside what Opus supports for {} channel(s) (6..={} kbit/s)",
                    rung.bitrate_bps / 1000,
                    rung.channels,
                    max / 1000
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_sorts_and_dedups() {
        let l = Ladder::parse("128, 64k,96,64", 2).expect("ladder");
        let kbps: Vec<u32> = l.rungs.iter().map(|r| r.bitrate_bps / 1000).collect();
        assert_eq!(kbps, [64, 96, 128]);
        assert_eq!(l.rungs[0].name(), "opus_64k");
    }

    #[test]
    fn parse_rejects_nonsense() {
        assert!(Ladder::parse("fast", 2).is_err());
        assert!(Ladder::parse("", 2).is_err());
        assert!(Ladder::parse("4", 2).is_err());
        assert!(Ladder::parse("300", 1).is_err());
        assert!(Ladder::parse("300", 2).is_ok());
    }

    #[test]
    fn mono_default_is_lower() {
        assert_eq!(Ladder::default_for(1).rungs[0].bitrate_bps, 32_000);
        assert_eq!(Ladder::default_for(2).rungs[3].bitrate_bps, 160_000);
    }
}
