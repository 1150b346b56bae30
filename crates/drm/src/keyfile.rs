//! JSON key files:
//!
//! ```json
//! {"keys": [{"kid": "<32 hex>", "key": "<32 hex>", "iv": "<32 hex, optional>",
//!            "tracks": "lossy" | "lossless" (optional)}]}
//! ```
//!
//! One entry protects every rendition; two entries, one `"tracks":
//! "lossy"` and one `"tracks": "lossless"`, give the FLAC tier its own key.
//! Key IDs may also be written as UUIDs. Unknown fields are refused (a typo
//! must not silently drop an IV). Errors name the file and the entry, never
//! a key.

use std::path::Path;

use serde::Deserialize;
use zeroize::Zeroizing;

use crate::system::{parse_hex16, parse_uuid};
use crate::{ContentKey, DrmError, KeySet, KeySource, Kid};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    keys: Vec<Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    kid: String,
    key: Zeroizing<String>,
    #[serde(default)]
    iv: Option<String>,
    #[serde(default)]
    tracks: Option<String>,
}

/// Largest key file read (a key file is a few hundred bytes).
const MAX_BYTES: u64 = 64 * 1024;

/// Reads a key file.
pub fn read(path: &Path) -> Result<KeySet, DrmError> {
    let name = path.display().to_string();
    let unavailable = |message: String| DrmError::Unavailable {
        source_name: name.clone(),
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| unavailable(e.to_string()))?;
    if meta.len() > MAX_BYTES {
        return Err(DrmError::Keys {
            source_name: name,
            message: format!("{} bytes is too large for a key file", meta.len()),
        });
    }
    let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| unavailable(e.to_string()))?);
    parse(&bytes, KeySource::File(path.to_path_buf()))
}

