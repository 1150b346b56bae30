use audiopack_encode::{Ladder, NormalizeConfig};
use audiopack_ingest::IngestConfig;

use crate::error::JobError;

/// Which deliverables to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Formats {
    /// Progressive Ogg Opus files, one per rung (RFC 7845).
    pub ogg: bool,
    /// HLS playlists over CMAF.
    pub hls: bool,
    /// A DASH MPD over CMAF.
    pub dash: bool,
}

impl Formats {
    /// Parses `--formats` (comma-separated): `hls`, `dash`, `ogg`.
    pub fn parse(text: &str) -> Result<Formats, JobError> {
        let mut formats = Formats {
            ogg: false,
            hls: false,
            dash: false,
        };
        for name in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match name {
                "ogg" => formats.ogg = true,
                "hls" => formats.hls = true,
                "dash" => formats.dash = true,
                other => {
                    return Err(JobError::Config(format!(
                        "unknown output format {other:?} (known: hls, dash, ogg)"
                    )));
                }
            }
        }
        if !(formats.ogg || formats.hls || formats.dash) {
            return Err(JobError::Config("no output format selected".into()));
        }
        Ok(formats)
    }

    /// CMAF segments are needed (for HLS or DASH).
    pub fn cmaf(&self) -> bool {
        self.hls || self.dash
    }
}

impl Default for Formats {
    /// The streaming package: HLS and DASH over CMAF.
    fn default() -> Self {
        Formats {
            ogg: false,
            hls: true,
            dash: true,
        }
    }
}

/// How CMAF fragments are stored.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// An init segment and numbered `.m4s` files per rendition.
    #[default]
    Segments,
    /// One `.mp4` per rendition (init, `sidx`, fragments), addressed by
    /// byte ranges: far fewer objects on an origin.
    SingleFile,
}

/// Segment length in 20 ms Opus packets: 6 s.
pub const DEFAULT_SEGMENT_PACKETS: u32 = 300;

/// Everything a job needs, validated once by [`JobConfig::validate`].
#[derive(Debug, Clone)]
pub struct JobConfig {
    pub ingest: IngestConfig,
    pub normalize: NormalizeConfig,
    /// `--ladder` text (kbit/s list); `None` for the default ladder of the
    /// output channel count. Parsed once the channel count is known.
    pub ladder: Option<String>,
    pub formats: Formats,
    pub layout: Layout,
    /// Segment length in 20 ms packets (every rendition cuts at the same
    /// times).
    pub segment_packets: u32,
    /// The FLAC tier (bit-exact to integer PCM sources).
    pub lossless: bool,
    /// At most this many of the job's threads compute at once (shared
    /// between jobs holding clones); `None`: no limit.
    pub cpu: Option<crate::CpuBudget>,
    /// The album's gain ([`crate::album_gain`]) instead of the track's
    /// own; still held under the ceiling (by the gain, or the limiter).
    pub album: Option<crate::AlbumGain>,
    /// With `album`: a digest of the album's members (their inputs'
    /// SHA-256s), which decide its gain; part of the settings digest so a
    /// track whose album changed (a track added, another's master
    /// replaced) is encoded again.
    pub album_members: Option<String>,
    /// Common Encryption of every CMAF rendition (keys resolved already).
    pub protection: Option<std::sync::Arc<audiopack_drm::PackageProtection>>,
    /// What identifies the protection for the settings digest (scheme,
    /// systems, options, key source and key IDs; never a key). Known
    /// before a key server is asked, so a rerun can be skipped without
    /// asking it.
    pub encryption_fingerprint: Option<String>,
    /// Decode every rendition as it is written and measure it
    /// (`renditions[].decoded` in the report, `qc.json`), and hold the
    /// true-peak ceiling on what players decode. On by default; off only
    /// for internal measuring passes.
    pub measure_decoded: bool,
    /// Write `report.html`, the QC page (`--no-qc-page` turns it off).
    pub qc_page: bool,
}

impl Default for JobConfig {
    fn default() -> Self {
        JobConfig {
            ingest: IngestConfig::default(),
            normalize: NormalizeConfig::default(),
            ladder: None,
            formats: Formats::default(),
            layout: Layout::default(),
            segment_packets: DEFAULT_SEGMENT_PACKETS,
            lossless: true,
            cpu: None,
            album: None,
            album_members: None,
            protection: None,
            encryption_fingerprint: None,
            measure_decoded: true,
            qc_page: true,
        }
    }
}

impl JobConfig {
    /// Segment length from seconds: a whole number of 20 ms packets,
    /// 1 to 20 s.
    pub fn segment_packets_for(seconds: f64) -> Result<u32, JobError> {
        let packets = seconds * 50.0;
        if !(50.0..=1000.0).contains(&packets) || (packets - packets.round()).abs() > 1e-6 {
            return Err(JobError::Config(format!(
                "segment duration {seconds} s must be 1..=20 s and a multiple of 0.02 s"
            )));
        }
        Ok(packets.round() as u32)
    }

    pub fn validate(&self) -> Result<(), JobError> {
        self.ingest.validate()?;
        self.normalize
            .validate()
            .map_err(|e| JobError::Config(e.to_string()))?;
        if let Some(text) = &self.ladder {
            // Channel count only changes the upper bound; check with stereo.
            Ladder::parse(text, 2).map_err(|e| JobError::Config(e.to_string()))?;
        }
        if let Some(protection) = &self.protection {
            protection
                .validate()
                .map_err(|e| JobError::Config(e.to_string()))?;
            if self.formats.ogg {
                return Err(JobError::Config(
                    "Ogg Opus downloads cannot be CENC-encrypted: --encrypt with --formats ogg \
                     would leave a clear copy of protected content; drop ogg from --formats"
                        .into(),
                ));
            }
        }
        if !(50..=1000).contains(&self.segment_packets) {
            return Err(JobError::Config(format!(
                "{} packets per segment is outside 1..=20 s",
                self.segment_packets
            )));
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
