//! [`JobReport`]: what a job read, decided, wrote and published; the
//! `report.json` of the package plus the publish section.

use audiopack_publish::PublishReport;
use serde::{Deserialize, Serialize};

pub use audiopack_pipeline::JobReport as IngestReport;

/// The report of one job: the package's `report.json` (the `ingest`
/// fields, flattened) and, for a store output, how it was published.
///
/// `schema_version` ([`REPORT_SCHEMA_VERSION`](crate::REPORT_SCHEMA_VERSION))
/// tells the JSON layout; the JSON Schema is [`JobReport::json_schema`]
/// and `docs/report.schema.json`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct JobReport {
    /// Input facts, loudness decisions, renditions, package, files.
    #[serde(flatten)]
    pub ingest: IngestReport,
    /// How the package was stored (store and `s3://` outputs only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish: Option<PublishReport>,
}

impl JobReport {
    /// The JSON Schema (draft 2020-12) of the report, as shipped in
    /// `docs/report.schema.json`.
    pub fn json_schema() -> serde_json::Value {
        serde_json::to_value(schemars::schema_for!(JobReport)).unwrap_or_default()
    }
}

impl std::ops::Deref for JobReport {
    type Target = IngestReport;

    fn deref(&self) -> &IngestReport {
        &self.ingest
    }
}
