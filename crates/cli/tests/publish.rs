//! Publishing to a real S3-compatible server (s3s-fs, in-process on
//! 127.0.0.1) through the real binary, with a fault-injecting proxy in
//! between where the test needs failures. Objects are checked as files in
//! the server's directory and by HEAD with aws-sdk-s3.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use audiopack_testkit::{Fault, FaultProxy, Grant, RequestInfo, S3Server, S3User};
use common::*;

const AK: &str = "AKIDAUDIOPACKTEST";
const SK: &str = "audiopack-test-secret-key";
const BUCKET: &str = "origin";

/// `audiopack` with credentials for the test server and nothing from the
/// machine's AWS setup.
fn s3_bin(secret: &str) -> Command {
    s3_bin_as(AK, secret)
}

/// [`s3_bin`] signing with another key pair.
fn s3_bin_as(access_key: &str, secret: &str) -> Command {
    with_keys(s3_isolated(), access_key, secret)
}

fn s3_run(endpoint: &str, args: &[&str]) -> Output {
    run_at(s3_bin(SK), endpoint, args)
}

fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({:?}): {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Asserts the run failed with `code`; returns its stderr.
fn assert_exit(out: &Output, code: i32) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{err}");
    err
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

/// A packaged demo (segments layout, lossless tier) made once per test.
fn package(dir: &Path, extra: &[&str]) -> PathBuf {
    let out = dir.join("pkg");
    ingest_json(&fixture("demo.flac"), &out, extra);
    out
}

/// Every file below `dir` (relative, `/`-separated) with its bytes.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(dir: &Path, prefix: &str, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = format!("{prefix}{name}");
            if entry.path().is_dir() {
                walk(&entry.path(), &format!("{rel}/"), out);
            } else {
                out.insert(rel, std::fs::read(entry.path()).expect("read"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, "", &mut out);
    out
}

/// What the server holds under `prefix`, as files.
fn remote_tree(server: &S3Server, prefix: &str) -> BTreeMap<String, Vec<u8>> {
    let dir = server.object_path(BUCKET, prefix);
    if dir.is_dir() {
        tree(&dir)
    } else {
        BTreeMap::new()
    }
}

/// The published tree equals the package, byte for byte (report.json
/// aside: the published one carries the publish section).
fn assert_published_whole(server: &S3Server, prefix: &str, pkg: &Path) {
    let mut local = tree(pkg);
    let mut remote = remote_tree(server, prefix);
    let local_report = local.remove("report.json").expect("local report");
    let remote_report = remote.remove("report.json").expect("report.json published");
    assert_eq!(
        local.keys().collect::<Vec<_>>(),
        remote.keys().collect::<Vec<_>>(),
        "published keys differ from the package"
    );
    for (k, v) in &local {
        assert!(remote[k] == *v, "{k}: published bytes differ");
    }
    let local_report: serde_json::Value = serde_json::from_slice(&local_report).expect("json");
    let remote_report: serde_json::Value = serde_json::from_slice(&remote_report).expect("json");
    assert_eq!(local_report["package"], remote_report["package"]);
    assert!(remote_report["publish"]["objects"].is_array());
}

/// Records every request the proxy sees, faults chosen by `faults`.
fn recording(
    log: &Arc<Mutex<Vec<(String, String)>>>,
    faults: impl Fn(&RequestInfo) -> Option<Fault> + Send + Sync + 'static,
) -> audiopack_testkit::FaultPlan {
    let log = Arc::clone(log);
    Arc::new(move |r: &RequestInfo| {
        log.lock()
            .expect("log")
            .push((r.method.clone(), r.path.clone()));
        faults(r)
    })
}

fn puts(log: &Arc<Mutex<Vec<(String, String)>>>) -> Vec<String> {
    log.lock()
        .expect("log")
        .iter()
        .filter(|(m, _)| m == "PUT")
        .map(|(_, p)| p.clone())
        .collect()
}

#[test]
fn ingest_to_s3_publishes_every_object_in_manifest_safe_order() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = s3_server(tmp.path(), AK, SK, BUCKET);
    let log = Arc::new(Mutex::new(Vec::new()));
    let proxy = FaultProxy::start(server.addr(), recording(&log, |_| None)).expect("proxy");
    let dest = format!("s3://{BUCKET}/catalog/track-1/");
    let out = s3_run(
        &proxy.endpoint(),
        &[
            "ingest",
            fixture("demo.flac").to_str().expect("utf8"),
            "--out",
            &dest,
            "--json",
        ],
    );
    assert_ok(&out, "ingest to s3");
    let report = json(&out);
    let publish = &report["publish"];

    // The same job into a local directory gives the same bytes.
    let pkg = package(tmp.path(), &[]);
    assert_published_whole(&server, "catalog/track-1", &pkg);
    let files = tree(&pkg).len() as u64;
    assert_eq!(publish["objects_written"].as_u64(), Some(files - 1));
    assert_eq!(publish["objects_skipped"].as_u64(), Some(0));
    // Segments went up while the encode ran, not after it. (Not all of
    // them: under load the last ones can still be on the wire when the
    // encode ends; an upload that waited for the encode would show none.)
    let segments = tree(&pkg).keys().filter(|k| k.ends_with(".m4s")).count() as u64;
    assert!(
        publish["objects_during_encode"].as_u64().unwrap_or(0) * 2 >= segments,
        "{publish}"
    );

    // Order of the PUTs: media, then media playlists, then entry points,
    // then the report.
    let order: Vec<u8> = puts(&log)
        .iter()
        .filter(|p| !p.contains(".audiopack-preflight"))
        .map(|p| {
            let name = p.rsplit('/').next().unwrap_or("");
            if name == "report.json" {
                3
            } else if [
                "master.m3u8",
                "lossless.m3u8",
                "manifest.mpd",
                "qc.json",
                "report.html",
            ]
            .contains(&name)
            {
                // Entry points, and the QC data and page (short cache).
                2
            } else if name.ends_with(".m3u8") {
                1
            } else {
                0
            }
        })
        .collect();
    assert_eq!(order.len() as u64, files, "one PUT per object");
    assert!(
        order.windows(2).all(|w| w[0] <= w[1]),
        "publish order: {order:?}"
    );

    // Headers, checked by HEAD through the S3 API.
    let heads = head_all(
        &server.endpoint(),
        &[
            "catalog/track-1/master.m3u8",
            "catalog/track-1/manifest.mpd",
            "catalog/track-1/opus_64k/init.mp4",
            "catalog/track-1/opus_64k/1.m4s",
            "catalog/track-1/report.json",
        ],
    );
    let expect = [
        ("application/vnd.apple.mpegurl", "public, max-age=60"),
        ("application/dash+xml", "public, max-age=60"),
        ("audio/mp4", "public, max-age=31536000, immutable"),
        ("audio/mp4", "public, max-age=31536000, immutable"),
        ("application/json", "public, max-age=60"),
    ];
    for ((key, head), (ctype, cache)) in heads.iter().zip(expect) {
        assert_eq!(head.0.as_deref(), Some(ctype), "{key} Content-Type");
        assert_eq!(head.1.as_deref(), Some(cache), "{key} Cache-Control");
        let body = std::fs::read(server.object_path(BUCKET, key)).expect("object");
        assert_eq!(
            head.2.as_deref(),
            Some(sha256_hex(&body).as_str()),
            "{key} sha256 metadata"
        );
    }

    // An identical rerun writes nothing, and says so.
    log.lock().expect("log").clear();
    let again = s3_run(
        &proxy.endpoint(),
        &[
            "ingest",
            fixture("demo.flac").to_str().expect("utf8"),
            "--out",
            &dest,
        ],
    );
    assert_ok(&again, "identical rerun");
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(text.contains("nothing to write"), "{text}");
    let written: Vec<_> = puts(&log)
        .into_iter()
        .filter(|p| !p.contains(".audiopack-preflight"))
        .collect();
    assert!(written.is_empty(), "an identical rerun wrote {written:?}");
}

/// Content-Type, Cache-Control and x-amz-meta-sha256 of an object.
type Head = (Option<String>, Option<String>, Option<String>);

/// [`Head`] of each key.
fn head_all(endpoint: &str, keys: &[&str]) -> Vec<(String, Head)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(endpoint)
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                AK, SK, None, None, "test",
            ))
            .load()
            .await;
        let client = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk)
                .force_path_style(true)
                .build(),
        );
        let mut out = Vec::new();
        for key in keys {
            let h = client
                .head_object()
                .bucket(BUCKET)
                .key(*key)
                .send()
                .await
                .unwrap_or_else(|e| panic!("HEAD {key}: {e:?}"));
            out.push((
                key.to_string(),
                (
                    h.content_type,
                    h.cache_control,
                    h.metadata.and_then(|m| m.get("sha256").cloned()),
                ),
            ));
        }
        out
    })
}

