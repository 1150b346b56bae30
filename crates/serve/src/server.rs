//! [`ServeOptions`] → [`Server::bind`] (the root checked, the socket
//! bound: the address is known before serving) → [`Server::run`] until the
//! shutdown future completes.

use std::convert::Infallible;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::body::ResponseBody;
use crate::error::ServeError;
use crate::handler;

/// How long a client may take to send a request's headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The pause after a failed `accept` (out of file descriptors, …).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// One answered request, for an access log.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Access {
    /// Who asked.
    pub peer: SocketAddr,
    /// `GET`, `HEAD`, …
    pub method: String,
    /// The request target as sent (path and query, still encoded).
    pub target: String,
    /// The answer's status.
    pub status: StatusCode,
}

/// Called once per answered request.
pub type AccessLog = Arc<dyn Fn(&Access) + Send + Sync>;

/// What to serve and where.
#[derive(Clone)]
#[non_exhaustive]
pub struct ServeOptions {
    /// The directory served (a package, a batch output, any directory).
    pub root: PathBuf,
    /// Where to listen: [`ServeOptions::DEFAULT_ADDR`] unless set; port 0
    /// takes any free port (see [`Server::local_addr`]).
    pub addr: SocketAddr,
    /// Called after each request is answered.
    pub access_log: Option<AccessLog>,
}

impl ServeOptions {
    /// 127.0.0.1:8000: this machine only.
    pub const DEFAULT_ADDR: SocketAddr =
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8000));

    /// Serves `root` on [`ServeOptions::DEFAULT_ADDR`].
    pub fn new(root: impl Into<PathBuf>) -> ServeOptions {
        ServeOptions {
            root: root.into(),
            addr: ServeOptions::DEFAULT_ADDR,
            access_log: None,
        }
    }

    /// Listens on `addr` instead (`0.0.0.0:…` exposes the files to the
    /// network: only when asked).
    pub fn addr(mut self, addr: SocketAddr) -> ServeOptions {
        self.addr = addr;
        self
    }

    /// Calls `log` after each request.
    pub fn access_log(mut self, log: impl Fn(&Access) + Send + Sync + 'static) -> ServeOptions {
        self.access_log = Some(Arc::new(log));
        self
    }
}

impl fmt::Debug for ServeOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeOptions")
            .field("root", &self.root)
            .field("addr", &self.addr)
            .field("access_log", &self.access_log.is_some())
            .finish()
    }
}

/// A bound server, not yet answering.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    local_addr: SocketAddr,
    root: PathBuf,
    options: ServeOptions,
}

impl Server {
    /// Checks the root (it must exist and be a directory) and binds.
    ///
    /// # Errors
    ///
    /// [`ServeError::Root`] for a missing or unreadable root or one that is
    /// not a directory; [`ServeError::Bind`] when the address cannot be
    /// listened on (in use, not local, privileged port).
    pub async fn bind(options: ServeOptions) -> Result<Server, ServeError> {
        let root =
            crate::path::canonical_root(&options.root).map_err(|source| ServeError::Root {
                path: options.root.clone(),
                source,
            })?;
        let bind_error = |source: io::Error| ServeError::Bind {
            addr: options.addr,
            source,
        };
        let listener = TcpListener::bind(options.addr).await.map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;
        Ok(Server {
            listener,
            local_addr,
            root,
            options,
        })
    }

    /// The address actually bound (the port chosen for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://<address>/` (IPv6 in brackets).
    pub fn url(&self) -> String {
        format!("http://{}/", self.local_addr)
    }

    /// The canonical directory served.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Answers requests until `shutdown` completes, then closes the
    /// listener and every open connection (a player's keep-alive
    /// connection would otherwise hold the process). A failed `accept`
    /// (out of file descriptors) is retried after a pause; nothing that
    /// happens to one connection stops the server.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let root: Arc<Path> = Arc::from(self.root.as_path());
        let log = self.options.access_log.clone();
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT);
        let mut connections = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                accepted = self.listener.accept() => {
                    let (socket, peer) = match accepted {
                        Ok(accepted) => accepted,
                        Err(_) => {
                            tokio::time::sleep(ACCEPT_BACKOFF).await;
                            continue;
                        }
                    };
                    let _ = socket.set_nodelay(true);
                    let (root, log) = (Arc::clone(&root), log.clone());
                    let service = service_fn(move |request| {
                        answer(Arc::clone(&root), log.clone(), peer, request)
                    });
                    let connection = http.serve_connection(TokioIo::new(socket), service);
                    connections.spawn(async move {
                        let _ = connection.await;
                    });
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        drop(self.listener);
        connections.shutdown().await;
    }
}

async fn answer(
    root: Arc<Path>,
    log: Option<AccessLog>,
    peer: SocketAddr,
    request: Request<Incoming>,
) -> Result<hyper::Response<ResponseBody>, Infallible> {
    let response =
        handler::respond(&root, request.method(), request.uri(), request.headers()).await;
    if let Some(log) = log {
        log(&Access {
            peer,
            method: request.method().to_string(),
            target: request
                .uri()
                .path_and_query()
                .map_or_else(|| request.uri().to_string(), ToString::to_string),
            status: response.status(),
        });
    }
    Ok(response)
}

/// Binds and serves `options` until `shutdown` completes.
///
/// # Errors
///
/// As [`Server::bind`]; once serving, nothing ends it but `shutdown`.
pub async fn serve(
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    Server::bind(options).await?.run(shutdown).await;
    Ok(())
}
