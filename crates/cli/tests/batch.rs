//! `audiopack batch` through the real binary: generated catalogs of short
//! tracks (ffmpeg), good and bad rows, reruns that skip, a changed
//! setting that re-encodes, invalid catalogs refused before anything is
//! written, `kill -9` mid-batch then a rerun, SIGTERM, `--max-failures`,
//! and S3 in and out against the in-process test server.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use common::*;
use serde_json::Value;

const AK: &str = "AKIDAUDIOPACKTEST";
const SK: &str = "audiopack-test-secret-key";
const BUCKET: &str = "origin";

/// `seconds` of a stereo 16-bit 44.1 kHz tone at `freq` Hz, `dir/name.wav`.
fn tone(dir: &Path, name: &str, freq: u32, seconds: u32) -> PathBuf {
    let path = dir.join(format!("{name}.wav"));
    ffmpeg_generate(
        &format!("sine=f={freq}:d={seconds}:sample_rate=44100"),
        &["-ac", "2", "-c:a", "pcm_s16le", "-af", "volume=0.3"],
        &path,
    );
    path
}

/// `n` tones `t1…tn` in `dir/masters`, `seconds` long.
fn masters(dir: &Path, n: usize, seconds: u32) -> Vec<PathBuf> {
    let masters = dir.join("masters");
    std::fs::create_dir_all(&masters).expect("mkdir");
    (1..=n)
        .map(|i| tone(&masters, &format!("t{i}"), 220 * i as u32, seconds))
        .collect()
}

/// A CSV catalog `dir/catalog.csv` with inputs relative to it.
fn csv_catalog(dir: &Path, rows: &[(&str, &str)]) -> PathBuf {
    let mut text = String::from("id,input,title\n");
    for (id, input) in rows {
        text.push_str(&format!("{id},{input},\"A title, with a comma\"\n"));
    }
    let path = dir.join("catalog.csv");
    std::fs::write(&path, text).expect("catalog");
    path
}

fn batch(args: &[&str]) -> Output {
    bin()
        .arg("batch")
        .args(args)
        .output()
        .expect("running audiopack batch")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

/// stderr, and the failed tracks' events from stdout (for assertion
/// messages).
fn stderr(out: &Output) -> String {
    let failures: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("\"track-failed\""))
        .map(str::to_string)
        .collect();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stderr),
        failures.join("\n")
    )
}

/// The JSON events on stdout.
fn events(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn count(events: &[Value], kind: &str) -> usize {
    events.iter().filter(|e| e["event"] == kind).count()
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(
        &std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .expect("JSON")
}

/// Statuses by id, from the batch report.
fn statuses(report: &Value) -> BTreeMap<String, String> {
    report["tracks"]
        .as_array()
        .expect("tracks")
        .iter()
        .map(|t| {
            (
                t["id"].as_str().expect("id").to_string(),
                t["status"].as_str().expect("status").to_string(),
            )
        })
        .collect()
}

fn entry<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["tracks"]
        .as_array()
        .expect("tracks")
        .iter()
        .find(|t| t["id"] == id)
        .unwrap_or_else(|| panic!("no entry for {id}"))
}

fn sha256_of(path: &Path) -> String {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .expect("digest")
        .to_string()
}

/// Nothing hidden (staging, temporary files) left directly under `out`.
fn assert_no_leftovers(out: &Path) {
    let hidden: Vec<_> = std::fs::read_dir(out)
        .expect("read out")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.file_name())
        .collect();
    assert!(hidden.is_empty(), "left behind: {hidden:?}");
}

fn modified(path: &Path) -> std::time::SystemTime {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .expect("mtime")
}

