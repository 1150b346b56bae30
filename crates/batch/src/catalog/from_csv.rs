//! CSV catalogs (RFC 4180, header row): the `csv` crate reads the records;
//! a strict pass over the quotes first refuses what it would let through
//! silently (an unclosed quote swallowing the rest of the file, a quote in
//! the middle of an unquoted field, text after a closing quote).

use std::collections::HashMap;
use std::path::Path;

use super::{Catalog, CatalogError, Dialect, RawRow, Rows, shown};

const COLUMNS: [&str; 7] = [
    "id",
    "input",
    "album",
    "disc",
    "track",
    "preset",
    "target_lufs",
];

pub(super) fn parse(source_name: &str, base: &Path, text: &str) -> Result<Catalog, CatalogError> {
    let mut rows = Rows::new(source_name, Dialect::Csv, base);
    if let Err((line, message)) = check_quoting(text) {
        return Err(rows.error(Some(line), None, message));
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(text.as_bytes());
    let header = reader
        .headers()
        .map_err(|e| rows.error(Some(1), None, csv_message(&e)))?
        .clone();
    let mut index: HashMap<&str, usize> = HashMap::new();
    let names: Vec<String> = header
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    for (i, name) in names.iter().enumerate() {
        if COLUMNS.contains(&name.as_str()) && index.insert(name.as_str(), i).is_some() {
            return Err(rows.error(Some(1), Some(name), "appears twice in the header"));
        }
    }
    for required in ["id", "input"] {
        if !index.contains_key(required) {
            return Err(rows.error(
                Some(1),
                Some(required),
                format!(
                    "missing from the header (it has: {})",
                    names
                        .iter()
                        .map(|n| shown(n))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map(|p| p.line() as usize);
            rows.error(line, None, csv_message(&e))
        })?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        let cell = |name: &str| {
            index
                .get(name)
                .and_then(|&i| record.get(i))
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
        };
        rows.push(RawRow {
            line,
            id: cell("id"),
            input: cell("input"),
            album: cell("album"),
            disc: cell("disc"),
            track: cell("track"),
            preset: cell("preset"),
            target_lufs: cell("target_lufs"),
        })?;
    }
    rows.finish()
}

fn csv_message(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} fields, the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => "not UTF-8 text".into(),
        _ => e.to_string(),
    }
}

/// RFC 4180 quoting: a field is quoted whole or not at all, quotes inside
/// a quoted field are doubled, and every quoted field is closed. Returns
/// the line of the first violation and what it is.
fn check_quoting(text: &str) -> Result<(), (usize, String)> {
    #[derive(PartialEq)]
    enum State {
        FieldStart,
        Unquoted,
        Quoted { opened: usize },
        QuoteInQuoted { opened: usize },
    }
    let mut state = State::FieldStart;
    let mut line = 1;
    for c in text.chars() {
        state = match (state, c) {
            (State::FieldStart, '"') => State::Quoted { opened: line },
            (State::FieldStart | State::Unquoted, ',' | '\r' | '\n') => State::FieldStart,
            (State::Unquoted, '"') => {
                return Err((
                    line,
                    "a quote inside an unquoted field (quote the whole field and double its quotes)"
                        .into(),
                ));
            }
            (State::FieldStart | State::Unquoted, _) => State::Unquoted,
            (State::Quoted { opened }, '"') => State::QuoteInQuoted { opened },
            (s @ State::Quoted { .. }, _) => s,
            (State::QuoteInQuoted { opened }, '"') => State::Quoted { opened },
            (State::QuoteInQuoted { .. }, ',' | '\r' | '\n') => State::FieldStart,
            (State::QuoteInQuoted { .. }, _) => {
                return Err((line, "text after a closing quote".into()));
            }
        };
        if c == '\n' {
            line += 1;
        }
    }
    match state {
        State::Quoted { opened } => Err((opened, "a quote opened here is never closed".into())),
        _ => Ok(()),
    }
}
