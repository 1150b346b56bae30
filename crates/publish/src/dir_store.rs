//! A local directory as a store: each object is written to a new temporary
//! file beside its destination (`create_new`: never an existing file or a
//! link) and renamed into place, so a reader never sees half an object.
//!
//! The destination follows the rule of `ingest --out`: it must be absent,
//! an empty directory, or an earlier audiopack package with nothing else in
//! it ([`ObjectStore::preflight`]); nothing is ever written through a symbolic
//! link, below the destination or as the destination itself. Failures are
//! local I/O errors (exit code 6), not storage failures.
//!
//! Bodies are copied through a buffer into the temporary file, and `head`
//! hashes the file in reads: no file is ever held whole in memory.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};

use crate::error::PublishError;
use crate::object::sha256_file;
use crate::object_store::{
    Body, Existing, ObjectStore, PutObject, cancelled, changed_while_published,
};
use crate::package::{check_replaceable, refuse_destination};

/// The buffer a file body is copied through.
const COPY_BUFFER_BYTES: usize = 1 << 20;

/// A local directory as an [`ObjectStore`].
pub struct DirStore {
    root: PathBuf,
    /// The files of the earlier package found at the destination by the
    /// preflight: those the new one does not have are removed once it is
    /// complete, so the destination stays a package with nothing else.
    previous: Mutex<Vec<String>>,
}

impl DirStore {
    pub fn new(root: impl Into<PathBuf>) -> DirStore {
        DirStore {
            root: root.into(),
            previous: Mutex::new(Vec::new()),
        }
    }

