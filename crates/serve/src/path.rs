//! Request paths → files under the root, and the rules that keep every
//! answer inside it.
//!
//! Two stages:
//!
//! 1. [`RequestPath::parse`] (pure): the request target's path is
//!    percent-decoded **once** (a `%` not followed by two hex digits is
//!    refused); the bytes must be UTF-8 without control characters (NUL
//!    included) or backslashes; then split on `/` (a decoded `%2F` is a
//!    separator like any other). Empty and `.` segments are dropped; a `..`
//!    segment is refused — after decoding, so `%2e%2e` and `%2F..` are
//!    caught too. A refusal is a 400 that touches no file.
//! 2. [`resolve`]: the segments joined under the canonical root, the result
//!    canonicalized (every symbolic link followed) and required to lie
//!    under the canonical root. A link that leads outside is refused (403)
//!    even though its name is inside; one that stays inside is served.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// Why a request path was refused before any file was looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathRejection {
    /// The path does not start with `/`.
    NotAbsolute,
    /// A `%` not followed by two hexadecimal digits.
    BadEscape,
    /// The decoded bytes are not UTF-8.
    NotUtf8,
    /// A control character (NUL included) once decoded.
    ControlCharacter,
    /// A backslash once decoded.
    Backslash,
    /// A `..` segment once decoded.
    ParentSegment,
}

impl fmt::Display for PathRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathRejection::NotAbsolute => "the path does not start with /",
            PathRejection::BadEscape => "a % not followed by two hex digits",
            PathRejection::NotUtf8 => "the decoded path is not UTF-8",
            PathRejection::ControlCharacter => "a control character in the path",
            PathRejection::Backslash => "a backslash in the path",
            PathRejection::ParentSegment => "a .. segment in the path",
        })
    }
}

/// A request path, decoded and checked: its segments (none of them empty,
/// `.` or `..`, none holding `/`, `\` or a control character).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestPath {
    segments: Vec<String>,
    trailing_slash: bool,
}

impl RequestPath {
    /// Decodes and checks the path part of a request target (no query).
    pub fn parse(raw: &str) -> Result<RequestPath, PathRejection> {
        if !raw.starts_with('/') {
            return Err(PathRejection::NotAbsolute);
        }
        let bytes = percent_decode(raw.as_bytes())?;
        let text = String::from_utf8(bytes).map_err(|_| PathRejection::NotUtf8)?;
        if text.chars().any(char::is_control) {
            return Err(PathRejection::ControlCharacter);
        }
        if text.contains('\\') {
            return Err(PathRejection::Backslash);
        }
        let mut segments = Vec::new();
        for segment in text.split('/') {
            match segment {
                "" | "." => {}
                ".." => return Err(PathRejection::ParentSegment),
                other => segments.push(other.to_string()),
            }
        }
        Ok(RequestPath {
            segments,
            trailing_slash: text.ends_with('/'),
        })
    }

    /// The checked segments, root first.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// Whether the request named a directory (`…/`).
    pub fn trailing_slash(&self) -> bool {
        self.trailing_slash
    }
}

