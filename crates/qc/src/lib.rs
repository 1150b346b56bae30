//! Quality control you can see: what `qc.json` holds and how `report.html`
//! shows it.
//!
//! The measurements are made by the pipeline as it encodes (no extra decode
//! of the source): the source in pass 1, the renditions decoded (libopus)
//! as they are written. This crate only holds their shape ([`QcData`],
//! written as `qc.json` next to `report.json`) and renders pages from them:
//!
//! * [`render_report_page`]: `report.html`, one self-contained file (inline
//!   CSS, JS and SVG; no network; works from `file://`) built from the
//!   package's `report.json` and `qc.json` text;
//! * [`render_batch_index`]: a batch output's `index.html`, from
//!   `batch-report.json` and the tracks' reports.
//!
//! Pure: strings in, a string out. Writing the files is the pipeline's job.

mod batch_index;
mod data;
mod escape;
mod page;

pub use batch_index::render_batch_index;
pub use data::{
    Envelope, LoudnessSeries, QC_SCHEMA_VERSION, QcData, RenditionSpectrum, Spectrum, TruePeakOver,
};
pub use escape::{QcError, escape_html};
pub use page::render_report_page;
