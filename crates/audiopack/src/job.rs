//! [`Job`]: one input to one package, run async ([`Job::run`]) or
//! blocking ([`Job::run_blocking`]).
//!
//! ```text
//!  run() ─ caller's runtime ──────────────────────────────────────────────
//!   [s3 output] open store ─► preflight (before any download or decode)
//!   [s3 input]  ranged GET of the head (limits) ─► download into a ScratchDir
//!   CPU thread: pipeline (measure ─► [limiter passes] ─► encode)
//!      dir output:   staging dir beside OUT, swapped in at the end
//!      store output: spool dir ─ file_ready ─► bounded channel ─┐
//!   Publisher (uploads on the caller's runtime) ◄──────────────┘
//!      media while encoding ─► playlists ─► manifests ─► report.json
//!  cancel: token checked per decoded block and around every upload;
//!          staging/spool removed, multipart uploads aborted, objects this
//!          job wrote deleted, then Err(Cancelled)
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use audiopack_pipeline::{
    JobConfig, JobError, JobInput, LabeledFile, OutputSink, ReaderInput, ScratchDir,
    TrackMeasurement,
};
use audiopack_publish::{
    ObjectReport, ObjectStore, PublishError, PublishOptions, Publisher, S3Options, S3Store, S3Url,
};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::builder::JobBuilder;
use crate::error::{ConfigError, Error};
use crate::event::{Event, EventHandler, EventProgress};
use crate::input::{Input, InputKind};
use crate::output::{Output, OutputKind};
use crate::report::JobReport;

/// Finished media files waiting for an upload slot. Small: when uploads
/// lag, the encoder threads wait rather than the spool growing unseen.
const READY_QUEUE: usize = 16;

