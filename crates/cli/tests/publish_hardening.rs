//! Hardening of `publish` and of `ingest` with storage (issue 9): what the
//! real binary does against an endpoint that never answers, unusable
//! endpoint URLs and prefixes, missing credentials, destinations that are
//! not directories, and `s3://` inputs over the limits. Storage is a real
//! S3-compatible server (s3s-fs, in process on 127.0.0.1).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use audiopack_testkit::{FaultProxy, S3Server, StalledEndpoint, no_faults};
use common::*;

const AK: &str = "AKIDAUDIOPACKHARD";
const SK: &str = "audiopack-hardening-secret";
const BUCKET: &str = "origin";

/// `audiopack` isolated from the machine's AWS setup, with the test
/// server's key pair unless `credentials` is false.
fn s3_bin(credentials: bool) -> Command {
    if credentials {
        with_keys(s3_isolated(), AK, SK)
    } else {
        s3_isolated()
    }
}

fn s3_run(endpoint: &str, args: &[&str]) -> Output {
    run_at(s3_bin(true), endpoint, args)
}

/// Asserts the run failed with `code` and said so on one line; returns it.
fn assert_exit(out: &Output, code: i32) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert_eq!(err.lines().count(), 1, "one line expected: {err:?}");
    assert!(err.starts_with("error: "), "{err}");
    err
}

