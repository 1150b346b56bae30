//! The server over real HTTP: a raw HTTP/1.1 client over TCP (so request
//! targets reach the server exactly as written, `..` included), against a
//! temporary tree with files, links that stay inside and links that lead
//! out.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use audiopack_serve::{ServeError, ServeOptions, Server};

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One request on its own connection (`Connection: close`), read to the end.
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
    parse(&raw)
}

fn parse(raw: &[u8]) -> Reply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8(raw[..split].to_vec()).expect("ASCII head");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().expect("status line");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

fn get(addr: SocketAddr, target: &str) -> Reply {
    request(addr, "GET", target, &[])
}

/// A server on its own runtime thread; stopped (and joined) on drop.
struct Running {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

fn start(root: &Path) -> Running {
    start_with(ServeOptions::new(root).addr("127.0.0.1:0".parse().expect("addr")))
}

fn start_with(options: ServeOptions) -> Running {
    let (addr_tx, addr_rx) = mpsc::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let server = Server::bind(options).await.expect("bind");
            addr_tx.send(server.local_addr()).expect("send addr");
            server
                .run(async move {
                    let _ = stopped.await;
                })
                .await;
        });
    });
    let addr = addr_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("server bound");
    Running {
        addr,
        stop: Some(stop),
        thread: Some(thread),
    }
}

impl Running {
    /// Stops the server; returns how long `run` took to return.
    fn stop(&mut self) -> Duration {
        let began = Instant::now();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread.join().expect("server thread");
        }
        began.elapsed()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `base/secret.txt` (outside), `base/root/…` (served).
struct Tree {
    _dir: tempfile::TempDir,
    base: PathBuf,
    root: PathBuf,
    media: Vec<u8>,
}

const SECRET: &str = "TOP-SECRET-OUTSIDE-THE-ROOT";

fn package_tree() -> Tree {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = dir.path().to_path_buf();
    let root = base.join("root");
    std::fs::create_dir_all(root.join("opus_96k")).expect("mkdir");
    std::fs::write(base.join("secret.txt"), SECRET).expect("secret");
    // Larger than one 64 KiB frame, every byte position distinct mod 251.
    let media: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(root.join("opus_96k/1.m4s"), &media).expect("media");
    let files: [(&str, &[u8]); 12] = [
        ("master.m3u8", b"#EXTM3U\n"),
        ("lossless.m3u8", b"#EXTM3U\n#lossless\n"),
        ("manifest.mpd", b"<MPD/>"),
        ("opus_96k.m3u8", b"#EXTM3U\n#media\n"),
        ("opus_96k/init.mp4", b"init"),
        ("opus_96k.opus", b"OggS"),
        ("x.flac", b"fLaC"),
        ("report.html", b"<!doctype html><p>qc</p>"),
        ("player.js", b"1;"),
        ("style.css", b"p{}"),
        ("plot.svg", b"<svg/>"),
        ("junit.xml", b"<x/>"),
    ];
    for (name, bytes) in files {
        std::fs::write(root.join(name), bytes).expect("file");
    }
    std::fs::write(root.join("blob.bin"), b"").expect("empty");
    let report = serde_json::json!({
        "input": {"path": "song <1>.flac", "format": "flac", "sample_rate": 44100,
                  "channels": 2, "duration_seconds": 20.0, "warnings": ["lenient: odd header"]},
        "loudness": {
            "config": {"target_lufs": -14.0, "true_peak_ceiling_dbtp": -1.0},
            "input": {"integrated_lufs": -17.0388},
            "gain": {"gain_db": 3.0382, "reason": "target"},
            "output": {"integrated_lufs": -14.008, "true_peak_dbtp": -3.3295}
        },
        "package": {"manifests": ["master.m3u8", "lossless.m3u8", "manifest.mpd"],
                    "renditions": [{"playlist": "opus_96k.m3u8"}]}
    });
    std::fs::write(
        root.join("report.json"),
        serde_json::to_vec(&report).expect("json"),
    )
    .expect("report");
    std::os::unix::fs::symlink("../secret.txt", root.join("link-out.txt")).expect("link");
    std::os::unix::fs::symlink(&base, root.join("dir-out")).expect("link");
    std::os::unix::fs::symlink("master.m3u8", root.join("link-in.m3u8")).expect("link");
    std::os::unix::fs::symlink("opus_96k", root.join("dir-in")).expect("link");
    Tree {
        _dir: dir,
        base,
        root,
        media,
    }
}

#[test]
fn whole_files_with_headers() {
    let tree = package_tree();
    let server = start(&tree.root);
    let reply = get(server.addr, "/opus_96k/1.m4s");
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, tree.media, "byte-exact across 64 KiB frames");
    assert_eq!(reply.header("content-length"), Some("200000"));
    assert_eq!(reply.header("content-type"), Some("audio/mp4"));
    assert_eq!(reply.header("accept-ranges"), Some("bytes"));
    assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    let exposed = reply
        .header("access-control-expose-headers")
        .expect("expose");
    for name in ["Content-Range", "Content-Length", "Accept-Ranges"] {
        assert!(exposed.contains(name), "{exposed}");
    }
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert!(reply.header("etag").is_some());
    assert!(reply.header("last-modified").is_some());
    let empty = get(server.addr, "/blob.bin");
    assert_eq!((empty.status, empty.body.len()), (200, 0));
}

