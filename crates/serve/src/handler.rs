//! One request → one response. See the crate documentation for the rules.

use std::io::SeekFrom;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Response, StatusCode, Uri};
use tokio::io::AsyncSeekExt;

use crate::body::{FileStream, ResponseBody};
use crate::path::{RequestPath, Resolved, encode_segment, resolve};
use crate::range::{self, RangeAnswer};

/// The methods a file answers to.
const ALLOW: &str = "GET, HEAD, OPTIONS";

/// What a cross-origin page may read of a response.
const EXPOSE: &str =
    "Content-Range, Content-Length, Accept-Ranges, Content-Type, ETag, Last-Modified";

/// Answers one request for a file under `root` (canonical).
pub async fn respond(
    root: &Path,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Response<ResponseBody> {
    if method == Method::OPTIONS {
        return preflight(headers);
    }
    let head = method == Method::HEAD;
    if method != Method::GET && !head {
        let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n", head);
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(ALLOW));
        return response;
    }
    let path = match RequestPath::parse(uri.path()) {
        Ok(path) => path,
        Err(why) => return text(StatusCode::BAD_REQUEST, &format!("refused: {why}\n"), head),
    };
    match resolve(root, path.segments()).await {
        Resolved::NotFound => text(StatusCode::NOT_FOUND, "not found\n", head),
        Resolved::Outside => text(
            StatusCode::FORBIDDEN,
            "refused: outside the served directory\n",
            head,
        ),
        Resolved::File(file) => send_file(&file, headers, head).await,
        Resolved::Directory(dir) => {
            let encoded: Vec<String> = path.segments().iter().map(|s| encode_segment(s)).collect();
            if !path.trailing_slash() {
                // Relative links in the page need the slash: built from
                // the checked segments, so never `//host` (an open redirect).
                return redirect(&format!("/{}/", encoded.join("/")), head);
            }
            let mut index = path.segments().to_vec();
            index.push("index.html".into());
            if let Resolved::File(file) = resolve(root, &index).await {
                return send_file(&file, headers, head).await;
            }
            let url_path = if path.segments().is_empty() {
                "/".to_string()
            } else {
                format!("/{}/", path.segments().join("/"))
            };
            let (root, shown) = (root.to_path_buf(), url_path);
            let page = tokio::task::spawn_blocking(move || {
                crate::index::directory_page(&root, &dir, &shown)
            })
            .await;
            match page {
                Ok(html) => {
                    let mut response = base(StatusCode::OK, head, html);
                    set(
                        &mut response,
                        header::CONTENT_TYPE,
                        "text/html; charset=utf-8",
                    );
                    response
                }
                Err(_) => text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the directory page failed\n",
                    head,
                ),
            }
        }
    }
}

