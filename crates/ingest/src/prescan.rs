//! A bounded look at the container before symphonia parses it.
//!
//! Walks the structure (FLAC metadata blocks, WAV/AIFF chunk lists, the
//! first MP3 frame) reading only headers, at most [`WINDOW`] bytes at a
//! time, never allocating from a size field. It finds:
//!
//! * tag data over the [`MetadataBudget`]: patched so symphonia skips it
//!   (a FLAC block becomes PADDING, a Vorbis comment count shrinks, a RIFF
//!   or AIFF chunk gets the unknown id `JUNK`), see [`crate::patched`];
//! * header lies symphonia ignores: a second WAV `fmt ` chunk (it would use
//!   the second), an AIFF COMM frame count that differs from the SSND data,
//!   the MP3 Xing/Info frame count (checked after decoding);
//! * an Ogg Vorbis/Opus comment header over the budget: its comment count
//!   lowered, and the CRC of the page(s) holding the count recomputed;
//! * the declared channel count of a well-formed WAV/AIFF header, so a count
//!   symphonia cannot map (27 and more) is still "over the limit".

use std::io::{Read, SeekFrom};

use symphonia::core::io::MediaSource;

use crate::metadata_budget::{MAX_TAGS, MetadataBudget};
use crate::patched::Patch;
use crate::probe::{plan_id3v2, synchsafe};

/// Bytes read at once, and the largest header looked at.
const WINDOW: usize = 64 << 10;
/// How far past leading ID3v2 tags a container marker is looked for (the
/// probe's own default depth).
const SEARCH: u64 = 1 << 20;
/// FLAC blocks or RIFF/AIFF chunks walked; more is refused as malformed.
const MAX_ELEMENTS: u32 = 100_000;

#[derive(Debug, Default)]
pub(crate) struct Prescan {
    pub patches: Vec<Patch>,
    /// The header contradicts itself: an error, or a warning when lenient.
    pub lies: Vec<String>,
    /// Not worth decoding at all (an error in any mode).
    pub malformed: Option<String>,
    /// Channels declared by a well-formed WAV/AIFF header.
    pub channels: Option<u32>,
    /// A valid file symphonia cannot decode (and may panic on).
    pub unsupported: Option<String>,
    /// The MP3 Xing/Info header's frame count.
    pub xing_frames: Option<u32>,
}

/// Reads small pieces of the source through one buffer.
struct Reader<'a> {
    media: &'a mut dyn MediaSource,
    buf: Vec<u8>,
    start: u64,
}

impl Reader<'_> {
    /// `n` bytes at `offset` (n ≤ WINDOW), or None past the end.
    fn at(&mut self, offset: u64, n: usize) -> std::io::Result<Option<&[u8]>> {
        debug_assert!(n <= WINDOW);
        let inside = offset >= self.start
            && offset
                .checked_add(n as u64)
                .is_some_and(|e| e <= self.start + self.buf.len() as u64);
        if !inside {
            self.media.seek(SeekFrom::Start(offset))?;
            self.buf.clear();
            self.buf.resize(WINDOW, 0);
            let mut filled = 0;
            while filled < WINDOW {
                match self.media.read(&mut self.buf[filled..]) {
                    Ok(0) => break,
                    Ok(k) => filled += k,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            self.buf.truncate(filled);
            self.start = offset;
            if filled < n {
                return Ok(None);
            }
        }
        let from = (offset - self.start) as usize;
        Ok(Some(&self.buf[from..from + n]))
    }

    fn u32_le(&mut self, offset: u64) -> std::io::Result<Option<u32>> {
        Ok(self
            .at(offset, 4)?
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
    }

    fn u32_be(&mut self, offset: u64) -> std::io::Result<Option<u32>> {
        Ok(self
            .at(offset, 4)?
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]])))
    }
}

enum Container {
    Ogg(u64),
    Flac(u64),
    Wav(u64),
    Aiff(u64),
    Mp3(u64),
}

