//! Runs a catalog: every row's job checked first, the destination's
//! preflight once, then the tracks (at most `jobs` at once, every job
//! drawing from one [`CpuBudget`] of `jobs` slots), then the reports.
//!
//! ```text
//!  plan: template(row settings) + input + OUT/<id> + budget ─► Job (ConfigError ─► catalog line)
//!  preflight(OUT) ────────────── fails ─► BatchError (storage exit code), nothing started
//!  for each row, in order:  stop? (signal, --max-failures) ─► not-run
//!     wait for a track slot ─► task: skip::check ─► skipped
//!                                    └─► job.run().await ─► done | failed
//!  batch-report.json (+ JUnit) ─► BatchReport
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use audiopack::{CancellationToken, ConfigError, CpuBudget, Input, Job, JobBuilder, S3Options};
use serde::Serialize;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::catalog::{
    BATCH_INDEX, BATCH_REPORT, Catalog, CatalogError, CatalogTrack, TrackSettings,
};
use crate::destination::{Destination, S3Side};
use crate::error::{BatchError, ExitClass, error_message};
use crate::report::{
    BATCH_REPORT_VERSION, BatchReport, EXIT_TRACKS_FAILED, TrackEntry, TrackLoudness, TrackStatus,
    totals,
};
use crate::skip::{self, Decision};

/// Makes a track's job from the command's options and the row's own
/// settings (the caller decides precedence); the batch adds the input,
/// the output, the CPU budget and the cancellation.
pub type JobTemplate =
    Arc<dyn Fn(&TrackSettings) -> Result<JobBuilder, ConfigError> + Send + Sync + 'static>;

/// Called with every [`BatchEvent`], from the batch's tasks: keep it short.
pub type BatchEventHandler = Arc<dyn Fn(&BatchEvent) + Send + Sync + 'static>;

/// How to run a batch.
#[derive(Clone)]
pub struct BatchOptions {
    /// A directory or `s3://bucket/prefix/`: each package at `<id>/`.
    pub output: String,
    /// CPU threads the whole batch computes on, and tracks at once.
    pub jobs: usize,
    /// Stop starting tracks after this many failures.
    pub max_failures: Option<usize>,
    /// S3 settings for `s3://` inputs, the output, and `--from`.
    pub storage: S3Options,
    /// Also write the results as JUnit XML here.
    pub junit: Option<std::path::PathBuf>,
    /// Cancelling it stops starting tracks and cancels the running ones;
    /// the report is still written.
    pub cancel: CancellationToken,
    /// Called with every [`BatchEvent`].
    pub on_event: Option<BatchEventHandler>,
    /// The signal that cancelled the batch, if any (for the exit codes).
    pub stop_signal: Option<Arc<dyn Fn() -> Option<i32> + Send + Sync + 'static>>,
    /// One gain per album (rows grouped by `album`): every album track is
    /// measured first, then encoded with the album's gain.
    pub album_gain: bool,
}

impl BatchOptions {
    /// Defaults: `jobs` = the machine's cores, no failure limit.
    pub fn new(output: impl Into<String>) -> BatchOptions {
        BatchOptions {
            output: output.into(),
            jobs: std::thread::available_parallelism().map_or(1, usize::from),
            max_failures: None,
            storage: S3Options::default(),
            junit: None,
            cancel: CancellationToken::new(),
            on_event: None,
            stop_signal: None,
            album_gain: false,
        }
    }
}

