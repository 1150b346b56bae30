//! Sample-encryption throughput (benches/drm.sh): 64 MiB of 240-byte
//! samples (a 96 kbit/s Opus packet) and of 4 KiB samples (a FLAC frame),
//! cbcs and cenc, best of three.
//!
//!   cargo run --release -p audiopack-drm --example cipher_speed

use std::time::Instant;

use audiopack_drm::cipher::SampleEncryptor;
use audiopack_drm::{ContentKey, Kid, Scheme};

fn main() {
    let key = ContentKey::new(Kid([1; 16]), [2; 16], None);
    let total = 64 << 20;
    for sample in [240usize, 4096] {
        let mut data = vec![0x5au8; total];
        for scheme in [Scheme::Cbcs, Scheme::Cenc] {
            let mut best = f64::INFINITY;
            for _ in 0..3 {
                let mut enc = SampleEncryptor::new(scheme, &key, 0, "bench");
                let t = Instant::now();
                for chunk in data.chunks_mut(sample) {
                    std::hint::black_box(enc.encrypt(chunk));
                }
                best = best.min(t.elapsed().as_secs_f64());
            }
            println!(
                "{scheme} {sample:>5}-byte samples: {:7.0} MB/s",
                total as f64 / best / 1e6
            );
        }
    }
}
