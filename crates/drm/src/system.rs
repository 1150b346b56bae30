//! Protection schemes and DRM systems.

use std::fmt;

/// How samples are encrypted (ISO/IEC 23001-7 §10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// AES-CTR, per-sample IVs.
    Cenc,
    /// AES-CBC, constant IV, no pattern for audio.
    Cbcs,
}

impl Scheme {
    pub fn fourcc(self) -> &'static str {
        match self {
            Scheme::Cenc => "cenc",
            Scheme::Cbcs => "cbcs",
        }
    }

    /// Parses `cbcs` / `cenc`.
    pub fn parse(text: &str) -> Result<Scheme, crate::DrmError> {
        match text.trim() {
            "cbcs" => Ok(Scheme::Cbcs),
            "cenc" => Ok(Scheme::Cenc),
            other => Err(crate::DrmError::Config(format!(
                "unknown encryption scheme {other:?} (known: cbcs, cenc)"
            ))),
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.fourcc())
    }
}

/// A DRM system a package can be opened by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DrmSystem {
    Widevine,
    PlayReady,
    FairPlay,
    /// W3C ClearKey: the common-system PSSH (`1077efec-…`) in the init
    /// segments, `e2719d58-…` in the MPD.
    ClearKey,
}

/// Widevine `edef8ba9-79d6-4ace-a3c8-27dcd51d21ed`.
pub const WIDEVINE_SYSTEM_ID: [u8; 16] = [
    0xed, 0xef, 0x8b, 0xa9, 0x79, 0xd6, 0x4a, 0xce, 0xa3, 0xc8, 0x27, 0xdc, 0xd5, 0x1d, 0x21, 0xed,
];
/// PlayReady `9a04f079-9840-4286-ab92-e65be0885f95`.
pub const PLAYREADY_SYSTEM_ID: [u8; 16] = [
    0x9a, 0x04, 0xf0, 0x79, 0x98, 0x40, 0x42, 0x86, 0xab, 0x92, 0xe6, 0x5b, 0xe0, 0x88, 0x5f, 0x95,
];
/// FairPlay (as used in DASH/CPIX) `94ce86fb-07ff-4f43-adb8-93d2fa968ca2`.
pub const FAIRPLAY_SYSTEM_ID: [u8; 16] = [
    0x94, 0xce, 0x86, 0xfb, 0x07, 0xff, 0x4f, 0x43, 0xad, 0xb8, 0x93, 0xd2, 0xfa, 0x96, 0x8c, 0xa2,
];
/// W3C common PSSH format `1077efec-c0b2-4d02-ace3-3c1e52e2fb4b` (ClearKey
/// reads it).
pub const COMMON_SYSTEM_ID: [u8; 16] = [
    0x10, 0x77, 0xef, 0xec, 0xc0, 0xb2, 0x4d, 0x02, 0xac, 0xe3, 0x3c, 0x1e, 0x52, 0xe2, 0xfb, 0x4b,
];
/// ClearKey's scheme in an MPD `e2719d58-a985-b3c9-781a-b030af78d30e`.
pub const CLEARKEY_DASH_ID: [u8; 16] = [
    0xe2, 0x71, 0x9d, 0x58, 0xa9, 0x85, 0xb3, 0xc9, 0x78, 0x1a, 0xb0, 0x30, 0xaf, 0x78, 0xd3, 0x0e,
];

impl DrmSystem {
    pub const ALL: [DrmSystem; 4] = [
        DrmSystem::Widevine,
        DrmSystem::PlayReady,
        DrmSystem::FairPlay,
        DrmSystem::ClearKey,
    ];

    /// The system ID of its PSSH box (and of CPIX `DRMSystem@systemId`).
    pub fn system_id(self) -> [u8; 16] {
        match self {
            DrmSystem::Widevine => WIDEVINE_SYSTEM_ID,
            DrmSystem::PlayReady => PLAYREADY_SYSTEM_ID,
            DrmSystem::FairPlay => FAIRPLAY_SYSTEM_ID,
            DrmSystem::ClearKey => COMMON_SYSTEM_ID,
        }
    }

    /// The system with this PSSH / CPIX system ID (ClearKey answers to both
    /// the common-system and the ClearKey IDs).
    pub fn from_system_id(id: &[u8; 16]) -> Option<DrmSystem> {
        DrmSystem::ALL
            .into_iter()
            .find(|s| &s.system_id() == id)
            .or((id == &CLEARKEY_DASH_ID).then_some(DrmSystem::ClearKey))
    }

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            DrmSystem::Widevine => "widevine",
            DrmSystem::PlayReady => "playready",
            DrmSystem::FairPlay => "fairplay",
            DrmSystem::ClearKey => "clearkey",
        }
    }

    /// Parses one `--drm-systems` name.
    pub fn parse(text: &str) -> Result<DrmSystem, crate::DrmError> {
        DrmSystem::ALL
            .into_iter()
            .find(|s| s.name() == text.trim().to_ascii_lowercase())
            .ok_or_else(|| {
                crate::DrmError::Config(format!(
                    "unknown DRM system {text:?} (known: widevine, playready, fairplay, clearkey)"
                ))
            })
    }
}

impl fmt::Display for DrmSystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
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

/// Parses a UUID (with or without dashes, any case) or 32 hex digits.
pub fn parse_uuid(text: &str) -> Option<[u8; 16]> {
    let hex: String = text.trim().chars().filter(|&c| c != '-').collect();
    parse_hex16(&hex)
}

/// Exactly 32 hex digits.
pub fn parse_hex16(hex: &str) -> Option<[u8; 16]> {
    if hex.len() != 32 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}
