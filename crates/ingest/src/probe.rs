//! Our probe: symphonia's formats (WAV, AIFF, FLAC, MP3, Ogg) with the
//! ID3v2 and APE tag readers wrapped so they parse at most what the
//! [`MetadataBudget`] allows.
//!
//! The probe finds these tags anywhere it scans (the file start, after junk,
//! chained one after another, at the end), so the bound has to live in the
//! readers: each wrapper copies the tag into memory (never more than the
//! bytes left in the budget), cuts it after the last ID3v2 frame / APE item
//! that fits, and lets symphonia's own reader parse that copy.

use std::io::{Cursor, Seek, SeekFrom};
use std::sync::OnceLock;

use symphonia::core::errors::{Result, decode_error};
use symphonia::core::formats::probe::{
    Probe, ProbeMetadataData, ProbeableMetadata, Score, Scoreable,
};
use symphonia::core::io::{MediaSourceStream, MediaSourceStreamOptions, ReadBytes, ScopedStream};
use symphonia::core::meta::{
    MetadataBuffer, MetadataBuilder, MetadataInfo, MetadataOptions, MetadataReader,
};
use symphonia::default::formats::{AiffReader, FlacReader, MpaReader, OggReader, WavReader};
use symphonia::default::meta::{ApeReader, Id3v1Reader, Id3v2Reader};

use crate::metadata_budget::{MAX_TAGS, with_current};

/// The probe every [`Source`](crate::Source) uses.
pub(crate) fn probe() -> &'static Probe {
    static PROBE: OnceLock<Probe> = OnceLock::new();
    PROBE.get_or_init(|| {
        // The same registrations, in the same order, as
        // `symphonia::default::register_enabled_formats` with our features.
        let mut probe = Probe::default();
        probe.register_format::<FlacReader<'_>>();
        probe.register_format::<MpaReader<'_>>();
        probe.register_format::<AiffReader<'_>>();
        probe.register_format::<WavReader<'_>>();
        probe.register_format::<OggReader<'_>>();
        probe.register_metadata::<BoundedApe<'_>>();
        probe.register_metadata::<Id3v1Reader<'_>>();
        probe.register_metadata::<BoundedId3v2<'_>>();
        probe
    })
}

/// Counts one more tag against [`MAX_TAGS`]; the bytes and entries left.
fn start_tag() -> Result<(u64, u64)> {
    with_current(|b| {
        if b.tags_left == 0 {
            return None;
        }
        b.tags_left -= 1;
        Some((b.bytes_left, b.entries_left))
    })
    .map_or_else(
        || decode_error("more than 64 ID3v2/APE tags (each is parsed; refused)"),
        Ok,
    )
}

const _: () = assert!(MAX_TAGS == 64);

fn parse_in_memory<R>(
    bytes: Vec<u8>,
    at: u64,
    read: impl FnOnce(MediaSourceStream<'static>) -> Result<R>,
) -> Result<R> {
    let mut mss = MediaSourceStream::new(
        Box::new(Cursor::new(bytes)),
        MediaSourceStreamOptions::default(),
    );
    if at > 0 {
        mss.seek(SeekFrom::Start(at))?;
    }
    read(mss)
}

fn empty(info: MetadataInfo) -> MetadataBuffer {
    MetadataBuffer {
        revision: MetadataBuilder::new(info).build(),
        side_data: Vec::new(),
    }
}

/// ID3v2 through the budget.
pub(crate) struct BoundedId3v2<'s> {
    mss: MediaSourceStream<'s>,
    opts: MetadataOptions,
}

impl Scoreable for BoundedId3v2<'_> {
    fn score(src: ScopedStream<&mut MediaSourceStream<'_>>) -> Result<Score> {
        Id3v2Reader::score(src)
    }
}

impl ProbeableMetadata<'_> for BoundedId3v2<'_> {
    fn try_probe_new(
        mss: MediaSourceStream<'_>,
        opts: MetadataOptions,
    ) -> Result<Box<dyn MetadataReader + '_>> {
        Ok(Box::new(BoundedId3v2 { mss, opts }))
    }

    fn probe_data() -> &'static [ProbeMetadataData] {
        Id3v2Reader::probe_data()
    }
}

const ID3V2_INFO: MetadataInfo = MetadataInfo {
    metadata: symphonia::core::meta::well_known::METADATA_ID_ID3V2,
    short_name: "id3v2",
    long_name: "ID3v2",
};

