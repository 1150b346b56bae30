//! DRM key references in manifests (ISO/IEC 23001-7 CENC signalling):
//! `EXT-X-KEY` / `EXT-X-SESSION-KEY` in HLS, `ContentProtection` in DASH.
//! Only the references live here; keys, PSSH contents and encryption are
//! the job of the packager and the key service.

/// How the media is encrypted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// AES-CTR (`cenc`).
    Cenc,
    /// AES-CBC with a constant IV (`cbcs`; audio has no pattern).
    Cbcs,
}

impl Scheme {
    pub fn fourcc(self) -> &'static str {
        match self {
            Scheme::Cenc => "cenc",
            Scheme::Cbcs => "cbcs",
        }
    }

    /// The HLS METHOD for fMP4 with this scheme.
    fn hls_method(self) -> &'static str {
        match self {
            Scheme::Cenc => "SAMPLE-AES-CTR",
            Scheme::Cbcs => "SAMPLE-AES",
        }
    }
}

/// How one DRM system is reached from HLS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HlsKeyReference {
    /// `KEYFORMAT`, e.g. `com.apple.streamingkeydelivery`,
    /// `urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed`, `com.microsoft.playready`.
    pub keyformat: String,
    /// `URI`: an `skd://` URL, a `data:` URI carrying the PSSH, …
    pub uri: String,
}

/// HLS signalling handed over by a key service (CPIX
/// `HLSSignalingData`), written as given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HlsVerbatim {
    /// The media playlist's `#EXT-X-KEY` line(s).
    pub media: String,
    /// The master playlist's `#EXT-X-SESSION-KEY` line(s), if given.
    pub master: Option<String>,
}

/// One DRM system's entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySystem {
    /// The DASH `schemeIdUri`, e.g. `urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed`
    /// (ClearKey in an MPD: `urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e`).
    pub dash_scheme_id_uri: String,
    /// The whole `pssh` box, for `cenc:pssh` in the MPD.
    pub pssh: Option<Vec<u8>>,
    /// A licence server URL (`dashif:Laurl`, used by ClearKey).
    pub license_url: Option<String>,
    /// The HLS reference; `None` for systems not offered over HLS.
    pub hls: Option<HlsKeyReference>,
    /// Given HLS lines, used instead of `hls`.
    pub hls_verbatim: Option<HlsVerbatim>,
    /// Whether the system gets a `ContentProtection` in the MPD.
    pub dash: bool,
}

/// The key references of a presentation (one key for all renditions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protection {
    pub scheme: Scheme,
    /// The default key ID (16 bytes).
    pub default_kid: [u8; 16],
    pub systems: Vec<KeySystem>,
}

impl Protection {
    /// `#EXT-X-KEY` (media playlists) or `#EXT-X-SESSION-KEY` (master)
    /// lines, one per system offered over HLS.
    pub(crate) fn hls_lines(&self, tag: &str) -> Vec<String> {
        let master = tag == "EXT-X-SESSION-KEY";
        let mut lines = Vec::new();
        for system in &self.systems {
            if let Some(given) = &system.hls_verbatim {
                let text = if master {
                    given.master.as_deref()
                } else {
                    Some(given.media.as_str())
                };
                lines.extend(
                    text.into_iter()
                        .flat_map(str::lines)
                        .map(str::trim)
                        .filter(|l| l.starts_with("#EXT-X-"))
                        .map(str::to_string),
                );
            } else if let Some(h) = &system.hls {
                lines.push(format!(
                    "#{tag}:METHOD={},URI=\"{}\",KEYFORMAT=\"{}\",KEYFORMATVERSIONS=\"1\"",
                    self.scheme.hls_method(),
                    h.uri,
                    h.keyformat
                ));
            }
        }
        lines
    }

    /// The `ContentProtection` elements of an AdaptationSet, indented.
    pub(crate) fn dash_elements(&self, indent: &str) -> String {
        let mut out = format!(
            "{indent}<ContentProtection schemeIdUri=\"urn:mpeg:dash:mp4protection:2011\" value=\"{}\" cenc:default_KID=\"{}\"/>\n",
            self.scheme.fourcc(),
            uuid_text(&self.default_kid)
        );
        for s in self.systems.iter().filter(|s| s.dash) {
            out.push_str(&format!(
                "{indent}<ContentProtection schemeIdUri=\"{}\">\n",
                crate::dash::xml(&s.dash_scheme_id_uri)
            ));
            if let Some(url) = &s.license_url {
                out.push_str(&format!(
                    "{indent}  <dashif:Laurl>{}</dashif:Laurl>\n",
                    crate::dash::xml(url)
                ));
            }
            if let Some(pssh) = &s.pssh {
                out.push_str(&format!(
                    "{indent}  <cenc:pssh>{}</cenc:pssh>\n",
                    base64(pssh)
                ));
            }
            out.push_str(&format!("{indent}</ContentProtection>\n"));
        }
        out
    }
}

/// `01234567-89ab-cdef-0123-456789abcdef`.
pub fn uuid_text(bytes: &[u8; 16]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Standard base64 with padding (RFC 4648 §4).
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(chunk.get(1).copied().unwrap_or(0)) << 8)
            | u32::from(chunk.get(2).copied().unwrap_or(0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_vectors() {
        // RFC 4648 §10 test vectors.
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), want);
        }
    }

    #[test]
    fn uuid_format() {
        let widevine = [
            0xed, 0xef, 0x8b, 0xa9, 0x79, 0xd6, 0x4a, 0xce, 0xa3, 0xc8, 0x27, 0xdc, 0xd5, 0x1d,
            0x21, 0xed,
        ];
        assert_eq!(uuid_text(&widevine), "edef8ba9-79d6-4ace-a3c8-27dcd51d21ed");
    }
}