    /// The destination directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn path_of(&self, relative: &str) -> PathBuf {
        below(&self.root, relative).unwrap_or_else(|| self.root.join(relative))
    }

    /// Checks the destination may take the package, writing nothing.
    async fn preflight_read_only(&self) -> Result<(), PublishError> {
        let root = self.root.clone();
        let previous = tokio::task::spawn_blocking(move || check_replaceable(&root))
            .await
            .map_err(PublishError::task("checking the destination"))??;
        if let Ok(mut slot) = self.previous.lock() {
            *slot = previous.into_iter().map(|f| f.path).collect();
        }
        Ok(())
    }

    /// Removes the files of the earlier package that the one just
    /// published does not have (`kept`, `report.json` aside), and the
    /// directories they leave empty. Called once the new package is
    /// complete: its manifests no longer reference them.
    async fn remove_old(&self, kept: &[String]) -> Result<(), PublishError> {
        let previous = self
            .previous
            .lock()
            .map(|mut slot| std::mem::take(&mut *slot))
            .unwrap_or_default();
        for relative in previous {
            if kept.binary_search(&relative).is_ok() {
                continue;
            }
            let path = self.checked(&relative)?;
            self.check_components(&path)?;
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(PublishError::local(&path, "removing")(e)),
            }
            // Only empty directories go; anything else stays.
            let mut dir = path.parent();
            while let Some(d) = dir.filter(|d| *d != self.root.as_path()) {
                if tokio::fs::remove_dir(d).await.is_err() {
                    break;
                }
                dir = d.parent();
            }
        }
        Ok(())
    }

    /// `preflight_read_only`, then creates the
    /// directory and checks a file can be created in it.
    async fn preflight_write(&self) -> Result<(), PublishError> {
        self.preflight_read_only().await?;
        match tokio::fs::create_dir(&self.root).await {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                tokio::fs::create_dir_all(&self.root)
                    .await
                    .map_err(PublishError::local(&self.root, "creating"))?;
            }
            Err(e) => return Err(PublishError::local(&self.root, "creating")(e)),
        }
        // The directory may have been swapped for a link since the check.
        self.check_not_link(&self.root)?;
        let probe = self
            .root
            .join(format!(".audiopack-preflight-{}", std::process::id()));
        tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&probe)
            .await
            .map_err(PublishError::local(&self.root, "writing"))?;
        let _ = tokio::fs::remove_file(&probe).await;
        Ok(())
    }

    /// What the file under `relative` holds (its SHA-256, hashed in reads).
    async fn existing(&self, relative: &str) -> Result<Option<Existing>, PublishError> {
        let path = self.checked(relative)?;
        self.check_components(&path)?;
        let hashed = path.clone();
        let digest = tokio::task::spawn_blocking(move || sha256_file(&hashed, 0, None))
            .await
            .map_err(PublishError::task("hashing a stored file"))?;
        match digest {
            Ok(Some(digest)) => Ok(Some(Existing {
                size: digest.len,
                sha256: Some(digest.sha256),
                etag: None,
            })),
            Ok(None) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(PublishError::local(&path, "reading")(e)),
        }
    }

    /// Writes a temporary file beside the destination and renames it into
    /// place; a cancelled write removes its temporary file.
    async fn write(&self, object: PutObject<'_>) -> Result<(), PublishError> {
        let path = self.checked(object.relative)?;
        if object.is_cancelled() {
            return Err(PublishError::Cancelled {
                target: path.display().to_string(),
            });
        }
        object.body.check().await?;
        let parent = path.parent().unwrap_or(&self.root).to_path_buf();
        self.create_parents(&parent).await?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = parent.join(format!(".{name}.audiopack-{}", std::process::id()));
        // A temporary left by a killed run of this pid: ours to replace.
        let _ = tokio::fs::remove_file(&temp).await;
        let written = tokio::select! {
            biased;
            () = cancelled(object.cancel) => None,
            written = write_temp(&temp, object.body) => Some(written),
        };
        let written = match written {
            // rename replaces a link at `path` itself; it never writes
            // through one.
            Some(Ok(())) => tokio::fs::rename(&temp, &path)
                .await
                .map_err(PublishError::local(&path, "writing")),
            Some(Err(e)) => Err(e),
            None => Err(PublishError::Cancelled {
                target: path.display().to_string(),
            }),
        };
        if written.is_err() {
            let _ = tokio::fs::remove_file(&temp).await;
        }
        written
    }

    /// Creates the directories from the root down to `dir`, one at a time,
    /// refusing any that is a link (or not a directory).
    async fn create_parents(&self, dir: &Path) -> Result<(), PublishError> {
        let Ok(rest) = dir.strip_prefix(&self.root) else {
            return Err(refuse_destination(dir, "outside the destination"));
        };
        let mut current = self.root.clone();
        self.check_not_link(&current)?;
        for part in rest.components() {
            current.push(part);
            match tokio::fs::create_dir(&current).await {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    self.check_not_link(&current)?;
                }
                Err(e) => return Err(PublishError::local(&current, "creating")(e)),
            }
        }
        Ok(())
    }

    /// Refuses a link (or a non-directory) at any component from the root
    /// down to `path`'s parent, and a link at `path` itself.
    fn check_components(&self, path: &Path) -> Result<(), PublishError> {
        let mut current = self.root.clone();
        self.check_not_link(&current)?;
        if let Ok(rest) = path.strip_prefix(&self.root) {
            for part in rest.components() {
                current.push(part);
                match std::fs::symlink_metadata(&current) {
                    Ok(meta) if meta.file_type().is_symlink() => {
                        return Err(refuse_destination(&current, "it is a symbolic link"));
                    }
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                    Err(e) => return Err(PublishError::local(&current, "reading")(e)),
                }
            }
        }
        Ok(())
    }

    fn check_not_link(&self, dir: &Path) -> Result<(), PublishError> {
        match std::fs::symlink_metadata(dir) {
            Ok(meta) if meta.file_type().is_symlink() => {
                Err(refuse_destination(dir, "it is a symbolic link"))
            }
            Ok(meta) if !meta.is_dir() => Err(refuse_destination(dir, "it is not a directory")),
            Ok(_) => Ok(()),
            Err(e) => Err(PublishError::local(dir, "reading")(e)),
        }
    }

    fn checked(&self, relative: &str) -> Result<PathBuf, PublishError> {
        below(&self.root, relative).ok_or_else(|| {
            refuse_destination(
                &self.root.join(relative),
                "not a plain relative path below the destination",
            )
        })
    }
}

/// Copies `body` into a new file at `temp` (`create_new`: never an
/// existing file, nor a link planted under the temporary name), through a
/// buffer, exactly `body.len()` bytes.
async fn write_temp(temp: &Path, body: &Body) -> Result<(), PublishError> {
    let failed = PublishError::local(temp, "writing");
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(temp)
        .await
        .map_err(PublishError::local(temp, "writing"))?;
    match body {
        Body::Bytes(bytes) => file.write_all(bytes).await.map_err(failed)?,
        Body::File { path, len } => {
            let source = tokio::fs::File::open(path)
                .await
                .map_err(PublishError::local(path, "reading"))?;
            let mut reader = BufReader::with_capacity(COPY_BUFFER_BYTES, source.take(*len));
            let copied = tokio::io::copy_buf(&mut reader, &mut file)
                .await
                .map_err(PublishError::local(path, "copying"))?;
            if copied != *len {
                return Err(changed_while_published(path, copied, *len));
            }
        }
    }
    file.flush()
        .await
        .map_err(PublishError::local(temp, "writing"))?;
    Ok(())
}

