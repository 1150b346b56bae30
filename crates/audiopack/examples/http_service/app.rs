//! The service's router and state: jobs submitted over HTTP, run with
//! `job.run().await` in tokio tasks (at most `max_jobs` at once, the rest
//! queued), followed as Server-Sent Events, cancelled with `DELETE`.
//!
//! ```text
//! POST   /jobs               audio bytes (any Content-Type but text/plain),
//!                            or text/plain `s3://bucket/key`
//!                            -> 202 {"id": "…"}, Location: /jobs/{id}
//! GET    /jobs/{id}          -> {"id", "status": queued|running|done|failed|cancelled,
//!                                "input", "output", "report" (done), "error" (failed, cancelled)}
//! GET    /jobs/{id}/events   -> text/event-stream: every event so far, then live;
//!                               `event: <kind>` + `data: <audiopack::Event as JSON>`,
//!                               `id: <n>` (Last-Event-ID resumes after n); ends with
//!                               `done`, or `error` {"kind", "message"}, and closes
//! DELETE /jobs/{id}          -> 202 (cancelling), 409 (already finished)
//! ```
//!
//! A job's status is final before its event stream closes (a `GET` after
//! the end of the stream sees it). Unknown ids are 404. Uploaded audio is spooled to a temporary file in
//! the spool directory (memory does not grow with the upload) and read
//! from there through [`Input::reader`]; the file is removed when the job
//! ends, whatever the outcome.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use audiopack::{
    CancellationToken, CpuBudget, Error, ErrorKind, Event, Input, Job, JobReport, Output,
    S3Options, StorageErrorKind,
};
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{self, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::{Stream, StreamExt};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::sync::{Semaphore, watch};

/// Where packages go: `<dir>/<id>` or `<s3 prefix>/<id>/`.
#[derive(Debug, Clone)]
pub enum OutRoot {
    /// A local directory; each job writes `<dir>/<id>`.
    Dir(PathBuf),
    /// `s3://bucket/prefix/`; each job writes `s3://bucket/prefix/<id>/`.
    S3(String),
}

impl OutRoot {
    /// `s3://…` as a prefix, anything else as a directory.
    pub fn parse(text: &str) -> OutRoot {
        if text.starts_with("s3://") {
            OutRoot::S3(text.to_string())
        } else {
            OutRoot::Dir(PathBuf::from(text))
        }
    }

    fn output_for(&self, id: &str) -> Output {
        match self {
            OutRoot::Dir(dir) => Output::dir(dir.join(id)),
            OutRoot::S3(prefix) => Output::s3(format!("{}/{id}/", prefix.trim_end_matches('/'))),
        }
    }
}

/// The service's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where packages go.
    pub out: OutRoot,
    /// Jobs encoding at once; further jobs wait, queued.
    pub max_jobs: usize,
    /// Uploads are spooled here, and store outputs too (default: the
    /// system temporary directory).
    pub spool_dir: PathBuf,
    /// Uploads larger than this are refused (413).
    pub max_upload_bytes: u64,
    /// CPU slots shared by every job's decode/encode threads.
    pub cpu_slots: usize,
    /// S3 client settings (`s3://` inputs and outputs).
    pub storage: S3Options,
}

impl Config {
    /// Defaults for everything but the output root.
    pub fn new(out: OutRoot) -> Config {
        Config {
            out,
            max_jobs: 2,
            spool_dir: std::env::temp_dir(),
            max_upload_bytes: 4 << 30,
            cpu_slots: std::thread::available_parallelism().map_or(2, usize::from),
            storage: S3Options::default(),
        }
    }
}

/// The shared state behind the router (cheap to clone).
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

struct Inner {
    config: Config,
    jobs: Mutex<HashMap<String, Arc<JobEntry>>>,
    slots: Arc<Semaphore>,
    cpu: CpuBudget,
    /// Every job's token is a child of this one: cancelling it stops them
    /// all (shutdown).
    root: CancellationToken,
    next_id: AtomicU64,
    id_keys: std::collections::hash_map::RandomState,
}

struct JobEntry {
    id: String,
    input: String,
    output: String,
    cancel: CancellationToken,
    status: Mutex<Status>,
    /// Every event so far; `closed` once the last one is in.
    log: watch::Sender<Log>,
}