/// Asserts the run succeeded, showing its stderr if not.
fn assert_ok(out: &Output) {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `audiopack publish PKG --out DEST`.
fn publish_to(pkg: &Path, dest: &Path) -> Output {
    run(&[
        "publish",
        pkg.to_str().expect("utf8"),
        "--out",
        dest.to_str().expect("utf8"),
    ])
}

/// A small package (one Opus rung, no lossless tier).
fn package(dir: &Path) -> PathBuf {
    let out = dir.join("pkg");
    ingest_json(
        &fixture("demo.flac"),
        &out,
        &["--no-lossless", "--ladder", "64"],
    );
    out
}

fn server(dir: &Path) -> S3Server {
    s3_server(dir, AK, SK, BUCKET)
}

/// Runs `args` against `server` through a proxy counting what it serves,
/// expects exit 5 from an input refused before its download (at most
/// 128 KiB served); returns the message.
fn refused_before_download(server: &S3Server, args: &[&str], what: &str) -> String {
    let proxy = FaultProxy::start(server.addr(), no_faults()).expect("proxy");
    let started = Instant::now();
    let out = s3_run(&proxy.endpoint(), args);
    let took = started.elapsed();
    let err = assert_exit(&out, 5);
    let served = proxy.stats().response_bytes;
    eprintln!("{what}: {took:?}, {served} bytes served: {err}");
    assert!(
        served < 128 * 1024,
        "{served} bytes downloaded to refuse it"
    );
    err
}

#[test]
fn a_stalled_endpoint_is_exit_10_within_15_seconds() {
    let tmp = tempfile::tempdir().expect("tmp");
    let pkg = package(tmp.path());
    let stalled = StalledEndpoint::start().expect("stalled endpoint");
    let started = Instant::now();
    let out = s3_run(
        &stalled.endpoint(),
        &[
            "publish",
            pkg.to_str().expect("utf8"),
            "--out",
            "s3://origin/x/",
        ],
    );
    let took = started.elapsed();
    let err = assert_exit(&out, 10);
    eprintln!("stalled endpoint: exit 10 after {took:?}: {err}");
    assert!(took < Duration::from_secs(15), "took {took:?}");
    assert!(
        err.contains("s3://origin") && err.contains("timed out"),
        "{err}"
    );
    assert!(stalled.connections() >= 1, "never connected");

    // ingest to S3 checks the destination before encoding: the same.
    let started = Instant::now();
    let out = s3_run(
        &stalled.endpoint(),
        &[
            "ingest",
            fixture("demo.flac").to_str().expect("utf8"),
            "--out",
            "s3://origin/y/",
        ],
    );
    let took = started.elapsed();
    assert_exit(&out, 10);
    assert!(took < Duration::from_secs(15), "ingest took {took:?}");
}

#[test]
fn endpoint_urls_and_prefixes_that_cannot_work_are_usage_errors() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = server(tmp.path());
    let demo = fixture("demo.flac");
    let demo = demo.to_str().expect("utf8");
    for endpoint in [
        "file:///tmp/bucket",
        "ftp://127.0.0.1:21",
        "http://",
        "127.0.0.1:9000",
    ] {
        let started = Instant::now();
        let out = s3_run(endpoint, &["ingest", demo, "--out", "s3://origin/x/"]);
        let err = assert_exit(&out, 2);
        assert!(err.contains("--endpoint-url"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
    }
    let out = s3_bin(true)
        .env("AWS_ENDPOINT_URL_S3", "file:///tmp/bucket")
        .args(["ingest", demo, "--out", "s3://origin/x/"])
        .output()
        .expect("run");
    let err = assert_exit(&out, 2);
    assert!(err.contains("AWS_ENDPOINT_URL_S3"), "{err}");

    for prefix in [
        "s3://origin/track\nid/",
        "s3://origin/track\r/",
        "s3://origin/a\u{1b}[31m/",
        "s3://origin/./x/",
        "s3://origin/x/../y/",
        "s3://origin/../y/",
        "s3://origin//x/",
        "s3://origin/a//b/",
        "s3://origin/a\\b/",
    ] {
        let out = s3_run(&server.endpoint(), &["ingest", demo, "--out", prefix]);
        assert_exit(&out, 2);
    }
    // As an input object, too.
    let out = s3_run(
        &server.endpoint(),
        &[
            "ingest",
            "s3://origin/up/../x.flac",
            "--out",
            "s3://origin/x/",
        ],
    );
    assert_exit(&out, 2);
    assert!(server.list_keys(BUCKET).is_empty(), "nothing written");
}

#[test]
fn missing_credentials_are_one_line_and_exit_7() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = server(tmp.path());
    let out = run_at(
        s3_bin(false),
        &server.endpoint(),
        &[
            "ingest",
            fixture("demo.flac").to_str().expect("utf8"),
            "--out",
            "s3://origin/x/",
        ],
    );
    let err = assert_exit(&out, 7);
    assert!(
        err.contains("s3://origin") && err.contains("no usable credentials"),
        "{err}"
    );
    assert!(
        !err.contains("Attempted") && !err.contains("ProviderChainError") && !err.contains("\\n"),
        "{err}"
    );
    assert!(err.len() < 400, "{} chars: {err}", err.len());
}

#[test]
fn a_destination_that_is_a_file_is_exit_6() {
    let tmp = tempfile::tempdir().expect("tmp");
    let pkg = package(tmp.path());
    let publish = |dest: &Path| publish_to(&pkg, dest);
    // The package's own report (as in the issue): inside the package.
    let report = pkg.join("report.json");
    let before = std::fs::read(&report).expect("report");
    let err = assert_exit(&publish(&report), 6);
    assert!(err.contains("report.json"), "{err}");
    assert_eq!(std::fs::read(&report).expect("report"), before);
    // Any other file.
    let file = tmp.path().join("notes.txt");
    std::fs::write(&file, "notes").expect("write");
    let err = assert_exit(&publish(&file), 6);
    assert!(
        err.contains("notes.txt") && err.contains("not a directory"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&file).expect("read"), "notes");
}

#[test]
fn an_s3_input_over_the_size_limit_is_exit_5_before_the_download() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = server(tmp.path());
    s3_upload_bytes(&server, BUCKET, "uploads/huge.wav", &vec![0u8; 24 << 20]);
    let out_dir = tmp.path().join("out");
    let err = refused_before_download(
        &server,
        &[
            "ingest",
            "s3://origin/uploads/huge.wav",
            "--out",
            out_dir.to_str().expect("utf8"),
            "--max-input-size",
            "16",
        ],
        "24 MiB object over a 16 MiB limit",
    );
    assert!(
        err.contains("s3://origin/uploads/huge.wav") && err.contains("25165824 bytes"),
        "{err}"
    );
    assert!(!out_dir.exists());
}

/// Copies a directory tree (files and directories only).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// The first `.m4s` segment below `dir`, relative.
fn a_segment(dir: &Path) -> PathBuf {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        if entry.file_type().expect("type").is_dir() {
            for inner in std::fs::read_dir(entry.path()).expect("read dir").flatten() {
                if inner.file_name().to_string_lossy().ends_with(".m4s") {
                    return inner.path();
                }
            }
        }
    }
    panic!("no segment in {}", dir.display());
}

