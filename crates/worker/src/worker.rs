//! `worker`: pulls jobs and runs them with the library until stopped.
//!
//! ```text
//!  loop (while not stopped, fewer than --max-jobs taken):
//!     wait for a free slot (--jobs N: N slots, one CpuBudget of N threads)
//!     fetch one message (2 s long-poll; errors: wait, retry; the client reconnects)
//!     task:  parse ── poison ─► KV failed "poison-<seq>", Term
//!            KV done already ─► Ack (a redelivery after the ack was lost)
//!            KV running (worker, attempt)
//!            job from the message (bad settings ─► failed, Term)
//!            skip rule (batch's): package complete, same input and settings ─► done (skipped), Ack
//!            run the job; an in-progress ack every ack_wait / 3
//!              Ok ─► KV done ─► Ack (double ack: the server confirms)
//!              bad input / unsupported / limit ─► KV failed, Term
//!              keys invalid or refused by the key server (4xx) ─► KV failed, Term
//!              credentials / access denied / no bucket / disk full ─► Nak now,
//!                    KV queued, stop pulling, cancel nothing else, exit non-zero
//!              anything else (network, storage, I/O, key server unreachable or 5xx):
//!                                                     attempts left ─► KV queued, Nak(backoff)
//!                                                     last delivery ─► KV failed, Term
//!  stop (SIGTERM): no more pulls; running jobs finish within the grace
//!  period, then are cancelled and Nak'ed at once (another worker takes them).
//!  --max-jobs reached: no more pulls; the jobs taken finish (the grace
//!  period starts only if a signal comes meanwhile).
//! ```
//!
//! The ack comes only after the job returned, and a job returns only after
//! its package is complete at its output (manifests last): a worker killed
//! at any point leaves its message unacked, the server redelivers it after
//! `ack_wait`, and the next worker either finds the package complete (skip
//! rule) or makes it again, byte for byte the same (conditional writes make
//! a concurrent second writer harmless).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, AckKind};
use audiopack::{CancellationToken, CpuBudget, ErrorKind, Input, S3Options, StorageErrorKind};
use audiopack_batch::{ExitClass, PackageSite, error_message};
use futures_util::StreamExt as _;
use serde::Serialize;
use tokio::sync::{Mutex, Semaphore};
use tokio::task::JoinSet;

use crate::error::WorkerError;
use crate::message::JobMessage;
use crate::queue::{CONSUMER, NatsOptions, Queue, STREAM};
use crate::record::{JobRecord, JobState, now};

/// Called with every [`WorkerEvent`]; keep it short.
pub type WorkerEventHandler = Arc<dyn Fn(&WorkerEvent) + Send + Sync + 'static>;

/// How a worker runs.
#[derive(Clone)]
pub struct WorkerOptions {
    /// The NATS server.
    pub nats: NatsOptions,
    /// CPU threads this worker computes on, and jobs at once.
    pub jobs: usize,
    /// Exit after taking this many jobs.
    pub max_jobs: Option<usize>,
    /// How this worker reaches S3 (inputs, outputs).
    pub storage: S3Options,
    /// The name recorded in job states (default: host name and process id).
    pub name: String,
    /// Cancelling it stops pulling; running jobs get `grace` to finish.
    pub stop: CancellationToken,
    /// How long running jobs may still take after `stop`.
    pub grace: Duration,
    /// Nak delays after a retryable failure, by attempt (the last repeats).
    pub retry_backoff: Vec<Duration>,
    /// Called with every [`WorkerEvent`].
    pub on_event: Option<WorkerEventHandler>,
}

impl WorkerOptions {
    /// Defaults: the machine's cores, no job limit, 30 s grace, retries
    /// after 10 s, 1 min, 5 min.
    pub fn new(nats: NatsOptions) -> WorkerOptions {
        WorkerOptions {
            nats,
            jobs: std::thread::available_parallelism().map_or(1, usize::from),
            max_jobs: None,
            storage: S3Options::default(),
            name: default_name(),
            stop: CancellationToken::new(),
            grace: Duration::from_secs(30),
            retry_backoff: vec![
                Duration::from_secs(10),
                Duration::from_secs(60),
                Duration::from_secs(300),
            ],
            on_event: None,
        }
    }
}

