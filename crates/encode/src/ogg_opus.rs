//! RFC 7845 Ogg Opus: identification header, comment header, audio pages
//! with granule positions that trim the encoder delay and the end padding.

use std::io::Write;

use ogg::{PacketWriteEndInfo, PacketWriter};

use crate::error::EncodeError;
use crate::opus_encoder::{OPUS_FRAME_SAMPLES, OpusPacket};

/// Audio pages are closed after this many packets (1 s of 20 ms packets),
/// as opusenc does, so a player can seek and start without reading far.
const PACKETS_PER_PAGE: u64 = 50;
/// Comment values larger than this are dropped (cover art does not belong
/// in the Opus header of a streaming rendition).
const MAX_COMMENT_BYTES: usize = 16 * 1024;
/// The whole OpusTags packet stays under one Ogg page's worth of data.
const MAX_TAGS_BYTES: usize = 60 * 1024;

/// The fields of the OpusHead identification header (mapping family 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusHead {
    pub channels: u8,
    pub pre_skip: u16,
    /// The rate of the original input, informational only.
    pub input_sample_rate: u32,
    /// Q7.8 dB; audiopack bakes the loudness gain into the samples, so 0.
    pub output_gain_q8: i16,
}

impl OpusHead {
    /// The 19-byte OpusHead packet (little-endian, RFC 7845 §5.1).
    pub fn to_packet(&self) -> Vec<u8> {
        let mut p = Vec::with_capacity(19);
        p.extend_from_slice(b"OpusHead");
        p.push(1); // version
        p.push(self.channels);
        p.extend_from_slice(&self.pre_skip.to_le_bytes());
        p.extend_from_slice(&self.input_sample_rate.to_le_bytes());
        p.extend_from_slice(&self.output_gain_q8.to_le_bytes());
        p.push(0); // channel mapping family 0: mono or stereo, no table
        p
    }
}

/// The OpusTags packet: vendor string and `KEY=value` comments (RFC 7845
/// §5.2). Keys that are not valid Vorbis comment field names are skipped,
/// as are oversized values.
pub fn opus_tags_packet(vendor: &str, comments: &[(String, String)]) -> Vec<u8> {
    let mut body = Vec::new();
    let mut count = 0u32;
    for (key, value) in comments {
        let key_ok =
            !key.is_empty() && key.bytes().all(|b| (0x20..=0x7d).contains(&b) && b != b'=');
        let entry_len = key.len() + 1 + value.len();
        if !key_ok || value.len() > MAX_COMMENT_BYTES || body.len() + entry_len + 4 > MAX_TAGS_BYTES
        {
            continue;
        }
        body.extend_from_slice(&(entry_len as u32).to_le_bytes());
        body.extend_from_slice(key.to_ascii_uppercase().as_bytes());
        body.push(b'=');
        body.extend_from_slice(value.as_bytes());
        count += 1;
    }
    let mut p = Vec::with_capacity(16 + vendor.len() + body.len());
    p.extend_from_slice(b"OpusTags");
    p.extend_from_slice(&(vendor.len() as u32).to_le_bytes());
    p.extend_from_slice(vendor.as_bytes());
    p.extend_from_slice(&count.to_le_bytes());
    p.extend_from_slice(&body);
    p
}

/// Writes one Ogg Opus logical stream to `sink`.
///
/// Packets are held back by one so the last can carry the end-of-stream
/// flag and the final granule position `pre_skip + frames`, which tells the
/// decoder where the real audio ends.
pub struct OggOpusWriter<W: Write> {
    writer: PacketWriter<'static, W>,
    serial: u32,
    held: Option<Vec<u8>>,
    packets: u64,
    pre_skip: u16,
    bytes_audio: u64,
}

impl<W: Write> OggOpusWriter<W> {
    /// Writes the two header pages. `serial` should differ between streams
    /// that may be chained; audiopack derives it from the rendition so that
    /// output is deterministic.
    pub fn new(
        sink: W,
        serial: u32,
        head: OpusHead,
        tags_packet: Vec<u8>,
    ) -> Result<Self, EncodeError> {
        let mut writer = PacketWriter::new(sink);
        writer.write_packet(head.to_packet(), serial, PacketWriteEndInfo::EndPage, 0)?;
        writer.write_packet(tags_packet, serial, PacketWriteEndInfo::EndPage, 0)?;
        Ok(OggOpusWriter {
            writer,
            serial,
            held: None,
            packets: 0,
            pre_skip: head.pre_skip,
            bytes_audio: 0,
        })
    }