/// `relative` as a path below `root`, refusing anything that would leave it.
pub(crate) fn below(root: &Path, relative: &str) -> Option<PathBuf> {
    let mut path = root.to_path_buf();
    for part in relative.split('/') {
        if part.is_empty() || part == "." || part == ".." {
            return None;
        }
        path.push(part);
    }
    Some(path)
}

#[async_trait::async_trait]
impl ObjectStore for DirStore {
    fn describe(&self, relative: &str) -> String {
        self.path_of(relative).display().to_string()
    }

    /// Checks the destination may take the package (absent, empty, or an
    /// earlier package with nothing else); with `write`, creates it and a
    /// file in it. Errors are local I/O ([`PublishError::Local`],
    /// [`PublishError::Destination`]).
    async fn preflight(&self, write: bool) -> Result<(), PublishError> {
        if write {
            self.preflight_write().await
        } else {
            self.preflight_read_only().await
        }
    }

    async fn head(&self, relative: &str) -> Result<Option<Existing>, PublishError> {
        self.existing(relative).await
    }

    async fn put(&self, object: PutObject<'_>) -> Result<(), PublishError> {
        self.write(object).await
    }

    async fn delete(&self, relative: &str) -> Result<(), PublishError> {
        let path = self.checked(relative)?;
        self.check_components(&path)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(PublishError::local(&path, "removing")(e)),
        }
    }

    /// Drops the files of the earlier package that the one just published
    /// does not have, and the directories they leave empty.
    async fn remove_previous(&self, kept: &[String]) -> Result<(), PublishError> {
        self.remove_old(kept).await
    }

    fn local_root(&self) -> Option<&Path> {
        Some(&self.root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::PublishErrorKind;
    use crate::object::classify;
    use crate::object_store::Expected;

    fn put<'a>(relative: &'a str, body: &'a Body, meta: &'a crate::ObjectMeta) -> PutObject<'a> {
        PutObject {
            relative,
            body,
            sha256: "",
            meta,
            expected: Expected::Anything,
            cancel: None,
        }
    }

    #[tokio::test]
    async fn writes_never_go_through_a_link_planted_after_the_check() -> Result<(), PublishError> {
        let tmp = tempfile::tempdir().map_err(PublishError::local(".", "tmp"))?;
        let root = tmp.path().join("dest");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(&outside).map_err(PublishError::local(&outside, "mkdir"))?;
        let store = DirStore::new(&root);
        store.preflight(true).await?;
        let (_, meta) = classify("opus_64k/1.m4s", b"");
        // A rendition directory swapped for a link once the run started.
        std::os::unix::fs::symlink(&outside, root.join("opus_64k"))
            .map_err(PublishError::local(&root, "symlink"))?;
        let segment = Body::from(b"segment".to_vec());
        let err = store.put(put("opus_64k/1.m4s", &segment, &meta)).await;
        assert!(
            matches!(&err, Err(e) if e.kind() == PublishErrorKind::Io && e.to_string().contains("symbolic link")),
            "{err:?}"
        );
        assert!(store.head("opus_64k/1.m4s").await.is_err());
        // A file replaced by a link: the link is replaced, its target kept.
        let target = outside.join("kept");
        std::fs::write(&target, b"kept").map_err(PublishError::local(&target, "write"))?;
        std::os::unix::fs::symlink(&target, root.join("master.m3u8"))
            .map_err(PublishError::local(&root, "symlink"))?;
        let playlist = Body::from(b"#EXTM3U\n".to_vec());
        store.put(put("master.m3u8", &playlist, &meta)).await?;
        assert_eq!(std::fs::read(&target).ok().as_deref(), Some(&b"kept"[..]));
        assert_eq!(
            std::fs::read_dir(&outside).map(|d| d.count()).ok(),
            Some(1),
            "nothing written outside"
        );
        Ok(())
    }
}
