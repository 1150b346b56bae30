//! Output goes to a staging directory beside the destination and is renamed
//! into place only when the whole job succeeded.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::JobError;
use crate::scratch::{RunLock, sweep_leftovers};

/// The file whose presence marks a directory as an audiopack output, which
/// a rerun may replace.
pub(crate) const MARKER: &str = "report.json";

pub(crate) struct Staging {
    dir: PathBuf,
    dest: PathBuf,
    committed: bool,
    /// Held while the run lives: a later run removes this staging
    /// directory if the process was killed ([`crate::scratch`]).
    _lock: RunLock,
}

impl Staging {
    /// Creates `.<name>.audiopack-<pid>` next to `dest`, after removing
    /// those of killed runs. Refuses early when `dest` exists and is
    /// neither empty nor an earlier audiopack output.
    pub(crate) fn new(dest: &Path) -> Result<Staging, JobError> {
        check_replaceable(dest)?;
        let name = dest
            .file_name()
            .ok_or_else(|| JobError::Config(format!("{}: not a directory name", dest.display())))?;
        let parent = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        fs::create_dir_all(&parent).map_err(|source| JobError::Output {
            path: parent.clone(),
            action: "creating the parent directory",
            source,
        })?;
        let prefix = format!(".{}.audiopack-", name.to_string_lossy());
        sweep_leftovers(&parent, &prefix);
        let dir = parent.join(format!("{prefix}{}", std::process::id()));
        if dir.exists() {
            let _ = fs::remove_dir_all(&dir);
        }
        fs::create_dir(&dir).map_err(|source| JobError::Output {
            path: dir.clone(),
            action: "creating the staging directory",
            source,
        })?;
        let lock = RunLock::hold(&dir).map_err(|source| {
            let _ = fs::remove_dir_all(&dir);
            JobError::Output {
                path: dir.clone(),
                action: "locking the staging directory",
                source,
            }
        })?;
        Ok(Staging {
            dir,
            dest: dest.to_path_buf(),
            committed: false,
            _lock: lock,
        })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.dir
    }

    /// Moves the staging directory onto the destination. An earlier
    /// audiopack output there is swapped out first and removed after.
    pub(crate) fn commit(mut self) -> Result<(), JobError> {
        check_replaceable(&self.dest)?;
        let old = self.dir.with_extension("old");
        let had_old = self.dest.exists();
        if had_old {
            fs::rename(&self.dest, &old).map_err(|source| JobError::Output {
                path: self.dest.clone(),
                action: "moving the previous output aside",
                source,
            })?;
        }
        if let Err(source) = fs::rename(&self.dir, &self.dest) {
            if had_old {
                let _ = fs::rename(&old, &self.dest);
            }
            return Err(JobError::Output {
                path: self.dest.clone(),
                action: "moving the output into place",
                source,
            });
        }
        self.committed = true;
        if had_old {
            let _ = fs::remove_dir_all(&old);
        }
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

fn check_replaceable(dest: &Path) -> Result<(), JobError> {
    let Ok(meta) = fs::symlink_metadata(dest) else {
        return Ok(());
    };
    let replaceable = meta.is_dir()
        && (dest.join(MARKER).is_file()
            || fs::read_dir(dest)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false));
    if replaceable {
        Ok(())
    } else {
        Err(JobError::OutputExists {
            path: dest.to_path_buf(),
        })
    }
}
