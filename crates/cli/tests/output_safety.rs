//! `ingest --out DIR` never destroys what is not its own: a foreign
//! directory (even one holding a `report.json`), a package with a user's
//! file added, a directory holding the input, a mount point. Concurrent
//! runs to one destination both succeed; signals cancel and clean up;
//! working directories of dead runs are swept whatever their name.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// Every file below `dir` with its bytes, to prove nothing was touched.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
            let path = entry.path();
            let rel = path
                .strip_prefix(root)
                .expect("below")
                .to_string_lossy()
                .into_owned();
            if path.is_dir() {
                out.insert(format!("{rel}/"), Vec::new());
                walk(root, &path, out);
            } else {
                out.insert(rel, std::fs::read(&path).expect("read"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// Names in `dir` that look like audiopack working files.
fn working_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read_dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".audiopack"))
        .collect();
    names.sort();
    names
}

fn ingest(input: &Path, out: &Path, extra: &[&str]) -> Output {
    bin()
        .arg("ingest")
        .arg(input)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .expect("running audiopack")
}

fn assert_refused(out: &Output, dest: &Path, why: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "exit code; stderr: {stderr}");
    assert!(
        stderr.contains(&dest.display().to_string()) && stderr.contains(why),
        "the message names {} and says {why:?}: {stderr}",
        dest.display()
    );
}

const SMALL: &str = "mono_u8_8000.wav";
const FAST: &[&str] = &["--no-lossless", "--ladder", "32"];

#[test]
fn a_directory_with_a_report_json_of_its_own_is_never_replaced() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dest = tmp.path().join("masters");
    std::fs::create_dir(&dest).expect("mkdir");
    std::fs::write(dest.join("report.json"), b"{}").expect("write");
    std::fs::write(dest.join("notes.txt"), b"my notes").expect("write");
    std::fs::copy(fixture(SMALL), dest.join("master.wav")).expect("copy");
    let before = snapshot(&dest);

    // A report.json that is not ours, with the master beside it.
    let out = ingest(&fixture(SMALL), &dest, FAST);
    assert_refused(&out, &dest, "not an audiopack package");
    assert_eq!(snapshot(&dest), before, "nothing touched");
    assert_eq!(working_files(tmp.path()), Vec::<String>::new());

    // The master inside the destination, encoded into it.
    let out = ingest(&dest.join("master.wav"), &dest, FAST);
    assert_eq!(out.status.code(), Some(6));
    assert_eq!(snapshot(&dest), before, "nothing touched");

    // A report that names audiopack but lists none of these files.
    std::fs::write(
        dest.join("report.json"),
        br#"{"tool": {"name": "audiopack"}, "format_version": 1, "files": []}"#,
    )
    .expect("write");
    let before = snapshot(&dest);
    let out = ingest(&fixture(SMALL), &dest, FAST);
    assert_refused(&out, &dest, "does not list");
    assert_eq!(snapshot(&dest), before, "nothing touched");
}

#[test]
fn an_earlier_package_is_replaced_only_when_it_holds_nothing_else() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dest = tmp.path().join("pkg");
    let first = ingest(&fixture(SMALL), &dest, FAST);
    assert!(first.status.success(), "{first:?}");
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dest.join("report.json")).expect("report"))
            .expect("json");
    assert_eq!(report["format_version"], 1);
    assert_eq!(
        report["input"]["path"], SMALL,
        "the report names the file, not where it sits"
    );
    // The report lists every file there, with its size.
    let listed: BTreeMap<String, u64> = report["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| {
            (
                f["path"].as_str().expect("path").to_string(),
                f["bytes"].as_u64().expect("bytes"),
            )
        })
        .collect();
    let present: BTreeMap<String, u64> = snapshot(&dest)
        .into_iter()
        .filter(|(k, _)| !k.ends_with('/') && k != "report.json")
        .map(|(k, v)| (k, v.len() as u64))
        .collect();
    assert_eq!(listed, present);

    // An identical package is replaced (exit 0).
    let again = ingest(&fixture(SMALL), &dest, FAST);
    assert!(again.status.success(), "{again:?}");

    // A user's file added to it: refused, nothing touched.
    std::fs::copy(fixture("demo.flac"), dest.join("master.flac")).expect("copy");
    let before = snapshot(&dest);
    let out = ingest(&fixture(SMALL), &dest, FAST);
    assert_refused(&out, &dest, "master.flac");
    assert_eq!(snapshot(&dest), before);
    std::fs::remove_file(dest.join("master.flac")).expect("rm");

    // A listed file whose size changed (edited by someone): refused.
    let playlist = dest.join("opus_32k.m3u8");
    let mut text = std::fs::read(&playlist).expect("playlist");
    text.extend_from_slice(b"# edited\n");
    std::fs::write(&playlist, &text).expect("write");
    let before = snapshot(&dest);
    let out = ingest(&fixture(SMALL), &dest, FAST);
    assert_refused(&out, &dest, "opus_32k.m3u8");
    assert_eq!(snapshot(&dest), before);

    // A symbolic link inside: refused (never followed).
    std::fs::write(&playlist, &text[..text.len() - 9]).expect("restore");
    std::os::unix::fs::symlink(fixture(SMALL), dest.join("link.wav")).expect("symlink");
    let out = ingest(&fixture(SMALL), &dest, FAST);
    assert_refused(&out, &dest, "symbolic link");
    assert!(fixture(SMALL).is_file());
    std::fs::remove_file(dest.join("link.wav")).expect("rm");

    // The input inside the package (a listed file): refused before decoding.
    let ogg = ingest(
        &fixture(SMALL),
        &dest,
        &["--formats", "ogg", "--ladder", "32"],
    );
    assert!(ogg.status.success(), "{ogg:?}");
    let before = snapshot(&dest);
    let out = ingest(&dest.join("opus_32k.opus"), &dest, FAST);
    assert_refused(&out, &dest, "is inside it");
    assert_eq!(snapshot(&dest), before);
    assert_eq!(working_files(tmp.path()), Vec::<String>::new());
}

