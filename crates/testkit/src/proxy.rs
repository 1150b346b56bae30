//! [`FaultProxy`]: an HTTP/1.1 proxy that injects S3 failures on request.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::background::Background;
use crate::http1::{self, Head, RequestLine};

/// The largest request body accepted (bodies are buffered in memory).
const MAX_BODY_BYTES: u64 = 512 * 1024 * 1024;

/// How much room each read from a client makes in the pending buffer.
const READ_CHUNK_BYTES: usize = 16 * 1024;

/// How long a rejected client may keep sending before the connection closes.
const LINGER: Duration = Duration::from_secs(1);

/// Pause after a failed `accept` before the next one.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// A failure the proxy injects into one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Answer 503 with an S3 XML error body, code `SlowDown`, without forwarding.
    SlowDown,
    /// Answer 500 with an S3 XML error body, code `InternalError`, without forwarding.
    InternalError,
    /// Close the client connection without forwarding (the server never sees
    /// the request).
    DropBeforeForward,
    /// Forward, let the server apply the request and answer, then close the
    /// client connection without sending the response: a write that landed
    /// but whose answer was lost.
    DropAfterForward,
    /// Wait this long, then forward normally.
    Delay(Duration),
}

/// What a [`FaultPlan`] sees of a request when deciding its fate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestInfo {
    /// The HTTP method, e.g. `PUT`.
    pub method: String,
    /// The path as sent (percent-encoded), without the query:
    /// `/bucket/key` for a path-style S3 client.
    pub path: String,
    /// The query string as sent, without the `?` (empty when none).
    pub query: String,
    /// The proxy-wide request number, from 0, in arrival order.
    pub seq: u64,
    /// How many requests with this method, path and query the proxy has seen
    /// so far, this one included (1 on the first try, 2 on the first retry…).
    pub attempt: u32,
}

/// Decides, per request, whether and how to fail it (`None`: forward it
/// untouched). Called once per request, from the proxy's threads.
pub type FaultPlan = Arc<dyn Fn(&RequestInfo) -> Option<Fault> + Send + Sync>;

/// A plan that never injects a fault.
pub fn no_faults() -> FaultPlan {
    Arc::new(|_: &RequestInfo| None)
}

/// Counters of what a [`FaultProxy`] has done since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultStats {
    /// Client connections accepted (refused ones included): with
    /// keep-alive, fewer than requests.
    pub connections: u64,
    /// Requests read from clients (whatever then happened to them).
    pub requests: u64,
    /// Requests sent to the upstream server (including delayed ones and
    /// those whose answer was then dropped).
    pub forwarded: u64,
    /// [`Fault::SlowDown`] answers given.
    pub slow_down: u64,
    /// [`Fault::InternalError`] answers given.
    pub internal_error: u64,
    /// [`Fault::DropBeforeForward`] faults injected.
    pub drop_before_forward: u64,
    /// [`Fault::DropAfterForward`] faults injected.
    pub drop_after_forward: u64,
    /// [`Fault::Delay`] faults injected.
    pub delayed: u64,
    /// Connections closed because the proxy was refusing: new ones as they
    /// were accepted, open ones when idle or when their next request came.
    pub refused_connections: u64,
    /// Bytes of the answers sent to clients (heads and bodies, relayed or
    /// made up), counted before they are written: at least what a client
    /// downloaded through the proxy.
    pub response_bytes: u64,
}

/// The live counters behind [`FaultStats`].
#[derive(Default)]
struct Counters {
    connections: AtomicU64,
    requests: AtomicU64,
    forwarded: AtomicU64,
    slow_down: AtomicU64,
    internal_error: AtomicU64,
    drop_before_forward: AtomicU64,
    drop_after_forward: AtomicU64,
    delayed: AtomicU64,
    refused_connections: AtomicU64,
    response_bytes: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// State shared by the proxy handle and its connection tasks.
struct Shared {
    upstream: SocketAddr,
    plan: RwLock<FaultPlan>,
    refusing: watch::Sender<bool>,
    seq: AtomicU64,
    attempts: Mutex<HashMap<String, u32>>,
    counters: Counters,
    /// Bytes per second read from each client; 0: as fast as they come.
    read_rate: AtomicU64,
}

impl Shared {
    /// Numbers a request and counts its attempt.
    fn request_info(&self, line: &RequestLine) -> RequestInfo {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let attempt = {
            let mut attempts = self.attempts.lock().unwrap_or_else(PoisonError::into_inner);
            let count = attempts
                .entry(format!("{} {}", line.method, line.target))
                .or_insert(0);
            *count = count.saturating_add(1);
            *count
        };
        RequestInfo {
            method: line.method.clone(),
            path: line.path().to_owned(),
            query: line.query().to_owned(),
            seq,
            attempt,
        }
    }

