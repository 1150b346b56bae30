//! [`SpekeServer`]: an in-process SPEKE v2 key server that checks what it is
//! sent.
//!
//! It follows the AWS SPEKE API v2.0 (CPIX over HTTP, `X-Speke-Version:
//! 2.0`) and DASH-IF CPIX 2.3, with its own small XML reading (it shares no
//! code with the client under test). A request is checked before it is
//! answered:
//!
//! * HTTP: method `POST` (else 405), `Content-Type: application/xml` (or
//!   `text/xml`) and `X-Speke-Version: 2.0` (else 400); with
//!   [`SpekeServerOptions::require_sigv4`], an `Authorization:
//!   AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/execute-api/aws4_request,
//!   SignedHeaders=…, Signature=<64 hex>` header and `X-Amz-Date` (else 403;
//!   the shape is checked, not the signature).
//! * The document (400 when not well-formed XML or not `cpix:CPIX` in
//!   `urn:dashif:org:cpix`; 422, as the AWS guide for key providers answers,
//!   for the rest): `CPIX@contentId` present, `CPIX@version="2.3"`; a
//!   `ContentKeyList` with at least one `ContentKey`, each with a UUID `kid`
//!   (no duplicates), a known `commonEncryptionScheme` (`cenc`, `cbc1`,
//!   `cens`, `cbcs`), one scheme for all, and no key data; every
//!   `DRMSystem` for a listed `kid`, with a known `systemId` (Widevine,
//!   PlayReady, FairPlay, W3C common / ClearKey) and at least one element
//!   asking for data (`PSSH`, `HLSSignalingData@playlist=media|master`,
//!   `ContentProtectionData`, `URIExtXKey`,
//!   `SmoothStreamingProtectionHeaderData`); a `ContentKeyUsageRuleList`
//!   with exactly one `ContentKeyUsageRule` per key, each with a unique
//!   `intendedTrackType` and at least one `AudioFilter`/`VideoFilter`.
//!
//! A valid request is answered `200` with the filled document: each key's
//! `pskc:PlainValue` (from [`SpekeServerOptions::keys`], else
//! [`derived_key`]), a `pssh` box it builds itself for every `PSSH` asked
//! for (opaque data, the right system ID and the key ID: valid boxes), the
//! FairPlay `#EXT-X-KEY` / `#EXT-X-SESSION-KEY` lines for
//! `HLSSignalingData`, the usage rules echoed, and the headers
//! `X-Speke-Version: 2.0` and `X-Speke-User-Agent`.
//!
//! Faults for client tests: answer `500` to the first N requests, wait
//! before every answer (timeouts), or refuse everything with a fixed status
//! (e.g. 403). Every request is recorded ([`SpekeServer::requests`]) with the
//! status it got, so a test can count attempts.
//!
//! Over https ([`SpekeServer::start_tls`]), as real key servers are: TLS
//! 1.2/1.3 (rustls, aws-lc-rs) with a server certificate for `127.0.0.1`
//! and `localhost` signed by a CA made at start. A client trusts it only
//! when told to ([`SpekeServer::ca_pem`], e.g. through `SSL_CERT_FILE`);
//! [`SpekeServer::connections`] counts TCP connections, handshakes that
//! failed included, so a test can see a client that gave up at once.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::background::Background;

mod xml;
use xml::{Node, escape, parse};

const CPIX_NS: &str = "urn:dashif:org:cpix";
const PSKC_NS: &str = "urn:ietf:params:xml:ns:keyprov:pskc";
const MAX_REQUEST_BYTES: usize = 1024 * 1024;
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Widevine's system ID.
pub const WIDEVINE: [u8; 16] = hex16("edef8ba979d64acea3c827dcd51d21ed");
/// PlayReady's system ID.
pub const PLAYREADY: [u8; 16] = hex16("9a04f07998404286ab92e65be0885f95");
/// FairPlay's system ID (DASH-IF registry).
pub const FAIRPLAY: [u8; 16] = hex16("94ce86fb07ff4f43adb893d2fa968ca2");
/// The W3C common PSSH system ID (ClearKey).
pub const COMMON: [u8; 16] = hex16("1077efecc0b24d02ace33c1e52e2fb4b");
/// ClearKey's DASH scheme ID.
pub const CLEARKEY: [u8; 16] = hex16("e2719d58a985b3c9781ab030af78d30e");

/// The path the server answers on (any path is accepted).
pub const SPEKE_PATH: &str = "/speke/v2.0/copyProtection";

