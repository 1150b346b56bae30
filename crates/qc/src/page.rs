//! [`render_report_page`]: a package's `report.html`.
//!
//! ```text
//!  report.json text ──┐  embed_json (checked, `<` → \u003c)
//!  qc.json text? ─────┴─► <script type="application/json" id="report-json"/"qc-json">
//!                          + report.css + report.js (include_str!, inline)
//!                          ──► one HTML string: no network, no clock, works from file://
//! ```
//!
//! Everything visible is drawn by `assets/report.js` in the browser from
//! the embedded documents: the facts and the gain decision, the warnings,
//! the loudness, envelope and spectrum plots (SVG), the renditions table
//! and the audition player (its API is described at the top of the
//! script). The Rust side only checks and embeds, so the page and the
//! reports can never disagree.

use crate::QC_SCHEMA_VERSION;
use crate::escape::{QcError, embed_json, escape_html};

const BASE_CSS: &str = include_str!("../assets/base.css");
const REPORT_CSS: &str = include_str!("../assets/report.css");
/// The page's script, in order: helpers, plots, the audition player, the
/// page itself (which reads the embedded documents and calls the others).
pub(crate) const UTIL_JS: &str = include_str!("../assets/util.js");
const PLOTS_JS: &str = include_str!("../assets/plots.js");
const AUDITION_JS: &str = include_str!("../assets/audition.js");
const REPORT_JS: &str = include_str!("../assets/report.js");

/// What the page lets the browser load: its own inline code, media and
/// playlists of its own origin (the package beside it), MSE blob URLs.
/// Nothing from anywhere else.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; \
     script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; \
     connect-src 'self'; media-src 'self' blob:";

