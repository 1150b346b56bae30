//! JSON Lines catalogs: one object per line (blank lines skipped), the
//! same fields as the CSV columns; `disc`, `track` and `target_lufs` are
//! numbers (or numeric strings), the rest strings; `null` is absent.

use std::path::Path;

use serde_json::{Map, Value};

use super::{Catalog, CatalogError, Dialect, RawRow, Rows};

pub(super) fn parse(source_name: &str, base: &Path, text: &str) -> Result<Catalog, CatalogError> {
    let mut rows = Rows::new(source_name, Dialect::Json, base);
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let object: Map<String, Value> = match serde_json::from_str::<Value>(raw) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err(rows.error(Some(line), None, "not a JSON object")),
            Err(e) => {
                return Err(rows.error(Some(line), None, format!("not a JSON object ({e})")));
            }
        };
        let text_field = |name: &str| -> Result<Option<String>, CatalogError> {
            match object.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => {
                    let s = s.trim();
                    Ok((!s.is_empty()).then(|| s.to_string()))
                }
                Some(_) => Err(rows.error(Some(line), Some(name), "a string")),
            }
        };
        let number_field = |name: &str| -> Result<Option<String>, CatalogError> {
            match object.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Number(n)) => Ok(Some(n.to_string())),
                Some(Value::String(s)) => {
                    let s = s.trim();
                    Ok((!s.is_empty()).then(|| s.to_string()))
                }
                Some(_) => Err(rows.error(Some(line), Some(name), "a number")),
            }
        };
        let row = RawRow {
            line,
            id: text_field("id")?,
            input: text_field("input")?,
            album: text_field("album")?,
            disc: number_field("disc")?,
            track: number_field("track")?,
            preset: text_field("preset")?,
            target_lufs: number_field("target_lufs")?,
        };
        rows.push(row)?;
    }
    rows.finish()
}
