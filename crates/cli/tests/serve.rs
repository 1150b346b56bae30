//! `audiopack serve` as users run it: the real binary on port 0, its URL
//! read from its output, real packages (`ingest`) and a real batch output
//! (`batch`), requests over raw TCP (targets sent exactly as written), and
//! stopped with SIGTERM / SIGINT.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_audiopack"))
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(name)
}

/// `audiopack ingest fixtures/demo.flac --out OUT`.
fn package(out: &Path) {
    let output = bin()
        .args(["ingest", "--out"])
        .arg(out)
        .arg(fixture("demo.flac"))
        .output()
        .expect("ingest");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A running `audiopack serve`, killed on drop if still running.
struct Serving {
    child: Child,
    addr: SocketAddr,
    first_line: String,
    _stdout: BufReader<ChildStdout>,
}

fn serve(args: &[&str], path_env: Option<&str>) -> Serving {
    let mut command = bin();
    command
        .arg("serve")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(path) = path_env {
        command.env("PATH", path);
    }
    let mut child = command.spawn().expect("spawn serve");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first_line = String::new();
    stdout.read_line(&mut first_line).expect("read URL line");
    let url = first_line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| {
            let _ = child.kill();
            let mut err = String::new();
            if let Some(mut stderr) = child.stderr.take() {
                let _ = stderr.read_to_string(&mut err);
            }
            panic!("no URL in {first_line:?}; stderr: {err}")
        })
        .to_string();
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .expect("address in the URL");
    Serving {
        child,
        addr,
        first_line,
        _stdout: stdout,
    }
}

