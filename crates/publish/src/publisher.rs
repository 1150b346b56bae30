//! Publishing a package directory to an [`ObjectStore`] in manifest-safe
//! order.
//!
//! Media objects go first (while the encode runs, when a caller feeds
//! [`Publisher::submit`] as files are ready), then the HLS media
//! playlists, then the entry points (`master.m3u8`, `lossless.m3u8`,
//! `manifest.mpd`), then `report.json`. Each phase starts only when every
//! object of the one before is stored, so at no moment does a published
//! manifest reference a missing object. Every object is checked first
//! (HEAD): one whose size and SHA-256 match is skipped, which makes reruns
//! idempotent and lets a rerun after a crash finish the job.
//!
//! Stopping: on a failure, a cancellation ([`PublishOptions::cancel`]),
//! [`Publisher::abort`] or a drop, no upload is started any more and those
//! in flight are told to stop (the store aborts a multipart upload); every
//! way but a drop waits for them, so [`Publisher::written`] is then exactly
//! what this publisher wrote.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use audiopack_pipeline::{JobError, PackageFile};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::error::PublishError;
use crate::object::{ObjectClass, ObjectPolicy, sha256_hex};
use crate::object_store::{Body, Expected, ObjectStore, PutObject};
use crate::object_upload::{Attempt, FileUpload};
use crate::package::{check_apart, classified, files_to_publish, package_files};
use crate::publish_report::{Action, ObjectReport, PublishReport, report_with_publish};

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
    /// The headers objects are written with.
    pub policy: ObjectPolicy,
    /// When it fires, publishing stops: no upload starts any more, those in
    /// flight stop (a multipart upload is aborted, and the abort awaited),
    /// and the call returns [`PublishError::Cancelled`].
    pub cancel: Option<CancellationToken>,
}

impl Default for PublishOptions {
    fn default() -> Self {
        PublishOptions {
            concurrency: 8,
            dry_run: false,
            include_extra: false,
            policy: ObjectPolicy::default(),
            cancel: None,
        }
    }
}

/// Called with each object's report as soon as it is stored or skipped.
type OnStored = Arc<dyn Fn(&ObjectReport) + Send + Sync>;

/// Uploads a package directory's files with bounded concurrency.
pub struct Publisher {
    store: Arc<dyn ObjectStore>,
    policy: Arc<ObjectPolicy>,
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
    on_stored: Option<OnStored>,
    /// The caller's token ([`PublishOptions::cancel`]).
    requested: Option<CancellationToken>,
    /// A child of `requested`, also fired on a failure, `abort` or a drop:
    /// what every upload listens to.
    cancel: CancellationToken,
    /// Set once a failure stopped the publisher.
    stopped: Option<String>,
    /// Every write started ([`crate::object_upload::Attempt`]).
    attempts: Arc<Mutex<Vec<Attempt>>>,
    /// Writes cancelled in flight that landed all the same (found by
    /// [`abort`](Self::abort)).
    landed: Vec<String>,
    report_written: bool,
}

impl Publisher {
    pub fn new(store: Arc<dyn ObjectStore>, dir: &Path, options: &PublishOptions) -> Publisher {
        let cancel = options
            .cancel
            .as_ref()
            .map_or_else(CancellationToken::new, CancellationToken::child_token);
        Publisher {
            destination: store.describe(""),
            store,
            policy: Arc::new(options.policy.clone()),
            dir: dir.to_path_buf(),
            dry_run: options.dry_run,
            permits: Arc::new(Semaphore::new(options.concurrency.max(1))),
            tasks: JoinSet::new(),
            submitted: BTreeSet::new(),
            done: Vec::new(),
            started: Instant::now(),
            early: 0,
            attempts: Arc::new(Mutex::new(Vec::new())),
            landed: Vec::new(),
            discard_stored_media: false,
            files: None,
            on_stored: None,
            requested: options.cancel.clone(),
            cancel,
            stopped: None,
            report_written: false,
        }
    }

