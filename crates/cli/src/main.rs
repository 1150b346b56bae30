//! `audiopack`: a thin shell over `audiopack-pipeline`.
//!
//! Exit codes (also in the README):
//! 0 success · 1 internal error (a bug) · 2 usage or invalid options ·
//! 3 bad input (corrupt, truncated, empty, lying header) ·
//! 4 unsupported input (unknown format or codec) · 5 input over the limits ·
//! 6 I/O or storage failure (unreadable input, unwritable output).

mod args;
mod human;
mod progress;

use std::error::Error as _;
use std::process::ExitCode;

use audiopack_pipeline::{JobError, JobErrorKind, NoProgress, Progress};
use clap::Parser;

use crate::args::{Cli, Command};
use crate::progress::Bar;

fn exit_code(kind: JobErrorKind) -> u8 {
    match kind {
        JobErrorKind::Internal => 1,
        JobErrorKind::Config => 2,
        JobErrorKind::BadInput => 3,
        JobErrorKind::Unsupported => 4,
        JobErrorKind::Limit => 5,
        JobErrorKind::Io => 6,
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
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
            eprintln!("{message}");
            ExitCode::from(exit_code(e.kind()))
        }
    }
}

fn run(cli: &Cli) -> Result<(), JobError> {
    let bar = Bar::new(cli.quiet);
    let progress: &dyn Progress = if cli.quiet { &NoProgress } else { &bar };
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
        Command::Ingest(args) => {
            let config = args.to_config()?;
            let report = audiopack_pipeline::run_ingest(&args.file, &args.out, &config, progress)?;
            if args.json {
                print_json(&report)?;
            } else if !cli.quiet {
                print!("{}", human::ingest(&report, &args.out, cli.verbose));
            }
        }
    }
    Ok(())
}

fn print_json<T: serde::Serialize>(value: &T) -> Result<(), JobError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| JobError::Config(format!("JSON output: {e}")))?;
    println!("{text}");
    Ok(())
}