const fn hex16(text: &str) -> [u8; 16] {
    let bytes = text.as_bytes();
    let mut out = [0u8; 16];
    let mut i = 0;
    while i < 16 {
        out[i] = (nibble(bytes[2 * i]) << 4) | nibble(bytes[2 * i + 1]);
        i += 1;
    }
    out
}

const fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => 0,
    }
}

/// The key the server hands out for `kid` when the test gave none: a fixed
/// function of the key ID (test keys only).
pub fn derived_key(kid: &[u8; 16]) -> [u8; 16] {
    let mut key = [0u8; 16];
    for (i, byte) in key.iter_mut().enumerate() {
        *byte = kid[15 - i] ^ 0xa5 ^ (i as u8).wrapping_mul(37);
    }
    key
}

/// A `pssh` box (version 1 when `kids` is not empty) with `data`.
pub fn pssh_box(system_id: &[u8; 16], kids: &[[u8; 16]], data: &[u8]) -> Vec<u8> {
    let version: u8 = if kids.is_empty() { 0 } else { 1 };
    let mut body = vec![version, 0, 0, 0];
    body.extend_from_slice(system_id);
    if version == 1 {
        body.extend_from_slice(&(kids.len() as u32).to_be_bytes());
        for kid in kids {
            body.extend_from_slice(kid);
        }
    }
    body.extend_from_slice(&(data.len() as u32).to_be_bytes());
    body.extend_from_slice(data);
    let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
    out.extend_from_slice(b"pssh");
    out.extend_from_slice(&body);
    out
}

/// How the server behaves.
#[derive(Debug, Clone)]
pub struct SpekeServerOptions {
    /// Keys by key ID; other key IDs get [`derived_key`].
    pub keys: HashMap<[u8; 16], [u8; 16]>,
    /// Answer `500` to this many requests first.
    pub fail_first: u32,
    /// Wait this long before every answer.
    pub delay: Option<Duration>,
    /// Answer every request with this status (and a short error body).
    pub refuse: Option<u16>,
    /// Require an AWS SigV4 `Authorization` header (its shape).
    pub require_sigv4: bool,
    /// The `X-Speke-User-Agent` header; `None` leaves it out.
    pub user_agent: Option<String>,
}

impl Default for SpekeServerOptions {
    fn default() -> Self {
        SpekeServerOptions {
            keys: HashMap::new(),
            fail_first: 0,
            delay: None,
            refuse: None,
            require_sigv4: false,
            user_agent: Some("audiopack-testkit SPEKE v2 server".into()),
        }
    }
}

/// One request as the server saw it, and what it answered.
#[derive(Debug, Clone)]
pub struct SpekeRequest {
    pub method: String,
    pub path: String,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The status answered.
    pub status: u16,
    /// Why the request was refused, when it was found invalid.
    pub problem: Option<String>,
}

impl SpekeRequest {
    /// The first header named `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

struct State {
    options: SpekeServerOptions,
    requests: Mutex<Vec<SpekeRequest>>,
    connections: AtomicUsize,
}

/// A SPEKE v2 key server on `127.0.0.1:<port>`, stopped on drop.
pub struct SpekeServer {
    background: Background,
    state: Arc<State>,
    /// The CA that signed the server certificate (PEM), when over https.
    ca_pem: Option<String>,
}

impl std::fmt::Debug for SpekeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpekeServer")
            .field("addr", &self.addr())
            .finish_non_exhaustive()
    }
}

impl SpekeServer {
    /// Starts a server; returns once it listens.
    ///
    /// # Errors
    ///
    /// When no port can be bound or the runtime cannot start.
    pub fn start(options: SpekeServerOptions) -> io::Result<SpekeServer> {
        Self::launch(options, None)
    }

    /// Starts a server behind TLS (https); clients must trust
    /// [`SpekeServer::ca_pem`] to reach it.
    ///
    /// # Errors
    ///
    /// When the certificates cannot be made, no port can be bound or the
    /// runtime cannot start.
    pub fn start_tls(options: SpekeServerOptions) -> io::Result<SpekeServer> {
        let tls = crate::tls::TestTls::new()?;
        Self::launch(options, Some((tls.ca_pem, tls.acceptor)))
    }

