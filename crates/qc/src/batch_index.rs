//! [`render_batch_index`]: a batch output's `index.html`.
//!
//! ```text
//!  batch-report.json text ──► embed_json (verbatim) ─────────────────┐
//!  [(id, report.json text?)] ─► track_summary (a few numbers each) ──┴─► <script type="application/json">
//!                                                    + batch.js: a table sortable by any column
//! ```
//!
//! Each track's `report.json` is reduced to the numbers the table shows
//! (true peaks, warning count, layout), so an index of thousands of tracks
//! stays small; a track whose report cannot be read gets a note in its row
//! instead of failing the index.

use serde_json::{Map, Value, json};

use crate::escape::{QcError, embed_json, escape_html, escape_script_text};
use crate::page::UTIL_JS;

const BASE_CSS: &str = include_str!("../assets/base.css");
const BATCH_CSS: &str = include_str!("../assets/batch.css");
const BATCH_JS: &str = include_str!("../assets/batch.js");

/// Renders a batch output's `index.html` from its `batch-report.json` text
/// and, per track id, that track's `report.json` text when there is one.
///
/// Every row of the batch report is listed (id, status, loudness, gain,
/// true peak, warnings, the failure message, a link to `<id>/report.html`
/// for tracks with a package), sortable by clicking a column header. Ids
/// and messages are only ever inserted as text. Same input, same bytes.
///
/// # Errors
///
/// [`QcError`] when `batch-report.json` is not a JSON object. A track's
/// unreadable `report.json` is shown in its row, not an error.
pub fn render_batch_index(
    batch_report_json: &str,
    tracks: &[(String, Option<String>)],
) -> Result<String, QcError> {
    let batch = embed_json("batch-report.json", batch_report_json)?;
    let summaries: Vec<Value> = tracks
        .iter()
        .map(|(id, report)| track_summary(id, report.as_deref()))
        .collect();
    let summaries = escape_script_text(&Value::Array(summaries).to_string());
    let title = serde_json::from_str::<Value>(batch_report_json)
        .ok()
        .and_then(|v| v["catalog"].as_str().map(str::to_owned))
        .map_or_else(
            || "audiopack batch".to_owned(),
            |c| format!("{c} \u{2014} audiopack batch"),
        );

    let mut html = String::with_capacity(batch.len() + summaries.len() + BATCH_JS.len() + 4096);
    html.push_str("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    html.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    html.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:\">\n");
    html.push_str("<meta name=\"generator\" content=\"audiopack-qc\">\n<title>");
    html.push_str(&escape_html(&title));
    html.push_str("</title>\n<style>\n");
    html.push_str(BASE_CSS);
    html.push_str(BATCH_CSS);
    html.push_str("</style>\n</head>\n<body>\n");
    html.push_str(BODY);
    html.push_str("<script type=\"application/json\" id=\"batch-json\">");
    html.push_str(&batch);
    html.push_str("</script>\n<script type=\"application/json\" id=\"tracks-json\">");
    html.push_str(&summaries);
    html.push_str("</script>\n<script>\n'use strict';\n");
    html.push_str(UTIL_JS);
    html.push('\n');
    html.push_str(BATCH_JS);
    html.push_str("</script>\n</body>\n</html>\n");
    Ok(html)
}

/// What the index shows of one track's `report.json`.
fn track_summary(id: &str, report: Option<&str>) -> Value {
    let mut out = Map::new();
    out.insert("id".to_owned(), Value::from(id));
    let Some(text) = report else {
        return Value::Object(out);
    };
    let report: Value = match serde_json::from_str(text) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) => {
            out.insert("error".to_owned(), "report.json: not a JSON object".into());
            return Value::Object(out);
        }
        Err(e) => {
            out.insert(
                "error".to_owned(),
                format!("report.json: not valid JSON: {e}").into(),
            );
            return Value::Object(out);
        }
    };
    let loudness = &report["loudness"];
    let texts = |v: &Value| -> Vec<Value> {
        v.as_array()
            .map(|a| a.iter().filter(|w| w.is_string()).cloned().collect())
            .unwrap_or_default()
    };
    let mut warnings = texts(&report["input"]["warnings"]);
    warnings.extend(texts(&loudness["decoded_warnings"]));
    warnings.extend(texts(&loudness["peak_control"]["warnings"]));
    let decoded_peak = report["renditions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["decoded"]["true_peak_dbtp"].as_f64())
        .chain(
            loudness["peak_control"]["decoded"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["true_peak_dbtp"].as_f64()),
        )
        .fold(None, |max: Option<f64>, v| {
            Some(max.map_or(v, |m| m.max(v)))
        });
    out.insert(
        "duration_seconds".to_owned(),
        report["input"]["duration_seconds"].clone(),
    );
    out.insert(
        "input_lufs".to_owned(),
        loudness["input"]["integrated_lufs"].clone(),
    );
    out.insert(
        "output_lufs".to_owned(),
        loudness["output"]["integrated_lufs"].clone(),
    );
    out.insert("gain_db".to_owned(), loudness["gain"]["gain_db"].clone());
    out.insert("gain_reason".to_owned(), loudness["gain"]["reason"].clone());
    out.insert(
        "true_peak_dbtp".to_owned(),
        loudness["output"]["true_peak_dbtp"].clone(),
    );
    out.insert("decoded_true_peak_dbtp".to_owned(), json!(decoded_peak));
    out.insert("warnings".to_owned(), Value::Array(warnings));
    out.insert("layout".to_owned(), report["package"]["layout"].clone());
    out.insert(
        "encrypted".to_owned(),
        Value::Bool(!report["protection"].is_null()),
    );
    Value::Object(out)
}