/// Looks at `media` (which must be seekable) and leaves it at offset 0.
pub(crate) fn prescan(
    media: &mut dyn MediaSource,
    budget: &mut MetadataBudget,
) -> std::io::Result<Prescan> {
    let mut r = Reader {
        media,
        buf: Vec::new(),
        start: 0,
    };
    let mut out = Prescan::default();
    match find_container(&mut r)? {
        Some(Container::Ogg(at)) => ogg_comments(&mut r, at, budget, &mut out)?,
        Some(Container::Flac(at)) => flac(&mut r, at, budget, &mut out)?,
        Some(Container::Wav(at)) => wav(&mut r, at, budget, &mut out)?,
        Some(Container::Aiff(at)) => aiff(&mut r, at, budget, &mut out)?,
        Some(Container::Mp3(at)) => out.xing_frames = xing_frames(&mut r, at)?,
        None => {}
    }
    r.media.seek(SeekFrom::Start(0))?;
    Ok(out)
}

fn find_container(r: &mut Reader<'_>) -> std::io::Result<Option<Container>> {
    // Skip leading ID3v2 tags (the probe reads those, through our budget).
    let mut pos = 0u64;
    for _ in 0..=MAX_TAGS {
        match r.at(pos, 10)? {
            Some(h) if h.starts_with(b"ID3") => pos += 10 + u64::from(synchsafe(&h[6..10])),
            _ => break,
        }
    }
    if let Some(h) = r.at(pos, 4)?
        && mp3_frame_header(h)
    {
        return Ok(Some(Container::Mp3(pos)));
    }
    // The first container marker within the probe's reach.
    let step = (WINDOW - 12) as u64;
    let mut at = pos;
    while at < pos + SEARCH {
        let n = match r.at(at, WINDOW)? {
            Some(_) => WINDOW,
            None => {
                // The tail of the file: as much as there is.
                let len = r.media.byte_len().unwrap_or(0);
                if len <= at + 12 {
                    return Ok(None);
                }
                (len - at) as usize
            }
        };
        let Some(w) = r.at(at, n)? else {
            return Ok(None);
        };
        for i in 0..n.saturating_sub(11) {
            let o = at + i as u64;
            match &w[i..i + 4] {
                b"fLaC" => return Ok(Some(Container::Flac(o))),
                b"RIFF" if &w[i + 8..i + 12] == b"WAVE" => return Ok(Some(Container::Wav(o))),
                b"FORM" if matches!(&w[i + 8..i + 12], b"AIFF" | b"AIFC") => {
                    return Ok(Some(Container::Aiff(o)));
                }
                b"OggS" => return Ok(Some(Container::Ogg(o))),
                _ => {}
            }
        }
        if n < WINDOW {
            break;
        }
        at += step;
    }
    Ok(None)
}

fn mp3_frame_header(h: &[u8]) -> bool {
    h.len() >= 4
        && h[0] == 0xFF
        && h[1] & 0xE0 == 0xE0
        && (h[1] >> 3) & 3 != 1 // version
        && (h[1] >> 1) & 3 == 1 // layer III
        && h[2] >> 4 != 0xF // bitrate
        && (h[2] >> 2) & 3 != 3 // sample rate
}

/// The frame count of a Xing/Info header in the MP3 frame at `at`.
fn xing_frames(r: &mut Reader<'_>, at: u64) -> std::io::Result<Option<u32>> {
    let Some(h) = r.at(at, 4)? else {
        return Ok(None);
    };
    let mpeg1 = (h[1] >> 3) & 3 == 3;
    let mono = h[3] >> 6 == 3;
    let side = match (mpeg1, mono) {
        (true, false) => 32,
        (true, true) | (false, false) => 17,
        (false, true) => 9,
    };
    let tag = at + 4 + side;
    let Some(id) = r.at(tag, 8)? else {
        return Ok(None);
    };
    if !(id.starts_with(b"Xing") || id.starts_with(b"Info")) {
        return Ok(None);
    }
    let flags = u32::from_be_bytes([id[4], id[5], id[6], id[7]]);
    if flags & 1 == 0 {
        return Ok(None);
    }
    r.u32_be(tag + 8)
}