    fn launch(
        options: SpekeServerOptions,
        tls: Option<(String, TlsAcceptor)>,
    ) -> io::Result<SpekeServer> {
        let state = Arc::new(State {
            options,
            requests: Mutex::new(Vec::new()),
            connections: AtomicUsize::new(0),
        });
        let serving = state.clone();
        let (ca_pem, acceptor) = tls.unzip();
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let background = Background::spawn("speke-test-server", addr, move |listener| {
            serve(listener, serving, acceptor)
        })?;
        Ok(SpekeServer {
            background,
            state,
            ca_pem,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.background.addr()
    }

    /// `http://127.0.0.1:PORT/speke/v2.0/copyProtection` (`https://` for
    /// a server started with [`SpekeServer::start_tls`]).
    pub fn url(&self) -> String {
        let scheme = if self.ca_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}{SPEKE_PATH}", self.addr())
    }

    /// The PEM certificate of the CA that signed the server certificate
    /// (`None` over plain http): what a client must trust.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// TCP connections accepted so far (TLS handshakes that failed too).
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<SpekeRequest> {
        self.state
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many requests arrived.
    pub fn attempts(&self) -> usize {
        self.state
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// The key the server hands out for `kid`.
    pub fn key_for(&self, kid: &[u8; 16]) -> [u8; 16] {
        key_for(&self.state.options, kid)
    }
}

fn key_for(options: &SpekeServerOptions, kid: &[u8; 16]) -> [u8; 16] {
    options
        .keys
        .get(kid)
        .copied()
        .unwrap_or_else(|| derived_key(kid))
}

async fn serve(
    listener: TcpListener,
    state: Arc<State>,
    tls: Option<TlsAcceptor>,
) -> io::Result<()> {
    let http = ConnBuilder::new(TokioExecutor::new());
    loop {
        let socket = match listener.accept().await {
            Ok((socket, _)) => socket,
            Err(_) => {
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        state.connections.fetch_add(1, Ordering::SeqCst);
        let _ = socket.set_nodelay(true);
        let service_state = state.clone();
        let service = hyper::service::service_fn(move |request| {
            let state = service_state.clone();
            async move { Ok::<_, std::convert::Infallible>(handle(&state, request).await) }
        });
        let http = http.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                // A client that does not trust the certificate ends here.
                Some(acceptor) => {
                    if let Ok(stream) = acceptor.accept(socket).await {
                        let _ = http.serve_connection(TokioIo::new(stream), service).await;
                    }
                }
                None => {
                    let _ = http.serve_connection(TokioIo::new(socket), service).await;
                }
            }
        });
    }
}

async fn handle(state: &State, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_REQUEST_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let mut record = SpekeRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: String::from_utf8_lossy(&body).into_owned(),
        status: 0,
        problem: None,
    };
    let seen = {
        let requests = state
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        requests.len() as u32 + 1
    };
    let options = &state.options;
    if let Some(delay) = options.delay {
        tokio::time::sleep(delay).await;
    }
    let answer = if let Some(status) = options.refuse {
        plain(status, "Forbidden: this test server refuses every request")
    } else if seen <= options.fail_first {
        plain(500, "Internal Server Error (injected)")
    } else {
        match check(&record, options).and_then(|root| fill(&root, options)) {
            Ok(document) => {
                let mut builder = Response::builder()
                    .status(200)
                    .header("content-type", "application/xml")
                    .header("x-speke-version", "2.0");
                if let Some(agent) = &options.user_agent {
                    builder = builder.header("x-speke-user-agent", agent.as_str());
                }
                builder
                    .body(Full::new(Bytes::from(document)))
                    .unwrap_or_else(|_| plain(500, "cannot build the answer"))
            }
            Err((status, problem)) => {
                record.problem = Some(problem.clone());
                plain(status, &problem)
            }
        }
    };
    record.status = answer.status().as_u16();
    state
        .requests
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(record);
    answer
}

fn plain(status: u16, text: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(text.to_string())));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    response.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("text/plain"),
    );
    response
}

type Checked<T> = Result<T, (u16, String)>;

fn bad(status: u16, text: impl Into<String>) -> (u16, String) {
    (status, text.into())
}

