//! Where a job's audio comes from. A job reads its input twice (measure,
//! then encode; more with `--limiter`), so an input is something that can
//! be opened again, with one label that names it in every message and in
//! the report.

use std::path::{Path, PathBuf};

use audiopack_ingest::{IngestConfig, IngestError, ReadSeek, Source, check_input_file};

/// An input a job can open once per pass.
pub trait JobInput: Sync {
    /// How the input is named in messages (`song.flac`, `s3://b/k.flac`).
    fn label(&self) -> &Path;

    /// The local file behind the input, when there is one the caller
    /// named: checked before anything is created (a FIFO or device is
    /// refused) and never allowed inside an output that gets replaced.
    fn local_file(&self) -> Option<&Path>;

    /// The name `report.json` gives the input: never a local directory
    /// path, since reports are published.
    fn report_name(&self) -> PathBuf {
        let label = self.label();
        if label.to_string_lossy().contains("://") {
            return label.to_path_buf();
        }
        label
            .file_name()
            .map_or_else(|| label.to_path_buf(), PathBuf::from)
    }

    /// Checks, before any work, that the input can be opened at all.
    fn check(&self) -> Result<(), IngestError> {
        match self.local_file() {
            Some(path) => check_input_file(path).map_err(|e| e.relabeled(self.label())),
            None => Ok(()),
        }
    }

    /// Opens a new decoding pass from the start.
    fn open(&self, config: &IngestConfig) -> Result<Source, IngestError>;

    /// Hex SHA-256 of the input's bytes (one extra read of a local file,
    /// no decode); `None` where that read is not ours to make (an
    /// embedder's reader, opened only for the passes).
    fn sha256(&self) -> Result<Option<String>, IngestError>;
}

fn hash_file(path: &Path, label: &Path) -> Result<Option<String>, IngestError> {
    crate::digest::file_sha256(path)
        .map(Some)
        .map_err(|source| IngestError::Io {
            path: label.to_path_buf(),
            source,
        })
}

impl JobInput for PathBuf {
    fn label(&self) -> &Path {
        self
    }

    fn local_file(&self) -> Option<&Path> {
        Some(self)
    }

    fn open(&self, config: &IngestConfig) -> Result<Source, IngestError> {
        Source::open(self, config)
    }

    fn sha256(&self) -> Result<Option<String>, IngestError> {
        hash_file(self, self)
    }
}

/// A local file named after somewhere else: a downloaded `s3://` object
/// whose URL every message and the report show.
#[derive(Debug, Clone)]
pub struct LabeledFile {
    pub path: PathBuf,
    pub label: PathBuf,
}

impl JobInput for LabeledFile {
    fn label(&self) -> &Path {
        &self.label
    }

    fn local_file(&self) -> Option<&Path> {
        Some(&self.path)
    }

    fn open(&self, config: &IngestConfig) -> Result<Source, IngestError> {
        Source::open_as(&self.path, &self.label, config)
    }

    fn sha256(&self) -> Result<Option<String>, IngestError> {
        hash_file(&self.path, &self.label)
    }
}

/// Opens a fresh reader over the same bytes for each pass.
pub type ReaderFactory = dyn Fn() -> std::io::Result<Box<dyn ReadSeek>> + Send + Sync;

/// Any reopenable reader: `open` is called once per pass.
pub struct ReaderInput<'a> {
    pub label: PathBuf,
    pub open: &'a ReaderFactory,
}

impl JobInput for ReaderInput<'_> {
    fn label(&self) -> &Path {
        &self.label
    }

    fn local_file(&self) -> Option<&Path> {
        None
    }

    fn open(&self, config: &IngestConfig) -> Result<Source, IngestError> {
        let reader = (self.open)().map_err(|source| IngestError::Io {
            path: self.label.clone(),
            source,
        })?;
        Source::from_reader(&self.label, reader, config)
    }

    fn sha256(&self) -> Result<Option<String>, IngestError> {
        Ok(None)
    }
}