const PADDING: u8 = 1;

fn flac(
    r: &mut Reader<'_>,
    at: u64,
    budget: &mut MetadataBudget,
    out: &mut Prescan,
) -> std::io::Result<()> {
    let mut p = at + 4;
    for _ in 0..MAX_ELEMENTS {
        let Some(h) = r.at(p, 4)? else {
            return Ok(());
        };
        let (kind, last) = (h[0] & 0x7F, h[0] & 0x80);
        let len = u32::from_be_bytes([0, h[1], h[2], h[3]]);
        let body = p + 4;
        let name = match kind {
            2 => "APPLICATION",
            3 => "SEEKTABLE",
            5 => "CUESHEET",
            6 => "PICTURE",
            _ => "",
        };
        if kind == 4 {
            flac_comments(r, p, len, last, budget, out)?;
        } else if !name.is_empty() && !budget.take(u64::from(len), 1) {
            out.patches.push(Patch::new(p, &[PADDING | last]));
            budget.skipped(format!("FLAC {name} block at byte {p} ({len} bytes)"));
        }
        if last != 0 {
            return Ok(());
        }
        p = body + u64::from(len);
    }
    out.malformed = Some(format!("more than {MAX_ELEMENTS} FLAC metadata blocks"));
    Ok(())
}

/// A VORBIS_COMMENT block at `p`: kept whole if it fits, else its comment
/// count is lowered to the comments that fit (symphonia skips the unread
/// rest of a block), or it becomes PADDING if not even the vendor fits.
fn flac_comments(
    r: &mut Reader<'_>,
    p: u64,
    len: u32,
    last: u8,
    budget: &mut MetadataBudget,
    out: &mut Prescan,
) -> std::io::Result<()> {
    let body = p + 4;
    let end = body + u64::from(len);
    let Some(vendor) = r.u32_le(body)? else {
        return Ok(());
    };
    let count_at = body + 4 + u64::from(vendor);
    let Some(count) = r.u32_le(count_at)?.filter(|_| count_at + 4 <= end) else {
        return Ok(()); // symphonia reports the broken block itself
    };
    if budget.take(u64::from(len), u64::from(count)) {
        return Ok(());
    }
    let mut used = count_at + 4 - body;
    if used > budget.bytes_left {
        out.patches.push(Patch::new(p, &[PADDING | last]));
        budget.skipped(format!(
            "FLAC VORBIS_COMMENT block at byte {p} ({len} bytes)"
        ));
        return Ok(());
    }
    let mut q = count_at + 4;
    let mut kept = 0u32;
    while kept < count && u64::from(kept) < budget.entries_left {
        let Some(n) = r.u32_le(q)? else { break };
        let next = q + 4 + u64::from(n);
        if next > end || used + 4 + u64::from(n) > budget.bytes_left {
            break;
        }
        used += 4 + u64::from(n);
        q = next;
        kept += 1;
    }
    budget.take(used, u64::from(kept));
    out.patches.push(Patch::new(count_at, &kept.to_le_bytes()));
    budget.skipped(format!(
        "FLAC VORBIS_COMMENT block at byte {p}: {} of its {count} comments",
        count - kept
    ));
    Ok(())
}

const UNKNOWN_CHUNK: &[u8; 4] = b"JUNK";

