//! Replays every saved fuzz input on stable, in the normal test suite:
//! the seeds in `fuzz/corpus/<target>/` and every crash or hang ever found
//! in `fuzz/regressions/<target>/`, each through its harness. Each input
//! runs in its own `fuzz-replay` process with its address space capped at
//! [`MEMORY_CAP_KIB`] and is killed after [`TIME_BOUND`], so a panic, an
//! abort, a runaway allocation or a hang fails the test, named, and cannot
//! take the test process (or the machine) down with it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use audiopack_fuzz_targets::TARGETS;

/// Far above what any saved input takes (milliseconds in a debug build);
/// only a hang or a quadratic blow-up gets near it.
const TIME_BOUND: Duration = Duration::from_secs(10);
/// Address space per input (`ulimit -v`): the harnesses decode a few KB;
/// an input that needs more than this is allocating without bound.
const MEMORY_CAP_KIB: u64 = 1 << 20;

fn fuzz_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    dir.canonicalize().unwrap_or(dir)
}

/// The files (not READMEs) directly in `dir`, sorted; none if it is absent.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "README.md"))
        .collect();
    files.sort();
    files
}

/// How a replay that returned went.
#[derive(Debug)]
struct Replayed {
    took: Duration,
    /// The first panic the code under test caught itself (ingest contains
    /// symphonia's panics): not a failure, but worth seeing.
    contained_panic: Option<String>,
}

/// Runs `target` on `input` in a capped child process; how it went, or why
/// it failed.
fn run_bounded(target: &str, input: &Path) -> Result<Replayed, String> {
    let start = Instant::now();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v {MEMORY_CAP_KIB} && exec \"$@\""))
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_fuzz-replay"))
        .arg(target)
        .arg(input)
        // Only the panic message is reported; capturing backtraces is slow.
        .env("RUST_BACKTRACE", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start fuzz-replay");
    loop {
        if let Some(status) = child.try_wait().expect("wait for fuzz-replay") {
            let took = start.elapsed();
            let mut stderr = String::new();
            if let Some(mut pipe) = child.stderr.take() {
                use std::io::Read;
                let _ = pipe.read_to_string(&mut stderr);
            }
            if status.success() {
                // "thread … panicked at FILE:LINE:COL:" then the message.
                let mut lines = stderr.lines().skip_while(|l| !l.contains("panicked at"));
                let contained_panic = lines.next().map(|at| {
                    let place = at.rsplit(' ').next().unwrap_or(at).trim_end_matches(':');
                    let place = place.rsplit("/src/").next().unwrap_or(place);
                    format!("{} at {place}", lines.next().unwrap_or("").trim())
                });
                return Ok(Replayed {
                    took,
                    contained_panic,
                });
            }
            let why = stderr
                .lines()
                .filter(|l| !l.starts_with("note: run with `RUST_BACKTRACE"))
                .collect::<Vec<_>>()
                .join(" | ");
            return Err(format!("{status}: {why}"));
        }
        if start.elapsed() > TIME_BOUND {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("still running after {TIME_BOUND:?} (killed)"));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn replay(target: &str) {
    assert!(
        TARGETS.iter().any(|(name, _)| *name == target),
        "{target} is a known target"
    );
    let corpus = inputs(&fuzz_dir().join("corpus").join(target));
    assert!(
        corpus.len() >= 3,
        "fuzz/corpus/{target}/ holds {} seeds",
        corpus.len()
    );
    let regressions = inputs(&fuzz_dir().join("regressions").join(target));
    let mut failures = Vec::new();
    for path in corpus.iter().chain(&regressions) {
        let name = path.strip_prefix(fuzz_dir()).unwrap_or(path).display();
        match run_bounded(target, path) {
            Ok(Replayed {
                took,
                contained_panic: None,
            }) => eprintln!("{target}: fuzz/{name} ok in {took:?}"),
            Ok(Replayed {
                took,
                contained_panic: Some(panic),
            }) => {
                eprintln!("{target}: fuzz/{name} ok in {took:?} (a panic caught inside: {panic})")
            }
            Err(why) => failures.push(format!("fuzz/{name}: {why}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{target}: {} of {} inputs failed:\n{}",
        failures.len(),
        corpus.len() + regressions.len(),
        failures.join("\n")
    );
}

#[test]
fn decode_corpus_and_regressions() {
    replay("decode");
}

#[test]
fn tags_corpus_and_regressions() {
    replay("tags");
}

#[test]
fn cmaf_parse_corpus_and_regressions() {
    replay("cmaf_parse");
}

/// Every harness named in TARGETS has its seeds.
#[test]
fn every_target_has_seeds() {
    for (target, _) in TARGETS {
        assert!(
            fuzz_dir().join("corpus").join(target).is_dir(),
            "fuzz/corpus/{target}/ is missing"
        );
    }
}

/// The replay reports what it must: an input that is not there, or a
/// target that does not exist, is a failure with the reason, not a pass.
#[test]
fn replay_reports_failures() {
    let err = run_bounded("decode", Path::new("/nonexistent/input")).expect_err("no such file");
    assert!(err.contains("/nonexistent/input"), "{err}");
    let seed = &inputs(&fuzz_dir().join("corpus").join("decode"))[0];
    let err = run_bounded("no_such_target", seed).expect_err("unknown target");
    assert!(err.contains("unknown target"), "{err}");
    assert!(run_bounded("decode", seed).is_ok());
}
