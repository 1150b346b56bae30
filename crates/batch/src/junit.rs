//! The batch as JUnit XML for CI (GitLab, Jenkins, GitHub): one test case
//! per track; a failed track is a `<failure>` with its message, a track
//! never started is `<skipped>`, a track already done passes.

use std::fmt::Write as _;

use crate::report::{BatchReport, TrackStatus};

/// Text safe in XML 1.0 content and attributes: markup characters as
/// entities, control characters XML cannot carry written as `\u{…}`.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() || c == '\u{fffe}' || c == '\u{ffff}' => {
                out.extend(c.escape_default());
            }
            c => out.push(c),
        }
    }
    out
}

/// The report as a JUnit XML document.
pub fn render(report: &BatchReport) -> String {
    let t = &report.totals;
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let counts = format!(
        "tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{:.3}\"",
        t.tracks, t.failed, t.not_run, t.wall_seconds
    );
    let _ = writeln!(xml, "<testsuites name=\"audiopack batch\" {counts}>");
    let _ = writeln!(
        xml,
        "  <testsuite name=\"{}\" {counts}>",
        xml_escape(&report.catalog)
    );
    for track in &report.tracks {
        let _ = write!(
            xml,
            "    <testcase classname=\"audiopack.batch\" name=\"{}\" time=\"{:.3}\"",
            xml_escape(&track.id),
            track.wall_seconds
        );
        let message = track.message.as_deref().unwrap_or_default();
        match track.status {
            TrackStatus::Done => xml.push_str("/>\n"),
            TrackStatus::Skipped => {
                xml.push_str(
                    ">\n      <system-out>already done: skipped</system-out>\n    </testcase>\n",
                );
            }
            TrackStatus::Failed => {
                let _ = write!(
                    xml,
                    ">\n      <failure message=\"{}\" type=\"{}\">{}\nexit code {}\ninput: {}</failure>\n    </testcase>\n",
                    xml_escape(message),
                    xml_escape(&track.class),
                    xml_escape(message),
                    track.exit_code,
                    xml_escape(&track.input)
                );
            }
            TrackStatus::NotRun => {
                let _ = write!(
                    xml,
                    ">\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                    xml_escape(message)
                );
            }
        }
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_controls() {
        assert_eq!(
            xml_escape("a<b>&\"c'\u{1b}[31m\n"),
            "a&lt;b&gt;&amp;&quot;c&apos;\\u{1b}[31m\n"
        );
    }
}
