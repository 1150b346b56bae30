//! Output goes to a staging directory beside the destination and is renamed
//! into place only when the whole job succeeded.
//!
//! The rules that keep this from destroying anything (see
//! `docs/destructive-operations.md`):
//! * the destination is replaced only when it is absent, empty, or an
//!   audiopack package holding nothing but what its report lists, and the
//!   input is not inside it ([`crate::inventory`]); checked before the
//!   encode and again, under the destination lock, right before the swap;
//! * a mount point is refused before the encode (it cannot be renamed);
//! * the swap runs under an exclusive lock on `.<name>.audiopack.lock`
//!   beside the destination, so concurrent runs to one `--out` replace it
//!   one after the other (the last to finish wins) instead of failing;
//! * the previous output is moved into a per-run working directory (with
//!   its own run lock), never to a fixed name, and removed after the swap;
//!   a run killed mid-swap leaves it to the next run's sweep.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::JobError;
use crate::inventory::check_replaceable;
use crate::scratch::ScratchDir;

/// Working directories beside a destination are `.<name>.audiopack-<random>`.
const FAMILY: &str = ".audiopack-";
/// The destination's name is cut to this many bytes in working-directory
/// names, so they stay under NAME_MAX (255) with the random suffix and the
/// lock suffix whatever the destination is called.
const NAME_BYTES: usize = 48;

pub(crate) struct Staging {
    /// Removed on drop unless renamed onto `dest` first; its lock lets a
    /// later run remove it if this process is killed ([`crate::scratch`]).
    dir: ScratchDir,
    dest: PathBuf,
    parent: PathBuf,
    prefix: String,
    input: Option<PathBuf>,
}

