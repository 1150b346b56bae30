//! What metering costs per 48 kHz stereo minute: ebur128's loudness modes,
//! its true peak, and our `TruePeakMeter`.
//!
//!     cargo run --release -p audiopack-encode --example meter_speed [SECONDS]
use std::time::Instant;

use audiopack_encode::TruePeakMeter;
use ebur128::{EbuR128, Mode};

/// A meter under test: takes one planar block.
type Meter<'a> = dyn FnMut(&[&[f32]]) + 'a;

fn main() {
    let seconds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    let rate = 48_000u32;
    let n = seconds * rate as usize;
    // Deterministic noise through a one-pole low-pass: music-like spectrum.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut lp = [0f32; 2];
    let mut planes: Vec<Vec<f32>> = (0..2).map(|_| Vec::with_capacity(n)).collect();
    for _ in 0..n {
        for (c, plane) in planes.iter_mut().enumerate() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let white = (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
            lp[c] = 0.9 * lp[c] + 0.1 * white;
            plane.push(lp[c] * 4.0);
        }
    }
    let block = 960;
    let time = |name: &str, mut f: Box<Meter<'_>>| {
        let start = Instant::now();
        let mut at = 0;
        while at < n {
            let end = (at + block).min(n);
            f(&[&planes[0][at..end], &planes[1][at..end]]);
            at = end;
        }
        let s = start.elapsed().as_secs_f64();
        println!(
            "{name:40} {s:7.3} s  ({:.2} s per audio hour)",
            s * 3600.0 / seconds as f64
        );
    };
    for (name, mode) in [
        (
            "ebur128 I+LRA (histogram)",
            Mode::I | Mode::LRA | Mode::HISTOGRAM,
        ),
        (
            "ebur128 I+LRA+M+S (histogram)",
            Mode::I | Mode::LRA | Mode::M | Mode::S | Mode::HISTOGRAM,
        ),
        ("ebur128 SAMPLE_PEAK", Mode::SAMPLE_PEAK),
        ("ebur128 TRUE_PEAK", Mode::TRUE_PEAK),
    ] {
        let mut m = EbuR128::new(2, rate, mode).expect("meter");
        time(
            name,
            Box::new(move |b| m.add_frames_planar_f32(b).expect("add")),
        );
    }
    let mut lm =
        audiopack_encode::LoudnessMeter::new(rate, &audiopack_encode::Speaker::default_layout(2))
            .expect("meter");
    time(
        "LoudnessMeter (ours: I, LRA, M, S, TP, SP)",
        Box::new(move |b| lm.push(b).expect("push")),
    );
    let mut bs = audiopack_encode::Bs1770Meter::new(rate, &[1.0, 1.0]);
    time(
        "Bs1770Meter (ours: I, LRA, M, S)",
        Box::new(move |b| bs.push(b)),
    );
    let mut tp = TruePeakMeter::new(rate, 2);
    time("TruePeakMeter 4x", Box::new(move |b| tp.push(b)));
    let mut tp = TruePeakMeter::new(44_100, 2);
    time(
        "TruePeakMeter 5x (44.1k setup)",
        Box::new(move |b| tp.push(b)),
    );
    decode_cost(&planes, seconds);
}

/// Encodes the signal once at 96 kbit/s and times decoding it (libopus),
/// then decoding plus the full DecodedPeakMeter.
fn decode_cost(planes: &[Vec<f32>], seconds: usize) {
    use audiopack_encode::{DecodedPeakMeter, OpusEncoder, Rung};
    let mut enc = OpusEncoder::new(Rung {
        bitrate_bps: 96_000,
        channels: 2,
    })
    .expect("encoder");
    let mut packets = Vec::new();
    let n = planes[0].len();
    let start = Instant::now();
    for at in (0..n).step_by(4800) {
        let end = (at + 4800).min(n);
        enc.push(
            &[planes[0][at..end].to_vec(), planes[1][at..end].to_vec()],
            &mut packets,
        )
        .expect("push");
    }
    enc.finish(&mut packets).expect("finish");
    let s = start.elapsed().as_secs_f64();
    println!(
        "{:40} {s:7.3} s  ({:.2} s per audio hour)",
        "libopus encode 96k",
        s * 3600.0 / seconds as f64
    );
    let mut dec = opus::Decoder::new(48_000, opus::Channels::Stereo).expect("decoder");
    let mut buf = vec![0f32; 5760 * 2];
    let start = Instant::now();
    for p in &packets {
        dec.decode_float(&p.data, &mut buf, false).expect("decode");
    }
    let s = start.elapsed().as_secs_f64();
    println!(
        "{:40} {s:7.3} s  ({:.2} s per audio hour)",
        "libopus decode 96k",
        s * 3600.0 / seconds as f64
    );
    let mut meter = DecodedPeakMeter::new(2, enc.pre_skip(), Some(-1.0)).expect("meter");
    let start = Instant::now();
    for p in &packets {
        meter.push(p, enc.frames_in()).expect("meter");
    }
    let _ = meter.measurement();
    let s = start.elapsed().as_secs_f64();
    println!(
        "{:40} {s:7.3} s  ({:.2} s per audio hour)",
        "DecodedPeakMeter (decode+meter)",
        s * 3600.0 / seconds as f64
    );
}
