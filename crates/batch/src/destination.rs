//! Where a batch writes: a directory or an `s3://` prefix, each track's
//! package below it at `<id>/`, the batch report at its root. One S3
//! client serves every track's store, the skip checks and the listing.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use audiopack::{
    Body, Error, Expected, ObjectPolicy, ObjectStore, Output, PutObject, S3Options, S3Store,
};
use aws_sdk_s3::Client;

use crate::error::BatchError;
use crate::s3::{self, S3Location};
use crate::skip::{FilePart, check_dir_files};

pub(crate) enum Destination {
    Dir(PathBuf),
    S3 {
        location: S3Location,
        root: Arc<S3Store>,
    },
}

/// The batch's S3 side: the client (when anything is on S3) and options.
pub(crate) struct S3Side {
    pub client: Option<Client>,
    pub options: S3Options,
}

impl S3Side {
    pub(crate) fn client(&self) -> Result<&Client, Error> {
        self.client
            .as_ref()
            .ok_or_else(|| Error::internal("an S3 request without a client"))
    }
}

impl Destination {
    /// Parses the destination (writes nothing, contacts nothing).
    pub(crate) fn open(out: &str, s3: &S3Side) -> Result<Destination, BatchError> {
        if out.starts_with("s3://") {
            let location = s3::split_url(out).ok_or_else(|| {
                Error::from(audiopack::ConfigError::new(
                    "--out",
                    out,
                    "s3://bucket/prefix/",
                ))
            })?;
            let root = s3::store(s3.client()?, &location, "", &s3.options)?;
            Ok(Destination::S3 {
                location,
                root: Arc::new(root),
            })
        } else {
            Ok(Destination::Dir(PathBuf::from(out)))
        }
    }

    /// How the destination is named in messages and the report.
    pub(crate) fn label(&self) -> String {
        match self {
            Destination::Dir(dir) => dir.display().to_string(),
            Destination::S3 { location, .. } => location.url(""),
        }
    }

    /// Before any track: the directory exists (made if needed) and is a
    /// directory; the bucket exists and takes writes.
    pub(crate) async fn preflight(&self) -> Result<(), BatchError> {
        match self {
            Destination::Dir(dir) => {
                std::fs::create_dir_all(dir).map_err(|source| BatchError::Io {
                    path: dir.clone(),
                    action: "creating the output directory",
                    source,
                })?;
                Ok(())
            }
            Destination::S3 { root, .. } => {
                root.preflight(true).await.map_err(Error::from)?;
                Ok(())
            }
        }
    }

    /// The output of track `id`.
    pub(crate) fn output(&self, id: &str, s3: &S3Side) -> Result<Output, Error> {
        match self {
            Destination::Dir(dir) => Ok(Output::dir(dir.join(id))),
            Destination::S3 { location, .. } => {
                let store = s3::store(s3.client()?, location, &format!("{id}/"), &s3.options)?;
                Ok(Output::store(Arc::new(store)))
            }
        }
    }

    /// Where track `id`'s package is, as the report names it.
    pub(crate) fn track_label(&self, id: &str) -> String {
        match self {
            Destination::Dir(dir) => dir.join(id).display().to_string(),
            Destination::S3 { location, .. } => location.url(&format!("{id}/")),
        }
    }

    /// `<id>/report.json`, if there is one (and it is not too large).
    pub(crate) async fn read_report(
        &self,
        s3: &S3Side,
        id: &str,
        max_bytes: u64,
    ) -> Result<Option<Vec<u8>>, Error> {
        match self {
            Destination::Dir(dir) => {
                let path = dir.join(id).join("report.json");
                match std::fs::symlink_metadata(&path) {
                    Ok(m) if m.is_file() && m.len() <= max_bytes => {}
                    _ => return Ok(None),
                }
                Ok(std::fs::read(&path).ok())
            }
            Destination::S3 { location, .. } => {
                let key = format!("{}{id}/report.json", location.prefix);
                s3::get_small(s3.client()?, &location.bucket, &key, max_bytes).await
            }
        }
    }

    /// Every listed file of `<id>/` present with its listed size.
    pub(crate) async fn check_files(
        &self,
        s3: &S3Side,
        id: &str,
        files: &[FilePart],
    ) -> Result<(), String> {
        match self {
            Destination::Dir(dir) => check_dir_files(&dir.join(id), files),
            Destination::S3 { location, .. } => {
                let client = s3.client().map_err(|e| e.to_string())?;
                let package = S3Location {
                    bucket: location.bucket.clone(),
                    prefix: format!("{}{id}/", location.prefix),
                };
                let present = s3::list(client, &package)
                    .await
                    .map_err(|e| e.to_string())?;
                for file in files {
                    let key = format!("{}{}", package.prefix, file.path);
                    match present.get(&key) {
                        Some(&size) if size == file.bytes => {}
                        Some(size) => {
                            return Err(format!(
                                "{} has {size} bytes, report.json says {}",
                                file.path, file.bytes
                            ));
                        }
                        None => return Err(format!("{} is missing", file.path)),
                    }
                }
                Ok(())
            }
        }
    }

    /// Hex SHA-256 of the input's bytes (a local file, or an `s3://`
    /// object streamed through the hash): read, never decoded.
    pub(crate) async fn input_sha256(s3: &S3Side, input: &str) -> Result<String, Error> {
        if input.starts_with("s3://") {
            return s3::object_sha256(s3.client()?, input).await;
        }
        let path = PathBuf::from(input);
        let label = input.to_string();
        tokio::task::spawn_blocking(move || audiopack::file_sha256(&path))
            .await
            .map_err(|e| Error::internal(format!("hashing {label}: {e}")))?
            .map_err(|e| {
                Error::from(audiopack::PublishError::Local {
                    path: PathBuf::from(input),
                    action: "reading",
                    source: e,
                })
            })
    }

    /// Writes `name` at the root: a directory's through a temporary file
    /// renamed into place; an S3 prefix's as one object.
    pub(crate) async fn write_root_file(
        &self,
        name: &str,
        bytes: Vec<u8>,
    ) -> Result<String, BatchError> {
        match self {
            Destination::Dir(dir) => {
                let path = dir.join(name);
                write_atomically(&path, &bytes)?;
                Ok(path.display().to_string())
            }
            Destination::S3 { root, .. } => {
                let existing = root.head(name).await.map_err(Error::from)?;
                let sha256 = audiopack::sha256_hex(&bytes);
                let (_, meta) = ObjectPolicy::default().classify(name, &bytes);
                let body = Body::from(bytes);
                root.put(PutObject {
                    relative: name,
                    body: &body,
                    sha256: &sha256,
                    meta: &meta,
                    expected: match &existing {
                        None => Expected::Absent,
                        Some(_) => Expected::Anything,
                    },
                    cancel: None,
                })
                .await
                .map_err(Error::from)?;
                Ok(root.describe(name))
            }
        }
    }
}

/// Writes `path` whole or not at all: a temporary file beside it, synced,
/// renamed over it.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), BatchError> {
    use std::io::Write as _;
    let io = |action: &'static str| {
        let path = path.to_path_buf();
        move |source| BatchError::Io {
            path,
            action,
            source,
        }
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let written = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(io("writing")(e));
    }
    std::fs::rename(&temp, path).map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        io("renaming into place")(e)
    })
}
