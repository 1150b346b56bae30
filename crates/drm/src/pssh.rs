//! `pssh` boxes (ISO/IEC 23001-7 §8.1) and the system-specific data inside
//! them, built and parsed back:
//!
//! * Widevine: the `WidevinePsshData` protobuf — `key_id` (field 2,
//!   repeated bytes), `provider` (3, string), `content_id` (4, bytes),
//!   `protection_scheme` (9, uint32 four-cc, written for schemes other than
//!   `cenc`). Box version 0.
//! * PlayReady: a PlayReady Header Object (little-endian length, record
//!   count, one type-1 record holding the UTF-16LE `WRMHEADER`): 4.0.0.0
//!   with `AESCTR` for cenc, 4.3.0.0 with `AESCBC` for cbcs; the KID in GUID
//!   byte order, base64; `LA_URL` when given; no `CHECKSUM` (optional for
//!   AESCTR, absent for AESCBC). Box version 0.
//! * W3C common system (what ClearKey reads): version 1 with the key IDs
//!   and no data.

use crate::system::{COMMON_SYSTEM_ID, PLAYREADY_SYSTEM_ID, WIDEVINE_SYSTEM_ID};
use crate::{Kid, Scheme};

/// A parsed `pssh` box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pssh {
    pub version: u8,
    pub system_id: [u8; 16],
    /// Version 1 only.
    pub kids: Vec<Kid>,
    pub data: Vec<u8>,
}

impl Pssh {
    /// The whole box.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(32 + self.data.len() + 16 * self.kids.len());
        body.push(self.version);
        body.extend_from_slice(&[0, 0, 0]);
        body.extend_from_slice(&self.system_id);
        if self.version >= 1 {
            body.extend_from_slice(&(self.kids.len() as u32).to_be_bytes());
            for kid in &self.kids {
                body.extend_from_slice(&kid.0);
            }
        }
        body.extend_from_slice(&(self.data.len() as u32).to_be_bytes());
        body.extend_from_slice(&self.data);
        let mut out = Vec::with_capacity(8 + body.len());
        out.extend_from_slice(&((8 + body.len()) as u32).to_be_bytes());
        out.extend_from_slice(b"pssh");
        out.extend_from_slice(&body);
        out
    }

    /// Parses one whole `pssh` box (exactly `bytes`).
    pub fn parse(bytes: &[u8]) -> Result<Pssh, String> {
        let mut r = Reader { bytes, at: 0 };
        let size = r.u32()? as usize;
        if size != bytes.len() {
            return Err(format!(
                "pssh box size {size} but {} bytes given",
                bytes.len()
            ));
        }
        if r.take(4)? != b"pssh" {
            return Err("not a pssh box".into());
        }
        let version = r.take(1)?[0];
        if version > 1 {
            return Err(format!("pssh version {version} is unknown"));
        }
        r.take(3)?;
        let mut system_id = [0u8; 16];
        system_id.copy_from_slice(r.take(16)?);
        let mut kids = Vec::new();
        if version == 1 {
            let count = r.u32()? as usize;
            if count > (bytes.len() - r.at) / 16 {
                return Err(format!("pssh claims {count} key IDs"));
            }
            for _ in 0..count {
                let mut kid = [0u8; 16];
                kid.copy_from_slice(r.take(16)?);
                kids.push(Kid(kid));
            }
        }
        let data_len = r.u32()? as usize;
        let data = r.take(data_len)?.to_vec();
        if r.at != bytes.len() {
            return Err("bytes after the pssh data".into());
        }
        Ok(Pssh {
            version,
            system_id,
            kids,
            data,
        })
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.bytes.len())
            .ok_or("pssh box truncated")?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
}

