//! SPEKE v2 key server client: a CPIX request over HTTP(S).
//!
//! [`fetch_keys`] POSTs [`cpix::request_document`] to the key server with
//! `Content-Type: application/xml` and `X-Speke-Version: 2.0` (AWS SPEKE API
//! v2.0, CPIX 2.3) and reads the keys and per-system data from the answer
//! ([`cpix::parse_response`]).
//!
//! * **Failures**: a 4xx answer is the server refusing the request
//!   ([`DrmError::Refused`], never retried); 5xx answers, timeouts and
//!   connection failures are retried with exponential backoff
//!   ([`SpekeOptions::attempts`]), then reported as
//!   [`DrmError::Unavailable`]; a server certificate that is not trusted
//!   (unknown issuer, expired, another name) is reported at once, since
//!   asking again cannot change it. The trusted roots are the system's
//!   (`SSL_CERT_FILE` / `SSL_CERT_DIR` replace them, as OpenSSL's do).
//!   An answer that is not a usable CPIX document
//!   is [`DrmError::Keys`]. Every message names the URL without user info,
//!   query or fragment ([`redact_url`]) and never holds key bytes or
//!   anything of the request; a refusal quotes a short, cleaned-up start of
//!   the server's answer.
//! * **Authentication** ([`AwsSigning`]): AWS SigV4 (service
//!   `execute-api`, what API Gateway fronted key servers check) when AWS
//!   credentials are configured: by default (`Auto`) from
//!   `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN`,
//!   or, for an `*.amazonaws.com` host or when `AWS_PROFILE` is set, from
//!   the AWS SDK's default chain (profiles, SSO, web identity, container,
//!   instance metadata). The region comes from an
//!   `<api>.execute-api.<region>.amazonaws.com` host, else `AWS_REGION` /
//!   `AWS_DEFAULT_REGION` or the profile. Without signing, user info in the
//!   URL (`https://user:password@host/…`) is sent as HTTP Basic
//!   authentication.
//! * **Server identification**: SPEKE v2 servers answer with an
//!   `X-Speke-User-Agent` header; its absence is a warning
//!   ([`SpekeAnswer::warnings`]), not an error.

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use zeroize::Zeroizing;

use crate::cpix::{self, KeyRequest};
use crate::{DrmError, KeySet, KeySource};

/// The SPEKE version this client speaks (`X-Speke-Version`).
pub const SPEKE_VERSION: &str = "2.0";
/// The SigV4 service name of API Gateway.
pub const SIGV4_SERVICE: &str = "execute-api";

/// How a SPEKE request is made: timeouts, retries, authentication.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SpekeOptions {
    /// Time to set up a connection (TCP, and TLS for https).
    pub connect_timeout: Duration,
    /// Time for one whole attempt: connect, send, answer.
    pub timeout: Duration,
    /// Attempts in all (at least 1): 5xx answers, timeouts and connection
    /// failures are retried, 4xx answers are not.
    pub attempts: u32,
    /// The pause before the first retry; doubled before each next one.
    pub backoff: Duration,
    /// The largest answer accepted.
    pub max_response_bytes: usize,
    pub signing: AwsSigning,
}

impl Default for SpekeOptions {
    fn default() -> Self {
        SpekeOptions {
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            attempts: 3,
            backoff: Duration::from_millis(500),
            max_response_bytes: 4 * 1024 * 1024,
            signing: AwsSigning::Auto,
        }
    }
}

impl SpekeOptions {
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts.max(1);
        self
    }

    pub fn with_backoff(mut self, backoff: Duration) -> Self {
        self.backoff = backoff;
        self
    }

    pub fn with_max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    pub fn with_signing(mut self, signing: AwsSigning) -> Self {
        self.signing = signing;
        self
    }
}

/// Whether and how requests are signed with AWS SigV4.
#[derive(Debug, Clone, Default)]
pub enum AwsSigning {
    /// Sign when AWS credentials are configured (see the module docs).
    #[default]
    Auto,
    /// Never sign.
    Off,
    /// Sign with these credentials.
    With(AwsCredentials),
}

