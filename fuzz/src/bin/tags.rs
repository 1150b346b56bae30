//! AFL target `tags`: see `audiopack_fuzz_targets::tags`.

fn main() {
    afl::fuzz!(|data: &[u8]| {
        audiopack_fuzz_targets::tags(data);
    });
}
