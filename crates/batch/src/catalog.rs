//! The catalog: which tracks a batch encodes, where each comes from and
//! where its package goes.
//!
//! A catalog file is CSV with a header row or JSON Lines, told apart by
//! content (JSON Lines starts with `{`). Every row is checked before any
//! track starts; the first problem is a [`CatalogError`] naming the file,
//! the line (the CSV header is line 1) and the column.
//!
//! | column | | |
//! |---|---|---|
//! | `id` | required | the output sub-directory or sub-prefix: 1–200 bytes, no `/`, `\`, `..`, control character or leading `.`, not `batch-report.json`, unique |
//! | `input` | required | a path relative to the catalog's directory, an absolute path, or `s3://bucket/key` |
//! | `album`, `disc`, `track` | optional | grouping and order (`disc`, `track`: positive integers) |
//! | `preset` | optional | `streaming`, `quiet` or `broadcast`: replaces the command's `--preset` and `--target-lufs` |
//! | `target_lufs` | optional | LUFS: replaces the target of the preset |
//!
//! Other columns are ignored (a label's catalog may carry titles, ISRCs).
//! Empty cells and JSON `null` are absent values.

mod from_csv;
mod from_jsonl;

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use audiopack::NormalizePreset;

/// The longest id, in bytes (ids become directory names and key segments).
pub const MAX_ID_BYTES: usize = 200;

/// The batch report's name at the root of the output: no id may take it.
pub const BATCH_REPORT: &str = "batch-report.json";
/// The batch's QC index page, beside the report.
pub const BATCH_INDEX: &str = "index.html";

/// Per-track settings a catalog row may give over the command's.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TrackSettings {
    /// Replaces the batch's preset and target.
    pub preset: Option<NormalizePreset>,
    /// Replaces the target (of the row's or the batch's preset).
    pub target_lufs: Option<f64>,
}

/// One row of the catalog.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogTrack {
    /// Where the row is: its line in the file (the CSV header is line 1),
    /// or its position in an `s3://` listing.
    pub line: usize,
    /// The output sub-directory or sub-prefix (validated).
    pub id: String,
    /// The input: a path (resolved against the catalog's directory) or an
    /// `s3://bucket/key` URL.
    pub input: String,
    /// The album it belongs to (grouping for `--album-gain`).
    pub album: Option<String>,
    /// Disc number, from 1.
    pub disc: Option<u32>,
    /// Track number on its disc, from 1.
    pub track: Option<u32>,
    /// Settings the row gives over the command's.
    pub settings: TrackSettings,
}

/// Every track of a batch, in catalog order.
#[derive(Debug, Clone, PartialEq)]
pub struct Catalog {
    /// How the catalog is named in messages (the path as given, or the
    /// `s3://` prefix listed).
    pub source: String,
    /// The rows, in catalog order.
    pub tracks: Vec<CatalogTrack>,
}

/// An invalid catalog: nothing is encoded. `Display`:
/// `catalog.csv:7: column "id": duplicate id "t3" (first on line 4)`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct CatalogError {
    /// The catalog (path as given, or the listed prefix).
    pub source_name: String,
    /// The line (header = 1), when the problem is on one.
    pub line: Option<usize>,
    /// `column "id"` (CSV) or `field "id"` (JSON Lines) or `object "key"`.
    pub place: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source_name)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(place) = &self.place {
            write!(f, ": {place}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// How a row's cells are named in errors: CSV columns or JSON fields.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Dialect {
    Csv,
    Json,
}

/// Collects a catalog's rows and checks what involves more than one.
pub(crate) struct Rows<'a> {
    source_name: &'a str,
    dialect: Dialect,
    base: &'a Path,
    tracks: Vec<CatalogTrack>,
    first_line_of: HashMap<String, usize>,
}

/// One row's cells as text (trimmed; empty = absent), before checking.
#[derive(Debug, Default)]
pub(crate) struct RawRow {
    pub line: usize,
    pub id: Option<String>,
    pub input: Option<String>,
    pub album: Option<String>,
    pub disc: Option<String>,
    pub track: Option<String>,
    pub preset: Option<String>,
    pub target_lufs: Option<String>,
}

