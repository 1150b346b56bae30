//! What a publish did: one [`ObjectReport`] per object and the
//! [`PublishReport`] added to the package's `report.json`.

use serde::{Deserialize, Serialize};

use crate::object::ObjectClass;

/// What happened to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Written,
    /// Already stored with the same size and SHA-256.
    Skipped,
    /// `--dry-run`: would be written.
    WouldWrite,
    /// `--dry-run`: already stored and unchanged.
    Unchanged,
}

#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ObjectReport {
    /// Path relative to the destination (the object key below the prefix).
    pub path: String,
    /// Where it is stored (`s3://bucket/key` or a local path).
    pub location: String,
    pub class: ObjectClass,
    pub bytes: u64,
    pub sha256: String,
    pub action: Action,
}

/// The `publish` section of the report.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PublishReport {
    pub destination: String,
    pub dry_run: bool,
    pub objects_written: usize,
    pub objects_skipped: usize,
    pub bytes_written: u64,
    pub bytes_skipped: u64,
    /// Extra attempts made after transient failures.
    pub retries: u64,
    /// Objects handed to the uploader before `finish`: uploaded while the
    /// encode was still running (0 for `audiopack publish`).
    pub objects_during_encode: usize,
    pub duration_seconds: f64,
    /// In publish order; `report.json` itself is last and not listed.
    pub objects: Vec<ObjectReport>,
}

impl PublishReport {
    /// The report of `objects` (sorted here into publish order: phase,
    /// then path, whatever the completion order).
    pub(crate) fn new(
        destination: String,
        dry_run: bool,
        early: usize,
        mut objects: Vec<ObjectReport>,
    ) -> PublishReport {
        objects.sort_unstable_by(|a, b| (a.class, &a.path).cmp(&(b.class, &b.path)));
        PublishReport {
            destination,
            dry_run,
            objects_written: count(&objects, true),
            objects_skipped: count(&objects, false),
            bytes_written: bytes(&objects, true),
            bytes_skipped: bytes(&objects, false),
            retries: 0,
            objects_during_encode: early,
            duration_seconds: 0.0,
            objects,
        }
    }
}

fn count(objects: &[ObjectReport], written: bool) -> usize {
    objects
        .iter()
        .filter(|o| matches!(o.action, Action::Written | Action::WouldWrite) == written)
        .count()
}

fn bytes(objects: &[ObjectReport], written: bool) -> u64 {
    objects
        .iter()
        .filter(|o| matches!(o.action, Action::Written | Action::WouldWrite) == written)
        .map(|o| o.bytes)
        .sum()
}

/// The package's `report.json` with the `publish` section set.
pub(crate) fn report_with_publish(
    text: &[u8],
    publish: &PublishReport,
) -> Result<Vec<u8>, serde_json::Error> {
    let mut value: serde_json::Value = serde_json::from_slice(text)?;
    if let Some(map) = value.as_object_mut() {
        map.insert("publish".into(), serde_json::to_value(publish)?);
    }
    let mut out = serde_json::to_vec_pretty(&value)?;
    out.push(b'\n');
    Ok(out)
}
