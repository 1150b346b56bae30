//! `audiopack serve DIR`: the options, the printed URL and `--open` over
//! `audiopack_serve` (the server lives there).
//!
//! Exit codes: 0 when stopped by Ctrl-C / SIGTERM / SIGHUP (stopping is
//! how it ends); 6 when it cannot start: DIR missing or not a directory,
//! the address busy or not bindable, no runtime (a second signal exits at
//! once with 128 + the signal, as every command).

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Command, ExitCode, Stdio};

use audiopack::CancellationToken;
use audiopack_serve::{ServeError, ServeOptions, Server};

use crate::args::{Cli, ServeArgs};
use crate::human::clean;

/// Local I/O (README: exit codes).
const EXIT_IO: u8 = 6;

pub fn run(cli: &Cli, args: &ServeArgs, cancel: &CancellationToken) -> ExitCode {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("audiopack-serve")
        .enable_all()
        .build();
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: starting the I/O runtime: {e}");
            return ExitCode::from(EXIT_IO);
        }
    };
    match runtime.block_on(serve(cli, args, cancel)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}", clean(&error_line(&e)));
            ExitCode::from(EXIT_IO)
        }
    }
}

async fn serve(cli: &Cli, args: &ServeArgs, cancel: &CancellationToken) -> Result<(), ServeError> {
    let mut options = ServeOptions::new(&args.dir).addr(SocketAddr::new(args.bind, args.port));
    if cli.verbose {
        options = options.access_log(|access| {
            eprintln!(
                "{} {} {} {}",
                access.peer,
                access.method,
                clean(&access.target),
                access.status.as_u16()
            );
        });
    }
    let server = Server::bind(options).await?;
    let url = browsable_url(server.local_addr());
    if !cli.quiet {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(
            stdout,
            "Serving {} at {url} (Ctrl-C to stop)",
            clean(&server.root().display().to_string())
        );
        let _ = stdout.flush();
    }
    if !server.local_addr().ip().is_loopback() {
        eprintln!(
            "warning: listening on {}: anyone who can reach this machine can read {}",
            server.local_addr(),
            clean(&server.root().display().to_string())
        );
    }
    if args.open {
        open_browser(&url);
    }
    server.run(cancel.clone().cancelled_owned()).await;
    Ok(())
}

/// The server's URL; for an unspecified address (0.0.0.0, ::), the
/// loopback one a local browser can open.
fn browsable_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}/", SocketAddr::new(ip, addr.port()))
}

fn error_line(e: &ServeError) -> String {
    match e {
        ServeError::Bind { source, .. } if source.kind() == std::io::ErrorKind::AddrInUse => {
            format!(
                "error: {e} (another server holds it: choose --port, or --port 0 for any free port)"
            )
        }
        other => format!("error: {other}"),
    }
}

/// Starts the system's URL opener and never waits on it in the serving
/// path; a missing or failing opener is a note, not an error.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let spawned = Command::new(opener)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    match spawned {
        Ok(mut child) => {
            let url = url.to_string();
            let waiter = std::thread::Builder::new()
                .name("browser".into())
                .spawn(move || match child.wait() {
                    Ok(status) if status.success() => {}
                    _ => eprintln!("note: {opener} could not open a browser: open {url} yourself"),
                });
            drop(waiter);
        }
        Err(e) => eprintln!("note: cannot start {opener} ({e}): open {url} yourself"),
    }
}