#[test]
fn byte_ranges() {
    let tree = package_tree();
    let server = start(&tree.root);
    let size = tree.media.len();
    let range = |value: &str| request(server.addr, "GET", "/opus_96k/1.m4s", &[("Range", value)]);

    let reply = range("bytes=0-99");
    assert_eq!(reply.status, 206);
    assert_eq!(reply.body, tree.media[..100]);
    assert_eq!(reply.header("content-range"), Some("bytes 0-99/200000"));
    assert_eq!(reply.header("content-length"), Some("100"));

    let reply = range("bytes=70000-140000");
    assert_eq!(reply.status, 206);
    assert_eq!(reply.body, tree.media[70_000..=140_000]);

    let reply = range("bytes=199990-");
    assert_eq!(reply.status, 206);
    assert_eq!(reply.body, tree.media[199_990..]);
    assert_eq!(
        reply.header("content-range"),
        Some("bytes 199990-199999/200000")
    );

    let reply = range("bytes=-10");
    assert_eq!(reply.status, 206);
    assert_eq!(reply.body, tree.media[size - 10..]);
    assert_eq!(
        reply.header("content-range"),
        Some("bytes 199990-199999/200000")
    );

    let reply = range("bytes=-500000");
    assert_eq!((reply.status, reply.body.len()), (206, size));

    let reply = range("bytes=199999-999999");
    assert_eq!(reply.status, 206);
    assert_eq!(reply.body, tree.media[199_999..]);

    for unsatisfiable in ["bytes=200000-", "bytes=300000-300010", "bytes=-0"] {
        let reply = range(unsatisfiable);
        assert_eq!(reply.status, 416, "{unsatisfiable}");
        assert_eq!(reply.header("content-range"), Some("bytes */200000"));
        assert!(reply.body.is_empty());
    }
    let reply = request(server.addr, "GET", "/blob.bin", &[("Range", "bytes=0-")]);
    assert_eq!(reply.status, 416);
    assert_eq!(reply.header("content-range"), Some("bytes */0"));

    // Several ranges, or nonsense: the whole file.
    for ignored in ["bytes=0-1,5-6", "bytes=9-3", "lines=1-2"] {
        let reply = range(ignored);
        assert_eq!(reply.status, 200, "{ignored}");
        assert_eq!(reply.body, tree.media);
    }

    // If-Range: the range only while the validator matches.
    let etag = get(server.addr, "/opus_96k/1.m4s")
        .header("etag")
        .expect("etag")
        .to_string();
    let matching = request(
        server.addr,
        "GET",
        "/opus_96k/1.m4s",
        &[("Range", "bytes=0-9"), ("If-Range", &etag)],
    );
    assert_eq!((matching.status, matching.body.len()), (206, 10));
    let stale = request(
        server.addr,
        "GET",
        "/opus_96k/1.m4s",
        &[("Range", "bytes=0-9"), ("If-Range", "\"other\"")],
    );
    assert_eq!((stale.status, stale.body.len()), (200, size));
}