#[derive(Default)]
struct Log {
    events: Vec<Arc<LogEvent>>,
    closed: bool,
}

/// One SSE event: its name and its JSON data.
struct LogEvent {
    name: String,
    data: String,
}

enum Status {
    Queued,
    Running,
    Done(Arc<JobReport>),
    Failed { kind: String, message: String },
    Cancelled { message: String },
}

impl Status {
    fn name(&self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Done(_) => "done",
            Status::Failed { .. } => "failed",
            Status::Cancelled { .. } => "cancelled",
        }
    }

    fn finished(&self) -> bool {
        !matches!(self, Status::Queued | Status::Running)
    }
}

impl JobEntry {
    fn push(&self, name: &str, data: String) {
        self.log.send_modify(|log| {
            log.events.push(Arc::new(LogEvent {
                name: name.to_string(),
                data,
            }));
        });
    }

    fn set_status(&self, status: Status) {
        *self.status.lock().unwrap_or_else(PoisonError::into_inner) = status;
    }

    fn status_json(&self) -> Value {
        let status = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        let mut body = json!({
            "id": self.id,
            "status": status.name(),
            "input": self.input,
            "output": self.output,
        });
        match &*status {
            Status::Done(report) => {
                body["report"] = serde_json::to_value(report.as_ref()).unwrap_or(Value::Null);
            }
            Status::Failed { kind, message } => {
                body["error"] = json!({ "kind": kind, "message": message });
            }
            Status::Cancelled { message } => {
                body["error"] = json!({ "kind": "cancelled", "message": message });
            }
            Status::Queued | Status::Running => {}
        }
        body
    }
}

/// The `kind` of an error in the service's JSON.
pub fn kind_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::BadInput => "bad-input",
        ErrorKind::Unsupported => "unsupported",
        ErrorKind::Limit => "limit",
        ErrorKind::Io => "io",
        ErrorKind::Storage(_) => "storage",
        ErrorKind::Config => "config",
        ErrorKind::Cancelled => "cancelled",
        ErrorKind::Internal => "internal",
        _ => "other",
    }
}

fn error_json(e: &Error) -> Value {
    let mut body = json!({ "kind": kind_name(e.kind()), "message": e.to_string() });
    if let ErrorKind::Storage(storage) = e.kind() {
        body["storage"] = json!(match storage {
            StorageErrorKind::Credentials => "credentials",
            StorageErrorKind::AccessDenied => "access-denied",
            StorageErrorKind::NoBucket => "no-bucket",
            StorageErrorKind::NoSuchKey => "no-such-key",
            StorageErrorKind::Unreachable => "unreachable",
            StorageErrorKind::Conflict => "conflict",
            _ => "failed",
        });
    }
    body
}

fn problem(status: StatusCode, kind: &str, message: impl Into<String>) -> Response {
    let body = json!({ "error": { "kind": kind, "message": message.into() } });
    (status, Json(body)).into_response()
}

impl AppState {
    /// A service with no jobs yet. Cancelling `shutdown` cancels every job
    /// (see [`AppState::shutdown`]).
    pub fn new(config: Config, shutdown: CancellationToken) -> AppState {
        AppState(Arc::new(Inner {
            slots: Arc::new(Semaphore::new(config.max_jobs.max(1))),
            cpu: CpuBudget::new(config.cpu_slots.max(1)),
            config,
            jobs: Mutex::new(HashMap::new()),
            root: shutdown,
            next_id: AtomicU64::new(0),
            id_keys: std::collections::hash_map::RandomState::new(),
        }))
    }

    /// Cancels every job and waits until each has cleaned up and sent its
    /// last event.
    pub async fn shutdown(&self) {
        self.0.root.cancel();
        let entries: Vec<Arc<JobEntry>> = self.jobs().values().cloned().collect();
        for entry in entries {
            let mut log = entry.log.subscribe();
            // An error only if the sender is gone, which the entry holds.
            let _ = log.wait_for(|log| log.closed).await;
        }
    }