fn sha256_hex(bytes: &[u8]) -> String {
    audiopack::sha256_hex(bytes)
}

#[test]
fn publish_survives_slowdowns_dropped_connections_and_delays() {
    let tmp = tempfile::tempdir().expect("tmp");
    // Single-file layout with a big lossless tier: multipart uploads too.
    let master = noise_master(tmp.path(), 40, 48_000);
    let pkg = tmp.path().join("pkg");
    ingest_json(
        &master,
        &pkg,
        &["--layout", "single-file", "--formats", "hls,dash,ogg"],
    );
    let flac_len = std::fs::metadata(pkg.join("flac.mp4"))
        .expect("flac.mp4")
        .len();
    assert!(
        flac_len > 10 << 20,
        "the lossless file ({flac_len} B) must need 3 parts"
    );

    let server = s3_server(tmp.path(), AK, SK, BUCKET);
    // Every write fails twice before it lands: SlowDown, then a dropped
    // connection (before the server saw it for some keys, after it applied
    // the write for the others); every read waits a little.
    let proxy = FaultProxy::start(
        server.addr(),
        Arc::new(|r: &RequestInfo| {
            let after = r.path.len().is_multiple_of(2);
            match (r.method.as_str(), r.attempt) {
                ("PUT" | "POST", 1) => Some(Fault::SlowDown),
                ("PUT" | "POST", 2) if after => Some(Fault::DropAfterForward),
                ("PUT" | "POST", 2) => Some(Fault::DropBeforeForward),
                ("PUT" | "POST", 3) => Some(Fault::InternalError),
                ("HEAD", 1) => Some(Fault::Delay(Duration::from_millis(150))),
                _ => None,
            }
        }),
    )
    .expect("proxy");
    let out = s3_run(
        &proxy.endpoint(),
        &[
            "publish",
            pkg.to_str().expect("utf8"),
            "--out",
            &format!("s3://{BUCKET}/faulty"),
            "--part-size",
            "5",
            "--multipart-threshold",
            "5",
            "--json",
        ],
    );
    assert_ok(&out, "publish through faults");
    let report = json(&out);
    assert_published_whole(&server, "faulty", &pkg);
    let stats = proxy.stats();
    assert!(
        stats.slow_down > 0 && stats.drop_after_forward > 0 && stats.drop_before_forward > 0,
        "{stats:?}"
    );
    assert!(
        report["retries"].as_u64().unwrap_or(0)
            >= 3 * report["objects_written"].as_u64().unwrap_or(0)
    );
    assert_eq!(
        server
            .list_keys(BUCKET)
            .iter()
            .filter(|k| k.contains("preflight"))
            .count(),
        0,
        "the preflight probe leaves no object"
    );
}

