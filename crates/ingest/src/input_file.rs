//! What may be opened as an input at all: regular files only.

use std::path::Path;

use crate::error::IngestError;

/// Refuses anything but a regular file (after following symlinks): FIFOs,
/// sockets, character or block devices (`/dev/zero`) are bad input; a
/// directory is an I/O error (unreadable input, as it always was).
///
/// Looks only at [`std::fs::metadata`], never opens the file: opening a
/// FIFO for reading blocks until a writer appears, and a device can be
/// read forever. Call it before creating anything for a job.
pub fn check_input_file(path: &Path) -> Result<(), IngestError> {
    let meta = std::fs::metadata(path).map_err(|source| IngestError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let kind = meta.file_type();
    if kind.is_file() {
        return Ok(());
    }
    if kind.is_dir() {
        // Documented (README, exit codes) as an unreadable input: exit 6.
        return Err(IngestError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::IsADirectory, "is a directory"),
        });
    }
    Err(IngestError::NotAFile {
        path: path.to_path_buf(),
        what: special_kind(&kind),
    })
}

#[cfg(unix)]
fn special_kind(kind: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_fifo() {
        "a FIFO (named pipe)"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else {
        "not a regular file"
    }
}

#[cfg(not(unix))]
fn special_kind(_kind: &std::fs::FileType) -> &'static str {
    "not a regular file"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn regular_file_passes() {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        check_input_file(file.path()).expect("a regular file");
    }

    #[test]
    fn devices_are_bad_input_directories_io() {
        let err = check_input_file(Path::new("/dev/zero")).expect_err("a device");
        assert_eq!(err.kind(), ErrorKind::BadInput);
        assert_eq!(
            err.to_string(),
            "/dev/zero: not a regular file: a character device"
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let err = check_input_file(dir.path()).expect_err("a directory");
        assert_eq!(err.kind(), ErrorKind::Io);
        assert!(err.to_string().contains("is a directory"), "{err}");
    }

    #[test]
    fn missing_file_is_io() {
        let err = check_input_file(Path::new("/nonexistent/x.wav")).expect_err("missing");
        assert_eq!(err.kind(), ErrorKind::Io);
    }
}