/// A file (or one range of it), streamed.
async fn send_file(path: &Path, headers: &HeaderMap, head: bool) -> Response<ResponseBody> {
    let opened = async {
        let file = tokio::fs::File::open(path).await?;
        let meta = file.metadata().await?;
        std::io::Result::Ok((file, meta))
    };
    let (mut file, meta) = match opened.await {
        Ok(opened) => opened,
        Err(_) => return text(StatusCode::NOT_FOUND, "not found\n", head),
    };
    let size = meta.len();
    let modified = meta.modified().ok();
    let etag = entity_tag(size, modified);
    let last_modified = modified.map(httpdate::fmt_http_date);
    let range_header = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .filter(|_| if_range_holds(headers, &etag, last_modified.as_deref()));
    let answer = range::answer(range_header, size);
    let (status, start, length) = match answer {
        RangeAnswer::Full => (StatusCode::OK, 0, size),
        RangeAnswer::Partial { start, end } => {
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
        RangeAnswer::Unsatisfiable => {
            let mut response = base(StatusCode::RANGE_NOT_SATISFIABLE, head, Vec::new());
            set(
                &mut response,
                header::CONTENT_RANGE,
                &format!("bytes */{size}"),
            );
            set(&mut response, header::ACCEPT_RANGES, "bytes");
            return response;
        }
    };
    let body = if head {
        ResponseBody::Empty
    } else {
        if start > 0 && file.seek(SeekFrom::Start(start)).await.is_err() {
            return text(StatusCode::INTERNAL_SERVER_ERROR, "seek failed\n", head);
        }
        ResponseBody::File(FileStream::new(file, length))
    };
    let mut response = with_common_headers(Response::new(body), status);
    set(
        &mut response,
        header::CONTENT_TYPE,
        crate::mime::content_type(path),
    );
    set(&mut response, header::CONTENT_LENGTH, &length.to_string());
    set(&mut response, header::ACCEPT_RANGES, "bytes");
    set(&mut response, header::ETAG, &etag);
    if let Some(date) = &last_modified {
        set(&mut response, header::LAST_MODIFIED, date);
    }
    if let RangeAnswer::Partial { start, end } = answer {
        set(
            &mut response,
            header::CONTENT_RANGE,
            &format!("bytes {start}-{end}/{size}"),
        );
    }
    response
}

/// A strong validator from the size and modification time (a re-encode
/// changes it, so a resumed download never mixes two versions).
fn entity_tag(size: u64, modified: Option<SystemTime>) -> String {
    let nanos = modified
        .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!("\"{size:x}-{nanos:x}\"")
}

/// `If-Range`: the range applies only when the validator still matches
/// (ours exactly, or our Last-Modified date exactly); otherwise the whole
/// file is sent.
fn if_range_holds(headers: &HeaderMap, etag: &str, last_modified: Option<&str>) -> bool {
    match headers.get(header::IF_RANGE).map(HeaderValue::to_str) {
        None => true,
        Some(Ok(value)) => {
            let value = value.trim();
            value == etag || Some(value) == last_modified
        }
        Some(Err(_)) => false,
    }
}

/// CORS preflight: any origin may GET/HEAD with any request headers.
fn preflight(headers: &HeaderMap) -> Response<ResponseBody> {
    let mut response = base(StatusCode::NO_CONTENT, true, Vec::new());
    set(&mut response, header::ALLOW, ALLOW);
    set(&mut response, header::ACCESS_CONTROL_ALLOW_METHODS, ALLOW);
    let requested = headers
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_static("Range, If-Range"));
    response
        .headers_mut()
        .insert(header::ACCESS_CONTROL_ALLOW_HEADERS, requested);
    set(&mut response, header::ACCESS_CONTROL_MAX_AGE, "600");
    response
}

fn redirect(location: &str, head: bool) -> Response<ResponseBody> {
    let mut response = text(StatusCode::MOVED_PERMANENTLY, "moved\n", head);
    set(&mut response, header::LOCATION, location);
    response
}

fn text(status: StatusCode, message: &str, head: bool) -> Response<ResponseBody> {
    let mut response = base(status, head, message.as_bytes().to_vec());
    set(
        &mut response,
        header::CONTENT_TYPE,
        "text/plain; charset=utf-8",
    );
    response
}

/// A response with an in-memory body (its length set; no body for HEAD).
fn base(status: StatusCode, head: bool, body: impl Into<Vec<u8>>) -> Response<ResponseBody> {
    let body: Vec<u8> = body.into();
    let length = body.len();
    let body = if head || status == StatusCode::NO_CONTENT {
        ResponseBody::Empty
    } else {
        ResponseBody::bytes(body)
    };
    let mut response = with_common_headers(Response::new(body), status);
    if status != StatusCode::NO_CONTENT {
        set(&mut response, header::CONTENT_LENGTH, &length.to_string());
    }
    response
}

/// CORS, no caching, no sniffing: on every response.
fn with_common_headers(
    mut response: Response<ResponseBody>,
    status: StatusCode,
) -> Response<ResponseBody> {
    *response.status_mut() = status;
    set(&mut response, header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");
    set(&mut response, header::ACCESS_CONTROL_EXPOSE_HEADERS, EXPOSE);
    set(&mut response, header::CACHE_CONTROL, "no-store");
    set(&mut response, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    response
}

/// Sets a header whose value this module built (a value that is not a
/// valid header value is left out rather than panicking).
fn set(response: &mut Response<ResponseBody>, name: header::HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}