fn wav(
    r: &mut Reader<'_>,
    at: u64,
    budget: &mut MetadataBudget,
    out: &mut Prescan,
) -> std::io::Result<()> {
    let Some(riff_len) = r.u32_le(at + 4)? else {
        return Ok(());
    };
    let end = at + 8 + u64::from(riff_len);
    let mut p = at + 12;
    let mut fmt_chunks = 0;
    for _ in 0..MAX_ELEMENTS {
        if p + 8 > end {
            return Ok(());
        }
        let Some(h) = r.at(p, 8)? else {
            return Ok(());
        };
        let id: [u8; 4] = [h[0], h[1], h[2], h[3]];
        let size = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
        match &id {
            b"fmt " => {
                fmt_chunks += 1;
                if fmt_chunks == 2 {
                    out.lies.push(
                        "two `fmt ` chunks describe the audio differently or twice \
                         (only one is allowed)"
                            .into(),
                    );
                } else if fmt_chunks == 1 {
                    out.channels = wav_channels(r, p + 8, size)?;
                    // symphonia 0.6.1 maps at most 26 WAV channels, and
                    // panics on an extensible mask with 32 or more.
                    if out.channels.is_some_and(|c| c > 26) {
                        out.unsupported = Some("more than 26 WAV channels".into());
                    }
                }
            }
            b"LIST" if r.at(p + 8, 4)? == Some(b"INFO".as_slice()) => {
                let entries = sub_chunks(r, p + 12, p + 8 + u64::from(size), budget)?;
                if !budget.take(u64::from(size), entries) {
                    out.patches.push(Patch::new(p, UNKNOWN_CHUNK));
                    budget.skipped(format!("WAV LIST/INFO chunk at byte {p} ({size} bytes)"));
                }
            }
            b"data" => return Ok(()),
            _ => {}
        }
        p += 8 + u64::from(size) + u64::from(size & 1);
    }
    out.malformed = Some(format!(
        "more than {MAX_ELEMENTS} RIFF chunks before the data"
    ));
    Ok(())
}

/// Sub-chunks of a RIFF LIST between `from` and `end`, counted up to one more
/// than the entries left.
fn sub_chunks(
    r: &mut Reader<'_>,
    from: u64,
    end: u64,
    budget: &MetadataBudget,
) -> std::io::Result<u64> {
    let mut q = from;
    let mut n = 0u64;
    while q + 8 <= end && n <= budget.entries_left {
        let Some(size) = r.u32_le(q + 4)? else { break };
        n += 1;
        q += 8 + u64::from(size) + u64::from(size & 1);
    }
    Ok(n)
}

/// Channels of a well-formed `fmt ` chunk (PCM, float, A/µ-law or
/// extensible with consistent block alignment).
fn wav_channels(r: &mut Reader<'_>, body: u64, size: u32) -> std::io::Result<Option<u32>> {
    if size < 16 {
        return Ok(None);
    }
    let Some(f) = r.at(body, 16)? else {
        return Ok(None);
    };
    let u16le = |i: usize| u16::from_le_bytes([f[i], f[i + 1]]);
    let (tag, channels, bits, align) = (u16le(0), u16le(2), u16le(14), u16le(12));
    let rate = u32::from_le_bytes([f[4], f[5], f[6], f[7]]);
    let well_formed = matches!(tag, 1 | 3 | 6 | 7 | 0xFFFE)
        && rate > 0
        && matches!(bits, 8 | 16 | 24 | 32 | 64)
        && u32::from(align) == u32::from(channels) * u32::from(bits / 8);
    Ok(well_formed.then_some(u32::from(channels)))
}

