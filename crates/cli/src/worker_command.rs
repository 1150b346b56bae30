//! `audiopack submit`, `worker` and `status`: argument conversion and
//! output over `audiopack_worker` (the queue logic lives there).

use std::io::{IsTerminal, Write as _};
use std::sync::Arc;
use std::time::Duration;

use audiopack::CancellationToken;
use audiopack_batch::BatchError;
use audiopack_worker::{
    QueueSettings, Status, SubmitOptions, WorkerError, WorkerEvent, WorkerOptions,
};

use crate::args::{Cli, StatusArgs, SubmitArgs, WorkerArgs};
use crate::human::clean;

fn runtime() -> Result<tokio::runtime::Runtime, WorkerError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("audiopack-io")
        .enable_all()
        .build()
        .map_err(|source| {
            WorkerError::Batch(BatchError::Io {
                path: ".".into(),
                action: "starting the I/O runtime",
                source,
            })
        })
}

/// `submit`: exit 0 once every row is queued (or already was).
pub fn submit(cli: &Cli, args: &SubmitArgs) -> Result<u8, WorkerError> {
    let storage = args.job.storage.s3_options();
    let options = SubmitOptions {
        nats: args.nats.options("audiopack-submit"),
        output: args.out.clone(),
        queue: QueueSettings {
            ack_wait: Duration::from_secs(args.ack_wait),
            max_deliver: args.max_deliver,
        },
        retry_failed: args.retry_failed,
        force: args.force,
        storage: storage.clone(),
    };
    let summary = runtime()?.block_on(async {
        let catalog = match (&args.catalog, &args.from) {
            (_, Some(url)) => audiopack_batch::list_catalog(url, &storage).await?,
            (Some(path), None) => audiopack_batch::read_catalog(path)?,
            (None, None) => {
                return Err(WorkerError::Batch(BatchError::Job(
                    audiopack::ConfigError::new("CATALOG", "", "a catalog file or --from s3://…")
                        .into(),
                )));
            }
        };
        audiopack_worker::submit(&catalog, |row| args.job.settings(row), &options).await
    })?;
    if args.json {
        println!("{}", serde_json::to_string(&summary).unwrap_or_default());
    } else if !cli.quiet {
        println!(
            "{} jobs: {} queued now, {} already queued or running, {} already done, {} failed before (--retry-failed sends them again)",
            summary.total, summary.new, summary.queued, summary.done, summary.failed
        );
    }
    Ok(0)
}

/// `worker`: exit 0 when stopped by a signal or `--max-jobs`; the class
/// code of a systemic error otherwise.
pub fn worker(cli: &Cli, args: &WorkerArgs, stop: &CancellationToken) -> Result<u8, WorkerError> {
    let backoff = parse_backoff(&args.retry_backoff)?;
    let grace = Duration::try_from_secs_f64(args.grace).map_err(|_| {
        WorkerError::Batch(BatchError::Job(
            audiopack::ConfigError::new("--grace", args.grace, "seconds, 0 or more").into(),
        ))
    })?;
    // Events for logs when stdout is not a terminal, unless -q; --json
    // always.
    let json = args.json || (!cli.quiet && !std::io::stdout().is_terminal());
    let quiet = cli.quiet;
    let mut options = WorkerOptions::new(args.nats.options("audiopack-worker"));
    if let Some(jobs) = args.jobs {
        options.jobs = usize::from(jobs);
    }
    options.max_jobs = args
        .max_jobs
        .map(|k| usize::try_from(k).unwrap_or(usize::MAX));
    options.storage = args.storage.s3_options();
    if let Some(name) = &args.name {
        options.name = name.clone();
    }
    options.stop = stop.clone();
    options.grace = grace;
    options.retry_backoff = backoff;
    options.on_event = Some(Arc::new(move |e: &WorkerEvent| show(e, json, quiet)));
    let summary = runtime()?.block_on(audiopack_worker::run_worker(options))?;
    if !json && !quiet {
        eprintln!(
            "worker stopped: {} taken, {} done, {} already complete, {} failed, {} handed back",
            summary.taken, summary.done, summary.skipped, summary.failed, summary.retried
        );
    }
    Ok(0)
}

