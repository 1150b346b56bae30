//! `s3-test-server ROOT [--port N] [--latency MS] --access-key AK --secret-key SK`
//!
//! Serves ROOT as S3 (s3s-fs, path-style, SigV4 for the one key pair) on
//! 127.0.0.1, prints `endpoint http://127.0.0.1:PORT` on stdout, then serves
//! until killed. With `--latency`, the printed endpoint is a proxy that
//! holds every request that long before forwarding it (a distant origin,
//! for benchmarks). For benchmarks and manual runs; tests use
//! `audiopack_testkit::S3Server` in-process instead.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use std::sync::Arc;
use std::time::Duration;

use audiopack_testkit::{Fault, FaultProxy, RequestInfo, S3Server};

const USAGE: &str =
    "usage: s3-test-server ROOT [--port N] [--latency MS] --access-key AK --secret-key SK";

/// Validated command-line arguments.
struct Args {
    root: PathBuf,
    port: u16,
    latency: Duration,
    access_key: String,
    secret_key: String,
}

/// What the command line asks for.
enum Command {
    Serve(Args),
    Help,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Command, String> {
    let mut root = None;
    let mut port = 0u16;
    let mut latency = Duration::ZERO;
    let mut access_key = None;
    let mut secret_key = None;
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if arg.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--port" => {
                let text = value("--port")?;
                port = text
                    .parse()
                    .map_err(|_| format!("--port: not a port number: {text:?}"))?;
            }
            "--latency" => {
                let text = value("--latency")?;
                let ms: u64 = text
                    .parse()
                    .map_err(|_| format!("--latency: not a number of milliseconds: {text:?}"))?;
                latency = Duration::from_millis(ms);
            }
            "--access-key" => access_key = Some(value("--access-key")?),
            "--secret-key" => secret_key = Some(value("--secret-key")?),
            _ if arg.starts_with('-') => return Err(format!("unknown option {arg:?}")),
            _ if root.is_none() => root = Some(PathBuf::from(arg)),
            _ => return Err(format!("unexpected argument {arg:?}")),
        }
    }
    Ok(Command::Serve(Args {
        root: root.ok_or("missing ROOT")?,
        port,
        latency,
        access_key: access_key.ok_or("missing --access-key")?,
        secret_key: secret_key.ok_or("missing --secret-key")?,
    }))
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Command::Serve(args)) => args,
        Ok(Command::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("s3-test-server: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match serve(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("s3-test-server: {}: {e}", args.root.display());
            ExitCode::FAILURE
        }
    }
}

fn serve(args: &Args) -> std::io::Result<()> {
    let server =
        S3Server::start_on_port(&args.root, args.port, &args.access_key, &args.secret_key)?;
    let latency = args.latency;
    let proxy = if latency.is_zero() {
        None
    } else {
        Some(FaultProxy::start(
            server.addr(),
            Arc::new(move |_: &RequestInfo| Some(Fault::Delay(latency))),
        )?)
    };
    let endpoint = proxy
        .as_ref()
        .map_or_else(|| server.endpoint(), FaultProxy::endpoint);
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "endpoint {endpoint}")?;
    stdout.flush()?;
    drop(stdout);
    server.serve_forever()
}
