//! What makes a directory an audiopack package, and what it holds.
//!
//! A package's `report.json` carries `format_version` and `files`: every
//! file of the package below the directory (`/`-separated relative paths)
//! with its size, `report.json` itself excepted. A directory is taken for
//! an audiopack package only when that report parses, names the tool,
//! carries a format version this build knows, and every listed file is
//! there as a regular file of the listed size. Nothing in the tree may be
//! a symbolic link, a FIFO, a socket or a device.
//!
//! This is the one rule behind every destructive step: `ingest --out DIR`
//! replaces DIR only when it is empty or a package with nothing else in it
//! ([`check_replaceable`]), and `publish` uploads only what a package
//! lists. A file named `report.json` is not enough: the rule looks at what
//! only audiopack writes, and at every file present.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::JobError;

/// The report's file name, at the root of every package.
pub const REPORT_FILE: &str = "report.json";

/// The package format this build writes and recognizes.
pub const PACKAGE_FORMAT_VERSION: u32 = 1;

/// A report larger than this is not one of ours (a long track's report is
/// a few hundred KiB).
const MAX_REPORT_BYTES: u64 = 64 << 20;
/// A package holds a few thousand files; a tree with more is not one.
const MAX_ENTRIES: usize = 200_000;
/// Directory depth: our packages are two levels deep.
const MAX_DEPTH: usize = 8;

/// One file of a package, as listed in `report.json`.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct PackageFile {
    /// Relative to the package directory, `/`-separated.
    pub path: String,
    pub bytes: u64,
}

/// What [`inspect_package`] found.
#[derive(Debug, Clone)]
pub struct PackageInventory {
    /// The files `report.json` lists, each present with its listed size.
    pub files: Vec<PackageFile>,
    /// Regular files present but not listed (`report.json` excepted).
    pub extra: Vec<PackageFile>,
}

/// The part of `report.json` the rule reads.
#[derive(Deserialize)]
struct ReportHeader {
    tool: ToolName,
    format_version: u32,
    files: Vec<PackageFile>,
}

#[derive(Deserialize)]
struct ToolName {
    name: String,
}

fn not_a_package(dir: &Path, reason: impl Into<String>) -> JobError {
    JobError::NotAPackage {
        path: dir.to_path_buf(),
        reason: reason.into(),
    }
}

/// Checks that `dir` is an audiopack package and lists what it holds.
///
/// # Errors
///
/// [`JobError::NotAPackage`] (kind `Io`) naming the first problem: no or
/// unreadable report, a report of another tool or format version, a listed
/// file missing or of another size, a path that leaves the directory, a
/// symbolic link or special file anywhere in the tree.
pub fn inspect_package(dir: &Path) -> Result<PackageInventory, JobError> {
    let meta = fs::symlink_metadata(dir).map_err(|e| not_a_package(dir, e.to_string()))?;
    if !meta.is_dir() {
        return Err(not_a_package(dir, "not a directory"));
    }
    let header = read_header(dir)?;
    let mut present = Vec::new();
    walk(dir, dir, 0, &mut present)?;
    let mut listed = header.files;
    listed.sort();
    for pair in listed.windows(2) {
        if pair[0].path == pair[1].path {
            return Err(not_a_package(
                dir,
                format!("report.json lists {} twice", pair[0].path),
            ));
        }
    }
    for file in &listed {
        check_relative(dir, &file.path)?;
        match present.binary_search_by(|p: &PackageFile| p.path.cmp(&file.path)) {
            Ok(i) if present[i].bytes == file.bytes => {}
            Ok(i) => {
                return Err(not_a_package(
                    dir,
                    format!(
                        "{} has {} bytes, report.json says {}",
                        file.path, present[i].bytes, file.bytes
                    ),
                ));
            }
            Err(_) => {
                return Err(not_a_package(
                    dir,
                    format!("{} is listed in report.json but missing", file.path),
                ));
            }
        }
    }
    let extra = present
        .into_iter()
        .filter(|p| p.path != REPORT_FILE)
        .filter(|p| listed.binary_search_by(|l| l.path.cmp(&p.path)).is_err())
        .collect();
    Ok(PackageInventory {
        files: listed,
        extra,
    })
}

