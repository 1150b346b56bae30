//! Human-readable output.

use std::fmt::Write as _;
use std::path::Path;

use audiopack::report_types::LoudnessReport;
use audiopack::{IngestReport as JobReport, LoudnessOnly, ScanReport};

/// `text` with every control character (newline, ESC, DEL, C1…) written
/// as an escape, so a hostile file name or tag cannot forge lines or
/// drive the terminal.
pub fn clean(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().collect()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn shown(path: &Path) -> String {
    clean(&path.display().to_string())
}

fn db(value: Option<f64>, unit: &str) -> String {
    value.map_or_else(|| format!("-inf {unit}"), |v| format!("{v:.1} {unit}"))
}

fn loudness_line(r: &LoudnessReport) -> String {
    format!(
        "{} integrated, {:.1} LU range, {} true peak, {} sample peak",
        db(r.integrated_lufs, "LUFS"),
        r.loudness_range_lu,
        db(r.true_peak_dbtp, "dBTP"),
        db(r.sample_peak_dbfs, "dBFS")
    )
}

pub fn probe(r: &ScanReport) -> String {
    let i = &r.info;
    let mut s = String::new();
    let _ = writeln!(s, "{}", shown(&i.path));
    let _ = writeln!(s, "  format           {}", i.format);
    let _ = writeln!(s, "  codec            {}", i.codec);
    let _ = writeln!(s, "  sample_rate      {} Hz", i.sample_rate);
    let _ = writeln!(s, "  channels         {}", i.channels);
    if let Some(bits) = i.bits_per_sample {
        let _ = writeln!(s, "  bits_per_sample  {bits}");
    }
    let _ = writeln!(s, "  frames           {}", r.frames);
    let _ = writeln!(s, "  duration         {:.3} s", r.duration_seconds);
    for (k, v) in &i.tags {
        let _ = writeln!(s, "  tag {:<12} {}", clean(k), clean(v));
    }
    for w in &r.warnings {
        let _ = writeln!(s, "  warning: {}", clean(w));
    }
    s
}

pub fn loudness(r: &LoudnessOnly) -> String {
    format!("{}: {}\n", shown(&r.path), loudness_line(&r.loudness))
}

pub fn ingest(r: &JobReport, out: &Path, verbose: bool) -> String {
    let mut s = String::new();
    let i = &r.input;
    let _ = writeln!(
        s,
        "{}: {} {}, {} Hz, {} ch, {:.3} s",
        shown(&i.path),
        i.format,
        i.codec,
        i.sample_rate,
        i.channels,
        i.duration_seconds
    );
    let l = &r.loudness;
    let _ = writeln!(s, "  input   {}", loudness_line(&l.input));
    if let Some(d) = &l.downmix {
        let _ = writeln!(s, "  stereo  {}", loudness_line(d));
    }
    let reason = match l.gain.reason {
        audiopack::report_types::GainReason::Target => "to the target",
        audiopack::report_types::GainReason::PeakCeiling => "capped by the true-peak ceiling",
        audiopack::report_types::GainReason::Silence => "silence: no gain",
        audiopack::report_types::GainReason::Album => "the album's gain",
    };
    let limiter = if l.gain.limiter_engaged {
        ", limiter on"
    } else {
        ""
    };
    let _ = writeln!(
        s,
        "  gain    {:+.2} dB ({reason}{limiter}; target {:.1} LUFS, ceiling {:.1} dBTP)",
        l.gain.gain_db, l.config.target_lufs, l.config.true_peak_ceiling_dbtp
    );
    let _ = writeln!(s, "  output  {}", loudness_line(&l.output));
    for rendition in &r.renditions {
        let file = rendition
            .file
            .as_ref()
            .map(|f| format!("  {}", shown(&out.join(f))))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "  {:<10} {:>4} kbit/s target, {:>4} kbit/s measured{file}",
            rendition.name,
            rendition.bitrate_target_bps / 1000,
            rendition.bitrate_measured_bps / 1000,
        );
    }
    if let Some(p) = &r.package {
        for pr in &p.renditions {
            let _ = writeln!(
                s,
                "  {:<10} {:>5} {} ch {:>6} Hz, {:>3} segments, peak {:>5} kbit/s, average {:>5} kbit/s",
                pr.name,
                pr.codecs,
                pr.channels,
                pr.sample_rate,
                pr.segments,
                pr.peak_bandwidth_bps / 1000,
                pr.average_bandwidth_bps / 1000
            );
        }
        if let Some(why) = &p.lossless_skipped {
            let _ = writeln!(s, "  lossless tier skipped: {why}");
        }
        for m in &p.manifests {
            let _ = writeln!(s, "  manifest {}", shown(&out.join(m)));
        }
    }
    if verbose {
        let _ = writeln!(
            s,
            "  {} frames at 48 kHz, pre-skip {}",
            r.processing.output_frames,
            r.renditions.first().map_or(0, |x| x.pre_skip)
        );
    }
    for w in &i.warnings {
        let _ = writeln!(s, "  warning: {}", clean(w));
    }
    for w in &r.loudness.decoded_warnings {
        let _ = writeln!(s, "  warning: {}", clean(w));
    }
    if let Some(pc) = &r.loudness.peak_control {
        if verbose {
            for note in &pc.notes {
                let _ = writeln!(s, "  note: {}", clean(note));
            }
        }
        for w in &pc.warnings {
            let _ = writeln!(s, "  warning: {}", clean(w));
        }
    }
    let _ = writeln!(s, "  report  {}", shown(&out.join("report.json")));
    s
}

pub fn publish(r: &audiopack::PublishReport, list: bool) -> String {
    use audiopack::Action;
    let mut s = String::new();
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    if list {
        for o in &r.objects {
            let action = match o.action {
                Action::Written => "written",
                Action::Skipped => "unchanged",
                Action::WouldWrite => "would write",
                Action::Unchanged => "unchanged",
            };
            let _ = writeln!(s, "  {action:<11} {:>10} B  {}", o.bytes, o.location);
        }
    }
    let verb = if r.dry_run { "would write" } else { "wrote" };
    if r.objects_written == 0 && !r.dry_run {
        let _ = writeln!(
            s,
            "{}: nothing to write, all {} objects already published ({:.1} MiB)",
            r.destination,
            r.objects_skipped,
            mib(r.bytes_skipped)
        );
    } else {
        let _ = writeln!(
            s,
            "{}: {verb} {} objects ({:.1} MiB), {} unchanged, {} retries, {:.1} s",
            r.destination,
            r.objects_written,
            mib(r.bytes_written),
            r.objects_skipped,
            r.retries,
            r.duration_seconds
        );
    }
    s
}