impl<'a> Rows<'a> {
    pub(crate) fn new(source_name: &'a str, dialect: Dialect, base: &'a Path) -> Rows<'a> {
        Rows {
            source_name,
            dialect,
            base,
            tracks: Vec::new(),
            first_line_of: HashMap::new(),
        }
    }

    pub(crate) fn error(
        &self,
        line: Option<usize>,
        column: Option<&str>,
        message: impl Into<String>,
    ) -> CatalogError {
        let word = match self.dialect {
            Dialect::Csv => "column",
            Dialect::Json => "field",
        };
        CatalogError {
            source_name: self.source_name.to_string(),
            line,
            place: column.map(|c| format!("{word} \"{c}\"")),
            message: message.into(),
        }
    }

    /// Checks one row and adds it.
    pub(crate) fn push(&mut self, raw: RawRow) -> Result<(), CatalogError> {
        let line = raw.line;
        let at = |column: &str, message: String| self.error(Some(line), Some(column), message);
        let id = raw
            .id
            .ok_or_else(|| at("id", "missing: every row needs an id".into()))?;
        check_id(&id).map_err(|m| at("id", m))?;
        if let Some(first) = self.first_line_of.get(&id) {
            return Err(at(
                "id",
                format!("duplicate id {:?} (first on line {first})", shown(&id)),
            ));
        }
        let input = raw
            .input
            .ok_or_else(|| at("input", "missing: every row needs an input".into()))?;
        let input = resolve_input(self.base, &input).map_err(|m| at("input", m))?;
        let disc = positive(raw.disc.as_deref()).map_err(|m| at("disc", m))?;
        let track = positive(raw.track.as_deref()).map_err(|m| at("track", m))?;
        let preset = match raw.preset.as_deref() {
            None => None,
            Some(text) => Some(parse_preset(text).map_err(|m| at("preset", m))?),
        };
        let target_lufs = match raw.target_lufs.as_deref() {
            None => None,
            Some(text) => Some(
                text.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or_else(|| {
                        at(
                            "target_lufs",
                            format!("{:?} is not a number of LUFS", shown(text)),
                        )
                    })?,
            ),
        };
        self.first_line_of.insert(id.clone(), line);
        self.tracks.push(CatalogTrack {
            line,
            id,
            input,
            album: raw.album,
            disc,
            track,
            settings: TrackSettings {
                preset,
                target_lufs,
            },
        });
        Ok(())
    }

    pub(crate) fn finish(self) -> Result<Catalog, CatalogError> {
        if self.tracks.is_empty() {
            return Err(self.error(None, None, "no tracks (an empty catalog)"));
        }
        Ok(Catalog {
            source: self.source_name.to_string(),
            tracks: self.tracks,
        })
    }
}

/// Reads and checks a catalog file (CSV or JSON Lines, by content).
/// Relative inputs are taken from the catalog's directory.
///
/// # Errors
///
/// The file's I/O error, or the first [`CatalogError`].
pub fn read_catalog(path: &Path) -> Result<Catalog, crate::BatchError> {
    let bytes = std::fs::read(path).map_err(|source| crate::BatchError::Io {
        path: path.to_path_buf(),
        action: "reading the catalog",
        source,
    })?;
    let name = path.display().to_string();
    let base = path.parent().unwrap_or(Path::new(""));
    Ok(parse_catalog(&name, base, &bytes)?)
}

/// Parses catalog bytes named `source_name`; relative inputs are joined to
/// `base`.
pub fn parse_catalog(
    source_name: &str,
    base: &Path,
    bytes: &[u8],
) -> Result<Catalog, CatalogError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        CatalogError {
            source_name: source_name.to_string(),
            line: Some(line),
            place: None,
            message: "not UTF-8 text".into(),
        }
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim_start().starts_with('{') {
        from_jsonl::parse(source_name, base, text)
    } else {
        from_csv::parse(source_name, base, text)
    }
}

/// Extensions of the objects a `--from s3://…` listing takes as masters
/// (the content decides the format; the name only selects).
pub const AUDIO_EXTENSIONS: [&str; 9] = [
    "wav", "wave", "aif", "aiff", "aifc", "flac", "mp3", "ogg", "oga",
];

/// A catalog from the keys listed under `s3://bucket/prefix`: every object
/// whose name ends in an [audio extension](AUDIO_EXTENSIONS), in key
/// order, id = the file name without its extension. Two keys with one
/// stem, or a stem that is not a valid id, are errors naming the key.
pub fn catalog_from_keys<'k>(
    source_name: &str,
    bucket: &str,
    keys: impl IntoIterator<Item = &'k str>,
) -> Result<Catalog, CatalogError> {
    let mut tracks = Vec::new();
    let mut first_key_of: HashMap<String, String> = HashMap::new();
    let error = |key: &str, message: String| CatalogError {
        source_name: source_name.to_string(),
        line: None,
        place: Some(format!("object \"{}\"", shown(key))),
        message,
    };
    for key in keys {
        let name = key.rsplit('/').next().unwrap_or(key);
        let Some((stem, ext)) = name.rsplit_once('.') else {
            continue;
        };
        if !AUDIO_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()) {
            continue;
        }
        check_id(stem).map_err(|m| error(key, m))?;
        if let Some(first) = first_key_of.get(stem) {
            return Err(error(
                key,
                format!(
                    "duplicate id {:?} (also the stem of {:?})",
                    shown(stem),
                    shown(first)
                ),
            ));
        }
        first_key_of.insert(stem.to_string(), key.to_string());
        tracks.push(CatalogTrack {
            line: tracks.len() + 1,
            id: stem.to_string(),
            input: format!("s3://{bucket}/{key}"),
            album: None,
            disc: None,
            track: None,
            settings: TrackSettings::default(),
        });
    }
    if tracks.is_empty() {
        return Err(CatalogError {
            source_name: source_name.to_string(),
            line: None,
            place: None,
            message: format!(
                "no audio objects (names ending in .{})",
                AUDIO_EXTENSIONS.join(", .")
            ),
        });
    }
    Ok(Catalog {
        source: source_name.to_string(),
        tracks,
    })
}