    fn jobs(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<JobEntry>>> {
        self.0.jobs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn job(&self, id: &str) -> Option<Arc<JobEntry>> {
        self.jobs().get(id).cloned()
    }

    /// 16 hex digits, unpredictable (keyed by the process's random hash
    /// keys), safe as a directory name and a key.
    fn new_id(&self) -> String {
        let mut hasher = self.0.id_keys.build_hasher();
        hasher.write_u64(self.0.next_id.fetch_add(1, Ordering::Relaxed));
        format!("{:016x}", hasher.finish())
    }
}

/// The service's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/jobs", post(create_job))
        .route("/jobs/{id}", get(job_status).delete(cancel_job))
        .route("/jobs/{id}/events", get(job_events))
        // Uploads are streamed to disk under the service's own limit.
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

async fn create_job(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    if state.0.root.is_cancelled() {
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting-down",
            "the service is shutting down",
        );
    }
    let id = state.new_id();
    let config = &state.0.config;
    let text = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("text/plain"));
    let (input, upload) = if text {
        let bytes = match axum::body::to_bytes(body, 8 * 1024).await {
            Ok(bytes) => bytes,
            Err(e) => {
                return problem(StatusCode::BAD_REQUEST, "bad-request", format!("body: {e}"));
            }
        };
        let url = String::from_utf8_lossy(&bytes).trim().to_string();
        if !url.starts_with("s3://") {
            return problem(
                StatusCode::BAD_REQUEST,
                "bad-request",
                "a text/plain body holds an s3://bucket/key URL (send audio with another Content-Type)",
            );
        }
        (Input::s3(url), None)
    } else {
        match spool_upload(body, &config.spool_dir, config.max_upload_bytes).await {
            Ok(path) => {
                let reopen = path.to_path_buf();
                let input =
                    Input::reader(format!("upload-{id}"), move || std::fs::File::open(&reopen));
                (input, Some(path))
            }
            Err(response) => return *response,
        }
    };

    let output = config.out.output_for(&id);
    let entry = Arc::new(JobEntry {
        id: id.clone(),
        input: input.label(),
        output: output.label(),
        cancel: state.0.root.child_token(),
        status: Mutex::new(Status::Queued),
        log: watch::Sender::new(Log::default()),
    });
    let events = Arc::clone(&entry);
    let built = Job::builder()
        .input(input)
        .output(output)
        .cancel(entry.cancel.clone())
        .cpu_budget(state.0.cpu.clone())
        .storage(config.storage.clone())
        .spool_dir(&config.spool_dir)
        .on_event(move |event: &Event| {
            // Events are Serialize with their kind in the "event" field.
            if let Ok(value) = serde_json::to_value(event) {
                let name = value
                    .get("event")
                    .and_then(Value::as_str)
                    .unwrap_or("event")
                    .to_string();
                events.push(&name, value.to_string());
            }
        })
        .build();
    let job = match built {
        Ok(job) => job,
        Err(e) => {
            let body = json!({ "error": error_json(&e) });
            return (StatusCode::BAD_REQUEST, Json(body)).into_response();
        }
    };
    state.jobs().insert(id.clone(), Arc::clone(&entry));
    tokio::spawn(run_job(state.clone(), entry, job, upload));
    (
        StatusCode::ACCEPTED,
        [(header::LOCATION, format!("/jobs/{id}"))],
        Json(json!({ "id": id })),
    )
        .into_response()
}

/// Streams the body into a new temporary file (removed when the returned
/// path is dropped).
async fn spool_upload(
    body: Body,
    spool: &Path,
    limit: u64,
) -> Result<tempfile::TempPath, Box<Response>> {
    let io_error = |e: std::io::Error| {
        Box::new(problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "io",
            format!("spooling the upload in {}: {e}", spool.display()),
        ))
    };
    let file = tempfile::Builder::new()
        .prefix("audiopack-upload-")
        .tempfile_in(spool)
        .map_err(io_error)?;
    let (std_file, path) = file.into_parts();
    let mut out = tokio::fs::File::from_std(std_file);
    let mut stream = body.into_data_stream();
    let mut written = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            Box::new(problem(
                StatusCode::BAD_REQUEST,
                "bad-request",
                format!("reading the upload: {e}"),
            ))
        })?;
        written += chunk.len() as u64;
        if written > limit {
            return Err(Box::new(problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                "limit",
                format!("uploads are limited to {limit} bytes"),
            )));
        }
        out.write_all(&chunk).await.map_err(io_error)?;
    }
    out.flush().await.map_err(io_error)?;
    if written == 0 {
        return Err(Box::new(problem(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "empty body: POST the audio, or a text/plain s3:// URL",
        )));
    }
    Ok(path)
}

