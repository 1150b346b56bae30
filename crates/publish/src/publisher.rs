//! Publishing a package directory to a [`Store`] in manifest-safe order.
//!
//! Media objects go first (while the encode runs, when fed by
//! [`crate::ingest_to_store`]), then the HLS media playlists, then the
//! entry points (`master.m3u8`, `lossless.m3u8`, `manifest.mpd`), then
//! `report.json`. Each phase starts only when every object of the one
//! before is stored, so at no moment does a published manifest reference
//! a missing object. Every object is checked first (HEAD): one whose size
//! and SHA-256 match is skipped, which makes reruns idempotent and lets a
//! rerun after a crash finish the job.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use audiopack_pipeline::{JobError, PackageFile};
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::error::PublishError;
use crate::object::{ObjectClass, classify, sha256_hex};
use crate::store::{Expected, PutObject, Store};

/// The package's report, published last with a `publish` section added.
pub const REPORT: &str = "report.json";

/// How to publish.
#[derive(Debug, Clone)]
pub struct PublishOptions {
    /// Objects in flight at once.
    pub concurrency: usize,
    /// Check and list, write nothing.
    pub dry_run: bool,
    /// `publish_package`: also publish files the report does not list
    /// (otherwise a package holding any is refused).
    pub include_extra: bool,
}

impl Default for PublishOptions {
    fn default() -> Self {
        PublishOptions {
            concurrency: 8,
            dry_run: false,
            include_extra: false,
        }
    }
}

/// What happened to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Written,
    /// Already stored with the same size and SHA-256.
    Skipped,
    /// `--dry-run`: would be written.
    WouldWrite,
    /// `--dry-run`: already stored and unchanged.
    Unchanged,
}

#[derive(Debug, Clone, Serialize)]
pub struct ObjectReport {
    /// Path relative to the destination (the object key below the prefix).
    pub path: String,
    /// Where it is stored (`s3://bucket/key` or a local path).
    pub location: String,
    pub class: ObjectClass,
    pub bytes: u64,
    pub sha256: String,
    pub action: Action,
}

/// The `publish` section of the report.
#[derive(Debug, Clone, Serialize)]
pub struct PublishReport {
    pub destination: String,
    pub dry_run: bool,
    pub objects_written: usize,
    pub objects_skipped: usize,
    pub bytes_written: u64,
    pub bytes_skipped: u64,
    /// Extra attempts made after transient failures.
    pub retries: u64,
    /// Objects handed to the uploader before `finish`: uploaded while the
    /// encode was still running (0 for `audiopack publish`).
    pub objects_during_encode: usize,
    pub duration_seconds: f64,
    /// In publish order; `report.json` itself is last and not listed.
    pub objects: Vec<ObjectReport>,
}

/// Uploads a package directory's files with bounded concurrency.
pub struct Publisher {
    store: Arc<Store>,
    dir: PathBuf,
    destination: String,
    dry_run: bool,
    permits: Arc<Semaphore>,
    tasks: JoinSet<Result<ObjectReport, PublishError>>,
    submitted: BTreeSet<String>,
    done: Vec<ObjectReport>,
    started: Instant,
    /// Submitted before `finish`.
    early: usize,
    /// Remove each media file from `dir` once it is stored.
    discard_stored_media: bool,
    /// The files to publish, with their checked sizes; `None`: every file
    /// found in `dir` (a spool this process wrote).
    files: Option<Vec<PackageFile>>,
}

impl Publisher {
    pub fn new(store: Arc<Store>, dir: &Path, options: &PublishOptions) -> Publisher {
        Publisher {
            destination: store.describe(""),
            store,
            dir: dir.to_path_buf(),
            dry_run: options.dry_run,
            permits: Arc::new(Semaphore::new(options.concurrency.max(1))),
            tasks: JoinSet::new(),
            submitted: BTreeSet::new(),
            done: Vec::new(),
            started: Instant::now(),
            early: 0,
            discard_stored_media: false,
            files: None,
        }
    }

    /// Publishes exactly these files (checked by
    /// [`audiopack_pipeline::inspect_package`]), each of its listed size,
    /// instead of whatever the directory holds.
    pub fn with_files(mut self, files: Vec<PackageFile>) -> Publisher {
        self.files = Some(files);
        self
    }

    /// For a spool that only exists to be published: each media file is
    /// deleted from the directory once it is stored, so the local disk
    /// holds only what is queued or in flight, not the whole package.
    /// Playlists, manifests and the report stay (they are read at the end).
    pub fn discarding_stored_media(mut self) -> Publisher {
        self.discard_stored_media = !self.dry_run;
        self
    }

