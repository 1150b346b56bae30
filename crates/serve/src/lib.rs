//! # audiopack-serve
//!
//! `audiopack serve DIR`: a small local HTTP server that serves a package
//! (or a batch output) so it can be auditioned in a browser or a player
//! before it is published.
//!
//! ## Design
//!
//! ```text
//!  ServeOptions { root, addr = 127.0.0.1:8000 (port 0: any free port), access_log }
//!     │  Server::bind ── root canonicalized, must be a directory ── TcpListener bound
//!     ▼                  (ServeError::Root / ::Bind)        local_addr() / url() known here
//!  Server::run(shutdown) ── accept loop (hyper 1, HTTP/1.1, one task per connection)
//!     │     request ──► path::RequestPath::parse   (pure: decode once, refuse `..`, NUL, `\`)
//!     │             ──► path::resolve               (canonicalize, must stay under the root)
//!     │             ──► file:      range::answer (pure) → 200 / 206 / 416, streamed in 64 KiB frames
//!     │                 directory: index.html, else index::directory_page
//!     │                            (batch-report.json → tracks table; report.json → package page;
//!     │                             else a listing) rendered by page (pure, every text escaped)
//!     ▼
//!  shutdown completes → listener closed, open connections dropped
//! ```
//!
//! ## What is served
//!
//! * **GET and HEAD** of files and directories; **OPTIONS** answers CORS
//!   preflights (204, any origin, the requested headers allowed); any other
//!   method: 405 with `Allow: GET, HEAD, OPTIONS`.
//! * **Every response** carries `Access-Control-Allow-Origin: *`,
//!   `Access-Control-Expose-Headers` (Content-Range, Content-Length,
//!   Accept-Ranges, …), `Cache-Control: no-store` (ops re-encode and
//!   reload) and `X-Content-Type-Options: nosniff`.
//! * **Content types** by extension ([`content_type`]): `.m3u8`
//!   `application/vnd.apple.mpegurl`, `.mpd` `application/dash+xml`,
//!   `.mp4`/`.m4s` `audio/mp4`, `.opus` `audio/ogg`, `.flac` `audio/flac`,
//!   `.json`, `.html`, `.js`, `.css`, `.svg`, `.xml`; anything else
//!   `application/octet-stream`.
//! * **Byte ranges**: `Accept-Ranges: bytes`; one range `bytes=a-b`,
//!   `bytes=a-` or `bytes=-n` → 206 with `Content-Range`; a range starting
//!   at or past the end → 416 with `Content-Range: bytes */size`. A request
//!   for **several ranges**, another unit or a malformed value is ignored
//!   (RFC 9110 allows it): 200 with the whole file. `If-Range` is honoured
//!   against the `ETag` (size and modification time) or `Last-Modified`;
//!   when it does not match, the whole file is sent.
//! * **Directories**: a request without the trailing slash is redirected
//!   (301) to it; then `index.html` if the directory has one, else a
//!   generated page: for a **batch output** (`batch-report.json`) a table
//!   of tracks (id, status and error, loudness in and out, gain, true peak
//!   and warning count from the track's `report.json`, links to its
//!   `report.html` or `report.json` and its manifests); for a **package**
//!   (`report.json`) its facts, loudness, gain, true peak, warnings and
//!   links to `master.m3u8`, `lossless.m3u8`, `manifest.mpd`, the reports
//!   and the media playlists; anything else gets a plain listing. Reports
//!   are read generically: a field that is missing shows as "–".
//!
//! ## Path safety
//!
//! A request is answered only with a file under the root:
//!
//! 1. The path is percent-decoded **once**; a bad escape, bytes that are
//!    not UTF-8, a control character (NUL included) or a backslash →
//!    **400**, before any file is looked at.
//! 2. The decoded path is split on `/` (a decoded `%2F` separates too);
//!    empty and `.` segments are dropped; a `..` segment → **400**. So
//!    `/../x`, `/%2e%2e/x` and `/a%2F..%2Fx` are all refused.
//! 3. The joined path is canonicalized (every symbolic link followed) and
//!    must lie under the canonical root: a link inside the root that leads
//!    outside → **403** (and it is left out of listings and index pages);
//!    a link that stays inside is served. Nothing there (a dangling link
//!    included) → **404**; devices, sockets and FIFOs → 404.
//!
//! The check is made against the tree as it is when the request arrives;
//! a concurrent rename of a checked directory into a link is not guarded
//! against (this is a local audition tool, not a multi-tenant server).
//! The server listens on **127.0.0.1** unless another address is given.
//!
//! ```no_run
//! use audiopack_serve::{ServeOptions, Server};
//!
//! # async fn example() -> Result<(), audiopack_serve::ServeError> {
//! let options = ServeOptions::new("out/demo").addr("127.0.0.1:0".parse().expect("address"));
//! let server = Server::bind(options).await?;
//! println!("listening on {}", server.url());
//! server.run(std::future::pending()).await; // or a Ctrl-C future

//! # Ok(())
//! # }
//! ```

mod body;
mod error;
mod handler;
mod index;
mod mime;
mod page;
mod path;
mod range;
mod server;
mod summary;

pub use error::ServeError;
pub use mime::content_type;
pub use server::{Access, AccessLog, ServeOptions, Server, serve};