/// What a batch reports as it goes (one JSON object per line with
/// `--json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum BatchEvent {
    /// The catalog is valid and the destination answered.
    BatchStarted {
        /// Rows in the catalog (an album: its tracks measured).
        tracks: usize,
        /// CPU threads and tracks at once.
        jobs: usize,
        /// The output directory or prefix.
        output: String,
    },
    /// A track's job starts (after its skip check said to encode it).
    TrackStarted {
        /// The row's position in the catalog, from 1.
        index: usize,
        /// Rows in the catalog.
        total: usize,
        /// The track's id.
        id: String,
        /// Its input.
        input: String,
        /// Why it is encoded (`no package yet`, `settings changed`, `input changed`, …).
        reason: String,
    },
    /// An album's tracks are measured: the gain every one of them gets.
    AlbumMeasured {
        /// The album.
        album: String,
        /// Rows in the catalog (an album: its tracks measured).
        tracks: usize,
        /// The album's integrated loudness, all its tracks' gating blocks together.
        integrated_lufs: Option<f64>,
        /// The gain, dB.
        gain_db: f64,
        /// The gain was lowered so no track's true peak passes the ceiling.
        peak_capped: bool,
    },
    /// A track was already done.
    TrackSkipped {
        /// The row's position in the catalog, from 1.
        index: usize,
        /// Rows in the catalog.
        total: usize,
        /// The track's id.
        id: String,
        /// Seconds of audio.
        audio_seconds: Option<f64>,
    },
    /// A track's package is complete.
    TrackFinished {
        /// The row's position in the catalog, from 1.
        index: usize,
        /// Rows in the catalog.
        total: usize,
        /// The track's id.
        id: String,
        /// Seconds of audio.
        audio_seconds: Option<f64>,
        /// Wall-clock seconds it took.
        wall_seconds: f64,
        /// Audio seconds per wall-clock second.
        realtime: Option<f64>,
        /// Integrated loudness of the source, LUFS.
        input_integrated_lufs: Option<f64>,
        /// Integrated loudness delivered, LUFS.
        output_integrated_lufs: Option<f64>,
        /// The gain, dB.
        gain_db: Option<f64>,
    },
    /// A track failed; nothing of it is left at its output.
    TrackFailed {
        /// The row's position in the catalog, from 1.
        index: usize,
        /// Rows in the catalog.
        total: usize,
        /// The track's id.
        id: String,
        /// The error's class (`bad-input`, `io`, …).
        class: String,
        /// The exit code `audiopack ingest` gives it.
        exit_code: u8,
        /// The error as `audiopack ingest` prints it.
        message: String,
    },
    /// Every track is accounted for; the report is written.
    BatchFinished {
        /// Where the batch report was written.
        report: String,
        /// The exit code `audiopack ingest` gives it.
        exit_code: u8,
        /// The batch's totals.
        totals: crate::report::Totals,
    },
}

/// Shared by the batch's tasks.
pub(crate) struct Context {
    pub destination: Destination,
    pub s3: S3Side,
    pub options: BatchOptions,
    pub total: usize,
    pub failures: AtomicUsize,
}

impl Context {
    pub(crate) fn emit(&self, event: BatchEvent) {
        if let Some(handler) = &self.options.on_event {
            handler(&event);
        }
    }

    pub(crate) fn signal(&self) -> Option<i32> {
        self.options.stop_signal.as_ref().and_then(|f| f())
    }

    fn limit_reached(&self) -> bool {
        self.options
            .max_failures
            .is_some_and(|n| self.failures.load(Ordering::SeqCst) >= n)
    }
}

/// A row with its job, ready to run (or already failed, in the album
/// pass).
pub(crate) struct Planned {
    pub index: usize,
    pub track: CatalogTrack,
    pub job: Job,
    pub entry: TrackEntry,
    pub failed: Option<TrackEntry>,
}

