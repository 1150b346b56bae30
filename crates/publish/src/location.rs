//! Where a package goes (or an input comes from): a local path or an
//! `s3://bucket/prefix` URL.

use std::fmt;
use std::path::PathBuf;

use crate::error::PublishError;

/// An `s3://bucket/prefix` location. The prefix is empty or ends in `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    pub prefix: String,
}

impl S3Url {
    /// A bucket and a directory-like prefix (`""`, `"dir"` or `"dir/"`),
    /// checked as [`parse_prefix`](Self::parse_prefix) checks them.
    pub fn new(bucket: &str, prefix: &str) -> Result<S3Url, PublishError> {
        let text = format!("s3://{bucket}/{prefix}");
        check_bucket(&text, bucket)?;
        check_key(&text, prefix)?;
        S3Url::parse_prefix(&text)
    }

    /// Parses `s3://bucket`, `s3://bucket/dir`, `s3://bucket/dir/`.
    /// Directory-like: a prefix without a trailing `/` gets one.
    pub fn parse_prefix(text: &str) -> Result<S3Url, PublishError> {
        let (bucket, rest) = split(text)?;
        let prefix = rest.trim_end_matches('/');
        Ok(S3Url {
            bucket,
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            },
        })
    }

    /// Parses `s3://bucket/key` naming one object (the key is kept as is).
    pub fn parse_object(text: &str) -> Result<S3Url, PublishError> {
        let (bucket, key) = split(text)?;
        if key.is_empty() || key.ends_with('/') {
            return Err(PublishError::Config(format!(
                "{}: names no object (expected s3://bucket/key)",
                text.escape_debug()
            )));
        }
        Ok(S3Url {
            bucket,
            prefix: key.to_string(),
        })
    }

    /// The key of `relative` (a `/`-separated path) under this prefix.
    pub fn key(&self, relative: &str) -> String {
        format!("{}{relative}", self.prefix)
    }
}

fn split(text: &str) -> Result<(String, &str), PublishError> {
    let rest = text.strip_prefix("s3://").ok_or_else(|| {
        PublishError::Config(format!("{}: not an s3:// URL", text.escape_debug()))
    })?;
    let (bucket, path) = rest.split_once('/').unwrap_or((rest, ""));
    check_bucket(text, bucket)?;
    check_key(text, path)?;
    Ok((bucket.to_string(), path))
}

fn check_bucket(text: &str, bucket: &str) -> Result<(), PublishError> {
    // Bucket naming rules (3–63 of a-z 0-9 . -) are checked loosely: enough
    // to catch a typo early; the server has the last word.
    let valid = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    if !valid {
        return Err(PublishError::Config(format!(
            "{}: {bucket:?} is not a valid bucket name",
            text.escape_debug()
        )));
    }
    Ok(())
}

/// A key or prefix must name the same thing on every store and never
/// leave its prefix: no control characters (a newline would split log
/// lines and headers), no `\` (a separator on some stores and tools), no
/// `.` or `..` segment, no empty segment (`//`, a leading `/`). A single
/// trailing `/` is allowed (a directory-like prefix).
fn check_key(text: &str, key: &str) -> Result<(), PublishError> {
    let shown = text.escape_debug();
    if key.chars().any(char::is_control) {
        return Err(PublishError::Config(format!(
            "{shown}: control character in the key"
        )));
    }
    if key.contains('\\') {
        return Err(PublishError::Config(format!(
            "{shown}: '\\' in the key (use '/')"
        )));
    }
    let body = key.strip_suffix('/').unwrap_or(key);
    if body.is_empty() {
        return Ok(());
    }
    for part in body.split('/') {
        match part {
            "" => {
                return Err(PublishError::Config(format!(
                    "{shown}: empty segment ('//' or a leading '/') in the key"
                )));
            }
            "." | ".." => {
                return Err(PublishError::Config(format!(
                    "{shown}: '{part}' segment in the key"
                )));
            }
            _ => {}
        }
    }
    Ok(())
}

impl fmt::Display for S3Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