/// AWS credentials for SigV4. `Debug` shows the access key ID only.
#[derive(Clone)]
pub struct AwsCredentials {
    pub access_key_id: String,
    secret_access_key: Zeroizing<String>,
    session_token: Option<Zeroizing<String>>,
    /// The signing region; `None`: from the host name or the environment.
    pub region: Option<String>,
}

impl AwsCredentials {
    pub fn new(
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
        session_token: Option<String>,
        region: Option<String>,
    ) -> Self {
        AwsCredentials {
            access_key_id: access_key_id.into(),
            secret_access_key: Zeroizing::new(secret_access_key.into()),
            session_token: session_token.map(Zeroizing::new),
            region,
        }
    }
}

impl std::fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"***")
            .field("session_token", &self.session_token.as_ref().map(|_| "***"))
            .field("region", &self.region)
            .finish()
    }
}

/// A key server's answer and what is worth reporting about the exchange.
#[derive(Debug)]
pub struct SpekeAnswer {
    pub keys: KeySet,
    /// The server's `X-Speke-User-Agent`.
    pub server: Option<String>,
    /// Attempts made (1 when the first succeeded).
    pub attempts: u32,
    /// Whether the request was SigV4-signed.
    pub signed: bool,
    /// Deviations from SPEKE v2 that did not stop the exchange.
    pub warnings: Vec<String>,
}

/// Asks the SPEKE v2 server at `url` for the keys of `request`, with the
/// default [`SpekeOptions`].
pub async fn fetch_keys(url: &str, request: &KeyRequest) -> Result<KeySet, DrmError> {
    fetch_keys_with(url, request, &SpekeOptions::default()).await
}

/// [`fetch_keys`] with chosen options.
pub async fn fetch_keys_with(
    url: &str,
    request: &KeyRequest,
    options: &SpekeOptions,
) -> Result<KeySet, DrmError> {
    fetch(url, request, options).await.map(|answer| answer.keys)
}

/// [`fetch_keys_with`], returning what the exchange was like too.
pub async fn fetch(
    url: &str,
    request: &KeyRequest,
    options: &SpekeOptions,
) -> Result<SpekeAnswer, DrmError> {
    let shown = redact_url(url);
    let target = Target::parse(url).ok_or_else(|| {
        DrmError::Config(format!(
            "{shown}: not an http:// or https:// URL of a SPEKE key server"
        ))
    })?;
    let signer = resolve_signer(&options.signing, &target, &shown).await?;
    let client = HttpClient::new(&target, options).map_err(|message| DrmError::Unavailable {
        source_name: shown.clone(),
        message,
    })?;
    let body = Bytes::from(cpix::request_document(request));
    let attempts = options.attempts.max(1);
    let mut last_failure = String::new();
    for attempt in 1..=attempts {
        if attempt > 1 {
            let factor = 1u32 << (attempt - 2).min(6);
            tokio::time::sleep(options.backoff.saturating_mul(factor)).await;
        }
        let http_request = build_request(&target, &body, signer.as_ref(), &shown)?;
        let outcome = tokio::time::timeout(
            options.timeout,
            exchange(&client, http_request, options.max_response_bytes),
        )
        .await;
        let (status, headers, answer) = match outcome {
            Err(_) => {
                last_failure = format!("no answer within {:?}", options.timeout);
                continue;
            }
            Ok(Err(Failure::Transport(why))) => {
                last_failure = why;
                continue;
            }
            Ok(Err(Failure::Untrusted(why))) => {
                return Err(DrmError::Unavailable {
                    source_name: shown,
                    message: format!(
                        "the key server's TLS certificate is not trusted ({why}); not retried: \
                         trust its CA (the system's store, or SSL_CERT_FILE)"
                    ),
                });
            }
            Ok(Err(Failure::TooLarge)) => {
                return Err(DrmError::Keys {
                    source_name: shown,
                    message: format!(
                        "the answer is larger than the {} bytes accepted",
                        options.max_response_bytes
                    ),
                });
            }
            Ok(Ok(answer)) => answer,
        };
        if status.is_server_error() {
            last_failure = format!("the key server answered {status}");
            continue;
        }
        if status.is_client_error() {
            let mut message = format!("{status}");
            let text = snippet(&answer);
            if !text.is_empty() {
                message.push_str(&format!(": {text}"));
            }
            if signer.is_none() && status.as_u16() == 403 && target.is_aws() {
                message.push_str(" (the request was not signed: no AWS credentials were found)");
            }
            return Err(DrmError::Refused {
                source_name: shown,
                status: status.as_u16(),
                message,
            });
        }
        if !status.is_success() {
            return Err(DrmError::Unavailable {
                source_name: shown,
                message: format!("the key server answered {status} (redirects are not followed)"),
            });
        }
        let mut warnings = Vec::new();
        let server = header_text(&headers, "x-speke-user-agent");
        if server.is_none() {
            warnings.push(format!(
                "{shown}: the key server sent no X-Speke-User-Agent header (SPEKE v2 asks for one)"
            ));
        }
        if let Some(version) = header_text(&headers, "x-speke-version")
            && version != SPEKE_VERSION
        {
            warnings.push(format!(
                "{shown}: the key server answered X-Speke-Version {version:?}, not {SPEKE_VERSION}"
            ));
        }
        let keys = cpix::parse_response(&answer, request, KeySource::Speke(shown.clone()))?;
        return Ok(SpekeAnswer {
            keys,
            server,
            attempts: attempt,
            signed: signer.is_some(),
            warnings,
        });
    }
    Err(DrmError::Unavailable {
        source_name: shown,
        message: format!("{last_failure} (gave up after {attempts} attempts)"),
    })
}

