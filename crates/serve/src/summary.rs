//! What the index pages show of a package's `report.json` and of a batch's
//! `batch-report.json`, read generically (`serde_json::Value`): a field
//! missing or of another type shows as "–", never as an error, so reports
//! of other versions still get a page.

use serde_json::Value;

/// The facts of one package's `report.json` an index shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PackageSummary {
    /// `input.path`.
    pub input: Option<String>,
    /// `input.format` / `input.codec`.
    pub format: Option<String>,
    /// `input.sample_rate`, Hz.
    pub sample_rate: Option<u64>,
    /// `input.channels`.
    pub channels: Option<u64>,
    /// `input.duration_seconds`.
    pub duration_seconds: Option<f64>,
    /// `loudness.input.integrated_lufs`.
    pub input_lufs: Option<f64>,
    /// `loudness.output.integrated_lufs`.
    pub output_lufs: Option<f64>,
    /// `loudness.config.target_lufs`.
    pub target_lufs: Option<f64>,
    /// `loudness.gain.gain_db`.
    pub gain_db: Option<f64>,
    /// `loudness.gain.reason`.
    pub gain_reason: Option<String>,
    /// The highest `renditions[].decoded.true_peak_dbtp` when the report
    /// has decoded measurements, else `loudness.output.true_peak_dbtp`.
    pub true_peak_dbtp: Option<f64>,
    /// Whether `true_peak_dbtp` was measured after the codec.
    pub true_peak_decoded: bool,
    /// `loudness.config.true_peak_ceiling_dbtp`.
    pub ceiling_dbtp: Option<f64>,
    /// Every string in every `warnings` array of the report.
    pub warnings: Vec<String>,
    /// `package.manifests`.
    pub manifests: Vec<String>,
    /// `package.renditions[].playlist`.
    pub playlists: Vec<String>,
}

impl PackageSummary {
    /// Reads a parsed `report.json`.
    pub fn from_report(report: &Value) -> PackageSummary {
        let decoded_peaks: Vec<f64> = array(report.pointer("/renditions"))
            .filter_map(|r| r.pointer("/decoded/true_peak_dbtp").and_then(Value::as_f64))
            .collect();
        let decoded_peak = decoded_peaks.iter().copied().reduce(f64::max);
        let mut warnings = Vec::new();
        collect_warnings(report, &mut warnings);
        PackageSummary {
            input: text(report, "/input/path"),
            format: text(report, "/input/format"),
            sample_rate: report.pointer("/input/sample_rate").and_then(Value::as_u64),
            channels: report.pointer("/input/channels").and_then(Value::as_u64),
            duration_seconds: number(report, "/input/duration_seconds"),
            input_lufs: number(report, "/loudness/input/integrated_lufs"),
            output_lufs: number(report, "/loudness/output/integrated_lufs"),
            target_lufs: number(report, "/loudness/config/target_lufs"),
            gain_db: number(report, "/loudness/gain/gain_db"),
            gain_reason: text(report, "/loudness/gain/reason"),
            true_peak_dbtp: decoded_peak
                .or_else(|| number(report, "/loudness/output/true_peak_dbtp")),
            true_peak_decoded: decoded_peak.is_some(),
            ceiling_dbtp: number(report, "/loudness/config/true_peak_ceiling_dbtp"),
            warnings,
            manifests: strings(report.pointer("/package/manifests")),
            playlists: array(report.pointer("/package/renditions"))
                .filter_map(|r| r.get("playlist").and_then(Value::as_str))
                .map(str::to_string)
                .collect(),
        }
    }
}

/// One track of a batch report.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchTrack {
    /// `id` (its directory under the batch output).
    pub id: String,
    /// `status`: done, skipped, failed, not-run.
    pub status: String,
    /// `class`: ok or the error's class.
    pub class: Option<String>,
    /// `message`: the error, for a failed track.
    pub message: Option<String>,
    /// `loudness.input_integrated_lufs`.
    pub input_lufs: Option<f64>,
    /// `loudness.output_integrated_lufs`.
    pub output_lufs: Option<f64>,
    /// `gain_db`.
    pub gain_db: Option<f64>,
}

/// The facts of a `batch-report.json` an index shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchSummary {
    /// `catalog`.
    pub catalog: Option<String>,
    /// `stopped` (null when the batch ran to its end).
    pub stopped: Option<String>,
    /// `totals.{tracks, done, skipped, failed, not_run}`, in that order.
    pub totals: Vec<(&'static str, Option<u64>)>,
    /// `tracks`.
    pub tracks: Vec<BatchTrack>,
}