impl MetadataReader for BoundedId3v2<'_> {
    fn metadata_info(&self) -> &MetadataInfo {
        &ID3V2_INFO
    }

    fn read_all(&mut self) -> Result<MetadataBuffer> {
        let at = self.mss.pos();
        let mut header = [0u8; 10];
        self.mss.read_buf_exact(&mut header)?;
        let size = u64::from(synchsafe(&header[6..10]));
        let (bytes_left, entries_left) = start_tag()?;
        let kept = size.min(bytes_left.saturating_sub(10));
        let body = self.mss.read_boxed_slice_exact(kept as usize)?.into_vec();
        self.mss.ignore_bytes(size - kept)?;
        let plan = plan_id3v2(header, body, kept == size, entries_left);
        let taken = plan.tag.len() as u64;
        with_current(|b| {
            b.take(taken.min(b.bytes_left), plan.frames.min(b.entries_left));
            if plan.cut {
                b.skipped(format!(
                    "ID3v2 tag at byte {at} ({} bytes): all but its first {} frames",
                    size + 10,
                    plan.frames
                ));
            }
        });
        let opts = self.opts;
        parse_in_memory(plan.tag, 0, |mss| {
            Id3v2Reader::try_new(mss, opts)?.read_all()
        })
    }

    fn into_inner<'a>(self: Box<Self>) -> MediaSourceStream<'a>
    where
        Self: 'a,
    {
        self.mss
    }
}

pub(crate) fn synchsafe(b: &[u8]) -> u32 {
    b.iter()
        .take(4)
        .fold(0u32, |acc, &x| (acc << 7) | u32::from(x & 0x7F))
}

fn synchsafe_bytes(n: u32) -> [u8; 4] {
    [
        ((n >> 21) & 0x7F) as u8,
        ((n >> 14) & 0x7F) as u8,
        ((n >> 7) & 0x7F) as u8,
        (n & 0x7F) as u8,
    ]
}

/// What of an ID3v2 tag is handed to symphonia.
#[derive(Debug)]
pub(crate) struct Id3Plan {
    /// A whole tag (header included).
    pub tag: Vec<u8>,
    /// Frames in it.
    pub frames: u64,
    /// Frames (or bytes) were left out.
    pub cut: bool,
}

/// Walks the frames of a tag (`body` = the bytes after the 10-byte header,
/// `complete` = all of them) the way symphonia does, and keeps the tag
/// whole if all its frames fit in `max_frames` and all its bytes were read;
/// otherwise rebuilds it from the frames that fit.
pub(crate) fn plan_id3v2(
    header: [u8; 10],
    body: Vec<u8>,
    complete: bool,
    max_frames: u64,
) -> Id3Plan {
    let major = header[3];
    let flags = header[5];
    let whole = |body: Vec<u8>, frames| Id3Plan {
        tag: [header.as_slice(), &body].concat(),
        frames,
        cut: false,
    };
    if !(2..=4).contains(&major) {
        // symphonia refuses it on its own.
        return whole(Vec::new(), 0);
    }
    // Tag-wide unsynchronisation (before 2.4) applies to the frame sizes too.
    let unsync = flags & 0x80 != 0 && major < 4;
    let decoded = if unsync {
        remove_unsync(&body)
    } else {
        Vec::new()
    };
    let frames_of: &[u8] = if unsync { &decoded } else { &body };
    let mut pos = 0usize;
    if major >= 3 && flags & 0x40 != 0 {
        let ext = frames_of.get(..4).map_or(0, |b| {
            if major == 3 {
                4 + u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize
            } else {
                synchsafe(b) as usize
            }
        });
        pos = ext.min(frames_of.len());
    }
    let frames_start = pos;
    let (head, id_len) = if major == 2 { (6, 3) } else { (10, 4) };
    let mut frames = 0u64;
    let mut stopped = false;
    while pos + head <= frames_of.len() {
        let id = &frames_of[pos..pos + id_len];
        if !id
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        {
            break; // padding
        }
        let s = &frames_of[pos + id_len..];
        let size = match major {
            2 => u32::from_be_bytes([0, s[0], s[1], s[2]]),
            3 => u32::from_be_bytes([s[0], s[1], s[2], s[3]]),
            _ => synchsafe(&s[..4]),
        } as usize;
        let Some(end) = (pos + head)
            .checked_add(size)
            .filter(|&e| e <= frames_of.len())
        else {
            break;
        };
        if frames == max_frames {
            stopped = true;
            break;
        }
        frames += 1;
        pos = end;
    }
    if complete && !stopped {
        return whole(body, frames);
    }
    let kept = &frames_of[frames_start..pos];
    let mut new_header = header;
    // No extended header or footer in the copy; frames already re-synchronised.
    new_header[5] = flags & !0x40 & !0x10 & if unsync { !0x80 } else { 0xFF };
    new_header[6..10].copy_from_slice(&synchsafe_bytes(kept.len() as u32));
    Id3Plan {
        tag: [new_header.as_slice(), kept].concat(),
        frames,
        cut: true,
    }
}

fn remove_unsync(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(b.len());
    let mut after_ff = false;
    for &x in b {
        if !(after_ff && x == 0) {
            out.push(x);
        }
        after_ff = x == 0xFF;
    }
    out
}

