//! How to reach an S3-compatible bucket: [`S3Options`] (endpoint, region,
//! credentials, part sizes, timeouts, the largest input) and their checks
//! before any client is built.

use std::time::Duration;

use crate::error::PublishError;
use crate::retry::RetryPolicy;

/// A fixed key pair, for a backend that holds its own credentials instead
/// of the AWS chain (environment, profile, SSO, IMDS).
#[derive(Clone)]
pub struct S3Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "** redacted **"),
            )
            .finish()
    }
}

/// How to reach the bucket.
#[derive(Debug, Clone)]
pub struct S3Options {
    /// `None`: the standard AWS credential chain.
    pub credentials: Option<S3Credentials>,
    /// Overrides `AWS_ENDPOINT_URL_S3` / `AWS_ENDPOINT_URL`.
    pub endpoint_url: Option<String>,
    /// Overrides the AWS chain; without either, `us-east-1`.
    pub region: Option<String>,
    /// `None`: path-style for custom endpoints, virtual-hosted for AWS.
    pub path_style: Option<bool>,
    pub retry: RetryPolicy,
    /// Objects larger than this go up in parts.
    pub multipart_threshold: usize,
    /// Part size (S3: at least 5 MiB but the last part).
    pub part_size: usize,
    /// Establishing a connection (TCP, and TLS for https).
    pub connect_timeout: Duration,
    /// One attempt of a request without a large body (HeadBucket, HEAD of
    /// an object, a listing, creating or aborting a multipart upload, the
    /// headers of a download), from sending it to the answer's headers.
    /// Short: an endpoint that accepts connections and never answers fails
    /// the preflight within seconds.
    pub request_timeout: Duration,
    /// Waiting for the answer once a body is sent, and the longest pause
    /// allowed while a download streams in.
    pub first_byte_timeout: Duration,
    /// The slowest upload still taken for progress, in bytes per second:
    /// one attempt of a PUT, a part or a completion gets
    /// `first_byte_timeout + bytes / min_transfer_rate`, never a short
    /// fixed limit (a 8 MiB part at this rate: 4 min 46 s).
    pub min_transfer_rate: u64,
    /// `s3://` inputs larger than this are refused before any download.
    pub max_input_bytes: u64,
}

/// The S3 minimum part size.
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;

/// The default largest `s3://` input: 32 GiB, beyond a six-hour 8-channel
/// 48 kHz 24-bit WAV (25 GB), the longest input the default limits allow.
pub const DEFAULT_MAX_INPUT_BYTES: u64 = 32 << 30;

impl Default for S3Options {
    fn default() -> Self {
        S3Options {
            credentials: None,
            endpoint_url: None,
            region: None,
            path_style: None,
            retry: RetryPolicy::default(),
            multipart_threshold: 16 * 1024 * 1024,
            part_size: 8 * 1024 * 1024,
            connect_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(3),
            first_byte_timeout: Duration::from_secs(30),
            min_transfer_rate: 32 * 1024,
            max_input_bytes: DEFAULT_MAX_INPUT_BYTES,
        }
    }
}

impl S3Options {
    /// Checks the options before any client is built: part sizes, timeouts,
    /// and the endpoint (`--endpoint-url`, else `AWS_ENDPOINT_URL_S3`, else
    /// `AWS_ENDPOINT_URL`) must be an `http://` or `https://` URL with a
    /// host. Errors are usage errors.
    pub fn validate(&self) -> Result<(), PublishError> {
        self.validate_transfer()?;
        match &self.endpoint_url {
            Some(url) => check_endpoint("--endpoint-url", url),
            None => {
                for var in ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"] {
                    if let Some(url) = std::env::var_os(var).filter(|v| !v.is_empty()) {
                        return check_endpoint(var, &url.to_string_lossy());
                    }
                }
                Ok(())
            }
        }
    }

    /// The checks of what applies to any client: part sizes, timeouts.
    pub(crate) fn validate_transfer(&self) -> Result<(), PublishError> {
        if self.part_size < MIN_PART_SIZE || self.multipart_threshold < self.part_size {
            return Err(PublishError::Config(format!(
                "part size {} B must be at least {MIN_PART_SIZE} B and at most the multipart threshold ({} B)",
                self.part_size, self.multipart_threshold
            )));
        }
        let timeouts = [
            self.connect_timeout,
            self.request_timeout,
            self.first_byte_timeout,
        ];
        if timeouts.iter().any(Duration::is_zero) || self.min_transfer_rate == 0 {
            return Err(PublishError::Config(
                "storage timeouts and the minimum transfer rate must be positive".into(),
            ));
        }
        Ok(())
    }
}

/// An endpoint is `http(s)://host[:port][/path]`: no other scheme (a
/// `file://` URL would otherwise surface as an unreachable endpoint), no
/// user info (it would end up in messages), no query or fragment.
fn check_endpoint(source: &str, url: &str) -> Result<(), PublishError> {
    let refuse = |why: &str| {
        Err(PublishError::Config(format!(
            "{source} {}: {why}",
            url.escape_debug()
        )))
    };
    if url.contains('@') {
        // Not echoed: the part before '@' may be a password.
        return Err(PublishError::Config(format!(
            "{source}: user info in the endpoint URL (credentials come from the AWS chain)"
        )));
    }
    let lower = url.to_ascii_lowercase();
    let Some(rest) = ["http://", "https://"]
        .iter()
        .find_map(|scheme| lower.strip_prefix(scheme).map(|_| &url[scheme.len()..]))
    else {
        return refuse("the endpoint must be an http:// or https:// URL");
    };
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return refuse("whitespace or a control character in the URL");
    }
    let authority = rest.split('/').next().unwrap_or("");
    if rest.contains(['?', '#']) {
        return refuse("a query or fragment in the endpoint URL");
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((addr, port)) if !addr.is_empty() => (addr, port.strip_prefix(':')),
            _ => return refuse("malformed IPv6 host"),
        },
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | ':'));
    if !host_ok {
        return refuse("no valid host in the endpoint URL");
    }
    if let Some(port) = port
        && !port.parse::<u16>().is_ok_and(|p| p > 0)
    {
        return refuse("invalid port in the endpoint URL");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_http_urls_with_a_host() {
        for good in [
            "http://127.0.0.1:9000",
            "https://minio.example:9000/",
            "HTTPS://s3.eu-west-1.amazonaws.com",
            "http://[::1]:9000",
            "https://gateway.example/s3",
        ] {
            assert!(check_endpoint("--endpoint-url", good).is_ok(), "{good}");
        }
        for bad in [
            "file:///tmp/bucket",
            "ftp://host",
            "127.0.0.1:9000",
            "http://",
            "http:///path",
            "http://host:99999",
            "http://host:port",
            "http://user:secret@host",
            "http://host?x=1",
            "http://ho st",
            "http://host\n",
            "http://[::1",
        ] {
            let err = check_endpoint("--endpoint-url", bad).err();
            assert!(
                matches!(err, Some(PublishError::Config(_))),
                "{bad:?}: {err:?}"
            );
            let text = err.map(|e| e.to_string()).unwrap_or_default();
            assert!(!text.contains('\n') && !text.contains("secret"), "{text}");
        }
    }

    #[test]
    fn options_refuse_a_zero_rate() {
        let options = S3Options::default();
        assert!(options.validate().is_ok());
        let bad = S3Options {
            min_transfer_rate: 0,
            ..S3Options::default()
        };
        assert!(matches!(bad.validate(), Err(PublishError::Config(_))));
    }
}