/// `text` with control characters escaped, for messages.
pub(crate) fn shown(text: &str) -> String {
    text.chars()
        .flat_map(char::escape_default)
        .collect::<String>()
}

/// The rules an id must follow to be a directory name and a key segment
/// that stays under the output.
pub fn check_id(id: &str) -> Result<(), String> {
    let unsafe_id = |why: &str| format!("unsafe id \"{}\": {why}", shown(id));
    if id.is_empty() {
        return Err("empty id".into());
    }
    if id.len() > MAX_ID_BYTES {
        return Err(format!("id of {} bytes (at most {MAX_ID_BYTES})", id.len()));
    }
    if id.chars().any(char::is_control) {
        return Err(unsafe_id("control characters"));
    }
    if id.contains('/') || id.contains('\\') {
        return Err(unsafe_id("a path separator"));
    }
    if id.contains("..") {
        return Err(unsafe_id("\"..\""));
    }
    if id.starts_with('.') {
        return Err(unsafe_id(
            "a leading \".\" (hidden names are the staging directories')",
        ));
    }
    if id == BATCH_REPORT {
        return Err(unsafe_id("the batch report's name"));
    }
    if id == BATCH_INDEX {
        return Err(unsafe_id("the batch index page's name"));
    }
    Ok(())
}

fn resolve_input(base: &Path, input: &str) -> Result<String, String> {
    if input.starts_with("s3://") {
        return Ok(input.to_string());
    }
    if input.contains("://") {
        return Err(format!(
            "{:?}: a path or s3://bucket/key (unsupported URL scheme)",
            shown(input)
        ));
    }
    if input.chars().any(char::is_control) {
        return Err(format!("{:?}: control characters in a path", shown(input)));
    }
    let path = Path::new(input);
    Ok(if path.is_absolute() {
        input.to_string()
    } else {
        base.join(path).display().to_string()
    })
}

fn positive(text: Option<&str>) -> Result<Option<u32>, String> {
    match text {
        None => Ok(None),
        Some(t) => t
            .parse::<u32>()
            .ok()
            .filter(|&n| n > 0)
            .map(Some)
            .ok_or_else(|| format!("{:?} is not a positive whole number", shown(t))),
    }
}

