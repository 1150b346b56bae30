//! SDK errors sorted for [`crate::retry`]: [`classify`] turns a failed
//! request into a transient or permanent [`Failure`] with a one-line
//! message; the helpers read an answer's status and error code.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

use crate::error::StoreErrorKind;
use crate::retry::Failure;

/// The causes of an SDK error, outermost first, joined with `: ` on one
/// line: each cause's `Display` only (the SDK's `DisplayErrorContext` adds
/// a `Debug` dump of the whole error, with the credential chain's every
/// attempt on its own line), skipping causes that repeat what is already
/// said, capped in length.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    const MAX_CHARS: usize = 300;
    let mut text = one_line(&e.to_string());
    let mut source = e.source();
    while let Some(cause) = source {
        let part = one_line(&cause.to_string());
        if !part.is_empty() && !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    if text.chars().count() > MAX_CHARS {
        text = text.chars().take(MAX_CHARS).collect::<String>() + "…";
    }
    text
}

/// One line for a credential failure: what the chain said first (for a
/// missing key: "no credentials found in chain"), without the list of
/// every provider it tried, and where credentials come from.
fn credentials_message(chain: &str) -> String {
    let said = chain
        .split(" Attempted:")
        .next()
        .unwrap_or(chain)
        .trim_start_matches("dispatch failure: ")
        .trim_start_matches("other: ")
        .trim_end_matches(['.', ' ']);
    format!(
        "no usable credentials ({said}): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, \
         or AWS_PROFILE, or use an instance or container role"
    )
}

/// Error texts of the SDK and the HTTP stack span several lines (one per
/// cause); a message is one line.
pub(crate) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub(crate) fn status<E, R: HasStatus>(e: &SdkError<E, R>) -> Option<u16> {
    e.raw_response().map(HasStatus::status_code)
}

pub(crate) trait HasStatus {
    fn status_code(&self) -> u16;
}

impl HasStatus for HttpResponse {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

pub(crate) fn error_code<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> Option<&str> {
    match e {
        SdkError::ServiceError(ctx) => ctx.err().code(),
        _ => None,
    }
}

const CREDENTIAL_CODES: &[&str] = &[
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "NotSignedUp",
    "InvalidToken",
    "ExpiredToken",
    "TokenRefreshRequired",
    "InvalidSecurity",
    "AuthorizationHeaderMalformed",
];

const TRANSIENT_CODES: &[&str] = &[
    "SlowDown",
    "RequestTimeout",
    "InternalError",
    "ServiceUnavailable",
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "OperationAborted",
];

/// Sorts a failed request into "try again" or "give up, because …",
/// keeping the SDK error as the cause.
pub(crate) fn classify<E>(e: SdkError<E, HttpResponse>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    sort(&e).caused_by(e)
}

fn sort<E>(e: &SdkError<E, HttpResponse>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let text = error_chain(e);
    match e {
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            let code = ctx.err().code();
            // The server's words, on one line whatever it sent.
            let message = one_line(&match (code, ctx.err().message()) {
                (Some(c), Some(m)) => format!("{status} {c}: {m}"),
                (Some(c), None) => format!("{status} {c}"),
                _ => format!("HTTP {status}"),
            });
            if code.is_some_and(|c| TRANSIENT_CODES.contains(&c))
                || status >= 500
                || status == 429
                || status == 408
            {
                Failure::transient(StoreErrorKind::Failed, message)
            } else if code.is_some_and(|c| CREDENTIAL_CODES.contains(&c)) {
                Failure::permanent(
                    StoreErrorKind::Credentials,
                    format!("credentials rejected ({message})"),
                )
            } else if status == 403 {
                Failure::permanent(
                    StoreErrorKind::AccessDenied,
                    format!("access denied ({message})"),
                )
            } else if code == Some("NoSuchBucket") {
                Failure::permanent(StoreErrorKind::NoSuchBucket, "the bucket does not exist")
            } else if code == Some("NoSuchKey") || status == 404 {
                Failure::permanent(StoreErrorKind::NoSuchKey, "no such object")
            } else if status == 301 || code == Some("PermanentRedirect") {
                Failure::permanent(
                    StoreErrorKind::Failed,
                    format!("{message} (the bucket is in another region: set --region)"),
                )
            } else {
                Failure::permanent(StoreErrorKind::Failed, message)
            }
        }
        _ if text.to_ascii_lowercase().contains("credential") => {
            Failure::permanent(StoreErrorKind::Credentials, credentials_message(&text))
        }
        SdkError::TimeoutError(_) => {
            Failure::transient(StoreErrorKind::Unreachable, format!("timed out ({text})"))
        }
        SdkError::DispatchFailure(d) if d.is_io() || d.is_timeout() || d.is_other() => {
            Failure::transient(
                StoreErrorKind::Unreachable,
                format!("cannot reach the endpoint ({text})"),
            )
        }
        SdkError::ResponseError(_) => {
            Failure::transient(StoreErrorKind::Failed, format!("bad response ({text})"))
        }
        _ => Failure::permanent(StoreErrorKind::Failed, text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_line() {
        assert_eq!(one_line("a\n  b\r\n\tc "), "a b c");
    }
}