impl Serving {
    /// Sends `signal`, waits for the exit; returns (code, stderr, time).
    fn stop(mut self, signal: &str) -> (Option<i32>, String, Duration) {
        let began = Instant::now();
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        let exit = loop {
            if let Some(exit) = self.child.try_wait().expect("wait") {
                break exit;
            }
            assert!(Instant::now() < deadline, "serve did not stop");
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut err = String::new();
        if let Some(mut stderr) = self.child.stderr.take() {
            let _ = stderr.read_to_string(&mut err);
        }
        (exit.code(), err, began.elapsed())
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Reply {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<String> {
        self.head.split("\r\n").skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn request(addr: SocketAddr, method: &str, target: &str, headers: &[(&str, &str)]) -> Reply {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8(raw[..split].to_vec()).expect("ASCII head");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    Reply {
        status,
        head,
        body: raw[split + 4..].to_vec(),
    }
}

fn get(addr: SocketAddr, target: &str) -> Reply {
    request(addr, "GET", target, &[])
}

#[test]
fn serves_a_package_safely_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pkg = dir.path().join("pkg");
    package(&pkg);
    std::fs::write(dir.path().join("secret.txt"), "OUTSIDE").expect("secret");
    std::os::unix::fs::symlink("../secret.txt", pkg.join("out.txt")).expect("link");
    std::os::unix::fs::symlink("master.m3u8", pkg.join("in.m3u8")).expect("link");

    let server = serve(&[pkg.to_str().expect("utf8"), "--port", "0"], None);
    assert!(
        server.first_line.contains("http://127.0.0.1:"),
        "binds 127.0.0.1 by default: {}",
        server.first_line
    );
    assert!(server.addr.ip().is_loopback());
    let addr = server.addr;

    // The index page: the package's links and numbers.
    let index = get(addr, "/");
    assert_eq!(index.status, 200);
    assert_eq!(
        index.header("content-type").as_deref(),
        Some("text/html; charset=utf-8")
    );
    let html = index.text();
    for expected in [
        "href=\"master.m3u8\"",
        "href=\"lossless.m3u8\"",
        "href=\"manifest.mpd\"",
        "href=\"report.json\"",
        "href=\"opus_96k.m3u8\"",
        "demo.flac",
        "-14.0 LUFS (target -14.0)",
        "+3.04 dB",
    ] {
        assert!(html.contains(expected), "{expected} missing: {html}");
    }

    // Manifests and segments with their types; byte ranges byte-exact.
    for (path, mime) in [
        ("/master.m3u8", "application/vnd.apple.mpegurl"),
        ("/manifest.mpd", "application/dash+xml"),
        ("/opus_96k/init.mp4", "audio/mp4"),
        ("/opus_96k/1.m4s", "audio/mp4"),
        ("/report.json", "application/json"),
    ] {
        let reply = get(addr, path);
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(
            reply.header("content-type").as_deref(),
            Some(mime),
            "{path}"
        );
        assert_eq!(
            reply.body,
            std::fs::read(pkg.join(&path[1..])).expect("file"),
            "{path}"
        );
        assert_eq!(
            reply.header("access-control-allow-origin").as_deref(),
            Some("*")
        );
        assert_eq!(reply.header("cache-control").as_deref(), Some("no-store"));
    }
    let segment = std::fs::read(pkg.join("opus_96k/1.m4s")).expect("segment");
    let size = segment.len();
    let ranged = request(
        addr,
        "GET",
        "/opus_96k/1.m4s",
        &[("Range", "bytes=100-1099")],
    );
    assert_eq!(ranged.status, 206);
    assert_eq!(ranged.body, segment[100..1100]);
    assert_eq!(
        ranged.header("content-range"),
        Some(format!("bytes 100-1099/{size}"))
    );
    let suffix = request(addr, "GET", "/opus_96k/1.m4s", &[("Range", "bytes=-16")]);
    assert_eq!(suffix.status, 206);
    assert_eq!(suffix.body, segment[size - 16..]);
    let open_ended = request(addr, "GET", "/opus_96k/1.m4s", &[("Range", "bytes=5-")]);
    assert_eq!(open_ended.body, segment[5..]);
    let past = request(
        addr,
        "GET",
        "/opus_96k/1.m4s",
        &[("Range", &format!("bytes={size}-"))],
    );
    assert_eq!(past.status, 416);
    assert_eq!(
        past.header("content-range"),
        Some(format!("bytes */{size}"))
    );
    let head = request(addr, "HEAD", "/opus_96k/1.m4s", &[]);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some(size.to_string()));
    assert!(head.body.is_empty());

    assert_eq!(get(addr, "/opus_96k/999.m4s").status, 404);
    let post = request(addr, "POST", "/master.m3u8", &[("Content-Length", "0")]);
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow").as_deref(), Some("GET, HEAD, OPTIONS"));
    let preflight = request(
        addr,
        "OPTIONS",
        "/master.m3u8",
        &[
            ("Origin", "http://localhost:9"),
            ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Headers", "range"),
        ],
    );
    assert_eq!(preflight.status, 204);
    assert_eq!(
        preflight.header("access-control-allow-origin").as_deref(),
        Some("*")
    );

    // Outside the directory: refused however it is spelled.
    for target in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2e%2Fsecret.txt",
        "/opus_96k%2F..%2F..%2Fsecret.txt",
    ] {
        let reply = get(addr, target);
        assert_eq!(reply.status, 400, "{target}");
        assert!(!reply.text().contains("OUTSIDE"), "{target}");
    }
    let out = get(addr, "/out.txt");
    assert_eq!(out.status, 403);
    assert!(!out.text().contains("OUTSIDE"));
    assert_eq!(
        get(addr, "/in.m3u8").body,
        std::fs::read(pkg.join("master.m3u8")).expect("master")
    );

    let (code, stderr, took) = server.stop("-TERM");
    assert_eq!(code, Some(0), "SIGTERM stops cleanly: {stderr}");
    assert!(took < Duration::from_secs(5), "stopped in {took:?}");
    assert!(!stderr.contains("error"), "{stderr}");
}

#[test]
fn serves_a_batch_output_index_and_stops_on_sigint() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(fixture("demo.flac"), dir.path().join("demo.flac")).expect("copy");
    std::fs::write(
        dir.path().join("cat.csv"),
        "id,input\nt1,demo.flac\nbad,missing.wav\n",
    )
    .expect("catalog");
    let out = dir.path().join("out");
    let batch = bin()
        .current_dir(dir.path())
        .args(["batch", "cat.csv", "--out", "out"])
        .output()
        .expect("batch");
    assert_eq!(batch.status.code(), Some(13), "one track fails");

    let server = serve(&[out.to_str().expect("utf8"), "--port=0"], None);
    // The batch wrote its own index.html (the QC index), which wins over
    // the listing serve would make.
    let html = get(server.addr, "/").text();
    for expected in [
        "audiopack batch",
        "\"id\": \"t1\"",
        "\"id\": \"bad\"",
        "\"status\": \"failed\"",
    ] {
        assert!(html.contains(expected), "{expected} missing: {html}");
    }
    assert!(
        get(server.addr, "/t1/report.html")
            .text()
            .contains("report-json")
    );
    let track = get(server.addr, "/t1/");
    assert!(track.text().contains("href=\"master.m3u8\""));
    assert_eq!(
        get(server.addr, "/t1").header("location").as_deref(),
        Some("/t1/")
    );
    let (code, stderr, _) = server.stop("-INT");
    assert_eq!(code, Some(0), "{stderr}");
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run")
}

#[test]
fn cannot_start_exits_6_with_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing");
    let out = run(&["serve", missing.to_str().expect("utf8"), "--port", "0"]);
    assert_eq!(out.status.code(), Some(6));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: ") && stderr.contains("missing"),
        "{stderr}"
    );

    let file = dir.path().join("file");
    std::fs::write(&file, "x").expect("file");
    let out = run(&["serve", file.to_str().expect("utf8"), "--port", "0"]);
    assert_eq!(out.status.code(), Some(6));

    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let dir_arg = dir.path().to_str().expect("utf8");
    let out = run(&["serve", dir_arg, "--port", &port]);
    assert_eq!(out.status.code(), Some(6));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("127.0.0.1:{port}")) && stderr.contains("--port"),
        "names the address: {stderr}"
    );

    let out = run(&["serve", dir_arg, "--bind", "localhost.example"]);
    assert_eq!(out.status.code(), Some(2), "an address, not a name");
}

