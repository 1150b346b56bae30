//! The pages as the pipeline renders them: real `report.json` files (a
//! clear package measured with `--measure-decoded`, an encrypted one, a
//! batch with a failed track and an id full of markup), a `qc.json` of the
//! crate's own types. What the browser then draws is checked by
//! `players/qc.mjs` in Chromium.

use audiopack_qc::{QcData, QcError, render_batch_index, render_report_page};

const REPORT: &str = include_str!("fixtures/demo.report.json");
const ENCRYPTED: &str = include_str!("fixtures/encrypted.report.json");
const QC: &str = include_str!("fixtures/demo.qc.json");
const BATCH: &str = include_str!("fixtures/batch-report.json");

/// The text of `<script type="application/json" id="{id}">`, unescaped.
fn embedded(html: &str, id: &str) -> Option<String> {
    let open = format!(r#"<script type="application/json" id="{id}">"#);
    let start = html.find(&open)? + open.len();
    let end = start + html[start..].find("</script>")?;
    Some(html[start..end].replace("\\u003c", "<"))
}

/// The page without its embedded documents: what we wrote ourselves.
fn own_markup(html: &str) -> String {
    let mut out = html.to_owned();
    for id in ["report-json", "qc-json", "batch-json", "tracks-json"] {
        if let Some(doc) = embedded(&out, id) {
            out = out.replace(&doc.replace('<', "\\u003c"), "");
        }
    }
    out
}

#[test]
fn the_qc_fixture_is_what_the_pipeline_writes() {
    let qc: QcData = serde_json::from_str(QC).expect("qc.json matches QcData");
    assert_eq!(qc.schema_version, audiopack_qc::QC_SCHEMA_VERSION);
    // And a QcData serialized by serde renders too.
    let text = serde_json::to_string(&qc).expect("serialize");
    render_report_page(REPORT, Some(&text)).expect("renders");
}

#[test]
fn embeds_both_documents_verbatim() {
    let html = render_report_page(REPORT, Some(QC)).expect("renders");
    assert_eq!(
        embedded(&html, "report-json").as_deref(),
        Some(REPORT.trim())
    );
    assert_eq!(embedded(&html, "qc-json").as_deref(), Some(QC.trim()));
    assert!(html.starts_with("<!doctype html>"));
    assert!(html.contains("<title>demo.flac \u{2014} audiopack QC</title>"));
}

#[test]
fn a_tag_cannot_break_out_of_the_embedded_report() {
    let mut report: serde_json::Value = serde_json::from_str(REPORT).expect("json");
    report["input"]["tags"]["title"] = "</script><script>alert(1)</script><!-- <SCRIPT>".into();
    let text = serde_json::to_string(&report).expect("json");
    let html = render_report_page(&text, Some(QC)).expect("renders");
    assert_eq!(
        html.matches("</script>").count(),
        3,
        "only our own elements end"
    );
    assert!(!html.to_ascii_lowercase().contains("<script>alert"));
    let back: serde_json::Value =
        serde_json::from_str(&embedded(&html, "report-json").expect("embedded")).expect("json");
    assert_eq!(back, report);
}

#[test]
fn is_deterministic() {
    let a = render_report_page(REPORT, Some(QC)).expect("renders");
    let b = render_report_page(REPORT, Some(QC)).expect("renders");
    assert_eq!(a, b);
    let a = render_batch_index(BATCH, &tracks()).expect("renders");
    let b = render_batch_index(BATCH, &tracks()).expect("renders");
    assert_eq!(a, b);
}

#[test]
fn loads_nothing_from_the_network() {
    for html in [
        render_report_page(REPORT, Some(QC)).expect("renders"),
        render_report_page(ENCRYPTED, None).expect("renders"),
        render_batch_index(BATCH, &tracks()).expect("renders"),
    ] {
        let own = own_markup(&html).to_ascii_lowercase();
        for needle in [
            "http://", "https://", "//cdn", "<link", "@import", " src=", "<iframe", "<img",
            "fonts.",
        ] {
            assert!(!own.contains(needle), "{needle:?} in the page's own markup");
        }
        let style = &own[own.find("<style>").expect("style")..own.find("</style>").expect("style")];
        assert!(!style.contains("url("), "a stylesheet loading something");
        // The policy allows nothing from elsewhere.
        assert!(own.contains("default-src 'none'"));
    }
}

#[test]
fn renders_without_qc_json_and_for_an_encrypted_package() {
    let html = render_report_page(REPORT, None).expect("renders");
    assert!(embedded(&html, "qc-json").is_none());
    assert!(embedded(&html, "report-json").is_some());

    let html = render_report_page(ENCRYPTED, None).expect("renders");
    let report: serde_json::Value =
        serde_json::from_str(&embedded(&html, "report-json").expect("embedded")).expect("json");
    assert_eq!(report["protection"]["scheme"], "cbcs");
    // The page script handles it: a note instead of the player.
    assert!(html.contains("report.protection"));
    assert!(html.contains("license server"));
}

#[test]
fn invalid_documents_are_named() {
    let err = render_report_page("not json", None).expect_err("invalid");
    assert!(matches!(err, QcError::InvalidJson { ref document, .. } if document == "report.json"));
    let err = render_report_page(REPORT, Some("{\"x\":")).expect_err("invalid");
    assert!(
        err.to_string().starts_with("qc.json: not valid JSON"),
        "{err}"
    );
    let err = render_batch_index("[]", &[]).expect_err("not an object");
    assert_eq!(err.to_string(), "batch-report.json: not a JSON object");
}

fn tracks() -> Vec<(String, Option<String>)> {
    let batch: serde_json::Value = serde_json::from_str(BATCH).expect("json");
    batch["tracks"]
        .as_array()
        .expect("tracks")
        .iter()
        .map(|t| {
            let id = t["id"].as_str().expect("id").to_owned();
            let report = (t["status"] == "done").then(|| REPORT.to_owned());
            (id, report)
        })
        .collect()
}

#[test]
fn the_batch_index_lists_every_row_and_escapes_ids() {
    let html = render_batch_index(BATCH, &tracks()).expect("renders");
    let batch: serde_json::Value =
        serde_json::from_str(&embedded(&html, "batch-json").expect("embedded")).expect("json");
    let summaries: serde_json::Value =
        serde_json::from_str(&embedded(&html, "tracks-json").expect("embedded")).expect("json");
    let ids: Vec<&str> = batch["tracks"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|t| t["id"].as_str().expect("id"))
        .collect();
    assert_eq!(ids, ["demo", "we<ird> & 'q' \"x\"", "bad", "mp3"]);
    assert_eq!(summaries.as_array().map(Vec::len), Some(4));
    // The id with markup only ever appears JSON-escaped.
    assert!(!html.contains("we<ird>"));
    assert!(html.contains("we\\u003cird> & 'q' \\\"x\\\""));
    // The failed row's message is there for the table.
    assert!(html.contains("not a recognised audio format"));
    assert_eq!(html.matches("</script>").count(), 3);
}