#[test]
fn head_404_405_and_preflight() {
    let tree = package_tree();
    let server = start(&tree.root);
    let head = request(server.addr, "HEAD", "/opus_96k/1.m4s", &[]);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("200000"));
    assert_eq!(head.header("content-type"), Some("audio/mp4"));
    assert!(head.body.is_empty());
    let head = request(
        server.addr,
        "HEAD",
        "/opus_96k/1.m4s",
        &[("Range", "bytes=-4")],
    );
    assert_eq!(head.status, 206);
    assert_eq!(head.header("content-length"), Some("4"));
    assert!(head.body.is_empty());

    for missing in ["/nope.m4s", "/opus_96k/99.m4s", "/master.m3u8/x"] {
        let reply = get(server.addr, missing);
        assert_eq!(reply.status, 404, "{missing}");
        assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    }
    assert_eq!(request(server.addr, "HEAD", "/nope", &[]).status, 404);

    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        let reply = request(
            server.addr,
            method,
            "/master.m3u8",
            &[("Content-Length", "0")],
        );
        assert_eq!(reply.status, 405, "{method}");
        assert_eq!(reply.header("allow"), Some("GET, HEAD, OPTIONS"));
    }
    assert!(tree.root.join("master.m3u8").exists());

    let preflight = request(
        server.addr,
        "OPTIONS",
        "/master.m3u8",
        &[
            ("Origin", "http://player.example"),
            ("Access-Control-Request-Method", "GET"),
            ("Access-Control-Request-Headers", "range"),
        ],
    );
    assert_eq!(preflight.status, 204);
    assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        preflight.header("access-control-allow-headers"),
        Some("range")
    );
    assert!(
        preflight
            .header("access-control-allow-methods")
            .is_some_and(|m| m.contains("GET") && m.contains("HEAD"))
    );
}

#[test]
fn content_types() {
    let tree = package_tree();
    let server = start(&tree.root);
    for (path, expected) in [
        ("/master.m3u8", "application/vnd.apple.mpegurl"),
        ("/manifest.mpd", "application/dash+xml"),
        ("/opus_96k/init.mp4", "audio/mp4"),
        ("/opus_96k/1.m4s", "audio/mp4"),
        ("/opus_96k.opus", "audio/ogg"),
        ("/x.flac", "audio/flac"),
        ("/report.json", "application/json"),
        ("/report.html", "text/html; charset=utf-8"),
        ("/player.js", "text/javascript"),
        ("/style.css", "text/css"),
        ("/plot.svg", "image/svg+xml"),
        ("/junit.xml", "application/xml"),
        ("/blob.bin", "application/octet-stream"),
    ] {
        let reply = request(server.addr, "HEAD", path, &[]);
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.header("content-type"), Some(expected), "{path}");
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    }
}