    /// Starts uploading one media file (relative to the package directory)
    /// once a slot is free, so a fast producer waits (back-pressure).
    /// Reports the failure of an earlier upload, if any.
    pub async fn submit(&mut self, relative: String) -> Result<(), PublishError> {
        while let Some(joined) = self.tasks.try_join_next() {
            self.collect(joined)?;
        }
        if !self.submitted.insert(relative.clone()) {
            return Ok(());
        }
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| PublishError::Config("upload slots closed".into()))?;
        let store = Arc::clone(&self.store);
        let path = self.dir.join(&relative);
        let dry_run = self.dry_run;
        let discard = self.discard_stored_media;
        let size = self.files.as_ref().and_then(|files| {
            files
                .binary_search_by(|f| f.path.as_str().cmp(&relative))
                .ok()
                .map(|i| files[i].bytes)
        });
        self.tasks.spawn(async move {
            let result = publish_file(&store, &path, &relative, size, dry_run).await;
            if discard && result.as_ref().is_ok_and(|o| o.class == ObjectClass::Media) {
                // Only disk space is at stake if this fails.
                let _ = tokio::fs::remove_file(&path).await;
            }
            drop(permit);
            result
        });
        Ok(())
    }

    /// Waits for every upload in flight; the first failure wins.
    async fn drain(&mut self) -> Result<(), PublishError> {
        while let Some(joined) = self.tasks.join_next().await {
            self.collect(joined)?;
        }
        Ok(())
    }

    fn collect(
        &mut self,
        joined: Result<Result<ObjectReport, PublishError>, tokio::task::JoinError>,
    ) -> Result<(), PublishError> {
        let report =
            joined.map_err(|e| PublishError::Config(format!("upload task failed: {e}")))??;
        self.done.push(report);
        Ok(())
    }

    /// Publishes the rest of the package in order (media not yet submitted,
    /// media playlists, manifests) and then `report.json` with a `publish`
    /// section. The report is rewritten only when something else was, or
    /// when it is missing: an identical rerun writes nothing.
    pub async fn finish(mut self) -> Result<PublishReport, PublishError> {
        self.early = self.submitted.len();
        let files = match &self.files {
            Some(files) => classified(&self.dir, files.iter().map(|f| f.path.clone()))?,
            None => package_files(&self.dir)?,
        };
        for phase in [
            ObjectClass::Media,
            ObjectClass::MediaPlaylist,
            ObjectClass::Manifest,
        ] {
            for (relative, class) in &files {
                if *class == phase {
                    self.submit(relative.clone()).await?;
                }
            }
            self.drain().await?;
        }
        // Publish order (phase, then path) whatever the completion order.
        self.done
            .sort_unstable_by(|a, b| (a.class, &a.path).cmp(&(b.class, &b.path)));
        let mut report = PublishReport {
            destination: self.destination.clone(),
            dry_run: self.dry_run,
            objects_written: count(&self.done, true),
            objects_skipped: count(&self.done, false),
            bytes_written: bytes(&self.done, true),
            bytes_skipped: bytes(&self.done, false),
            retries: 0,
            objects_during_encode: self.early,
            duration_seconds: 0.0,
            objects: std::mem::take(&mut self.done),
        };
        let local_report = self.dir.join(REPORT);
        if local_report.is_file() {
            let stored = self.store.existing(REPORT).await?;
            let wanted = report.objects_written > 0 || stored.is_none();
            report.retries = self.store.retries();
            report.duration_seconds = self.started.elapsed().as_secs_f64();
            if wanted {
                let text = tokio::fs::read(&local_report)
                    .await
                    .map_err(PublishError::local(&local_report, "reading"))?;
                let bytes = report_with_publish(&text, &report).map_err(|e| {
                    PublishError::Job(JobError::NotAPackage {
                        path: self.dir.clone(),
                        reason: format!("report.json: {e}"),
                    })
                })?;
                if !self.dry_run {
                    let sha256 = sha256_hex(&bytes);
                    let (_, meta) = classify(REPORT, &bytes);
                    self.store
                        .put(PutObject {
                            relative: REPORT,
                            bytes: &bytes,
                            sha256: &sha256,
                            meta: &meta,
                            expected: Expected::from_existing(stored.as_ref()),
                        })
                        .await?;
                }
            }
        }
        if !self.dry_run {
            let kept: Vec<String> = files.into_iter().map(|(relative, _)| relative).collect();
            self.store.remove_previous(&kept).await?;
        }
        report.retries = self.store.retries();
        report.duration_seconds = self.started.elapsed().as_secs_f64();
        Ok(report)
    }
}

