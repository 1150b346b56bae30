//! A local directory as a store: each object is written to a temporary
//! file beside its destination and renamed into place, so a reader never
//! sees half an object.

use std::path::{Path, PathBuf};

use crate::error::{StoreError, StoreErrorKind};
use crate::object::sha256_hex;
use crate::store::{Existing, PutObject, below};

pub struct DirStore {
    root: PathBuf,
}

impl DirStore {
    pub fn new(root: impl Into<PathBuf>) -> DirStore {
        DirStore { root: root.into() }
    }

    pub(crate) fn path_of(&self, relative: &str) -> PathBuf {
        below(&self.root, relative).unwrap_or_else(|| self.root.join(relative))
    }

    fn error(&self, path: &Path, action: &str, e: std::io::Error) -> StoreError {
        let kind = match e.kind() {
            std::io::ErrorKind::PermissionDenied => StoreErrorKind::AccessDenied,
            _ => StoreErrorKind::Failed,
        };
        StoreError::new(kind, path.display().to_string(), format!("{action}: {e}"))
    }

    pub(crate) async fn preflight_read_only(&self) -> Result<(), StoreError> {
        match tokio::fs::metadata(&self.root).await {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err(StoreError::new(
                StoreErrorKind::Failed,
                self.root.display().to_string(),
                "exists and is not a directory",
            )),
            // A missing directory is created by the publish itself.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.error(&self.root, "reading", e)),
        }
    }

    pub(crate) async fn preflight(&self) -> Result<(), StoreError> {
        self.preflight_read_only().await?;
        tokio::fs::create_dir_all(&self.root)
            .await
            .map_err(|e| self.error(&self.root, "creating", e))?;
        let probe = self
            .root
            .join(format!(".audiopack-preflight-{}", std::process::id()));
        tokio::fs::write(&probe, b"")
            .await
            .map_err(|e| self.error(&self.root, "writing", e))?;
        let _ = tokio::fs::remove_file(&probe).await;
        Ok(())
    }

    pub(crate) async fn existing(&self, relative: &str) -> Result<Option<Existing>, StoreError> {
        let path = self.checked(relative)?;
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Some(Existing {
                size: bytes.len() as u64,
                sha256: Some(sha256_hex(&bytes)),
                etag: None,
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.error(&path, "reading", e)),
        }
    }

    pub(crate) async fn put(&self, object: PutObject<'_>) -> Result<(), StoreError> {
        let path = self.checked(object.relative)?;
        let parent = path.parent().unwrap_or(&self.root).to_path_buf();
        tokio::fs::create_dir_all(&parent)
            .await
            .map_err(|e| self.error(&parent, "creating", e))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = parent.join(format!(".{name}.audiopack-{}", std::process::id()));
        let written = async {
            tokio::fs::write(&temp, object.bytes).await?;
            tokio::fs::rename(&temp, &path).await
        }
        .await;
        if let Err(e) = written {
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(self.error(&path, "writing", e));
        }
        Ok(())
    }

    fn checked(&self, relative: &str) -> Result<PathBuf, StoreError> {
        below(&self.root, relative).ok_or_else(|| {
            StoreError::new(
                StoreErrorKind::Failed,
                relative,
                "not a plain relative path",
            )
        })
    }
}
