//! `audiopack batch`: the catalog read, the batch run on one runtime, its
//! events rendered (JSON lines on stdout, or one overall line on a
//! terminal), and a summary.

use std::io::{IsTerminal, Write as _};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use audiopack::CancellationToken;
use audiopack_batch::{
    BatchError, BatchEvent, BatchOptions, BatchReport, JobTemplate, TrackSettings, TrackStatus,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::args::{BatchArgs, Cli};
use crate::human::clean;
use crate::signals::StopSignal;

/// Runs the batch; the exit code is the report's (0, 13, 128 + signal).
pub fn run(
    cli: &Cli,
    args: &BatchArgs,
    cancel: &CancellationToken,
    stop: &StopSignal,
) -> Result<u8, BatchError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("audiopack-io")
        .enable_all()
        .build()
        .map_err(|source| BatchError::Io {
            path: ".".into(),
            action: "starting the I/O runtime",
            source,
        })?;
    let storage = args.job.storage.s3_options();
    // Events for CI logs when stdout is not a terminal, unless -q asked
    // for errors only; --json always.
    let json = args.json || (!cli.quiet && !std::io::stdout().is_terminal());
    let view = Arc::new(View::new(
        json,
        !cli.quiet && std::io::stderr().is_terminal(),
    ));
    let events = Arc::clone(&view);
    let mut options = BatchOptions::new(args.out.clone());
    if let Some(jobs) = args.jobs {
        options.jobs = usize::from(jobs);
    }
    options.max_failures = args.max_failures.map(|n| n as usize);
    options.storage = storage.clone();
    options.junit = args.junit.clone();
    options.album_gain = args.album_gain;
    options.cancel = cancel.clone();
    options.on_event = Some(Arc::new(move |e: &BatchEvent| events.handle(e)));
    let stop = stop.clone();
    options.stop_signal = Some(Arc::new(move || stop.received()));
    let job = args.job.clone();
    let template: JobTemplate = Arc::new(move |row: &TrackSettings| job.job_for(row));
    let report = runtime.block_on(async {
        let catalog = match (&args.catalog, &args.from) {
            (_, Some(url)) => audiopack_batch::list_catalog(url, &storage).await?,
            (Some(path), None) => audiopack_batch::read_catalog(path)?,
            (None, None) => {
                return Err(BatchError::Job(
                    audiopack::ConfigError::new("CATALOG", "", "a catalog file or --from s3://…")
                        .into(),
                ));
            }
        };
        audiopack_batch::run_batch(catalog, template, options).await
    })?;
    view.finish();
    // With events on stdout they said it all; -q: errors only (the failed
    // tracks, on stderr).
    if !json {
        if cli.quiet {
            eprint!("{}", failures(&report));
        } else {
            print!("{}", summary(&report));
        }
    }
    Ok(report.exit_code)
}

/// The end of a human run: failures, then one line of totals.
fn summary(report: &BatchReport) -> String {
    let mut s = failures(report);
    let t = &report.totals;
    s.push_str(&format!(
        "{} tracks: {} done, {} skipped, {} failed, {} not run; {:.2} h of audio, {:.1} s wall, {}{}\n",
        t.tracks,
        t.done,
        t.skipped,
        t.failed,
        t.not_run,
        t.audio_hours,
        t.wall_seconds,
        t.realtime
            .map_or_else(String::new, |r| format!("{r:.1}× realtime, ")),
        t.cpu_seconds
            .map_or_else(|| "CPU time unknown".to_string(), |c| format!("{c:.1} s CPU")),
    ));
    s.push_str(&format!(
        "report {}/batch-report.json\n",
        clean(report.output.trim_end_matches('/'))
    ));
    s
}

/// One line per failed track: id, class, exit code, message.
fn failures(report: &BatchReport) -> String {
    let mut s = String::new();
    for t in &report.tracks {
        if t.status == TrackStatus::Failed {
            s.push_str(&format!(
                "failed {} ({}, exit {}): {}\n",
                clean(&t.id),
                t.class,
                t.exit_code,
                clean(t.message.as_deref().unwrap_or_default())
            ));
        }
    }
    s
}

/// Counts for the overall line.
#[derive(Default)]
struct Counts {
    total: usize,
    finished: usize,
    failed: usize,
    audio_seconds: f64,
    encoded_seconds: f64,
    /// Ids of the tracks running now, in start order.
    running: Vec<String>,
}

/// JSON lines on stdout, or an overall progress line on stderr.
struct View {
    json: bool,
    bar: Option<ProgressBar>,
    counts: Mutex<Counts>,
    started: Instant,
}

impl View {
    fn new(json: bool, draw: bool) -> View {
        let bar = (!json && draw).then(|| {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
                bar.set_style(style);
            }
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        View {
            json,
            bar,
            counts: Mutex::new(Counts::default()),
            started: Instant::now(),
        }
    }

    fn handle(&self, event: &BatchEvent) {
        if self.json {
            if let Ok(line) = serde_json::to_string(event) {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
                let _ = out.flush();
            }
            return;
        }
        let Ok(mut c) = self.counts.lock() else {
            return;
        };
        match event {
            BatchEvent::BatchStarted { tracks, .. } => c.total = *tracks,
            BatchEvent::TrackStarted { id, .. } => c.running.push(id.clone()),
            BatchEvent::TrackSkipped { audio_seconds, .. } => {
                c.finished += 1;
                c.audio_seconds += audio_seconds.unwrap_or(0.0);
            }
            BatchEvent::TrackFinished {
                id, audio_seconds, ..
            } => {
                c.running.retain(|r| r != id);
                c.finished += 1;
                c.audio_seconds += audio_seconds.unwrap_or(0.0);
                c.encoded_seconds += audio_seconds.unwrap_or(0.0);
            }
            BatchEvent::TrackFailed { id, message, .. } => {
                c.running.retain(|r| r != id);
                c.finished += 1;
                c.failed += 1;
                if let Some(bar) = &self.bar {
                    bar.println(format!("failed {}: {}", clean(id), clean(message)));
                }
            }
            _ => {}
        }
        if let Some(bar) = &self.bar {
            let wall = self.started.elapsed().as_secs_f64();
            let eta = if c.finished > 0 && c.total > c.finished {
                let left = wall / c.finished as f64 * (c.total - c.finished) as f64;
                format!(
                    ", ETA {}",
                    indicatif::HumanDuration(Duration::from_secs_f64(left))
                )
            } else {
                String::new()
            };
            let running = if c.running.is_empty() {
                String::new()
            } else {
                format!("; running {}", clean(&c.running.join(", ")))
            };
            bar.set_message(format!(
                "{}/{} tracks ({} failed), {:.2} h audio, {:.1}× realtime{eta}{running}",
                c.finished,
                c.total,
                c.failed,
                c.audio_seconds / 3600.0,
                if wall > 0.0 {
                    c.encoded_seconds / wall
                } else {
                    0.0
                },
            ));
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