/// `url` without user info, query or fragment: what reports and messages
/// may show.
pub fn redact_url(url: &str) -> String {
    let without_query = url.split(['?', '#']).next().unwrap_or("");
    match without_query.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = match rest.find('/') {
                Some(i) => rest.split_at(i),
                None => (rest, ""),
            };
            let host = authority.rsplit('@').next().unwrap_or(authority);
            format!("{scheme}://{host}{path}")
        }
        None => without_query.to_string(),
    }
}

/// The region of an API Gateway host
/// (`<api-id>.execute-api.<region>.amazonaws.com`).
pub fn region_from_host(host: &str) -> Option<String> {
    let host = host.to_ascii_lowercase();
    let labels: Vec<&str> = host.split('.').collect();
    let at = labels.iter().position(|l| *l == SIGV4_SERVICE)?;
    let region = labels.get(at + 1)?;
    let rest = labels.get(at + 2..)?.join(".");
    (rest.starts_with("amazonaws.com") && !region.is_empty()).then(|| region.to_string())
}

/// The parsed URL: what is sent and to whom.
struct Target {
    /// Without user info.
    uri: http::Uri,
    https: bool,
    host: String,
    /// `host[:port]` as written.
    authority: String,
    basic: Option<Zeroizing<String>>,
}

impl Target {
    fn parse(url: &str) -> Option<Target> {
        let (scheme, rest) = url.split_once("://")?;
        let https = match scheme.to_ascii_lowercase().as_str() {
            "https" => true,
            "http" => false,
            _ => return None,
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let (userinfo, authority) = match authority.rsplit_once('@') {
            Some((user, host)) => (Some(user), host),
            None => (None, authority),
        };
        let tail = tail.split('#').next().unwrap_or("");
        let tail = if tail.is_empty() || tail.starts_with('?') {
            format!("/{tail}")
        } else {
            tail.to_string()
        };
        let uri: http::Uri = format!("{scheme}://{authority}{tail}").parse().ok()?;
        let host = uri.host()?.to_string();
        let basic = userinfo.map(|user| Zeroizing::new(BASE64.encode(user)));
        Some(Target {
            uri,
            https,
            host,
            authority: authority.to_string(),
            basic,
        })
    }

    fn is_aws(&self) -> bool {
        let host = self.host.to_ascii_lowercase();
        host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn")
    }
}

/// Credentials and region to sign with.
struct Signer {
    credentials: AwsCredentials,
    region: String,
}

async fn resolve_signer(
    signing: &AwsSigning,
    target: &Target,
    shown: &str,
) -> Result<Option<Signer>, DrmError> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let mut sdk_region = None;
    let credentials = match signing {
        AwsSigning::Off => return Ok(None),
        AwsSigning::With(credentials) => credentials.clone(),
        AwsSigning::Auto => {
            if let (Some(id), Some(secret)) =
                (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"))
            {
                AwsCredentials::new(id, secret, env("AWS_SESSION_TOKEN"), None)
            } else if target.is_aws() || env("AWS_PROFILE").is_some() {
                use aws_credential_types::provider::ProvideCredentials as _;
                let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                sdk_region = config.region().map(|r| r.to_string());
                let Some(provider) = config.credentials_provider() else {
                    return Ok(None);
                };
                match provider.provide_credentials().await {
                    Ok(c) => AwsCredentials::new(
                        c.access_key_id(),
                        c.secret_access_key(),
                        c.session_token().map(str::to_owned),
                        None,
                    ),
                    // No credentials anywhere: the request goes unsigned and
                    // a refusal says so.
                    Err(_) => return Ok(None),
                }
            } else {
                return Ok(None);
            }
        }
    };
    let region = credentials
        .region
        .clone()
        .or_else(|| region_from_host(&target.host))
        .or_else(|| env("AWS_REGION"))
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .or(sdk_region)
        .ok_or_else(|| {
            DrmError::Config(format!(
                "{shown}: AWS credentials are configured but the SigV4 region is unknown: \
                 set AWS_REGION"
            ))
        })?;
    Ok(Some(Signer {
        credentials,
        region,
    }))
}

fn build_request(
    target: &Target,
    body: &Bytes,
    signer: Option<&Signer>,
    shown: &str,
) -> Result<http::Request<Full<Bytes>>, DrmError> {
    let config = |why: String| DrmError::Config(format!("{shown}: {why}"));
    let mut builder = http::Request::post(target.uri.clone())
        .header(http::header::HOST, target.authority.as_str())
        .header(http::header::CONTENT_TYPE, "application/xml")
        .header(http::header::ACCEPT, "application/xml")
        .header("x-speke-version", SPEKE_VERSION)
        .header(
            http::header::USER_AGENT,
            concat!("audiopack/", env!("CARGO_PKG_VERSION")),
        );
    if let (Some(basic), None) = (&target.basic, signer) {
        builder = builder.header(
            http::header::AUTHORIZATION,
            format!("Basic {}", basic.as_str()),
        );
    }
    let mut request = builder
        .body(Full::new(body.clone()))
        .map_err(|e| config(format!("cannot build the request ({e})")))?;
    if let Some(signer) = signer {
        sign(&mut request, body, signer).map_err(|e| config(format!("cannot sign: {e}")))?;
    }
    Ok(request)
}

fn sign(
    request: &mut http::Request<Full<Bytes>>,
    body: &[u8],
    signer: &Signer,
) -> Result<(), String> {
    use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings};
    let credentials = &signer.credentials;
    let identity: aws_smithy_runtime_api::client::identity::Identity =
        aws_credential_types::Credentials::new(
            credentials.access_key_id.clone(),
            credentials.secret_access_key.as_str(),
            credentials.session_token.as_ref().map(|t| t.to_string()),
            None,
            "audiopack",
        )
        .into();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(&signer.region)
        .name(SIGV4_SERVICE)
        .time(SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let headers: Vec<(&str, &str)> = request
        .headers()
        .iter()
        .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
        .collect();
    let uri = request.uri().to_string();
    let signable =
        SignableRequest::new("POST", &uri, headers.into_iter(), SignableBody::Bytes(body))
            .map_err(|e| e.to_string())?;
    let (instructions, _signature) = aws_sigv4::http_request::sign(signable, &params)
        .map_err(|e| e.to_string())?
        .into_parts();
    instructions.apply_to_request_http1x(request);
    Ok(())
}

/// An HTTP client for one target: plain or TLS (native roots, aws-lc-rs).
enum HttpClient {
    Plain(Client<HttpConnector, Full<Bytes>>),
    Tls(Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>),
}

impl HttpClient {
    fn new(target: &Target, options: &SpekeOptions) -> Result<HttpClient, String> {
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(options.connect_timeout));
        http.set_nodelay(true);
        let builder = Client::builder(TokioExecutor::new());
        if !target.https {
            return Ok(HttpClient::Plain(builder.build(http)));
        }
        http.enforce_http(false);
        let provider = rustls::crypto::aws_lc_rs::default_provider();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(provider)
            .map_err(|e| format!("cannot load the system's TLS root certificates ({e})"))?
            .https_only()
            .enable_http1()
            .wrap_connector(http);
        Ok(HttpClient::Tls(builder.build(https)))
    }
}

