//! A TCP listener served on its own thread and tokio runtime, stopped on drop.
//!
//! Both [`S3Server`](crate::S3Server) and [`FaultProxy`](crate::FaultProxy)
//! are synchronous handles around one of these, so plain `#[test]` functions
//! (and async tests, whose runtime must not be blocked or dropped from inside)
//! can start and stop them.

use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// How long a stopping runtime waits for blocking work (s3s-fs file I/O
/// runs on tokio's blocking pool) before it is abandoned.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Worker threads per runtime: enough for a client, a proxy and a server to
/// overlap on a small CI machine without starving each other.
const WORKER_THREADS: usize = 2;

/// A listener bound before [`Background::spawn`] returns and served by
/// `serve` until the handle is dropped.
pub(crate) struct Background {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl Background {
    /// Binds `addr` now (so a client may connect as soon as this returns),
    /// then runs `serve(listener)` on a new thread named `name`.
    pub(crate) fn spawn<F, Fut>(name: &str, addr: SocketAddr, serve: F) -> io::Result<Self>
    where
        F: FnOnce(TcpListener) -> Fut + Send + 'static,
        Fut: Future<Output = io::Result<()>>,
    {
        let listener = StdTcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(WORKER_THREADS)
            .thread_name(format!("{name}-worker"))
            .enable_io()
            .enable_time()
            .build()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let result = runtime.block_on(async move {
                    let listener = TcpListener::from_std(listener)?;
                    tokio::select! {
                        result = serve(listener) => result,
                        // A send or a dropped sender both mean "stop".
                        _ = stopped => Ok(()),
                    }
                });
                // Cancels every connection task and closes its socket.
                runtime.shutdown_timeout(SHUTDOWN_GRACE);
                result
            })?;
        Ok(Self {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The bound address (the real port when 0 was asked for).
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Blocks until the serving thread ends, which happens only if serving
    /// fails; returns that failure.
    pub(crate) fn wait(&mut self) -> io::Result<()> {
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("server thread panicked"))),
            None => Ok(()),
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            // The thread may already have ended; nothing to tell it then.
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            // A panic or an I/O error while serving has nobody to report to
            // during drop; the tests using the server see its effects.
            let _ = thread.join();
        }
    }
}