const BODY: &str = r#"<header>
<h1 id="title">audiopack batch</h1>
<p id="summary" class="muted"></p>
<noscript><p class="warn">This page draws its table with JavaScript; the data is in batch-report.json beside it.</p></noscript>
</header>
<main>
<div id="stopped"></div>
<div id="tracks"></div>
</main>
<footer class="muted" id="footer"></footer>
"#;

#[cfg(test)]
mod tests {
    use super::*;

    const BATCH: &str = r#"{"schema_version":1,"tool":"audiopack","version":"0.1.0","catalog":"cat.csv","output":"out","jobs":2,"stopped":null,"exit_code":13,
      "totals":{"tracks":3,"done":1,"skipped":0,"failed":1,"not_run":1,"audio_seconds":20.0,"audio_hours":0.005,"encoded_audio_seconds":20.0,"wall_seconds":3.0,"cpu_seconds":5.0,"realtime":6.6},
      "tracks":[
        {"id":"ok</script><b>x","line":2,"input":"a.flac","output":"out/a","status":"done","class":"ok","exit_code":0,"input_sha256":null,"settings_digest":"d","audio_seconds":20.0,"wall_seconds":3.0,"loudness":{"input_integrated_lufs":-17.2,"output_integrated_lufs":-14.0},"gain_db":3.2},
        {"id":"bad","line":3,"input":"b.wav","output":"out/bad","status":"failed","class":"bad-input","exit_code":3,"message":"b.wav: <not audio>","input_sha256":null,"settings_digest":"d","audio_seconds":null,"wall_seconds":0.1,"loudness":null,"gain_db":null},
        {"id":"later","line":4,"input":"c.wav","output":"out/later","status":"not-run","class":"not-run","exit_code":0,"input_sha256":null,"settings_digest":"d","audio_seconds":null,"wall_seconds":0.0,"loudness":null,"gain_db":null}
      ]}"#;

    fn tracks() -> Vec<(String, Option<String>)> {
        vec![
            (
                "ok</script><b>x".to_owned(),
                Some(r#"{"input":{"duration_seconds":20.0,"warnings":["w1"]},"loudness":{"input":{"integrated_lufs":-17.2},"output":{"integrated_lufs":-14.0,"true_peak_dbtp":-2.5},"gain":{"gain_db":3.2,"reason":"target"},"decoded_warnings":["opus_64k over"]},"renditions":[{"name":"opus_64k","decoded":{"true_peak_dbtp":-0.8}},{"name":"opus_96k","decoded":{"true_peak_dbtp":-1.2}}],"package":{"layout":"segments"}}"#.to_owned()),
            ),
            ("bad".to_owned(), None),
            ("later".to_owned(), Some("{broken".to_owned())),
        ]
    }

    #[test]
    fn escapes_ids_and_lists_every_row() {
        let html = render_batch_index(BATCH, &tracks()).expect("renders");
        assert!(
            !html.contains("ok</script>"),
            "an id broke out of its element"
        );
        assert!(!html.contains("<b>x"));
        assert_eq!(html.matches("</script>").count(), 3);
        for id in ["ok\\u003c/script>\\u003cb>x", "\"bad\"", "\"later\""] {
            assert!(html.contains(id), "{id} missing");
        }
        assert!(html.contains("b.wav: \\u003cnot audio>"));
        assert!(html.contains("<title>cat.csv \u{2014} audiopack batch</title>"));
    }

    #[test]
    fn summarizes_track_reports() {
        let tracks = tracks();
        let s = track_summary(&tracks[0].0, tracks[0].1.as_deref());
        assert_eq!(s["decoded_true_peak_dbtp"], -0.8);
        assert_eq!(s["warnings"].as_array().map(Vec::len), Some(2));
        assert_eq!(s["output_lufs"], -14.0);
        assert_eq!(s["encrypted"], false);
        let broken = track_summary("later", Some("{broken"));
        assert!(
            broken["error"]
                .as_str()
                .is_some_and(|e| e.starts_with("report.json: not valid JSON"))
        );
        let none = track_summary("bad", None);
        assert_eq!(none, json!({"id": "bad"}));
    }

    #[test]
    fn is_deterministic_and_names_an_invalid_batch_report() {
        let a = render_batch_index(BATCH, &tracks()).expect("renders");
        assert_eq!(a, render_batch_index(BATCH, &tracks()).expect("renders"));
        let err = render_batch_index("[]", &[]).expect_err("not an object");
        assert_eq!(err.to_string(), "batch-report.json: not a JSON object");
    }

    #[test]
    fn inline_assets_cannot_end_their_elements() {
        for (name, text) in [("batch.css", BATCH_CSS), ("batch.js", BATCH_JS)] {
            let lower = text.to_ascii_lowercase();
            assert!(
                !lower.contains("</script")
                    && !lower.contains("</style")
                    && !lower.contains("<!--"),
                "{name}"
            );
        }
    }
}