/// One `%XX` decoding pass; `+` stays `+` (paths are not form data).
fn percent_decode(raw: &[u8]) -> Result<Vec<u8>, PathRejection> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' {
            let hi = raw.get(i + 1).and_then(|b| hex_value(*b));
            let lo = raw.get(i + 2).and_then(|b| hex_value(*b));
            match (hi, lo) {
                (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                _ => return Err(PathRejection::BadEscape),
            }
            i += 3;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    Ok(out)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Whether `name` could be one safe path segment (used for the ids a batch
/// report names before linking or reading their directories).
pub fn is_plain_segment(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name.contains(['/', '\\'])
        && !name.chars().any(char::is_control)
}

/// What a checked path resolves to.
#[derive(Debug)]
pub enum Resolved {
    /// A regular file (canonical path).
    File(PathBuf),
    /// A directory (canonical path).
    Directory(PathBuf),
    /// Nothing there (or a dangling link, or unreadable metadata).
    NotFound,
    /// It exists, but only by way of a link leading outside the root.
    Outside,
}

/// Resolves `segments` under `root` (which must be canonical).
pub async fn resolve(root: &Path, segments: &[String]) -> Resolved {
    let mut joined = root.to_path_buf();
    joined.extend(segments);
    let canonical = match tokio::fs::canonicalize(&joined).await {
        Ok(path) => path,
        Err(_) => return Resolved::NotFound,
    };
    if !canonical.starts_with(root) {
        return Resolved::Outside;
    }
    match tokio::fs::metadata(&canonical).await {
        Ok(meta) if meta.is_dir() => Resolved::Directory(canonical),
        Ok(meta) if meta.is_file() => Resolved::File(canonical),
        // Devices, sockets, FIFOs: not served.
        Ok(_) | Err(_) => Resolved::NotFound,
    }
}

/// The canonical form of the root to serve, checked to be a directory.
pub fn canonical_root(root: &Path) -> io::Result<PathBuf> {
    let canonical = std::fs::canonicalize(root)?;
    if !std::fs::metadata(&canonical)?.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotADirectory,
            "not a directory",
        ));
    }
    Ok(canonical)
}

/// Percent-encodes one path segment for an `href` (everything but RFC 3986
/// unreserved characters).
pub fn encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segments(raw: &str) -> Vec<String> {
        RequestPath::parse(raw).expect("accepted").segments
    }

    #[test]
    fn decodes_once_and_splits() {
        assert_eq!(segments("/"), Vec::<String>::new());
        assert_eq!(segments("/a/b.m4s"), ["a", "b.m4s"]);
        assert_eq!(segments("//a/./b/"), ["a", "b"]);
        assert_eq!(segments("/a%20b"), ["a b"]);
        assert_eq!(segments("/a%2Fb"), ["a", "b"]);
        // Decoded once: %252e stays the literal "%2e".
        assert_eq!(segments("/%252e%252e/x"), ["%2e%2e", "x"]);
        assert_eq!(segments("/caf%C3%A9"), ["café"]);
        assert_eq!(segments("/a+b"), ["a+b"]);
        assert!(RequestPath::parse("/dir/").expect("ok").trailing_slash());
        assert!(!RequestPath::parse("/dir").expect("ok").trailing_slash());
    }

    #[test]
    fn refuses_traversal_in_every_spelling() {
        for raw in [
            "/..",
            "/../etc/passwd",
            "/a/../../b",
            "/%2e%2e/x",
            "/%2E%2E/x",
            "/.%2e/x",
            "/a%2F..%2Fb",
            "/a/%2F../b",
        ] {
            assert_eq!(
                RequestPath::parse(raw),
                Err(PathRejection::ParentSegment),
                "{raw}"
            );
        }
    }

    #[test]
    fn refuses_malformed_paths() {
        assert_eq!(RequestPath::parse("a"), Err(PathRejection::NotAbsolute));
        assert_eq!(RequestPath::parse("/%"), Err(PathRejection::BadEscape));
        assert_eq!(RequestPath::parse("/%2"), Err(PathRejection::BadEscape));
        assert_eq!(RequestPath::parse("/%zz"), Err(PathRejection::BadEscape));
        assert_eq!(RequestPath::parse("/%ff"), Err(PathRejection::NotUtf8));
        assert_eq!(
            RequestPath::parse("/a%00b"),
            Err(PathRejection::ControlCharacter)
        );
        assert_eq!(
            RequestPath::parse("/a%0ab"),
            Err(PathRejection::ControlCharacter)
        );
        assert_eq!(
            RequestPath::parse("/..%5c..%5cx"),
            Err(PathRejection::Backslash)
        );
    }

    #[test]
    fn segment_rules_and_encoding() {
        assert!(is_plain_segment("track-1"));
        for bad in ["", ".", "..", "a/b", "a\\b", "a\u{0}"] {
            assert!(!is_plain_segment(bad), "{bad:?}");
        }
        assert_eq!(encode_segment("a b&c/é"), "a%20b%26c%2F%C3%A9");
        assert_eq!(encode_segment("opus_96k.m3u8"), "opus_96k.m3u8");
    }
}
