//! AFL target `decode`: see `audiopack_fuzz_targets::decode`.

fn main() {
    afl::fuzz!(|data: &[u8]| {
        audiopack_fuzz_targets::decode(data);
    });
}