/// APEv1/v2 through the budget: a tag with more items or bytes than are
/// left is skipped whole; one that fits is parsed from an in-memory copy
/// (an item length cannot make symphonia read past the tag).
pub(crate) struct BoundedApe<'s> {
    mss: MediaSourceStream<'s>,
    opts: MetadataOptions,
    info: MetadataInfo,
}

impl Scoreable for BoundedApe<'_> {
    fn score(src: ScopedStream<&mut MediaSourceStream<'_>>) -> Result<Score> {
        ApeReader::score(src)
    }
}

impl ProbeableMetadata<'_> for BoundedApe<'_> {
    fn try_probe_new(
        mss: MediaSourceStream<'_>,
        opts: MetadataOptions,
    ) -> Result<Box<dyn MetadataReader + '_>> {
        // Let symphonia check the preamble and pick the version's info.
        let reader = ApeReader::try_new(mss, opts)?;
        let info = *reader.metadata_info();
        let mss = Box::new(reader).into_inner();
        Ok(Box::new(BoundedApe { mss, opts, info }))
    }

    fn probe_data() -> &'static [ProbeMetadataData] {
        ApeReader::probe_data()
    }
}

impl MetadataReader for BoundedApe<'_> {
    fn metadata_info(&self) -> &MetadataInfo {
        &self.info
    }

    fn read_all(&mut self) -> Result<MetadataBuffer> {
        let at = self.mss.pos();
        let mut h = [0u8; 32];
        self.mss.read_buf_exact(&mut h)?;
        let le = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        let (size, items, flags) = (u64::from(le(12)), u64::from(le(16)), le(20));
        let is_header = flags & (1 << 29) != 0;
        let has_header = flags & (1 << 31) != 0;
        let (bytes_left, entries_left) = start_tag()?;
        // The region symphonia would read, and where in it the reader starts.
        let (start, len, entry) = if is_header {
            (at, 32 + size, 0)
        } else {
            let before = size.saturating_sub(32) + if has_header { 32 } else { 0 };
            (at.saturating_sub(before), before + 32, before.min(at))
        };
        if len > bytes_left || items > entries_left {
            with_current(|b| {
                b.skipped(format!(
                    "APE tag at byte {start} ({len} bytes, {items} items)"
                ))
            });
            if is_header {
                self.mss.ignore_bytes(size)?;
            }
            return Ok(empty(self.info));
        }
        with_current(|b| b.take(len, items));
        self.mss.seek(SeekFrom::Start(start))?;
        let bytes = self.mss.read_boxed_slice_exact(len as usize)?.into_vec();
        let opts = self.opts;
        parse_in_memory(bytes, entry, |mss| {
            ApeReader::try_new(mss, opts)?.read_all()
        })
    }

    fn into_inner<'a>(self: Box<Self>) -> MediaSourceStream<'a>
    where
        Self: 'a,
    {
        self.mss
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(major: u8, frames: usize) -> ([u8; 10], Vec<u8>) {
        let mut body = Vec::new();
        for i in 0..frames {
            body.extend_from_slice(b"TXXX");
            body.extend_from_slice(&2u32.to_be_bytes());
            body.extend_from_slice(&[0, 0, 3, b'A' + (i % 26) as u8]);
        }
        body.extend_from_slice(&[0; 16]);
        let mut header = *b"ID3\0\0\0\0\0\0\0";
        header[3] = major;
        header[6..10].copy_from_slice(&synchsafe_bytes(body.len() as u32));
        (header, body)
    }

    #[test]
    fn small_tags_pass_untouched() {
        let (header, body) = tag(3, 5);
        let plan = plan_id3v2(header, body.clone(), true, 100);
        assert!(!plan.cut);
        assert_eq!(plan.frames, 5);
        assert_eq!(plan.tag, [header.as_slice(), &body].concat());
    }

    #[test]
    fn tags_over_the_entry_budget_are_cut_at_a_frame() {
        let (header, body) = tag(3, 50);
        let plan = plan_id3v2(header, body, true, 7);
        assert!(plan.cut);
        assert_eq!(plan.frames, 7);
        assert_eq!(plan.tag.len(), 10 + 7 * 12);
        assert_eq!(synchsafe(&plan.tag[6..10]), 7 * 12);
    }

    #[test]
    fn partly_read_tags_keep_their_whole_frames() {
        let (header, body) = tag(3, 50);
        let plan = plan_id3v2(header, body[..12 * 3 + 5].to_vec(), false, 1000);
        assert!(plan.cut);
        assert_eq!(plan.frames, 3);
    }

    #[test]
    fn unsynchronisation_is_undone_before_walking() {
        assert_eq!(
            remove_unsync(&[0xFF, 0, 0, 0xFF, 0xE0]),
            [0xFF, 0, 0xFF, 0xE0]
        );
    }
}
