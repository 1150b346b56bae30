//! Replays every saved fuzz input on stable, in the normal test suite:
//! the seeds in `fuzz/corpus/<target>/` and every crash or hang ever found
//! in `fuzz/regressions/<target>/`, each through its harness. An input that
//! panics or takes longer than [`TIME_BOUND`] fails the test, named.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use audiopack_fuzz_targets::{Harness, TARGETS};

/// Far above what any saved input takes (milliseconds in a debug build);
/// only a hang or a quadratic blow-up gets near it.
const TIME_BOUND: Duration = Duration::from_secs(20);

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
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

/// Runs `harness` on `data` on its own thread; the failure, if any.
fn run_bounded(harness: Harness, data: Vec<u8>) -> Result<Duration, String> {
    let (done, finished) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let start = Instant::now();
        harness(&data);
        let _ = done.send(start.elapsed());
    });
    match finished.recv_timeout(TIME_BOUND) {
        Ok(took) => Ok(took),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            let panic = worker
                .join()
                .expect_err("the harness ended without a result");
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_string()))
                .unwrap_or_else(|| "a non-string panic".into());
            Err(format!("panicked: {message}"))
        }
        // The worker is left running; the failing test ends the process.
        Err(mpsc::RecvTimeoutError::Timeout) => Err(format!("still running after {TIME_BOUND:?}")),
    }
}

fn replay(target: &str) {
    let (_, harness) = TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .expect("a known target");
    let corpus = inputs(&fuzz_dir().join("corpus").join(target));
    assert!(
        corpus.len() >= 3,
        "fuzz/corpus/{target}/ holds {} seeds",
        corpus.len()
    );
    let regressions = inputs(&fuzz_dir().join("regressions").join(target));
    let mut failures = Vec::new();
    for path in corpus.iter().chain(&regressions) {
        let data = std::fs::read(path).expect("read a saved input");
        match run_bounded(*harness, data) {
            Ok(took) => eprintln!("{target}: {} ok in {took:?}", path.display()),
            Err(why) => failures.push(format!("{}: {why}", path.display())),
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

/// Every harness named in TARGETS has its test above and its seeds.
#[test]
fn every_target_has_seeds() {
    for (target, _) in TARGETS {
        assert!(
            fuzz_dir().join("corpus").join(target).is_dir(),
            "fuzz/corpus/{target}/ is missing"
        );
    }
}

/// The replay catches what it must: a panicking harness is reported with
/// its message, not passed.
#[test]
fn replay_reports_panics() {
    fn panics(_: &[u8]) {
        panic!("boom");
    }
    let err = run_bounded(panics, vec![1]).expect_err("a panic is a failure");
    assert!(err.contains("boom"), "{err}");
    fn returns(_: &[u8]) {}
    assert!(run_bounded(returns, vec![]).is_ok());
}
