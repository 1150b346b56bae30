//! `status`: counts and per-job state from the KV bucket, plus the
//! consumer's view (messages waiting, held, redelivered), a rate and an
//! ETA.

use std::collections::BTreeMap;

use futures_util::StreamExt as _;
use serde::Serialize;

use crate::error::WorkerError;
use crate::queue::{NatsOptions, Queue};
use crate::record::{JobRecord, JobState, now};

/// One job, as `status --json` lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobStatus {
    /// The catalog id (empty for a poison message).
    pub id: String,
    /// `queued`, `running`, `done` or `failed`.
    pub state: String,
    /// Why it failed or was put back.
    pub message: Option<String>,
    /// Deliveries so far.
    pub attempts: u32,
    /// The worker that holds or last held it.
    pub worker: Option<String>,
    /// The job key.
    pub key: String,
    /// Where its package goes.
    pub package: String,
}

/// The fleet's state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    /// Jobs known (every KV entry).
    pub total: usize,
    /// Waiting.
    pub queued: usize,
    /// Held by a worker.
    pub running: usize,
    /// Complete.
    pub done: usize,
    /// Failed for good.
    pub failed: usize,
    /// Messages the consumer has not delivered yet.
    pub pending_messages: u64,
    /// Messages delivered and not yet acknowledged.
    pub unacknowledged_messages: u64,
    /// Jobs finished per minute over the last 10 minutes.
    pub done_per_minute: f64,
    /// Seconds until queued + running are done at that rate.
    pub eta_seconds: Option<f64>,
    /// Running jobs per worker.
    pub workers: BTreeMap<String, usize>,
    /// Every job, by id.
    pub jobs: Vec<JobStatus>,
}

/// Reads the fleet's state.
///
/// # Errors
///
/// The server unreachable or refusing.
pub async fn status(nats: &NatsOptions) -> Result<Status, WorkerError> {
    let mut queue = Queue::open(nats, None).await?;
    let info = queue.consumer_info().await?;
    let mut keys = queue
        .kv
        .keys()
        .await
        .map_err(|e| queue.error("listing job states", e))?;
    let mut records = Vec::new();
    while let Some(key) = keys.next().await {
        let key = key.map_err(|e| queue.error("listing job states", e))?;
        if let Some(bytes) = queue
            .kv
            .get(key.as_str())
            .await
            .map_err(|e| queue.error("reading a job state", e))?
            && let Some(record) = JobRecord::from_bytes(&bytes)
        {
            records.push(record);
        }
    }
    Ok(summarize(
        records,
        info.num_pending,
        info.num_ack_pending as u64,
        now(),
    ))
}

/// Counts, rate and ETA from the records.
fn summarize(mut records: Vec<JobRecord>, pending: u64, unacked: u64, now: f64) -> Status {
    records.sort_by(|a, b| a.id.cmp(&b.id).then(a.key.cmp(&b.key)));
    let count = |s: JobState| records.iter().filter(|r| r.state == s).count();
    let (queued, running, done, failed) = (
        count(JobState::Queued),
        count(JobState::Running),
        count(JobState::Done),
        count(JobState::Failed),
    );
    const WINDOW: f64 = 600.0;
    let recent = records
        .iter()
        .filter(|r| r.state == JobState::Done)
        .filter_map(|r| r.finished_at)
        .filter(|t| now - t <= WINDOW)
        .collect::<Vec<_>>();
    let done_per_minute = match recent.iter().copied().reduce(f64::min) {
        Some(first) if recent.len() > 1 => {
            let span = (now - first).max(1.0);
            recent.len() as f64 * 60.0 / span
        }
        _ => 0.0,
    };
    let left = (queued + running) as f64;
    let eta_seconds = (done_per_minute > 0.0 && left > 0.0).then(|| left * 60.0 / done_per_minute);
    let mut workers = BTreeMap::new();
    for r in records.iter().filter(|r| r.state == JobState::Running) {
        if let Some(w) = &r.worker {
            *workers.entry(w.clone()).or_insert(0) += 1;
        }
    }
    let jobs = records
        .into_iter()
        .map(|r| JobStatus {
            id: r.id,
            state: r.state.name().into(),
            message: r.message,
            attempts: r.attempts,
            worker: r.worker,
            key: r.key,
            package: r.package,
        })
        .collect::<Vec<_>>();
    Status {
        total: jobs.len(),
        queued,
        running,
        done,
        failed,
        pending_messages: pending,
        unacknowledged_messages: unacked,
        done_per_minute,
        eta_seconds,
        workers,
        jobs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, state: JobState, finished_at: Option<f64>) -> JobRecord {
        JobRecord {
            id: id.into(),
            key: format!("k{id}"),
            input: String::new(),
            package: String::new(),
            state,
            message: None,
            class: None,
            attempts: 1,
            worker: Some("w1".into()),
            submitted_at: 0.0,
            started_at: None,
            finished_at,
            audio_seconds: None,
            wall_seconds: None,
            skipped: false,
        }
    }

    #[test]
    fn counts_rate_and_eta() {
        let now = 10_000.0;
        let records = vec![
            record("a", JobState::Done, Some(now - 120.0)),
            record("b", JobState::Done, Some(now - 60.0)),
            record("c", JobState::Done, Some(now - 5000.0)),
            record("d", JobState::Running, None),
            record("e", JobState::Queued, None),
            record("f", JobState::Failed, Some(now - 1.0)),
        ];
        let s = summarize(records, 1, 1, now);
        assert_eq!(
            (s.total, s.done, s.running, s.queued, s.failed),
            (6, 3, 1, 1, 1)
        );
        // Two done in the last 120 s: one a minute; two left: two minutes.
        assert!(
            (s.done_per_minute - 1.0).abs() < 1e-9,
            "{}",
            s.done_per_minute
        );
        assert_eq!(s.eta_seconds, Some(120.0));
        assert_eq!(s.workers.get("w1"), Some(&1));
        assert_eq!(s.jobs[0].id, "a");
    }
}