/// `host-pid`.
fn default_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".into());
    format!("{host}-{}", std::process::id())
}

/// What a worker reports, one JSON line each on stdout.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum WorkerEvent {
    /// Connected; pulling.
    WorkerStarted {
        /// This worker.
        worker: String,
        /// The server (credentials removed).
        server: String,
        /// Slots.
        jobs: usize,
        /// The consumer's ack wait, seconds.
        ack_wait_seconds: f64,
    },
    /// A job started encoding.
    JobStarted {
        /// Catalog id.
        id: String,
        /// Job key.
        key: String,
        /// Delivery number.
        attempt: u32,
        /// Why it is encoded (no package yet, settings changed…).
        reason: String,
    },
    /// A job's package is complete (encoded now, or found complete).
    JobDone {
        /// Catalog id.
        id: String,
        /// Job key.
        key: String,
        /// Found complete, nothing encoded.
        skipped: bool,
        /// Input length.
        audio_seconds: Option<f64>,
        /// Wall time of this attempt.
        wall_seconds: f64,
    },
    /// A job failed for good.
    JobFailed {
        /// Catalog id (empty for a poison message).
        id: String,
        /// Job key.
        key: String,
        /// Exit class.
        class: String,
        /// The error.
        message: String,
    },
    /// A job went back to the queue.
    JobRetry {
        /// Catalog id.
        id: String,
        /// Job key.
        key: String,
        /// Redelivered after this many seconds.
        delay_seconds: f64,
        /// The error.
        message: String,
    },
    /// The queue could not be read for a moment.
    QueueError {
        /// What went wrong.
        message: String,
    },
    /// No more pulls.
    WorkerStopping {
        /// Why: `signal`, `max-jobs`, or the systemic error.
        reason: String,
    },
}

/// What a worker did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WorkerSummary {
    /// Messages taken.
    pub taken: usize,
    /// Encoded and acked.
    pub done: usize,
    /// Found complete and acked.
    pub skipped: usize,
    /// Failed for good.
    pub failed: usize,
    /// Put back in the queue.
    pub retried: usize,
}

/// How one message ended.
enum Outcome {
    Done {
        skipped: bool,
    },
    Failed,
    Retried,
    /// Put back; this worker must stop (the error would fail every job).
    Systemic(ExitClass, String),
}

/// Shared by the worker's tasks.
struct Context {
    queue: Queue,
    options: WorkerOptions,
    budget: CpuBudget,
    /// Cancels every running job: the grace period is over, or a systemic
    /// error.
    abort: CancellationToken,
    ack_wait: Duration,
    max_deliver: i64,
    sites: Mutex<HashMap<String, Arc<PackageSite>>>,
}

impl Context {
    fn emit(&self, event: WorkerEvent) {
        if let Some(handler) = &self.options.on_event {
            handler(&event);
        }
    }

    /// Writes a job's state; `done` is never overwritten.
    async fn record(&self, record: &JobRecord) {
        if record.state != JobState::Done
            && self
                .stored(&record.key)
                .await
                .is_some_and(|r| r.state == JobState::Done)
        {
            return;
        }
        if let Err(e) = self
            .queue
            .kv
            .put(record.key.as_str(), record.to_bytes())
            .await
        {
            self.emit(WorkerEvent::QueueError {
                message: format!("recording the state of {}: {e}", record.id),
            });
        }
    }

    /// The job's stored state, if there is a readable one.
    async fn stored(&self, key: &str) -> Option<JobRecord> {
        let bytes = self.queue.kv.get(key).await.ok().flatten()?;
        JobRecord::from_bytes(&bytes)
    }

    async fn site(&self, output: &str) -> Result<Arc<PackageSite>, audiopack_batch::BatchError> {
        let mut sites = self.sites.lock().await;
        if let Some(site) = sites.get(output) {
            return Ok(Arc::clone(site));
        }
        let site = Arc::new(PackageSite::open(output, &self.options.storage, true).await?);
        sites.insert(output.to_string(), Arc::clone(&site));
        Ok(site)
    }
}

