//! Output goes to a staging directory beside the destination and is renamed
//! into place only when the whole job succeeded.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::JobError;
use crate::scratch::ScratchDir;

/// The file whose presence marks a directory as an audiopack output, which
/// a rerun may replace.
pub(crate) const MARKER: &str = "report.json";

pub(crate) struct Staging {
    /// Removed on drop unless renamed onto `dest` first; its lock lets a
    /// later run remove it if this process is killed ([`crate::scratch`]).
    dir: ScratchDir,
    dest: PathBuf,
}

impl Staging {
    /// Creates `.<name>.audiopack-<random>` next to `dest`, after removing
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
        let dir = ScratchDir::new(&parent, &prefix).map_err(|source| JobError::Output {
            path: parent.join(&prefix),
            action: "creating the staging directory",
            source,
        })?;
        Ok(Staging {
            dir,
            dest: dest.to_path_buf(),
        })
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Moves the staging directory onto the destination. An earlier
    /// audiopack output there is swapped out first and removed after.
    pub(crate) fn commit(self) -> Result<(), JobError> {
        check_replaceable(&self.dest)?;
        let old = self.path().with_extension("old");
        let had_old = self.dest.exists();
        if had_old {
            fs::rename(&self.dest, &old).map_err(|source| JobError::Output {
                path: self.dest.clone(),
                action: "moving the previous output aside",
                source,
            })?;
        }
        if let Err(source) = fs::rename(self.path(), &self.dest) {
            if had_old {
                let _ = fs::rename(&old, &self.dest);
            }
            return Err(JobError::Output {
                path: self.dest.clone(),
                action: "moving the output into place",
                source,
            });
        }
        // The renamed directory is gone from under `self.dir`, whose drop
        // then only releases the lock.
        if had_old {
            let _ = fs::remove_dir_all(&old);
        }
        Ok(())
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