#[test]
fn concurrent_runs_to_one_destination_both_succeed() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dest = tmp.path().join("same");
    // A stale set-aside directory of an older audiopack blocked every run.
    let stale = tmp.path().join(".same.old");
    std::fs::create_dir_all(stale.join("x")).expect("stale");
    for round in 0..4 {
        let spawn = || {
            bin()
                .arg("ingest")
                .arg(fixture(SMALL))
                .arg("--out")
                .arg(&dest)
                .args(FAST)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn")
        };
        let (a, b) = (spawn(), spawn());
        for child in [a, b] {
            let out = child.wait_with_output().expect("wait");
            assert!(
                out.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        assert!(dest.join("master.m3u8").is_file());
    }
    assert_eq!(
        working_files(tmp.path()),
        Vec::<String>::new(),
        "no staging, set-aside or lock files left"
    );
    assert!(stale.join("x").is_dir(), "not ours: left alone");
}

/// Waits until `ready` holds, sends `signal` (a little later, so the run
/// is well into that phase), and waits at most 30 s for the exit.
fn signal_when(mut child: Child, ready: impl Fn() -> bool, signal: &str) -> Output {
    let started = Instant::now();
    while !ready() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the run never got ready for SIG{signal}"
        );
        assert!(child.try_wait().expect("wait").is_none(), "ended early");
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_millis(200));
    let sent = Command::new("kill")
        .args(["-s", signal, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("SIG{signal} did not stop the run within 30 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().expect("output")
}

/// An ingest of a long input, stopped by `signal` once its staging
/// directory exists: its exit code and stderr.
fn stop_with(signal: &str, master: &Path, work: &Path, scratch: &Path) -> (Option<i32>, String) {
    let dest = work.join("out");
    let child = bin()
        .env("TMPDIR", scratch)
        .arg("ingest")
        .arg(master)
        .arg("--out")
        .arg(&dest)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let out = signal_when(child, || !working_files(work).is_empty(), signal);
    assert!(!dest.exists(), "nothing in place after SIG{signal}");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn signals_cancel_the_job_and_leave_nothing() {
    let tmp = tempfile::tempdir().expect("tmp");
    let master = noise_master(tmp.path(), 120, 96_000);
    let work = tmp.path().join("work");
    let scratch = tmp.path().join("scratch");
    std::fs::create_dir_all(&work).expect("mkdir");
    std::fs::create_dir_all(&scratch).expect("mkdir");
    for (signal, code) in [("INT", 130), ("TERM", 143), ("HUP", 129)] {
        let (status, stderr) = stop_with(signal, &master, &work, &scratch);
        assert_eq!(status, Some(code), "SIG{signal}: {stderr}");
        assert!(stderr.contains("cancelled"), "SIG{signal}: {stderr}");
        assert_eq!(
            working_files(&work),
            Vec::<String>::new(),
            "SIG{signal}: no staging or lock left"
        );
        assert_eq!(
            std::fs::read_dir(&scratch).expect("scratch").count(),
            0,
            "SIG{signal}: nothing left in TMPDIR"
        );
    }
}

#[test]
fn dead_runs_beside_other_destinations_are_swept() {
    let tmp = tempfile::tempdir().expect("tmp");
    // What a run for another --out left when it was killed: its staging
    // directory and an unlocked lock file.
    let dead = tmp.path().join(".other.audiopack-AbC123");
    std::fs::create_dir_all(dead.join("opus_64k")).expect("mkdir");
    std::fs::write(dead.join("opus_64k/1.m4s"), vec![0u8; 4096]).expect("write");
    std::fs::write(tmp.path().join(".other.audiopack-AbC123.lock"), b"").expect("lock");
    // A user's own dot-directory without a lock file is not ours.
    std::fs::create_dir(tmp.path().join(".mine.audiopack-keep")).expect("mkdir");
    let out = ingest(&fixture(SMALL), &tmp.path().join("song"), FAST);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        working_files(tmp.path()),
        vec![".mine.audiopack-keep".to_string()]
    );
}

#[test]
fn a_destination_name_of_250_characters_works() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dest = tmp.path().join("n".repeat(250));
    let out = ingest(&fixture(SMALL), &dest, FAST);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dest.join("master.m3u8").is_file());
    assert_eq!(working_files(tmp.path()), Vec::<String>::new());
}

