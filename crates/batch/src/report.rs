//! `batch-report.json`: one entry per catalog row (status, exit-code
//! class, message, digests, durations, loudness, gain) and the batch's
//! totals. Written at the output's root when the batch ends, however it
//! ends (a directory's through a temporary file renamed into place; an
//! S3 prefix's as one object), and while it runs as tracks finish (at
//! most every 2 s, S3: 15 s) with `stopped: "in-progress"`.

use serde::{Deserialize, Serialize};

/// The version of the batch report's layout.
pub const BATCH_REPORT_VERSION: u32 = 1;

/// The exit code of a batch with at least one failed track.
pub const EXIT_TRACKS_FAILED: u8 = 13;

/// What became of a track.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TrackStatus {
    /// Encoded and stored by this run.
    Done,
    /// Already done: the package there was made from the same input bytes
    /// with the same settings.
    Skipped,
    /// Failed (or cancelled while running): `class`, `exit_code` and
    /// `message` say why; nothing of it is left at its output.
    Failed,
    /// Never started: the batch was stopped first (`--max-failures`, a
    /// signal).
    NotRun,
}

/// Loudness of a track, LUFS.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrackLoudness {
    /// Integrated loudness of the source.
    pub input_integrated_lufs: Option<f64>,
    /// Integrated loudness of what the renditions carry.
    pub output_integrated_lufs: Option<f64>,
}

/// One catalog row's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackEntry {
    /// The row's id (its output sub-directory or sub-prefix).
    pub id: String,
    /// Its line in the catalog (header = 1) or position in the listing.
    pub line: usize,
    /// The input: a path or an `s3://` URL.
    pub input: String,
    /// Where its package is (`OUT/<id>`, `s3://…/<id>/`).
    pub output: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The row's album, if any.
    pub album: Option<String>,
    /// What became of it.
    pub status: TrackStatus,
    /// `ok`, or the error's class (`bad-input`, `storage-unreachable`, …).
    pub class: String,
    /// The exit code `audiopack ingest` gives the same outcome.
    pub exit_code: u8,
    /// The error, as `audiopack ingest` prints it (after `error: `).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Why it was encoded (`no package yet`, `settings changed`, …) or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Hex SHA-256 of the input's bytes, when known.
    pub input_sha256: Option<String>,
    /// The settings digest of the track's job (as in its report.json).
    pub settings_digest: String,
    /// Seconds of audio.
    pub audio_seconds: Option<f64>,
    /// Wall-clock seconds this run spent on it (a skip: the check).
    pub wall_seconds: f64,
    /// Integrated loudness before and after.
    pub loudness: Option<TrackLoudness>,
    /// The gain applied, dB.
    pub gain_db: Option<f64>,
    /// `--album-gain`: the album's integrated loudness (all its tracks'
    /// gating blocks together), LUFS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub album_integrated_lufs: Option<f64>,
    /// `--album-gain`: the gain the album's tracks get, dB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub album_gain_db: Option<f64>,
}

/// The batch as a whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Rows in the catalog.
    pub tracks: usize,
    /// Tracks encoded by this run.
    pub done: usize,
    /// Tracks already done.
    pub skipped: usize,
    /// Tracks that failed (or were cancelled while running).
    pub failed: usize,
    /// Tracks never started.
    pub not_run: usize,
    /// Audio of the done and skipped tracks.
    pub audio_seconds: f64,
    /// `audio_seconds` in hours.
    pub audio_hours: f64,
    /// Audio encoded by this run (done tracks).
    pub encoded_audio_seconds: f64,
    /// Seconds from the start of the batch to its report.
    pub wall_seconds: f64,
    /// Process CPU time (user + system) over the run; `None` where the
    /// platform does not say (read from `/proc/self/stat`).
    pub cpu_seconds: Option<f64>,
    /// Encoded audio seconds per wall-clock second.
    pub realtime: Option<f64>,
}

/// `batch-report.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchReport {
    /// [`BATCH_REPORT_VERSION`].
    pub schema_version: u32,
    /// `audiopack`.
    pub tool: String,
    /// The version of audiopack that ran the batch.
    pub version: String,
    /// The catalog file or the listed prefix.
    pub catalog: String,
    /// The output directory or prefix.
    pub output: String,
    /// CPU threads the batch computed on (and tracks at once).
    pub jobs: usize,
    /// Why tracks were left unstarted: `max-failures`, `signal`; or
    /// `in-progress`: written while the batch ran (rows not finished yet
    /// are `not-run`), what a batch killed before its end leaves.
    pub stopped: Option<String>,
    /// The command's exit code for this batch: 0, 13 (a track failed), or
    /// 128 + the stop signal.
    pub exit_code: u8,
    /// The batch as a whole.
    pub totals: Totals,
    /// One entry per catalog row, in catalog order.
    pub tracks: Vec<TrackEntry>,
}

impl BatchReport {
    /// Pretty JSON with a final newline.
    pub fn to_json(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }
}

/// Totals of `tracks` over `wall_seconds`.
pub(crate) fn totals(tracks: &[TrackEntry], wall_seconds: f64, cpu: Option<f64>) -> Totals {
    let count = |s: TrackStatus| tracks.iter().filter(|t| t.status == s).count();
    let audio = |pred: &dyn Fn(&TrackEntry) -> bool| -> f64 {
        tracks
            .iter()
            .filter(|t| pred(t))
            .filter_map(|t| t.audio_seconds)
            .fold(0.0, |a, b| a + b)
    };
    let audio_seconds = audio(&|t| matches!(t.status, TrackStatus::Done | TrackStatus::Skipped));
    let encoded = audio(&|t| t.status == TrackStatus::Done);
    Totals {
        tracks: tracks.len(),
        done: count(TrackStatus::Done),
        skipped: count(TrackStatus::Skipped),
        failed: count(TrackStatus::Failed),
        not_run: count(TrackStatus::NotRun),
        audio_seconds,
        audio_hours: audio_seconds / 3600.0,
        encoded_audio_seconds: encoded,
        wall_seconds,
        cpu_seconds: cpu,
        realtime: (wall_seconds > 0.0).then(|| encoded / wall_seconds),
    }
}