/// One input to one package. Build with [`Job::builder`].
pub struct Job {
    pub(crate) input: Input,
    pub(crate) output: Output,
    pub(crate) handler: Option<EventHandler>,
    pub(crate) cancel: CancellationToken,
    pub(crate) config: JobConfig,
    pub(crate) storage: S3Options,
    pub(crate) publish: PublishOptions,
    pub(crate) spool_dir: Option<PathBuf>,
    pub(crate) measured: Option<TrackMeasurement>,
    pub(crate) preflighted: bool,
    /// Encryption options; keys from a SPEKE server are fetched by `run`.
    pub(crate) encryption: Option<crate::encryption::PreparedEncryption>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("input", &self.input)
            .field("output", &self.output)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Job {
    /// A builder with every default of the `audiopack ingest` command.
    pub fn builder() -> JobBuilder {
        JobBuilder::default()
    }

    /// Hex SHA-256 of the settings that shape the package (what
    /// `report.json` records as `settings_digest`): with the input's
    /// SHA-256 (`input.sha256`), what tells a rerun the package at the
    /// output is already this one.
    pub fn settings_digest(&self) -> String {
        self.config.settings_digest()
    }

    /// The settings digest this job would have as a track of the album
    /// whose members digest is `members` ([`crate::album_members_digest`]),
    /// before the album is measured: what tells a rerun that a whole album
    /// is done without decoding it.
    pub fn album_settings_digest(&self, members: &str) -> String {
        let mut config = self.config.clone();
        config.album = Some(config.album.unwrap_or(audiopack_pipeline::AlbumGain {
            integrated_lufs: None,
            gain_db: 0.0,
            tracks: 0,
            peak_capped: false,
        }));
        config.album_members = Some(members.to_string());
        config.settings_digest()
    }

    /// The loudness target, ceiling and limiter setting (for
    /// [`crate::album_gain`]).
    pub fn normalize(&self) -> &audiopack_encode::NormalizeConfig {
        &self.config.normalize
    }

    /// The input's label, as in messages.
    pub fn input_label(&self) -> String {
        self.input.label()
    }

    /// Pass 1 only (loudness of the delivered signal), for an album:
    /// measure every track, compute [`crate::album_gain`], then build each
    /// track's job with [`crate::JobBuilder::album`]. An `s3://` input is
    /// downloaded for this pass and again for the encode.
    pub async fn measure(&self) -> Result<TrackMeasurement, Error> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(ConfigError::new(
                "runtime",
                "none",
                "Job::measure polled outside a tokio runtime",
            )
            .into());
        }
        let token = self.cancel.child_token();
        let _guard = token.clone().drop_guard();
        let progress = Arc::new(EventProgress::new(
            self.handler.clone(),
            token.clone(),
            false,
        ));
        let spool_root = self.spool_dir.clone().unwrap_or_else(std::env::temp_dir);
        let (input, _dir) = self.local_input(&token, &progress, &spool_root).await?;
        let config = self.config.clone();
        let result = on_cpu_thread(move || {
            audiopack_pipeline::measure_track(input.as_job_input(), &config, progress.as_ref())
        })
        .await;
        match result {
            Err(_) if token.is_cancelled() => Err(Error::cancelled(&self.input.label())),
            other => other,
        }
    }

    /// The job's cancellation token (the one given to the builder, or its
    /// own): cancelling it stops the job.
    pub fn cancellation_token(&self) -> CancellationToken {
        self.cancel.clone()
    }

    /// Runs the job on the caller's tokio runtime: decoding and encoding
    /// on threads of their own, uploads as tasks of the runtime (a
    /// current-thread runtime works; nothing blocks it). Dropping the
    /// future cancels the job.
    ///
    /// Outside a tokio runtime this returns an [`ErrorKind::Config`]
    /// error (use [`Job::run_blocking`]).
    ///
    /// [`ErrorKind::Config`]: crate::ErrorKind::Config
    pub async fn run(mut self) -> Result<JobReport, Error> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(ConfigError::new(
                "runtime",
                "none",
                "Job::run polled outside a tokio runtime: use Job::run_blocking",
            )
            .into());
        }
        // Dropping this future (a caller's timeout, a closed connection)
        // cancels the work it started.
        let token = self.cancel.child_token();
        let _guard = token.clone().drop_guard();
        let started = Instant::now();
        let progress = Arc::new(EventProgress::new(
            self.handler.clone(),
            token.clone(),
            self.config.normalize.limiter,
        ));
        if let Some(encryption) = self
            .encryption
            .as_ref()
            .filter(|_| self.config.protection.is_none())
        {
            // A key server is asked before anything is written.
            let protection = cancellable(&token, &self.input.label(), encryption.resolve()).await?;
            self.config.protection = Some(protection);
        }
        let measured = self.measured.take();
        let outcome = self.execute(&token, &progress, measured).await;
        let report = match outcome {
            Ok(report) => report,
            // However it surfaced (a dropped channel, a stopped upload), a
            // cancelled job is reported as such.
            Err(_) if token.is_cancelled() => return Err(Error::cancelled(&self.input.label())),
            Err(e) => return Err(e),
        };
        let peak_warnings = report
            .ingest
            .loudness
            .peak_control
            .iter()
            .flat_map(|p| p.warnings.iter())
            .chain(report.ingest.loudness.decoded_warnings.iter());
        for message in report.ingest.input.warnings.iter().chain(peak_warnings) {
            progress.emit(&Event::Warning {
                message: message.clone(),
            });
        }
        for rendition in &report.ingest.renditions {
            progress.emit(&Event::RenditionFinished {
                name: rendition.name.clone(),
                codec: rendition.codec,
                bitrate_bps: rendition.bitrate_measured_bps,
            });
        }
        if let Some(package) = &report.ingest.package {
            for r in package.renditions.iter().filter(|r| r.codecs == "flac") {
                progress.emit(&Event::RenditionFinished {
                    name: r.name.clone(),
                    codec: audiopack_pipeline::Codec::Flac,
                    bitrate_bps: r.average_bandwidth_bps,
                });
            }
        }
        progress.emit(&Event::Done {
            output: self.output.label(),
            seconds: started.elapsed().as_secs_f64(),
        });
        Ok(report)
    }

    /// Runs the job to its end on the calling thread (its own runtime for
    /// the uploads). Inside a tokio runtime this returns an
    /// [`ErrorKind::Config`](crate::ErrorKind::Config) error instead of
    /// blocking it (await [`Job::run`] there).
    pub fn run_blocking(self) -> Result<JobReport, Error> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(ConfigError::new(
                "runtime",
                "tokio",
                "Job::run_blocking called inside an async runtime: await Job::run instead",
            )
            .into());
        }
        let runtime = io_runtime()?;
        runtime.block_on(self.run())
    }

    async fn execute(
        &self,
        token: &CancellationToken,
        progress: &Arc<EventProgress>,
        measured: Option<TrackMeasurement>,
    ) -> Result<JobReport, Error> {
        let store = self.open_store().await?;
        if let Some(store) = store.as_ref().filter(|_| !self.preflighted) {
            // Check the destination before a long download or encode.
            cancellable(token, &self.output.label(), store.preflight(true)).await?;
        }
        let spool_root = self.spool_dir.clone().unwrap_or_else(std::env::temp_dir);
        // An `s3://` input is downloaded first (kept until the job ends).
        let (input, _input_dir) = self.local_input(token, progress, &spool_root).await?;
        match (&self.output.kind, store) {
            (OutputKind::Dir(dir), _) => {
                let dir = dir.clone();
                let config = self.config.clone();
                let progress = Arc::clone(progress);
                let report = on_cpu_thread(move || match measured {
                    Some(measured) => audiopack_pipeline::run_ingest_premeasured(
                        input.as_job_input(),
                        measured,
                        &dir,
                        &config,
                        progress.as_ref(),
                    ),
                    None => audiopack_pipeline::run_ingest(
                        input.as_job_input(),
                        &dir,
                        &config,
                        progress.as_ref(),
                    ),
                })
                .await?;
                Ok(JobReport {
                    ingest: report,
                    publish: None,
                })
            }
            (_, Some(store)) => {
                self.to_store(store, input, measured, &spool_root, token, progress)
                    .await
            }
            (_, None) => Err(Error::internal("no store for a store output")),
        }
    }

    /// The input as the job thread reads it; an `s3://` object is
    /// downloaded into a scratch directory, returned so the caller keeps it
    /// as long as the input is read.
    async fn local_input(
        &self,
        token: &CancellationToken,
        progress: &Arc<EventProgress>,
        spool_root: &Path,
    ) -> Result<(Arc<dyn JobInputOwned>, Option<ScratchDir>), Error> {
        let mut input_dir = None;
        let input: Arc<dyn JobInputOwned> = match &self.input.kind {
            InputKind::Path(path) => Arc::new(path.clone()),
            InputKind::Reader { label, open } => Arc::new(OwnedReader {
                label: PathBuf::from(label),
                open: Arc::clone(open),
            }),
            InputKind::S3(url) => {
                progress.emit(&Event::Fetching { input: url.clone() });
                let dir = ScratchDir::new(spool_root, "audiopack-input-").map_err(|e| {
                    Error::from(PublishError::Local {
                        path: spool_root.to_path_buf(),
                        action: "creating a temporary directory",
                        source: e,
                    })
                })?;
                let local = cancellable(
                    token,
                    url,
                    audiopack_publish::fetch_input_checked(
                        url,
                        &self.storage,
                        dir.path(),
                        &self.config.ingest,
                    ),
                )
                .await?;
                input_dir = Some(dir);
                Arc::new(LabeledFile {
                    path: local,
                    label: PathBuf::from(url),
                })
            }
        };
        Ok((input, input_dir))
    }

    async fn open_store(&self) -> Result<Option<Arc<dyn ObjectStore>>, Error> {
        Ok(match &self.output.kind {
            OutputKind::Dir(_) => None,
            OutputKind::Store(store) => Some(Arc::clone(store)),
            OutputKind::S3(url) => {
                let url = S3Url::parse_prefix(url)?;
                Some(Arc::new(S3Store::connect(url, self.storage.clone()).await?))
            }
        })
    }

    /// Encodes into a spool while a publisher uploads each media file as
    /// soon as it is complete, then the playlists, manifests and report.
    async fn to_store(
        &self,
        store: Arc<dyn ObjectStore>,
        input: Arc<dyn JobInputOwned>,
        measured: Option<TrackMeasurement>,
        spool_root: &Path,
        token: &CancellationToken,
        progress: &Arc<EventProgress>,
    ) -> Result<JobReport, Error> {
        let spool = ScratchDir::new(spool_root, "audiopack-spool-").map_err(|e| {
            Error::from(PublishError::Local {
                path: spool_root.to_path_buf(),
                action: "creating a spool directory",
                source: e,
            })
        })?;
        let mut options = self.publish.clone();
        options.cancel = Some(token.clone());
        let stored = Arc::clone(progress);
        let mut publisher = Publisher::new(Arc::clone(&store), spool.path(), &options)
            .discarding_stored_media()
            .on_stored(Arc::new(move |o: &ObjectReport| {
                stored.emit(&Event::ObjectStored {
                    key: o.path.clone(),
                    location: o.location.clone(),
                    bytes: o.bytes,
                    written: matches!(o.action, audiopack_publish::Action::Written),
                });
            }));
        let (tx, mut rx) = mpsc::channel::<String>(READY_QUEUE);
        let sink = ChannelSink { tx };
        let dir = spool.path().to_path_buf();
        let config = self.config.clone();
        let cpu_progress = Arc::clone(progress);
        let encode = on_cpu_thread(move || {
            let sink = sink;
            match measured {
                Some(measured) => audiopack_pipeline::run_ingest_into_premeasured(
                    input.as_job_input(),
                    measured,
                    &dir,
                    &config,
                    cpu_progress.as_ref(),
                    &sink,
                ),
                None => audiopack_pipeline::run_ingest_into(
                    input.as_job_input(),
                    &dir,
                    &config,
                    cpu_progress.as_ref(),
                    &sink,
                ),
            }
        });
        tokio::pin!(encode);
        // Upload what the encoder finishes while it runs; the first error
        // of either side stops both.
        let mut upload_error = None;
        let encoded = loop {
            tokio::select! {
                ready = rx.recv(), if upload_error.is_none() => match ready {
                    Some(relative) => {
                        if let Err(e) = publisher.submit(relative).await {
                            upload_error = Some(e);
                            rx.close();
                        }
                    }
                    None => {
                        // The encoder is done (its sink dropped): wait for it.
                        break (&mut encode).await;
                    }
                },
                result = &mut encode => break result,
                () = token.cancelled(), if upload_error.is_none() => {
                    rx.close();
                    upload_error = Some(PublishError::Cancelled { target: self.input.label() });
                }
            }
        };
        drop(rx);
        let failure = match (encoded, upload_error) {
            (Ok(report), None) => match publisher.finish().await {
                Ok(published) => {
                    return Ok(JobReport {
                        ingest: report,
                        publish: Some(published),
                    });
                }
                Err(e) => Error::from(e),
            },
            // An upload failed and stopped the encode: its error is the cause.
            (_, Some(e)) => Error::from(e),
            (Err(e), None) => e,
        };
        let written = publisher.abort().await;
        if token.is_cancelled() {
            // Nothing of a cancelled job stays: what it wrote goes (what
            // was already there, identical, is left as it was).
            for relative in written.iter().rev() {
                let _ = store.delete(relative).await;
            }
        }
        drop(spool);
        Err(failure)
    }
}