fn count(objects: &[ObjectReport], written: bool) -> usize {
    objects
        .iter()
        .filter(|o| matches!(o.action, Action::Written | Action::WouldWrite) == written)
        .count()
}

fn bytes(objects: &[ObjectReport], written: bool) -> u64 {
    objects
        .iter()
        .filter(|o| matches!(o.action, Action::Written | Action::WouldWrite) == written)
        .map(|o| o.bytes)
        .sum()
}

/// The package's `report.json` with the `publish` section set.
fn report_with_publish(text: &[u8], publish: &PublishReport) -> Result<Vec<u8>, serde_json::Error> {
    let mut value: serde_json::Value = serde_json::from_slice(text)?;
    if let Some(map) = value.as_object_mut() {
        map.insert("publish".into(), serde_json::to_value(publish)?);
    }
    let mut out = serde_json::to_vec_pretty(&value)?;
    out.push(b'\n');
    Ok(out)
}

/// Checks one file against the store and writes it unless unchanged.
async fn publish_file(
    store: &Store,
    path: &Path,
    relative: &str,
    size: Option<u64>,
    dry_run: bool,
) -> Result<ObjectReport, PublishError> {
    let bytes = tokio::fs::read(path)
        .await
        .map_err(PublishError::local(path, "reading"))?;
    if let Some(size) = size
        && size != bytes.len() as u64
    {
        return Err(PublishError::Job(JobError::NotAPackage {
            path: path.to_path_buf(),
            reason: format!(
                "{} bytes, {size} when the package was checked: it changed while being published",
                bytes.len()
            ),
        }));
    }
    let (class, meta) = classify(relative, &bytes);
    // Hash big files off the async workers.
    let (sha256, bytes) = tokio::task::spawn_blocking(move || (sha256_hex(&bytes), bytes))
        .await
        .map_err(|e| PublishError::Config(format!("hashing task failed: {e}")))?;
    finish_file(store, relative, bytes, sha256, class, meta, dry_run).await
}

async fn finish_file(
    store: &Store,
    relative: &str,
    bytes: Vec<u8>,
    sha256: String,
    class: ObjectClass,
    meta: crate::object::ObjectMeta,
    dry_run: bool,
) -> Result<ObjectReport, PublishError> {
    let stored = store.existing(relative).await?;
    let unchanged = stored.as_ref().is_some_and(|e| {
        e.size == bytes.len() as u64 && e.sha256.as_deref() == Some(sha256.as_str())
    });
    let action = match (unchanged, dry_run) {
        (true, false) => Action::Skipped,
        (true, true) => Action::Unchanged,
        (false, true) => Action::WouldWrite,
        (false, false) => {
            store
                .put(PutObject {
                    relative,
                    bytes: &bytes,
                    sha256: &sha256,
                    meta: &meta,
                    expected: Expected::from_existing(stored.as_ref()),
                })
                .await?;
            Action::Written
        }
    };
    Ok(ObjectReport {
        path: relative.to_string(),
        location: store.describe(relative),
        class,
        bytes: bytes.len() as u64,
        sha256,
        action,
    })
}

/// These files of `dir` with their classes, sorted by path (`.m3u8` files
/// are read to tell masters from media playlists).
fn classified(
    dir: &Path,
    relatives: impl Iterator<Item = String>,
) -> Result<Vec<(String, ObjectClass)>, PublishError> {
    let mut files = Vec::new();
    for relative in relatives {
        let head = if relative.ends_with(".m3u8") {
            let path = dir.join(&relative);
            std::fs::read(&path).map_err(PublishError::local(path, "reading"))?
        } else {
            Vec::new()
        };
        files.push((relative.clone(), classify(&relative, &head).0));
    }
    files.sort();
    Ok(files)
}

/// Every file of a package (dot-files skipped), with its class, sorted by
/// path. `report.json` is left out: it is handled last, on its own.
pub fn package_files(dir: &Path) -> Result<Vec<(String, ObjectClass)>, PublishError> {
    let mut files = Vec::new();
    let mut pending = vec![(dir.to_path_buf(), String::new())];
    while let Some((path, prefix)) = pending.pop() {
        let entries = std::fs::read_dir(&path).map_err(PublishError::local(&path, "listing"))?;
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
            } else if kind.is_file() && relative != REPORT {
                let head = if name.ends_with(".m3u8") {
                    std::fs::read(entry.path())
                        .map_err(PublishError::local(entry.path(), "reading"))?
                } else {
                    Vec::new()
                };
                files.push((relative.clone(), classify(&relative, &head).0));
            }
        }
    }
    files.sort();
    Ok(files)
}