/// Runs a worker until `options.stop`, `max_jobs`, or a systemic error.
///
/// # Errors
///
/// The server unreachable at the start, or [`WorkerError::Systemic`]: an
/// error every job would hit (its jobs went back to the queue).
pub async fn run_worker(options: WorkerOptions) -> Result<WorkerSummary, WorkerError> {
    let jobs = options.jobs.max(1);
    let mut queue = Queue::open(&options.nats, None).await?;
    let info = queue.consumer_info().await?;
    let ack_wait = info.config.ack_wait;
    let context = Arc::new(Context {
        budget: CpuBudget::new(jobs),
        abort: CancellationToken::new(),
        ack_wait,
        max_deliver: info.config.max_deliver,
        sites: Mutex::new(HashMap::new()),
        options,
        queue,
    });
    context.emit(WorkerEvent::WorkerStarted {
        worker: context.options.name.clone(),
        server: context.queue.server.clone(),
        jobs,
        ack_wait_seconds: ack_wait.as_secs_f64(),
    });
    let advisories = watch_max_deliveries(Arc::clone(&context)).await;
    let slots = Arc::new(Semaphore::new(jobs));
    let mut running: JoinSet<Outcome> = JoinSet::new();
    let mut summary = WorkerSummary::default();
    let mut systemic: Option<(ExitClass, String)> = None;
    let stop = context.options.stop.clone();
    let settle = |summary: &mut WorkerSummary,
                  systemic: &mut Option<(ExitClass, String)>,
                  outcome: Result<Outcome, tokio::task::JoinError>| {
        match outcome {
            Ok(Outcome::Done { skipped: true }) => summary.skipped += 1,
            Ok(Outcome::Done { skipped: false }) => summary.done += 1,
            Ok(Outcome::Failed) => summary.failed += 1,
            Ok(Outcome::Retried) => summary.retried += 1,
            Ok(Outcome::Systemic(class, message)) => {
                summary.retried += 1;
                systemic.get_or_insert((class, message));
            }
            // A panicking job: its message comes back after ack_wait.
            Err(_) => summary.failed += 1,
        }
    };
    let reason = loop {
        while let Some(done) = running.try_join_next() {
            settle(&mut summary, &mut systemic, done);
        }
        if let Some((_, message)) = &systemic {
            break message.clone();
        }
        if stop.is_cancelled() {
            break "signal".to_string();
        }
        if context.options.max_jobs.is_some_and(|k| summary.taken >= k) {
            break "max-jobs".to_string();
        }
        let permit = tokio::select! {
            permit = Arc::clone(&slots).acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break "internal".to_string(),
            },
            Some(done) = running.join_next(), if !running.is_empty() => {
                settle(&mut summary, &mut systemic, done);
                continue;
            }
            () = stop.cancelled() => continue,
        };
        let fetched = tokio::select! {
            f = fetch_one(&context.queue) => f,
            () = stop.cancelled() => continue,
        };
        let message = match fetched {
            Ok(Some(m)) => m,
            Ok(None) => continue,
            Err(e) => {
                context.emit(WorkerEvent::QueueError { message: e });
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    () = stop.cancelled() => {}
                }
                continue;
            }
        };
        summary.taken += 1;
        let context = Arc::clone(&context);
        running.spawn(async move {
            let outcome = handle(&context, message).await;
            drop(permit);
            outcome
        });
    };
    context.emit(WorkerEvent::WorkerStopping {
        reason: reason.clone(),
    });
    // In hand: finish within the grace period (at once on a systemic
    // error, whose jobs would fail the same way), then cancel (Nak). After
    // --max-jobs the jobs taken simply finish; the grace period starts only
    // if a signal comes while they do.
    if systemic.is_some() {
        context.abort.cancel();
    }
    let mut counting = stop.is_cancelled();
    let grace = tokio::time::sleep(context.options.grace);
    tokio::pin!(grace);
    while !running.is_empty() {
        tokio::select! {
            Some(done) = running.join_next() => settle(&mut summary, &mut systemic, done),
            () = &mut grace, if counting && !context.abort.is_cancelled() => context.abort.cancel(),
            () = stop.cancelled(), if !counting => {
                counting = true;
                grace
                    .as_mut()
                    .reset(tokio::time::Instant::now() + context.options.grace);
            }
        }
    }
    if let Some(task) = advisories {
        task.abort();
    }
    let _ = context.queue.client.flush().await;
    match systemic {
        Some((class, message)) => Err(WorkerError::Systemic { class, message }),
        None => Ok(summary),
    }
}