#[test]
fn paths_outside_the_root_are_refused() {
    let tree = package_tree();
    let server = start(&tree.root);
    for target in [
        "/../secret.txt",
        "/opus_96k/../../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E/secret.txt",
        "/.%2e/secret.txt",
        "/%2e%2e%2fsecret.txt",
        "/opus_96k%2F..%2F..%2Fsecret.txt",
        "/opus_96k/%2F../../secret.txt",
        "/..%5csecret.txt",
        "/secret.txt%00.m3u8",
        "/%ff",
        "/%zz",
    ] {
        let reply = get(server.addr, target);
        assert_eq!(reply.status, 400, "{target}: {}", reply.text());
        assert!(!reply.text().contains(SECRET), "{target}");
    }
    // Links leading out are refused, whatever the way in.
    for target in [
        "/link-out.txt",
        "/dir-out/secret.txt",
        "/dir-out/",
        "/dir-out",
    ] {
        let reply = get(server.addr, target);
        assert_eq!(reply.status, 403, "{target}");
        assert!(!reply.text().contains(SECRET), "{target}");
    }
    // Encoded %2e%2e is decoded once: "%252e%252e" is a literal name.
    assert_eq!(get(server.addr, "/%252e%252e/secret.txt").status, 404);
    // "//x" is a path under the root, never another host.
    assert_eq!(get(server.addr, "//secret.txt").status, 404);
    // Links that stay inside work.
    let inside = get(server.addr, "/link-in.m3u8");
    assert_eq!(inside.status, 200);
    assert_eq!(inside.body, b"#EXTM3U\n");
    assert_eq!(get(server.addr, "/dir-in/init.mp4").body, b"init");
    assert!(tree.base.join("secret.txt").exists());
}

