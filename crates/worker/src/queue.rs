//! The JetStream objects a fleet shares, their names and settings, and how
//! to reach the server.
//!
//! | object | name | settings |
//! |---|---|---|
//! | stream | `AUDIOPACK_JOBS` on subject `audiopack.jobs` | work-queue retention (a message is gone once acked or terminated), file storage (survives a broker restart), 2 min duplicate window |
//! | consumer | `audiopack-workers` (durable, pull) | explicit acks, `ack_wait` (default 60 s; workers send in-progress acks every third of it), `max_deliver` (default 5), up to 100,000 jobs in flight and 20,000 waiting pulls |
//! | KV bucket | `audiopack-jobs` | one entry per job key, latest state only: its [`JobRecord`](crate::JobRecord); file storage |
//!
//! Every command creates what is missing (idempotently), so a worker may
//! start before the first submit.

use std::path::PathBuf;
use std::time::Duration;

use async_nats::jetstream::{self, consumer, kv, stream};

use crate::error::WorkerError;

/// The work-queue stream.
pub const STREAM: &str = "AUDIOPACK_JOBS";
/// The subject job messages are published on.
pub const SUBJECT: &str = "audiopack.jobs";
/// The durable pull consumer every worker pulls from.
pub const CONSUMER: &str = "audiopack-workers";
/// The KV bucket holding each job's state.
pub const STATE_BUCKET: &str = "audiopack-jobs";

/// Jobs delivered and not yet acknowledged, fleet-wide, at most.
pub const MAX_IN_FLIGHT: i64 = 100_000;
/// Pull requests the consumer holds at once (one per idle worker slot).
pub const MAX_WAITING_PULLS: i64 = 20_000;

/// How to reach the NATS server. Credentials: a `.creds` file, or
/// user/password or a token in the URL; `tls://` asks for TLS.
#[derive(Clone)]
pub struct NatsOptions {
    /// `nats://host:4222`, `tls://…`, `nats://user:pass@host:4222`; a
    /// comma-separated list for a cluster.
    pub url: String,
    /// A NATS credentials file (JWT + NKey seed).
    pub creds_file: Option<PathBuf>,
    /// The connection's name (shown by the server's monitoring).
    pub client_name: String,
    /// How long the first connection may take.
    pub connect_timeout: Duration,
}

impl std::fmt::Debug for NatsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsOptions")
            .field("url", &redact_url(&self.url))
            .field("creds_file", &self.creds_file)
            .field("client_name", &self.client_name)
            .finish()
    }
}

impl NatsOptions {
    /// `url` with the defaults: no creds file, 5 s to connect.
    pub fn new(url: impl Into<String>) -> NatsOptions {
        NatsOptions {
            url: url.into(),
            creds_file: None,
            client_name: "audiopack".into(),
            connect_timeout: Duration::from_secs(5),
        }
    }

    /// The URL as it may be printed: user and password (or token) removed.
    pub fn label(&self) -> String {
        redact_url(&self.url)
    }

    /// Connects; after the first connection the client reconnects on its
    /// own, forever, with a growing delay.
    pub(crate) async fn connect(&self) -> Result<async_nats::Client, WorkerError> {
        let mut options = async_nats::ConnectOptions::new()
            .name(&self.client_name)
            .connection_timeout(self.connect_timeout)
            .max_reconnects(None);
        if let Some(path) = &self.creds_file {
            options = options
                .credentials_file(path)
                .await
                .map_err(|e| WorkerError::Nats {
                    server: self.label(),
                    action: "reading the credentials file",
                    message: format!("{}: {e}", path.display()),
                    unreachable: false,
                })?;
        }
        if self.url.trim_start().starts_with("tls://") {
            options = options.require_tls(true);
        }
        let connect = options.connect(self.url.as_str());
        match tokio::time::timeout(self.connect_timeout + Duration::from_secs(1), connect).await {
            Ok(Ok(client)) => Ok(client),
            Ok(Err(e)) => Err(WorkerError::Nats {
                server: self.label(),
                action: "connecting",
                message: redact_text(&e.to_string(), &self.url),
                unreachable: true,
            }),
            Err(_) => Err(WorkerError::Nats {
                server: self.label(),
                action: "connecting",
                message: format!("no answer within {:?}", self.connect_timeout),
                unreachable: true,
            }),
        }
    }
}

