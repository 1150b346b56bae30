//! The generated HTML pages (pure: values in, a string out). Every text
//! that comes from a file or a report goes through [`escape`]; every
//! `href` is built from percent-encoded segments and escaped too.

use std::fmt::Write;

use crate::summary::{BatchSummary, BatchTrack, PackageSummary};

/// A link: its text and its (already percent-encoded, relative) target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// What the reader sees.
    pub label: String,
    /// Where it goes.
    pub href: String,
}

impl Link {
    /// A link to `href` labelled `label`.
    pub fn new(label: impl Into<String>, href: impl Into<String>) -> Link {
        Link {
            label: label.into(),
            href: href.into(),
        }
    }
}

/// A batch track and what its directory holds.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackRow {
    /// The batch report's entry.
    pub track: BatchTrack,
    /// Its package directory (`id/`), when there is one to open.
    pub dir_href: Option<String>,
    /// From its `report.json`, when readable.
    pub package: Option<PackageSummary>,
    /// Its report (`report.html`, else `report.json`) and manifests.
    pub links: Vec<Link>,
}

/// One entry of a plain directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The file name.
    pub name: String,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// Its size (files).
    pub size: Option<u64>,
}

/// `&`, `<`, `>`, `"` and `'` as entities (the QC page's escaper).
pub use audiopack_qc::escape_html as escape;

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:2em;color:#222}\
table{border-collapse:collapse}td,th{padding:.25em .7em;border-bottom:1px solid #ddd;text-align:left}\
td.n{text-align:right;font-variant-numeric:tabular-nums}.failed{color:#b00}.warn{color:#a60}\
code{background:#f3f3f3;padding:0 .2em}";

fn open(out: &mut String, title: &str) {
    let title = escape(title);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title}</title><style>{STYLE}</style></head><body>\n<h1>{title}</h1>\n"
    );
}

fn close(out: &mut String) {
    out.push_str("<p><small>audiopack serve · files are sent with <code>Cache-Control: no-store</code>: reload after re-encoding.</small></p>\n</body></html>\n");
}

fn link(link: &Link) -> String {
    format!(
        "<a href=\"{}\">{}</a>",
        escape(&link.href),
        escape(&link.label)
    )
}

fn fixed(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "–".into(), |v| format!("{v:.decimals$}"))
}

fn signed(value: Option<f64>) -> String {
    value.map_or_else(|| "–".into(), |v| format!("{v:+.2}"))
}

