//! Working directories that a killed run (kill -9, OOM, power loss) does
//! not leave behind for ever.
//!
//! A run's working directory (the staging directory beside `--out`, the
//! spool of a package on its way to S3, a downloaded input) has a lock
//! file beside it, `<name>.lock`, on which the run holds an exclusive
//! `flock` for its lifetime. The kernel releases that lock when the
//! process dies however it dies, so the next run that creates a working
//! directory of the same kind in the same place tries each such lock: one
//! it can take belongs to a dead run, whose directory it removes. A
//! directory without its lock file is never touched (it is either being
//! created right now or not ours).
//!
//! The lock comes first: a uniquely named `<name>.lock-pending` file is
//! created and locked, renamed to `<name>.lock`, and only then is the
//! directory `<name>` created. So no other run ever sees the lock file
//! unlocked while its owner lives, and a run killed at any step leaves
//! nothing that is not swept: a lock without its directory, or a pending
//! lock (also swept once it can be locked).

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io;
use std::path::{Path, PathBuf};

/// Suffix of the lock file beside a working directory.
const LOCK_SUFFIX: &str = ".lock";

/// An exclusive lock held on `<dir>.lock` until dropped (then removed).
#[derive(Debug)]
struct RunLock {
    path: PathBuf,
    _file: File,
}

/// `<name>.lock-pending`: a lock file not yet renamed into place.
const PENDING_SUFFIX: &str = ".lock-pending";