/// The Widevine PSSH for `kids`.
pub fn widevine(kids: &[Kid], content_id: Option<&[u8]>, scheme: Scheme) -> Vec<u8> {
    let mut data = Vec::new();
    for kid in kids {
        put_bytes_field(&mut data, 2, &kid.0);
    }
    if let Some(id) = content_id {
        put_bytes_field(&mut data, 4, id);
    }
    if scheme != Scheme::Cenc {
        put_varint(&mut data, 9 << 3);
        let fourcc = scheme.fourcc().as_bytes();
        put_varint(
            &mut data,
            u64::from(u32::from_be_bytes([
                fourcc[0], fourcc[1], fourcc[2], fourcc[3],
            ])),
        );
    }
    Pssh {
        version: 0,
        system_id: WIDEVINE_SYSTEM_ID,
        kids: Vec::new(),
        data,
    }
    .to_bytes()
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn put_bytes_field(out: &mut Vec<u8>, field: u64, bytes: &[u8]) {
    put_varint(out, (field << 3) | 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// The fields of a WidevinePsshData message this crate writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WidevineData {
    pub key_ids: Vec<Kid>,
    pub provider: Option<String>,
    pub content_id: Option<Vec<u8>>,
    pub protection_scheme: Option<u32>,
}

/// Parses WidevinePsshData (unknown fields skipped).
pub fn parse_widevine(data: &[u8]) -> Result<WidevineData, String> {
    fn varint(data: &[u8], at: &mut usize) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *data.get(*at).ok_or("protobuf truncated")?;
            *at += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("protobuf varint too long".into())
    }
    let mut out = WidevineData::default();
    let mut at = 0;
    while at < data.len() {
        let tag = varint(data, &mut at)?;
        let (field, wire) = (tag >> 3, tag & 7);
        match wire {
            0 => {
                let v = varint(data, &mut at)?;
                if field == 9 {
                    out.protection_scheme = u32::try_from(v).ok();
                }
            }
            2 => {
                let len = varint(data, &mut at)? as usize;
                let end = at
                    .checked_add(len)
                    .filter(|&e| e <= data.len())
                    .ok_or("protobuf field truncated")?;
                let bytes = &data[at..end];
                at = end;
                match field {
                    2 => out.key_ids.push(Kid(bytes
                        .try_into()
                        .map_err(|_| format!("a {len}-byte key_id"))?)),
                    3 => out.provider = Some(String::from_utf8_lossy(bytes).into_owned()),
                    4 => out.content_id = Some(bytes.to_vec()),
                    _ => {}
                }
            }
            5 => at += 4,
            1 => at += 8,
            other => return Err(format!("protobuf wire type {other}")),
        }
    }
    Ok(out)
}

/// `kid` in GUID byte order (the first three fields little-endian), as
/// PlayReady writes key IDs.
pub fn guid_order(kid: &Kid) -> [u8; 16] {
    let k = kid.0;
    [
        k[3], k[2], k[1], k[0], k[5], k[4], k[7], k[6], k[8], k[9], k[10], k[11], k[12], k[13],
        k[14], k[15],
    ]
}

/// The `WRMHEADER` XML for `kid`.
pub fn playready_header_xml(kid: &Kid, scheme: Scheme, la_url: Option<&str>) -> String {
    let kid64 = base64(&guid_order(kid));
    let la = la_url
        .map(|u| format!("<LA_URL>{}</LA_URL>", crate::cpix::xml_escape(u)))
        .unwrap_or_default();
    match scheme {
        Scheme::Cenc => format!(
            "<WRMHEADER xmlns=\"http://schemas.microsoft.com/DRM/2007/03/PlayReadyHeader\" version=\"4.0.0.0\"><DATA><PROTECTINFO><KEYLEN>16</KEYLEN><ALGID>AESCTR</ALGID></PROTECTINFO><KID>{kid64}</KID>{la}</DATA></WRMHEADER>"
        ),
        Scheme::Cbcs => format!(
            "<WRMHEADER xmlns=\"http://schemas.microsoft.com/DRM/2007/03/PlayReadyHeader\" version=\"4.3.0.0\"><DATA><PROTECTINFO><KIDS><KID ALGID=\"AESCBC\" VALUE=\"{kid64}\"></KID></KIDS></PROTECTINFO>{la}</DATA></WRMHEADER>"
        ),
    }
}

/// A PlayReady Header Object holding one WRMHEADER record.
pub fn playready_object(kid: &Kid, scheme: Scheme, la_url: Option<&str>) -> Vec<u8> {
    let xml: Vec<u8> = playready_header_xml(kid, scheme, la_url)
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let total = 4 + 2 + 2 + 2 + xml.len();
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&(xml.len() as u16).to_le_bytes());
    out.extend_from_slice(&xml);
    out
}

/// The PlayReady PSSH for `kid`.
pub fn playready(kid: &Kid, scheme: Scheme, la_url: Option<&str>) -> Vec<u8> {
    Pssh {
        version: 0,
        system_id: PLAYREADY_SYSTEM_ID,
        kids: Vec::new(),
        data: playready_object(kid, scheme, la_url),
    }
    .to_bytes()
}

/// The WRMHEADER XML inside a PlayReady Header Object.
pub fn parse_playready_object(data: &[u8]) -> Result<String, String> {
    if data.len() < 10 {
        return Err("PlayReady object truncated".into());
    }
    let total = u32::from_le_bytes([data[0], data[1], data[2], data[3]]) as usize;
    if total != data.len() {
        return Err(format!(
            "PlayReady object length {total}, {} bytes",
            data.len()
        ));
    }
    let count = u16::from_le_bytes([data[4], data[5]]);
    let mut at = 6;
    for _ in 0..count {
        let head = data.get(at..at + 4).ok_or("PlayReady record truncated")?;
        let kind = u16::from_le_bytes([head[0], head[1]]);
        let len = usize::from(u16::from_le_bytes([head[2], head[3]]));
        let body = data
            .get(at + 4..at + 4 + len)
            .ok_or("PlayReady record truncated")?;
        at += 4 + len;
        if kind == 1 {
            let units: Vec<u16> = body
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            return String::from_utf16(&units).map_err(|_| "WRMHEADER is not UTF-16".into());
        }
    }
    Err("no rights management header record".into())
}

