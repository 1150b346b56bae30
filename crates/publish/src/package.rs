//! What may be published, and where a package may be published locally.
//!
//! Both rules rest on [`audiopack_pipeline::inspect_package`]: a directory
//! is a package only when its `report.json` is audiopack's, of a known
//! format version, and lists every file present with its size, with no
//! link or special file anywhere. `publish` checks the source this way
//! before any upload, and a local destination the way `ingest --out`
//! does before writing anything.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use audiopack_pipeline::{JobError, PackageFile, REPORT_FILE, inspect_package};

use crate::error::PublishError;
use crate::object::{ObjectClass, ObjectPolicy};

pub(crate) fn refuse_destination(path: &Path, reason: impl Into<String>) -> PublishError {
    PublishError::Destination {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn not_a_package(dir: &Path, reason: impl Into<String>) -> PublishError {
    PublishError::Job(JobError::NotAPackage {
        path: dir.to_path_buf(),
        reason: reason.into(),
    })
}

/// The files of the package at `dir` to publish (`report.json` aside, it
/// goes last on its own), checked before anything is uploaded: those its
/// report lists, and the unlisted ones only with `include_extra` (else a
/// package holding any is refused).
pub(crate) fn files_to_publish(
    dir: &Path,
    include_extra: bool,
) -> Result<Vec<PackageFile>, PublishError> {
    let inventory = inspect_package(dir).map_err(|e| explain_old_package(dir, e))?;
    let mut files = inventory.files;
    if include_extra {
        // Unlisted names were not checked by the report's rule: they
        // become object keys, so the same rule as listed paths.
        if let Some(bad) = inventory
            .extra
            .iter()
            .find(|f| f.path.contains('\\') || f.path.chars().any(char::is_control))
        {
            return Err(not_a_package(
                dir,
                format!(
                    "{} cannot be an object key (control character or '\\')",
                    bad.path.escape_debug()
                ),
            ));
        }
        files.extend(inventory.extra);
        files.sort();
    } else if let Some(first) = inventory.extra.first() {
        let more = match inventory.extra.len() {
            1 => String::new(),
            n => format!(" (and {} more)", n - 1),
        };
        return Err(not_a_package(
            dir,
            format!(
                "it holds {}{more}, which report.json does not list; remove it, or publish \
                 unlisted files with --include-extra",
                first.path.escape_debug()
            ),
        ));
    }
    Ok(files)
}

/// A report audiopack wrote before package format 1 (no `format_version`)
/// gets a message saying what to do.
fn explain_old_package(dir: &Path, error: JobError) -> PublishError {
    let report = dir.join(REPORT_FILE);
    let old = fs::symlink_metadata(&report).is_ok_and(|m| m.is_file())
        && fs::read(&report)
            .ok()
            .and_then(|text| serde_json::from_slice::<serde_json::Value>(&text).ok())
            .is_some_and(|v| v["tool"]["name"] == "audiopack" && v.get("format_version").is_none());
    if old {
        return not_a_package(
            dir,
            "report.json has no format_version: the package was written by an older audiopack; \
             run `audiopack ingest` again to make one that can be published",
        );
    }
    PublishError::Job(error)
}

/// Whether a local destination may receive a package (the rule of
/// `ingest --out`): absent, an empty directory, or an earlier audiopack
/// package with nothing else in it. Never a symbolic link or a file.
/// Returns the files the earlier package lists (none otherwise).
pub(crate) fn check_replaceable(dest: &Path) -> Result<Vec<PackageFile>, PublishError> {
    let meta = match fs::symlink_metadata(dest) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
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
    if empty {
        return Ok(Vec::new());
    }
    let inventory = inspect_package(dest).map_err(|e| match e {
        JobError::NotAPackage { reason, .. } => {
            refuse_destination(dest, format!("it is not an audiopack package ({reason})"))
        }
        other => PublishError::Job(other),
    })?;
    if let Some(extra) = inventory.extra.first() {
        return Err(refuse_destination(
            dest,
            format!(
                "it holds {} that its package does not list{}",
                extra.path.escape_debug(),
                match inventory.extra.len() {
                    1 => String::new(),
                    n => format!(" (and {} more)", n - 1),
                }
            ),
        ));
    }
    Ok(inventory.files)
}

/// Refuses a destination inside the package being published, or a package
/// inside its destination: one would be rewritten while it is read.
pub(crate) fn check_apart(package: &Path, dest: &Path) -> Result<(), PublishError> {
    let package = fs::canonicalize(package).map_err(PublishError::local(package, "reading"))?;
    let dest_real = existing_ancestor(dest);
    if dest_real.starts_with(&package) || package.starts_with(&dest_real) {
        return Err(refuse_destination(
            dest,
            format!("it overlaps the package {}", package.display()),
        ));
    }
    Ok(())
}

/// `path` resolved through its nearest existing ancestor (the destination
/// may not exist yet).
fn existing_ancestor(path: &Path) -> PathBuf {
    let mut rest = Vec::new();
    let mut current = path.to_path_buf();
    loop {
        if let Ok(real) = fs::canonicalize(&current) {
            return rest.iter().rev().fold(real, |acc, part| acc.join(part));
        }
        match (
            current.file_name().map(|n| n.to_os_string()),
            current.parent(),
        ) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                current = if parent.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    parent.to_path_buf()
                };
            }
            _ => return path.to_path_buf(),
        }
    }
}

/// These files of `dir` with their classes, sorted by path (`.m3u8` files
/// are looked into to tell masters from media playlists).
pub(crate) fn classified(
    dir: &Path,
    relatives: impl Iterator<Item = String>,
    policy: &ObjectPolicy,
) -> Result<Vec<(String, ObjectClass)>, PublishError> {
    let mut files = Vec::new();
    for relative in relatives {
        let head = read_head(&dir.join(&relative), ObjectPolicy::head_bytes(&relative))?;
        files.push((relative.clone(), policy.classify(&relative, &head).0));
    }
    files.sort();
    Ok(files)
}

/// Every file of a package (dot-files skipped), with its class, sorted by
/// path. `report.json` is left out: it is handled last, on its own.
pub fn package_files(dir: &Path) -> Result<Vec<(String, ObjectClass)>, PublishError> {
    let mut relatives = Vec::new();
    let mut pending = vec![(dir.to_path_buf(), String::new())];
    while let Some((path, prefix)) = pending.pop() {
        let entries = fs::read_dir(&path).map_err(PublishError::local(&path, "listing"))?;
        for entry in entries {
            let entry = entry.map_err(PublishError::local(&path, "listing"))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let relative = format!("{prefix}{name}");
            let kind = entry
                .file_type()
                .map_err(PublishError::local(entry.path(), "reading"))?;
            if kind.is_dir() {
                pending.push((entry.path(), format!("{relative}/")));
            } else if kind.is_file() && relative != REPORT_FILE {
                relatives.push(relative);
            }
        }
    }
    classified(dir, relatives.into_iter(), &ObjectPolicy::default())
}

/// The first `limit` bytes of a file (nothing read when 0).
fn read_head(path: &Path, limit: usize) -> Result<Vec<u8>, PublishError> {
    let mut head = Vec::new();
    if limit > 0 {
        fs::File::open(path)
            .and_then(|f| f.take(limit as u64).read_to_end(&mut head))
            .map_err(PublishError::local(path, "reading"))?;
    }
    Ok(head)
}
