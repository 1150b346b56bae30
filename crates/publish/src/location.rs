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
    /// Parses `s3://bucket`, `s3://bucket/dir`, `s3://bucket/dir/`.
    /// Directory-like: a prefix without a trailing `/` gets one.
    pub fn parse_prefix(text: &str) -> Result<S3Url, PublishError> {
        let (bucket, rest) = split(text)?;
        let prefix = rest.trim_matches('/');
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
                "{text}: names no object (expected s3://bucket/key)"
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
    let rest = text
        .strip_prefix("s3://")
        .ok_or_else(|| PublishError::Config(format!("{text}: not an s3:// URL")))?;
    let (bucket, path) = rest.split_once('/').unwrap_or((rest, ""));
    // Bucket naming rules (3–63 of a-z 0-9 . -) are checked loosely: enough
    // to catch a typo early; the server has the last word.
    let valid = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
    if !valid {
        return Err(PublishError::Config(format!(
            "{text}: {bucket:?} is not a valid bucket name"
        )));
    }
    if path.split('/').any(|part| part == "..") {
        return Err(PublishError::Config(format!("{text}: '..' in the key")));
    }
    Ok((bucket.to_string(), path))
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
                "{text}: unsupported URL scheme (use s3:// or a local path)"
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
            Location::parse_destination("out/dir"),
            Ok(Location::Local(_))
        ));
    }
}