/// Waits for a slot, runs the job, then records how it ended: the status
/// first, then the last event, then the log is closed.
async fn run_job(
    state: AppState,
    entry: Arc<JobEntry>,
    job: Job,
    upload: Option<tempfile::TempPath>,
) {
    let slots = Arc::clone(&state.0.slots);
    let permit = tokio::select! {
        biased;
        () = entry.cancel.cancelled() => None,
        permit = slots.acquire_owned() => permit.ok(),
    };
    // `None`: cancelled while waiting for a slot.
    let ran = match permit {
        None => None,
        Some(_permit) => {
            entry.set_status(Status::Running);
            Some(job.run().await)
        }
    };
    // The spooled upload goes before anyone hears the job is over.
    drop(upload);
    match ran {
        Some(Ok(report)) => {
            // The job's own `done` event is already in the log.
            entry.set_status(Status::Done(Arc::new(report)));
        }
        Some(Err(e)) => {
            let data = error_json(&e);
            entry.set_status(if e.is_cancelled() {
                Status::Cancelled {
                    message: e.to_string(),
                }
            } else {
                Status::Failed {
                    kind: kind_name(e.kind()).to_string(),
                    message: e.to_string(),
                }
            });
            entry.push("error", data.to_string());
        }
        None => {
            let message = format!("job {}: cancelled before it started", entry.id);
            let data = json!({ "kind": "cancelled", "message": message });
            entry.set_status(Status::Cancelled { message });
            entry.push("error", data.to_string());
        }
    }
    entry.log.send_modify(|log| log.closed = true);
}

async fn job_status(State(state): State<AppState>, UrlPath(id): UrlPath<String>) -> Response {
    match state.job(&id) {
        Some(entry) => Json(entry.status_json()).into_response(),
        None => unknown(&id),
    }
}

async fn cancel_job(State(state): State<AppState>, UrlPath(id): UrlPath<String>) -> Response {
    let Some(entry) = state.job(&id) else {
        return unknown(&id);
    };
    let finished = entry
        .status
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .finished();
    if finished {
        return (StatusCode::CONFLICT, Json(entry.status_json())).into_response();
    }
    entry.cancel.cancel();
    (StatusCode::ACCEPTED, Json(entry.status_json())).into_response()
}

async fn job_events(
    State(state): State<AppState>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let Some(entry) = state.job(&id) else {
        return unknown(&id);
    };
    // A reconnecting EventSource resumes after the last id it saw.
    let start = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok())
        .map_or(0, |last| last + 1);
    Sse::new(event_stream(&entry, start))
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// The log from `start` on: what is there now, then each event as it
/// comes, ending after the last one.
fn event_stream(
    entry: &JobEntry,
    start: usize,
) -> impl Stream<Item = Result<sse::Event, std::convert::Infallible>> + use<> {
    struct Cursor {
        log: watch::Receiver<Log>,
        next: usize,
        pending: std::collections::VecDeque<(usize, Arc<LogEvent>)>,
        closed: bool,
    }
    let cursor = Cursor {
        log: entry.log.subscribe(),
        next: start,
        pending: Default::default(),
        closed: false,
    };
    futures_util::stream::unfold(cursor, |mut c| async move {
        loop {
            if let Some((n, event)) = c.pending.pop_front() {
                let sse = sse::Event::default()
                    .event(&event.name)
                    .data(&event.data)
                    .id(n.to_string());
                return Some((Ok(sse), c));
            }
            if c.closed {
                return None;
            }
            {
                let log = c.log.borrow_and_update();
                // Nothing before `next` (a Last-Event-ID ahead of the log
                // waits for what follows it).
                let from = c.next;
                if let Some(new) = log.events.get(from..) {
                    c.pending
                        .extend(new.iter().cloned().enumerate().map(|(i, e)| (from + i, e)));
                    c.next = log.events.len();
                }
                c.closed = log.closed;
            }
            if c.pending.is_empty() && !c.closed && c.log.changed().await.is_err() {
                c.closed = true;
            }
        }
    })
}

fn unknown(id: &str) -> Response {
    problem(StatusCode::NOT_FOUND, "not-found", format!("no job {id}"))
}