impl Staging {
    /// Creates `.<name>.audiopack-<random>` next to `dest`, after removing
    /// the working directories of killed runs beside it (whatever
    /// destination they were for). Refuses before anything is created when
    /// `dest` may not be replaced.
    pub(crate) fn new(dest: &Path, input: Option<&Path>) -> Result<Staging, JobError> {
        check_replaceable(dest, input)?;
        let name = dest
            .file_name()
            .ok_or_else(|| JobError::Config(format!("{}: not a directory name", dest.display())))?;
        let parent = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if is_mount_point(dest, &parent) {
            return Err(JobError::OutputExists {
                path: dest.to_path_buf(),
                reason: "it is a mount point, which cannot be replaced by a rename; \
                         write to a directory below it (--out DIR/NAME)"
                    .into(),
            });
        }
        fs::create_dir_all(&parent).map_err(|source| JobError::Output {
            path: parent.clone(),
            action: "creating the parent directory",
            source,
        })?;
        let prefix = format!(".{}{FAMILY}", short_name(&name.to_string_lossy()));
        let dir =
            ScratchDir::new_in_family(&parent, &prefix, &is_staging_name).map_err(|source| {
                JobError::Output {
                    path: parent.join(&prefix),
                    action: "creating the staging directory",
                    source,
                }
            })?;
        Ok(Staging {
            dir,
            dest: dest.to_path_buf(),
            parent,
            prefix,
            input: input.map(Path::to_path_buf),
        })
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Moves the staging directory onto the destination, under the
    /// destination lock. An earlier package there is moved into a working
    /// directory of this run first and removed after.
    pub(crate) fn commit(self) -> Result<(), JobError> {
        let lock_path = self.parent.join(format!(
            ".{}.audiopack.lock",
            short_name(&self.dest.file_name().unwrap_or_default().to_string_lossy())
        ));
        let _lock = DestLock::acquire(&lock_path).map_err(|source| JobError::Output {
            path: lock_path.clone(),
            action: "locking the destination",
            source,
        })?;
        check_replaceable(&self.dest, self.input.as_deref())?;
        let aside = if fs::symlink_metadata(&self.dest).is_ok() {
            let holder = ScratchDir::new_in_family(&self.parent, &self.prefix, &is_staging_name)
                .map_err(|source| JobError::Output {
                    path: self.parent.join(&self.prefix),
                    action: "creating a directory for the previous output",
                    source,
                })?;
            let old = holder.path().join("previous");
            fs::rename(&self.dest, &old).map_err(|source| JobError::Output {
                path: self.dest.clone(),
                action: "moving the previous output aside",
                source,
            })?;
            Some((holder, old))
        } else {
            None
        };
        if let Err(source) = fs::rename(self.path(), &self.dest) {
            if let Some((_, old)) = &aside {
                let _ = fs::rename(old, &self.dest);
            }
            return Err(JobError::Output {
                path: self.dest.clone(),
                action: "moving the output into place",
                source,
            });
        }
        // Dropping the holder removes the previous output; the renamed
        // staging directory is gone from under `self.dir`, whose drop then
        // only releases its run lock.
        drop(aside);
        Ok(())
    }
}

/// `.<anything>.audiopack-<random>`: a staging directory or a previous
/// output set aside, for any destination in this parent.
fn is_staging_name(name: &str) -> bool {
    name.starts_with('.') && name.contains(FAMILY)
}

/// At most [`NAME_BYTES`] bytes of `name`, cut at a character boundary.
fn short_name(name: &str) -> &str {
    if name.len() <= NAME_BYTES {
        return name;
    }
    let mut end = NAME_BYTES;
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// Whether `dest` (an existing directory) is a mount point: another device
/// than its parent, or listed in `/proc/self/mountinfo` (a bind mount of
/// the same filesystem keeps the device number).
fn is_mount_point(dest: &Path, parent: &Path) -> bool {
    let Ok(meta) = fs::symlink_metadata(dest) else {
        return false;
    };
    if !meta.is_dir() {
        return false;
    }
    if let Ok(parent_meta) = fs::metadata(parent)
        && parent_meta.dev() != meta.dev()
    {
        return true;
    }
    let (Ok(real), Ok(table)) = (
        fs::canonicalize(dest),
        fs::read_to_string("/proc/self/mountinfo"),
    ) else {
        return false;
    };
    table.lines().any(|line| {
        line.split(' ')
            .nth(4)
            .is_some_and(|point| Path::new(&unescape_mountinfo(point)) == real)
    })
}

/// mountinfo writes space, tab, newline and backslash as `\ooo` octal.
fn unescape_mountinfo(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let v = bytes[i + 1..i + 4]
                .iter()
                .fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0'));
            out.push(u8::try_from(v).unwrap_or(b'?'));
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An exclusive lock on a file beside the destination, held while the
/// destination is swapped, removed when released. After locking, the path
/// is checked to still name the locked file (a releasing run may have
/// removed it in between), so waiters never hold a lock on a stale file.
struct DestLock {
    path: PathBuf,
    _file: File,
}

impl DestLock {
    fn acquire(path: &Path) -> io::Result<DestLock> {
        loop {
            let file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)?;
            file.lock()?;
            let held = file.metadata()?;
            match fs::metadata(path) {
                Ok(now) if now.ino() == held.ino() && now.dev() == held.dev() => {
                    return Ok(DestLock {
                        path: path.to_path_buf(),
                        _file: file,
                    });
                }
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for DestLock {
    fn drop(&mut self) {
        // Removed while still locked: a waiter then finds its file gone
        // and opens a fresh one.
        let _ = fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_are_cut_at_a_char_boundary() {
        let long = "é".repeat(200);
        let short = short_name(&long);
        assert!(short.len() <= NAME_BYTES);
        assert!(long.starts_with(short));
        assert_eq!(short_name("song"), "song");
    }

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape_mountinfo("/mnt/a\\040b"), "/mnt/a b");
        assert_eq!(unescape_mountinfo("/x\\134y"), "/x\\y");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
    }

    #[test]
    fn staging_family() {
        assert!(is_staging_name(".song.audiopack-x1Y2z3"));
        assert!(is_staging_name(".other.audiopack-abc"));
        assert!(!is_staging_name("song.audiopack-abc"));
        assert!(!is_staging_name(".song.audiopack.lock"));
    }
}
