//! Just enough HTTP/1.1 message handling for the [`FaultProxy`](crate::FaultProxy):
//! parse a request or response head, rewrite hop-by-hop headers, and decide
//! whether a relayed response leaves the client connection reusable.
//!
//! Pure functions over bytes; the proxy does the socket I/O.

use std::fmt::Write as _;

/// The largest request or response head accepted (request line + headers).
pub(crate) const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Headers that describe one connection, never forwarded by a proxy
/// (RFC 9110 §7.6.1), besides those the `Connection` header names.
const HOP_BY_HOP: [&str; 3] = ["connection", "keep-alive", "proxy-connection"];

/// Where the head in `buf` ends: the index just past its blank line.
pub(crate) fn head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}

/// One header line, kept as received for forwarding.
struct Header {
    /// Lowercased field name.
    name: String,
    /// Field value, trimmed (lossy UTF-8; only used for framing decisions).
    value: String,
    /// The whole line as received, without its CRLF.
    line: Vec<u8>,
}

/// A parsed message head: the start line and the header lines.
pub(crate) struct Head {
    start_line: String,
    headers: Vec<Header>,
}

impl Head {
    /// Parses `bytes` (a head including its final blank line, as delimited
    /// by [`head_end`]). `None` for a malformed head.
    pub(crate) fn parse(bytes: &[u8]) -> Option<Head> {
        let mut lines = bytes
            .split(|&b| b == b'\n')
            .map(|line| line.strip_suffix(b"\r").unwrap_or(line));
        let start_line = String::from_utf8(lines.next()?.to_vec()).ok()?;
        let mut headers = Vec::new();
        for line in lines.filter(|line| !line.is_empty()) {
            let colon = line.iter().position(|&b| b == b':')?;
            let name = std::str::from_utf8(&line[..colon]).ok()?;
            if name.is_empty() || name.contains(|c: char| c.is_ascii_whitespace()) {
                return None;
            }
            headers.push(Header {
                name: name.to_ascii_lowercase(),
                value: String::from_utf8_lossy(&line[colon + 1..])
                    .trim()
                    .to_owned(),
                line: line.to_vec(),
            });
        }
        Some(Head {
            start_line,
            headers,
        })
    }

    /// The request line or status line.
    pub(crate) fn start_line(&self) -> &str {
        &self.start_line
    }

    /// Values of every header named `name` (lowercase).
    fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |h| h.name == name)
            .map(|h| h.value.as_str())
    }

    /// Whether any header named `name` (lowercase) is present.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.values(name).next().is_some()
    }

    /// Whether the comma-separated list header `name` holds `token`.
    pub(crate) fn has_token(&self, name: &str, token: &str) -> bool {
        self.values(name)
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// The `Content-Length`: `Ok(None)` when absent, `Err` when malformed or
    /// given twice with different values.
    pub(crate) fn content_length(&self) -> Result<Option<u64>, ()> {
        let mut length = None;
        for value in self.values("content-length").flat_map(|v| v.split(',')) {
            let value = value.trim();
            if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err(());
            }
            let parsed = value.parse::<u64>().map_err(|_| ())?;
            if length.is_some_and(|l| l != parsed) {
                return Err(());
            }
            length = Some(parsed);
        }
        Ok(length)
    }

    /// Writes the head without its hop-by-hop headers (and without the final
    /// blank line), so the caller can add its own `Connection` header.
    fn write_end_to_end(&self, start_line: &str, out: &mut Vec<u8>) {
        let named: Vec<String> = self
            .values("connection")
            .flat_map(|v| v.split(','))
            .map(|t| t.trim().to_ascii_lowercase())
            .collect();
        out.extend_from_slice(start_line.as_bytes());
        out.extend_from_slice(b"\r\n");
        for header in &self.headers {
            if HOP_BY_HOP.contains(&header.name.as_str()) || named.contains(&header.name) {
                continue;
            }
            out.extend_from_slice(&header.line);
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// A request line: `METHOD TARGET HTTP/1.x`.
pub(crate) struct RequestLine {
    /// The method, e.g. `PUT`.
    pub(crate) method: String,
    /// The request target as sent (origin form, percent-encoded).
    pub(crate) target: String,
    /// Whether the client spoke HTTP/1.1 (else 1.0).
    pub(crate) http11: bool,
}

impl RequestLine {
    /// Parses a request line; `None` unless it is HTTP/1.0 or 1.1.
    pub(crate) fn parse(line: &str) -> Option<RequestLine> {
        let mut parts = line.split(' ');
        let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || method.is_empty() || target.is_empty() {
            return None;
        }
        let http11 = match version {
            "HTTP/1.1" => true,
            "HTTP/1.0" => false,
            _ => return None,
        };
        Some(RequestLine {
            method: method.to_owned(),
            target: target.to_owned(),
            http11,
        })
    }

    /// The target's path (before any `?`).
    pub(crate) fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(p, _)| p)
    }

    /// The target's query (after the first `?`; empty when none).
    pub(crate) fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, q)| q)
    }
}

/// The bytes to send upstream for a request: the same request line, headers
/// and body, except that the hop-by-hop headers become `Connection: close`
/// (every forwarded request gets a fresh upstream connection).
pub(crate) fn upstream_request(line: &RequestLine, head: &Head, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(head.start_line().len() + 1024 + body.len());
    let start_line = format!("{} {} HTTP/1.1", line.method, line.target);
    head.write_end_to_end(&start_line, &mut out);
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(body);
    out
}