    /// A publisher of the package at `dir`, checked as
    /// [`publish_package`] checks it, with the destination preflighted
    /// (read-only for a dry run): call [`finish`](Self::finish).
    pub async fn for_package(
        dir: &Path,
        store: Arc<dyn ObjectStore>,
        options: &PublishOptions,
    ) -> Result<Publisher, PublishError> {
        let checked = dir.to_path_buf();
        let include_extra = options.include_extra;
        let files = tokio::task::spawn_blocking(move || files_to_publish(&checked, include_extra))
            .await
            .map_err(PublishError::task("checking the package"))??;
        if let Some(root) = store.local_root() {
            check_apart(dir, root)?;
        }
        let preflight = store.preflight(!options.dry_run);
        match &options.cancel {
            Some(cancel) => tokio::select! {
                biased;
                () = cancel.cancelled() => {
                    return Err(PublishError::Cancelled {
                        target: store.describe(""),
                    });
                }
                checked = preflight => checked?,
            },
            None => preflight.await?,
        }
        Ok(Publisher::new(store, dir, options).with_files(files))
    }

    /// Publishes exactly these files (checked by
    /// [`audiopack_pipeline::inspect_package`]), each of its listed size,
    /// instead of whatever the directory holds.
    pub fn with_files(mut self, mut files: Vec<PackageFile>) -> Publisher {
        files.sort();
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

    /// Calls `f` once per object as soon as it is written or skipped (in a
    /// dry run: found to need writing or not), `report.json` last, once it
    /// is put. Called from the upload tasks: keep it short.
    pub fn on_stored(mut self, f: Arc<dyn Fn(&ObjectReport) + Send + Sync>) -> Publisher {
        self.on_stored = Some(f);
        self
    }

    /// The relative paths this publisher wrote (action `Written`; not what
    /// it skipped, so nothing that was there before), `report.json`
    /// included once put. Complete once [`finish`](Self::finish) returned
    /// (success or failure) or a [`submit`](Self::submit) failed: a
    /// cancelled job deletes exactly these.
    pub fn written(&self) -> Vec<String> {
        let mut written: Vec<String> = self
            .done
            .iter()
            .filter(|o| o.action == Action::Written)
            .map(|o| o.path.clone())
            .collect();
        written.extend(self.landed.iter().cloned());
        if self.report_written {
            written.push(REPORT.to_string());
        }
        written
    }

    /// Stops: no upload starts any more, those in flight are cancelled
    /// (multipart uploads aborted) and awaited. Returns what was written.
    ///
    /// A write cancelled in flight may have landed all the same (the
    /// server applied it as the connection closed): every write started
    /// and not confirmed is looked up, and counted as written when the
    /// store holds exactly its bytes.
    pub async fn abort(mut self) -> Vec<String> {
        self.cancel.cancel();
        while let Some(joined) = self.tasks.join_next().await {
            let _ = self.collect(joined);
        }
        let attempts = self.attempts.lock().map(|a| a.clone()).unwrap_or_default();
        let confirmed = self.written();
        for attempt in attempts {
            if confirmed.contains(&attempt.relative) || self.landed.contains(&attempt.relative) {
                continue;
            }
            if let Ok(Some(found)) = self.store.head(&attempt.relative).await
                && found.size == attempt.len
                && found.sha256.as_deref() == Some(attempt.sha256.as_str())
            {
                self.landed.push(attempt.relative);
            }
        }
        self.written()
    }

    /// Starts uploading one media file (relative to the package directory)
    /// once a slot is free, so a fast producer waits (back-pressure).
    /// Reports the failure of an earlier upload, if any; after a failure,
    /// every upload in flight has been stopped and awaited.
    pub async fn submit(&mut self, relative: String) -> Result<(), PublishError> {
        if let Some(first) = &self.stopped {
            return Err(PublishError::Internal(format!(
                "the publisher stopped after a failure ({first}): nothing more can be submitted"
            )));
        }
        while let Some(joined) = self.tasks.try_join_next() {
            if let Err(e) = self.collect(joined) {
                return Err(self.stop(e).await);
            }
        }
        if let Err(e) = self.check_cancelled() {
            return Err(self.stop(e).await);
        }
        if !self.submitted.insert(relative.clone()) {
            // Announced again: the encode was repeated (a lower gain after
            // a rendition decoded over the true-peak ceiling) and wrote the
            // file anew. Its new bytes replace the stored object once every
            // upload in flight (perhaps the old version's) is done.
            self.drain().await?;
            self.done.retain(|r| r.path != relative);
        }
        let cancel = self.cancel.clone();
        let permit = tokio::select! {
            biased;
            () = cancel.cancelled() => None,
            permit = Arc::clone(&self.permits).acquire_owned() => Some(permit),
        };
        let permit = match permit {
            None => return Err(self.stop(self.cancelled_error()).await),
            Some(Err(_)) => {
                let e = PublishError::Internal("upload slots closed".into());
                return Err(self.stop(e).await);
            }
            Some(Ok(permit)) => permit,
        };
        let store = Arc::clone(&self.store);
        let policy = Arc::clone(&self.policy);
        let on_stored = self.on_stored.clone();
        let attempts = Arc::clone(&self.attempts);
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
            let upload = FileUpload {
                store: store.as_ref(),
                policy: &policy,
                dry_run,
                cancel: &cancel,
                attempts: &attempts,
            };
            let result = upload.run(&path, &relative, size).await;
            if let Ok(report) = &result {
                if discard && report.class == ObjectClass::Media {
                    // Only disk space is at stake if this fails.
                    let _ = tokio::fs::remove_file(&path).await;
                }
                if let Some(f) = &on_stored {
                    f(report);
                }
            }
            drop(permit);
            result
        });
        Ok(())
    }

    /// Waits for every upload in flight; the first failure stops the rest.
    async fn drain(&mut self) -> Result<(), PublishError> {
        while let Some(joined) = self.tasks.join_next().await {
            if let Err(e) = self.collect(joined) {
                return Err(self.stop(e).await);
            }
        }
        Ok(())
    }

    fn collect(
        &mut self,
        joined: Result<Result<ObjectReport, PublishError>, tokio::task::JoinError>,
    ) -> Result<(), PublishError> {
        let report = joined.map_err(PublishError::task("upload task"))??;
        self.done.push(report);
        Ok(())
    }

    /// After `first` failed: stops every upload and waits for them (what
    /// they wrote is kept for [`written`](Self::written)). A cancellation
    /// the caller asked for is reported as such, whatever failed first.
    async fn stop(&mut self, first: PublishError) -> PublishError {
        self.cancel.cancel();
        while let Some(joined) = self.tasks.join_next().await {
            let _ = self.collect(joined);
        }
        let requested = self
            .requested
            .as_ref()
            .is_some_and(CancellationToken::is_cancelled);
        let error = if requested || matches!(first, PublishError::Cancelled { .. }) {
            self.cancelled_error()
        } else {
            first
        };
        self.stopped = Some(error.to_string());
        error
    }

    fn cancelled_error(&self) -> PublishError {
        PublishError::Cancelled {
            target: self.destination.clone(),
        }
    }

    fn check_cancelled(&self) -> Result<(), PublishError> {
        if self.cancel.is_cancelled() {
            return Err(self.cancelled_error());
        }
        Ok(())
    }

    /// Publishes the rest of the package in order (media not yet submitted,
    /// media playlists, manifests) and then `report.json` with a `publish`
    /// section. The report is rewritten only when something else was, or
    /// when it is missing: an identical rerun writes nothing.
    ///
    /// On failure or cancellation every upload in flight has been stopped
    /// and awaited when this returns; [`written`](Self::written) lists what
    /// was written.
    pub async fn finish(&mut self) -> Result<PublishReport, PublishError> {
        match self.finish_in_order().await {
            Ok(report) => Ok(report),
            Err(e) if self.stopped.is_some() => Err(e),
            Err(e) => Err(self.stop(e).await),
        }
    }

    async fn finish_in_order(&mut self) -> Result<PublishReport, PublishError> {
        if let Some(first) = &self.stopped {
            return Err(PublishError::Internal(format!(
                "the publisher stopped after a failure ({first})"
            )));
        }
        self.early = self.submitted.len();
        let files = match &self.files {
            Some(files) => classified(
                &self.dir,
                files.iter().map(|f| f.path.clone()),
                &self.policy,
            )?,
            None => package_files(&self.dir)?,
        };
        for phase in [
            ObjectClass::Media,
            ObjectClass::MediaPlaylist,
            ObjectClass::Manifest,
        ] {
            for (relative, class) in &files {
                // Streamed already (submitting again means "rewritten").
                if *class == phase && !self.submitted.contains(relative) {
                    self.submit(relative.clone()).await?;
                }
            }
            self.drain().await?;
        }
        self.check_cancelled()?;
        let mut report = PublishReport::new(
            self.destination.clone(),
            self.dry_run,
            self.early,
            self.done.clone(),
        );
        self.publish_report(&mut report).await?;
        if !self.dry_run {
            self.check_cancelled()?;
            let kept: Vec<String> = files.into_iter().map(|(relative, _)| relative).collect();
            self.store.remove_previous(&kept).await?;
        }
        report.retries = self.store.retries();
        report.duration_seconds = self.started.elapsed().as_secs_f64();
        Ok(report)
    }

    /// `report.json` with `report` as its `publish` section, when the
    /// package has one and something changed (or it is missing).
    async fn publish_report(&mut self, report: &mut PublishReport) -> Result<(), PublishError> {
        let local_report = self.dir.join(REPORT);
        if !local_report.is_file() {
            return Ok(());
        }
        let cancel = self.cancel.clone();
        let stored = tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(self.cancelled_error()),
            stored = self.store.head(REPORT) => stored?,
        };
        report.retries = self.store.retries();
        report.duration_seconds = self.started.elapsed().as_secs_f64();
        let wanted = report.objects_written > 0 || stored.is_none();
        let (bytes, sha256, action) = if wanted {
            let text = tokio::fs::read(&local_report)
                .await
                .map_err(PublishError::local(&local_report, "reading"))?;
            let bytes = report_with_publish(&text, report).map_err(|e| {
                PublishError::Job(JobError::NotAPackage {
                    path: self.dir.clone(),
                    reason: format!("report.json: {e}"),
                })
            })?;
            let sha256 = sha256_hex(&bytes);
            let len = bytes.len() as u64;
            if !self.dry_run {
                let (_, meta) = self.policy.classify(REPORT, &bytes);
                self.store
                    .put(PutObject {
                        relative: REPORT,
                        body: &Body::from(bytes),
                        sha256: &sha256,
                        meta: &meta,
                        expected: Expected::from_existing(stored.as_ref()),
                        cancel: Some(&cancel),
                    })
                    .await?;
                self.report_written = true;
            }
            let action = if self.dry_run {
                Action::WouldWrite
            } else {
                Action::Written
            };
            (len, sha256, action)
        } else {
            let (size, sha256) = stored.map_or((0, None), |e| (e.size, e.sha256));
            let action = if self.dry_run {
                Action::Unchanged
            } else {
                Action::Skipped
            };
            (size, sha256.unwrap_or_default(), action)
        };
        if let Some(f) = &self.on_stored {
            f(&ObjectReport {
                path: REPORT.to_string(),
                location: self.store.describe(REPORT),
                class: ObjectClass::Report,
                bytes,
                sha256,
                action,
            });
        }
        Ok(())
    }
}

impl Drop for Publisher {
    /// Uploads still in flight are told to stop and left to finish on
    /// their own (a multipart upload aborts itself), not killed mid-request.
    fn drop(&mut self) {
        self.cancel.cancel();
        self.tasks.detach_all();
    }
}

/// Publishes an already packaged directory (`audiopack publish`).
///
/// The package is checked first, before the destination is even looked
/// at ([`audiopack_pipeline::inspect_package`]): an audiopack report of a
/// known format that lists every file present with its size, no link or
/// special file anywhere, and nothing unlisted unless
/// [`PublishOptions::include_extra`]. Only the files it lists are
/// published. A local destination ([`ObjectStore::local_root`]) must be
/// absent, empty or an earlier package, and apart from the package.
/// [`Publisher::for_package`] does the same and leaves the publishing (and
/// its events, and what was written) to the caller.
pub async fn publish_package(
    dir: &Path,
    store: Arc<dyn ObjectStore>,
    options: &PublishOptions,
) -> Result<PublishReport, PublishError> {
    Publisher::for_package(dir, store, options)
        .await?
        .finish()
        .await
}
