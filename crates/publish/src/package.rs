//! What may be published, and where a package may be published locally.

use std::fs;
use std::io;
use std::path::Path;

use crate::error::PublishError;
use crate::publisher::REPORT;

pub(crate) fn refuse_destination(path: &Path, reason: impl Into<String>) -> PublishError {
    PublishError::Destination {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Whether a local destination may receive a package (the rule of
/// `ingest --out`): absent, an empty directory, or an earlier audiopack
/// package. Never a symbolic link or a file.
pub(crate) fn check_replaceable(dest: &Path) -> Result<(), PublishError> {
    let meta = match fs::symlink_metadata(dest) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(PublishError::local(dest, "reading")(e)),
    };
    if meta.file_type().is_symlink() {
        return Err(refuse_destination(dest, "it is a symbolic link"));
    }
    if !meta.is_dir() {
        return Err(refuse_destination(dest, "it is not a directory"));
    }
    let empty = fs::read_dir(dest)
        .map(|mut d| d.next().is_none())
        .map_err(PublishError::local(dest, "listing"))?;
    if empty || fs::symlink_metadata(dest.join(REPORT)).is_ok_and(|m| m.is_file()) {
        return Ok(());
    }
    Err(refuse_destination(
        dest,
        "it holds files and is not an audiopack package",
    ))
}
