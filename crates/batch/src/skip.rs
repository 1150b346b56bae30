//! Resume: a track whose output already holds a complete package made from
//! the same input bytes with the same settings is skipped without
//! decoding.
//!
//! ```text
//!  OUT/<id>/report.json ── absent / unreadable / not ours ─► run
//!     settings_digest ≠ the job's ─────────────────────────► run ("settings changed")
//!     a listed file missing or of another size ────────────► run ("incomplete")
//!        (directory: each file's metadata; S3: one listing of the prefix)
//!     input.sha256 ≠ SHA-256 of the input (read, not decoded) ► run ("input changed")
//!  otherwise ─────────────────────────────────────────────► skipped
//! ```
//!
//! The cheap checks come first: the input is hashed only when the package
//! there could be this one.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::destination::{Destination, S3Side};

/// A report larger than this is not one of ours.
const MAX_REPORT_BYTES: u64 = 64 << 20;

/// What the skip check reads of a package's `report.json`.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PackageSummary {
    pub settings_digest: Option<String>,
    pub tool: ToolPart,
    pub input: InputPart,
    pub loudness: LoudnessPart,
    pub files: Vec<FilePart>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ToolPart {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct InputPart {
    #[serde(default)]
    pub sha256: Option<String>,
    pub duration_seconds: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct LoudnessPart {
    pub input: Integrated,
    pub output: Integrated,
    pub gain: GainPart,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Integrated {
    pub integrated_lufs: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct GainPart {
    pub gain_db: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct FilePart {
    pub path: String,
    pub bytes: u64,
}

/// The outcome of the check.
#[derive(Debug)]
pub(crate) enum Decision {
    /// Already done: the package's report.
    Skip(Box<PackageSummary>),
    /// Encode it; why (for the log).
    Run(String),
}

/// Checks track `id` (input `input`, settings digest `digest`) against
/// what `destination` holds. `input_sha256`: the input's digest when the
/// caller already read it (an album's members are hashed before their
/// album is measured), so it is not read again.
pub(crate) async fn check(
    destination: &Destination,
    s3: &S3Side,
    id: &str,
    input: &str,
    digest: &str,
    input_sha256: Option<&str>,
) -> Decision {
    let report = match destination.read_report(s3, id, MAX_REPORT_BYTES).await {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Decision::Run("no package yet".into()),
        Err(e) => return Decision::Run(format!("its report could not be read: {e}")),
    };
    let summary: PackageSummary = match serde_json::from_slice(&report) {
        Ok(s) => s,
        Err(_) => return Decision::Run("its report.json is not an audiopack report".into()),
    };
    if summary.tool.name != "audiopack" {
        return Decision::Run("its report.json was not written by audiopack".into());
    }
    if summary.settings_digest.as_deref() != Some(digest) {
        return Decision::Run("settings changed".into());
    }
    if let Err(why) = destination.check_files(s3, id, &summary.files).await {
        return Decision::Run(format!("incomplete package: {why}"));
    }
    let Some(recorded) = summary.input.sha256.as_deref() else {
        return Decision::Run("no input digest in its report".into());
    };
    if let Some(known) = input_sha256 {
        return if known == recorded {
            Decision::Skip(Box::new(summary))
        } else {
            Decision::Run("input changed".into())
        };
    }
    match Destination::input_sha256(s3, input).await {
        Ok(sha) if sha == recorded => Decision::Skip(Box::new(summary)),
        Ok(_) => Decision::Run("input changed".into()),
        // The job will say what is wrong with the input.
        Err(e) => Decision::Run(format!("input unreadable: {e}")),
    }
}

/// Every listed file under `dir` as a regular file (not a link) of its
/// listed size.
pub(crate) fn check_dir_files(dir: &Path, files: &[FilePart]) -> Result<(), String> {
    for file in files {
        let bad = file.path.is_empty()
            || file.path.starts_with('/')
            || file.path.contains('\\')
            || file
                .path
                .split('/')
                .any(|c| c.is_empty() || c == "." || c == "..");
        if bad {
            return Err(format!("invalid path {:?} in report.json", file.path));
        }
        let path: PathBuf = dir.join(&file.path);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_file() && m.len() == file.bytes => {}
            Ok(m) if m.is_file() => {
                return Err(format!(
                    "{} has {} bytes, report.json says {}",
                    file.path,
                    m.len(),
                    file.bytes
                ));
            }
            Ok(_) => return Err(format!("{} is not a regular file", file.path)),
            Err(_) => return Err(format!("{} is missing", file.path)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_files_must_be_there_with_their_size() {
        let tmp = tempfile::tempdir().expect("tmp");
        std::fs::create_dir(tmp.path().join("a")).expect("mkdir");
        std::fs::write(tmp.path().join("a/1.m4s"), b"1234").expect("write");
        let listed = |path: &str, bytes| FilePart {
            path: path.into(),
            bytes,
        };
        assert!(check_dir_files(tmp.path(), &[listed("a/1.m4s", 4)]).is_ok());
        let e = check_dir_files(tmp.path(), &[listed("a/1.m4s", 5)]).expect_err("size");
        assert!(e.contains("4 bytes"), "{e}");
        let e = check_dir_files(tmp.path(), &[listed("a/2.m4s", 4)]).expect_err("missing");
        assert!(e.contains("missing"), "{e}");
        assert!(check_dir_files(tmp.path(), &[listed("../a/1.m4s", 4)]).is_err());
    }
}
