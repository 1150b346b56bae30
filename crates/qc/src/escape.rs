//! The JSON documents a page carries: checked, then embedded verbatim in a
//! `<script type="application/json">` element the page's own script reads.
//!
//! Embedding is safe because every `<` becomes `\u003c`: no `</script>`
//! (nor `<!--`, which changes how the HTML parser reads script text) can
//! appear in the element, whatever a tag or a file name holds. In valid
//! JSON a `<` only occurs inside a string, where `\u003c` means the same
//! character, so `JSON.parse` gives back exactly the document.

use std::fmt;

/// Why a page could not be rendered: one of its documents is not JSON (or
/// not a JSON object).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum QcError {
    /// `document` (`report.json`, `qc.json`, `batch-report.json`, or a
    /// track's `report.json`) is not valid JSON.
    InvalidJson {
        /// Which document, as a reader would name it.
        document: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// `document` is JSON, but not an object.
    NotAnObject {
        /// Which document.
        document: String,
    },
}

impl fmt::Display for QcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QcError::InvalidJson { document, message } => {
                write!(f, "{document}: not valid JSON: {message}")
            }
            QcError::NotAnObject { document } => {
                write!(f, "{document}: not a JSON object")
            }
        }
    }
}

impl std::error::Error for QcError {}

/// Checks that `text` is a JSON object (named `document` in the error) and
/// returns it ready to sit inside a `<script>` element: the same text with
/// every `<` written `\u003c`.
pub(crate) fn embed_json(document: &str, text: &str) -> Result<String, QcError> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| QcError::InvalidJson {
            document: document.to_owned(),
            message: e.to_string(),
        })?;
    if !value.is_object() {
        return Err(QcError::NotAnObject {
            document: document.to_owned(),
        });
    }
    Ok(escape_script_text(text.trim()))
}

/// `text` with every `<` replaced by the JSON escape `\u003c`.
pub(crate) fn escape_script_text(text: &str) -> String {
    text.replace('<', "\\u003c")
}

/// `text` escaped for an HTML text node or a double-quoted attribute
/// (`&`, `<`, `>`, `"` and `'` as entities). Also used by
/// `audiopack serve`'s pages.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_end_tags_in_strings_cannot_close_the_element() {
        let text = r#"{"tags":{"title":"</script><script>alert(1)</script><!--"}}"#;
        let embedded = embed_json("report.json", text).expect("valid");
        assert!(!embedded.contains('<'));
        let back: serde_json::Value = serde_json::from_str(&embedded).expect("still JSON");
        assert_eq!(
            back["tags"]["title"],
            "</script><script>alert(1)</script><!--"
        );
    }

    #[test]
    fn invalid_documents_are_named() {
        let err = embed_json("qc.json", "{nope").expect_err("invalid");
        assert!(
            err.to_string().starts_with("qc.json: not valid JSON"),
            "{err}"
        );
        let err = embed_json("report.json", "[1]").expect_err("array");
        assert_eq!(err.to_string(), "report.json: not a JSON object");
    }

    #[test]
    fn html_escaping_covers_attributes() {
        assert_eq!(
            escape_html(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
