//! SPEKE v2 key server client: a CPIX request over HTTP(S).
//!
//! (Helper-owned: being written.)

use crate::cpix::KeyRequest;
use crate::{DrmError, KeySet};

/// Asks the SPEKE v2 server at `url` for the keys of `request`.
pub async fn fetch_keys(url: &str, request: &KeyRequest) -> Result<KeySet, DrmError> {
    let _ = request;
    Err(DrmError::Unavailable {
        source_name: redact_url(url),
        message: "SPEKE is not implemented yet".into(),
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