/// Parses key-file bytes.
pub fn parse(bytes: &[u8], source: KeySource) -> Result<KeySet, DrmError> {
    let name = source.location();
    let bad = |message: String| DrmError::Keys {
        source_name: name.clone(),
        message,
    };
    // serde_json's messages quote the offending token at most for unknown
    // fields and types, not values, but a syntax error can echo nothing
    // but a position: keep only the position to be sure.
    let file: File = serde_json::from_slice(bytes).map_err(|e| {
        bad(format!(
            "not a key file ({{\"keys\":[{{\"kid\",\"key\"}}]}}): {} at line {} column {}",
            match e.classify() {
                serde_json::error::Category::Syntax | serde_json::error::Category::Eof =>
                    "invalid JSON",
                serde_json::error::Category::Data => "unexpected fields or types",
                serde_json::error::Category::Io => "unreadable",
            },
            e.line(),
            e.column()
        ))
    })?;
    let mut lossy = None;
    let mut lossless = None;
    let mut untyped = Vec::new();
    if file.keys.is_empty() {
        return Err(bad("the \"keys\" list is empty".into()));
    }
    if file.keys.len() > 2 {
        return Err(bad(format!(
            "{} keys given: give one, or one \"lossy\" and one \"lossless\"",
            file.keys.len()
        )));
    }
    for (i, entry) in file.keys.iter().enumerate() {
        let n = i + 1;
        let kid = parse_uuid(&entry.kid)
            .ok_or_else(|| bad(format!("key {n}: \"kid\" must be 32 hex digits or a UUID")))?;
        let key_hex = Zeroizing::new(entry.key.trim().to_string());
        let key = Zeroizing::new(parse_hex16(&key_hex).ok_or_else(|| {
            bad(format!(
                "key {n} (kid {}): \"key\" must be 32 hex digits",
                Kid(kid)
            ))
        })?);
        let iv = match &entry.iv {
            Some(text) => Some(parse_hex16(text.trim()).ok_or_else(|| {
                bad(format!(
                    "key {n} (kid {}): \"iv\" must be 32 hex digits",
                    Kid(kid)
                ))
            })?),
            None => None,
        };
        let content = ContentKey::new(Kid(kid), *key, iv);
        match entry.tracks.as_deref().map(str::trim) {
            None => untyped.push(content),
            Some("lossy") if lossy.is_none() => lossy = Some(content),
            Some("lossless") if lossless.is_none() => lossless = Some(content),
            Some(t @ ("lossy" | "lossless")) => {
                return Err(bad(format!("two keys for \"tracks\": \"{t}\"")));
            }
            Some(other) => {
                return Err(bad(format!(
                    "key {n}: \"tracks\" is {other:?}; known: \"lossy\", \"lossless\""
                )));
            }
        }
    }
    let (lossy, lossless) = match (lossy, lossless, untyped.len()) {
        (None, None, 1) => {
            let key = untyped.remove(0);
            (key.clone(), key)
        }
        (Some(a), Some(b), 0) => {
            if a.kid == b.kid {
                return Err(bad(
                    "the lossy and lossless keys have the same kid: give one key, or two key IDs"
                        .into(),
                ));
            }
            (a, b)
        }
        _ => {
            return Err(bad(
                "two keys need \"tracks\": \"lossy\" on one and \"lossless\" on the other".into(),
            ));
        }
    };
    Ok(KeySet {
        lossy,
        lossless,
        system_data: Vec::new(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "00112233445566778899aabbccddeeff";

    fn parse_text(text: &str) -> Result<KeySet, DrmError> {
        parse(text.as_bytes(), KeySource::File("keys.json".into()))
    }

    #[test]
    fn one_key_protects_everything() {
        let set = parse_text(&format!(
            r#"{{"keys":[{{"kid":"0123456789abcdef0123456789abcdef","key":"{SECRET}"}}]}}"#
        ))
        .expect("valid");
        assert_eq!(set.lossy.kid, set.lossless.kid);
        assert_eq!(set.lossy.secret()[0], 0x00);
        assert_eq!(set.lossy.secret()[15], 0xff);
    }

    #[test]
    fn two_keys_by_track_type() {
        let set = parse_text(&format!(
            r#"{{"keys":[{{"kid":"11111111-1111-1111-1111-111111111111","key":"{SECRET}","tracks":"lossless","iv":"0f0e0d0c0b0a09080706050403020100"}},
                        {{"kid":"22222222222222222222222222222222","key":"{SECRET}","tracks":"lossy"}}]}}"#
        ))
        .expect("valid");
        assert_eq!(set.lossless.kid, Kid([0x11; 16]));
        assert_eq!(set.lossy.kid, Kid([0x22; 16]));
        assert_eq!(set.lossless.iv.map(|iv| iv[0]), Some(0x0f));
        assert_eq!(set.lossy.iv, None);
    }

    #[test]
    fn errors_name_the_problem_never_the_key() {
        let cases = [
            format!(r#"{{"keys":[{{"kid":"0123","key":"{SECRET}"}}]}}"#),
            format!(
                r#"{{"keys":[{{"kid":"0123456789abcdef0123456789abcdef","key":"{SECRET}00"}}]}}"#
            ),
            format!(
                r#"{{"keys":[{{"kid":"0123456789abcdef0123456789abcdef","key":"{SECRET}","ivv":"1"}}]}}"#
            ),
            format!(
                r#"{{"keys":[{{"kid":"0123456789abcdef0123456789abcdef","key":"{SECRET}"}},{{"kid":"0123456789abcdef0123456789abcdee","key":"{SECRET}"}}]}}"#
            ),
            format!(r#"{{"keys":[{{"kid":"0123456789abcdef0123456789abcdef","key":"{SECRET}", }}"#),
            r#"{"keys":[]}"#.to_string(),
            format!(
                r#"{{"keys":[{{"kid":"0123456789abcdef0123456789abcdef","key":"{SECRET}","tracks":"video"}}]}}"#
            ),
        ];
        for text in cases {
            let err = parse_text(&text).expect_err(&text).to_string();
            assert!(err.starts_with("keys.json: "), "{err}");
            assert!(!err.contains("00112233"), "{err}");
            assert!(!err.contains("ddeeff"), "{err}");
        }
    }
}