fn parse_preset(text: &str) -> Result<NormalizePreset, String> {
    audiopack::parse_preset(text)
        .map_err(|_| format!("{:?}: one of streaming, quiet, broadcast", shown(text)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Catalog, CatalogError> {
        parse_catalog("catalog.csv", Path::new("/cat"), text.as_bytes())
    }

    fn error(text: &str) -> String {
        match parse(text) {
            Ok(c) => panic!("accepted: {c:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn csv_rows_with_optional_columns() {
        let c = parse(
            "id,input,album,disc,track,preset,target_lufs,title\n\
             t1,a.wav,A,1,1,,,\"Hello, world\"\n\
             t2,/abs/b.flac,,,,quiet,-18.5,x\n\
             t3,s3://b/k.wav,,,,,,\n",
        )
        .expect("valid");
        assert_eq!(c.tracks.len(), 3);
        assert_eq!(c.tracks[0].input, "/cat/a.wav");
        assert_eq!(c.tracks[0].line, 2);
        assert_eq!(c.tracks[0].album.as_deref(), Some("A"));
        assert_eq!(c.tracks[0].disc, Some(1));
        assert_eq!(c.tracks[1].input, "/abs/b.flac");
        assert_eq!(c.tracks[1].settings.preset, Some(NormalizePreset::Quiet));
        assert_eq!(c.tracks[1].settings.target_lufs, Some(-18.5));
        assert_eq!(c.tracks[2].input, "s3://b/k.wav");
    }

    #[test]
    fn quoted_newlines_keep_line_numbers() {
        let c = parse("id,input,title\nt1,a.wav,\"two\nlines\"\nt2,b.wav,x\n").expect("valid");
        assert_eq!(c.tracks[1].line, 4);
        let e = error("id,input,title\nt1,a.wav,\"two\nlines\"\nt1,b.wav,x\n");
        assert_eq!(
            e,
            "catalog.csv:4: column \"id\": duplicate id \"t1\" (first on line 2)"
        );
    }

    #[test]
    fn invalid_rows_name_line_and_column() {
        assert_eq!(
            error("id,input\nt1,a.wav\n../x,b.wav\n"),
            "catalog.csv:3: column \"id\": unsafe id \"../x\": a path separator"
        );
        assert_eq!(
            error("id,input\nt1,a.wav\na..b,b.wav\n"),
            "catalog.csv:3: column \"id\": unsafe id \"a..b\": \"..\""
        );
        assert_eq!(
            error("id,file\nt1,a.wav\n"),
            "catalog.csv:1: column \"input\": missing from the header (it has: id, file)"
        );
        assert_eq!(
            error("id,input\nt1,\n"),
            "catalog.csv:2: column \"input\": missing: every row needs an input"
        );
        assert_eq!(
            error("id,input,disc\nt1,a.wav,0\n"),
            "catalog.csv:2: column \"disc\": \"0\" is not a positive whole number"
        );
        assert_eq!(
            error("id,input,preset\nt1,a.wav,loud\n"),
            "catalog.csv:2: column \"preset\": \"loud\": one of streaming, quiet, broadcast"
        );
        assert!(error(&format!("id,input\n{},a.wav\n", "x".repeat(201))).contains("201 bytes"));
        assert!(error("id,input\n\"a\u{1b}b\",a.wav\n").contains("\\u{1b}"));
        assert!(error("id,input\nbatch-report.json,a.wav\n").contains("batch report"));
        assert!(error("id,input\nt1,ftp://x/y\n").contains("unsupported URL scheme"));
        assert_eq!(
            error("id,input\n"),
            "catalog.csv: no tracks (an empty catalog)"
        );
    }

    #[test]
    fn bad_quoting_names_the_line() {
        assert_eq!(
            error("id,input\nt1,a.wav\nt2,\"b.wav\n"),
            "catalog.csv:3: a quote opened here is never closed"
        );
        assert_eq!(
            error("id,input\nt1,a\"b.wav\n"),
            "catalog.csv:2: a quote inside an unquoted field (quote the whole field and double its quotes)"
        );
        assert_eq!(
            error("id,input\n\"t1\"x,a.wav\n"),
            "catalog.csv:2: text after a closing quote"
        );
        assert_eq!(
            error("id,input\nt1,a.wav,extra\n"),
            "catalog.csv:2: 3 fields, the header has 2"
        );
    }

    #[test]
    fn json_lines() {
        let text = "{\"id\": \"t1\", \"input\": \"a.wav\", \"track\": 2, \"target_lufs\": -16}\n\n\
                    {\"id\": \"t2\", \"input\": \"b.wav\", \"album\": null, \"extra\": [1]}\n";
        let c = parse_catalog("c.jsonl", Path::new("/cat"), text.as_bytes()).expect("valid");
        assert_eq!(c.tracks.len(), 2);
        assert_eq!(c.tracks[0].track, Some(2));
        assert_eq!(c.tracks[0].settings.target_lufs, Some(-16.0));
        assert_eq!(c.tracks[1].line, 3);
        let bad = "{\"id\": \"t1\", \"input\": \"a.wav\"}\n{\"id\": 5, \"input\": \"a.wav\"}\n";
        let e = parse_catalog("c.jsonl", Path::new("/cat"), bad.as_bytes())
            .expect_err("invalid")
            .to_string();
        assert_eq!(e, "c.jsonl:2: field \"id\": a string");
        let e = parse_catalog("c.jsonl", Path::new("/cat"), b"{\"id\": \"t1\"\n")
            .expect_err("invalid")
            .to_string();
        assert!(e.starts_with("c.jsonl:1: not a JSON object"), "{e}");
    }

    #[test]
    fn listing_keys() {
        let keys = ["in/a.wav", "in/sub/b.FLAC", "in/notes.txt", "in/dir/"];
        let c = catalog_from_keys("s3://m/in/", "m", keys).expect("valid");
        let ids: Vec<_> = c.tracks.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        assert_eq!(c.tracks[1].input, "s3://m/in/sub/b.FLAC");
        let e = catalog_from_keys("s3://m/in/", "m", ["in/a.wav", "in/x/a.flac"])
            .expect_err("duplicate")
            .to_string();
        assert_eq!(
            e,
            "s3://m/in/: object \"in/x/a.flac\": duplicate id \"a\" (also the stem of \"in/a.wav\")"
        );
        assert!(catalog_from_keys("s3://m/in/", "m", ["in/x.txt"]).is_err());
    }
}
