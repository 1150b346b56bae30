//! [`ServeError`]: what keeps a server from starting. Once it serves,
//! nothing but the shutdown future ends it (a failed request is answered;
//! a failed connection is dropped).

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The directory to serve is missing, unreadable or not a directory.
    #[error("{}: cannot serve: {source}", path.display())]
    Root {
        /// The directory as given.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The address could not be listened on.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why (`AddrInUse`: another server holds it).
        #[source]
        source: io::Error,
    },
}