/// Unmounts on drop, so a failing assertion does not leave a mount.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_mount_point_is_refused_before_encoding() {
    // CI runs as root, which may mount; a tmpfs (another device) and a bind
    // mount of a directory on the same filesystem (same device number).
    let tmp = tempfile::tempdir().expect("tmp");
    let tmpfs = tmp.path().join("volume");
    let bound = tmp.path().join("bound");
    let source = tmp.path().join("source");
    for d in [&tmpfs, &bound, &source] {
        std::fs::create_dir(d).expect("mkdir");
    }
    let mount = |args: &[&str], point: &Path| {
        let status = Command::new("mount")
            .args(args)
            .arg(point)
            .status()
            .expect("mount");
        assert!(status.success(), "mount {args:?} (the tests run as root)");
        Mounted(point.to_path_buf())
    };
    let _a = mount(&["-t", "tmpfs", "none"], &tmpfs);
    let _b = mount(&["--bind", source.to_str().expect("utf8")], &bound);
    for point in [&tmpfs, &bound] {
        let started = Instant::now();
        let out = ingest(&fixture("demo.flac"), point, &[]);
        assert_refused(&out, point, "mount point");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "refused before the encode"
        );
        assert_eq!(std::fs::read_dir(point).expect("ls").count(), 0);
        // Below it works.
        let below = point.join("song");
        let out = ingest(&fixture(SMALL), &below, FAST);
        assert!(out.status.success(), "{out:?}");
        assert!(below.join("master.m3u8").is_file());
    }
}

#[test]
fn control_characters_in_names_are_escaped_in_human_output() {
    let tmp = tempfile::tempdir().expect("tmp");
    let name = "evil\nerror: forged\u{1b}[31m.wav";
    let input = tmp.path().join(name);
    std::fs::copy(fixture(SMALL), &input).expect("copy");
    let out = ingest(&input, &tmp.path().join("out"), FAST);
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains('\u{1b}'), "raw ESC printed: {stdout:?}");
    assert!(
        !stdout.lines().any(|l| l.starts_with("error: forged")),
        "a forged line: {stdout:?}"
    );
    assert!(
        stdout.contains("evil\\nerror: forged\\u{1b}[31m.wav"),
        "{stdout:?}"
    );

    // And in an error message (the input is not audio).
    std::fs::write(&input, b"not audio at all, just text").expect("write");
    let out = ingest(&input, &tmp.path().join("out2"), FAST);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr:?}");
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
}

mod s3 {
    //! The same for `s3://` in and out: the downloaded input and the
    //! spool go, no manifest is published.

    use std::sync::Arc;

    use audiopack_testkit::{Fault, FaultProxy, RequestInfo};

    use super::*;

    const AK: &str = "AKIDAUDIOPACKTEST";
    const SK: &str = "audiopack-test-secret-key";

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .expect("read_dir")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_signal_mid_download_or_mid_upload_leaves_nothing() {
        let tmp = tempfile::tempdir().expect("tmp");
        let server = s3_server(tmp.path(), AK, SK, "origin");
        let master = noise_master(tmp.path(), 60, 96_000);
        s3_upload_file(&server, "origin", "uploads/noise.wav", &master);
        // Every request a little slow, so both phases last long enough.
        let proxy = FaultProxy::start(
            server.addr(),
            Arc::new(|_: &RequestInfo| Some(Fault::Delay(Duration::from_millis(30)))),
        )
        .expect("proxy");
        let scratch = tmp.path().join("scratch");
        std::fs::create_dir(&scratch).expect("mkdir");

        for (signal, code, phase) in [
            ("INT", 130, "audiopack-input-"),
            ("TERM", 143, "audiopack-spool-"),
        ] {
            let child = s3_ingest(
                with_keys(s3_isolated(), AK, SK),
                &scratch,
                "s3://origin/uploads/noise.wav",
                "s3://origin/sig/",
                &proxy.endpoint(),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
            let out = signal_when(
                child,
                || entries(&scratch).iter().any(|n| n.starts_with(phase)),
                signal,
            );
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(
                out.status.code(),
                Some(code),
                "SIG{signal} in {phase}: {stderr}"
            );
            assert_eq!(entries(&scratch), Vec::<String>::new(), "TMPDIR emptied");
            let published = server.list_keys("origin");
            assert!(
                !published
                    .iter()
                    .any(|k| k.ends_with(".m3u8") || k.ends_with(".mpd")),
                "no manifest published: {published:?}"
            );
        }
    }
}
