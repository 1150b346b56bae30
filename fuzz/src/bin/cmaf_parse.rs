//! AFL target `cmaf_parse`: see `audiopack_fuzz_targets::cmaf_parse`.

fn main() {
    afl::fuzz!(|data: &[u8]| {
        audiopack_fuzz_targets::cmaf_parse(data);
    });
}
