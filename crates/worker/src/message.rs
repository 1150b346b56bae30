//! The job message: one catalog row plus the settings it is encoded with,
//! as versioned JSON on the work-queue subject.
//!
//! ```json
//! {"version": 1, "key": "<64 hex>", "id": "t1",
//!  "input": "s3://masters/t1.flac", "output": "s3://cdn/catalog/",
//!  "settings": {"preset": "streaming", "formats": "hls,dash", …},
//!  "settings_digest": "<64 hex>", "submitted_at": 1764500000.0}
//! ```
//!
//! * `output` is the root: the package goes to `<output><id>/` (a
//!   directory's `<output>/<id>/`), exactly where `audiopack batch` puts it.
//! * `key` = SHA-256 over (input, settings digest, output, id): the
//!   `Nats-Msg-Id` of the message and the key of its state in the KV
//!   bucket. Submitting the same row with the same settings to the same
//!   place gives the same key, whenever it is submitted.
//! * A message of another `version`, or one that does not parse, is a
//!   poison message: the worker terminates it and records why.

use audiopack::JobSettings;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The message version this build writes and reads.
pub const MESSAGE_VERSION: u32 = 1;

/// One track to encode.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobMessage {
    /// [`MESSAGE_VERSION`].
    pub version: u32,
    /// The job's key (see the module documentation).
    pub key: String,
    /// The catalog id: the package's sub-directory or sub-prefix.
    pub id: String,
    /// An absolute path (on a filesystem every worker shares) or
    /// `s3://bucket/key`.
    pub input: String,
    /// The output root: a directory or `s3://bucket/prefix/`.
    pub output: String,
    /// What shapes the package.
    pub settings: JobSettings,
    /// The settings digest the submitter computed (the package's
    /// `report.json` records the one the worker computes).
    pub settings_digest: String,
    /// When it was submitted, seconds since the Unix epoch.
    pub submitted_at: f64,
}

/// Why a message is not a job this worker can run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PoisonMessage {
    /// Not JSON, or not a job message.
    #[error("invalid job message: {0}")]
    Invalid(String),
    /// A version this worker does not read.
    #[error(
        "job message version {found} is not supported (this worker reads version {MESSAGE_VERSION})"
    )]
    Version {
        /// The version the message says.
        found: u64,
    },
    /// Its key is not the digest of its contents.
    #[error("job message key {0:?} does not match its contents")]
    Key(String),
}

impl JobMessage {
    /// Parses a message payload: the version first (so a newer message
    /// says so rather than failing on a field), then the whole message.
    ///
    /// # Errors
    ///
    /// [`PoisonMessage`]: the worker terminates such a message.
    pub fn parse(payload: &[u8]) -> Result<JobMessage, PoisonMessage> {
        #[derive(Deserialize)]
        struct Version {
            version: Option<serde_json::Value>,
        }
        let head: Version =
            serde_json::from_slice(payload).map_err(|e| PoisonMessage::Invalid(e.to_string()))?;
        match head.version {
            Some(serde_json::Value::Number(n))
                if n.as_u64() == Some(u64::from(MESSAGE_VERSION)) => {}
            Some(serde_json::Value::Number(n)) => {
                return Err(PoisonMessage::Version {
                    found: n.as_u64().unwrap_or(u64::MAX),
                });
            }
            _ => return Err(PoisonMessage::Invalid("no \"version\" number".into())),
        }
        let message: JobMessage =
            serde_json::from_slice(payload).map_err(|e| PoisonMessage::Invalid(e.to_string()))?;
        if message.key
            != job_key(
                &message.input,
                &message.settings_digest,
                &message.output,
                &message.id,
            )
        {
            return Err(PoisonMessage::Key(message.key));
        }
        Ok(message)
    }

    /// The JSON payload.
    pub fn to_payload(&self) -> Vec<u8> {
        // A struct of strings and numbers always serializes.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// The job key: hex SHA-256 over the fields that decide the package,
/// each length-prefixed so no two tuples collide.
pub fn job_key(input: &str, settings_digest: &str, output: &str, id: &str) -> String {
    let mut hash = Sha256::new();
    for part in [input, settings_digest, output, id] {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part.as_bytes());
    }
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> JobMessage {
        let key = job_key("/in/a.flac", "d1", "s3://b/p/", "a");
        JobMessage {
            version: MESSAGE_VERSION,
            key,
            id: "a".into(),
            input: "/in/a.flac".into(),
            output: "s3://b/p/".into(),
            settings: JobSettings::default(),
            settings_digest: "d1".into(),
            submitted_at: 1.0,
        }
    }

    #[test]
    fn a_message_round_trips_and_its_key_depends_on_every_part() {
        let m = message();
        assert_eq!(JobMessage::parse(&m.to_payload()), Ok(m.clone()));
        let keys = [
            job_key("/in/a.flac", "d1", "s3://b/p/", "a"),
            job_key("/in/b.flac", "d1", "s3://b/p/", "a"),
            job_key("/in/a.flac", "d2", "s3://b/p/", "a"),
            job_key("/in/a.flac", "d1", "s3://b/q/", "a"),
            job_key("/in/a.flac", "d1", "s3://b/p/", "b"),
            job_key("/in/a.flac", "d1s3://b/p/", "", "a"),
        ];
        for (i, a) in keys.iter().enumerate() {
            assert_eq!(a.len(), 64);
            for b in &keys[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn poison_messages_say_what_is_wrong() {
        assert!(matches!(
            JobMessage::parse(b"{not json"),
            Err(PoisonMessage::Invalid(_))
        ));
        let mut v: serde_json::Value =
            serde_json::from_slice(&message().to_payload()).expect("json");
        v["version"] = 2.into();
        let e = JobMessage::parse(v.to_string().as_bytes()).expect_err("version");
        assert_eq!(e, PoisonMessage::Version { found: 2 });
        assert!(e.to_string().contains("version 2"), "{e}");
        let mut v: serde_json::Value =
            serde_json::from_slice(&message().to_payload()).expect("json");
        v["input"] = "/in/other.flac".into();
        assert!(matches!(
            JobMessage::parse(v.to_string().as_bytes()),
            Err(PoisonMessage::Key(_))
        ));
        let mut v: serde_json::Value =
            serde_json::from_slice(&message().to_payload()).expect("json");
        v["settings"]["preset"] = 7.into();
        assert!(matches!(
            JobMessage::parse(v.to_string().as_bytes()),
            Err(PoisonMessage::Invalid(_))
        ));
    }
}