#[test]
fn good_and_bad_rows_exit_13_with_each_reason_in_the_reports() {
    let tmp = tempfile::tempdir().expect("tmp");
    let files = masters(tmp.path(), 2, 3);
    // A WAV cut short (its header promises more): bad input; an empty file.
    let whole = std::fs::read(&files[0]).expect("read");
    std::fs::write(
        tmp.path().join("masters/garbage.wav"),
        &whole[..whole.len() / 2],
    )
    .expect("write");
    std::fs::write(tmp.path().join("masters/empty.flac"), b"").expect("write");
    let catalog = csv_catalog(
        tmp.path(),
        &[
            ("t1", "masters/t1.wav"),
            ("garbage", "masters/garbage.wav"),
            ("missing", "masters/nope.wav"),
            ("t2", "masters/t2.wav"),
            ("empty", "masters/empty.flac"),
        ],
    );
    let out = tmp.path().join("out");
    let junit = tmp.path().join("reports/junit.xml");
    let run = batch(&[
        s(&catalog),
        "--out",
        s(&out),
        "--jobs",
        "2",
        "--json",
        "--junit",
        s(&junit),
    ]);
    assert_eq!(run.status.code(), Some(13), "{}", stderr(&run));
    let ev = events(&run);
    assert_eq!(count(&ev, "track-finished"), 2, "{ev:?}");
    assert_eq!(count(&ev, "track-failed"), 3, "{ev:?}");
    assert_eq!(
        ev.first().map(|e| &e["event"]),
        Some(&Value::from("batch-started"))
    );
    assert_eq!(
        ev.last().map(|e| &e["event"]),
        Some(&Value::from("batch-finished"))
    );

    let report = read_json(&out.join("batch-report.json"));
    assert_eq!(report["exit_code"], 13);
    assert_eq!(report["totals"]["tracks"], 5);
    assert_eq!(report["totals"]["done"], 2);
    assert_eq!(report["totals"]["failed"], 3);
    let ids: Vec<_> = report["tracks"]
        .as_array()
        .expect("tracks")
        .iter()
        .map(|t| t["id"].as_str().expect("id"))
        .collect();
    assert_eq!(
        ids,
        ["t1", "garbage", "missing", "t2", "empty"],
        "catalog order"
    );
    for (id, class, code) in [
        ("garbage", "bad-input", 3),
        ("missing", "io", 6),
        ("empty", "bad-input", 3),
    ] {
        let e = entry(&report, id);
        assert_eq!(e["status"], "failed", "{e}");
        assert_eq!(e["class"], class, "{e}");
        assert_eq!(e["exit_code"], code, "{e}");
        let message = e["message"].as_str().expect("message");
        assert!(
            message.contains("masters/"),
            "the message names the file: {message}"
        );
        assert!(!out.join(id).exists(), "{id}: partial output left");
        // The same message `ingest` prints.
        let input = e["input"].as_str().expect("input");
        let ingest = run_ingest_error(input, &tmp.path().join(format!("single-{id}")));
        assert_eq!(ingest, format!("error: {message}"));
    }
    for id in ["t1", "t2"] {
        let e = entry(&report, id);
        assert_eq!(e["status"], "done", "{e}");
        assert_eq!(e["exit_code"], 0);
        let input = tmp.path().join(format!("masters/{id}.wav"));
        assert_eq!(e["input_sha256"], sha256_of(&input));
        assert!(e["audio_seconds"].as_f64().expect("seconds") > 2.9);
        assert!(e["gain_db"].is_number());
        assert!(e["loudness"]["output_integrated_lufs"].is_number());
        assert_complete_package(&out.join(id));
        let package = read_json(&out.join(id).join("report.json"));
        assert_eq!(package["settings_digest"], e["settings_digest"]);
        assert_eq!(package["input"]["sha256"], e["input_sha256"]);
    }
    assert!(report["totals"]["realtime"].as_f64().expect("realtime") > 0.0);
    assert!(report["totals"]["cpu_seconds"].as_f64().expect("cpu") > 0.0);
    assert_no_leftovers(&out);
    // OUT/index.html: every row, with the batch report embedded, linking
    // each done track's QC page.
    let index = std::fs::read_to_string(out.join("index.html")).expect("index.html");
    for id in ["t1", "garbage", "missing", "t2", "empty"] {
        assert!(index.contains(&format!("\"id\": \"{id}\"")), "{id} missing");
    }
    assert!(out.join("t1/report.html").is_file());

    let xml = std::fs::read_to_string(&junit).expect("junit");
    assert!(xml.starts_with("<?xml"));
    assert_eq!(xml.matches("<testcase ").count(), 5, "{xml}");
    assert_eq!(xml.matches("<failure ").count(), 3, "{xml}");
    assert!(xml.contains("<testsuites name=\"audiopack batch\" tests=\"5\" failures=\"3\""));
    assert!(xml.contains("type=\"bad-input\""));
    assert!(xml.contains("name=\"missing\""));

    // -q, stdout not a terminal: no event stream, only the failures (on
    // stderr), the same exit code.
    let quiet = bin()
        .args(["-q", "batch", s(&catalog), "--out", s(&out)])
        .output()
        .expect("running audiopack batch -q");
    assert_eq!(quiet.status.code(), Some(13), "{}", stderr(&quiet));
    assert!(
        quiet.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&quiet.stdout)
    );
    let errors = String::from_utf8_lossy(&quiet.stderr);
    let lines: Vec<&str> = errors.lines().collect();
    assert_eq!(lines.len(), 3, "{errors}");
    for (line, id) in lines.iter().zip(["garbage", "missing", "empty"]) {
        assert!(line.starts_with(&format!("failed {id} (")), "{errors}");
    }
}

