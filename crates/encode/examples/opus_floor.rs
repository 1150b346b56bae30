//! The same-libopus floor: encodes ready 48 kHz interleaved f32 PCM (a raw
//! file) at each bitrate with libopus exactly as the ladder does (20 ms
//! frames, constrained VBR, complexity 10, signal music, application
//! audio), one rung after the other on one thread, and nothing else: no
//! decode, loudness, resampling, packaging or writing. `benches/floor.sh`
//! compares the whole job's CPU time with this one's.
//!
//!   cargo run --release -p audiopack-encode --example opus_floor -- PCM CHANNELS KBPS,KBPS,…

use opus::{Application, Bitrate, Channels, Encoder, Signal};

const FRAME: usize = 960;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (path, channels, ladder, decode) = match &args[..] {
        [_, path, channels, ladder] => (path, channels, ladder, false),
        [_, path, channels, ladder, flag] if flag == "decode" => (path, channels, ladder, true),
        _ => return Err("usage: opus_floor PCM_F32LE_48K CHANNELS KBPS,KBPS,… [decode]".into()),
    };
    let channels: usize = channels.parse()?;
    let bytes = std::fs::read(path)?;
    let pcm: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let layout = match channels {
        1 => Channels::Mono,
        2 => Channels::Stereo,
        n => return Err(format!("{n} channels: mono or stereo").into()),
    };
    let mut packet = vec![0u8; 4000];
    let mut frame = vec![0f32; FRAME * channels];
    let mut decoded = vec![0f32; FRAME * channels];
    for kbps in ladder.split(',') {
        let kbps: i32 = kbps.trim().parse()?;
        let mut encoder = Encoder::new(48_000, layout, Application::Audio)?;
        encoder.set_bitrate(Bitrate::Bits(kbps * 1000))?;
        encoder.set_vbr(true)?;
        encoder.set_vbr_constraint(true)?;
        encoder.set_complexity(10)?;
        encoder.set_signal(Signal::Music)?;
        let mut decoder = if decode {
            Some(opus::Decoder::new(48_000, layout)?)
        } else {
            None
        };
        let mut total = 0usize;
        let mut packets = 0usize;
        for chunk in pcm.chunks(FRAME * channels) {
            frame[..chunk.len()].copy_from_slice(chunk);
            frame[chunk.len()..].fill(0.0);
            let len = encoder.encode_float(&frame, &mut packet)?;
            if let Some(decoder) = decoder.as_mut() {
                decoder.decode_float(&packet[..len], &mut decoded, false)?;
            }
            total += len;
            packets += 1;
        }
        println!("{kbps} kbit/s: {packets} packets, {total} bytes");
    }
    Ok(())
}
