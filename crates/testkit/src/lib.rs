//! # audiopack-testkit
//!
//! Test support for the S3 side of `audiopack-publish`: a real S3-compatible
//! server and a proxy that breaks requests on purpose, both on 127.0.0.1.
//!
//! * [`S3Server`] serves a directory through [s3s-fs] with SigV4
//!   authentication, for one key pair or for several with their own
//!   permissions ([`Grant`]: everything, reads only, nothing), so access
//!   denied is a real server answer too. Objects land as plain files
//!   (`root/bucket/key`), so a test checks what was uploaded with file
//!   reads, and can tell an object that exists from one that does not
//!   without going through the client under test.
//! * [`FaultProxy`] sits between the client and the server and, following a
//!   [`FaultPlan`], answers `503 SlowDown` or `500 InternalError`, drops a
//!   request before or after the server applied it, delays it, or refuses
//!   connections: the failures an uploader must survive (retry, idempotent
//!   re-upload, giving up cleanly). It can also read request bodies slowly
//!   (a slow uplink: uploads progress, but take long) and counts the bytes
//!   it answers with (what a download really fetched).
//! * [`StalledEndpoint`] accepts connections and never answers: what a
//!   client's timeouts must end.
//! * [`speke::SpekeServer`] is a SPEKE v2 key server (over http, or https
//!   with [`TestTls`]: a CA made for the run).
//! * The `s3-test-server` binary serves a directory the same way for
//!   benchmarks and manual runs.
//!
//! ## Why in-process
//!
//! The server and the proxy are libraries started from the test itself, each
//! on its own thread and tokio runtime, bound to a free port before `start`
//! returns and stopped on drop. Nothing has to be installed or launched
//! beside `cargo test` (no MinIO, no Docker, no `s3s-fs` binary in CI), tests
//! run in parallel without port clashes, and their handles are synchronous,
//! so plain `#[test]` functions can use them as well as async ones.
//!
//! ```no_run
//! use audiopack_testkit::{Fault, FaultProxy, RequestInfo, S3Server};
//! use std::sync::Arc;
//!
//! # fn main() -> std::io::Result<()> {
//! let dir = std::env::temp_dir().join("testkit-doc");
//! let server = S3Server::start(&dir, "AKEXAMPLE", "SKEXAMPLE")?;
//! server.create_bucket("media")?;
//! // Every PUT fails with SlowDown on its first attempt.
//! let proxy = FaultProxy::start(
//!     server.addr(),
//!     Arc::new(|r: &RequestInfo| (r.method == "PUT" && r.attempt == 1).then_some(Fault::SlowDown)),
//! )?;
//! // ... point the client under test at proxy.endpoint() (path-style) ...
//! assert!(server.list_keys("media").is_empty());
//! # Ok(())
//! # }
//! ```
//!
//! [s3s-fs]: https://crates.io/crates/s3s-fs

mod access;
mod background;
mod http1;
mod proxy;
mod server;
pub mod speke;
mod stalled;
mod tls;

pub use access::{Grant, S3User};
pub use proxy::{Fault, FaultPlan, FaultProxy, FaultStats, RequestInfo, no_faults};
pub use server::S3Server;
pub use stalled::StalledEndpoint;
pub use tls::TestTls;
