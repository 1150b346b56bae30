//! [`Input`]: where a job's audio comes from. A job reads its input more
//! than once (measure, then encode), so every kind of input can be opened
//! again, and each has one label that names it in every message.

use std::fmt;
use std::io::{Read, Seek};
use std::path::PathBuf;
use std::sync::Arc;

use audiopack_ingest::ReadSeek;

use crate::error::ConfigError;

/// The audio a job encodes.
#[derive(Clone)]
pub struct Input {
    pub(crate) kind: InputKind,
}

#[derive(Clone)]
pub(crate) enum InputKind {
    Path(PathBuf),
    S3(String),
    Reader {
        label: String,
        open: Arc<audiopack_pipeline::ReaderFactory>,
    },
}

impl Input {
    /// A local file (WAV, AIFF, FLAC, MP3, Ogg Vorbis; detected by content).
    pub fn path(path: impl Into<PathBuf>) -> Input {
        Input {
            kind: InputKind::Path(path.into()),
        }
    }

    /// An object, `s3://bucket/key`. It is downloaded once into the spool
    /// directory (its head checked against the limits first) and read
    /// from there; the URL names it in every message and the report.
    pub fn s3(url: impl Into<String>) -> Input {
        Input {
            kind: InputKind::S3(url.into()),
        }
    }

    /// Any reader the caller can open again: `open` is called once per
    /// pass over the input (two, or more with the limiter) and must give
    /// the same bytes each time. `label` names it in messages and the
    /// report.
    pub fn reader<R, F>(label: impl Into<String>, open: F) -> Input
    where
        R: Read + Seek + Send + Sync + 'static,
        F: Fn() -> std::io::Result<R> + Send + Sync + 'static,
    {
        let open = move || open().map(|r| Box::new(r) as Box<dyn ReadSeek>);
        Input {
            kind: InputKind::Reader {
                label: label.into(),
                open: Arc::new(open),
            },
        }
    }

    /// `s3://…` as [`Input::s3`], anything else as [`Input::path`] (what
    /// the command line and catalogs take).
    pub fn parse(text: &str) -> Input {
        if text.starts_with("s3://") {
            Input::s3(text)
        } else {
            Input::path(text)
        }
    }

    /// How the input is named in messages.
    pub fn label(&self) -> String {
        match &self.kind {
            InputKind::Path(p) => p.display().to_string(),
            InputKind::S3(url) => url.clone(),
            InputKind::Reader { label, .. } => label.clone(),
        }
    }

    /// The input's name without directories or extension (the default
    /// content ID of an encrypted package).
    pub(crate) fn content_stem(&self) -> String {
        let label = self.label();
        let name = label.rsplit(['/', '\\']).next().unwrap_or(&label);
        let stem = match name.rsplit_once('.') {
            Some((stem, _)) if !stem.is_empty() => stem,
            _ => name,
        };
        if stem.is_empty() {
            "audio".to_string()
        } else {
            stem.to_string()
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        match &self.kind {
            InputKind::Path(p) if p.as_os_str().is_empty() => {
                Err(ConfigError::new("input", "", "a file path"))
            }
            InputKind::S3(url) => audiopack_publish::S3Url::parse_object(url)
                .map(|_| ())
                .map_err(|e| ConfigError::new("input", url, e.to_string())),
            InputKind::Reader { label, .. } if label.is_empty() => Err(ConfigError::new(
                "input",
                "",
                "a label naming the reader in messages",
            )),
            _ => Ok(()),
        }
    }
}

impl fmt::Debug for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            InputKind::Path(_) => "path",
            InputKind::S3(_) => "s3",
            InputKind::Reader { .. } => "reader",
        };
        f.debug_struct("Input")
            .field("kind", &kind)
            .field("label", &self.label())
            .finish()
    }
}
