//! Retries with exponential backoff and jitter, for failures that can
//! succeed on another attempt (5xx, SlowDown, timeouts, dropped
//! connections). Failures that cannot (bad credentials, access denied, a
//! missing bucket) are returned at once: no retry storm.
//!
//! The SDK's own retry layer is disabled: its token bucket gives up after a
//! burst of failures across all requests, which is what a flaky origin
//! produces, and one explicit policy is easier to reason about and test.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::{BoxError, StoreError, StoreErrorKind};

/// One attempt's failure, classified.
#[derive(Debug)]
pub(crate) struct Failure {
    /// May succeed if tried again (the kind is then what to report if it
    /// never does); otherwise give up now.
    pub transient: bool,
    pub kind: StoreErrorKind,
    pub message: String,
    /// The underlying error (the SDK's), kept as the [`StoreError`]'s source.
    pub source: Option<BoxError>,
}

impl Failure {
    pub(crate) fn transient(kind: StoreErrorKind, message: impl Into<String>) -> Failure {
        Failure {
            transient: true,
            kind,
            message: message.into(),
            source: None,
        }
    }

    pub(crate) fn permanent(kind: StoreErrorKind, message: impl Into<String>) -> Failure {
        Failure {
            transient: false,
            ..Failure::transient(kind, message)
        }
    }

    /// The same failure, caused by `source`.
    pub(crate) fn caused_by(mut self, source: impl Into<BoxError>) -> Failure {
        self.source = Some(source.into());
        self
    }

    /// The failure of `target`, for good.
    pub(crate) fn into_error(self, target: &str) -> StoreError {
        StoreError {
            source: self.source,
            ..StoreError::new(self.kind, target, self.message)
        }
    }
}

impl From<StoreError> for Failure {
    /// A failure already given up on (it is not retried again).
    fn from(e: StoreError) -> Failure {
        Failure {
            transient: false,
            kind: e.kind,
            message: e.message,
            source: e.source,
        }
    }
}

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included.
    pub max_attempts: u32,
    /// Backoff before the second attempt; doubles each time.
    pub base: Duration,
    /// Largest backoff.
    pub cap: Duration,
    /// Failed attempts allowed where the endpoint could not be reached
    /// (refused, reset, DNS, timeouts): fewer in the preflight, so a wrong
    /// or dead endpoint is reported within seconds.
    pub max_unreachable_attempts: u32,
}

impl Default for RetryPolicy {
    /// 8 attempts, 200 ms doubling to 5 s: survives half a dozen
    /// consecutive failures of one object (about 15 s of waiting at worst).
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 8,
            base: Duration::from_millis(200),
            cap: Duration::from_secs(5),
            max_unreachable_attempts: 8,
        }
    }
}

impl RetryPolicy {
    /// Preflight: the same patience with a busy server, but an endpoint
    /// that cannot be reached gets three tries.
    pub fn preflight(self) -> Self {
        RetryPolicy {
            max_unreachable_attempts: self.max_unreachable_attempts.min(3),
            ..self
        }
    }

    /// The wait after failed attempt `attempt` (1-based): "equal jitter",
    /// half fixed and half random, so waits never collapse to zero.
    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << (attempt - 1).min(16))
            .min(self.cap);
        let half = exp / 2;
        half + half.mul_f64(jitter())
    }
}

/// A uniform number in [0, 1) from a per-process sequence (splitmix64
/// seeded from the clock): enough to spread retries, no crate needed.
fn jitter() -> f64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut z = STATE
        .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
        .wrapping_add(seed);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// Runs `op` until it succeeds, fails permanently or runs out of attempts.
/// `retries` counts the extra attempts made (for the report).
pub(crate) async fn with_retries<T, F, Fut>(
    policy: &RetryPolicy,
    target: &str,
    retries: &AtomicU64,
    mut op: F,
) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let mut attempt = 1;
    let mut unreachable = 0;
    loop {
        let failure = match op().await {
            Ok(value) => return Ok(value),
            Err(failure) => failure,
        };
        if !failure.transient {
            return Err(failure.into_error(target));
        }
        if failure.kind == StoreErrorKind::Unreachable {
            unreachable += 1;
        }
        if attempt >= policy.max_attempts || unreachable >= policy.max_unreachable_attempts {
            let message = format!("{} (gave up after {attempt} attempts)", failure.message);
            return Err(Failure { message, ..failure }.into_error(target));
        }
        tokio::time::sleep(policy.backoff(attempt)).await;
        retries.fetch_add(1, Ordering::Relaxed);
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter_and_caps() {
        let p = RetryPolicy::default();
        for attempt in 1..12 {
            let full = p.base.saturating_mul(1 << (attempt - 1)).min(p.cap);
            let b = p.backoff(attempt);
            assert!(
                b >= full / 2 && b <= full,
                "attempt {attempt}: {b:?} vs {full:?}"
            );
        }
        assert!(p.backoff(30) <= p.cap);
    }

    #[tokio::test(start_paused = true)]
    async fn transient_failures_are_retried_then_give_up() {
        let retries = AtomicU64::new(0);
        let policy = RetryPolicy::default();
        let mut calls = 0;
        let ok = with_retries(&policy, "k", &retries, || {
            calls += 1;
            let n = calls;
            async move {
                if n < 4 {
                    Err(Failure::transient(StoreErrorKind::Failed, "503 SlowDown"))
                } else {
                    Ok(n)
                }
            }
        })
        .await;
        assert_eq!(ok.ok(), Some(4));
        assert_eq!(retries.load(Ordering::Relaxed), 3);

        let mut calls = 0;
        let err = with_retries(&policy, "k", &retries, || {
            calls += 1;
            async {
                Err::<(), _>(
                    Failure::transient(StoreErrorKind::Failed, "reset")
                        .caused_by(std::io::Error::from(std::io::ErrorKind::ConnectionReset)),
                )
            }
        })
        .await;
        assert_eq!(calls, policy.max_attempts);
        let err = err.err();
        assert!(
            matches!(
                &err,
                Some(StoreError {
                    kind: StoreErrorKind::Failed,
                    ..
                })
            ),
            "{err:?}"
        );
        // The cause is kept behind the unchanged message.
        let err = err.map(|e| {
            let source = std::error::Error::source(&e).map(ToString::to_string);
            (e.to_string(), source)
        });
        assert_eq!(
            err,
            Some((
                "k: reset (gave up after 8 attempts)".to_string(),
                Some(std::io::Error::from(std::io::ErrorKind::ConnectionReset).to_string())
            ))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_failures_are_not_retried() {
        let retries = AtomicU64::new(0);
        let mut calls = 0;
        let err = with_retries(&RetryPolicy::default(), "k", &retries, || {
            calls += 1;
            async { Err::<(), _>(Failure::permanent(StoreErrorKind::AccessDenied, "403")) }
        })
        .await;
        assert_eq!(calls, 1);
        assert!(matches!(
            err,
            Err(StoreError {
                kind: StoreErrorKind::AccessDenied,
                ..
            })
        ));
    }
}