/// Validates a request per SPEKE v2.0 / CPIX 2.3; returns its document.
fn check(request: &SpekeRequest, options: &SpekeServerOptions) -> Checked<Node> {
    if request.method != "POST" {
        return Err(bad(
            405,
            format!("method {} (SPEKE uses POST)", request.method),
        ));
    }
    let content_type = request.header("content-type").unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim();
    if media != "application/xml" && media != "text/xml" {
        return Err(bad(
            400,
            format!("Content-Type {content_type:?} is not application/xml"),
        ));
    }
    match request.header("x-speke-version") {
        Some("2.0") => {}
        Some(other) => return Err(bad(400, format!("Unsupported SPEKE version {other:?}"))),
        None => return Err(bad(400, "Missing X-Speke-Version header")),
    }
    if options.require_sigv4 {
        check_sigv4(request).map_err(|why| bad(403, why))?;
    }
    let root = parse(request.body.as_bytes()).map_err(|why| bad(400, why))?;
    if !(root.ns == CPIX_NS && root.name == "CPIX") {
        return Err(bad(400, "the root element is not cpix:CPIX"));
    }
    match root.attr("contentId") {
        Some(id) if !id.is_empty() => {}
        _ => return Err(bad(422, "Missing CPIX@contentId")),
    }
    match root.attr("version") {
        Some("2.3") => {}
        Some(_) => return Err(bad(422, "Unsupported CPIX@version")),
        None => return Err(bad(422, "Missing CPIX@version")),
    }
    let keys = root
        .child("ContentKeyList")
        .ok_or_else(|| bad(422, "Missing ContentKeyList"))?;
    let mut kids: Vec<[u8; 16]> = Vec::new();
    let mut scheme: Option<&str> = None;
    for key in keys.children("ContentKey") {
        let kid = key
            .attr("kid")
            .and_then(uuid)
            .ok_or_else(|| bad(422, "a ContentKey without a valid kid"))?;
        if kids.contains(&kid) {
            return Err(bad(422, format!("KID {} listed twice", uuid_text(&kid))));
        }
        let this = match key.attr("commonEncryptionScheme") {
            Some(s @ ("cenc" | "cbc1" | "cens" | "cbcs")) => s,
            Some(other) => {
                return Err(bad(
                    422,
                    format!("Unknown ContentKey@commonEncryptionScheme {other:?}"),
                ));
            }
            None => {
                return Err(bad(
                    422,
                    format!(
                        "Missing ContentKey@commonEncryptionScheme for KID {}",
                        uuid_text(&kid)
                    ),
                ));
            }
        };
        if scheme.is_some_and(|s| s != this) {
            return Err(bad(
                422,
                "Non compliant ContentKey@commonEncryptionScheme combination",
            ));
        }
        scheme = Some(this);
        if key.child("Data").is_some() {
            return Err(bad(422, "a request ContentKey must not carry key data"));
        }
        kids.push(kid);
    }
    if kids.is_empty() {
        return Err(bad(422, "the ContentKeyList is empty"));
    }
    if let Some(systems) = root.child("DRMSystemList") {
        for system in systems.children("DRMSystem") {
            let kid = system
                .attr("kid")
                .and_then(uuid)
                .ok_or_else(|| bad(422, "a DRMSystem without a valid kid"))?;
            if !kids.contains(&kid) {
                return Err(bad(
                    422,
                    format!(
                        "DRMSystem for KID {} not in ContentKeyList",
                        uuid_text(&kid)
                    ),
                ));
            }
            let id = system
                .attr("systemId")
                .and_then(uuid)
                .ok_or_else(|| bad(422, "a DRMSystem without a valid systemId"))?;
            if ![WIDEVINE, PLAYREADY, FAIRPLAY, COMMON, CLEARKEY].contains(&id) {
                return Err(bad(
                    422,
                    format!("Unknown DRMSystem@systemId {}", uuid_text(&id)),
                ));
            }
            let asks = system.children.iter().any(|c| {
                matches!(
                    c.name.as_str(),
                    "PSSH"
                        | "HLSSignalingData"
                        | "ContentProtectionData"
                        | "URIExtXKey"
                        | "SmoothStreamingProtectionHeaderData"
                )
            });
            if !asks {
                return Err(bad(422, "a DRMSystem asks for nothing"));
            }
            for hls in system.children("HLSSignalingData") {
                if !matches!(hls.attr("playlist"), Some("media" | "master")) {
                    return Err(bad(
                        422,
                        "HLSSignalingData@playlist must be media or master",
                    ));
                }
            }
        }
    }
    let rules = root
        .child("ContentKeyUsageRuleList")
        .ok_or_else(|| bad(422, "Missing ContentKeyUsageRuleList"))?;
    let mut labels: Vec<&str> = Vec::new();
    let mut ruled: Vec<[u8; 16]> = Vec::new();
    for rule in rules.children("ContentKeyUsageRule") {
        let kid = rule
            .attr("kid")
            .and_then(uuid)
            .ok_or_else(|| bad(422, "a ContentKeyUsageRule without a valid kid"))?;
        if !kids.contains(&kid) {
            return Err(bad(
                422,
                format!(
                    "ContentKeyUsageRule for KID {} not in ContentKeyList",
                    uuid_text(&kid)
                ),
            ));
        }
        if ruled.contains(&kid) {
            return Err(bad(422, "two ContentKeyUsageRules for one key"));
        }
        ruled.push(kid);
        let label = rule
            .attr("intendedTrackType")
            .ok_or_else(|| bad(422, "Missing ContentKeyUsageRule@intendedTrackType"))?;
        if labels.contains(&label) {
            return Err(bad(
                422,
                format!("intendedTrackType {label:?} used by two rules"),
            ));
        }
        labels.push(label);
        if rule.child("AudioFilter").is_none() && rule.child("VideoFilter").is_none() {
            return Err(bad(
                422,
                "a ContentKeyUsageRule without AudioFilter or VideoFilter",
            ));
        }
    }
    if let Some(kid) = kids.iter().find(|k| !ruled.contains(k)) {
        return Err(bad(
            422,
            format!("no ContentKeyUsageRule for KID {}", uuid_text(kid)),
        ));
    }
    Ok(root)
}

