//! A local directory as a store: each object is written to a new temporary
//! file beside its destination (`create_new`: never an existing file or a
//! link) and renamed into place, so a reader never sees half an object.
//!
//! The destination follows the rule of `ingest --out`: it must be absent,
//! an empty directory, or an earlier audiopack package with nothing else in
//! it ([`DirStore::preflight`]); nothing is ever written through a symbolic
//! link, below the destination or as the destination itself. Failures are
//! local I/O errors (exit code 6), not storage failures.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::PublishError;
use crate::object::sha256_hex;
use crate::package::{check_replaceable, refuse_destination};
use crate::store::{Existing, PutObject, below};

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
    pub(crate) async fn preflight_read_only(&self) -> Result<(), PublishError> {
        let root = self.root.clone();
        let previous = tokio::task::spawn_blocking(move || check_replaceable(&root))
            .await
            .map_err(|e| PublishError::Config(format!("checking the destination: {e}")))??;
        if let Ok(mut slot) = self.previous.lock() {
            *slot = previous.into_iter().map(|f| f.path).collect();
        }
        Ok(())
    }

    /// Removes the files of the earlier package that the one just
    /// published does not have (`kept`, `report.json` aside), and the
    /// directories they leave empty. Called once the new package is
    /// complete: its manifests no longer reference them.
    pub(crate) async fn remove_previous(&self, kept: &[String]) -> Result<(), PublishError> {
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

    /// [`preflight_read_only`](Self::preflight_read_only), then creates the
    /// directory and checks a file can be created in it.
    pub(crate) async fn preflight(&self) -> Result<(), PublishError> {
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

    pub(crate) async fn existing(&self, relative: &str) -> Result<Option<Existing>, PublishError> {
        let path = self.checked(relative)?;
        self.check_components(&path)?;
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Some(Existing {
                size: bytes.len() as u64,
                sha256: Some(sha256_hex(&bytes)),
                etag: None,
            })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(PublishError::local(&path, "reading")(e)),
        }
    }

    pub(crate) async fn put(&self, object: PutObject<'_>) -> Result<(), PublishError> {
        let path = self.checked(object.relative)?;
        let parent = path.parent().unwrap_or(&self.root).to_path_buf();
        self.create_parents(&parent).await?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = parent.join(format!(".{name}.audiopack-{}", std::process::id()));
        // A temporary left by a killed run of this pid: ours to replace.
        let _ = tokio::fs::remove_file(&temp).await;
        let written = async {
            use tokio::io::AsyncWriteExt;
            // `create_new` never opens an existing file, nor follows a link
            // planted under the temporary name.
            let mut file = tokio::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&temp)
                .await?;
            file.write_all(object.bytes).await?;
            file.flush().await?;
            drop(file);
            // rename replaces a link at `path` itself; it never writes
            // through one.
            tokio::fs::rename(&temp, &path).await
        }
        .await;
        if let Err(e) = written {
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(PublishError::local(&path, "writing")(e));
        }
        Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::PublishErrorKind;
    use crate::object::classify;
    use crate::store::Expected;

    fn put<'a>(relative: &'a str, bytes: &'a [u8], meta: &'a crate::ObjectMeta) -> PutObject<'a> {
        PutObject {
            relative,
            bytes,
            sha256: "",
            meta,
            expected: Expected::Anything,
        }
    }

    #[tokio::test]
    async fn writes_never_go_through_a_link_planted_after_the_check() -> Result<(), PublishError> {
        let tmp = tempfile::tempdir().map_err(PublishError::local(".", "tmp"))?;
        let root = tmp.path().join("dest");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(&outside).map_err(PublishError::local(&outside, "mkdir"))?;
        let store = DirStore::new(&root);
        store.preflight().await?;
        let (_, meta) = classify("opus_64k/1.m4s", b"");
        // A rendition directory swapped for a link once the run started.
        std::os::unix::fs::symlink(&outside, root.join("opus_64k"))
            .map_err(PublishError::local(&root, "symlink"))?;
        let err = store.put(put("opus_64k/1.m4s", b"segment", &meta)).await;
        assert!(
            matches!(&err, Err(e) if e.kind() == PublishErrorKind::Io && e.to_string().contains("symbolic link")),
            "{err:?}"
        );
        assert!(store.existing("opus_64k/1.m4s").await.is_err());
        // A file replaced by a link: the link is replaced, its target kept.
        let target = outside.join("kept");
        std::fs::write(&target, b"kept").map_err(PublishError::local(&target, "write"))?;
        std::os::unix::fs::symlink(&target, root.join("master.m3u8"))
            .map_err(PublishError::local(&root, "symlink"))?;
        store.put(put("master.m3u8", b"#EXTM3U\n", &meta)).await?;
        assert_eq!(std::fs::read(&target).ok().as_deref(), Some(&b"kept"[..]));
        assert_eq!(
            std::fs::read_dir(&outside).map(|d| d.count()).ok(),
            Some(1),
            "nothing written outside"
        );
        Ok(())
    }
}
