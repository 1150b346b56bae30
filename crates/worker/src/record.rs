//! [`JobRecord`]: a job's state in the KV bucket, keyed by its job key.
//!
//! ```text
//!  submit ─► queued ─► running (worker W, attempt n) ─► done
//!                 ▲           │                        (also: already done → done, skipped)
//!                 └── retry ──┤ transient error, attempts left (Nak with a delay)
//!                             ├─► failed: bad input, unsupported, over limits, bad settings (Term)
//!                             └─► failed: transient error on the last delivery (Term)
//!  a message that is not a job ─► failed (key "poison-<stream sequence>")
//!  the last delivery unanswered (worker killed) ─► failed, from the server's
//!                                                 MAX_DELIVERIES advisory
//! ```
//!
//! `done` is final: a worker never overwrites it (a redelivered job whose
//! package is already there is acked without work).

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// In the queue (new, or back after a retryable error).
    Queued,
    /// A worker holds it.
    Running,
    /// Its package is complete at its output.
    Done,
    /// It will not be retried; `message` says why.
    Failed,
}

impl JobState {
    /// `queued`, `running`, `done`, `failed`.
    pub fn name(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Done => "done",
            JobState::Failed => "failed",
        }
    }
}

/// One job's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    /// The catalog id.
    pub id: String,
    /// The job key (the KV key).
    pub key: String,
    /// The input.
    pub input: String,
    /// Where its package goes.
    pub package: String,
    /// Where it is.
    pub state: JobState,
    /// Why it failed, or why it was put back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The exit class of the failure (`bad-input`, `storage-unreachable`…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// Deliveries so far.
    pub attempts: u32,
    /// The worker that holds or last held it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    /// Seconds since the Unix epoch.
    pub submitted_at: f64,
    /// When the last attempt started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<f64>,
    /// When it was done or failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<f64>,
    /// The input's length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audio_seconds: Option<f64>,
    /// The last attempt's wall time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wall_seconds: Option<f64>,
    /// Done without encoding: the package was already there.
    #[serde(default)]
    pub skipped: bool,
}

impl JobRecord {
    /// A job just queued: nothing tried yet.
    pub fn queued(job: &crate::JobMessage) -> JobRecord {
        JobRecord {
            id: job.id.clone(),
            key: job.key.clone(),
            input: job.input.clone(),
            package: crate::submit::package_location(&job.output, &job.id),
            state: JobState::Queued,
            message: None,
            class: None,
            attempts: 0,
            worker: None,
            submitted_at: job.submitted_at,
            started_at: None,
            finished_at: None,
            audio_seconds: None,
            wall_seconds: None,
            skipped: false,
        }
    }

    /// The JSON value stored.
    pub fn to_bytes(&self) -> bytes::Bytes {
        bytes::Bytes::from(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Reads a stored value (`None`: not one of ours).
    pub fn from_bytes(bytes: &[u8]) -> Option<JobRecord> {
        serde_json::from_slice(bytes).ok()
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