    fn plan(&self) -> FaultPlan {
        Arc::clone(&self.plan.read().unwrap_or_else(PoisonError::into_inner))
    }
}

/// A fault-injecting HTTP/1.1 proxy on `127.0.0.1:<free port>` in front of
/// an S3 server (typically an [`S3Server`](crate::S3Server)).
///
/// Point a path-style, plain-http S3 client at [`endpoint`](Self::endpoint).
/// Each request is read whole (`Content-Length` bodies; chunked requests get
/// 501), shown to the [`FaultPlan`] as a [`RequestInfo`], then either answered
/// by the proxy ([`Fault`]) or forwarded on a fresh upstream connection with
/// `Connection: close`. The response is relayed back and the client
/// connection kept alive when the response allows it, so clients pool
/// connections through the proxy as they would against S3. The `Host`
/// header is forwarded untouched: SigV4 signatures stay valid.
///
/// Runs on its own thread and tokio runtime; stops when dropped.
pub struct FaultProxy {
    shared: Arc<Shared>,
    background: Background,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` on a free port of 127.0.0.1. Returns once
    /// the listener is bound.
    ///
    /// # Errors
    ///
    /// When no port can be bound or the runtime cannot start.
    pub fn start(upstream: SocketAddr, plan: FaultPlan) -> io::Result<FaultProxy> {
        let shared = Arc::new(Shared {
            upstream,
            plan: RwLock::new(plan),
            refusing: watch::Sender::new(false),
            seq: AtomicU64::new(0),
            attempts: Mutex::new(HashMap::new()),
            counters: Counters::default(),
            read_rate: AtomicU64::new(0),
        });
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let task_shared = Arc::clone(&shared);
        let background = Background::spawn("s3-fault-proxy", addr, move |listener| {
            serve_proxy(listener, task_shared)
        })?;
        Ok(FaultProxy { shared, background })
    }

    /// The base URL for an S3 client: `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// The address the proxy listens on.
    pub fn addr(&self) -> SocketAddr {
        self.background.addr()
    }