impl BatchSummary {
    /// Reads a parsed `batch-report.json`.
    pub fn from_report(report: &Value) -> BatchSummary {
        let totals = ["tracks", "done", "skipped", "failed", "not_run"]
            .into_iter()
            .map(|key| {
                (
                    key,
                    report
                        .pointer(&format!("/totals/{key}"))
                        .and_then(Value::as_u64),
                )
            })
            .collect();
        let tracks = array(report.pointer("/tracks"))
            .filter_map(|t| {
                Some(BatchTrack {
                    id: t.get("id")?.as_str()?.to_string(),
                    status: text(t, "/status").unwrap_or_else(|| "unknown".into()),
                    class: text(t, "/class"),
                    message: text(t, "/message"),
                    input_lufs: number(t, "/loudness/input_integrated_lufs"),
                    output_lufs: number(t, "/loudness/output_integrated_lufs"),
                    gain_db: number(t, "/gain_db"),
                })
            })
            .collect();
        BatchSummary {
            catalog: text(report, "/catalog"),
            stopped: text(report, "/stopped"),
            totals,
            tracks,
        }
    }
}

fn text(value: &Value, pointer: &str) -> Option<String> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn number(value: &Value, pointer: &str) -> Option<f64> {
    value.pointer(pointer).and_then(Value::as_f64)
}

fn array(value: Option<&Value>) -> impl Iterator<Item = &Value> {
    value.and_then(Value::as_array).into_iter().flatten()
}

fn strings(value: Option<&Value>) -> Vec<String> {
    array(value)
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect()
}

/// Every string of every array held under a `warnings` key, depth first.
fn collect_warnings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                if key == "warnings" {
                    out.extend(strings(Some(inner)));
                } else {
                    collect_warnings(inner, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_warnings(i, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn package_report_fields() {
        let report = json!({
            "input": {"path": "song.flac", "format": "flac", "sample_rate": 44100,
                      "channels": 2, "duration_seconds": 20.0, "warnings": ["lenient: x"]},
            "loudness": {
                "config": {"target_lufs": -14.0, "true_peak_ceiling_dbtp": -1.0},
                "input": {"integrated_lufs": -17.04},
                "gain": {"gain_db": 3.04, "reason": "target"},
                "output": {"integrated_lufs": -14.01, "true_peak_dbtp": -3.3},
                "peak_control": {"warnings": ["opus_64k over the ceiling"]}
            },
            "package": {"manifests": ["master.m3u8", "manifest.mpd"],
                        "renditions": [{"playlist": "opus_64k.m3u8"}, {"name": "x"}]}
        });
        let s = PackageSummary::from_report(&report);
        assert_eq!(s.input.as_deref(), Some("song.flac"));
        assert_eq!(s.sample_rate, Some(44100));
        assert_eq!(s.output_lufs, Some(-14.01));
        assert_eq!(s.gain_db, Some(3.04));
        assert_eq!(s.true_peak_dbtp, Some(-3.3));
        assert!(!s.true_peak_decoded);
        assert_eq!(s.warnings, ["lenient: x", "opus_64k over the ceiling"]);
        assert_eq!(s.manifests, ["master.m3u8", "manifest.mpd"]);
        assert_eq!(s.playlists, ["opus_64k.m3u8"]);
    }

    #[test]
    fn decoded_peaks_win_and_odd_reports_do_not_fail() {
        let report = json!({
            "loudness": {"output": {"true_peak_dbtp": -3.0}},
            "renditions": [{"decoded": {"true_peak_dbtp": -1.2}},
                           {"decoded": {"true_peak_dbtp": -0.9}}]
        });
        let s = PackageSummary::from_report(&report);
        assert_eq!(s.true_peak_dbtp, Some(-0.9));
        assert!(s.true_peak_decoded);
        assert_eq!(
            PackageSummary::from_report(&json!([1, 2])),
            PackageSummary::default()
        );
        assert_eq!(BatchSummary::from_report(&json!("x")).tracks, []);
    }

    #[test]
    fn batch_report_fields() {
        let report = json!({
            "catalog": "cat.csv", "stopped": null,
            "totals": {"tracks": 2, "done": 1, "skipped": 0, "failed": 1, "not_run": 0},
            "tracks": [
                {"id": "t1", "status": "done", "class": "ok",
                 "loudness": {"input_integrated_lufs": -17.0, "output_integrated_lufs": -14.0},
                 "gain_db": 3.0},
                {"id": "bad", "status": "failed", "class": "io", "message": "missing.wav: gone",
                 "loudness": null, "gain_db": null},
                {"status": "done"}
            ]
        });
        let s = BatchSummary::from_report(&report);
        assert_eq!(s.stopped, None);
        assert_eq!(s.totals[1], ("done", Some(1)));
        assert_eq!(s.tracks.len(), 2);
        assert_eq!(s.tracks[0].output_lufs, Some(-14.0));
        assert_eq!(s.tracks[1].message.as_deref(), Some("missing.wav: gone"));
        assert_eq!(s.tracks[1].gain_db, None);
    }
}