enum Failure {
    /// Connection, TLS or protocol failure: worth a retry.
    Transport(String),
    /// The server's certificate was refused: asking again cannot help.
    Untrusted(String),
    TooLarge,
}

type Exchanged = (http::StatusCode, http::HeaderMap, Zeroizing<Vec<u8>>);

/// Sends `request` and reads the whole answer (at most `limit` bytes).
async fn exchange(
    client: &HttpClient,
    request: http::Request<Full<Bytes>>,
    limit: usize,
) -> Result<Exchanged, Failure> {
    let response = match client {
        HttpClient::Plain(c) => c.request(request).await,
        HttpClient::Tls(c) => c.request(request).await,
    }
    .map_err(|e| {
        if certificate_refused(&e) {
            Failure::Untrusted(error_chain(&e))
        } else {
            Failure::Transport(error_chain(&e))
        }
    })?;
    let (parts, body) = response.into_parts();
    let collected = Limited::new(body, limit).collect().await.map_err(|e| {
        if e.downcast_ref::<http_body_util::LengthLimitError>()
            .is_some()
        {
            Failure::TooLarge
        } else {
            Failure::Transport(format!("the answer broke off ({})", error_chain(&*e)))
        }
    })?;
    Ok((
        parts.status,
        parts.headers,
        Zeroizing::new(collected.to_bytes().to_vec()),
    ))
}