/// A response ready for the client.
pub(crate) struct Relayed {
    /// Head and body to write.
    pub(crate) bytes: Vec<u8>,
    /// Whether the client connection can carry another request afterwards.
    pub(crate) keep_alive: bool,
}

/// Turns a complete upstream response (read to EOF) into the response for
/// the client: interim 1xx responses are dropped (the proxy answered
/// `Expect: 100-continue` itself), hop-by-hop headers are replaced, and the
/// connection is kept alive only if the client wants it and the response is
/// self-delimiting and complete. `None` when no final response head parses.
pub(crate) fn relay_response(
    raw: &[u8],
    head_request: bool,
    client_keep_alive: bool,
) -> Option<Relayed> {
    let mut rest = raw;
    let (head, status) = loop {
        let end = head_end(rest)?;
        let head = Head::parse(&rest[..end])?;
        let status = parse_status(head.start_line())?;
        rest = &rest[end..];
        if !(100..200).contains(&status) || status == 101 {
            break (head, status);
        }
    };
    let body = rest;
    let complete = if head_request || status == 204 || status == 304 {
        body.is_empty()
    } else if head.has("transfer-encoding") {
        head.has_token("transfer-encoding", "chunked") && body.ends_with(b"\r\n\r\n")
    } else {
        match head.content_length() {
            Ok(Some(length)) => u64::try_from(body.len()).is_ok_and(|n| n == length),
            // Delimited by the close: only a close can delimit it for the client too.
            Ok(None) | Err(()) => false,
        }
    };
    let keep_alive = client_keep_alive && complete;
    let mut bytes = Vec::with_capacity(raw.len() + 32);
    head.write_end_to_end(head.start_line(), &mut bytes);
    if !keep_alive {
        bytes.extend_from_slice(b"Connection: close\r\n");
    }
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(body);
    Some(Relayed { bytes, keep_alive })
}

/// The status code of a status line `HTTP/1.x NNN reason`.
fn parse_status(line: &str) -> Option<u16> {
    let mut parts = line.splitn(3, ' ');
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let code = parts.next()?;
    if code.len() != 3 {
        return None;
    }
    code.parse().ok()
}

/// A response the proxy makes up itself. A HEAD request gets the headers
/// only (with the body's `Content-Length`), as HTTP requires.
pub(crate) fn own_response(
    status: u16,
    reason: &str,
    content_type: &str,
    extra_headers: &[(&str, &str)],
    body: &[u8],
    head_request: bool,
    keep_alive: bool,
) -> Vec<u8> {
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in extra_headers {
        // Writing to a String cannot fail.
        let _ = write!(head, "{name}: {value}\r\n");
    }
    if !keep_alive {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    if !head_request {
        out.extend_from_slice(body);
    }
    out
}

/// An S3 XML error document.
pub(crate) fn s3_error_xml(code: &str, message: &str, request_id: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code>\
         <Message>{message}</Message><RequestId>{request_id}</RequestId></Error>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relay(raw: &str, head_request: bool) -> (String, bool) {
        let relayed = relay_response(raw.as_bytes(), head_request, true).expect("response parses");
        (
            String::from_utf8(relayed.bytes).expect("utf-8"),
            relayed.keep_alive,
        )
    }

    #[test]
    fn request_is_forwarded_with_connection_close() {
        let raw = b"PUT /b/k?x-id=PutObject HTTP/1.1\r\nHost: h\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: 5\r\nContent-Length: 3\r\n\r\n";
        let head = Head::parse(raw).expect("head parses");
        let line = RequestLine::parse(head.start_line()).expect("request line parses");
        assert_eq!((line.path(), line.query()), ("/b/k", "x-id=PutObject"));
        assert_eq!(head.content_length(), Ok(Some(3)));
        let out = upstream_request(&line, &head, b"abc");
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "PUT /b/k?x-id=PutObject HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc"
        );
    }

    #[test]
    fn bad_heads_are_rejected() {
        assert!(RequestLine::parse("GET / HTTP/2").is_none());
        assert!(RequestLine::parse("GET  / HTTP/1.1").is_none());
        assert!(Head::parse(b"GET / HTTP/1.1\r\nno colon\r\n\r\n").is_none());
        let conflicting =
            Head::parse(b"PUT / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n")
                .expect("head parses");
        assert_eq!(conflicting.content_length(), Err(()));
    }

    #[test]
    fn complete_response_keeps_the_client_connection() {
        let (out, keep) = relay(
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok",
            false,
        );
        assert_eq!(out, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
        assert!(keep);
    }

    #[test]
    fn truncated_or_unframed_response_closes_the_client_connection() {
        let (out, keep) = relay("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nok", false);
        assert_eq!(
            out,
            "HTTP/1.1 200 OK\r\ncontent-length: 5\r\nConnection: close\r\n\r\nok"
        );
        assert!(!keep);
        let (_, keep) = relay("HTTP/1.1 200 OK\r\n\r\nbody to eof", false);
        assert!(!keep);
        let (_, keep) = relay("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n", true);
        assert!(
            keep,
            "a HEAD response has no body whatever its Content-Length"
        );
        assert!(relay_response(b"garbage", false, true).is_none());
    }

    #[test]
    fn own_head_response_has_no_body() {
        let out = own_response(
            503,
            "Slow Down",
            "application/xml",
            &[],
            b"<x/>",
            true,
            true,
        );
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: 4\r\n\r\n"
        );
    }
}