/// A job whose last delivery was never answered (its worker died on the
/// last attempt) is not redelivered, and nothing would record it: the
/// server's MAX_DELIVERIES advisory names it. Every worker listens; the
/// job is recorded `failed` and its message removed from the stream
/// (idempotent, so several workers may do it).
async fn watch_max_deliveries(context: Arc<Context>) -> Option<tokio::task::JoinHandle<()>> {
    let subject = format!("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.{STREAM}.{CONSUMER}");
    let mut advisories = match context.queue.client.subscribe(subject).await {
        Ok(s) => s,
        Err(e) => {
            context.emit(WorkerEvent::QueueError {
                message: format!("listening for exhausted jobs: {e}"),
            });
            return None;
        }
    };
    Some(tokio::spawn(async move {
        #[derive(serde::Deserialize)]
        struct Advisory {
            stream_seq: u64,
            deliveries: u64,
        }
        while let Some(advisory) = advisories.next().await {
            let Ok(advisory) = serde_json::from_slice::<Advisory>(&advisory.payload) else {
                continue;
            };
            let Ok(raw) = context
                .queue
                .stream
                .get_raw_message(advisory.stream_seq)
                .await
            else {
                // Already handled (by another worker).
                continue;
            };
            if let Ok(job) = JobMessage::parse(&raw.payload) {
                let previous = context.stored(&job.key).await;
                if !previous.as_ref().is_some_and(|r| r.state == JobState::Done) {
                    let message = format!(
                        "gave up after {} deliveries: the last worker to hold it stopped answering (killed, crashed, or past the ack wait without heartbeats)",
                        advisory.deliveries
                    );
                    let record = JobRecord {
                        state: JobState::Failed,
                        message: Some(message.clone()),
                        class: Some("max-deliveries".into()),
                        attempts: u32::try_from(advisory.deliveries).unwrap_or(u32::MAX),
                        finished_at: Some(now()),
                        ..previous.unwrap_or_else(|| JobRecord::queued(&job))
                    };
                    context.record(&record).await;
                    context.emit(WorkerEvent::JobFailed {
                        id: job.id.clone(),
                        key: job.key.clone(),
                        class: "max-deliveries".into(),
                        message,
                    });
                }
            }
            let _ = context
                .queue
                .stream
                .delete_message(advisory.stream_seq)
                .await;
        }
    }))
}

/// One message, or none within the long-poll.
async fn fetch_one(queue: &Queue) -> Result<Option<jetstream::Message>, String> {
    let mut batch = queue
        .consumer
        .fetch()
        .max_messages(1)
        .expires(Duration::from_secs(2))
        .messages()
        .await
        .map_err(|e| format!("pulling a job: {e}"))?;
    match batch.next().await {
        Some(Ok(m)) => Ok(Some(m)),
        Some(Err(e)) => Err(format!("pulling a job: {e}")),
        None => Ok(None),
    }
}

/// Acks `message` with `kind`, reporting a failure (the server then
/// redelivers after ack_wait, which the skip rule makes harmless).
async fn acknowledge(context: &Context, message: &jetstream::Message, kind: AckKind) {
    let result = match kind {
        AckKind::Ack => message.double_ack().await,
        other => message.ack_with(other).await,
    };
    if let Err(e) = result {
        context.emit(WorkerEvent::QueueError {
            message: format!("acknowledging a job: {e}"),
        });
    }
}