/// Removes `user:password@` / `token@` from every URL of a list.
pub fn redact_url(url: &str) -> String {
    url.split(',')
        .map(|one| {
            let one = one.trim();
            let (scheme, rest) = match one.find("://") {
                Some(i) => (&one[..i + 3], &one[i + 3..]),
                None => ("", one),
            };
            let host_end = rest.find('/').unwrap_or(rest.len());
            match rest[..host_end].rfind('@') {
                Some(at) => format!("{scheme}***@{}", &rest[at + 1..]),
                None => one.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// `text` with any user information of `url` blanked out.
fn redact_text(text: &str, url: &str) -> String {
    let mut out = text.to_string();
    for one in url.split(',') {
        let rest = one.split_once("://").map_or(one, |(_, r)| r);
        let host_end = rest.find('/').unwrap_or(rest.len());
        if let Some(at) = rest[..host_end].rfind('@') {
            let userinfo = &rest[..at];
            for secret in userinfo.split(':').filter(|s| !s.is_empty()) {
                out = out.replace(secret, "***");
            }
        }
    }
    out
}

/// The queue's settings, applied when the consumer is created (and
/// updated by `submit` when they differ).
#[derive(Debug, Clone, PartialEq)]
pub struct QueueSettings {
    /// Without an ack (or an in-progress ack) for this long, a job is
    /// given to another worker.
    pub ack_wait: Duration,
    /// Deliveries of one job at most (a crashed worker's delivery counts).
    pub max_deliver: i64,
}

impl Default for QueueSettings {
    fn default() -> Self {
        QueueSettings {
            ack_wait: Duration::from_secs(60),
            max_deliver: 5,
        }
    }
}

/// A connection and the fleet's objects.
pub(crate) struct Queue {
    pub client: async_nats::Client,
    pub js: jetstream::Context,
    pub stream: stream::Stream,
    pub consumer: consumer::PullConsumer,
    pub kv: kv::Store,
    pub server: String,
}

impl Queue {
    /// Connects and opens (creating what is missing) the stream, the
    /// consumer and the KV bucket. `settings`: apply these to the consumer
    /// (`submit`); `None`: keep what is there, defaults when creating.
    pub(crate) async fn open(
        nats: &NatsOptions,
        settings: Option<&QueueSettings>,
    ) -> Result<Queue, WorkerError> {
        let client = nats.connect().await?;
        let js = jetstream::new(client.clone());
        let server = nats.label();
        let fail = |action: &'static str| {
            let server = server.clone();
            move |e: &dyn std::fmt::Display| WorkerError::Nats {
                server: server.clone(),
                action,
                message: e.to_string(),
                unreachable: false,
            }
        };
        let stream = js
            .get_or_create_stream(stream::Config {
                name: STREAM.into(),
                subjects: vec![SUBJECT.into()],
                retention: stream::RetentionPolicy::WorkQueue,
                storage: stream::StorageType::File,
                duplicate_window: Duration::from_secs(120),
                ..Default::default()
            })
            .await
            .map_err(|e| fail("creating the job stream")(&e))?;
        let wanted = |s: &QueueSettings| consumer::pull::Config {
            durable_name: Some(CONSUMER.into()),
            ack_policy: consumer::AckPolicy::Explicit,
            ack_wait: s.ack_wait,
            max_deliver: s.max_deliver,
            // The server's defaults (1000 unacked, 512 waiting pulls) would
            // cap a fleet at 1000 jobs in flight and ~500 slots.
            max_ack_pending: MAX_IN_FLIGHT,
            max_waiting: MAX_WAITING_PULLS,
            ..Default::default()
        };
        let consumer: consumer::PullConsumer = match stream.get_consumer(CONSUMER).await {
            Ok(mut existing) => {
                let differs = settings.is_some_and(|s| {
                    let info = existing.cached_info();
                    info.config.ack_wait != s.ack_wait || info.config.max_deliver != s.max_deliver
                });
                if let (true, Some(s)) = (differs, settings) {
                    stream
                        .create_consumer(wanted(s))
                        .await
                        .map_err(|e| fail("updating the job consumer")(&e))?;
                    existing = stream
                        .get_consumer(CONSUMER)
                        .await
                        .map_err(|e| fail("opening the job consumer")(&e))?;
                }
                existing
            }
            Err(_) => stream
                .get_or_create_consumer(CONSUMER, wanted(&settings.cloned().unwrap_or_default()))
                .await
                .map_err(|e| fail("creating the job consumer")(&e))?,
        };
        let kv = match js.get_key_value(STATE_BUCKET).await {
            Ok(kv) => kv,
            Err(_) => {
                // The bucket's stream, laid out as NATS KV defines it
                // (ADR-8). Not `create_key_value`: it first reads the
                // account info, whose 2.9 form the client cannot parse.
                js.get_or_create_stream(stream::Config {
                    name: format!("KV_{STATE_BUCKET}"),
                    description: Some("audiopack job state, one entry per job key".into()),
                    subjects: vec![format!("$KV.{STATE_BUCKET}.>")],
                    // The latest state only: 100 M jobs stay 100 M entries.
                    max_messages_per_subject: 1,
                    storage: stream::StorageType::File,
                    allow_rollup: true,
                    deny_delete: true,
                    allow_direct: true,
                    discard: stream::DiscardPolicy::New,
                    num_replicas: 1,
                    ..Default::default()
                })
                .await
                .map_err(|e| fail("creating the job state bucket")(&e))?;
                js.get_key_value(STATE_BUCKET)
                    .await
                    .map_err(|e| fail("opening the job state bucket")(&e))?
            }
        };
        Ok(Queue {
            client,
            js,
            stream,
            consumer,
            kv,
            server,
        })
    }

    /// The consumer's current settings and counts.
    pub(crate) async fn consumer_info(&mut self) -> Result<consumer::Info, WorkerError> {
        let server = self.server.clone();
        match self.consumer.info().await {
            Ok(info) => Ok(info.clone()),
            Err(e) => Err(WorkerError::Nats {
                server,
                action: "reading the consumer",
                message: e.to_string(),
                unreachable: false,
            }),
        }
    }

    /// The error for a failed queue operation.
    pub(crate) fn error(&self, action: &'static str, e: impl std::fmt::Display) -> WorkerError {
        WorkerError::Nats {
            server: self.server.clone(),
            action,
            message: e.to_string(),
            unreachable: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_reach_a_label_or_a_message() {
        assert_eq!(
            redact_url("nats://alice:s3cret@10.0.0.1:4222"),
            "nats://***@10.0.0.1:4222"
        );
        assert_eq!(
            redact_url("tls://tok3n@nats.example"),
            "tls://***@nats.example"
        );
        assert_eq!(
            redact_url("nats://a:b@h1:4222, nats://h2:4222"),
            "nats://***@h1:4222,nats://h2:4222"
        );
        assert_eq!(redact_url("127.0.0.1:4222"), "127.0.0.1:4222");
        let options = NatsOptions::new("nats://alice:s3cret@h:4222");
        assert!(!format!("{options:?}").contains("s3cret"));
        assert_eq!(
            redact_text("auth failed for alice:s3cret", "nats://alice:s3cret@h"),
            "auth failed for ***:***"
        );
    }
}
