//! Digests that make reruns cheap: the SHA-256 of the input's bytes and of
//! the settings that shape a package, both recorded in `report.json`. A
//! package whose report carries the same two digests was made from the
//! same bytes the same way: a batch rerun skips it without decoding.

use std::io::Read;
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::JobConfig;
use crate::inventory::PACKAGE_FORMAT_VERSION;

/// Hex SHA-256 of everything `reader` yields (1 MiB at a time).
pub fn reader_sha256(reader: &mut dyn Read) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// Hex SHA-256 of a file's bytes.
pub fn file_sha256(path: &Path) -> std::io::Result<String> {
    reader_sha256(&mut std::fs::File::open(path)?)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What shapes a package's bytes, in a fixed order. Limits are left out
/// (they only decide whether an input is accepted), as is the CPU budget.
#[derive(Serialize)]
struct Settings<'a> {
    package_format: u32,
    target_lufs: f64,
    true_peak_ceiling_dbtp: f64,
    limiter: bool,
    ladder: Option<&'a str>,
    ogg: bool,
    hls: bool,
    dash: bool,
    layout: crate::Layout,
    segment_packets: u32,
    lossless: bool,
    strict: bool,
    album: bool,
    // Absent outside albums, so those digests are unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    album_members: Option<&'a str>,
    // Absent for clear packages: what identifies the protection (scheme,
    // systems, options, key source, key IDs), never a key.
    #[serde(skip_serializing_if = "Option::is_none")]
    encryption: Option<&'a str>,
    // The report gains `decoded` measurements; absent when off.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    measure_decoded: bool,
    // A package without report.html; absent when the page is written.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    no_qc_page: bool,
}

impl JobConfig {
    /// Hex SHA-256 of the settings that shape the package (loudness
    /// target and ceiling, limiter, ladder, formats, layout, segment
    /// length, lossless tier, strictness, album mode and the album's
    /// members, the package format version). Recorded as
    /// `settings_digest` in `report.json`. An album's gain value is not in
    /// it: it follows from the album's members (their input digests) and
    /// these settings, so it is known before the album is measured.
    pub fn settings_digest(&self) -> String {
        let n = &self.normalize;
        let settings = Settings {
            package_format: PACKAGE_FORMAT_VERSION,
            target_lufs: n.target_lufs,
            true_peak_ceiling_dbtp: n.true_peak_ceiling_dbtp,
            limiter: n.limiter,
            ladder: self.ladder.as_deref().map(str::trim),
            ogg: self.formats.ogg,
            hls: self.formats.hls,
            dash: self.formats.dash,
            layout: self.layout,
            segment_packets: self.segment_packets,
            lossless: self.lossless,
            strict: self.ingest.strict,
            album: self.album.is_some(),
            album_members: self.album.and(self.album_members.as_deref()),
            encryption: self.encryption_fingerprint.as_deref(),
            measure_decoded: self.measure_decoded,
            no_qc_page: !self.qc_page,
        };
        let bytes = serde_json::to_vec(&settings).unwrap_or_default();
        hex(&Sha256::digest(&bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_bytes() {
        // FIPS 180-2 "abc".
        assert_eq!(
            reader_sha256(&mut &b"abc"[..]).expect("hash"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn every_setting_that_shapes_the_package_changes_the_digest() {
        let base = JobConfig::default();
        let d = base.settings_digest();
        assert_eq!(d, JobConfig::default().settings_digest(), "stable");
        let mut c = base.clone();
        c.normalize.target_lufs = -16.0;
        assert_ne!(c.settings_digest(), d);
        let mut c = base.clone();
        c.ladder = Some("64,96".into());
        assert_ne!(c.settings_digest(), d);
        let mut c = base.clone();
        c.layout = crate::Layout::SingleFile;
        assert_ne!(c.settings_digest(), d);
        let mut c = base.clone();
        c.lossless = false;
        assert_ne!(c.settings_digest(), d);
        let mut c = base.clone();
        c.album = Some(crate::AlbumGain {
            integrated_lufs: Some(-11.0),
            gain_db: -3.0,
            tracks: 2,
            peak_capped: false,
        });
        assert_ne!(c.settings_digest(), d);
        // Limits and the CPU budget do not shape the bytes.
        let mut c = base.clone();
        c.ingest.limits.max_channels = 2;
        c.cpu = Some(crate::CpuBudget::new(1));
        assert_eq!(c.settings_digest(), d);
    }
}