fn check_sigv4(request: &SpekeRequest) -> Result<(), String> {
    let auth = request
        .header("authorization")
        .ok_or("Missing Authentication Token")?;
    let rest = auth
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or("the Authorization header is not AWS4-HMAC-SHA256")?;
    let mut credential = None;
    let mut signed = None;
    let mut signature = None;
    for part in rest.split(',') {
        match part.trim().split_once('=') {
            Some(("Credential", v)) => credential = Some(v),
            Some(("SignedHeaders", v)) => signed = Some(v),
            Some(("Signature", v)) => signature = Some(v),
            _ => {}
        }
    }
    let scope: Vec<&str> = credential.ok_or("no Credential")?.split('/').collect();
    let shape_ok = scope.len() == 5
        && !scope[0].is_empty()
        && scope[1].len() == 8
        && scope[1].bytes().all(|b| b.is_ascii_digit())
        && !scope[2].is_empty()
        && scope[3] == "execute-api"
        && scope[4] == "aws4_request";
    if !shape_ok {
        return Err(
            "the Credential scope is not <key>/<date>/<region>/execute-api/aws4_request".into(),
        );
    }
    let signed: Vec<&str> = signed.ok_or("no SignedHeaders")?.split(';').collect();
    if !signed.contains(&"host") || !signed.contains(&"x-amz-date") {
        return Err("host and x-amz-date are not signed".into());
    }
    let signature = signature.ok_or("no Signature")?;
    if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err("the Signature is not 64 hex digits".into());
    }
    if request.header("x-amz-date").is_none() {
        return Err("no X-Amz-Date header".into());
    }
    Ok(())
}