/// Whether rustls refused the server's certificate somewhere in `error`'s
/// causes. hyper-rustls wraps the handshake's `io::Error` (which wraps the
/// rustls error) in another `io::Error`, and an `io::Error`'s `source()`
/// skips the error it wraps: those are followed through `get_ref`.
fn certificate_refused(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(rustls::Error::InvalidCertificate(_)) = e.downcast_ref::<rustls::Error>() {
            return true;
        }
        next = match e
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    false
}

/// An error and its causes, `: `-joined (hyper's own text holds no URL).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn header_text(headers: &http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().chars().take(200).collect::<String>())
        .filter(|v| !v.is_empty())
}

/// The start of a refusal's body, safe to show: printable text only,
/// whitespace collapsed, long base64-like runs (which could be key
/// material) replaced by `…`, at most 200 characters.
pub fn snippet(body: &[u8]) -> String {
    let head = &body[..body.len().min(4096)];
    let text = String::from_utf8_lossy(head);
    let mut words = Vec::new();
    for word in text.split_whitespace() {
        let clean: String = word.chars().filter(|c| !c.is_control()).collect();
        let mut out = String::new();
        let mut run = String::new();
        for c in clean.chars() {
            if c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '-' | '_') {
                run.push(c);
            } else {
                out.push_str(&mask_run(&run));
                run.clear();
                out.push(c);
            }
        }
        out.push_str(&mask_run(&run));
        words.push(out);
    }
    let joined = words.join(" ");
    if joined.chars().count() > 200 {
        let mut cut: String = joined.chars().take(200).collect();
        cut.push('…');
        cut
    } else {
        joined
    }
}

fn mask_run(run: &str) -> String {
    if run.len() >= 20 {
        "…".to_string()
    } else {
        run.to_string()
    }
}
