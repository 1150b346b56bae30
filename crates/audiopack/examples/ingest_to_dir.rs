//! The minimal embed: one input file to one package directory.
//!
//! ```text
//! cargo run -p audiopack --example ingest_to_dir -- INPUT OUTDIR
//! ```
//!
//! Phases and progress go to stderr, the gain and the renditions to
//! stdout. Ctrl-C (or SIGTERM) cancels the job: it removes its staging
//! directory and the example exits 130 (143). Any other error prints one
//! `error: …` line and exits with a code chosen by [`audiopack::ErrorKind`]
//! (the same codes as the `audiopack` command).

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};

use audiopack::{
    CancellationToken, ErrorKind, Event, Input, Job, JobReport, Output, StorageErrorKind,
};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, out] = args.as_slice() else {
        eprintln!("usage: ingest_to_dir INPUT OUTDIR");
        return ExitCode::from(2);
    };

    let cancel = CancellationToken::new();
    let signal = cancel_on_signals(cancel.clone());

    let job = Job::builder()
        .input(Input::path(input))
        .output(Output::dir(out))
        .on_event(print_event)
        .cancel(cancel)
        .build();
    // run_blocking: this thread has no tokio runtime (inside one, await
    // `job.run()` instead).
    match job.and_then(Job::run_blocking) {
        Ok(report) => {
            print_report(&report);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            let code = match e.kind() {
                // 128 + the signal that cancelled the job.
                ErrorKind::Cancelled => {
                    u8::try_from(128 + signal.load(Ordering::SeqCst).max(2)).unwrap_or(130)
                }
                ErrorKind::Config => 2,
                ErrorKind::BadInput => 3,
                ErrorKind::Unsupported => 4,
                ErrorKind::Limit => 5,
                ErrorKind::Io | ErrorKind::Storage(StorageErrorKind::NoSuchKey) => 6,
                ErrorKind::Storage(StorageErrorKind::Credentials) => 7,
                ErrorKind::Storage(StorageErrorKind::AccessDenied) => 8,
                ErrorKind::Storage(StorageErrorKind::NoBucket) => 9,
                ErrorKind::Storage(StorageErrorKind::Unreachable) => 10,
                ErrorKind::Storage(StorageErrorKind::Conflict) => 12,
                ErrorKind::Storage(_) => 11,
                // Internal (a bug) and kinds added later.
                _ => 1,
            };
            ExitCode::from(code)
        }
    }
}

/// The last tenth of the current pass printed (progress arrives up to 20
/// times a second: one line per 10 % is enough here).
static LAST_TENTH: AtomicU64 = AtomicU64::new(0);

/// Called from the job's threads, in order: keep it short.
fn print_event(event: &Event) {
    match event {
        Event::PhaseStarted {
            phase,
            pass,
            passes,
            ..
        } => {
            LAST_TENTH.store(0, Ordering::Relaxed);
            eprintln!("pass {pass}/{passes}: {}", phase.label());
        }
        Event::Progress {
            frames_done,
            total_frames: Some(total),
            ..
        } if *total > 0 => {
            let tenth = (frames_done * 10 / total).min(10);
            if tenth > LAST_TENTH.swap(tenth, Ordering::Relaxed) {
                eprintln!("  {:3}%", tenth * 10);
            }
        }
        Event::Progress { frames_done, .. } => eprintln!("  {frames_done} frames"),
        Event::Warning { message } => eprintln!("warning: {message}"),
        Event::Done { output, seconds } => eprintln!("done: {output} in {seconds:.1} s"),
        _ => {}
    }
}

fn print_report(report: &JobReport) {
    let loudness = &report.loudness;
    let lufs = |v: Option<f64>| v.map_or_else(|| "-inf".to_string(), |v| format!("{v:.1}"));
    println!(
        "loudness {} LUFS, gain {:+.2} dB ({:?}) -> {} LUFS",
        lufs(loudness.input.integrated_lufs),
        loudness.gain.gain_db,
        loudness.gain.reason,
        lufs(loudness.output.integrated_lufs)
    );
    for r in &report.renditions {
        println!(
            "{:<10} {:>4} kbit/s measured",
            r.name,
            r.bitrate_measured_bps / 1000
        );
    }
    if let Some(package) = &report.package {
        for r in package.renditions.iter().filter(|r| r.codecs == "flac") {
            println!(
                "{:<10} {:>4} kbit/s average",
                r.name,
                r.average_bandwidth_bps / 1000
            );
        }
        for manifest in &package.manifests {
            println!("manifest {manifest}");
        }
    }
}

/// The first SIGINT/SIGTERM cancels the job (a second one exits at once);
/// returns the signal received (0: none).
fn cancel_on_signals(cancel: CancellationToken) -> Arc<AtomicI32> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let seen = Arc::new(AtomicI32::new(0));
    // Without handlers, the signals keep their default action.
    if let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) {
        let first = Arc::clone(&seen);
        let spawned = std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    if first
                        .compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst)
                        .is_err()
                    {
                        std::process::exit(128 + signal);
                    }
                    eprintln!("cancelling…");
                    cancel.cancel();
                }
            });
        drop(spawned);
    }
    seen
}