/// What `audiopack ingest INPUT --out OUT` prints when it fails.
fn run_ingest_error(input: &str, out: &Path) -> String {
    let run = bin()
        .args(["ingest", input, "--out", s(out)])
        .output()
        .expect("ingest");
    assert!(!run.status.success());
    stderr(&run).trim_end().to_string()
}

#[test]
fn reruns_skip_what_is_done_and_a_changed_setting_re_encodes() {
    let tmp = tempfile::tempdir().expect("tmp");
    masters(tmp.path(), 3, 3);
    let catalog = csv_catalog(
        tmp.path(),
        &[
            ("t1", "masters/t1.wav"),
            ("t2", "masters/t2.wav"),
            ("t3", "masters/t3.wav"),
        ],
    );
    let out = tmp.path().join("out");
    let first = batch(&[s(&catalog), "--out", s(&out), "--json"]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    let report = read_json(&out.join("batch-report.json"));
    assert!(statuses(&report).values().all(|s| s == "done"), "{report}");
    let stamps: Vec<_> = ["t1", "t2", "t3"]
        .iter()
        .map(|id| modified(&out.join(id).join("report.json")))
        .collect();

    // Identical rerun: everything skipped, nothing decoded or rewritten
    // (its speed is in benches/batch.sh, not asserted here).
    let again = batch(&[s(&catalog), "--out", s(&out), "--json"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let ev = events(&again);
    assert_eq!(count(&ev, "track-skipped"), 3, "{ev:?}");
    assert_eq!(count(&ev, "track-started"), 0, "{ev:?}");
    let report = read_json(&out.join("batch-report.json"));
    assert!(
        statuses(&report).values().all(|s| s == "skipped"),
        "{report}"
    );
    assert_eq!(report["totals"]["skipped"], 3);
    assert!(report["totals"]["audio_seconds"].as_f64().expect("audio") > 8.9);
    for (id, stamp) in ["t1", "t2", "t3"].iter().zip(&stamps) {
        assert_eq!(
            modified(&out.join(id).join("report.json")),
            *stamp,
            "{id} rewritten"
        );
    }

    // A changed input is encoded again, the others stay.
    tone(&tmp.path().join("masters"), "t2", 1000, 3);
    let changed = batch(&[s(&catalog), "--out", s(&out), "--json"]);
    assert_eq!(changed.status.code(), Some(0), "{}", stderr(&changed));
    let report = read_json(&out.join("batch-report.json"));
    assert_eq!(entry(&report, "t2")["status"], "done");
    assert_eq!(entry(&report, "t2")["reason"], "input changed");
    assert_eq!(entry(&report, "t1")["status"], "skipped");

    // A changed setting re-encodes every track.
    let quieter = batch(&[
        s(&catalog),
        "--out",
        s(&out),
        "--json",
        "--target-lufs",
        "-20",
    ]);
    assert_eq!(quieter.status.code(), Some(0), "{}", stderr(&quieter));
    let report = read_json(&out.join("batch-report.json"));
    assert!(statuses(&report).values().all(|s| s == "done"), "{report}");
    for id in ["t1", "t2", "t3"] {
        assert_eq!(entry(&report, id)["reason"], "settings changed");
        let package = read_json(&out.join(id).join("report.json"));
        assert_eq!(package["loudness"]["config"]["target_lufs"], -20.0);
        assert_complete_package(&out.join(id));
    }
    assert_no_leftovers(&out);
}

#[test]
fn invalid_catalogs_exit_2_naming_the_line_and_write_nothing() {
    let tmp = tempfile::tempdir().expect("tmp");
    let cases: [(&str, &str, &str); 6] = [
        (
            "id,input\nt1,a.wav\nt2,b.wav\nt1,c.wav\n",
            "catalog.csv",
            "catalog.csv:4: column \"id\": duplicate id \"t1\" (first on line 2)",
        ),
        (
            "id,input\nt1,a.wav\n../x,b.wav\n",
            "catalog.csv",
            "catalog.csv:3: column \"id\": unsafe id \"../x\"",
        ),
        (
            "id,file\nt1,a.wav\n",
            "catalog.csv",
            "catalog.csv:1: column \"input\": missing from the header",
        ),
        (
            "id,input\nt1,a.wav\nt2,\"b.wav\nt3,c.wav\n",
            "catalog.csv",
            "catalog.csv:3: a quote opened here is never closed",
        ),
        (
            "id,input,target_lufs\nt1,a.wav,-14\nt2,b.wav,+5\n",
            "catalog.csv",
            "catalog.csv:3: column \"target_lufs\": invalid target_lufs",
        ),
        (
            "{\"id\": \"t1\", \"input\": \"a.wav\"}\n{\"id\": \"t1/x\", \"input\": \"b.wav\"}\n",
            "catalog.jsonl",
            "catalog.jsonl:2: field \"id\": unsafe id",
        ),
    ];
    for (text, name, expected) in cases {
        let dir = tmp.path().join(format!("case-{}", expected.len()));
        std::fs::create_dir(&dir).expect("mkdir");
        std::fs::write(dir.join(name), text).expect("catalog");
        let out = dir.join("out");
        let run = bin()
            .current_dir(&dir)
            .args(["batch", name, "--out", "out"])
            .output()
            .expect("batch");
        let err = stderr(&run);
        assert_eq!(run.status.code(), Some(2), "{text:?}: {err}");
        assert!(
            err.starts_with(&format!("error: {expected}")),
            "{text:?}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(!out.exists(), "{text:?}: the output was created");
    }
}

#[test]
fn max_failures_stops_starting_tracks() {
    let tmp = tempfile::tempdir().expect("tmp");
    masters(tmp.path(), 1, 2);
    let catalog = csv_catalog(
        tmp.path(),
        &[
            ("bad1", "masters/no1.wav"),
            ("bad2", "masters/no2.wav"),
            ("t1", "masters/t1.wav"),
        ],
    );
    let out = tmp.path().join("out");
    let run = batch(&[
        s(&catalog),
        "--out",
        s(&out),
        "--jobs",
        "1",
        "--max-failures",
        "1",
        "--json",
    ]);
    assert_eq!(run.status.code(), Some(13), "{}", stderr(&run));
    let report = read_json(&out.join("batch-report.json"));
    assert_eq!(report["stopped"], "max-failures");
    let st = statuses(&report);
    assert_eq!(st["bad1"], "failed");
    assert_eq!(st["bad2"], "not-run");
    assert_eq!(st["t1"], "not-run");
    assert!(!out.join("t1").exists());
}

/// Spawns `audiopack batch ARGS --json`, calls `at` with each JSON event
/// line as it comes; `at` returning true kills the batch with `signal`.
/// Returns the exit status and every line read.
fn interrupt(
    args: &[&str],
    signal: &str,
    at: impl Fn(&Value) -> bool,
) -> (Option<i32>, Vec<Value>) {
    let mut child = bin()
        .arg("batch")
        .args(args)
        .arg("--json")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut seen = Vec::new();
    let mut sent = false;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("line");
        let event: Value = serde_json::from_str(&line).expect("JSON event");
        let stop = !sent && at(&event);
        seen.push(event);
        if stop {
            let status = Command::new("kill")
                .args([signal, &child.id().to_string()])
                .status()
                .expect("kill");
            assert!(status.success());
            sent = true;
        }
    }
    let status = child.wait().expect("wait");
    assert!(sent, "the batch ended before the signal: {seen:?}");
    (status.code(), seen)
}

#[test]
fn killed_mid_batch_then_rerun_completes_only_what_was_missing() {
    let tmp = tempfile::tempdir().expect("tmp");
    masters(tmp.path(), 5, 4);
    // t3 is long noise: surely still encoding when the kill comes.
    ffmpeg_generate(
        "anoisesrc=r=48000:a=0.3:d=60:s=5",
        &["-ac", "2", "-c:a", "pcm_s24le"],
        &tmp.path().join("masters/t3.wav"),
    );
    let rows: Vec<(String, String)> = (1..=5)
        .map(|i| (format!("t{i}"), format!("masters/t{i}.wav")))
        .collect();
    let rows: Vec<(&str, &str)> = rows.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    let catalog = csv_catalog(tmp.path(), &rows);
    let out = tmp.path().join("out");
    let args = [s(&catalog), "--out", s(&out), "--jobs", "1"];
    // Killed while the third track encodes, once the report written while
    // the batch runs has the first two.
    let progress_report = out.join("batch-report.json");
    let (code, seen) = interrupt(&args, "-KILL", |e| {
        if !(e["event"] == "track-started" && e["id"] == "t3") {
            return false;
        }
        let deadline = Instant::now() + std::time::Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(bytes) = std::fs::read(&progress_report)
                && let Ok(report) = serde_json::from_slice::<Value>(&bytes)
                && statuses(&report).get("t2").is_some_and(|s| s == "done")
            {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("no in-progress batch report with t1 and t2 done");
    });
    assert_eq!(code, None, "killed by a signal");
    let finished: Vec<String> = seen
        .iter()
        .filter(|e| e["event"] == "track-finished")
        .map(|e| e["id"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(finished, ["t1", "t2"]);
    // What the killed batch left on record: the finished tracks, the rest
    // not finished, and that it was written mid-run.
    let left = read_json(&progress_report);
    assert_eq!(left["stopped"], "in-progress", "{left}");
    let st = statuses(&left);
    assert_eq!(
        (st["t1"].as_str(), st["t2"].as_str()),
        ("done", "done"),
        "{left}"
    );
    for id in ["t3", "t4", "t5"] {
        assert_eq!(st[id], "not-run", "{left}");
    }
    let stamps: Vec<_> = finished
        .iter()
        .map(|id| modified(&out.join(id).join("report.json")))
        .collect();

    let rerun = batch(&[s(&catalog), "--out", s(&out), "--jobs", "1", "--json"]);
    assert_eq!(rerun.status.code(), Some(0), "{}", stderr(&rerun));
    let report = read_json(&out.join("batch-report.json"));
    let st = statuses(&report);
    assert_eq!(st["t1"], "skipped");
    assert_eq!(st["t2"], "skipped");
    for id in ["t3", "t4", "t5"] {
        assert_eq!(st[id], "done", "{report}");
    }
    for (id, stamp) in finished.iter().zip(&stamps) {
        assert_eq!(
            modified(&out.join(id).join("report.json")),
            *stamp,
            "{id} re-encoded"
        );
    }
    for i in 1..=5 {
        assert_complete_package(&out.join(format!("t{i}")));
    }
    assert_no_leftovers(&out);
}

#[test]
fn sigterm_cancels_the_running_track_and_still_writes_the_report() {
    let tmp = tempfile::tempdir().expect("tmp");
    masters(tmp.path(), 3, 3);
    // t2 is long noise: still encoding when the signal comes.
    ffmpeg_generate(
        "anoisesrc=r=48000:a=0.3:d=40:s=7",
        &["-ac", "2", "-c:a", "pcm_s24le"],
        &tmp.path().join("masters/t2.wav"),
    );
    let catalog = csv_catalog(
        tmp.path(),
        &[
            ("t1", "masters/t1.wav"),
            ("t2", "masters/t2.wav"),
            ("t3", "masters/t3.wav"),
        ],
    );
    let out = tmp.path().join("out");
    let args = [s(&catalog), "--out", s(&out), "--jobs", "1"];
    let (code, seen) = interrupt(&args, "-TERM", |e| {
        e["event"] == "track-started" && e["id"] == "t2"
    });
    assert_eq!(code, Some(143), "{seen:?}");
    assert_eq!(count(&seen, "track-failed"), 1, "{seen:?}");
    assert_eq!(
        seen.last().map(|e| &e["event"]),
        Some(&Value::from("batch-finished"))
    );
    let report = read_json(&out.join("batch-report.json"));
    assert_eq!(report["stopped"], "signal");
    assert_eq!(report["exit_code"], 143);
    let st = statuses(&report);
    assert_eq!(st["t1"], "done");
    assert_eq!(st["t2"], "failed");
    assert_eq!(st["t3"], "not-run");
    let t2 = entry(&report, "t2");
    assert_eq!(t2["class"], "cancelled");
    assert_eq!(t2["exit_code"], 143);
    assert!(
        t2["message"]
            .as_str()
            .expect("message")
            .ends_with("cancelled"),
        "{t2}"
    );
    assert!(!out.join("t2").exists(), "a cancelled track left output");
    assert_no_leftovers(&out);
}

#[test]
fn s3_in_and_out_and_a_listing_as_the_catalog() {
    let tmp = tempfile::tempdir().expect("tmp");
    let files = masters(tmp.path(), 2, 3);
    let server = s3_server(tmp.path(), AK, SK, BUCKET);
    let endpoint = server.endpoint();
    s3_upload_file(&server, BUCKET, "masters/a.wav", &files[0]);
    s3_upload_file(&server, BUCKET, "masters/sub/b.wav", &files[1]);
    s3_upload_bytes(&server, BUCKET, "masters/notes.txt", b"not a master");
    let scratch = tmp.path().join("scratch");
    std::fs::create_dir(&scratch).expect("scratch");
    let s3_batch = |args: &[&str]| {
        let mut c = with_keys(s3_isolated(), AK, SK);
        c.env("TMPDIR", &scratch).arg("batch").args(args).args([
            "--endpoint-url",
            &endpoint,
            "--json",
        ]);
        c.output().expect("batch")
    };

    // A catalog with a local and an s3:// input, to an s3:// output.
    let catalog = csv_catalog(
        tmp.path(),
        &[
            ("local", "masters/t1.wav"),
            ("remote", "s3://origin/masters/sub/b.wav"),
        ],
    );
    let run = s3_batch(&[s(&catalog), "--out", "s3://origin/batch/"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let report = read_json(&server.object_path(BUCKET, "batch/batch-report.json"));
    assert!(statuses(&report).values().all(|s| s == "done"), "{report}");
    assert_eq!(
        entry(&report, "remote")["input_sha256"],
        sha256_of(&files[1])
    );
    for id in ["local", "remote"] {
        let package = server.object_path(BUCKET, &format!("batch/{id}"));
        assert_complete_package(&package);
        assert_eq!(
            entry(&report, id)["output"],
            format!("s3://origin/batch/{id}/")
        );
    }

    // The rerun skips both (report.json read back, objects listed).
    let again = s3_batch(&[s(&catalog), "--out", "s3://origin/batch/"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert_eq!(
        count(&events(&again), "track-skipped"),
        2,
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );

    // A missing object under the package: that track is made again.
    std::fs::remove_file(server.object_path(BUCKET, "batch/local/manifest.mpd")).expect("rm");
    let repair = s3_batch(&[s(&catalog), "--out", "s3://origin/batch/"]);
    assert_eq!(repair.status.code(), Some(0), "{}", stderr(&repair));
    let report = read_json(&server.object_path(BUCKET, "batch/batch-report.json"));
    assert_eq!(entry(&report, "local")["status"], "done");
    assert_eq!(entry(&report, "remote")["status"], "skipped");
    assert!(
        server
            .object_path(BUCKET, "batch/local/manifest.mpd")
            .is_file()
    );

    // --from: every audio object under the prefix, id = its stem.
    let out = tmp.path().join("from-out");
    let listed = s3_batch(&["--from", "s3://origin/masters/", "--out", s(&out)]);
    assert_eq!(listed.status.code(), Some(0), "{}", stderr(&listed));
    let report = read_json(&out.join("batch-report.json"));
    assert_eq!(report["catalog"], "s3://origin/masters/");
    let st = statuses(&report);
    assert_eq!(st.keys().collect::<Vec<_>>(), ["a", "b"]);
    assert_complete_package(&out.join("a"));

    // A destination bucket that does not exist: exit 9 before any track.
    let nobucket = s3_batch(&[s(&catalog), "--out", "s3://missing-bucket/x/"]);
    assert_eq!(nobucket.status.code(), Some(9), "{}", stderr(&nobucket));
    assert_eq!(count(&events(&nobucket), "track-started"), 0);
}

#[test]
fn album_gain_matches_ffmpeg_over_the_concatenated_album() {
    let tmp = tempfile::tempdir().expect("tmp");
    let masters = tmp.path().join("masters");
    std::fs::create_dir(&masters).expect("mkdir");
    let make = |name: &str, source: &str, volume: &str| {
        let path = masters.join(format!("{name}.wav"));
        ffmpeg_generate(
            source,
            &[
                "-ac",
                "2",
                "-ar",
                "48000",
                "-c:a",
                "pcm_s16le",
                "-af",
                volume,
            ],
            &path,
        );
        path
    };
    let album = [
        make("a", "sine=f=440:d=4:sample_rate=48000", "volume=0.8"),
        make("b", "sine=f=1000:d=4:sample_rate=48000", "volume=0.1"),
        make("c", "anoisesrc=r=48000:a=0.05:d=4:c=pink:s=3", "volume=1"),
    ];
    make("solo", "sine=f=660:d=3:sample_rate=48000", "volume=0.5");
    let catalog = tmp.path().join("catalog.csv");
    std::fs::write(
        &catalog,
        "id,input,album,track\n\
         a,masters/a.wav,Album One,1\n\
         b,masters/b.wav,Album One,2\n\
         solo,masters/solo.wav,,\n\
         c,masters/c.wav,Album One,3\n",
    )
    .expect("catalog");
    let out = tmp.path().join("out");
    let run = batch(&[s(&catalog), "--out", s(&out), "--album-gain", "--json"]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let ev = events(&run);
    let measured: Vec<_> = ev
        .iter()
        .filter(|e| e["event"] == "album-measured")
        .collect();
    assert_eq!(measured.len(), 1, "{ev:?}");
    assert_eq!(measured[0]["album"], "Album One");
    assert_eq!(measured[0]["tracks"], 3);

    let report = read_json(&out.join("batch-report.json"));
    let album_lufs = entry(&report, "a")["album_integrated_lufs"]
        .as_f64()
        .expect("album loudness");
    let gain = entry(&report, "a")["album_gain_db"]
        .as_f64()
        .expect("album gain");
    assert!(
        (gain - (-14.0 - album_lufs)).abs() < 0.01,
        "gain {gain}, album {album_lufs}"
    );
    // ffmpeg's ebur128 over the album played end to end.
    let joined = tmp.path().join("album.wav");
    let status = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y"])
        .args(
            album
                .iter()
                .flat_map(|p| ["-i".to_string(), s(p).to_string()]),
        )
        .args(["-filter_complex", "concat=n=3:v=0:a=1", "-c:a", "pcm_s16le"])
        .arg(&joined)
        .status()
        .expect("ffmpeg");
    assert!(status.success());
    let oracle = ffmpeg_loudness(&joined, None).integrated;
    assert!(
        (album_lufs - oracle).abs() < 0.3,
        "album loudness {album_lufs} LUFS, ffmpeg over the album {oracle} LUFS"
    );
    for id in ["a", "b", "c"] {
        let e = entry(&report, id);
        assert_eq!(e["album_gain_db"].as_f64(), Some(gain), "{e}");
        assert!(
            (e["gain_db"].as_f64().expect("gain") - gain).abs() < 1e-9,
            "{e}"
        );
        let package = read_json(&out.join(id).join("report.json"));
        assert_eq!(package["loudness"]["album"]["gain_db"].as_f64(), Some(gain));
        assert_eq!(package["loudness"]["album"]["tracks"], 3);
        assert_eq!(package["loudness"]["gain"]["reason"], "album");
        // Each track keeps its own loudness, moved by the album's gain.
        let own = package["loudness"]["planned_on"]["integrated_lufs"]
            .as_f64()
            .expect("track loudness");
        let delivered = package["loudness"]["output"]["integrated_lufs"]
            .as_f64()
            .expect("output loudness");
        assert!(
            (delivered - (own + gain)).abs() < 0.5,
            "{id}: {own} + {gain} vs {delivered}"
        );
        assert_complete_package(&out.join(id));
    }
    let solo = entry(&report, "solo");
    assert!(solo["album_gain_db"].is_null());
    assert!(
        (solo["loudness"]["output_integrated_lufs"]
            .as_f64()
            .expect("lufs")
            + 14.0)
            .abs()
            < 0.5
    );

    // An identical rerun skips the whole album without measuring it (its
    // inputs are hashed, not decoded).
    let again = batch(&[s(&catalog), "--out", s(&out), "--album-gain", "--json"]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let ev = events(&again);
    assert_eq!(count(&ev, "album-measured"), 0, "{ev:?}");
    let report = read_json(&out.join("batch-report.json"));
    assert!(
        statuses(&report).values().all(|s| s == "skipped"),
        "{report}"
    );

    // A track added to the album changes its gain: the album is measured
    // again and every one of its tracks encoded again with the new gain.
    make("d", "sine=f=300:d=4:sample_rate=48000", "volume=0.9");
    let mut text = std::fs::read_to_string(&catalog).expect("catalog");
    text.push_str("d,masters/d.wav,Album One,4\n");
    std::fs::write(&catalog, text).expect("catalog");
    let grown = batch(&[s(&catalog), "--out", s(&out), "--album-gain", "--json"]);
    assert_eq!(grown.status.code(), Some(0), "{}", stderr(&grown));
    let ev = events(&grown);
    let measured: Vec<_> = ev
        .iter()
        .filter(|e| e["event"] == "album-measured")
        .collect();
    assert_eq!(measured.len(), 1, "{ev:?}");
    assert_eq!(measured[0]["tracks"], 4);
    let new_gain = measured[0]["gain_db"].as_f64().expect("gain");
    assert!((new_gain - gain).abs() > 0.1, "{gain} -> {new_gain}");
    let report = read_json(&out.join("batch-report.json"));
    for id in ["a", "b", "c", "d"] {
        assert_eq!(entry(&report, id)["status"], "done", "{report}");
        let package = read_json(&out.join(id).join("report.json"));
        assert_eq!(
            package["loudness"]["album"]["gain_db"].as_f64(),
            Some(new_gain)
        );
    }
    assert_eq!(entry(&report, "solo")["status"], "skipped");
    // Without --album-gain the album's tracks get their own gains again.
    let own = batch(&[s(&catalog), "--out", s(&out), "--json"]);
    assert_eq!(own.status.code(), Some(0), "{}", stderr(&own));
    let report = read_json(&out.join("batch-report.json"));
    assert_eq!(entry(&report, "a")["status"], "done");
    assert_eq!(entry(&report, "solo")["status"], "skipped");
}

#[test]
fn an_album_with_two_loudness_settings_is_an_invalid_catalog() {
    let tmp = tempfile::tempdir().expect("tmp");
    let catalog = tmp.path().join("catalog.csv");
    std::fs::write(
        &catalog,
        "id,input,album,preset\na,a.wav,X,\nb,b.wav,X,quiet\n",
    )
    .expect("catalog");
    let out = tmp.path().join("out");
    let run = batch(&[s(&catalog), "--out", s(&out), "--album-gain"]);
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(2), "{err}");
    assert!(
        err.contains("catalog.csv:3: column \"album\": album \"X\""),
        "{err}"
    );
    assert!(!out.exists());
}

#[test]
fn an_encrypted_catalog_skips_on_rerun_and_re_encodes_for_a_new_key_id() {
    let tmp = tempfile::tempdir().expect("tmp");
    masters(tmp.path(), 2, 3);
    let catalog = csv_catalog(
        tmp.path(),
        &[("t1", "masters/t1.wav"), ("t2", "masters/t2.wav")],
    );
    let keys = tmp.path().join("keys.json");
    let write_keys = |kid: &str| {
        std::fs::write(
            &keys,
            format!(r#"{{"keys":[{{"kid":"{kid}","key":"5f4dcc3b5aa765d61d8327deb882cf99"}}]}}"#),
        )
        .expect("keys")
    };
    write_keys("11112222333344445555666677778888");
    let out = tmp.path().join("out");
    let args = [
        s(&catalog),
        "--out",
        s(&out),
        "--json",
        "--ladder",
        "64",
        "--encrypt",
        "cbcs",
        "--keys",
        s(&keys),
    ];
    let first = batch(&args);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    for id in ["t1", "t2"] {
        let package = read_json(&out.join(id).join("report.json"));
        let protection = &package["protection"];
        assert_eq!(protection["scheme"], "cbcs", "{protection}");
        assert_eq!(
            protection["lossy_kid"],
            "11112222-3333-4444-5555-666677778888"
        );
    }
    // Same keys: skipped. The key bytes are nowhere in the reports.
    let again = batch(&args);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert_eq!(count(&events(&again), "track-skipped"), 2);
    let text = std::fs::read_to_string(out.join("batch-report.json")).expect("report");
    assert!(!text.contains("5f4dcc3b5aa765d61d8327deb882cf99"), "{text}");
    // A new key ID: every track is encrypted again.
    write_keys("99990000aaaabbbbccccddddeeeeffff");
    let rekeyed = batch(&args);
    assert_eq!(rekeyed.status.code(), Some(0), "{}", stderr(&rekeyed));
    let report = read_json(&out.join("batch-report.json"));
    assert!(statuses(&report).values().all(|s| s == "done"), "{report}");
    let package = read_json(&out.join("t1").join("report.json"));
    assert_eq!(
        package["protection"]["lossy_kid"],
        "99990000-aaaa-bbbb-cccc-ddddeeeeffff"
    );
}