/// Runs `catalog`: see the module documentation. Invalid rows, invalid
/// options and a failed preflight are errors before any track starts;
/// failing tracks are in the report.
pub async fn run_batch(
    catalog: Catalog,
    template: JobTemplate,
    options: BatchOptions,
) -> Result<BatchReport, BatchError> {
    let started = Instant::now();
    let cpu_start = crate::cpu::process_cpu_seconds();
    let jobs = options.jobs.max(1);
    let uses_s3 = options.output.starts_with("s3://")
        || catalog.tracks.iter().any(|t| t.input.starts_with("s3://"));
    let s3 = S3Side {
        client: if uses_s3 {
            Some(crate::s3::client(&options.storage).await?)
        } else {
            None
        },
        options: options.storage.clone(),
    };
    let destination = Destination::open(&options.output, &s3)?;
    let budget = CpuBudget::new(jobs);
    let mut planned = plan(&catalog, &template, &destination, &s3, &budget, &options)?;
    destination.preflight().await?;

    let context = Arc::new(Context {
        destination,
        s3,
        total: planned.len(),
        options,
        failures: AtomicUsize::new(0),
    });
    context.emit(BatchEvent::BatchStarted {
        tracks: context.total,
        jobs,
        output: context.destination.label(),
    });
    if context.options.album_gain {
        crate::album::measure_albums(&context, &mut planned, &template, &budget).await;
    }
    let mut entries: Vec<Option<TrackEntry>> = vec![None; context.total];
    let progress = ProgressReport::start(
        &context,
        &planned,
        &catalog.source,
        jobs,
        started,
        cpu_start,
    );
    let mut stopped = None;
    let slots = Arc::new(Semaphore::new(jobs));
    let mut running = JoinSet::new();
    let cancel = context.options.cancel.clone();
    for planned in planned {
        let mut settled = false;
        while let Some(done) = running.try_join_next() {
            settle(&mut entries, done);
            settled = true;
        }
        if settled {
            progress.update(&entries);
        }
        if let Some(failed) = planned.failed {
            entries[planned.index] = Some(failed);
            continue;
        }
        // While waiting for a slot, settle tracks as they end (the report
        // written during the run stays current).
        let permit = loop {
            tokio::select! {
                permit = Arc::clone(&slots).acquire_owned() => break permit.ok(),
                Some(done) = running.join_next(), if !running.is_empty() => {
                    settle(&mut entries, done);
                    progress.update(&entries);
                }
                () = cancel.cancelled() => break None,
            }
        };
        let why_not = if cancel.is_cancelled() {
            Some("signal")
        } else if context.limit_reached() {
            Some("max-failures")
        } else {
            None
        };
        match (permit, why_not) {
            (Some(permit), None) => {
                let context = Arc::clone(&context);
                let index = planned.index;
                let fallback = planned.entry.clone();
                let task = tokio::spawn(async move {
                    let entry = run_track(&context, planned).await;
                    drop(permit);
                    entry
                });
                running.spawn(async move {
                    match task.await {
                        Ok(entry) => (index, entry),
                        Err(e) => (
                            index,
                            TrackEntry {
                                status: TrackStatus::Failed,
                                class: "internal".into(),
                                exit_code: 1,
                                message: Some(format!("internal error (please report): {e}")),
                                ..fallback
                            },
                        ),
                    }
                });
            }
            (_, why) => {
                let why = why.unwrap_or("signal");
                stopped = Some(why.to_string());
                let message = match why {
                    "max-failures" => "not started: --max-failures reached",
                    _ => "not started: the batch was stopped",
                };
                entries[planned.index] = Some(TrackEntry {
                    status: TrackStatus::NotRun,
                    class: "not-run".into(),
                    exit_code: 0,
                    message: Some(message.into()),
                    ..planned.entry
                });
            }
        }
    }
    while let Some(done) = running.join_next().await {
        settle(&mut entries, done);
        progress.update(&entries);
    }
    progress.finish().await;
    if cancel.is_cancelled() {
        stopped = Some("signal".into());
    }
    let tracks: Vec<TrackEntry> = entries.into_iter().flatten().collect();
    let wall = started.elapsed().as_secs_f64();
    let cpu = match (cpu_start, crate::cpu::process_cpu_seconds()) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    let totals = totals(&tracks, wall, cpu);
    let exit_code = if stopped.as_deref() == Some("signal") {
        u8::try_from(128 + context.signal().unwrap_or(2)).unwrap_or(130)
    } else if totals.failed > 0 || totals.not_run > 0 {
        EXIT_TRACKS_FAILED
    } else {
        0
    };
    let report = BatchReport {
        schema_version: BATCH_REPORT_VERSION,
        tool: "audiopack".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        catalog: catalog.source.clone(),
        output: context.destination.label(),
        jobs,
        stopped,
        exit_code,
        totals,
        tracks,
    };
    let written = context
        .destination
        .write_root_file(BATCH_REPORT, report.to_json())
        .await?;
    write_index(&context, &report).await?;
    if let Some(path) = &context.options.junit {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|source| BatchError::Io {
                path: parent.to_path_buf(),
                action: "creating the JUnit file's directory",
                source,
            })?;
        }
        crate::destination::write_atomically(path, crate::junit::render(&report).as_bytes())?;
    }
    context.emit(BatchEvent::BatchFinished {
        report: written,
        exit_code: report.exit_code,
        totals: report.totals.clone(),
    });
    Ok(report)
}