    /// Replaces the plan; requests read from now on use the new one.
    pub fn set_plan(&self, plan: FaultPlan) {
        *self
            .shared
            .plan
            .write()
            .unwrap_or_else(PoisonError::into_inner) = plan;
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> FaultStats {
        let c = &self.shared.counters;
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        FaultStats {
            connections: get(&c.connections),
            requests: get(&c.requests),
            forwarded: get(&c.forwarded),
            slow_down: get(&c.slow_down),
            internal_error: get(&c.internal_error),
            drop_before_forward: get(&c.drop_before_forward),
            drop_after_forward: get(&c.drop_after_forward),
            delayed: get(&c.delayed),
            refused_connections: get(&c.refused_connections),
            response_bytes: get(&c.response_bytes),
        }
    }

    /// Reads from each client connection at most `bytes_per_second` (a
    /// slow uplink: an upload keeps progressing, slowly); `None` lifts the
    /// limit. Applies to reads made from now on.
    pub fn set_read_rate(&self, bytes_per_second: Option<u64>) {
        self.shared
            .read_rate
            .store(bytes_per_second.unwrap_or(0), Ordering::Relaxed);
    }

    /// While refusing, like an endpoint going away: new connections are
    /// closed as soon as they are accepted, idle kept-alive connections are
    /// closed, and a request arriving on an open connection closes it
    /// unanswered. Requests already being handled finish. `false` accepts
    /// again.
    pub fn set_refusing(&self, refusing: bool) {
        self.shared.refusing.send_replace(refusing);
    }
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("addr", &self.addr())
            .field("upstream", &self.shared.upstream)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Accepts clients forever, each served on its own task.
async fn serve_proxy(listener: TcpListener, shared: Arc<Shared>) -> io::Result<()> {
    loop {
        let client = match listener.accept().await {
            Ok((client, _)) => client,
            Err(_) => {
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        bump(&shared.counters.connections);
        if *shared.refusing.borrow() {
            bump(&shared.counters.refused_connections);
            drop(client);
            continue;
        }
        let _ = client.set_nodelay(true);
        tokio::spawn(serve_client(Arc::clone(&shared), client));
    }
}

/// A request read whole from a client.
struct Request {
    line: RequestLine,
    head: Head,
    body: Vec<u8>,
}

impl Request {
    fn is_head(&self) -> bool {
        self.line.method.eq_ignore_ascii_case("HEAD")
    }

    /// Whether the client lets the connection carry another request.
    fn keep_alive(&self) -> bool {
        self.line.http11 && !self.head.has_token("connection", "close")
    }
}

/// Why a request could not be read.
#[derive(Clone, Copy)]
enum ReadError {
    /// The connection failed or closed mid-request: just drop it.
    Io,
    /// Answer this status and close.
    Reject(u16, &'static str),
}

const BAD_REQUEST: ReadError = ReadError::Reject(400, "Bad Request");
const TOO_LARGE: ReadError = ReadError::Reject(413, "Content Too Large");

impl From<io::Error> for ReadError {
    fn from(_: io::Error) -> Self {
        ReadError::Io
    }
}

/// What to do with the client connection after a request.
enum Next {
    KeepAlive,
    Close,
}

/// Serves one client connection: request after request until either side
/// closes it.
async fn serve_client(shared: Arc<Shared>, mut client: TcpStream) {
    let mut refusing = shared.refusing.subscribe();
    // Bytes read from the client but not yet used.
    let mut pending = Vec::new();
    loop {
        let request = tokio::select! {
            biased;
            _ = refusing.wait_for(|refusing| *refusing) => {
                bump(&shared.counters.refused_connections);
                return;
            }
            request = read_request(&shared, &mut client, &mut pending) => request,
        };
        let request = match request {
            Ok(Some(request)) => request,
            Ok(None) | Err(ReadError::Io) => return,
            Err(ReadError::Reject(status, reason)) => {
                let response = http1::own_response(
                    status,
                    reason,
                    "text/plain",
                    &[],
                    reason.as_bytes(),
                    false,
                    false,
                );
                if send(&shared, &mut client, &response).await.is_ok() {
                    linger_close(client).await;
                }
                return;
            }
        };
        match handle(&shared, &mut client, request).await {
            Ok(Next::KeepAlive) => {}
            Ok(Next::Close) | Err(_) => return,
        }
    }
}

/// Closes after an answer given before the request was read whole: stop
/// sending, then drain what the client still sends for a moment, so that
/// closing with unread bytes does not reset the connection and destroy the
/// answer before the client reads it.
async fn linger_close(mut client: TcpStream) {
    if client.shutdown().await.is_err() {
        return;
    }
    let mut sink = Vec::with_capacity(READ_CHUNK_BYTES);
    let drain = async {
        loop {
            sink.clear();
            match client.read_buf(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}

/// Reads one request (head, then its `Content-Length` body). `Ok(None)`
/// when the client closed cleanly between requests.
async fn read_request(
    shared: &Shared,
    client: &mut TcpStream,
    pending: &mut Vec<u8>,
) -> Result<Option<Request>, ReadError> {
    let head_len = loop {
        if let Some(end) = http1::head_end(pending) {
            break end;
        }
        if pending.len() > http1::MAX_HEAD_BYTES {
            return Err(ReadError::Reject(431, "Request Header Fields Too Large"));
        }
        if read_some(shared, client, pending).await? == 0 {
            return if pending.is_empty() {
                Ok(None)
            } else {
                Err(ReadError::Io)
            };
        }
    };
    let head_bytes: Vec<u8> = pending.drain(..head_len).collect();
    let head = Head::parse(&head_bytes).ok_or(BAD_REQUEST)?;
    let line = RequestLine::parse(head.start_line()).ok_or(BAD_REQUEST)?;
    if head.has("transfer-encoding") {
        return Err(ReadError::Reject(501, "Not Implemented"));
    }
    let length = head
        .content_length()
        .map_err(|()| BAD_REQUEST)?
        .unwrap_or(0);
    if length > MAX_BODY_BYTES {
        return Err(TOO_LARGE);
    }
    let length = usize::try_from(length).map_err(|_| TOO_LARGE)?;
    if pending.len() < length && head.has_token("expect", "100-continue") {
        client.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
    }
    while pending.len() < length {
        if read_some(shared, client, pending).await? == 0 {
            return Err(ReadError::Io);
        }
    }
    let body = pending.drain(..length).collect();
    Ok(Some(Request { line, head, body }))
}

/// Appends what one read returns to `pending`; cancel-safe. Under a read
/// rate, reads at most a tenth of a second's worth and then waits out the
/// time those bytes take at that rate.
async fn read_some(
    shared: &Shared,
    client: &mut TcpStream,
    pending: &mut Vec<u8>,
) -> io::Result<usize> {
    let rate = shared.read_rate.load(Ordering::Relaxed);
    if rate == 0 {
        pending.reserve(READ_CHUNK_BYTES);
        return client.read_buf(pending).await;
    }
    let chunk = usize::try_from(rate / 10)
        .unwrap_or(READ_CHUNK_BYTES)
        .clamp(1, READ_CHUNK_BYTES);
    let mut buf = vec![0u8; chunk];
    let n = client.read(&mut buf).await?;
    pending.extend_from_slice(&buf[..n]);
    if n > 0 {
        tokio::time::sleep(Duration::from_secs_f64(n as f64 / rate as f64)).await;
    }
    Ok(n)
}

/// Writes an answer to the client, counting its bytes first (so the count
/// never lags what the client has received).
async fn send(shared: &Shared, client: &mut TcpStream, bytes: &[u8]) -> io::Result<()> {
    shared
        .counters
        .response_bytes
        .fetch_add(bytes.len() as u64, Ordering::Relaxed);
    client.write_all(bytes).await
}

/// Applies the plan to one request and answers the client.
async fn handle(shared: &Shared, client: &mut TcpStream, request: Request) -> io::Result<Next> {
    let info = shared.request_info(&request.line);
    bump(&shared.counters.requests);
    let fault = (shared.plan())(&info);
    let counters = &shared.counters;
    let request_id = format!("fault-proxy-{}", info.seq);
    match fault {
        Some(Fault::SlowDown) => {
            bump(&counters.slow_down);
            let xml =
                http1::s3_error_xml("SlowDown", "Please reduce your request rate.", &request_id);
            answer_s3_error(
                shared,
                client,
                &request,
                503,
                "Slow Down",
                &xml,
                &request_id,
            )
            .await
        }
        Some(Fault::InternalError) => {
            bump(&counters.internal_error);
            let message = "We encountered an internal error. Please try again.";
            let xml = http1::s3_error_xml("InternalError", message, &request_id);
            answer_s3_error(
                shared,
                client,
                &request,
                500,
                "Internal Server Error",
                &xml,
                &request_id,
            )
            .await
        }
        Some(Fault::DropBeforeForward) => {
            bump(&counters.drop_before_forward);
            Ok(Next::Close)
        }
        Some(Fault::DropAfterForward) => {
            bump(&counters.drop_after_forward);
            // The upstream answer is read whole (so the write has landed)
            // and thrown away.
            let _ = forward(shared, &request).await;
            Ok(Next::Close)
        }
        Some(Fault::Delay(delay)) => {
            bump(&counters.delayed);
            tokio::time::sleep(delay).await;
            relay(shared, client, &request).await
        }
        None => relay(shared, client, &request).await,
    }
}

/// Writes an S3 XML error the proxy made up.
async fn answer_s3_error(
    shared: &Shared,
    client: &mut TcpStream,
    request: &Request,
    status: u16,
    reason: &str,
    xml: &str,
    request_id: &str,
) -> io::Result<Next> {
    let keep_alive = request.keep_alive();
    let response = http1::own_response(
        status,
        reason,
        "application/xml",
        &[("x-amz-request-id", request_id)],
        xml.as_bytes(),
        request.is_head(),
        keep_alive,
    );
    send(shared, client, &response).await?;
    Ok(if keep_alive {
        Next::KeepAlive
    } else {
        Next::Close
    })
}

/// Forwards a request and relays the answer to the client (502 when the
/// upstream fails or answers garbage).
async fn relay(shared: &Shared, client: &mut TcpStream, request: &Request) -> io::Result<Next> {
    let relayed = match forward(shared, request).await {
        Ok(raw) => http1::relay_response(&raw, request.is_head(), request.keep_alive()),
        Err(_) => None,
    };
    let Some(relayed) = relayed else {
        let reason = "Bad Gateway";
        let response = http1::own_response(
            502,
            reason,
            "text/plain",
            &[],
            reason.as_bytes(),
            request.is_head(),
            false,
        );
        send(shared, client, &response).await?;
        return Ok(Next::Close);
    };
    send(shared, client, &relayed.bytes).await?;
    Ok(if relayed.keep_alive {
        Next::KeepAlive
    } else {
        Next::Close
    })
}

/// Sends a request upstream on a fresh connection and reads the whole
/// response (to EOF: the request said `Connection: close`).
async fn forward(shared: &Shared, request: &Request) -> io::Result<Vec<u8>> {
    let mut upstream = TcpStream::connect(shared.upstream).await?;
    upstream.set_nodelay(true)?;
    let bytes = http1::upstream_request(&request.line, &request.head, &request.body);
    upstream.write_all(&bytes).await?;
    bump(&shared.counters.forwarded);
    let mut raw = Vec::new();
    match upstream.read_to_end(&mut raw).await {
        Ok(_) => Ok(raw),
        // A reset after the response (a server that answered without reading
        // everything) still leaves the response usable; `relay_response`
        // checks that it is complete.
        Err(_) if !raw.is_empty() => Ok(raw),
        Err(e) => Err(e),
    }
}