#[test]
fn directories_listings_and_redirects() {
    let tree = package_tree();
    let server = start(&tree.root);
    let redirect = get(server.addr, "/opus_96k");
    assert_eq!(redirect.status, 301);
    assert_eq!(redirect.header("location"), Some("/opus_96k/"));
    let listing = get(server.addr, "/opus_96k/");
    assert_eq!(listing.status, 200);
    assert_eq!(
        listing.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let html = listing.text();
    assert!(html.contains("href=\"1.m4s\""), "{html}");
    assert!(html.contains("href=\"init.mp4\""), "{html}");
    assert!(html.contains("href=\"../\""), "{html}");

    // A directory without a report: a listing, without the links out.
    std::fs::create_dir(tree.root.join("extra")).expect("mkdir");
    std::fs::write(tree.root.join("extra/a b&c.txt"), "x").expect("file");
    std::os::unix::fs::symlink("../../secret.txt", tree.root.join("extra/out.txt")).expect("link");
    let html = get(server.addr, "/extra/").text();
    assert!(html.contains("href=\"a%20b%26c.txt\""), "{html}");
    assert!(html.contains("a b&amp;c.txt"), "{html}");
    assert!(!html.contains("out.txt"), "{html}");
    assert_eq!(get(server.addr, "/extra/a%20b%26c.txt").body, b"x");

    // index.html wins over a generated page.
    std::fs::write(tree.root.join("extra/index.html"), "<p>mine</p>").expect("index");
    let own = get(server.addr, "/extra/");
    assert_eq!(own.body, b"<p>mine</p>");
    assert_eq!(own.header("content-type"), Some("text/html; charset=utf-8"));
}

#[test]
fn package_index_page() {
    let tree = package_tree();
    let server = start(&tree.root);
    let reply = get(server.addr, "/");
    assert_eq!(reply.status, 200);
    let html = reply.text();
    for expected in [
        "href=\"master.m3u8\"",
        "href=\"lossless.m3u8\"",
        "href=\"manifest.mpd\"",
        "href=\"report.json\"",
        "href=\"report.html\"",
        "href=\"opus_96k.m3u8\"",
        "song &lt;1&gt;.flac",
        "-17.0 LUFS",
        "-14.0 LUFS (target -14.0)",
        "+3.04 dB (target)",
        "-3.3 dBTP (ceiling -1.0)",
        "lenient: odd header",
    ] {
        assert!(html.contains(expected), "{expected} missing in {html}");
    }
    assert!(!html.contains("song <1>"));
    assert!(!html.contains("qc.json"), "absent files are not linked");
    let head = request(server.addr, "HEAD", "/", &[]);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
}

#[test]
fn batch_index_page() {
    let tree = package_tree();
    // A batch output: t1 is the package above (with report.html), t2 a
    // package without report.html, bad failed, and a hostile id.
    let out = tree.base.join("out");
    std::fs::create_dir(&out).expect("mkdir");
    std::os::unix::fs::symlink(&tree.root, out.join("t1")).expect("link");
    std::fs::create_dir(out.join("t2")).expect("mkdir");
    std::fs::copy(tree.root.join("report.json"), out.join("t2/report.json")).expect("copy");
    std::fs::write(out.join("t2/master.m3u8"), "#EXTM3U\n").expect("m3u8");
    let batch = serde_json::json!({
        "catalog": "cat.csv", "stopped": null,
        "totals": {"tracks": 4, "done": 2, "skipped": 0, "failed": 1, "not_run": 1},
        "tracks": [
            {"id": "t1", "status": "done", "class": "ok",
             "loudness": {"input_integrated_lufs": -17.0388, "output_integrated_lufs": -14.008},
             "gain_db": 3.0382},
            {"id": "t2", "status": "skipped", "class": "ok",
             "loudness": {"input_integrated_lufs": -20.0, "output_integrated_lufs": -14.1},
             "gain_db": 5.9},
            {"id": "bad", "status": "failed", "class": "io",
             "message": "missing.wav: <cannot read>", "loudness": null, "gain_db": null},
            {"id": "../root", "status": "not-run", "class": "ok", "loudness": null, "gain_db": null}
        ]
    });
    std::fs::write(
        out.join("batch-report.json"),
        serde_json::to_vec(&batch).expect("json"),
    )
    .expect("batch report");
    // t1 is a link to a directory outside `out`: served from `out`, it is
    // not linked; served from `base` it is inside.
    let server = start(&out);
    let html = get(server.addr, "/").text();
    assert!(html.contains("<td>t1</td>"), "t1 leads outside: {html}");
    assert!(!html.contains("href=\"t1/"), "{html}");
    assert!(html.contains("<a href=\"t2/\">t2</a>"), "{html}");
    assert!(html.contains("href=\"t2/report.json\""), "{html}");
    assert!(html.contains("href=\"t2/master.m3u8\""), "{html}");
    assert!(
        html.contains(">-14.1<") && html.contains(">+5.90<"),
        "{html}"
    );
    assert!(
        html.contains("failed: missing.wav: &lt;cannot read&gt;"),
        "{html}"
    );
    assert!(html.contains("<td>../root</td>"), "{html}");
    assert!(html.contains("tracks 4 · done 2 · skipped 0 · failed 1 · not_run 1"));
    drop(server);

    std::fs::remove_file(out.join("t1")).expect("unlink");
    std::fs::rename(&tree.root, out.join("t1")).expect("move");
    let server = start(&out);
    let html = get(server.addr, "/").text();
    assert!(html.contains("<a href=\"t1/\">t1</a>"), "{html}");
    assert!(
        html.contains("href=\"t1/report.html\""),
        "report.html preferred: {html}"
    );
    assert!(!html.contains("href=\"t1/report.json\""), "{html}");
    for expected in [
        "href=\"t1/master.m3u8\"",
        "href=\"t1/lossless.m3u8\"",
        "href=\"t1/manifest.mpd\"",
    ] {
        assert!(html.contains(expected), "{expected}: {html}");
    }
    // in, out, gain, true peak (from t1/report.json), warnings (1).
    assert!(
        html.contains(
            "<td class=\"n\">-17.0</td><td class=\"n\">-14.0</td><td class=\"n\">+3.04</td>\
             <td class=\"n\">-3.3</td><td class=\"n\">1</td>"
        ),
        "{html}"
    );
    assert_eq!(get(server.addr, "/t1/opus_96k/init.mp4").body, b"init");
}

#[test]
fn binds_to_loopback_by_default() {
    let options = ServeOptions::new("x");
    assert_eq!(options.addr, "127.0.0.1:8000".parse().expect("addr"));
    let tree = package_tree();
    let server = start(&tree.root);
    assert!(server.addr.ip().is_loopback());
    assert_eq!(server.addr.ip().to_string(), "127.0.0.1");
    assert_ne!(server.addr.port(), 0);
}

#[test]
fn start_errors_name_what_failed() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let tree = package_tree();
    runtime.block_on(async {
        let missing = tree.base.join("missing");
        let error = Server::bind(ServeOptions::new(&missing))
            .await
            .expect_err("missing");
        assert!(matches!(error, ServeError::Root { .. }), "{error}");
        assert!(error.to_string().contains("missing"), "{error}");
        let file = tree.root.join("master.m3u8");
        let error = Server::bind(ServeOptions::new(&file))
            .await
            .expect_err("a file");
        assert!(matches!(error, ServeError::Root { .. }), "{error}");

        let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = taken.local_addr().expect("addr");
        let error = Server::bind(ServeOptions::new(&tree.root).addr(addr))
            .await
            .expect_err("busy");
        let ServeError::Bind {
            addr: named,
            source,
        } = &error
        else {
            panic!("{error}");
        };
        assert_eq!(*named, addr);
        assert_eq!(source.kind(), std::io::ErrorKind::AddrInUse);
        assert!(error.to_string().contains(&addr.to_string()), "{error}");
    });
}