/// A destination or input given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Local(PathBuf),
    S3(S3Url),
}

impl Location {
    /// A destination directory or prefix: `s3://…` or a local path.
    pub fn parse_destination(text: &str) -> Result<Location, PublishError> {
        if text.starts_with("s3://") {
            Ok(Location::S3(S3Url::parse_prefix(text)?))
        } else if text.contains("://") {
            Err(PublishError::Config(format!(
                "{}: unsupported URL scheme (use s3:// or a local path)",
                text.escape_debug()
            )))
        } else {
            Ok(Location::Local(PathBuf::from(text)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_directory_like() -> Result<(), PublishError> {
        let u = S3Url::parse_prefix("s3://origin/catalog/track-123")?;
        assert_eq!(u.bucket, "origin");
        assert_eq!(u.prefix, "catalog/track-123/");
        assert_eq!(u.key("master.m3u8"), "catalog/track-123/master.m3u8");
        assert_eq!(S3Url::parse_prefix("s3://origin/")?.prefix, "");
        assert_eq!(S3Url::parse_prefix("s3://origin")?.key("a"), "a");
        Ok(())
    }

    #[test]
    fn buckets_and_prefixes_are_checked_apart() -> Result<(), PublishError> {
        let u = S3Url::new("origin", "catalog/track-123")?;
        assert_eq!(
            (u.bucket.as_str(), u.prefix.as_str()),
            ("origin", "catalog/track-123/")
        );
        assert_eq!(S3Url::new("origin", "")?.prefix, "");
        for (bucket, prefix) in [
            ("origin/catalog", "x"),
            ("Origin", ""),
            ("origin", "/x"),
            ("origin", "a//b"),
            ("origin", "../x"),
            ("origin", "a\nb"),
        ] {
            let err = S3Url::new(bucket, prefix).err();
            assert!(
                matches!(err, Some(PublishError::Config(_))),
                "{bucket:?} {prefix:?}: {err:?}"
            );
        }
        Ok(())
    }

    #[test]
    fn bad_urls_are_config_errors() {
        for bad in [
            "s3://",
            "s3://A_B/x",
            "s3://ab/x",
            "http://x/y",
            "s3://bucket/../x",
        ] {
            assert!(
                Location::parse_destination(bad).is_err(),
                "{bad} should be refused"
            );
        }
        assert!(S3Url::parse_object("s3://bucket/dir/").is_err());
        assert!(matches!(
            S3Url::parse_object("s3://bucket/a/b.wav"),
            Ok(S3Url { ref prefix, .. }) if prefix == "a/b.wav"
        ));
        assert!(matches!(
            Location::parse_destination("out/dir"),
            Ok(Location::Local(_))
        ));
    }

    #[test]
    fn unsafe_prefixes_are_usage_errors() {
        for bad in [
            "s3://bucket/a\nb/",
            "s3://bucket/a\rb",
            "s3://bucket/a\tb",
            "s3://bucket/\u{7f}x",
            "s3://bucket/./x",
            "s3://bucket/x/./",
            "s3://bucket/x/..",
            "s3://bucket/../x",
            "s3://bucket//x",
            "s3://bucket/a//b/",
            "s3://bucket/a\\b",
            "s3://bucket/x//",
        ] {
            let err = Location::parse_destination(bad).err();
            assert!(
                matches!(err, Some(PublishError::Config(_))),
                "{bad:?} should be a usage error: {err:?}"
            );
            assert!(S3Url::parse_object(bad).is_err(), "{bad:?} as an object");
            // One line, whatever the input held.
            let text = err.map(|e| e.to_string()).unwrap_or_default();
            assert!(!text.contains('\n') && !text.contains('\r'), "{text:?}");
        }
        for good in [
            "s3://bucket",
            "s3://bucket/",
            "s3://bucket/a",
            "s3://bucket/a/b/",
            "s3://bucket/a.b/..c/d..",
            "s3://bucket/caf\u{e9} 1/",
        ] {
            assert!(
                Location::parse_destination(good).is_ok(),
                "{good:?} should be accepted"
            );
        }
    }
}