#[test]
fn publish_checks_the_package_before_any_upload() {
    let tmp = tempfile::tempdir().expect("tmp");
    let pkg = package(tmp.path());
    let server = server(tmp.path());
    let proxy = FaultProxy::start(server.addr(), no_faults()).expect("proxy");
    let publish = |dir: &Path, extra: &[&str]| {
        let mut args = vec![
            "publish",
            dir.to_str().expect("utf8"),
            "--out",
            "s3://origin/p/",
        ];
        args.extend_from_slice(extra);
        s3_run(&proxy.endpoint(), &args)
    };
    let variant = |name: &str| {
        let dir = tmp.path().join(name);
        copy_tree(&pkg, &dir);
        dir
    };

    // Not a package at all: `{}` as report, a private key, notes.
    let loot = tmp.path().join("loot");
    std::fs::create_dir_all(&loot).expect("mkdir");
    std::fs::write(loot.join("report.json"), "{}").expect("write");
    std::fs::write(loot.join("id_rsa"), "-----BEGIN OPENSSH PRIVATE KEY-----").expect("write");
    std::fs::write(loot.join("notes.txt"), "notes").expect("write");
    let err = assert_exit(&publish(&loot, &[]), 6);
    assert!(err.contains("not an audiopack package"), "{err}");

    // report.json not JSON.
    let garbage = variant("garbage");
    std::fs::write(garbage.join("report.json"), "not json at all").expect("write");
    let err = assert_exit(&publish(&garbage, &[]), 6);
    assert!(err.contains("not an audiopack package"), "{err}");

    // report.json a link to a real package's report.
    let linked = variant("linked");
    std::fs::remove_file(linked.join("report.json")).expect("rm");
    std::os::unix::fs::symlink(pkg.join("report.json"), linked.join("report.json"))
        .expect("symlink");
    let err = assert_exit(&publish(&linked, &[]), 6);
    assert!(err.contains("symbolic link"), "{err}");

    // A segment that is a link to a file outside.
    let leaky = variant("leaky");
    let segment = a_segment(&leaky);
    let size = std::fs::metadata(&segment).expect("meta").len() as usize;
    let outside = tmp.path().join("secret.bin");
    std::fs::write(&outside, vec![7u8; size]).expect("write");
    std::fs::remove_file(&segment).expect("rm");
    std::os::unix::fs::symlink(&outside, &segment).expect("symlink");
    let err = assert_exit(&publish(&leaky, &[]), 6);
    assert!(err.contains("symbolic link"), "{err}");

    // A segment of another size than the report says.
    let changed = variant("changed");
    let segment = a_segment(&changed);
    let mut bytes = std::fs::read(&segment).expect("read");
    bytes.push(0);
    std::fs::write(&segment, bytes).expect("write");
    let err = assert_exit(&publish(&changed, &[]), 6);
    assert!(err.contains("bytes"), "{err}");

    // A package written before format_version existed.
    let old = variant("old");
    let mut report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(old.join("report.json")).expect("read"))
            .expect("json");
    report
        .as_object_mut()
        .expect("object")
        .remove("format_version");
    std::fs::write(old.join("report.json"), report.to_string()).expect("write");
    let err = assert_exit(&publish(&old, &[]), 6);
    assert!(err.contains("audiopack ingest"), "{err}");

    // Unlisted files: refused, unless asked for.
    let extra = variant("extra");
    std::fs::write(extra.join("notes.txt"), "notes").expect("write");
    let err = assert_exit(&publish(&extra, &[]), 6);
    assert!(
        err.contains("notes.txt") && err.contains("--include-extra"),
        "{err}"
    );

    // An unlisted name that cannot be a key, even when extras are asked for.
    let odd = variant("odd");
    std::fs::write(odd.join("line\nbreak.txt"), "x").expect("write");
    let err = assert_exit(&publish(&odd, &["--include-extra"]), 6);
    assert!(err.contains("object key"), "{err}");

    // None of that reached the storage, not even a preflight.
    let stats = proxy.stats();
    assert_eq!(stats.requests, 0, "{stats:?}");
    assert!(server.list_keys(BUCKET).is_empty());

    assert_ok(&publish(&extra, &["--include-extra"]));
    let keys = server.list_keys(BUCKET);
    assert!(keys.contains(&"p/notes.txt".to_string()), "{keys:?}");
    assert!(keys.contains(&"p/master.m3u8".to_string()), "{keys:?}");
}

