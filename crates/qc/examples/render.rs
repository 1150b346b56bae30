//! Renders the QC pages of a package or a batch output already on disk.
//!
//! ```sh
//! cargo run -p audiopack-qc --example render -- PACKAGE_DIR   # → PACKAGE_DIR/report.html
//! cargo run -p audiopack-qc --example render -- BATCH_OUT     # → index.html + every <id>/report.html
//! ```
//!
//! A package's `report.json` is required, its `qc.json` used when present.

use std::error::Error;
use std::fs;
use std::path::Path;

fn main() -> Result<(), Box<dyn Error>> {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: render PACKAGE_DIR|BATCH_OUT");
        std::process::exit(2);
    };
    let dir = Path::new(&dir);
    let batch_report = dir.join("batch-report.json");
    if batch_report.is_file() {
        let batch_text = fs::read_to_string(&batch_report)?;
        let batch: serde_json::Value = serde_json::from_str(&batch_text)?;
        let mut tracks = Vec::new();
        for track in batch["tracks"].as_array().into_iter().flatten() {
            let Some(id) = track["id"].as_str() else {
                continue;
            };
            let package = dir.join(id);
            let report = fs::read_to_string(package.join("report.json")).ok();
            if report.is_some() {
                render_package(&package)?;
            }
            tracks.push((id.to_owned(), report));
        }
        let html = audiopack_qc::render_batch_index(&batch_text, &tracks)?;
        fs::write(dir.join("index.html"), html)?;
        println!("{}", dir.join("index.html").display());
    } else {
        render_package(dir)?;
    }
    Ok(())
}

fn render_package(dir: &Path) -> Result<(), Box<dyn Error>> {
    let report = fs::read_to_string(dir.join("report.json"))
        .map_err(|e| format!("{}: {e}", dir.join("report.json").display()))?;
    let qc = fs::read_to_string(dir.join("qc.json")).ok();
    let html = audiopack_qc::render_report_page(&report, qc.as_deref())?;
    fs::write(dir.join("report.html"), html)?;
    println!("{}", dir.join("report.html").display());
    Ok(())
}
