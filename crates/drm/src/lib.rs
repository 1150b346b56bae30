//! # audiopack-drm
//!
//! Everything secret and everything DRM for audiopack's encrypted packages
//! (ISO/IEC 23001-7 Common Encryption). The segmenter writes the boxes and
//! the manifests the references; this crate owns the keys and the bytes
//! that depend on them.
//!
//! ## Design
//!
//! * **Keys** ([`ContentKey`], [`KeySet`]): a content key is 16 bytes in a
//!   `zeroize`-on-drop box; `Debug` prints `***`; nothing here implements
//!   `Serialize` for a key. Key IDs ([`Kid`]) are public and print as UUIDs.
//!   A package has one key for the lossy ladder and one for the lossless
//!   tier (the same key when only one is given).
//! * **Key sources** ([`KeySource`]), resolved once per job before any
//!   encode:
//!   - a JSON key file ([`keyfile`]): `{"keys":[{"kid","key","iv"?,"tracks"?}]}`;
//!   - a DASH-IF CPIX 2.3 document ([`cpix`], detected by content): plain
//!     keys, usage rules mapping keys to lossy/lossless, and per-system
//!     PSSH / HLS signalling data used verbatim;
//!   - a SPEKE v2 key server ([`speke`]): a CPIX request over HTTP(S),
//!     SigV4-signed when AWS credentials are configured.
//! * **Sample encryption** ([`cipher`]): `cbcs` (AES-128-CBC over the whole
//!   16-byte blocks of each sample from its start, the tail clear, the IV
//!   reset per sample, one constant IV per track; audio uses no pattern) and
//!   `cenc` (AES-128-CTR over the whole sample, 8-byte per-sample IVs,
//!   counter continuing across the sample's blocks). IVs are derived
//!   deterministically from the key ID, the rendition and the sample's
//!   position, so reruns are byte-identical and no IV repeats under one key
//!   (renditions sharing a key get disjoint IV spaces).
//! * **PSSH** ([`pssh`]): Widevine (WidevinePsshData protobuf), PlayReady
//!   (PlayReady Header Object, WRMHEADER 4.0 AESCTR / 4.3 AESCBC) and the
//!   W3C common system (ClearKey), built and parsed back.

pub mod cipher;
pub mod cpix;
mod error;
mod key;
pub mod keyfile;
pub mod protect;
pub mod pssh;
pub mod speke;
pub mod system;

pub use error::DrmError;
pub use key::{ContentKey, KeySet, KeySource, Kid, SystemData, TrackType};
pub use protect::PackageProtection;
pub use system::{DrmSystem, Scheme, parse_hex16, parse_uuid, uuid_text};