    /// Appends one 20 ms packet.
    pub fn write(&mut self, packet: OpusPacket) -> Result<(), EncodeError> {
        self.bytes_audio += packet.data.len() as u64;
        if let Some(prev) = self.held.replace(packet.data) {
            self.emit(prev)?;
        }
        Ok(())
    }

    fn emit(&mut self, data: Vec<u8>) -> Result<(), EncodeError> {
        self.packets += 1;
        let granule = self.packets * OPUS_FRAME_SAMPLES as u64;
        let end = if self.packets.is_multiple_of(PACKETS_PER_PAGE) {
            PacketWriteEndInfo::EndPage
        } else {
            PacketWriteEndInfo::NormalPacket
        };
        self.writer.write_packet(data, self.serial, end, granule)?;
        Ok(())
    }

    /// Ends the stream: `frames` is the real length at 48 kHz (without
    /// pre-skip or padding). Returns the sink.
    pub fn finish(mut self, frames: u64) -> Result<W, EncodeError> {
        let last = self.held.take().unwrap_or_default();
        let end_granule = u64::from(self.pre_skip) + frames;
        let covered = (self.packets + 1) * OPUS_FRAME_SAMPLES as u64;
        if end_granule > covered {
            return Err(EncodeError::Config(format!(
                "ogg: {frames} frames claimed but packets only cover {covered} samples"
            )));
        }
        self.writer.write_packet(
            last,
            self.serial,
            PacketWriteEndInfo::EndStream,
            end_granule,
        )?;
        Ok(self.writer.into_inner())
    }

    /// Bytes of Opus payload written so far (without Ogg framing).
    pub fn audio_bytes(&self) -> u64 {
        self.bytes_audio
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opus_head_layout() {
        let head = OpusHead {
            channels: 2,
            pre_skip: 312,
            input_sample_rate: 44_100,
            output_gain_q8: 0,
        };
        let p = head.to_packet();
        assert_eq!(
            p,
            [
                b'O', b'p', b'u', b's', b'H', b'e', b'a', b'd', 1, 2, 0x38, 0x01, 0x44, 0xAC, 0, 0,
                0, 0, 0
            ]
        );
    }

    #[test]
    fn opus_tags_layout_and_filtering() {
        let tags = vec![
            ("title".to_string(), "Song".to_string()),
            ("BAD=KEY".to_string(), "x".to_string()),
        ];
        let p = opus_tags_packet("v", &tags);
        let mut want = b"OpusTags".to_vec();
        want.extend_from_slice(&[1, 0, 0, 0, b'v', 1, 0, 0, 0, 10, 0, 0, 0]);
        want.extend_from_slice(b"TITLE=Song");
        assert_eq!(p, want);
    }

    #[test]
    fn granules_and_flags() {
        let head = OpusHead {
            channels: 1,
            pre_skip: 312,
            input_sample_rate: 48_000,
            output_gain_q8: 0,
        };
        let mut w =
            OggOpusWriter::new(Vec::new(), 7, head, opus_tags_packet("v", &[])).expect("writer");
        // 120 packets: 115_200 samples cover 312 + 114_000.
        for i in 0..120u8 {
            w.write(OpusPacket { data: vec![i; 3] }).expect("write");
        }
        let bytes = w.finish(114_000).expect("finish");
        let mut r = ogg::PacketReader::new(std::io::Cursor::new(bytes));
        let mut packets = Vec::new();
        while let Some(p) = r.read_packet().expect("read") {
            packets.push(p);
        }
        assert_eq!(packets.len(), 122);
        assert!(packets[0].first_in_stream() && packets[0].data.starts_with(b"OpusHead"));
        assert!(packets[1].data.starts_with(b"OpusTags"));
        // Page 1 s in: 50 packets end on the page.
        assert!(packets[51].last_in_page());
        assert_eq!(packets[51].absgp_page(), 50 * 960);
        let last = packets.last().expect("last");
        assert!(last.last_in_stream());
        assert_eq!(last.absgp_page(), 312 + 114_000);
    }
}