/// The runtime of the blocking entry points: two threads for uploads.
pub(crate) fn io_runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("audiopack-io")
        .enable_all()
        .build()
        .map_err(|e| {
            Error::from(PublishError::Local {
                path: ".".into(),
                action: "starting the I/O runtime",
                source: e,
            })
        })
}

/// Runs CPU work on a thread of its own and awaits it without blocking the
/// runtime. A panic there is an internal error.
async fn on_cpu_thread<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, JobError> + Send + 'static,
) -> Result<T, Error> {
    let (tx, rx) = oneshot::channel();
    std::thread::Builder::new()
        .name("audiopack-job".into())
        .spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
            let _ = tx.send(result);
        })
        .map_err(|e| Error::internal(format!("starting the job thread: {e}")))?;
    match rx.await {
        Ok(Ok(result)) => result.map_err(Error::from),
        Ok(Err(panic)) => Err(Error::internal(
            panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into()),
        )),
        Err(_) => Err(Error::internal("the job thread ended without a result")),
    }
}

/// `work`, unless the token is cancelled first (the work is dropped).
async fn cancellable<T, E: Into<Error>>(
    token: &CancellationToken,
    what: &str,
    work: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, Error> {
    tokio::select! {
        result = work => result.map_err(Into::into),
        () = token.cancelled() => Err(Error::cancelled(what)),
    }
}

struct ChannelSink {
    tx: mpsc::Sender<String>,
}

impl OutputSink for ChannelSink {
    fn file_ready(&self, relative: &str) -> Result<(), String> {
        self.tx
            .blocking_send(relative.to_string())
            .map_err(|_| "the upload stopped".to_string())
    }
}

/// A [`JobInput`] the job thread can own.
trait JobInputOwned: Send + Sync {
    fn as_job_input(&self) -> &dyn JobInput;
}

impl JobInputOwned for PathBuf {
    fn as_job_input(&self) -> &dyn JobInput {
        self
    }
}

impl JobInputOwned for LabeledFile {
    fn as_job_input(&self) -> &dyn JobInput {
        self
    }
}

struct OwnedReader {
    label: PathBuf,
    open: Arc<audiopack_pipeline::ReaderFactory>,
}

impl JobInput for OwnedReader {
    fn label(&self) -> &Path {
        &self.label
    }

    fn local_file(&self) -> Option<&Path> {
        None
    }

    fn open(
        &self,
        config: &audiopack_ingest::IngestConfig,
    ) -> Result<audiopack_ingest::Source, audiopack_ingest::IngestError> {
        self.reader().open(config)
    }

    fn sha256(&self) -> Result<Option<String>, audiopack_ingest::IngestError> {
        self.reader().sha256()
    }
}

impl OwnedReader {
    fn reader(&self) -> ReaderInput<'_> {
        ReaderInput {
            label: self.label.clone(),
            open: self.open.as_ref(),
        }
    }
}

impl JobInputOwned for OwnedReader {
    fn as_job_input(&self) -> &dyn JobInput {
        self
    }
}

#[allow(dead_code)]
fn _assert_send(job: Job) -> impl Send {
    // `run()` must be a Send future (spawnable on a multi-thread runtime).
    job.run()
}