/// `batch-report.json` while the batch runs: a writer task rewrites it
/// (whole, atomically) when tracks have finished since its last write, at
/// most every 2 s (a directory) or 15 s (S3: one PUT each), with
/// `stopped: "in-progress"` and the unfinished rows as `not-run`, so a
/// batch killed with `kill -9` still leaves what it finished on record.
/// [`finish`](Self::finish) stops it before the final report is written.
struct ProgressReport {
    state: Arc<std::sync::Mutex<(Vec<Option<TrackEntry>>, bool)>>,
    stop: CancellationToken,
    writer: tokio::task::JoinHandle<()>,
}

impl ProgressReport {
    fn start(
        context: &Arc<Context>,
        planned: &[Planned],
        catalog: &str,
        jobs: usize,
        started: Instant,
        cpu_start: Option<f64>,
    ) -> ProgressReport {
        let mut bases: Vec<Option<TrackEntry>> = vec![None; context.total];
        for p in planned {
            if let Some(slot) = bases.get_mut(p.index) {
                *slot = Some(p.entry.clone());
            }
        }
        let every = match context.destination {
            Destination::Dir(_) => std::time::Duration::from_secs(2),
            Destination::S3 { .. } => std::time::Duration::from_secs(15),
        };
        let state = Arc::new(std::sync::Mutex::new((vec![None; context.total], false)));
        let stop = CancellationToken::new();
        let writer = {
            let (state, stop, context) = (Arc::clone(&state), stop.clone(), Arc::clone(context));
            let catalog = catalog.to_string();
            tokio::spawn(async move {
                loop {
                    tokio::select! {
                        () = tokio::time::sleep(every) => {}
                        () = stop.cancelled() => return,
                    }
                    let entries = {
                        let mut guard = state
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                        if !guard.1 {
                            continue;
                        }
                        guard.1 = false;
                        guard.0.clone()
                    };
                    let tracks: Vec<TrackEntry> = bases
                        .iter()
                        .zip(entries)
                        .filter_map(|(base, done)| {
                            done.or_else(|| {
                                base.clone().map(|base| TrackEntry {
                                    status: TrackStatus::NotRun,
                                    class: "not-run".into(),
                                    exit_code: 0,
                                    message: Some(
                                        "not finished when this report was written".into(),
                                    ),
                                    ..base
                                })
                            })
                        })
                        .collect();
                    let wall = started.elapsed().as_secs_f64();
                    let cpu = match (cpu_start, crate::cpu::process_cpu_seconds()) {
                        (Some(a), Some(b)) => Some(b - a),
                        _ => None,
                    };
                    let report = BatchReport {
                        schema_version: BATCH_REPORT_VERSION,
                        tool: "audiopack".into(),
                        version: env!("CARGO_PKG_VERSION").into(),
                        catalog: catalog.clone(),
                        output: context.destination.label(),
                        jobs,
                        stopped: Some("in-progress".into()),
                        exit_code: 0,
                        totals: totals(&tracks, wall, cpu),
                        tracks,
                    };
                    // Best effort: the final report is the one that must land.
                    let _ = context
                        .destination
                        .write_root_file(BATCH_REPORT, report.to_json())
                        .await;
                }
            })
        };
        ProgressReport {
            state,
            stop,
            writer,
        }
    }

    /// The rows finished so far.
    fn update(&self, entries: &[Option<TrackEntry>]) {
        let mut guard = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        guard.0 = entries.to_vec();
        guard.1 = true;
    }

    /// Stops the writer, after the write it may be doing.
    async fn finish(self) {
        self.stop.cancel();
        let _ = self.writer.await;
    }
}