fn read_header(dir: &Path) -> Result<ReportHeader, JobError> {
    let path = dir.join(REPORT_FILE);
    let meta = fs::symlink_metadata(&path)
        .map_err(|_| not_a_package(dir, "no report.json (not an audiopack package)"))?;
    if meta.file_type().is_symlink() {
        return Err(not_a_package(dir, "report.json is a symbolic link"));
    }
    if !meta.is_file() {
        return Err(not_a_package(dir, "report.json is not a regular file"));
    }
    if meta.len() > MAX_REPORT_BYTES {
        return Err(not_a_package(dir, "report.json is too large to be ours"));
    }
    let mut text = Vec::new();
    fs::File::open(&path)
        .and_then(|f| f.take(MAX_REPORT_BYTES).read_to_end(&mut text))
        .map_err(|e| not_a_package(dir, format!("reading report.json: {e}")))?;
    let header: ReportHeader = serde_json::from_slice(&text).map_err(|e| {
        not_a_package(
            dir,
            format!("report.json is not an audiopack package report ({e}); packages written before package format 1 must be made again"),
        )
    })?;
    if header.tool.name != "audiopack" {
        return Err(not_a_package(
            dir,
            "report.json was not written by audiopack",
        ));
    }
    if header.format_version != PACKAGE_FORMAT_VERSION {
        return Err(not_a_package(
            dir,
            format!(
                "package format {} (this audiopack reads format {PACKAGE_FORMAT_VERSION})",
                header.format_version
            ),
        ));
    }
    if header.files.len() > MAX_ENTRIES {
        return Err(not_a_package(dir, "report.json lists too many files"));
    }
    Ok(header)
}

/// A listed path must stay inside the package: relative, `/`-separated,
/// no empty, `.` or `..` component, no backslash or control character.
fn check_relative(dir: &Path, path: &str) -> Result<(), JobError> {
    let bad = path.is_empty()
        || path.starts_with('/')
        || path.contains('\\')
        || path.chars().any(char::is_control)
        || path
            .split('/')
            .any(|c| c.is_empty() || c == "." || c == "..");
    if bad || path == REPORT_FILE {
        return Err(not_a_package(
            dir,
            format!("report.json lists an invalid path {path:?}"),
        ));
    }
    Ok(())
}

/// Every regular file below `dir`, sorted by path; refuses links and
/// special files.
fn walk(root: &Path, dir: &Path, depth: usize, out: &mut Vec<PackageFile>) -> Result<(), JobError> {
    if depth > MAX_DEPTH {
        return Err(not_a_package(root, "directories nested too deep"));
    }
    let entries = fs::read_dir(dir)
        .map_err(|e| not_a_package(root, format!("listing {}: {e}", dir.display())))?;
    for entry in entries {
        let entry = entry.map_err(|e| not_a_package(root, format!("listing: {e}")))?;
        let path = entry.path();
        let rel = relative_name(root, &path);
        let meta =
            fs::symlink_metadata(&path).map_err(|e| not_a_package(root, format!("{rel}: {e}")))?;
        let kind = meta.file_type();
        if kind.is_symlink() {
            return Err(not_a_package(root, format!("{rel} is a symbolic link")));
        } else if kind.is_dir() {
            walk(root, &path, depth + 1, out)?;
        } else if kind.is_file() {
            out.push(PackageFile {
                path: rel,
                bytes: meta.len(),
            });
        } else {
            return Err(not_a_package(root, format!("{rel} is not a regular file")));
        }
        if out.len() > MAX_ENTRIES {
            return Err(not_a_package(root, "too many files"));
        }
    }
    if depth == 0 {
        out.sort();
    }
    Ok(())
}

