//! `audiopack`: a thin shell over `audiopack-pipeline` and
//! `audiopack-publish`.
//!
//! Exit codes (also in the README):
//! 0 success · 1 internal error (a bug) · 2 usage or invalid options ·
//! 3 bad input (corrupt, truncated, empty, lying header) ·
//! 4 unsupported input (unknown format or codec) · 5 input over the limits ·
//! 6 local I/O failure or missing input object ·
//! 7 storage credentials rejected or missing · 8 storage access denied ·
//! 9 bucket does not exist · 10 storage endpoint unreachable ·
//! 11 storage failed (errors that persisted through every retry) ·
//! 12 conflict · 129/130/143 stopped by SIGHUP/SIGINT/SIGTERM.

mod args;
mod human;
mod progress;
mod signals;

use std::error::Error as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use audiopack_pipeline::{JobError, JobErrorKind, Progress, ScratchDir};
use audiopack_publish::{
    DirStore, Location, PublishError, PublishErrorKind, S3Store, Store, StoreErrorKind,
};
use clap::Parser;

use crate::args::{Cli, Command, IngestArgs, PublishArgs, StorageArgs};
use crate::progress::Bar;
use crate::signals::StopSignal;

fn exit_code(kind: PublishErrorKind, stop: &StopSignal) -> u8 {
    match kind {
        PublishErrorKind::Job(JobErrorKind::Cancelled) => {
            // 128 + the signal that cancelled the job (SIGINT by default).
            u8::try_from(128 + stop.received().unwrap_or(2)).unwrap_or(130)
        }
        PublishErrorKind::Job(JobErrorKind::Internal) => 1,
        PublishErrorKind::Job(JobErrorKind::Config) | PublishErrorKind::Config => 2,
        PublishErrorKind::Job(JobErrorKind::BadInput) => 3,
        PublishErrorKind::Job(JobErrorKind::Unsupported) => 4,
        PublishErrorKind::Job(JobErrorKind::Limit) => 5,
        PublishErrorKind::Job(JobErrorKind::Io)
        | PublishErrorKind::Io
        | PublishErrorKind::Store(StoreErrorKind::NoSuchKey) => 6,
        PublishErrorKind::Store(StoreErrorKind::Credentials) => 7,
        PublishErrorKind::Store(StoreErrorKind::AccessDenied) => 8,
        PublishErrorKind::Store(StoreErrorKind::NoSuchBucket) => 9,
        PublishErrorKind::Store(StoreErrorKind::Unreachable) => 10,
        PublishErrorKind::Store(StoreErrorKind::Failed) => 11,
        PublishErrorKind::Store(StoreErrorKind::Conflict) => 12,
    }
}

/// A downloaded `s3://` input: messages name the URL, not the spool file.
struct SpooledInput {
    local: PathBuf,
    url: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let stop = StopSignal::install();
    // Panics are caught (in the decoder calls, at the job boundary, and
    // here) and reported as one `error:` line: the default hook's
    // "thread panicked at …" lines would break the one-line contract.
    std::panic::set_hook(Box::new(|_| {}));
    let mut spooled = None;
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run(&cli, &stop, &mut spooled)
    }));
    let outcome = match outcome {
        Ok(outcome) => outcome,
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
            return ExitCode::from(1);
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut message = format!("error: {e}");
            let mut source = e.source();
            // Our messages already embed their immediate cause for I/O
            // errors; print deeper causes only when they add something.
            while let Some(s) = source {
                let text = s.to_string();
                if !message.contains(&text) {
                    message.push_str(&format!(": {text}"));
                }
                source = s.source();
            }
            if let Some(s) = &spooled {
                message = message.replace(&s.local.display().to_string(), &s.url);
            }
            eprintln!("{}", human::clean(&message));
            ExitCode::from(exit_code(e.kind(), &stop))
        }
    }
}

fn run(
    cli: &Cli,
    stop: &StopSignal,
    spooled: &mut Option<SpooledInput>,
) -> Result<(), PublishError> {
    let bar = Bar::new(cli.quiet, stop.clone());
    let progress: &dyn Progress = &bar;
    match &cli.command {
        Command::Probe { file, json, input } => {
            let report = audiopack_pipeline::probe(file, &input.to_config())?;
            if *json {
                print_json(&report)?;
            } else if !cli.quiet {
                print!("{}", human::probe(&report));
            }
        }
        Command::Loudness { file, json, input } => {
            let report = audiopack_pipeline::loudness(file, &input.to_config(), progress)?;
            if *json {
                print_json(&report)?;
            } else if !cli.quiet {
                print!("{}", human::loudness(&report));
            }
        }
        Command::Ingest(args) => ingest(cli, args, progress, stop, spooled)?,
        Command::Publish(args) => publish(cli, args, stop)?,
    }
    Ok(())
}