fn aiff(
    r: &mut Reader<'_>,
    at: u64,
    budget: &mut MetadataBudget,
    out: &mut Prescan,
) -> std::io::Result<()> {
    let Some(form_len) = r.u32_be(at + 4)? else {
        return Ok(());
    };
    let aifc = r.at(at + 8, 4)? == Some(b"AIFC".as_slice());
    let end = at + 8 + u64::from(form_len);
    let mut p = at + 12;
    // (channels, frames, bits, compression) and SSND data bytes.
    let mut comm: Option<(u16, u32, u16, [u8; 4])> = None;
    let mut ssnd: Option<u64> = None;
    let mut walked = 0u32;
    while p + 8 <= end {
        walked += 1;
        if walked > MAX_ELEMENTS {
            out.malformed = Some(format!("more than {MAX_ELEMENTS} AIFF chunks"));
            return Ok(());
        }
        let Some(h) = r.at(p, 8)? else { break };
        let id: [u8; 4] = [h[0], h[1], h[2], h[3]];
        let size = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
        let body = p + 8;
        match &id {
            b"COMM" if comm.is_none() => {
                if let Some(c) = r.at(body, if aifc { 22 } else { 18 })? {
                    let compression = if aifc {
                        [c[18], c[19], c[20], c[21]]
                    } else {
                        *b"NONE"
                    };
                    comm = Some((
                        u16::from_be_bytes([c[0], c[1]]),
                        u32::from_be_bytes([c[2], c[3], c[4], c[5]]),
                        u16::from_be_bytes([c[6], c[7]]),
                        compression,
                    ));
                }
            }
            b"SSND" if ssnd.is_none() => {
                if let Some(offset) = r.u32_be(body)? {
                    ssnd = u64::from(size).checked_sub(8 + u64::from(offset));
                }
            }
            b"ID3 " | b"APPL" | b"NAME" | b"AUTH" | b"(c) " | b"ANNO" | b"COMT" | b"MARK" => {
                let entries = match &id {
                    b"COMT" | b"MARK" => r
                        .at(body, 2)?
                        .map_or(0, |b| u64::from(u16::from_be_bytes([b[0], b[1]]))),
                    b"ID3 " => id3_chunk_frames(r, body, size, budget)?,
                    _ => 1,
                };
                if !budget.take(u64::from(size), entries) {
                    out.patches.push(Patch::new(p, UNKNOWN_CHUNK));
                    let name = String::from_utf8_lossy(&id).trim_end().to_string();
                    budget.skipped(format!("AIFF {name} chunk at byte {p} ({size} bytes)"));
                }
            }
            _ => {}
        }
        p = body + u64::from(size) + u64::from(size & 1);
    }
    let Some((channels, frames, bits, compression)) = comm else {
        return Ok(());
    };
    if bits > 0 && bits <= 32 {
        out.channels = Some(u32::from(channels));
    }
    let sample_bytes = match &compression {
        b"NONE" | b"twos" | b"sowt" | b"raw " => u64::from(bits).div_ceil(8),
        b"fl32" | b"FL32" | b"in32" => 4,
        b"fl64" | b"FL64" => 8,
        b"in24" => 3,
        b"ulaw" | b"ULAW" | b"alaw" | b"ALAW" => 1,
        _ => 0,
    };
    let frame_bytes = sample_bytes * u64::from(channels);
    if let Some(data) = ssnd
        && frame_bytes > 0
        && u64::from(frames) != data / frame_bytes
    {
        out.lies.push(format!(
            "the COMM chunk declares {frames} frames but the SSND chunk holds {}",
            data / frame_bytes
        ));
    }
    Ok(())
}

/// Frames of an ID3 chunk's tag, if it is small enough to look at (else
/// more than any budget: the chunk is skipped).
fn id3_chunk_frames(
    r: &mut Reader<'_>,
    body: u64,
    size: u32,
    budget: &MetadataBudget,
) -> std::io::Result<u64> {
    if u64::from(size) > budget.bytes_left || size < 10 {
        return Ok(u64::MAX);
    }
    r.media.seek(SeekFrom::Start(body))?;
    let mut tag = Vec::new();
    Read::take(&mut *r.media, u64::from(size)).read_to_end(&mut tag)?;
    // The buffer no longer matches the position: empty it.
    r.buf.clear();
    r.start = 0;
    if tag.len() < 10 || !tag.starts_with(b"ID3") {
        return Ok(0);
    }
    let mut header = [0u8; 10];
    header.copy_from_slice(&tag[..10]);
    let plan = plan_id3v2(header, tag.split_off(10), true, budget.entries_left);
    Ok(if plan.cut { u64::MAX } else { plan.frames })
}

