//! `sidx` for the single-file layout: one reference per fragment.

use mp4_atom::{Encode, SegmentReference, Sidx};

use crate::error::SegmentError;
use crate::init::TRACK_ID;

/// A `sidx` box indexing fragments of (`bytes`, `duration` in ticks) that
/// follow it directly (first_offset 0), the first starting at decode time 0.
pub fn segment_index(timescale: u32, fragments: &[(u64, u64)]) -> Result<Vec<u8>, SegmentError> {
    let references = fragments
        .iter()
        .map(|&(bytes, duration)| {
            Ok(SegmentReference {
                reference_type: false,
                referenced_size: u32::try_from(bytes)
                    .ok()
                    .filter(|&b| b < 1 << 31)
                    .ok_or_else(|| {
                        SegmentError::Limit(format!(
                            "a {bytes}-byte fragment is too large for sidx"
                        ))
                    })?,
                subsegment_duration: u32::try_from(duration).map_err(|_| {
                    SegmentError::Limit(format!("a {duration}-tick fragment is too long for sidx"))
                })?,
                starts_with_sap: true,
                sap_type: 1,
                sap_delta_time: 0,
            })
        })
        .collect::<Result<Vec<_>, SegmentError>>()?;
    let sidx = Sidx {
        reference_id: TRACK_ID,
        timescale,
        earliest_presentation_time: 0,
        first_offset: 0,
        references,
    };
    let mut out = Vec::new();
    sidx.encode(&mut out).map_err(|source| SegmentError::Mp4 {
        what: "sidx",
        source,
    })?;
    Ok(out)
}