/// `work`, unless a stop signal comes first: then the work is dropped
/// (its working directories go with it) and the job counts as cancelled.
async fn unless_stopped<T>(
    stop: &StopSignal,
    what: &str,
    work: impl std::future::Future<Output = Result<T, PublishError>>,
) -> Result<T, PublishError> {
    tokio::select! {
        result = work => result,
        () = stop.arrived() => Err(JobError::Cancelled { input: what.into() }.into()),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, PublishError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(PublishError::local(".", "starting the I/O runtime"))
}

async fn open_store(location: &Location, storage: &StorageArgs) -> Result<Store, PublishError> {
    Ok(match location {
        Location::Local(dir) => Store::Dir(DirStore::new(dir)),
        Location::S3(url) => Store::S3(Box::new(
            S3Store::connect(url.clone(), storage.s3_options()).await?,
        )),
    })
}

fn ingest(
    cli: &Cli,
    args: &IngestArgs,
    progress: &dyn Progress,
    stop: &StopSignal,
    spooled: &mut Option<SpooledInput>,
) -> Result<(), PublishError> {
    let config = args.to_config()?;
    let out = Location::parse_destination(&args.out)?;
    let remote_input = args.file.starts_with("s3://");
    if let (false, Location::Local(dir)) = (remote_input, &out) {
        let report = audiopack_pipeline::run_ingest(Path::new(&args.file), dir, &config, progress)?;
        if args.json {
            print_json(&report)?;
        } else if !cli.quiet {
            print!("{}", human::ingest(&report, dir, cli.verbose));
        }
        return Ok(());
    }
    let rt = runtime()?;
    let input_dir = ScratchDir::in_temp("audiopack-input-").map_err(PublishError::local(
        std::env::temp_dir(),
        "creating a temporary directory",
    ))?;
    let store = match &out {
        Location::S3(_) => Some(Arc::new(rt.block_on(unless_stopped(
            stop,
            &args.out,
            open_store(&out, &args.storage),
        ))?)),
        Location::Local(_) => None,
    };
    let (input, label) = if remote_input {
        if let Some(store) = &store {
            // Check the destination before a long download, not after.
            rt.block_on(unless_stopped(stop, &args.out, store.preflight()))?;
        }
        let local = rt.block_on(unless_stopped(
            stop,
            &args.file,
            // The object's head is checked against the limits first (one
            // ranged GET): an over-limit master is not downloaded.
            audiopack_publish::fetch_input_checked(
                &args.file,
                &args.storage.s3_options(),
                input_dir.path(),
                &config.ingest,
            ),
        ))?;
        *spooled = Some(SpooledInput {
            local: local.clone(),
            url: args.file.clone(),
        });
        (local, Some(args.file.as_str()))
    } else {
        (PathBuf::from(&args.file), None)
    };
    let (report, published) = match &out {
        Location::Local(dir) => {
            // s3:// input into a local directory: the usual staged output.
            let mut report = audiopack_pipeline::run_ingest(&input, dir, &config, progress)?;
            if let Some(label) = label {
                audiopack_pipeline::relabel_input(dir, &mut report, label)?;
            }
            (report, None)
        }
        Location::S3(_) => {
            let store = store.ok_or_else(|| PublishError::Config("no store".into()))?;
            let (report, published) = audiopack_publish::ingest_to_store(
                rt.handle(),
                &input,
                label,
                store,
                &config,
                progress,
                &args.storage.publish_options(false),
            )?;
            (report, Some(published))
        }
    };
    if args.json {
        let mut value = serde_json::to_value(&report)
            .map_err(|e| PublishError::Config(format!("JSON output: {e}")))?;
        if let (Some(p), Some(map)) = (&published, value.as_object_mut()) {
            map.insert(
                "publish".into(),
                serde_json::to_value(p)
                    .map_err(|e| PublishError::Config(format!("JSON output: {e}")))?,
            );
        }
        print_json(&value)?;
    } else if !cli.quiet {
        print!(
            "{}",
            human::ingest(&report, Path::new(&args.out), cli.verbose)
        );
        if let Some(p) = &published {
            print!("{}", human::publish(p, cli.verbose));
        }
    }
    Ok(())
}

fn publish(cli: &Cli, args: &PublishArgs, stop: &StopSignal) -> Result<(), PublishError> {
    let out = Location::parse_destination(&args.out)?;
    let rt = runtime()?;
    let report = rt.block_on(unless_stopped(stop, &args.out, async {
        let store = Arc::new(open_store(&out, &args.storage).await?);
        audiopack_publish::publish_package(&args.dir, store, &args.publish_options()).await
    }))?;
    if args.json {
        print_json(&report)?;
    } else if !cli.quiet {
        print!("{}", human::publish(&report, cli.verbose || args.dry_run));
    }
    Ok(())
}

fn print_json<T: serde::Serialize>(value: &T) -> Result<(), PublishError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| PublishError::Config(format!("JSON output: {e}")))?;
    println!("{text}");
    Ok(())
}
