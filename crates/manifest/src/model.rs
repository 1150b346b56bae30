//! The description the renderers work from.

use crate::protection::Protection;

/// Where bytes live: a whole file, or a byte range of one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    File {
        uri: String,
    },
    Range {
        uri: String,
        offset: u64,
        length: u64,
    },
}

impl Resource {
    pub fn uri(&self) -> &str {
        match self {
            Resource::File { uri } | Resource::Range { uri, .. } => uri,
        }
    }
}

/// One media segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub resource: Resource,
    /// Decode time of its first sample, in the rendition's timescale.
    pub start_ticks: u64,
    /// Presented duration, in the rendition's timescale.
    pub duration_ticks: u64,
}

/// One rendition (a Representation / a variant stream).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendition {
    /// Stable id, used in names (`opus_96k`, `flac`).
    pub id: String,
    /// RFC 6381 codec string, lowercase: `opus`, `flac`.
    pub codecs: String,
    pub channels: u8,
    pub sample_rate: u32,
    pub timescale: u32,
    /// Ticks the presentation starts after decode time 0 (the Opus
    /// pre-skip carried by the edit list; 0 for FLAC).
    pub presentation_time_offset: u64,
    /// Largest segment bit rate, bits per second (HLS BANDWIDTH).
    pub peak_bandwidth: u64,
    /// Whole-rendition average, bits per second (AVERAGE-BANDWIDTH, DASH @bandwidth).
    pub average_bandwidth: u64,
    pub init: Resource,
    /// `sidx` location for the single-file layout.
    pub index: Option<Resource>,
    pub segments: Vec<Segment>,
    /// Media playlist URI (HLS).
    pub playlist_uri: String,
    /// DASH `SegmentTemplate@media` for the segments layout, numbering from
    /// 1 (`opus_96k/$Number$.m4s`); `None` in the single-file layout.
    pub media_template: Option<String>,
    /// Key references when the rendition is encrypted.
    pub protection: Option<Protection>,
}

/// A whole package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presentation {
    /// Exact presented duration in `timescale` ticks.
    pub duration_ticks: u64,
    pub timescale: u32,
    pub renditions: Vec<Rendition>,
}