/// `/` of a package directory: its facts, loudness, warnings and links.
pub fn package_page(path: &str, s: &PackageSummary, links: &[Link], playlists: &[Link]) -> String {
    let mut out = String::new();
    open(&mut out, &format!("audiopack package {path}"));
    let rows = [
        ("input", s.input.clone().unwrap_or_else(|| "–".into())),
        (
            "format",
            format!(
                "{} · {} Hz · {} ch · {} s",
                s.format.as_deref().unwrap_or("–"),
                s.sample_rate.map_or_else(|| "–".into(), |r| r.to_string()),
                s.channels.map_or_else(|| "–".into(), |c| c.to_string()),
                fixed(s.duration_seconds, 2),
            ),
        ),
        ("loudness in", format!("{} LUFS", fixed(s.input_lufs, 1))),
        (
            "loudness out",
            format!(
                "{} LUFS (target {})",
                fixed(s.output_lufs, 1),
                fixed(s.target_lufs, 1)
            ),
        ),
        (
            "gain",
            format!(
                "{} dB ({})",
                signed(s.gain_db),
                s.gain_reason.as_deref().unwrap_or("–")
            ),
        ),
        (
            if s.true_peak_decoded {
                "true peak (decoded, highest rung)"
            } else {
                "true peak out (before the codec)"
            },
            format!(
                "{} dBTP (ceiling {})",
                fixed(s.true_peak_dbtp, 1),
                fixed(s.ceiling_dbtp, 1)
            ),
        ),
        ("warnings", s.warnings.len().to_string()),
    ];
    out.push_str("<table>\n");
    for (name, value) in rows {
        let _ = writeln!(
            out,
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(name),
            escape(&value)
        );
    }
    out.push_str("</table>\n");
    if !s.warnings.is_empty() {
        out.push_str("<h2>Warnings</h2>\n<ul class=\"warn\">\n");
        for warning in &s.warnings {
            let _ = writeln!(out, "<li>{}</li>", escape(warning));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("<h2>Files</h2>\n<ul>\n");
    for l in links {
        let _ = writeln!(out, "<li>{}</li>", link(l));
    }
    out.push_str("</ul>\n");
    if !playlists.is_empty() {
        out.push_str("<h2>Media playlists</h2>\n<ul>\n");
        for l in playlists {
            let _ = writeln!(out, "<li>{}</li>", link(l));
        }
        out.push_str("</ul>\n");
    }
    close(&mut out);
    out
}

/// `/` of a batch output: totals and one row per track.
pub fn batch_page(path: &str, s: &BatchSummary, rows: &[TrackRow]) -> String {
    let mut out = String::new();
    open(&mut out, &format!("audiopack batch {path}"));
    let totals: Vec<String> = s
        .totals
        .iter()
        .map(|(name, n)| format!("{name} {}", n.map_or_else(|| "–".into(), |n| n.to_string())))
        .collect();
    let _ = writeln!(
        out,
        "<p>catalog <code>{}</code> · {}{}</p>",
        escape(s.catalog.as_deref().unwrap_or("–")),
        escape(&totals.join(" · ")),
        s.stopped.as_deref().map_or_else(String::new, |why| format!(
            " · <span class=\"warn\">stopped: {}</span>",
            escape(why)
        )),
    );
    out.push_str(
        "<table>\n<tr><th>track</th><th>status</th><th>in LUFS</th><th>out LUFS</th>\
         <th>gain dB</th><th>true peak dBTP</th><th>warnings</th><th>links</th></tr>\n",
    );
    for row in rows {
        let t = &row.track;
        let id = match &row.dir_href {
            Some(href) => link(&Link::new(t.id.clone(), href.clone())),
            None => escape(&t.id),
        };
        let mut status = escape(&t.status);
        if let Some(message) = &t.message {
            let _ = write!(status, ": {}", escape(message));
        }
        let class = if t.status == "failed" {
            " class=\"failed\""
        } else {
            ""
        };
        let package = row.package.as_ref();
        let input_lufs = t.input_lufs.or(package.and_then(|p| p.input_lufs));
        let output_lufs = t.output_lufs.or(package.and_then(|p| p.output_lufs));
        let gain = t.gain_db.or(package.and_then(|p| p.gain_db));
        let warnings = package.map_or_else(|| "–".into(), |p| p.warnings.len().to_string());
        let links: Vec<String> = row.links.iter().map(link).collect();
        let _ = writeln!(
            out,
            "<tr{class}><td>{id}</td><td>{status}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            fixed(input_lufs, 1),
            fixed(output_lufs, 1),
            signed(gain),
            fixed(package.and_then(|p| p.true_peak_dbtp), 1),
            warnings,
            links.join(" · "),
        );
    }
    out.push_str("</table>\n");
    close(&mut out);
    out
}

/// Any other directory: its entries (links leading outside the root are
/// left out by the caller).
pub fn listing_page(path: &str, entries: &[Entry]) -> String {
    let mut out = String::new();
    open(&mut out, &format!("Index of {path}"));
    out.push_str("<ul>\n");
    if path != "/" {
        out.push_str("<li><a href=\"../\">../</a></li>\n");
    }
    for entry in entries {
        let slash = if entry.is_dir { "/" } else { "" };
        let href = format!("{}{slash}", crate::path::encode_segment(&entry.name));
        let size = entry
            .size
            .map_or_else(String::new, |s| format!(" <small>{s} bytes</small>"));
        let _ = writeln!(
            out,
            "<li>{}{size}</li>",
            link(&Link::new(format!("{}{slash}", entry.name), href))
        );
    }
    out.push_str("</ul>\n");
    close(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_from_outside() {
        assert_eq!(
            escape("<a href=\"x\">&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
        let summary = PackageSummary {
            input: Some("<script>alert(1)</script>.wav".into()),
            warnings: vec!["\"><img src=x onerror=alert(1)>".into()],
            ..PackageSummary::default()
        };
        let page = package_page("/<x>/", &summary, &[Link::new("a<b", "a%3Cb\"")], &[]);
        assert!(!page.contains("<script>alert"));
        assert!(!page.contains("<img"));
        assert!(!page.contains("<x>"));
        assert!(page.contains("href=\"a%3Cb&quot;\""));
        let listing = listing_page(
            "/d/",
            &[Entry {
                name: "<b>\".m4s".into(),
                is_dir: false,
                size: Some(3),
            }],
        );
        assert!(listing.contains("href=\"%3Cb%3E%22.m4s\""));
        assert!(listing.contains("&lt;b&gt;&quot;.m4s"));
    }

    #[test]
    fn batch_rows_show_values_and_failures() {
        let summary = BatchSummary {
            catalog: Some("cat.csv".into()),
            stopped: None,
            totals: vec![("tracks", Some(2)), ("failed", Some(1))],
            tracks: vec![],
        };
        let rows = [
            TrackRow {
                track: BatchTrack {
                    id: "t1".into(),
                    status: "done".into(),
                    output_lufs: Some(-14.008),
                    gain_db: Some(3.038),
                    ..BatchTrack::default()
                },
                dir_href: Some("t1/".into()),
                package: Some(PackageSummary {
                    true_peak_dbtp: Some(-3.33),
                    warnings: vec!["w".into()],
                    ..PackageSummary::default()
                }),
                links: vec![Link::new("report.json", "t1/report.json")],
            },
            TrackRow {
                track: BatchTrack {
                    id: "bad".into(),
                    status: "failed".into(),
                    message: Some("missing.wav: <gone>".into()),
                    ..BatchTrack::default()
                },
                dir_href: None,
                package: None,
                links: vec![],
            },
        ];
        let page = batch_page("/", &summary, &rows);
        assert!(page.contains("<a href=\"t1/\">t1</a>"));
        assert!(page.contains(">-14.0<"));
        assert!(page.contains(">+3.04<"));
        assert!(page.contains(">-3.3<"));
        assert!(page.contains("<a href=\"t1/report.json\">report.json</a>"));
        assert!(page.contains(
            "<tr class=\"failed\"><td>bad</td><td>failed: missing.wav: &lt;gone&gt;</td>"
        ));
        assert!(page.contains("tracks 2 · failed 1"));
    }
}