/// The W3C common-system PSSH (version 1, key IDs, no data).
pub fn common(kids: &[Kid]) -> Vec<u8> {
    Pssh {
        version: 1,
        system_id: COMMON_SYSTEM_ID,
        kids: kids.to_vec(),
        data: Vec::new(),
    }
    .to_bytes()
}

/// Standard base64 with padding (RFC 4648 §4).
pub fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KID: Kid = Kid([
        0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd,
        0xef,
    ]);

    #[test]
    fn widevine_round_trip() {
        let pssh = Pssh::parse(&widevine(&[KID], Some(b"song-42"), Scheme::Cbcs)).expect("pssh");
        assert_eq!(pssh.version, 0);
        assert_eq!(pssh.system_id, WIDEVINE_SYSTEM_ID);
        let data = parse_widevine(&pssh.data).expect("protobuf");
        assert_eq!(data.key_ids, vec![KID]);
        assert_eq!(data.content_id.as_deref(), Some(&b"song-42"[..]));
        assert_eq!(data.protection_scheme, Some(0x6362_6373)); // 'cbcs'
        // cenc is the default: the field is left out.
        let pssh = Pssh::parse(&widevine(&[KID], None, Scheme::Cenc)).expect("pssh");
        assert_eq!(
            parse_widevine(&pssh.data).expect("pb").protection_scheme,
            None
        );
    }

    #[test]
    fn widevine_bytes_match_a_hand_encoded_message() {
        // key_id (field 2, bytes): 0x12 0x10 + 16 bytes; content_id (4):
        // 0x22 0x02 "ab"; protection_scheme (9, varint): 0x48 + varint of
        // 0x63626373.
        let pssh = Pssh::parse(&widevine(&[KID], Some(b"ab"), Scheme::Cbcs)).expect("pssh");
        let mut want = vec![0x12, 0x10];
        want.extend_from_slice(&KID.0);
        want.extend_from_slice(&[0x22, 0x02, b'a', b'b', 0x48, 0xf3, 0xc6, 0x89, 0x9b, 0x06]);
        assert_eq!(pssh.data, want);
    }

    #[test]
    fn playready_header_in_guid_order() {
        let pssh = Pssh::parse(&playready(
            &KID,
            Scheme::Cenc,
            Some("https://pr.example/rightsmanager.asmx?a=1&b=2"),
        ))
        .expect("pssh");
        assert_eq!(pssh.system_id, PLAYREADY_SYSTEM_ID);
        let xml = parse_playready_object(&pssh.data).expect("object");
        // GUID order: 67452301-ab89-efcd-0123-456789abcdef → base64.
        let guid = [
            0x67, 0x45, 0x23, 0x01, 0xab, 0x89, 0xef, 0xcd, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab,
            0xcd, 0xef,
        ];
        assert_eq!(guid_order(&KID), guid);
        assert!(xml.contains("version=\"4.0.0.0\""), "{xml}");
        assert!(xml.contains("<ALGID>AESCTR</ALGID>"), "{xml}");
        assert!(
            xml.contains(&format!("<KID>{}</KID>", base64(&guid))),
            "{xml}"
        );
        assert!(
            xml.contains("<LA_URL>https://pr.example/rightsmanager.asmx?a=1&amp;b=2</LA_URL>"),
            "{xml}"
        );
        assert!(!xml.contains("CHECKSUM"));
        let cbcs = parse_playready_object(
            &Pssh::parse(&playready(&KID, Scheme::Cbcs, None))
                .expect("pssh")
                .data,
        )
        .expect("object");
        assert!(cbcs.contains("version=\"4.3.0.0\""), "{cbcs}");
        assert!(
            cbcs.contains(&format!(
                "<KID ALGID=\"AESCBC\" VALUE=\"{}\"></KID>",
                base64(&guid)
            )),
            "{cbcs}"
        );
        assert!(!cbcs.contains("LA_URL"));
    }

    #[test]
    fn common_system_lists_the_kids() {
        let other = Kid([0xfe; 16]);
        let bytes = common(&[KID, other]);
        // 8 header + 4 version/flags + 16 system + 4 count + 32 kids + 4 size.
        assert_eq!(bytes.len(), 68);
        let pssh = Pssh::parse(&bytes).expect("pssh");
        assert_eq!(pssh.version, 1);
        assert_eq!(pssh.system_id, COMMON_SYSTEM_ID);
        assert_eq!(pssh.kids, vec![KID, other]);
        assert!(pssh.data.is_empty());
    }

    #[test]
    fn malformed_boxes_are_errors() {
        let good = common(&[KID]);
        for cut in [0, 7, 20, good.len() - 1] {
            assert!(Pssh::parse(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut lying = good.clone();
        lying[28..32].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(Pssh::parse(&lying).is_err());
    }
}