/// Pages walked looking for the comment header (symphonia caps a packet at
/// 16 MiB, about 260 full pages).
const MAX_OGG_PAGES: u32 = 1024;

/// Where a piece of an Ogg packet lies in the file.
#[derive(Debug, Clone, Copy)]
struct Span {
    /// Offset in the packet.
    packet: u64,
    file: u64,
    len: u64,
    /// The page holding it: start and length.
    page: u64,
    page_len: u64,
}

/// The comment header (second packet) of the first logical stream: kept
/// whole if it fits the budget, else its comment count is lowered to the
/// comments that fit (symphonia reads that many and drops the packet).
fn ogg_comments(
    r: &mut Reader<'_>,
    at: u64,
    budget: &mut MetadataBudget,
    out: &mut Prescan,
) -> std::io::Result<()> {
    let mut p = at;
    let mut serial = None;
    let mut packet = 0u32;
    let mut spans: Vec<Span> = Vec::new();
    let mut len = 0u64;
    for _ in 0..MAX_OGG_PAGES {
        let Some(h) = r.at(p, 27)? else {
            return Ok(());
        };
        if &h[..4] != b"OggS" {
            return Ok(());
        }
        let page_serial = [h[14], h[15], h[16], h[17]];
        let segments = usize::from(h[26]);
        let Some(lacing) = r.at(p + 27, segments)?.map(<[u8]>::to_vec) else {
            return Ok(());
        };
        let page_len = 27 + segments as u64 + lacing.iter().map(|&l| u64::from(l)).sum::<u64>();
        if *serial.get_or_insert(page_serial) == page_serial {
            let mut off = p + 27 + segments as u64;
            for &l in &lacing {
                let l = u64::from(l);
                if packet == 1 && l > 0 {
                    match spans.last_mut() {
                        Some(s) if s.page == p && s.file + s.len == off => s.len += l,
                        _ => spans.push(Span {
                            packet: len,
                            file: off,
                            len: l,
                            page: p,
                            page_len,
                        }),
                    }
                    len += l;
                }
                off += l;
                if l < 255 {
                    packet += 1;
                    if packet == 2 {
                        return limit_comment_packet(r, &spans, len, budget, out);
                    }
                }
            }
        }
        p += page_len;
    }
    Ok(())
}

fn span_of(spans: &[Span], offset: u64) -> Option<&Span> {
    let i = spans.partition_point(|s| s.packet + s.len <= offset);
    spans.get(i).filter(|s| s.packet <= offset)
}

/// A little-endian u32 at `offset` in the packet (it may straddle pages).
fn packet_u32(r: &mut Reader<'_>, spans: &[Span], offset: u64) -> std::io::Result<Option<u32>> {
    let mut b = [0u8; 4];
    for (i, byte) in b.iter_mut().enumerate() {
        let o = offset + i as u64;
        let Some(s) = span_of(spans, o) else {
            return Ok(None);
        };
        let Some(v) = r.at(s.file + (o - s.packet), 1)? else {
            return Ok(None);
        };
        *byte = v[0];
    }
    Ok(Some(u32::from_le_bytes(b)))
}

