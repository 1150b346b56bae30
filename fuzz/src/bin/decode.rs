//! AFL target `decode`: see `audiopack_fuzz_targets::decode`.
//!
//! A finding is a panic that escapes the harness (afl.rs aborts on it), an
//! allocation over the memory limit or a hang. Panics the code under test
//! catches itself (ingest contains symphonia's) are not, unless
//! `AUDIOPACK_FUZZ_ANY_PANIC=1`: then every panic aborts, to hunt for the
//! dependency bugs behind that containment.

fn main() {
    if std::env::var_os("AUDIOPACK_FUZZ_ANY_PANIC").is_some_and(|v| v == "1") {
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            report(info);
            std::process::abort();
        }));
    }
    afl::fuzz_nohook!(|data: &[u8]| {
        audiopack_fuzz_targets::decode(data);
    });
}