#[test]
fn shutdown_closes_idle_connections_promptly() {
    let tree = package_tree();
    let mut server = start(&tree.root);
    // A keep-alive connection left open, as a player leaves it.
    let mut idle = TcpStream::connect(server.addr).expect("connect");
    idle.write_all(b"GET /master.m3u8 HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("send");
    // Read the whole answer (head and body may come in separate reads),
    // so what is read after the stop can only be the close.
    let mut reply = Vec::new();
    let mut buffer = [0u8; 1024];
    let body_len = loop {
        let n = idle.read(&mut buffer).expect("reply");
        assert!(n > 0, "closed before the answer");
        reply.extend_from_slice(&buffer[..n]);
        if let Some(end) = reply.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&reply[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .expect("content-length");
            break end + 4 + length;
        }
    };
    while reply.len() < body_len {
        let n = idle.read(&mut buffer).expect("body");
        assert!(n > 0, "closed inside the body");
        reply.extend_from_slice(&buffer[..n]);
    }
    assert!(reply.starts_with(b"HTTP/1.1 200"));
    let took = server.stop();
    assert!(took < Duration::from_secs(3), "stop took {took:?}");
    idle.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    assert_eq!(
        idle.read(&mut buffer).expect("closed"),
        0,
        "connection closed"
    );
    assert!(TcpStream::connect(server.addr).is_err(), "listener closed");
}

#[test]
fn access_log_sees_every_request() {
    let tree = package_tree();
    let (tx, rx) = mpsc::channel();
    let tx = std::sync::Mutex::new(tx);
    let server = start_with(
        ServeOptions::new(&tree.root)
            .addr("127.0.0.1:0".parse().expect("addr"))
            .access_log(move |access| {
                if let Ok(tx) = tx.lock() {
                    let _ = tx.send((
                        access.method.clone(),
                        access.target.clone(),
                        access.status.as_u16(),
                    ));
                }
            }),
    );
    get(server.addr, "/master.m3u8?x=1");
    get(server.addr, "/%2e%2e/x");
    let seen: Vec<_> = (0..2)
        .map(|_| rx.recv_timeout(Duration::from_secs(5)).expect("logged"))
        .collect();
    assert_eq!(seen[0], ("GET".into(), "/master.m3u8?x=1".into(), 200));
    assert_eq!(seen[1], ("GET".into(), "/%2e%2e/x".into(), 400));
}
