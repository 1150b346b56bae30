//! Runs one saved input through one harness, on stable, without AFL:
//!
//! ```sh
//! cargo run -p audiopack-fuzz-targets --bin fuzz-replay -- decode fuzz/regressions/decode/crash-…
//! ```
//!
//! Exit 0: the harness returned. A panic aborts with its message (and a
//! backtrace under `RUST_BACKTRACE=1`). The corpus-replay test runs every
//! saved input through this binary, in its own process, so a runaway
//! allocation or a hang is contained and killed.

use std::process::ExitCode;

use audiopack_fuzz_targets::TARGETS;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [target, path] = args.as_slice() else {
        eprintln!("usage: fuzz-replay TARGET FILE");
        return ExitCode::from(2);
    };
    let Some((_, harness)) = TARGETS.iter().find(|(name, _)| name == target) else {
        let names: Vec<&str> = TARGETS.iter().map(|(name, _)| *name).collect();
        eprintln!("fuzz-replay: unknown target {target:?} (one of {names:?})");
        return ExitCode::from(2);
    };
    let data = match std::fs::read(path) {
        Ok(data) => data,
        Err(e) => {
            eprintln!("fuzz-replay: {path}: {e}");
            return ExitCode::from(2);
        }
    };
    harness(&data);
    ExitCode::SUCCESS
}
