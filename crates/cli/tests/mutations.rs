//! A deterministic fuzz smoke test: damaged copies of every fixture format
//! (random byte changes, overwritten runs, truncations) must end in success
//! or a documented bad-input code — never a panic (101) or an internal
//! error (1). Not a substitute for coverage-guided fuzzing, but it runs on
//! every CI build.

mod common;

use common::*;

/// xorshift64*: deterministic without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(data: &[u8], rng: &mut Rng, kind: usize) -> Vec<u8> {
    let mut b = data.to_vec();
    match kind % 4 {
        0 => {
            for _ in 0..1 + rng.below(20) {
                let p = rng.below(b.len());
                b[p] = rng.next() as u8;
            }
        }
        1 => {
            // In the header area.
            let p = rng.below(b.len().min(4096));
            b[p] = rng.next() as u8;
        }
        2 => b.truncate(1 + rng.below(b.len() - 1)),
        _ => {
            let p = rng.below(b.len());
            let end = (p + 1 + rng.below(2000)).min(b.len());
            for x in &mut b[p..end] {
                *x = rng.next() as u8;
            }
        }
    }
    b
}

#[test]
fn damaged_inputs_never_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut outcomes = std::collections::BTreeMap::new();
    for name in [
        "stereo_s16_44100.flac",
        "stereo_44100.mp3",
        "stereo_44100.ogg",
        "stereo_s24_48000.wav",
        "stereo_s16_44100.aiff",
        "mono_u8_8000.wav",
    ] {
        let data = std::fs::read(fixture(name)).expect("fixture");
        for i in 0..16 {
            let path = dir.path().join(format!("{i}_{name}"));
            std::fs::write(&path, mutate(&data, &mut rng, i)).expect("write");
            let out = run(&["probe", path.to_str().expect("utf8")]);
            let code = out.status.code();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                matches!(code, Some(0 | 3 | 4 | 5)) && !stderr.contains("panicked"),
                "{name} mutation {i}: exit {code:?}: {stderr}"
            );
            *outcomes.entry(code).or_insert(0) += 1;
        }
    }
    // Both outcomes occur: the damage is real, and not everything is refused.
    assert!(outcomes.contains_key(&Some(3)), "{outcomes:?}");
    assert!(outcomes.contains_key(&Some(0)), "{outcomes:?}");
}