/// Every manifest present on the server references only objects that are
/// there: a media playlist's segments, and (for the entry points, which go
/// last) every media object of the package.
fn assert_no_dangling_reference(server: &S3Server, prefix: &str, pkg_media: &[String]) {
    let remote = server.object_path(BUCKET, prefix);
    let exists = |rel: &str| remote.join(rel).is_file();
    for top in ["master.m3u8", "lossless.m3u8", "manifest.mpd"] {
        if exists(top) {
            for m in pkg_media {
                assert!(exists(m), "{top} is published but {m} is missing");
            }
        }
    }
    let Ok(entries) = std::fs::read_dir(&remote) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".m3u8") {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(entry.path()) else {
            continue;
        };
        for line in text.lines() {
            let uri = if let Some(rest) = line.split("URI=\"").nth(1) {
                rest.split('"').next().unwrap_or("")
            } else if line.starts_with('#') || line.is_empty() {
                continue;
            } else {
                line
            };
            assert!(
                exists(uri),
                "{name} references {uri}, which is not published"
            );
        }
    }
}

/// The test server (with the bucket) over `dir/s3`, and a proxy in front
/// holding every request `ms` milliseconds: a distant origin.
fn distant_server(dir: &Path, ms: u64) -> (S3Server, FaultProxy) {
    let server = s3_server(dir, AK, SK, BUCKET);
    let delay = Duration::from_millis(ms);
    let proxy = FaultProxy::start(
        server.addr(),
        Arc::new(move |_: &RequestInfo| Some(Fault::Delay(delay))),
    )
    .expect("proxy");
    (server, proxy)
}