impl RunLock {
    /// Creates and locks a fresh `<parent>/<prefix><random>.lock`; returns
    /// it with the directory path `<parent>/<prefix><random>` it guards
    /// (not created yet, and free: neither it nor its lock existed).
    fn fresh(parent: &Path, prefix: &str) -> io::Result<(RunLock, PathBuf)> {
        loop {
            let (file, pending) = tempfile::Builder::new()
                .prefix(prefix)
                .suffix(PENDING_SUFFIX)
                .tempfile_in(parent)?
                .keep()
                .map_err(|e| e.error)?;
            file.lock()?;
            let name = pending
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_suffix(PENDING_SUFFIX))
                .map(str::to_string)
                .ok_or_else(|| io::Error::other("temporary lock name"))?;
            let dir = parent.join(&name);
            let path = lock_path(&dir);
            if fs::symlink_metadata(&dir).is_ok() || fs::symlink_metadata(&path).is_ok() {
                // Taken (astronomically unlikely): another name.
                let _ = fs::remove_file(&pending);
                continue;
            }
            match fs::rename(&pending, &path) {
                Ok(()) => return Ok((RunLock { path, _file: file }, dir)),
                // Another run's sweep took the pending file for a dead
                // run's between its creation and our lock (it could lock
                // it first): the file we hold is unlinked. Another name.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

fn lock_path(dir: &Path) -> PathBuf {
    let mut name = dir.as_os_str().to_os_string();
    name.push(LOCK_SUFFIX);
    PathBuf::from(name)
}

/// Removes, under `parent`, the working directories named `<prefix>…`
/// whose run is gone (their lock file can be locked), with their lock
/// files. Best effort: returns how many it removed.
#[cfg(test)]
pub(crate) fn sweep_leftovers(parent: &Path, prefix: &str) -> usize {
    sweep_family(parent, &|name: &str| name.starts_with(prefix))
}

/// As [`sweep_leftovers`], for every directory name `in_family` accepts.
pub(crate) fn sweep_family(parent: &Path, in_family: &dyn Fn(&str) -> bool) -> usize {
    let Ok(entries) = fs::read_dir(parent) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        let lock_file = entry.path();
        if name.strip_suffix(PENDING_SUFFIX).is_some_and(in_family) {
            // A run killed before its lock was in place: nothing else.
            if let Ok(file) = OpenOptions::new().write(true).open(&lock_file)
                && file.try_lock().is_ok()
            {
                let _ = fs::remove_file(&lock_file);
            }
            continue;
        }
        let Some(dir_name) = name
            .strip_suffix(LOCK_SUFFIX)
            .filter(|stem| in_family(stem))
        else {
            continue;
        };
        let Ok(file) = OpenOptions::new().write(true).open(&lock_file) else {
            continue;
        };
        match file.try_lock() {
            Ok(()) => {
                let dir = parent.join(dir_name);
                let gone = match fs::remove_dir_all(&dir) {
                    Ok(()) => true,
                    Err(e) => e.kind() == io::ErrorKind::NotFound,
                };
                // Keep the lock file while its directory could not be
                // removed, so a later run tries again.
                if gone && fs::remove_file(&lock_file).is_ok() {
                    removed += 1;
                }
            }
            Err(TryLockError::WouldBlock) | Err(TryLockError::Error(_)) => {}
        }
    }
    removed
}

/// A fresh working directory `<parent>/<prefix><random>` with its run
/// lock, removed (with the lock) on drop. Creating one first sweeps the
/// leftovers of dead runs with the same prefix.
#[derive(Debug)]
pub struct ScratchDir {
    dir: PathBuf,
    // Dropped after `Drop::drop` removed the directory.
    _lock: RunLock,
}

impl ScratchDir {
    /// # Errors
    ///
    /// When the directory or its lock file cannot be created.
    pub fn new(parent: &Path, prefix: &str) -> io::Result<ScratchDir> {
        ScratchDir::new_in_family(parent, prefix, &|name: &str| name.starts_with(prefix))
    }

    /// As [`ScratchDir::new`], sweeping first the dead runs' directories
    /// of every name `in_family` accepts (not only this prefix).
    pub(crate) fn new_in_family(
        parent: &Path,
        prefix: &str,
        in_family: &dyn Fn(&str) -> bool,
    ) -> io::Result<ScratchDir> {
        sweep_family(parent, in_family);
        let (lock, dir) = RunLock::fresh(parent, prefix)?;
        // On error the lock is dropped (removed) with nothing to guard.
        fs::create_dir(&dir)?;
        Ok(ScratchDir { dir, _lock: lock })
    }

    /// In the system's temporary directory (`TMPDIR`).
    ///
    /// # Errors
    ///
    /// As [`ScratchDir::new`].
    pub fn in_temp(prefix: &str) -> io::Result<ScratchDir> {
        ScratchDir::new(&std::env::temp_dir(), prefix)
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .expect("dir")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    fn name_of(path: &Path) -> String {
        path.file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned()
    }

    /// Runs creating working directories side by side each sweep the
    /// others' family: a pending lock file swept between its creation and
    /// its lock must not fail the run that made it (it was exit 6,
    /// "creating the staging directory: No such file or directory", for
    /// tracks of one batch).
    #[test]
    fn concurrent_runs_in_one_parent_never_fail_each_other() {
        let parent = tempfile::tempdir().expect("tmp");
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let parent = parent.path().to_path_buf();
                std::thread::spawn(move || {
                    for _ in 0..300 {
                        let dir =
                            ScratchDir::new_in_family(&parent, &format!(".t{t}.run-"), &|n| {
                                n.starts_with(".t") && n.contains(".run-")
                            })
                            .map_err(|e| e.to_string())?;
                        if !dir.path().is_dir() {
                            return Err("created directory missing".to_string());
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        for t in threads {
            t.join()
                .expect("thread")
                .expect("every run got its directory");
        }
    }

    #[test]
    fn a_dead_runs_directory_is_swept_and_a_live_one_kept() {
        let parent = tempfile::tempdir().expect("tmp");
        let live = ScratchDir::new(parent.path(), "job-").expect("live");
        fs::write(live.path().join("segment"), b"x").expect("write");
        // A run killed mid-way: its directory and an unlocked lock file.
        let dead = parent.path().join("job-dead");
        fs::create_dir_all(dead.join("sub")).expect("dead dir");
        fs::write(dead.join("sub/segment"), b"x").expect("write");
        fs::write(parent.path().join("job-dead.lock"), b"").expect("lock");
        // Not ours (no lock file) and another prefix: untouched.
        fs::create_dir(parent.path().join("job-unlocked")).expect("dir");
        fs::create_dir(parent.path().join("other-dead")).expect("dir");
        fs::write(parent.path().join("other-dead.lock"), b"").expect("lock");

        assert_eq!(sweep_leftovers(parent.path(), "job-"), 1);
        let live_name = name_of(live.path());
        let mut expected = vec![
            "job-unlocked".to_string(),
            format!("{live_name}.lock"),
            live_name.clone(),
            "other-dead".to_string(),
            "other-dead.lock".to_string(),
        ];
        expected.sort();
        assert_eq!(names(parent.path()), expected);
        assert!(live.path().join("segment").is_file());

        drop(live);
        let mut expected = vec![
            "job-unlocked".to_string(),
            "other-dead".to_string(),
            "other-dead.lock".to_string(),
        ];
        expected.sort();
        assert_eq!(names(parent.path()), expected, "drop removes dir and lock");
    }

    #[test]
    fn a_run_killed_before_its_directory_existed_leaves_nothing_behind() {
        let parent = tempfile::tempdir().expect("tmp");
        // Killed after creating its pending lock, or after renaming it.
        fs::write(parent.path().join("job-a.lock-pending"), b"").expect("pending");
        fs::write(parent.path().join("job-b.lock"), b"").expect("lock");
        let live = ScratchDir::new(parent.path(), "job-").expect("live");
        let live_name = name_of(live.path());
        let mut expected = vec![format!("{live_name}.lock"), live_name];
        expected.sort();
        assert_eq!(names(parent.path()), expected);
        // A live run's lock (pending or not) is never taken.
        assert_eq!(sweep_leftovers(parent.path(), "job-"), 0);
        assert!(live.path().is_dir());
    }

    #[test]
    fn a_new_scratch_dir_sweeps_first() {
        let parent = tempfile::tempdir().expect("tmp");
        fs::create_dir(parent.path().join("spool-old")).expect("dir");
        fs::write(parent.path().join("spool-old.lock"), b"").expect("lock");
        let fresh = ScratchDir::new(parent.path(), "spool-").expect("fresh");
        assert!(!parent.path().join("spool-old").exists());
        assert!(!parent.path().join("spool-old.lock").exists());
        assert!(fresh.path().is_dir());
    }
}