#[test]
fn open_runs_the_opener_or_says_it_cannot() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin_dir = dir.path().join("bin");
    std::fs::create_dir(&bin_dir).expect("mkdir");
    let served = dir.path().join("site");
    std::fs::create_dir(&served).expect("mkdir");
    std::fs::write(served.join("index.html"), "<p>hi</p>").expect("index");

    // No opener on PATH: a note, and the server serves on.
    let empty_path = bin_dir.to_str().expect("utf8");
    let server = serve(
        &[served.to_str().expect("utf8"), "--port", "0", "--open"],
        Some(empty_path),
    );
    assert_eq!(get(server.addr, "/").body, b"<p>hi</p>");
    let (code, stderr, _) = server.stop("-TERM");
    assert_eq!(code, Some(0));
    assert!(
        stderr.contains("note:") && stderr.contains("xdg-open"),
        "{stderr}"
    );

    // A stand-in opener records the URL it was given.
    let seen = dir.path().join("opened.txt");
    let opener = bin_dir.join("xdg-open");
    std::fs::write(
        &opener,
        format!("#!/bin/sh\necho \"$1\" > '{}'\n", seen.display()),
    )
    .expect("opener");
    let status = Command::new("chmod")
        .arg("+x")
        .arg(&opener)
        .status()
        .expect("chmod");
    assert!(status.success());
    let path = format!("{}:/usr/bin:/bin", bin_dir.display());
    let server = serve(
        &[served.to_str().expect("utf8"), "--port", "0", "--open"],
        Some(&path),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut opened = String::new();
    while !opened.ends_with('\n') && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        opened = std::fs::read_to_string(&seen).unwrap_or_default();
    }
    assert_eq!(opened.trim(), format!("http://{}/", server.addr));
    let (code, _, _) = server.stop("-TERM");
    assert_eq!(code, Some(0));
}
