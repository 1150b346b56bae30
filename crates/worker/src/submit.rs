//! `submit`: a catalog into the queue, one message per track, each once.
//!
//! ```text
//!  every row: settings ─► Job::build (checked; a bad row names its line, nothing sent)
//!             key = digest(input, settings digest, output, id)
//!  then per row:  KV[key] queued / running / done ─► already (nothing sent)
//!                 KV[key] failed ─► kept (or re-sent with --retry-failed)
//!                 else publish (Nats-Msg-Id = key) ─► KV create "queued"
//! ```
//!
//! The stream's duplicate window (minutes) catches a submit repeated at
//! once, or two submitters racing; the KV entry catches one repeated days
//! later. A job whose KV entry exists but whose message was lost (a
//! submitter killed between the two steps) is re-sent by `--retry-failed`
//! only if failed; `--force` re-sends everything (workers still skip
//! packages already complete).

use std::path::Path;

use async_nats::jetstream::message::PublishMessage;
use audiopack::{Input, JobSettings, Output, S3Options};
use audiopack_batch::{Catalog, TrackSettings};

use crate::error::WorkerError;
use crate::message::{JobMessage, MESSAGE_VERSION, job_key};
use crate::queue::{NatsOptions, Queue, QueueSettings, SUBJECT};
use crate::record::{JobRecord, JobState, now};

/// How to submit.
#[derive(Debug, Clone)]
pub struct SubmitOptions {
    /// The NATS server.
    pub nats: NatsOptions,
    /// The output root: `s3://bucket/prefix/` (or a directory every worker
    /// shares); each package at `<id>/`.
    pub output: String,
    /// The queue's consumer settings.
    pub queue: QueueSettings,
    /// Re-send jobs recorded as failed.
    pub retry_failed: bool,
    /// Re-send every job, whatever its state.
    pub force: bool,
    /// S3 settings (only to check the settings build; nothing is read).
    pub storage: S3Options,
}

/// What a submit did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct SubmitSummary {
    /// Rows in the catalog.
    pub total: usize,
    /// Sent now.
    pub new: usize,
    /// Already queued or running.
    pub queued: usize,
    /// Already done.
    pub done: usize,
    /// Recorded as failed and not re-sent.
    pub failed: usize,
}

/// A job ready to send.
struct Prepared {
    message: JobMessage,
}

/// Where package `id` goes under `output`.
pub(crate) fn package_location(output: &str, id: &str) -> String {
    if output.starts_with("s3://") {
        format!("{}/{id}/", output.trim_end_matches('/'))
    } else {
        Path::new(output).join(id).display().to_string()
    }
}

/// `output` as workers anywhere read it: an `s3://` prefix ends in `/`; a
/// directory is absolute.
fn normalize_output(output: &str) -> Result<String, WorkerError> {
    if output.starts_with("s3://") {
        let trimmed = output.trim_end_matches('/');
        return Ok(format!("{trimmed}/"));
    }
    std::path::absolute(output)
        .map(|p| p.display().to_string())
        .map_err(|e| {
            WorkerError::Batch(audiopack_batch::BatchError::Io {
                path: output.into(),
                action: "resolving the output directory",
                source: e,
            })
        })
}

/// Submits `catalog`: see the module documentation. `settings_for` gives
/// each row's settings (the command's options with the row's over them).
///
/// # Errors
///
/// A row whose job cannot be built (nothing is sent), the NATS server
/// unreachable or refusing.
pub async fn submit(
    catalog: &Catalog,
    settings_for: impl Fn(&TrackSettings) -> JobSettings,
    options: &SubmitOptions,
) -> Result<SubmitSummary, WorkerError> {
    let output = normalize_output(&options.output)?;
    let submitted_at = now();
    let mut prepared = Vec::with_capacity(catalog.tracks.len());
    for track in &catalog.tracks {
        let input = if track.input.starts_with("s3://") {
            track.input.clone()
        } else {
            std::path::absolute(&track.input)
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| track.input.clone())
        };
        let settings = settings_for(&track.settings);
        let package = package_location(&output, &track.id);
        let row_error = |error: audiopack::Error| WorkerError::Row {
            source_name: catalog.source.clone(),
            line: track.line,
            error,
        };
        let job = settings
            .builder()
            .map_err(|e| row_error(e.into()))?
            .input(Input::parse(&input))
            .output(Output::parse(&package))
            .storage(options.storage.clone())
            .build()
            .map_err(row_error)?;
        let settings_digest = job.settings_digest();
        let key = job_key(&input, &settings_digest, &output, &track.id);
        prepared.push(Prepared {
            message: JobMessage {
                version: MESSAGE_VERSION,
                key,
                id: track.id.clone(),
                input,
                output: output.clone(),
                settings,
                settings_digest,
                submitted_at,
            },
        });
    }

    let queue = Queue::open(&options.nats, Some(&options.queue)).await?;
    let mut summary = SubmitSummary {
        total: prepared.len(),
        ..SubmitSummary::default()
    };
    for job in prepared {
        let key = &job.message.key;
        let existing = queue
            .kv
            .entry(key.as_str())
            .await
            .map_err(|e| queue.error("reading job state", e))?
            .filter(|e| matches!(e.operation, async_nats::jetstream::kv::Operation::Put));
        let record = existing
            .as_ref()
            .and_then(|e| JobRecord::from_bytes(&e.value));
        let msg_id = match (&record, options.force) {
            (None, _) => key.clone(),
            (Some(r), false) if r.state == JobState::Failed && !options.retry_failed => {
                summary.failed += 1;
                continue;
            }
            (Some(r), false) if r.state == JobState::Done => {
                summary.done += 1;
                continue;
            }
            (Some(r), false) if r.state != JobState::Failed => {
                summary.queued += 1;
                continue;
            }
            // Re-sent on purpose: a message id of its own, past the
            // duplicate window of the first.
            (Some(_), _) => format!("{key}-{}", existing.as_ref().map_or(0, |e| e.revision)),
        };
        let ack = queue
            .js
            .send_publish(
                SUBJECT,
                PublishMessage::build()
                    .payload(job.message.to_payload().into())
                    .message_id(&msg_id),
            )
            .await
            .map_err(|e| queue.error("publishing a job", e))?
            .await
            .map_err(|e| queue.error("publishing a job", e))?;
        if ack.duplicate {
            // Another submit of the same row sent it moments ago.
            summary.queued += 1;
            continue;
        }
        summary.new += 1;
        let queued = JobRecord::queued(&job.message);
        let written = match &existing {
            None => queue
                .kv
                .create(key.as_str(), queued.to_bytes())
                .await
                .map(|_| ())
                .or_else(|e| {
                    // A worker already took it and recorded that.
                    if e.kind() == async_nats::jetstream::kv::CreateErrorKind::AlreadyExists {
                        Ok(())
                    } else {
                        Err(queue.error("recording a queued job", e))
                    }
                }),
            Some(e) => queue
                .kv
                .update(key.as_str(), queued.to_bytes(), e.revision)
                .await
                .map(|_| ())
                .or(Ok(())),
        };
        written?;
    }
    queue
        .client
        .flush()
        .await
        .map_err(|e| queue.error("flushing", e))?;
    Ok(summary)
}
