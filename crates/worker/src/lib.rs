//! # audiopack-worker
//!
//! Many machines encode one catalog: `audiopack submit` puts one message
//! per track on a NATS JetStream work queue, `audiopack worker`s pull and
//! run them with the library, `audiopack status` reads the fleet's state.
//! The queue is NATS JetStream (acks, redelivery, dedupe, a KV store), not
//! a scheduler of our own.
//!
//! ## Design
//!
//! ```text
//!  submit CATALOG ──► per row: Job::build (checked) ─► JobMessage v1 (id, input, output root,
//!        │             settings, settings digest, key = digest(input, settings, output, id))
//!        │             KV[key] exists (queued/running/done) ─► skip; else publish with
//!        │             Nats-Msg-Id = key, then KV[key] = queued
//!        ▼
//!  stream AUDIOPACK_JOBS (work queue, file storage) ── durable pull consumer audiopack-workers
//!        │                                              (explicit ack, ack_wait, max_deliver)
//!        ▼
//!  worker (N slots, one CpuBudget of N threads): fetch one per free slot
//!        skip rule (batch's PackageSite::check) ─► Ack without work
//!        Job::run with in-progress acks every ack_wait/3 ─► package complete (manifests last)
//!        ─► KV done ─► Ack   |  bad input ─► Term  |  transient ─► Nak(backoff)
//!        |  credentials / access / bucket / disk full ─► Nak, stop pulling, exit non-zero
//!        ▼
//!  status: KV entries ─► counts, per-job state, rate, ETA
//! ```
//!
//! * **Never lost**: a message is acked only after its job returned with
//!   the package complete; a worker that dies holding one lets it come
//!   back after `ack_wait`. File storage keeps the queue over a broker
//!   restart; the client reconnects by itself.
//! * **Never doubled in a conflicting way**: a redelivered job whose
//!   package is complete is acked without work (the batch's skip rule:
//!   report digest, listed files, input SHA-256); two workers that both
//!   encode a job write the same bytes (the encode is deterministic) with
//!   conditional writes.
//! * **Inputs**: relative catalog paths are made absolute at submit; a
//!   fleet needs `s3://` inputs or a filesystem every worker mounts at the
//!   same path.
//! * **Album gain** needs every track of an album measured together, which
//!   one-message-per-track cannot do: `submit --album-gain` is refused
//!   (run `audiopack batch --album-gain` instead).
//!
//! See `docs/scale.md` for running a fleet.

#![deny(missing_docs)]

mod error;
mod message;
mod queue;
mod record;
mod status;
mod submit;
mod worker;

pub use error::WorkerError;
pub use message::{JobMessage, MESSAGE_VERSION, PoisonMessage, job_key};
pub use queue::{
    CONSUMER, MAX_IN_FLIGHT, MAX_WAITING_PULLS, NatsOptions, QueueSettings, STATE_BUCKET, STREAM,
    SUBJECT, redact_url,
};
pub use record::{JobRecord, JobState};
pub use status::{JobStatus, Status, status};
pub use submit::{SubmitOptions, SubmitSummary, submit};
pub use worker::{WorkerEvent, WorkerEventHandler, WorkerOptions, WorkerSummary, run_worker};