#[test]
fn kill_9_mid_publish_then_rerun_converges() {
    let tmp = tempfile::tempdir().expect("tmp");
    let pkg = package(tmp.path(), &["--segment-duration", "2"]);
    let mut media: Vec<String> = tree(&pkg)
        .into_keys()
        .filter(|k| k.ends_with(".m4s") || k.ends_with(".mp4"))
        .collect();
    media.sort();
    // Slow every request so the kill lands mid-publish.
    let (server, proxy) = distant_server(tmp.path(), 40);
    let dest = format!("s3://{BUCKET}/killed");
    let mut killed_running = 0;
    for kill_after in [media.len() / 3, media.len() + 2] {
        let mut publish = s3_bin(SK);
        publish
            .args([
                "publish",
                pkg.to_str().expect("utf8"),
                "--out",
                &dest,
                "--concurrency",
                "2",
            ])
            .args(["--endpoint-url", &proxy.endpoint()]);
        let running = kill_when(publish, || {
            assert_no_dangling_reference(&server, "killed", &media);
            remote_tree(&server, "killed").len() >= kill_after
        });
        killed_running += usize::from(running);
        assert_no_dangling_reference(&server, "killed", &media);
    }
    let out = s3_run(
        &server.endpoint(),
        &[
            "publish",
            pkg.to_str().expect("utf8"),
            "--out",
            &dest,
            "--json",
        ],
    );
    assert_ok(&out, "rerun after kill -9");
    assert!(killed_running > 0, "no publish was killed while running");
    let report = json(&out);
    assert!(
        report["objects_written"].as_u64().unwrap_or(0) > 0,
        "the killed runs cannot have finished: {report}"
    );
    assert!(
        report["objects_skipped"].as_u64().unwrap_or(0) > 0,
        "the rerun reuses what the killed runs stored: {report}"
    );
    assert_published_whole(&server, "killed", &pkg);
    assert_no_dangling_reference(&server, "killed", &media);
}

