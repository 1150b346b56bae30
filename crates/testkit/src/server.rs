//! [`S3Server`]: an in-process S3-compatible server over a directory (s3s-fs).

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use s3s::auth::{SecretKey, SimpleAuth};
use s3s::service::{S3Service, S3ServiceBuilder};
use s3s_fs::FileSystem;
use tokio::net::TcpListener;

use crate::access::{Grant, Grants, S3User};
use crate::background::Background;

/// Pause after a failed `accept` (e.g. out of file descriptors) before the
/// next one, so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Name prefixes of files s3s-fs keeps for itself (atomic-write temporaries,
/// multipart parts); they are never object keys.
const INTERNAL_PREFIXES: [&str; 2] = [".tmp.", ".upload_id-"];

/// An S3-compatible server (s3s-fs) serving a directory on
/// `127.0.0.1:<port>`, with SigV4 authentication for one key pair or for
/// several with their own permissions ([`S3User`]).
///
/// It runs on its own thread and tokio runtime, so it can be used from plain
/// `#[test]` functions as well as from async ones. It stops when dropped.
///
/// Buckets are directories under [`root`](Self::root) and an object's bytes
/// live at [`object_path`](Self::object_path) (`root/bucket/key`), so tests
/// can check what landed on "the bucket" with plain file reads. Requests
/// are path-style (`http://127.0.0.1:PORT/bucket/key`).
pub struct S3Server {
    root: PathBuf,
    background: Background,
}

impl S3Server {
    /// Serves `root` (created if missing) on `127.0.0.1:<free port>` with
    /// SigV4 auth for this one key pair, which may do everything. Returns
    /// once the listener is bound, so a client may connect immediately.
    ///
    /// # Errors
    ///
    /// When `root` cannot be created or resolved, or the port cannot be bound.
    pub fn start(root: &Path, access_key: &str, secret_key: &str) -> io::Result<S3Server> {
        Self::start_on_port(root, 0, access_key, secret_key)
    }

    /// Like [`start`](Self::start) on a chosen port of `127.0.0.1`
    /// (0 picks a free one).
    ///
    /// # Errors
    ///
    /// When `root` cannot be created or resolved, or the port cannot be bound.
    pub fn start_on_port(
        root: &Path,
        port: u16,
        access_key: &str,
        secret_key: &str,
    ) -> io::Result<S3Server> {
        Self::start_with_users(
            root,
            port,
            &[S3User::new(access_key, secret_key, Grant::Full)],
        )
    }

    /// Serves `root` for several key pairs, each limited by its [`Grant`]
    /// (a denied operation is answered `403 AccessDenied`, as S3 answers a
    /// request its policies refuse). Port 0 picks a free one.
    ///
    /// # Errors
    ///
    /// When `root` cannot be created or resolved, or the port cannot be bound.
    pub fn start_with_users(root: &Path, port: u16, users: &[S3User]) -> io::Result<S3Server> {
        std::fs::create_dir_all(root)?;
        // s3s-fs canonicalizes its root; use the same path for ours so
        // `object_path` names exactly the file the server writes.
        let root = root.canonicalize()?;
        let fs = FileSystem::new(&root).map_err(|e| {
            io::Error::other(format!("s3s-fs cannot serve {}: {e:?}", root.display()))
        })?;
        let mut auth = SimpleAuth::new();
        let mut grants = HashMap::new();
        for user in users {
            auth.register(
                user.access_key.clone(),
                SecretKey::from(user.secret_key.as_str()),
            );
            grants.insert(user.access_key.clone(), user.grant);
        }
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(auth);
        builder.set_access(Grants(grants));
        let service = builder.build();
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let background = Background::spawn("s3-test-server", addr, move |listener| {
            serve_s3(listener, service)
        })?;
        Ok(S3Server { root, background })
    }

    /// Blocks the calling thread, serving until the process is killed.
    /// For the `s3-test-server` binary.
    ///
    /// # Errors
    ///
    /// Only if the server thread fails or panics.
    pub fn serve_forever(mut self) -> io::Result<()> {
        self.background.wait()
    }

    /// The base URL for an S3 client: `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.background.addr()
    }

    /// The served directory (canonicalized).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where s3s-fs stores an object's bytes: `root/bucket/key`.
    pub fn object_path(&self, bucket: &str, key: &str) -> PathBuf {
        self.root.join(bucket).join(key)
    }

    /// Creates the bucket (a directory under root); an existing one is kept.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a name S3 would reject (which s3s-fs would not list
    /// as a bucket), or the error creating the directory.
    pub fn create_bucket(&self, bucket: &str) -> io::Result<()> {
        if !s3s::path::check_bucket_name(bucket) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("invalid S3 bucket name {bucket:?}"),
            ));
        }
        std::fs::create_dir_all(self.root.join(bucket))
    }

    /// All object keys of a bucket, sorted, with `/` separators; empty when
    /// the bucket does not exist. s3s-fs internal files are skipped.
    pub fn list_keys(&self, bucket: &str) -> Vec<String> {
        let mut keys = Vec::new();
        collect_keys(&self.root.join(bucket), "", &mut keys);
        keys.sort();
        keys
    }
}

/// Walks `dir`, pushing `prefix + name` for every regular file.
/// Unreadable directories and non-UTF-8 names are skipped (s3s-fs cannot
/// serve those as keys either).
fn collect_keys(dir: &Path, prefix: &str, keys: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if INTERNAL_PREFIXES.iter().any(|p| name.starts_with(p)) {
            continue;
        }
        let Ok(file_type) = entry.file_type() else {
            continue;
        };
        let key = format!("{prefix}{name}");
        if file_type.is_dir() {
            collect_keys(&entry.path(), &format!("{key}/"), keys);
        } else if file_type.is_file() {
            keys.push(key);
        }
    }
}

impl std::fmt::Debug for S3Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Server")
            .field("addr", &self.addr())
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

/// Accepts connections forever, each served by hyper (HTTP/1.1) over the
/// s3s service on its own task.
async fn serve_s3(listener: TcpListener, service: S3Service) -> io::Result<()> {
    let http = ConnBuilder::new(TokioExecutor::new());
    loop {
        let socket = match listener.accept().await {
            Ok((socket, _)) => socket,
            Err(_) => {
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        // Small request/response exchanges must not wait on Nagle.
        let _ = socket.set_nodelay(true);
        let connection = http
            .serve_connection(TokioIo::new(socket), service.clone())
            .into_owned();
        tokio::spawn(async move {
            // A client going away mid-request is not the server's problem.
            let _ = connection.await;
        });
    }
}