fn parse_backoff(text: &str) -> Result<Vec<Duration>, WorkerError> {
    let bad = || {
        WorkerError::Batch(BatchError::Job(
            audiopack::ConfigError::new("--retry-backoff", text, "seconds, comma-separated").into(),
        ))
    };
    let delays = text
        .split(',')
        .map(|s| {
            s.trim()
                .parse::<f64>()
                .ok()
                .and_then(|v| Duration::try_from_secs_f64(v).ok())
                .ok_or_else(bad)
        })
        .collect::<Result<Vec<_>, _>>()?;
    if delays.is_empty() {
        return Err(bad());
    }
    Ok(delays)
}

/// A worker event: one JSON line on stdout, or a line for people on
/// stderr.
fn show(event: &WorkerEvent, json: bool, quiet: bool) {
    if json {
        if let Ok(line) = serde_json::to_string(event) {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        }
        return;
    }
    if quiet {
        return;
    }
    let line = match event {
        WorkerEvent::WorkerStarted {
            worker,
            server,
            jobs,
            ack_wait_seconds,
        } => format!(
            "worker {worker} on {server}: {jobs} job(s) at once, ack wait {ack_wait_seconds:.0} s"
        ),
        WorkerEvent::JobStarted { id, attempt, .. } => {
            format!("{id}: encoding (attempt {attempt})")
        }
        WorkerEvent::JobDone {
            id, skipped: true, ..
        } => format!("{id}: already complete"),
        WorkerEvent::JobDone {
            id, wall_seconds, ..
        } => format!("{id}: done in {wall_seconds:.1} s"),
        WorkerEvent::JobFailed {
            id, class, message, ..
        } => format!("{id}: failed ({class}): {}", clean(message)),
        WorkerEvent::JobRetry {
            id,
            delay_seconds,
            message,
            ..
        } => format!(
            "{id}: handed back, retried in {delay_seconds:.0} s: {}",
            clean(message)
        ),
        WorkerEvent::QueueError { message } => format!("queue: {}", clean(message)),
        WorkerEvent::WorkerStopping { reason } => format!("stopping: {}", clean(reason)),
        _ => return,
    };
    eprintln!("{line}");
}

/// `status`: once, or every `--interval` seconds with `--watch` until
/// interrupted.
pub fn status(cli: &Cli, args: &StatusArgs, stop: &CancellationToken) -> Result<u8, WorkerError> {
    let nats = args.nats.options("audiopack-status");
    let interval =
        Duration::try_from_secs_f64(args.interval.max(0.2)).unwrap_or(Duration::from_secs(2));
    let redraw = args.watch && !args.json && std::io::stdout().is_terminal();
    runtime()?.block_on(async {
        loop {
            let status = audiopack_worker::status(&nats).await?;
            if args.json {
                println!("{}", serde_json::to_string(&status).unwrap_or_default());
            } else if !cli.quiet {
                if redraw {
                    print!("\x1b[2J\x1b[H");
                }
                print!("{}", human_status(&status, &nats.label()));
            }
            let _ = std::io::stdout().flush();
            if !args.watch {
                return Ok(0);
            }
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                () = stop.cancelled() => return Ok(0),
            }
        }
    })
}

fn human_status(s: &Status, server: &str) -> String {
    let mut out = format!(
        "{server}: {} jobs · {} queued · {} running · {} done · {} failed",
        s.total, s.queued, s.running, s.done, s.failed
    );
    if s.done_per_minute > 0.0 {
        out.push_str(&format!(" · {:.1}/min", s.done_per_minute));
    }
    if let Some(eta) = s.eta_seconds {
        out.push_str(&format!(" · ETA {}", duration(eta)));
    }
    out.push('\n');
    if !s.workers.is_empty() {
        let workers = s
            .workers
            .iter()
            .map(|(w, n)| format!("{w} ({n})"))
            .collect::<Vec<_>>()
            .join(", ");
        out.push_str(&format!("running on: {workers}\n"));
    }
    for job in s.jobs.iter().filter(|j| j.state == "failed") {
        let id = if job.id.is_empty() { &job.key } else { &job.id };
        out.push_str(&format!(
            "  failed {id}: {}\n",
            clean(job.message.as_deref().unwrap_or(""))
        ));
    }
    out
}

fn duration(seconds: f64) -> String {
    let s = seconds.round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}