/// Entries of `dir` whose names start with `audiopack-` or `.`.
fn working_dirs(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("audiopack-") || n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Spawns `command`, waits until `ready` holds (or 60 s), kills it with
/// SIGKILL. Returns whether it was still running when killed.
fn kill_when(mut command: Command, ready: impl Fn() -> bool) -> bool {
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    while !ready() && started.elapsed() < Duration::from_secs(60) {
        if child.try_wait().expect("wait").is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let running = child.try_wait().expect("wait").is_none();
    let _ = child.kill();
    let _ = child.wait();
    running
}

#[test]
fn working_directories_of_a_killed_run_are_removed_by_the_next_one() {
    let tmp = tempfile::tempdir().expect("tmp");
    let master = noise_master(tmp.path(), 30, 48_000);
    let (server, proxy) = distant_server(tmp.path(), 30);
    s3_upload_file(&server, BUCKET, "uploads/noise.wav", &master);
    let scratch = tmp.path().join("scratch");
    std::fs::create_dir(&scratch).expect("scratch");
    let ingest_s3 = |endpoint: &str| {
        s3_ingest(
            s3_bin(SK),
            &scratch,
            "s3://origin/uploads/noise.wav",
            "s3://origin/k/",
            endpoint,
        )
    };

    // s3:// in, s3:// out: killed once the package is being spooled and
    // uploaded, it leaves the downloaded input and the spool.
    let running = kill_when(ingest_s3(&proxy.endpoint()), || {
        !remote_tree(&server, "k").is_empty()
    });
    assert!(running, "the ingest finished before it could be killed");
    let left = working_dirs(&scratch);
    for kind in ["audiopack-input-", "audiopack-spool-"] {
        assert_eq!(
            left.iter().filter(|n| n.starts_with(kind)).count(),
            2,
            "a {kind} directory and its lock file: {left:?}"
        );
    }
    // The next run (no delays) sweeps them, then removes its own.
    let out = ingest_s3(&server.endpoint()).output().expect("rerun");
    assert_ok(&out, "rerun");
    assert_eq!(working_dirs(&scratch), Vec::<String>::new());
    assert!(
        server
            .list_keys(BUCKET)
            .contains(&"k/master.m3u8".to_string())
    );

    // A local --out: the staging directory beside it.
    let out_dir = tmp.path().join("local");
    let local = |extra: &[&str]| {
        let mut c = bin();
        c.args([
            "ingest",
            master.to_str().expect("utf8"),
            "--out",
            out_dir.to_str().expect("utf8"),
        ])
        .args(extra);
        c
    };
    // Killed once the staging directory and its lock both exist (the
    // directory is made first: a kill between the two would leave a
    // directory no run may claim).
    let running = kill_when(local(&[]), || {
        working_dirs(tmp.path())
            .iter()
            .any(|n| n.ends_with(".lock"))
    });
    assert!(
        running,
        "the local ingest finished before it could be killed"
    );
    let left = working_dirs(tmp.path());
    assert!(
        left.len() == 2 && left.iter().all(|n| n.starts_with(".local.audiopack-")),
        "the staging directory and its lock: {left:?}"
    );
    assert!(!out_dir.exists(), "nothing in place after a kill");
    let out = local(&["--no-lossless"]).output().expect("rerun");
    assert_ok(&out, "local rerun");
    assert_eq!(working_dirs(tmp.path()), Vec::<String>::new());
    assert!(out_dir.join("master.m3u8").is_file());
}

/// Media files (`*.m4s`, `*.mp4`) below `dir`, at any depth.
fn media_files_below(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| {
            let path = e.path();
            if path.is_dir() {
                media_files_below(&path)
            } else {
                usize::from(path.extension().is_some_and(|x| x == "m4s" || x == "mp4"))
            }
        })
        .sum()
}

#[test]
fn ingest_to_s3_keeps_only_media_not_yet_stored_on_local_disk() {
    let tmp = tempfile::tempdir().expect("tmp");
    let master = noise_master(tmp.path(), 30, 48_000);
    // A distant origin: uploads lag the encode, and the manifest phases
    // take a while after the last segment.
    let (server, proxy) = distant_server(tmp.path(), 20);
    let scratch = tmp.path().join("scratch");
    std::fs::create_dir(&scratch).expect("scratch");
    let mut child = s3_ingest(
        s3_bin(SK),
        &scratch,
        master.to_str().expect("utf8"),
        "s3://origin/spool/",
        &proxy.endpoint(),
    )
    .args(["--segment-duration", "1"])
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .expect("spawn");
    let mut most_on_disk = 0;
    let started = Instant::now();
    while child.try_wait().expect("wait").is_none() && started.elapsed() < Duration::from_secs(120)
    {
        most_on_disk = most_on_disk.max(media_files_below(&scratch));
        std::thread::sleep(Duration::from_millis(2));
    }
    let out = child.wait_with_output().expect("ingest");
    assert_ok(&out, "ingest to s3");
    let published = server
        .list_keys(BUCKET)
        .iter()
        .filter(|k| k.ends_with(".m4s") || k.ends_with(".mp4"))
        .count();
    assert!(published >= 150, "{published} media objects");
    assert!(most_on_disk > 0, "the spool was never seen");
    eprintln!("at most {most_on_disk} of {published} media files on local disk at once");
    // Queue (16) + uploads in flight (8) + a file per encoder thread at
    // most; without the discard every file stays until the end.
    assert!(
        most_on_disk <= 40,
        "{most_on_disk} of {published} media files on local disk at once"
    );
    assert_eq!(working_dirs(&scratch), Vec::<String>::new());
}

#[test]
fn storage_errors_have_their_own_exit_codes_and_no_retry_storm() {
    let tmp = tempfile::tempdir().expect("tmp");
    let pkg = package(tmp.path(), &["--no-lossless", "--ladder", "64"]);
    let server = s3_server(tmp.path(), AK, SK, BUCKET);
    let log = Arc::new(Mutex::new(Vec::new()));
    let proxy = FaultProxy::start(server.addr(), recording(&log, |_| None)).expect("proxy");
    let pkg_arg = pkg.to_str().expect("utf8");
    let demo = fixture("demo.flac");
    let demo = demo.to_str().expect("utf8");

    // Wrong secret.
    let out = run_at(
        s3_bin("not-the-secret"),
        &proxy.endpoint(),
        &["publish", pkg_arg, "--out", "s3://origin/x/"],
    );
    let err = assert_exit(&out, 7);
    assert!(
        err.contains("s3://origin") && err.contains("credentials rejected"),
        "{err}"
    );
    assert!(
        log.lock().expect("log").len() <= 2,
        "retried a hopeless request: {:?}",
        log.lock()
    );

    // Missing bucket (s3s-fs would create it on PUT: the preflight says no
    // before anything is encoded or written).
    log.lock().expect("log").clear();
    let out = s3_run(
        &proxy.endpoint(),
        &["ingest", demo, "--out", "s3://no-such-bucket/x/"],
    );
    let err = assert_exit(&out, 9);
    assert!(
        err.contains("s3://no-such-bucket") && err.contains("does not exist"),
        "{err}"
    );
    assert!(
        !server.root().join("no-such-bucket").exists(),
        "nothing written"
    );
    assert_eq!(puts(&log).len(), 0);

    // Unreachable endpoint: a port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let started = Instant::now();
    let out = s3_run(
        &format!("http://127.0.0.1:{port}"),
        &["publish", pkg_arg, "--out", "s3://origin/x/"],
    );
    let err = assert_exit(&out, 10);
    assert!(err.contains("cannot reach"), "{err}");
    eprintln!("unreachable endpoint reported in {:?}", started.elapsed());

    // A missing input object names the URL.
    let out = s3_run(
        &proxy.endpoint(),
        &[
            "ingest",
            "s3://origin/uploads/none.flac",
            "--out",
            "s3://origin/y/",
        ],
    );
    let err = assert_exit(&out, 6);
    assert!(err.contains("s3://origin/uploads/none.flac"), "{err}");

    // A bad input from S3 is a bad-input error naming the URL, and nothing
    // is published.
    let mut bytes = std::fs::read(fixture("demo.flac")).expect("demo");
    bytes.truncate(bytes.len() / 2);
    s3_upload_bytes(&server, BUCKET, "uploads/bad.flac", &bytes);
    let out = s3_run(
        &proxy.endpoint(),
        &[
            "ingest",
            "s3://origin/uploads/bad.flac",
            "--out",
            "s3://origin/bad/",
        ],
    );
    let err = assert_exit(&out, 3);
    assert!(err.contains("s3://origin/uploads/bad.flac"), "{err}");
    assert!(
        remote_tree(&server, "bad")
            .keys()
            .all(|k| !k.ends_with(".m3u8") && !k.ends_with(".mpd")),
        "no manifest for a failed job"
    );
}

#[test]
fn access_denied_is_exit_8_before_any_work_and_reads_suffice_for_a_dry_run() {
    let tmp = tempfile::tempdir().expect("tmp");
    let pkg = package(tmp.path(), &["--no-lossless", "--ladder", "64"]);
    let pkg_arg = pkg.to_str().expect("utf8");
    let users = [
        S3User::new(AK, SK, Grant::Full),
        S3User::new("AKIDREADER", "reader-secret", Grant::ReadOnly),
        S3User::new("AKIDSTRANGER", "stranger-secret", Grant::Nothing),
    ];
    let server = S3Server::start_with_users(&tmp.path().join("s3"), 0, &users).expect("server");
    server.create_bucket(BUCKET).expect("bucket");
    s3_upload_file(&server, BUCKET, "uploads/song.flac", &fixture("demo.flac"));
    let log = Arc::new(Mutex::new(Vec::new()));
    let proxy = FaultProxy::start(server.addr(), recording(&log, |_| None)).expect("proxy");
    let run = |access_key: &str, secret: &str, args: &[&str]| {
        log.lock().expect("log").clear();
        let started = Instant::now();
        let out = run_at(s3_bin_as(access_key, secret), &proxy.endpoint(), args);
        (out, started.elapsed(), log.lock().expect("log").len())
    };

    // Reads but no s3:PutObject: the preflight's write probe is refused
    // before the encode starts, and nothing is retried.
    let (out, took, requests) = run(
        "AKIDREADER",
        "reader-secret",
        &[
            "ingest",
            "s3://origin/uploads/song.flac",
            "--out",
            "s3://origin/ro/",
        ],
    );
    let err = assert_exit(&out, 8);
    assert!(
        err.contains("s3://origin") && err.contains("access denied"),
        "{err}"
    );
    assert!(requests <= 3, "{requests} requests for a hopeless write");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(remote_tree(&server, "ro").is_empty(), "nothing written");

    // A dry run only reads: the same key may list what would be written.
    let (out, _, _) = run(
        "AKIDREADER",
        "reader-secret",
        &[
            "publish",
            pkg_arg,
            "--out",
            "s3://origin/ro/",
            "--dry-run",
            "--json",
        ],
    );
    assert_ok(&out, "read-only dry run");
    let report = json(&out);
    assert!(
        report["objects_written"].as_u64().unwrap_or(0) > 0,
        "{report}"
    );
    assert!(
        remote_tree(&server, "ro").is_empty(),
        "a dry run writes nothing"
    );

    // No permission on the bucket at all: HeadBucket's bare 403 is told
    // apart from bad credentials by asking once more.
    let (out, _, requests) = run(
        "AKIDSTRANGER",
        "stranger-secret",
        &["publish", pkg_arg, "--out", "s3://origin/x/"],
    );
    let err = assert_exit(&out, 8);
    assert!(
        err.contains("s3://origin") && err.contains("access denied"),
        "{err}"
    );
    assert!(requests <= 2, "{requests} requests");

    // ... and its s3:// input cannot be read either.
    let out_dir = tmp.path().join("local");
    let (out, _, _) = run(
        "AKIDSTRANGER",
        "stranger-secret",
        &[
            "ingest",
            "s3://origin/uploads/song.flac",
            "--out",
            out_dir.to_str().expect("utf8"),
        ],
    );
    let err = assert_exit(&out, 8);
    assert!(err.contains("s3://origin/uploads/song.flac"), "{err}");
    assert!(
        !out_dir.exists(),
        "no local output for a job that never ran"
    );
}

#[test]
fn s3_input_dry_run_and_directory_destination() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server = s3_server(tmp.path(), AK, SK, BUCKET);
    s3_upload_file(&server, BUCKET, "uploads/song.flac", &fixture("demo.flac"));

    // s3:// in, local out: the report names the URL.
    let local = tmp.path().join("from-s3");
    let out = s3_run(
        &server.endpoint(),
        &[
            "ingest",
            "s3://origin/uploads/song.flac",
            "--out",
            local.to_str().expect("utf8"),
            "--json",
        ],
    );
    assert_ok(&out, "s3 input");
    assert_eq!(json(&out)["input"]["path"], "s3://origin/uploads/song.flac");
    let pkg = package(tmp.path(), &[]);
    let mut a = tree(&local);
    let mut b = tree(&pkg);
    // The report names the input, and the QC page embeds the report.
    for t in [&mut a, &mut b] {
        t.remove("report.json");
        t.remove("report.html");
    }
    assert!(
        a == b,
        "an s3:// input gives the same package as the local file"
    );

    // Dry run: lists, writes nothing.
    let dest = "s3://origin/dry/";
    let out = s3_run(
        &server.endpoint(),
        &[
            "publish",
            pkg.to_str().expect("utf8"),
            "--out",
            dest,
            "--dry-run",
        ],
    );
    assert_ok(&out, "dry run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("would write") && text.contains("s3://origin/dry/master.m3u8"),
        "{text}"
    );
    assert!(
        remote_tree(&server, "dry").is_empty(),
        "a dry run wrote objects"
    );
    // The endpoint from the standard variable instead of --endpoint-url
    // (path-style follows, as s3s-fs needs).
    let out = s3_bin(SK)
        .env("AWS_ENDPOINT_URL_S3", server.endpoint())
        .args(["publish", pkg.to_str().expect("utf8"), "--out", dest])
        .output()
        .expect("run");
    assert_ok(&out, "publish with AWS_ENDPOINT_URL_S3");
    assert!(server.object_path(BUCKET, "dry/master.m3u8").is_file());
    let out = s3_run(
        &server.endpoint(),
        &[
            "publish",
            pkg.to_str().expect("utf8"),
            "--out",
            dest,
            "--dry-run",
            "--json",
        ],
    );
    let report = json(&out);
    assert_eq!(report["objects_written"].as_u64(), Some(0), "{report}");

    // A directory destination gets the same tree.
    let copy = tmp.path().join("copy");
    let out = run(&[
        "publish",
        pkg.to_str().expect("utf8"),
        "--out",
        copy.to_str().expect("utf8"),
    ]);
    assert_ok(&out, "publish to a directory");
    let mut c = tree(&copy);
    let mut p = tree(&pkg);
    c.remove("report.json");
    p.remove("report.json");
    assert!(c == p, "directory publish differs");

    // Not a package.
    let out = run(&[
        "publish",
        tmp.path().join("s3").to_str().expect("utf8"),
        "--out",
        copy.to_str().expect("utf8"),
    ]);
    assert_eq!(out.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an audiopack package"));
}