fn limit_comment_packet(
    r: &mut Reader<'_>,
    spans: &[Span],
    len: u64,
    budget: &mut MetadataBudget,
    out: &mut Prescan,
) -> std::io::Result<()> {
    let Some(first) = spans.first() else {
        return Ok(());
    };
    let head = r
        .at(first.file, 8.min(first.len as usize))?
        .map(<[u8]>::to_vec);
    let prefix = match head.as_deref() {
        Some(h) if h.starts_with(b"\x03vorbis") => 7,
        Some(h) if h.starts_with(b"OpusTags") => 8,
        _ => return Ok(()),
    };
    let Some(vendor) = packet_u32(r, spans, prefix)? else {
        return Ok(());
    };
    let count_at = prefix + 4 + u64::from(vendor);
    let Some(count) = packet_u32(r, spans, count_at)? else {
        return Ok(());
    };
    if budget.take(len, u64::from(count)) {
        return Ok(());
    }
    // The vendor string is skipped by symphonia, not stored: not counted.
    let mut q = count_at + 4;
    let mut used = 0u64;
    let mut kept = 0u32;
    while kept < count && u64::from(kept) < budget.entries_left {
        let Some(n) = packet_u32(r, spans, q)? else {
            break;
        };
        if q + 4 + u64::from(n) > len || used + 4 + u64::from(n) > budget.bytes_left {
            break;
        }
        used += 4 + u64::from(n);
        q += 4 + u64::from(n);
        kept += 1;
    }
    budget.take(used, u64::from(kept));
    budget.skipped(format!(
        "Ogg comment header: {} of its {count} comments",
        count - kept
    ));
    // New count bytes, then the CRC of each page they fall in.
    let mut changed: Vec<(u64, u8)> = Vec::new();
    let mut pages: Vec<(u64, u64)> = Vec::new();
    for (i, byte) in kept.to_le_bytes().into_iter().enumerate() {
        let o = count_at + i as u64;
        let Some(s) = span_of(spans, o) else {
            return Ok(());
        };
        changed.push((s.file + (o - s.packet), byte));
        if !pages.contains(&(s.page, s.page_len)) {
            pages.push((s.page, s.page_len));
        }
    }
    for (page, page_len) in pages {
        let Some(bytes) = r.at(page, page_len as usize)? else {
            return Ok(());
        };
        let mut bytes = bytes.to_vec();
        for &(at, byte) in &changed {
            if (page..page + page_len).contains(&at) {
                bytes[(at - page) as usize] = byte;
            }
        }
        bytes[22..26].fill(0);
        out.patches
            .push(Patch::new(page + 22, &ogg_crc(&bytes).to_le_bytes()));
    }
    for (at, byte) in changed {
        out.patches.push(Patch::new(at, &[byte]));
    }
    Ok(())
}

/// The Ogg page checksum: CRC-32, polynomial 0x04C11DB7, no reflection.
fn ogg_crc(bytes: &[u8]) -> u32 {
    let mut crc = 0u32;
    for &b in bytes {
        crc ^= u32::from(b) << 24;
        for _ in 0..8 {
            crc = if crc & 0x8000_0000 != 0 {
                (crc << 1) ^ 0x04C1_1DB7
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn ogg_crc_matches_a_real_page() {
        let ogg = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/stereo_44100.ogg"
        ))
        .expect("fixture");
        let segments = usize::from(ogg[26]);
        let body: usize = ogg[27..27 + segments].iter().map(|&l| usize::from(l)).sum();
        let mut page = ogg[..27 + segments + body].to_vec();
        let stored = u32::from_le_bytes([page[22], page[23], page[24], page[25]]);
        page[22..26].fill(0);
        assert_eq!(ogg_crc(&page), stored);
    }

    #[test]
    fn containers_are_found_after_id3_tags_and_junk() {
        let mut bytes = b"ID3\x03\0\0\0\0\0\x02\0\0".to_vec();
        bytes.extend_from_slice(&[0x55; 100]);
        bytes.extend_from_slice(b"fLaC\0\0\0\x22");
        bytes.extend_from_slice(&[0; 64]);
        let mut media = Cursor::new(bytes);
        let mut r = Reader {
            media: &mut media,
            buf: Vec::new(),
            start: 0,
        };
        assert!(matches!(
            find_container(&mut r).expect("read"),
            Some(Container::Flac(112))
        ));
    }
}