fn settle(
    entries: &mut [Option<TrackEntry>],
    done: Result<(usize, TrackEntry), tokio::task::JoinError>,
) {
    if let Ok((index, entry)) = done
        && let Some(slot) = entries.get_mut(index)
    {
        *slot = Some(entry);
    }
}

/// Builds every row's job (nothing runs): an invalid row is a catalog
/// error naming its line; an invalid command option is reported once.
fn plan(
    catalog: &Catalog,
    template: &JobTemplate,
    destination: &Destination,
    s3: &S3Side,
    budget: &CpuBudget,
    options: &BatchOptions,
) -> Result<Vec<Planned>, BatchError> {
    // The command's own options, checked once (not once per row).
    template(&TrackSettings::default())
        .map_err(audiopack::Error::from)?
        .input(Input::path("check"))
        .output(audiopack::Output::dir("check"))
        .build()?;
    let row_error = |track: &CatalogTrack, e: audiopack::Error| -> BatchError {
        let column = e
            .config()
            .map(|c| c.field)
            .filter(|f| ["target_lufs", "input", "preset"].contains(f));
        BatchError::Catalog(CatalogError {
            source_name: catalog.source.clone(),
            line: Some(track.line),
            place: column.map(|c| format!("column \"{c}\"")),
            message: e.to_string(),
        })
    };
    let mut planned = Vec::with_capacity(catalog.tracks.len());
    for (index, track) in catalog.tracks.iter().enumerate() {
        let builder =
            template(&track.settings).map_err(|e| row_error(track, audiopack::Error::from(e)))?;
        let job = track_job(builder, track, destination, s3, budget, &options.cancel)
            .map_err(|e| row_error(track, e))?;
        let entry = TrackEntry {
            id: track.id.clone(),
            line: track.line,
            input: track.input.clone(),
            output: destination.track_label(&track.id),
            album: track.album.clone(),
            status: TrackStatus::NotRun,
            class: "not-run".into(),
            exit_code: 0,
            message: None,
            reason: None,
            input_sha256: None,
            settings_digest: job.settings_digest(),
            audio_seconds: None,
            wall_seconds: 0.0,
            loudness: None,
            gain_db: None,
            album_integrated_lufs: None,
            album_gain_db: None,
        };
        planned.push(Planned {
            index,
            track: track.clone(),
            job,
            entry,
            failed: None,
        });
    }
    if options.album_gain {
        crate::album::check_albums(catalog, &planned)?;
    }
    Ok(planned)
}

/// A row's job: the template's settings, its input, `OUT/<id>`, the
/// shared budget, a child of the batch's token.
pub(crate) fn track_job(
    builder: JobBuilder,
    track: &CatalogTrack,
    destination: &Destination,
    s3: &S3Side,
    budget: &CpuBudget,
    cancel: &CancellationToken,
) -> Result<Job, audiopack::Error> {
    builder
        .input(Input::parse(&track.input))
        .output(destination.output(&track.id, s3)?)
        .cpu_budget(budget.clone())
        .cancel(cancel.child_token())
        // The batch checked the destination once, before any track.
        .preflighted(true)
        .build()
}

