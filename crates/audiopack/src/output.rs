//! [`Output`]: where a job's package goes.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use audiopack_publish::ObjectStore;

use crate::error::ConfigError;

/// Where the package goes.
#[derive(Clone)]
pub struct Output {
    pub(crate) kind: OutputKind,
}

#[derive(Clone)]
pub(crate) enum OutputKind {
    Dir(PathBuf),
    S3(String),
    Store(Arc<dyn ObjectStore>),
}

impl Output {
    /// A local directory: written in a staging directory beside it and
    /// swapped in at the end. It must be absent, empty or an earlier
    /// audiopack package with nothing else in it; anything else is refused
    /// and left untouched.
    pub fn dir(path: impl Into<PathBuf>) -> Output {
        Output {
            kind: OutputKind::Dir(path.into()),
        }
    }

    /// A prefix of an S3-compatible bucket, `s3://bucket/prefix/`: media
    /// uploaded while the encode runs, playlists and manifests after every
    /// media object, `report.json` last.
    pub fn s3(url: impl Into<String>) -> Output {
        Output {
            kind: OutputKind::S3(url.into()),
        }
    }

    /// Any [`ObjectStore`]: the caller's own storage, or an
    /// [`audiopack_publish::S3Store`] built from an existing client
    /// ([`crate::S3Store::from_client`]). Published as to S3.
    pub fn store(store: Arc<dyn ObjectStore>) -> Output {
        Output {
            kind: OutputKind::Store(store),
        }
    }

    /// `s3://…` as [`Output::s3`], anything else as [`Output::dir`].
    pub fn parse(text: &str) -> Output {
        if text.starts_with("s3://") {
            Output::s3(text)
        } else {
            Output::dir(text)
        }
    }

    /// How the output is named in messages.
    pub fn label(&self) -> String {
        match &self.kind {
            OutputKind::Dir(p) => p.display().to_string(),
            OutputKind::S3(url) => url.clone(),
            OutputKind::Store(store) => store.describe(""),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        match &self.kind {
            OutputKind::Dir(p) if p.as_os_str().is_empty() => {
                Err(ConfigError::new("output", "", "a directory path"))
            }
            OutputKind::Dir(p) if p.to_string_lossy().contains("://") => Err(ConfigError::new(
                "output",
                p.display(),
                "s3://bucket/prefix/ or a local path (unsupported URL scheme)",
            )),
            OutputKind::S3(url) => audiopack_publish::S3Url::parse_prefix(url)
                .map(|_| ())
                .map_err(|e| ConfigError::new("output", url, e.to_string())),
            _ => Ok(()),
        }
    }
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Output").field(&self.label()).finish()
    }
}