fn relative_name(root: &Path, path: &Path) -> String {
    let rel: PathBuf = path.strip_prefix(root).unwrap_or(path).to_path_buf();
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Every regular file below `dir` (for the report of a fresh package),
/// sorted, `report.json` excepted.
pub(crate) fn list_files(dir: &Path) -> Result<Vec<PackageFile>, JobError> {
    let mut files = Vec::new();
    walk(dir, dir, 0, &mut files)?;
    files.retain(|f| f.path != REPORT_FILE);
    Ok(files)
}

/// Whether `dest` may be replaced by a new package: absent, an empty
/// directory, or an audiopack package holding nothing else. `input` (the
/// file being encoded) must not be inside it.
pub(crate) fn check_replaceable(dest: &Path, input: Option<&Path>) -> Result<(), JobError> {
    let refuse = |reason: String| JobError::OutputExists {
        path: dest.to_path_buf(),
        reason,
    };
    let meta = match fs::symlink_metadata(dest) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(refuse(e.to_string())),
    };
    if meta.file_type().is_symlink() {
        return Err(refuse("it is a symbolic link".into()));
    }
    if !meta.is_dir() {
        return Err(refuse("it is not a directory".into()));
    }
    if let Some(input) = input
        && let (Ok(input), Ok(dest_real)) = (fs::canonicalize(input), fs::canonicalize(dest))
        && input.starts_with(&dest_real)
    {
        return Err(refuse(format!(
            "the input {} is inside it",
            input.display()
        )));
    }
    let empty = fs::read_dir(dest)
        .map(|mut d| d.next().is_none())
        .map_err(|e| refuse(e.to_string()))?;
    if empty {
        return Ok(());
    }
    let inventory = inspect_package(dest).map_err(|e| match e {
        JobError::NotAPackage { reason, .. } => {
            refuse(format!("it is not an audiopack package ({reason})"))
        }
        other => other,
    })?;
    if let Some(extra) = inventory.extra.first() {
        return Err(refuse(format!(
            "it holds {} that the package does not list{}",
            extra.path,
            match inventory.extra.len() {
                1 => String::new(),
                n => format!(" (and {} more)", n - 1),
            }
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn package(files: &[(&str, &[u8])], listed: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tmp");
        for (path, bytes) in files {
            let path = dir.path().join(path);
            fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            fs::write(path, bytes).expect("write");
        }
        fs::write(
            dir.path().join(REPORT_FILE),
            format!(
                r#"{{"tool": {{"name": "audiopack"}}, "format_version": 1, "files": {listed}}}"#
            ),
        )
        .expect("report");
        dir
    }

    fn reason(result: Result<PackageInventory, JobError>) -> String {
        match result {
            Err(JobError::NotAPackage { reason, .. }) => reason,
            other => panic!("expected NotAPackage, got {other:?}"),
        }
    }

    #[test]
    fn lists_and_extras() {
        let dir = package(
            &[("a/1.m4s", b"xyz"), ("b.m3u8", b"#"), ("extra.txt", b"!")],
            r#"[{"path": "a/1.m4s", "bytes": 3}, {"path": "b.m3u8", "bytes": 1}]"#,
        );
        let inv = inspect_package(dir.path()).expect("package");
        assert_eq!(inv.files.len(), 2);
        assert_eq!(
            inv.extra,
            vec![PackageFile {
                path: "extra.txt".into(),
                bytes: 1
            }]
        );
    }

    #[test]
    fn listed_paths_must_stay_inside() {
        for bad in ["../x", "/etc/passwd", "a//b", "./a", "a\\b", "a\nb", ""] {
            let listed = serde_json::json!([{ "path": bad, "bytes": 0 }]).to_string();
            let dir = package(&[], &listed);
            assert!(
                reason(inspect_package(dir.path())).contains("invalid path"),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn refuses_other_tools_versions_sizes_and_duplicates() {
        let dir = package(&[("a", b"12")], r#"[{"path": "a", "bytes": 3}]"#);
        assert!(reason(inspect_package(dir.path())).contains("has 2 bytes"));
        let dir = package(&[], r#"[{"path": "a", "bytes": 3}]"#);
        assert!(reason(inspect_package(dir.path())).contains("missing"));
        let dir = package(
            &[("a", b"1")],
            r#"[{"path": "a", "bytes": 1}, {"path": "a", "bytes": 1}]"#,
        );
        assert!(reason(inspect_package(dir.path())).contains("twice"));
        let dir = package(&[], "[]");
        fs::write(
            dir.path().join(REPORT_FILE),
            r#"{"tool": {"name": "other"}, "format_version": 1, "files": []}"#,
        )
        .expect("write");
        assert!(reason(inspect_package(dir.path())).contains("not written by audiopack"));
        fs::write(
            dir.path().join(REPORT_FILE),
            r#"{"tool": {"name": "audiopack"}, "format_version": 2, "files": []}"#,
        )
        .expect("write");
        assert!(reason(inspect_package(dir.path())).contains("package format 2"));
        fs::write(dir.path().join(REPORT_FILE), "{}").expect("write");
        assert!(reason(inspect_package(dir.path())).contains("not an audiopack package report"));
    }

    #[test]
    fn links_and_special_files_are_refused() {
        let dir = package(&[("a", b"1")], r#"[{"path": "a", "bytes": 1}]"#);
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join("l")).expect("link");
        assert!(reason(inspect_package(dir.path())).contains("symbolic link"));
        fs::remove_file(dir.path().join("l")).expect("rm");
        let report = dir.path().join(REPORT_FILE);
        let real = dir.path().join("real.json");
        fs::rename(&report, &real).expect("mv");
        std::os::unix::fs::symlink(&real, &report).expect("link");
        assert!(reason(inspect_package(dir.path())).contains("report.json is a symbolic link"));
    }
}