/// One track: the skip check, then its job.
async fn run_track(context: &Context, planned: Planned) -> TrackEntry {
    let Planned {
        index, job, entry, ..
    } = planned;
    let started = Instant::now();
    let index1 = index + 1;
    let total = context.total;
    let cancel = &context.options.cancel;
    let decision = tokio::select! {
        d = skip::check(
            &context.destination,
            &context.s3,
            &entry.id,
            &entry.input,
            &entry.settings_digest,
            entry.input_sha256.as_deref(),
        ) => Some(d),
        () = cancel.cancelled() => None,
    };
    let reason = match decision {
        None => {
            return TrackEntry {
                message: Some("not started: the batch was stopped".into()),
                ..entry
            };
        }
        Some(Decision::Skip(summary)) => {
            let entry = TrackEntry {
                status: TrackStatus::Skipped,
                class: ExitClass::OK.name.into(),
                exit_code: 0,
                reason: Some("already done (same input and settings)".into()),
                input_sha256: summary.input.sha256.clone(),
                audio_seconds: Some(summary.input.duration_seconds),
                wall_seconds: started.elapsed().as_secs_f64(),
                loudness: Some(TrackLoudness {
                    input_integrated_lufs: summary.loudness.input.integrated_lufs,
                    output_integrated_lufs: summary.loudness.output.integrated_lufs,
                }),
                gain_db: Some(summary.loudness.gain.gain_db),
                ..entry
            };
            context.emit(BatchEvent::TrackSkipped {
                index: index1,
                total,
                id: entry.id.clone(),
                audio_seconds: entry.audio_seconds,
            });
            return entry;
        }
        Some(Decision::Run(reason)) => reason,
    };
    context.emit(BatchEvent::TrackStarted {
        index: index1,
        total,
        id: entry.id.clone(),
        input: entry.input.clone(),
        reason: reason.clone(),
    });
    match job.run().await {
        Ok(report) => {
            let r = &report.ingest;
            let wall = started.elapsed().as_secs_f64();
            let audio = r.input.duration_seconds;
            let entry = TrackEntry {
                status: TrackStatus::Done,
                class: ExitClass::OK.name.into(),
                exit_code: 0,
                reason: Some(reason),
                input_sha256: r.input.sha256.clone(),
                audio_seconds: Some(audio),
                wall_seconds: wall,
                loudness: Some(TrackLoudness {
                    input_integrated_lufs: r.loudness.input.integrated_lufs,
                    output_integrated_lufs: r.loudness.output.integrated_lufs,
                }),
                gain_db: Some(r.loudness.gain.gain_db),
                ..entry
            };
            context.emit(BatchEvent::TrackFinished {
                index: index1,
                total,
                id: entry.id.clone(),
                audio_seconds: entry.audio_seconds,
                wall_seconds: wall,
                realtime: (wall > 0.0).then(|| audio / wall),
                input_integrated_lufs: r.loudness.input.integrated_lufs,
                output_integrated_lufs: r.loudness.output.integrated_lufs,
                gain_db: entry.gain_db,
            });
            entry
        }
        Err(e) => {
            let class = ExitClass::of(e.kind(), context.signal());
            if !e.is_cancelled() {
                context.failures.fetch_add(1, Ordering::SeqCst);
            }
            let message = error_message(&e);
            context.emit(BatchEvent::TrackFailed {
                index: index1,
                total,
                id: entry.id.clone(),
                class: class.name.into(),
                exit_code: class.code,
                message: message.clone(),
            });
            TrackEntry {
                status: TrackStatus::Failed,
                class: class.name.into(),
                exit_code: class.code,
                message: Some(message),
                reason: Some(reason),
                wall_seconds: started.elapsed().as_secs_f64(),
                ..entry
            }
        }
    }
}

/// `OUT/index.html`: every track with its loudness, gain, true peak,
/// warnings and failure, sortable, linking each package's QC page. Each
/// track's report is read back from the destination (a GET per track on
/// S3); one that cannot be read gets a note in its row.
async fn write_index(context: &Context, report: &BatchReport) -> Result<(), BatchError> {
    const MAX_REPORT_BYTES: u64 = 16 << 20;
    let mut tracks = Vec::with_capacity(report.tracks.len());
    for t in &report.tracks {
        let text = context
            .destination
            .read_report(&context.s3, &t.id, MAX_REPORT_BYTES)
            .await
            .ok()
            .flatten()
            .and_then(|bytes| String::from_utf8(bytes).ok());
        tracks.push((t.id.clone(), text));
    }
    let json = String::from_utf8_lossy(&report.to_json()).into_owned();
    match audiopack_qc::render_batch_index(&json, &tracks) {
        Ok(page) => {
            context
                .destination
                .write_root_file(BATCH_INDEX, page.into_bytes())
                .await?;
        }
        // The batch report is written; a page it cannot make is not worth
        // failing the batch for.
        Err(e) => eprintln!("audiopack batch: {BATCH_INDEX} not written: {e}"),
    }
    Ok(())
}