/// Renders `report.html` from a package's `report.json` text and, when
/// the pipeline measured it, its `qc.json` text.
///
/// Both documents are embedded verbatim (every `<` written `\u003c`) and
/// drawn by the page's inline script; without `qc.json` the plots are
/// replaced by a note. The same documents always give the same bytes.
///
/// # Errors
///
/// [`QcError`] naming the document that is not a JSON object.
pub fn render_report_page(report_json: &str, qc_json: Option<&str>) -> Result<String, QcError> {
    let report = embed_json("report.json", report_json)?;
    let qc = qc_json
        .map(|text| embed_json("qc.json", text))
        .transpose()?;
    let title = page_title(report_json);

    let mut html = String::with_capacity(
        report.len()
            + qc.as_ref().map_or(0, String::len)
            + UTIL_JS.len()
            + PLOTS_JS.len()
            + AUDITION_JS.len()
            + REPORT_JS.len()
            + 8192,
    );
    html.push_str("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    html.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    html.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"");
    html.push_str(CONTENT_SECURITY_POLICY);
    html.push_str("\">\n<meta name=\"generator\" content=\"audiopack-qc\">\n<title>");
    html.push_str(&escape_html(&title));
    html.push_str("</title>\n<style>\n");
    html.push_str(BASE_CSS);
    html.push_str(REPORT_CSS);
    html.push_str("</style>\n</head>\n<body>\n");
    html.push_str(BODY);
    html.push_str("<script type=\"application/json\" id=\"report-json\">");
    html.push_str(&report);
    html.push_str("</script>\n");
    if let Some(qc) = qc {
        html.push_str("<script type=\"application/json\" id=\"qc-json\">");
        html.push_str(&qc);
        html.push_str("</script>\n");
    }
    html.push_str("<script>\n");
    html.push_str(&format!(
        "'use strict';\nconst QC_PAGE_SCHEMA = {QC_SCHEMA_VERSION};\n"
    ));
    for js in [UTIL_JS, PLOTS_JS, AUDITION_JS, REPORT_JS] {
        html.push_str(js);
        html.push('\n');
    }
    html.push_str("</script>\n</body>\n</html>\n");
    Ok(html)
}

/// `<input file name> — audiopack QC`, or a plain title when the report
/// has no input path (the document is already known to be valid JSON).
fn page_title(report_json: &str) -> String {
    let path = serde_json::from_str::<serde_json::Value>(report_json)
        .ok()
        .and_then(|v| v["input"]["path"].as_str().map(str::to_owned));
    match path {
        Some(path) if !path.is_empty() => format!("{path} \u{2014} audiopack QC"),
        _ => "audiopack QC".to_owned(),
    }
}

/// The page's skeleton: the script fills every section by its id.
const BODY: &str = r#"<header>
<h1 id="title">audiopack QC</h1>
<p id="subtitle" class="muted"></p>
<noscript><p class="warn">This page draws its tables and plots with JavaScript; the data is in report.json and qc.json beside it.</p></noscript>
</header>
<main>
<section id="warnings" aria-label="Warnings"></section>
<section id="audition-section">
<h2>Audition</h2>
<div id="audition"></div>
</section>
<div class="columns">
<section id="input-section"><h2>Input</h2><div id="input"></div></section>
<section id="decision-section"><h2>Decision</h2><div id="decision"></div></section>
</div>
<section id="loudness-section">
<h2>Loudness over time</h2>
<div id="loudness-plot" class="plot"></div>
</section>
<section id="envelope-section">
<h2>Waveform (delivered)</h2>
<div id="envelope-plot" class="plot"></div>
</section>
<section id="spectrum-section">
<h2>Spectrum</h2>
<div id="spectrum-plot" class="plot"></div>
</section>
<section id="renditions-section">
<h2>Renditions</h2>
<div id="renditions"></div>
</section>
<section id="package-section">
<h2>Package</h2>
<div id="package"></div>
</section>
</main>
<footer class="muted" id="footer"></footer>
"#;

#[cfg(test)]
mod tests {
    use super::*;

    const REPORT: &str = r#"{"schema_version":1,"input":{"path":"a</script>.flac","tags":{"title":"</script><script>alert(1)</script>"}},"renditions":[],"package":null}"#;
    const QC: &str = r#"{"schema_version":1,"resolution_seconds":1.0,"duration_seconds":2.0,"target_lufs":-14.0,"ceiling_dbtp":-1.0,"source":{"label":"source","momentary_lufs":[-20.0,null],"short_term_lufs":[null,-21.0],"true_peak_dbtp":[-3.0,-2.0]},"delivered":null,"envelope":null,"true_peak_overs":[],"spectrum":null}"#;

    #[test]
    fn embeds_both_documents_and_escapes_script_ends() {
        let html = render_report_page(REPORT, Some(QC)).expect("renders");
        assert!(html.contains(r#"<script type="application/json" id="report-json">"#));
        assert!(html.contains(r#"<script type="application/json" id="qc-json">"#));
        assert!(html.contains(r#""title":"\u003c/script>\u003cscript>alert(1)\u003c/script>""#));
        assert!(html.contains(r#""short_term_lufs":[null,-21.0]"#));
        // Only our own elements end: report, qc, the page script.
        assert_eq!(html.matches("</script>").count(), 3);
        assert!(html.contains("<title>a&lt;/script&gt;.flac \u{2014} audiopack QC</title>"));
    }

    #[test]
    fn renders_without_qc_json() {
        let html = render_report_page(REPORT, None).expect("renders");
        assert!(!html.contains(r#"id="qc-json""#));
        assert_eq!(html.matches("</script>").count(), 2);
    }

    #[test]
    fn is_deterministic() {
        let a = render_report_page(REPORT, Some(QC)).expect("renders");
        let b = render_report_page(REPORT, Some(QC)).expect("renders");
        assert_eq!(a, b);
    }

    #[test]
    fn names_the_invalid_document() {
        let err = render_report_page("{", None).expect_err("invalid");
        assert!(err.to_string().starts_with("report.json:"), "{err}");
        let err = render_report_page(REPORT, Some("nan")).expect_err("invalid");
        assert!(err.to_string().starts_with("qc.json:"), "{err}");
    }

    #[test]
    fn inline_assets_cannot_end_their_elements() {
        for (name, text) in [
            ("base.css", BASE_CSS),
            ("report.css", REPORT_CSS),
            ("util.js", UTIL_JS),
            ("plots.js", PLOTS_JS),
            ("audition.js", AUDITION_JS),
            ("report.js", REPORT_JS),
        ] {
            let lower = text.to_ascii_lowercase();
            assert!(!lower.contains("</script"), "{name}");
            assert!(!lower.contains("</style"), "{name}");
            assert!(!lower.contains("<!--"), "{name}");
        }
    }
}