/// Handles one message: see the module documentation.
async fn handle(context: &Context, message: jetstream::Message) -> Outcome {
    let (sequence, delivered) = message
        .info()
        .map(|i| {
            (
                i.stream_sequence,
                u32::try_from(i.delivered).unwrap_or(u32::MAX),
            )
        })
        .unwrap_or((0, 1));
    let worker = context.options.name.clone();
    let job = match JobMessage::parse(&message.payload) {
        Ok(job) => job,
        Err(poison) => {
            let key = format!("poison-{sequence}");
            let text = poison.to_string();
            context
                .record(&JobRecord {
                    id: String::new(),
                    key: key.clone(),
                    input: String::new(),
                    package: String::new(),
                    state: JobState::Failed,
                    message: Some(text.clone()),
                    class: Some("poison".into()),
                    attempts: delivered,
                    worker: Some(worker),
                    submitted_at: now(),
                    started_at: None,
                    finished_at: Some(now()),
                    audio_seconds: None,
                    wall_seconds: None,
                    skipped: false,
                })
                .await;
            context.emit(WorkerEvent::JobFailed {
                id: String::new(),
                key,
                class: "poison".into(),
                message: text,
            });
            acknowledge(context, &message, AckKind::Term).await;
            return Outcome::Failed;
        }
    };
    let previous = context.stored(&job.key).await;
    if previous.as_ref().is_some_and(|r| r.state == JobState::Done) {
        acknowledge(context, &message, AckKind::Ack).await;
        return Outcome::Done { skipped: true };
    }
    let started = Instant::now();
    let mut record = JobRecord {
        state: JobState::Running,
        attempts: delivered,
        worker: Some(worker),
        submitted_at: previous
            .as_ref()
            .map_or(job.submitted_at, |r| r.submitted_at),
        started_at: Some(now()),
        ..JobRecord::queued(&job)
    };
    context.record(&record).await;

    // The heartbeat: in-progress acks keep the message ours while we work.
    let heartbeat = CancellationToken::new();
    let beat = {
        let message = message.clone();
        let heartbeat = heartbeat.clone();
        let every = (context.ack_wait / 3).max(Duration::from_millis(500));
        async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(every) => {
                        let _ = message.ack_with(AckKind::Progress).await;
                    }
                    () = heartbeat.cancelled() => break,
                }
            }
        }
    };
    let (result, ()) = tokio::join!(
        async {
            let result = run_job(context, &job, &mut record).await;
            heartbeat.cancel();
            result
        },
        beat
    );
    record.wall_seconds = Some(started.elapsed().as_secs_f64());
    match result {
        Ok(skipped) => {
            record.state = JobState::Done;
            record.skipped = skipped;
            record.finished_at = Some(now());
            context.record(&record).await;
            acknowledge(context, &message, AckKind::Ack).await;
            context.emit(WorkerEvent::JobDone {
                id: job.id.clone(),
                key: job.key.clone(),
                skipped,
                audio_seconds: record.audio_seconds,
                wall_seconds: started.elapsed().as_secs_f64(),
            });
            Outcome::Done { skipped }
        }
        Err(failure) => settle_failure(context, &message, &job, record, delivered, failure).await,
    }
}

/// Why a job did not finish.
enum Failure {
    /// Will fail the same way every time: Term.
    Permanent(ExitClass, String),
    /// May work later: Nak (or Term on the last delivery).
    Transient(ExitClass, String),
    /// Every job here would fail so: Nak, and stop this worker.
    Systemic(ExitClass, String),
    /// The worker is stopping: Nak at once.
    Cancelled,
}

/// The job of `message`: the skip rule first, then the encode. `Ok(true)`:
/// found complete.
async fn run_job(
    context: &Context,
    job: &JobMessage,
    record: &mut JobRecord,
) -> Result<bool, Failure> {
    let classify = |e: &audiopack::Error| classify(e);
    let site = context.site(&job.output).await.map_err(|e| {
        let class = ExitClass::of(e.kind(), None);
        Failure::Permanent(class, e.to_string())
    })?;
    let output = site.output(&job.id).map_err(|e| classify(&e))?;
    let built = job
        .settings
        .builder()
        .map_err(|e| Failure::Permanent(ExitClass::of(ErrorKind::Config, None), e.to_string()))?
        .input(Input::parse(&job.input))
        .output(output)
        .storage(context.options.storage.clone())
        .cpu_budget(context.budget.clone())
        .cancel(context.abort.child_token())
        .build()
        .map_err(|e| classify(&e))?;
    let digest = built.settings_digest();
    let reason = tokio::select! {
        checked = site.check(&job.id, &job.input, &digest) => match checked {
            Ok(done) => {
                record.audio_seconds = Some(done.audio_seconds);
                return Ok(true);
            }
            Err(reason) => reason,
        },
        () = context.abort.cancelled() => return Err(Failure::Cancelled),
    };
    context.emit(WorkerEvent::JobStarted {
        id: job.id.clone(),
        key: job.key.clone(),
        attempt: record.attempts,
        reason,
    });
    match built.run().await {
        Ok(report) => {
            record.audio_seconds = Some(report.ingest.input.duration_seconds);
            Ok(false)
        }
        Err(e) => Err(classify(&e)),
    }
}

