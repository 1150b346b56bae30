//! An upload service around audiopack: jobs submitted over HTTP, at most N
//! encoding at once, followed as Server-Sent Events, cancellable.
//!
//! ```text
//! cargo run -p audiopack --example http_service -- \
//!     --listen 127.0.0.1:8080 --out ./packages [--max-jobs 2] [--spool DIR]
//!
//! curl -sS --data-binary @song.flac -H 'Content-Type: audio/flac' localhost:8080/jobs
//! curl -sS -H 'Content-Type: text/plain' --data 's3://bucket/masters/song.wav' localhost:8080/jobs
//! curl -N localhost:8080/jobs/ID/events
//! curl -sS localhost:8080/jobs/ID
//! curl -sS -X DELETE localhost:8080/jobs/ID
//! ```
//!
//! `--out s3://bucket/prefix/` publishes each job under
//! `s3://bucket/prefix/<id>/` instead of `<out>/<id>` (credentials,
//! region and endpoint from the usual AWS variables). `--max-jobs` may
//! also come from `AUDIOPACK_MAX_JOBS`. SIGINT/SIGTERM cancel every job,
//! wait for them to clean up and stop the server (a second signal exits
//! at once). See app.rs for the routes.

mod app;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use audiopack::CancellationToken;

const USAGE: &str = "usage: http_service --listen ADDR:PORT --out DIR|s3://bucket/prefix/ \
                     [--max-jobs N] [--spool DIR] [--max-upload-bytes N]";

struct Args {
    listen: SocketAddr,
    config: app::Config,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut listen: SocketAddr = ([127, 0, 0, 1], 8080).into();
    let mut out = None;
    let mut max_jobs = match std::env::var("AUDIOPACK_MAX_JOBS") {
        Ok(v) => Some(parse_count("AUDIOPACK_MAX_JOBS", &v)?),
        Err(_) => None,
    };
    let mut spool = None;
    let mut max_upload = None;
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--listen" => {
                let v = value()?;
                listen = v
                    .parse()
                    .map_err(|e| format!("--listen {v:?}: {e} (expected ADDR:PORT)"))?;
            }
            "--out" => out = Some(value()?),
            "--max-jobs" => max_jobs = Some(parse_count("--max-jobs", &value()?)?),
            "--spool" => spool = Some(PathBuf::from(value()?)),
            "--max-upload-bytes" => {
                let v = value()?;
                max_upload = Some(
                    v.parse::<u64>()
                        .map_err(|e| format!("--max-upload-bytes {v:?}: {e}"))?,
                );
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    let out = out.ok_or("--out is required")?;
    let mut config = app::Config::new(app::OutRoot::parse(&out));
    if let Some(n) = max_jobs {
        config.max_jobs = n;
    }
    if let Some(dir) = spool {
        config.spool_dir = dir;
    }
    if let Some(bytes) = max_upload {
        config.max_upload_bytes = bytes;
    }
    Ok(Args { listen, config })
}

fn parse_count(what: &str, text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "{what} {text:?}: expected a whole number of at least 1"
        )),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("error: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    if let app::OutRoot::Dir(dir) = &args.config.out
        && let Err(e) = std::fs::create_dir_all(dir)
    {
        eprintln!("error: creating {}: {e}", dir.display());
        return ExitCode::from(6);
    }
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("error: listening on {}: {e}", args.listen);
            return ExitCode::from(6);
        }
    };
    let stop = CancellationToken::new();
    stop_on_signals(stop.clone());
    eprintln!(
        "listening on http://{} (output {:?}, {} jobs at once)",
        listener.local_addr().map_or(args.listen, |a| a),
        args.config.out,
        args.config.max_jobs
    );
    let state = app::AppState::new(args.config, stop.clone());
    // A signal cancels every job (their tokens are children of `stop`):
    // their event streams end, so the graceful shutdown does not wait on
    // them; then wait for each job to clean up.
    let served = axum::serve(listener, app::router(state.clone()))
        .with_graceful_shutdown(stop.clone().cancelled_owned())
        .await;
    stop.cancel();
    state.shutdown().await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: serving: {e}");
            ExitCode::from(1)
        }
    }
}

/// The first SIGINT/SIGTERM cancels `stop`; a second one exits at once.
fn stop_on_signals(stop: CancellationToken) {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
        return;
    };
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                if stop.is_cancelled() {
                    std::process::exit(128 + signal);
                }
                eprintln!("stopping: cancelling every job");
                stop.cancel();
            }
        });
    drop(spawned);
}
