//! `audiopack`: argument parsing, event rendering and exit codes over the
//! `audiopack` library (every step of a job lives there).
//!
//! Exit codes (also in the README):
//! 0 success · 1 internal error (a bug) · 2 usage or invalid options ·
//! 3 bad input (corrupt, truncated, empty, lying header) ·
//! 4 unsupported input (unknown format or codec) · 5 input over the limits ·
//! 6 local I/O failure or missing input object ·
//! 7 storage credentials rejected or missing · 8 storage access denied ·
//! 9 bucket does not exist · 10 storage endpoint unreachable ·
//! 11 storage failed (errors that persisted through every retry) ·
//! 12 conflict · 13 `batch`: at least one track failed (the others
//! finished; see OUT/batch-report.json) · `submit`/`worker`/`status`: 10
//! NATS server unreachable, 11 NATS refused an operation; a worker that
//! stops on a systemic error exits with that error's code (7, 8, 9, 6) ·
//! 129/130/143 stopped by SIGHUP/SIGINT/SIGTERM.

mod args;
mod batch_command;
mod human;
mod progress;
mod serve_command;
mod signals;
mod worker_command;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use audiopack::{CancellationToken, Error, ErrorKind, Output};
use clap::Parser;

use crate::args::{BatchArgs, Cli, Command, IngestArgs, PublishArgs};
use crate::progress::Bar;
use crate::signals::StopSignal;

/// Errors become exit codes in one place, shared with the batch report's
/// per-track classes (`audiopack_batch::ExitClass`): 128 + the signal for
/// a cancelled job (SIGINT by default).
fn exit_code(kind: ErrorKind, stop: &StopSignal) -> u8 {
    audiopack_batch::ExitClass::of(kind, stop.received()).code
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let cancel = CancellationToken::new();
    let stop = StopSignal::install(cancel.clone());
    // Panics are caught (in the decoder calls, at the job boundary, and
    // here) and reported as one `error:` line: the default hook's
    // "thread panicked at …" lines would break the one-line contract.
    std::panic::set_hook(Box::new(|_| {}));
    match &cli.command {
        Command::Batch(args) => return batch(&cli, args, &cancel, &stop),
        Command::Submit(args) => return queue_command(|| worker_command::submit(&cli, args)),
        Command::Worker(args) => {
            return queue_command(|| worker_command::worker(&cli, args, &cancel));
        }
        Command::Status(args) => {
            return queue_command(|| worker_command::status(&cli, args, &cancel));
        }
        Command::Serve(args) => return serve_command::run(&cli, args, &cancel),
        _ => {}
    }
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&cli, &cancel)));
    match outcome {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("{}", human::clean(&error_line(&e)));
            ExitCode::from(exit_code(e.kind(), &stop))
        }
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".into());
            eprintln!(
                "error: internal error (please report): {}",
                human::clean(&message)
            );
            ExitCode::from(1)
        }
    }
}

/// `error: <message>: <causes that add something>`, as the batch report
/// records it (`audiopack_batch::error_message`).
fn error_line(e: &Error) -> String {
    format!("error: {}", audiopack_batch::error_message(e))
}

fn run(cli: &Cli, cancel: &CancellationToken) -> Result<(), Error> {
    let bar = Arc::new(Bar::new(cli.quiet, cli.verbose));
    match &cli.command {
        Command::Probe { file, json, input } => {
            let report = audiopack::probe(file, &input.to_config())?;
            if *json {
                print_json(&report)?;
            } else if !cli.quiet {
                print!("{}", human::probe(&report));
            }
        }
        Command::Loudness { file, json, input } => {
            let events = Arc::clone(&bar);
            let report = audiopack::loudness(
                file,
                &input.to_config(),
                Some(Arc::new(move |e: &audiopack::Event| events.handle(e))),
                cancel,
            )?;
            if *json {
                print_json(&report)?;
            } else if !cli.quiet {
                print!("{}", human::loudness(&report));
            }
        }
        Command::Ingest(args) => ingest(cli, args, bar, cancel)?,
        Command::Publish(args) => publish(cli, args, cancel)?,
        Command::Batch(_)
        | Command::Submit(_)
        | Command::Worker(_)
        | Command::Status(_)
        | Command::Serve(_) => {
            return Err(Error::internal("run by main"));
        }
    }
    Ok(())
}

fn ingest(
    cli: &Cli,
    args: &IngestArgs,
    bar: Arc<Bar>,
    cancel: &CancellationToken,
) -> Result<(), Error> {
    let job = args
        .job()?
        .on_event(move |e| bar.handle(e))
        .cancel(cancel.clone())
        .build()?;
    let report = job.run_blocking()?;
    if args.json {
        print_json(&report)?;
    } else if !cli.quiet {
        print!(
            "{}",
            human::ingest(&report.ingest, Path::new(&args.out), cli.verbose)
        );
        if let Some(p) = &report.publish {
            print!("{}", human::publish(p, cli.verbose));
        }
    }
    Ok(())
}

/// `audiopack batch`: the batch's own exit code (0; 13 when a track
/// failed; 128 + a stop signal), or one `error:` line and the code of what
/// stopped it before any track (2 invalid catalog, storage codes for the
/// destination's preflight).
fn batch(cli: &Cli, args: &BatchArgs, cancel: &CancellationToken, stop: &StopSignal) -> ExitCode {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        batch_command::run(cli, args, cancel, stop)
    }));
    match outcome {
        Ok(Ok(code)) => ExitCode::from(code),
        Ok(Err(e)) => {
            let line = match &e {
                audiopack_batch::BatchError::Job(job) => error_line(job),
                other => format!("error: {other}"),
            };
            eprintln!("{}", human::clean(&line));
            ExitCode::from(exit_code(e.kind(), stop))
        }
        Err(_) => {
            eprintln!("error: internal error (please report): the batch runner panicked");
            ExitCode::from(1)
        }
    }
}

/// `submit`, `worker`, `status`: their own exit code, or one `error:`
/// line and the code of what stopped them.
fn queue_command(command: impl FnOnce() -> Result<u8, audiopack_worker::WorkerError>) -> ExitCode {
    use audiopack_batch::BatchError;
    use audiopack_worker::WorkerError;
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(command)) {
        Ok(Ok(code)) => ExitCode::from(code),
        Ok(Err(e)) => {
            let line = match &e {
                WorkerError::Batch(BatchError::Job(job)) => error_line(job),
                WorkerError::Row {
                    source_name,
                    line,
                    error,
                } => format!(
                    "error: {source_name}:{line}: {}",
                    audiopack_batch::error_message(error)
                ),
                other => format!("error: {other}"),
            };
            eprintln!("{}", human::clean(&line));
            ExitCode::from(e.exit_class().code)
        }
        Err(_) => {
            eprintln!("error: internal error (please report): the command panicked");
            ExitCode::from(1)
        }
    }
}

fn publish(cli: &Cli, args: &PublishArgs, cancel: &CancellationToken) -> Result<(), Error> {
    let mut options = args.publish_options();
    options.cancel = Some(cancel.clone());
    let report = audiopack::publish_blocking(
        &args.dir,
        &Output::parse(&args.out),
        &args.storage.s3_options(),
        &options,
    )?;
    if args.json {
        print_json(&report)?;
    } else if !cli.quiet {
        print!("{}", human::publish(&report, cli.verbose || args.dry_run));
    }
    Ok(())
}

fn print_json<T: serde::Serialize>(value: &T) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::internal(format!("JSON output: {e}")))?;
    println!("{text}");
    Ok(())
}