#[test]
fn publish_to_a_directory_follows_the_rule_of_ingest_out() {
    let tmp = tempfile::tempdir().expect("tmp");
    let pkg = package(tmp.path());
    let publish = |dest: &Path| publish_to(&pkg, dest);

    // A directory holding something else.
    let foreign = tmp.path().join("foreign");
    std::fs::create_dir_all(&foreign).expect("mkdir");
    std::fs::write(foreign.join("master.m3u8"), "mine").expect("write");
    let err = assert_exit(&publish(&foreign), 6);
    assert!(err.contains("refusing"), "{err}");
    assert_eq!(
        std::fs::read_to_string(foreign.join("master.m3u8")).expect("read"),
        "mine"
    );
    assert_eq!(std::fs::read_dir(&foreign).expect("ls").count(), 1);

    // A link to a directory.
    let elsewhere = tmp.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).expect("mkdir");
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&elsewhere, &link).expect("symlink");
    let err = assert_exit(&publish(&link), 6);
    assert!(err.contains("symbolic link"), "{err}");
    assert_eq!(std::fs::read_dir(&elsewhere).expect("ls").count(), 0);

    // An earlier package whose rendition directory is a link elsewhere.
    let trapped = tmp.path().join("trapped");
    copy_tree(&pkg, &trapped);
    let segment = a_segment(&trapped);
    let rendition = segment.parent().expect("rendition").to_path_buf();
    let victim = tmp.path().join("victim");
    std::fs::rename(&rendition, &victim).expect("move");
    std::os::unix::fs::symlink(&victim, &rendition).expect("symlink");
    let before = names_and_mtimes(&victim);
    let err = assert_exit(&publish(&trapped), 6);
    assert!(err.contains("symbolic link"), "{err}");
    let after = names_and_mtimes(&victim);
    assert_eq!(before, after, "written through the link");

    // Inside the package itself.
    let err = assert_exit(&publish(&pkg.join("copy")), 6);
    assert!(err.contains("overlaps"), "{err}");
    assert!(!pkg.join("copy").exists());

    // Absent, then an earlier package (a rerun): both fine.
    let fresh = tmp.path().join("fresh");
    for _ in 0..2 {
        assert_ok(&publish(&fresh));
    }
    assert!(fresh.join("master.m3u8").is_file());

    // Another package over it: what the earlier one had and this one has
    // not is removed once it is complete, so the destination stays a
    // package with nothing else (and takes a third publish).
    let other = tmp.path().join("other");
    ingest_json(
        &fixture("demo.flac"),
        &other,
        &["--no-lossless", "--ladder", "96"],
    );
    for source in [&other, &other, &pkg] {
        assert_ok(&publish_to(source, &fresh));
        let mut published = files_below(&fresh);
        let mut expected = files_below(source);
        published.retain(|f| f != "report.json");
        expected.retain(|f| f != "report.json");
        assert_eq!(published, expected, "after publishing {}", source.display());
    }
}

/// The names in `dir` with their modification times.
fn names_and_mtimes(dir: &Path) -> Vec<(std::ffi::OsString, std::time::SystemTime)> {
    std::fs::read_dir(dir)
        .expect("ls")
        .flatten()
        .map(|e| {
            (
                e.file_name(),
                e.metadata().expect("meta").modified().expect("mtime"),
            )
        })
        .collect()
}

/// Every file and directory below `dir`, relative, sorted.
fn files_below(dir: &Path) -> Vec<String> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
            let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
            if entry.file_type().expect("type").is_dir() {
                out.push(format!("{name}/"));
                walk(&entry.path(), &format!("{name}/"), out);
            } else {
                out.push(name);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, "", &mut out);
    out.sort();
    out
}

/// A WAV header declaring 8 kHz 16-bit mono and `data_bytes` of samples,
/// followed by `actual` bytes of silence.
fn wav(data_bytes: u32, actual: usize) -> Vec<u8> {
    let mut w = Vec::with_capacity(44 + actual);
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&data_bytes.saturating_add(36).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&8000u32.to_le_bytes());
    w.extend_from_slice(&16000u32.to_le_bytes());
    w.extend_from_slice(&2u16.to_le_bytes());
    w.extend_from_slice(&16u16.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&data_bytes.to_le_bytes());
    w.resize(44 + actual, 0);
    w
}

#[test]
fn an_s3_input_whose_header_is_over_the_limits_is_exit_5_before_the_download() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = server(tmp.path());
    // 4 GB of 8 kHz 16-bit mono declared (74 h); the object is 48 MiB.
    s3_upload_bytes(
        &server,
        BUCKET,
        "uploads/long.wav",
        &wav(0xFFFF_0000, 48 << 20),
    );
    let err = refused_before_download(
        &server,
        &[
            "ingest",
            "s3://origin/uploads/long.wav",
            "--out",
            "s3://origin/long/",
        ],
        "over-limit header on a 48 MiB object",
    );
    assert!(err.contains("s3://origin/uploads/long.wav"), "{err}");
    assert!(
        server.list_keys(BUCKET) == ["uploads/long.wav"],
        "nothing published"
    );
}
