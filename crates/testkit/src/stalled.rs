//! [`StalledEndpoint`]: a TCP endpoint that accepts connections and never
//! answers, like a server whose process hangs or a firewall that lets the
//! handshake through and black-holes the rest.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

use crate::background::Background;

/// Pause after a failed `accept` before the next one.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Accepts TCP connections on `127.0.0.1:<free port>`, reads whatever the
/// client sends and throws it away, and never writes a byte: every request
/// waits for an answer that does not come. Connections stay open until the
/// client closes them or the endpoint is dropped.
///
/// A client without timeouts hangs on it for ever; one that has them must
/// give up on its own (connect succeeds at once, so only the read /
/// first-byte and per-attempt timeouts can end the wait).
pub struct StalledEndpoint {
    connections: Arc<AtomicU64>,
    bytes_received: Arc<AtomicU64>,
    background: Background,
}

impl StalledEndpoint {
    /// Starts listening; returns once the listener is bound.
    ///
    /// # Errors
    ///
    /// When no port can be bound or the runtime cannot start.
    pub fn start() -> io::Result<StalledEndpoint> {
        let connections = Arc::new(AtomicU64::new(0));
        let bytes_received = Arc::new(AtomicU64::new(0));
        let (c, b) = (Arc::clone(&connections), Arc::clone(&bytes_received));
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let background = Background::spawn("stalled-endpoint", addr, move |listener| {
            swallow(listener, c, b)
        })?;
        Ok(StalledEndpoint {
            connections,
            bytes_received,
            background,
        })
    }

    /// The base URL for a client: `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.background.addr()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// Bytes received (and ignored) so far, over all connections.
    pub fn bytes_received(&self) -> u64 {
        self.bytes_received.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for StalledEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StalledEndpoint")
            .field("addr", &self.addr())
            .field("connections", &self.connections())
            .finish_non_exhaustive()
    }
}

async fn swallow(
    listener: TcpListener,
    connections: Arc<AtomicU64>,
    bytes_received: Arc<AtomicU64>,
) -> io::Result<()> {
    loop {
        let mut socket = match listener.accept().await {
            Ok((socket, _)) => socket,
            Err(_) => {
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        connections.fetch_add(1, Ordering::Relaxed);
        let bytes_received = Arc::clone(&bytes_received);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 16 * 1024];
            // Until the client goes away; never a byte back.
            while let Ok(n) = socket.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                bytes_received.fetch_add(n as u64, Ordering::Relaxed);
            }
        });
    }
}