/// The failure class of a job's error.
fn classify(e: &audiopack::Error) -> Failure {
    let class = ExitClass::of(e.kind(), None);
    let message = error_message(e);
    match e.kind() {
        ErrorKind::Cancelled => Failure::Cancelled,
        ErrorKind::BadInput
        | ErrorKind::Unsupported
        | ErrorKind::Limit
        | ErrorKind::Config
        | ErrorKind::Storage(StorageErrorKind::NoSuchKey) => Failure::Permanent(class, message),
        ErrorKind::Storage(
            StorageErrorKind::Credentials
            | StorageErrorKind::AccessDenied
            | StorageErrorKind::NoBucket,
        ) => Failure::Systemic(class, message),
        ErrorKind::Io if disk_full(e) => Failure::Systemic(class, message),
        // Keys that are invalid, or a key server that refused (4xx), give
        // the same answer next time; a key source that could not be read
        // or reached (5xx, timeouts) may not.
        ErrorKind::Keys if !e.keys_unavailable() => Failure::Permanent(class, message),
        _ => Failure::Transient(class, message),
    }
}

/// An `ENOSPC` anywhere in the error's causes.
fn disk_full(e: &audiopack::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::StorageFull
        {
            return true;
        }
        source = s.source();
    }
    false
}

/// Records and acknowledges a failed attempt.
async fn settle_failure(
    context: &Context,
    message: &jetstream::Message,
    job: &JobMessage,
    mut record: JobRecord,
    delivered: u32,
    failure: Failure,
) -> Outcome {
    let last_delivery = context.max_deliver > 0 && i64::from(delivered) >= context.max_deliver;
    let (class, text, permanent) = match &failure {
        Failure::Permanent(class, text) => (*class, text.clone(), true),
        Failure::Transient(class, text) => (
            *class,
            if last_delivery {
                format!("gave up after {delivered} attempts: {text}")
            } else {
                text.clone()
            },
            last_delivery,
        ),
        Failure::Systemic(class, text) => (*class, text.clone(), false),
        Failure::Cancelled => (
            ExitClass::of(ErrorKind::Cancelled, None),
            format!("worker {} stopped", context.options.name),
            false,
        ),
    };
    record.class = Some(class.name.into());
    record.message = Some(text.clone());
    if permanent {
        record.state = JobState::Failed;
        record.finished_at = Some(now());
        context.record(&record).await;
        acknowledge(context, message, AckKind::Term).await;
        context.emit(WorkerEvent::JobFailed {
            id: job.id.clone(),
            key: job.key.clone(),
            class: class.name.into(),
            message: text,
        });
        return Outcome::Failed;
    }
    let delay = match &failure {
        Failure::Transient(..) => {
            let backoff = &context.options.retry_backoff;
            let i = (delivered as usize).saturating_sub(1);
            backoff.get(i).or(backoff.last()).copied()
        }
        // Another worker may take it at once.
        _ => None,
    };
    record.state = JobState::Queued;
    context.record(&record).await;
    acknowledge(context, message, AckKind::Nak(delay)).await;
    context.emit(WorkerEvent::JobRetry {
        id: job.id.clone(),
        key: job.key.clone(),
        delay_seconds: delay.map_or(0.0, |d| d.as_secs_f64()),
        message: text.clone(),
    });
    match failure {
        Failure::Systemic(class, _) => Outcome::Systemic(class, text),
        _ => Outcome::Retried,
    }
}