/// The answer: the request's keys, systems and rules, filled.
fn fill(root: &Node, options: &SpekeServerOptions) -> Checked<String> {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<cpix:CPIX xmlns:cpix=\"{CPIX_NS}\" xmlns:pskc=\"{PSKC_NS}\" contentId=\"{}\" version=\"2.3\">\n",
        escape(root.attr("contentId").unwrap_or(""))
    ));
    out.push_str("<cpix:ContentKeyList>\n");
    let content_id = root.attr("contentId").unwrap_or("");
    if let Some(keys) = root.child("ContentKeyList") {
        for key in keys.children("ContentKey") {
            let kid = key.attr("kid").and_then(uuid).unwrap_or_default();
            out.push_str(&format!(
                "<cpix:ContentKey kid=\"{}\" commonEncryptionScheme=\"{}\"><cpix:Data><pskc:Secret><pskc:PlainValue>{}</pskc:PlainValue></pskc:Secret></cpix:Data></cpix:ContentKey>\n",
                uuid_text(&kid),
                escape(key.attr("commonEncryptionScheme").unwrap_or("")),
                BASE64.encode(key_for(options, &kid))
            ));
        }
    }
    out.push_str("</cpix:ContentKeyList>\n");
    if let Some(systems) = root.child("DRMSystemList") {
        out.push_str("<cpix:DRMSystemList>\n");
        for system in systems.children("DRMSystem") {
            let kid = system.attr("kid").and_then(uuid).unwrap_or_default();
            let id = system.attr("systemId").and_then(uuid).unwrap_or_default();
            out.push_str(&format!(
                "<cpix:DRMSystem kid=\"{}\" systemId=\"{}\">\n",
                uuid_text(&kid),
                uuid_text(&id)
            ));
            if system.child("PSSH").is_some() {
                if id == FAIRPLAY {
                    return Err(bad(422, "FairPlay has no PSSH"));
                }
                out.push_str(&format!(
                    "<cpix:PSSH>{}</cpix:PSSH>\n",
                    BASE64.encode(system_pssh(&id, &kid, content_id))
                ));
            }
            for hls in system.children("HLSSignalingData") {
                let playlist = hls.attr("playlist").unwrap_or("media");
                let line = hls_line(&id, &kid, playlist == "master");
                out.push_str(&format!(
                    "<cpix:HLSSignalingData playlist=\"{playlist}\">{}</cpix:HLSSignalingData>\n",
                    BASE64.encode(line)
                ));
            }
            out.push_str("</cpix:DRMSystem>\n");
        }
        out.push_str("</cpix:DRMSystemList>\n");
    }
    out.push_str("<cpix:ContentKeyUsageRuleList>\n");
    if let Some(rules) = root.child("ContentKeyUsageRuleList") {
        for rule in rules.children("ContentKeyUsageRule") {
            let kid = rule.attr("kid").and_then(uuid).unwrap_or_default();
            out.push_str(&format!(
                "<cpix:ContentKeyUsageRule kid=\"{}\" intendedTrackType=\"{}\">",
                uuid_text(&kid),
                escape(rule.attr("intendedTrackType").unwrap_or(""))
            ));
            for filter in &rule.children {
                if filter.name == "AudioFilter" || filter.name == "VideoFilter" {
                    out.push_str(&format!("<cpix:{}/>", filter.name));
                }
            }
            out.push_str("</cpix:ContentKeyUsageRule>\n");
        }
    }
    out.push_str("</cpix:ContentKeyUsageRuleList>\n</cpix:CPIX>\n");
    Ok(out)
}

/// An opaque-but-valid pssh box for `system`: version 0 with a
/// WidevinePsshData-like payload (key ID, provider, content ID) for
/// Widevine, version 1 with the key ID otherwise.
fn system_pssh(system: &[u8; 16], kid: &[u8; 16], content_id: &str) -> Vec<u8> {
    if *system == WIDEVINE {
        let mut data = vec![0x12, 16];
        data.extend_from_slice(kid);
        data.extend_from_slice(&[0x1a, 7]);
        data.extend_from_slice(b"testkit");
        let id = content_id.as_bytes();
        let id = &id[..id.len().min(127)];
        data.extend_from_slice(&[0x22, id.len() as u8]);
        data.extend_from_slice(id);
        pssh_box(system, &[], &data)
    } else if *system == CLEARKEY || *system == COMMON {
        pssh_box(&COMMON, &[*kid], &[])
    } else {
        pssh_box(system, &[*kid], b"testkit opaque system data")
    }
}

fn hls_line(system: &[u8; 16], kid: &[u8; 16], master: bool) -> String {
    let tag = if master {
        "#EXT-X-SESSION-KEY"
    } else {
        "#EXT-X-KEY"
    };
    let hex: String = kid.iter().map(|b| format!("{b:02x}")).collect();
    if *system == FAIRPLAY {
        format!(
            "{tag}:METHOD=SAMPLE-AES,URI=\"skd://{hex}\",KEYFORMAT=\"com.apple.streamingkeydelivery\",KEYFORMATVERSIONS=\"1\""
        )
    } else {
        format!(
            "{tag}:METHOD=SAMPLE-AES,URI=\"data:text/plain;base64,{}\",KEYFORMAT=\"urn:uuid:{}\",KEYFORMATVERSIONS=\"1\"",
            BASE64.encode(system_pssh(system, kid, "")),
            uuid_text(system)
        )
    }
}

fn uuid(text: &str) -> Option<[u8; 16]> {
    let hex: Vec<u8> = text.bytes().filter(|&b| b != b'-').collect();
    if hex.len() != 32 || !hex.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let lower: Vec<u8> = hex.iter().map(u8::to_ascii_lowercase).collect();
    let mut out = [0u8; 16];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = (nibble(lower[2 * i]) << 4) | nibble(lower[2 * i + 1]);
    }
    Some(out)
}

fn uuid_text(bytes: &[u8; 16]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}
