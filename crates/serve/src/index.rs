//! The page for a directory without an `index.html`: a batch output (it
//! holds `batch-report.json`), a package (`report.json`), or a plain
//! listing. Blocking file-system work: run it on a blocking thread.
//!
//! Every file the page reads or links is looked up like a request (under
//! the canonical root, links followed): a link leading outside is neither
//! read nor listed.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::page::{self, Entry, Link, TrackRow};
use crate::path::{encode_segment, is_plain_segment};
use crate::summary::{BatchSummary, PackageSummary};

/// Reports larger than this are not parsed (the listing is shown).
const MAX_REPORT_BYTES: u64 = 64 * 1024 * 1024;

/// The manifests a package page links first, when present.
const MANIFESTS: [&str; 3] = ["master.m3u8", "lossless.m3u8", "manifest.mpd"];

/// The HTML page for directory `dir` (canonical, under `root`), shown at
/// `url_path` (decoded, for the title).
pub fn directory_page(root: &Path, dir: &Path, url_path: &str) -> String {
    if let Some(batch) = read_json(root, &dir.join("batch-report.json")) {
        return batch_page(root, dir, url_path, &batch);
    }
    if let Some(report) = read_json(root, &dir.join("report.json")) {
        return package_page(root, dir, url_path, &report);
    }
    page::listing_page(url_path, &listing(root, dir))
}

fn package_page(root: &Path, dir: &Path, url_path: &str, report: &Value) -> String {
    let summary = PackageSummary::from_report(report);
    let links = package_links(root, dir, "", &summary, true);
    let playlists: Vec<Link> = summary
        .playlists
        .iter()
        .filter_map(|p| existing_link(root, dir, "", p))
        .collect();
    page::package_page(url_path, &summary, &links, &playlists)
}

/// The manifests, then the reports of the package in `dir`, each only when
/// it is a file inside the root; hrefs prefixed with `prefix`.
fn package_links(
    root: &Path,
    dir: &Path,
    prefix: &str,
    summary: &PackageSummary,
    every_report: bool,
) -> Vec<Link> {
    let mut names: Vec<&str> = MANIFESTS.to_vec();
    for manifest in &summary.manifests {
        if !names.contains(&manifest.as_str()) {
            names.push(manifest);
        }
    }
    let mut links: Vec<Link> = names
        .iter()
        .filter_map(|name| existing_link(root, dir, prefix, name))
        .collect();
    let mut reports = ["report.html", "report.json", "qc.json"]
        .iter()
        .filter_map(|name| existing_link(root, dir, prefix, name));
    if every_report {
        links.extend(reports);
    } else if let Some(first) = reports.next().filter(|l| l.label != "qc.json") {
        // A batch row: the page to read (report.html), else the JSON.
        links.insert(0, first);
    }
    links
}

fn batch_page(root: &Path, dir: &Path, url_path: &str, batch: &Value) -> String {
    let summary = BatchSummary::from_report(batch);
    let rows: Vec<TrackRow> = summary
        .tracks
        .iter()
        .map(|track| {
            let track_dir = is_plain_segment(&track.id)
                .then(|| inside(root, &dir.join(&track.id)))
                .flatten()
                .filter(|p| p.is_dir());
            let Some(track_dir) = track_dir else {
                return TrackRow {
                    track: track.clone(),
                    dir_href: None,
                    package: None,
                    links: Vec::new(),
                };
            };
            let prefix = format!("{}/", encode_segment(&track.id));
            let package = read_json(root, &track_dir.join("report.json"))
                .map(|r| PackageSummary::from_report(&r));
            let links = package_links(
                root,
                &track_dir,
                &prefix,
                package.as_ref().unwrap_or(&PackageSummary::default()),
                false,
            );
            TrackRow {
                track: track.clone(),
                dir_href: Some(prefix),
                package,
                links,
            }
        })
        .collect();
    page::batch_page(url_path, &summary, &rows)
}

/// A link to `relative` (a `/`-separated path under `dir`) when it is a
/// file inside the root.
fn existing_link(root: &Path, dir: &Path, prefix: &str, relative: &str) -> Option<Link> {
    let segments: Vec<&str> = relative.split('/').collect();
    if !segments.iter().all(|s| is_plain_segment(s)) {
        return None;
    }
    let mut path = dir.to_path_buf();
    path.extend(&segments);
    inside(root, &path).filter(|p| p.is_file())?;
    let encoded: Vec<String> = segments.iter().map(|s| encode_segment(s)).collect();
    Some(Link::new(
        relative,
        format!("{prefix}{}", encoded.join("/")),
    ))
}

/// `path` canonicalized, when that lies under `root`.
fn inside(root: &Path, path: &Path) -> Option<PathBuf> {
    fs::canonicalize(path).ok().filter(|p| p.starts_with(root))
}

fn read_json(root: &Path, path: &Path) -> Option<Value> {
    let path = inside(root, path)?;
    let meta = fs::metadata(&path).ok()?;
    if !meta.is_file() || meta.len() > MAX_REPORT_BYTES {
        return None;
    }
    serde_json::from_slice(&fs::read(&path).ok()?).ok()
}

/// The entries of `dir` that can be requested: UTF-8 names, links resolving
/// inside the root; directories first, then by name.
fn listing(root: &Path, dir: &Path) -> Vec<Entry> {
    let Ok(read) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut entries: Vec<Entry> = read
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let target = inside(root, &entry.path())?;
            let meta = fs::metadata(&target).ok()?;
            Some(Entry {
                name,
                is_dir: meta.is_dir(),
                size: meta.is_file().then_some(meta.len()),
            })
        })
        .collect();
    entries.sort_by(|a, b| b.is_dir.cmp(&a.is_dir).then_with(|| a.name.cmp(&b.name)));
    entries
}
