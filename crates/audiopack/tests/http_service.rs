//! The http_service example's app, in process on 127.0.0.1:0, driven over
//! real HTTP/1.1 (a hyper client): two uploads, one followed over SSE to
//! its package, one cancelled while it encodes and gone without a trace.

#[path = "../examples/http_service/app.rs"]
mod app;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use audiopack::CancellationToken;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::time::timeout;

/// Safety net for a whole job in a debug build on a busy machine.
const JOB_TIMEOUT: Duration = Duration::from_secs(600);
/// Safety net for one request or one event.
const STEP_TIMEOUT: Duration = Duration::from_secs(120);

struct Server {
    addr: SocketAddr,
    state: app::AppState,
    root: PathBuf,
    spool: PathBuf,
    _dirs: (tempfile::TempDir, tempfile::TempDir),
}

async fn start(max_jobs: usize) -> Server {
    let root_dir = tempfile::tempdir().expect("output root");
    let spool_dir = tempfile::tempdir().expect("spool dir");
    let root = root_dir.path().join("packages");
    std::fs::create_dir(&root).expect("create output root");
    let out = app::OutRoot::parse(root.to_str().expect("UTF-8 temp path"));
    assert!(matches!(&out, app::OutRoot::Dir(dir) if *dir == root));
    let mut config = app::Config::new(out);
    config.max_jobs = max_jobs;
    config.spool_dir = spool_dir.path().to_path_buf();
    let state = app::AppState::new(config, CancellationToken::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local addr");
    let router = app::router(state.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });
    Server {
        addr,
        state,
        root,
        spool: spool_dir.path().to_path_buf(),
        _dirs: (root_dir, spool_dir),
    }
}

/// One request on a fresh connection; the response body left to read.
async fn send(
    addr: SocketAddr,
    method: Method,
    path: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> hyper::Response<Incoming> {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr.to_string());
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    let request = request.body(Full::new(Bytes::from(body))).expect("request");
    timeout(STEP_TIMEOUT, sender.send_request(request))
        .await
        .expect("response in time")
        .expect("response")
}

/// A request whose answer is JSON: status and body.
async fn call(
    addr: SocketAddr,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let headers: Vec<(&str, String)> = content_type
        .map(|ct| ("content-type", ct.to_string()))
        .into_iter()
        .collect();
    let response = send(addr, method, path, &headers, body).await;
    let status = response.status();
    let bytes = timeout(STEP_TIMEOUT, response.into_body().collect())
        .await
        .expect("body in time")
        .expect("body")
        .to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "{status}: not JSON ({e}): {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    (status, json)
}

async fn submit_audio(addr: SocketAddr, audio: Vec<u8>, content_type: &str) -> String {
    let (status, body) = call(addr, Method::POST, "/jobs", Some(content_type), audio).await;
    assert_eq!(status, StatusCode::ACCEPTED, "POST /jobs: {body}");
    body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {body}"))
        .to_string()
}

/// One SSE event: its `event:` name, `id:` and `data:` as JSON.
#[derive(Debug)]
struct Sse {
    name: String,
    id: Option<usize>,
    data: Value,
}

/// Reads `text/event-stream` frames as they arrive.
struct SseReader {
    body: Incoming,
    buf: String,
}

impl SseReader {
    async fn open(addr: SocketAddr, id: &str) -> SseReader {
        SseReader::resume(addr, id, None).await
    }

    /// With `Last-Event-ID: last`: only the events after it.
    async fn resume(addr: SocketAddr, id: &str, last: Option<usize>) -> SseReader {
        let headers: Vec<(&str, String)> = last
            .map(|n| ("last-event-id", n.to_string()))
            .into_iter()
            .collect();
        let response = send(
            addr,
            Method::GET,
            &format!("/jobs/{id}/events"),
            &headers,
            vec![],
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(
            content_type.starts_with("text/event-stream"),
            "content-type {content_type}"
        );
        SseReader {
            body: response.into_body(),
            buf: String::new(),
        }
    }

    /// The next event with data (keep-alive comments skipped); `None`
    /// once the server closed the stream.
    async fn next(&mut self) -> Option<Sse> {
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut name = String::from("message");
                let mut id = None;
                let mut data = None;
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        name = v.trim().to_string();
                    } else if let Some(v) = line.strip_prefix("id:") {
                        id = Some(v.trim().parse().expect("numeric event id"));
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data = Some(v.trim().to_string());
                    }
                }
                if let Some(data) = data {
                    let data = serde_json::from_str(&data)
                        .unwrap_or_else(|e| panic!("event {name}: data not JSON ({e}): {data}"));
                    return Some(Sse { name, id, data });
                }
                continue;
            }
            let frame = timeout(STEP_TIMEOUT, self.body.frame())
                .await
                .expect("an event in time");
            match frame {
                None => {
                    assert!(
                        self.buf.trim().is_empty(),
                        "stream ended inside an event: {:?}",
                        self.buf
                    );
                    return None;
                }
                Some(frame) => {
                    if let Ok(data) = frame.expect("event stream").into_data() {
                        self.buf
                            .push_str(std::str::from_utf8(&data).expect("UTF-8"));
                    }
                }
            }
        }
    }

    /// Every event up to the end of the stream.
    async fn rest(&mut self) -> Vec<Sse> {
        let mut events = Vec::new();
        while let Some(event) = self.next().await {
            events.push(event);
        }
        events
    }
}

/// A 16-bit stereo 48 kHz WAV of `seconds` of pseudo-random noise.
fn noise_wav(seconds: u32) -> Vec<u8> {
    let (rate, channels) = (48_000u32, 2u16);
    let data_len = seconds * rate * u32::from(channels) * 2;
    let mut wav = Vec::with_capacity(44 + data_len as usize);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&channels.to_le_bytes());
    wav.extend_from_slice(&rate.to_le_bytes());
    wav.extend_from_slice(&(rate * u32::from(channels) * 2).to_le_bytes());
    wav.extend_from_slice(&(channels * 2).to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..data_len / 2 {
        // xorshift64; about -20 dBFS of white noise.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let sample = ((x >> 48) as i16) / 8;
        wav.extend_from_slice(&sample.to_le_bytes());
    }
    wav
}

fn entries(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

fn names(events: &[Sse]) -> Vec<&str> {
    events.iter().map(|e| e.name.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_follow_cancel() {
    let server = start(2).await;
    let addr = server.addr;

    let demo = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/demo.flac"
    ))
    .expect("fixtures/demo.flac");
    let followed = submit_audio(addr, demo, "audio/flac").await;
    let cancelled = submit_audio(addr, noise_wav(120), "audio/wav").await;
    assert_ne!(followed, cancelled);

    // The second job: cancel it once it is under way.
    let mut stream = SseReader::open(addr, &cancelled).await;
    let mut seen = Vec::new();
    loop {
        let event = stream
            .next()
            .await
            .unwrap_or_else(|| panic!("stream ended before the job started: {seen:?}"));
        assert_ne!(event.name, "done", "finished before it was cancelled");
        assert_eq!(event.data["event"], event.name.as_str(), "{event:?}");
        let started = matches!(event.name.as_str(), "phase-started" | "progress");
        seen.push(event);
        if started {
            break;
        }
    }
    let (status, body) = call(
        addr,
        Method::DELETE,
        &format!("/jobs/{cancelled}"),
        None,
        vec![],
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "DELETE: {body}");
    let rest = timeout(JOB_TIMEOUT, stream.rest())
        .await
        .expect("the cancelled job's stream ends");
    let last = rest.last().expect("events after the cancel");
    assert_eq!(last.name, "error", "events: {:?}", names(&rest));
    assert_eq!(last.data["kind"], "cancelled", "{:?}", last.data);
    assert!(
        last.data["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{:?}",
        last.data
    );
    assert!(!rest.iter().any(|e| e.name == "done"), "{:?}", names(&rest));
    let (_, status) = call(
        addr,
        Method::GET,
        &format!("/jobs/{cancelled}"),
        None,
        vec![],
    )
    .await;
    assert_eq!(status["status"], "cancelled", "{status}");
    assert_eq!(status["error"]["kind"], "cancelled", "{status}");
    // Cancelling a finished job is refused.
    let (again, _) = call(
        addr,
        Method::DELETE,
        &format!("/jobs/{cancelled}"),
        None,
        vec![],
    )
    .await;
    assert_eq!(again, StatusCode::CONFLICT);

    // The first job, followed to its end (a late subscriber: what happened
    // while the other was cancelled is replayed first).
    let mut stream = SseReader::open(addr, &followed).await;
    let events = timeout(JOB_TIMEOUT, stream.rest())
        .await
        .expect("the followed job ends");
    let kinds = names(&events);
    for e in &events {
        assert_eq!(e.data["event"], e.name.as_str(), "{e:?}");
    }
    let phase_at = |phase: &str| {
        events
            .iter()
            .position(|e| e.name == "phase-started" && e.data["phase"] == phase)
            .unwrap_or_else(|| panic!("no phase-started {phase}: {kinds:?}"))
    };
    let (measure, encode) = (phase_at("measure"), phase_at("encode"));
    assert!(measure < encode, "{kinds:?}");
    for (start, end) in [(measure, encode), (encode, events.len())] {
        let progress: Vec<&Sse> = events[start..end]
            .iter()
            .filter(|e| e.name == "progress")
            .collect();
        let last = progress
            .last()
            .unwrap_or_else(|| panic!("no progress in pass at {start}: {kinds:?}"));
        let done = |e: &Sse| e.data["frames_done"].as_u64().expect("frames_done");
        assert!(
            progress.windows(2).all(|w| done(w[0]) <= done(w[1])),
            "progress goes back: {kinds:?}"
        );
        // demo.flac: 20 s at 44.1 kHz, the whole of it read in each pass.
        let total = events[start].data["total_frames"].as_u64();
        assert!(done(last) > 800_000, "{:?}", last.data);
        if let Some(total) = total {
            assert_eq!(done(last), total, "{:?}", last.data);
        }
    }
    let renditions: BTreeSet<&str> = events
        .iter()
        .filter(|e| e.name == "rendition-finished")
        .map(|e| e.data["name"].as_str().expect("rendition name"))
        .collect();
    let codecs: BTreeSet<&str> = events
        .iter()
        .filter(|e| e.name == "rendition-finished")
        .map(|e| e.data["codec"].as_str().expect("codec"))
        .collect();
    assert!(renditions.len() >= 2, "{kinds:?}");
    assert_eq!(
        codecs,
        BTreeSet::from(["flac", "opus"]),
        "demo.flac gets an Opus ladder and the FLAC tier"
    );
    let last = events.last().expect("events");
    assert_eq!(last.name, "done", "{kinds:?}");
    assert!(last.data["seconds"].as_f64().is_some(), "{:?}", last.data);
    assert!(!kinds.contains(&"error"), "{kinds:?}");

    // Ids count the events from 0; a reconnect resumes after the last seen.
    assert!(
        events.iter().enumerate().all(|(i, e)| e.id == Some(i)),
        "{:?}",
        events.iter().map(|e| e.id).collect::<Vec<_>>()
    );
    let mut resumed = SseReader::resume(addr, &followed, Some(events.len() - 3)).await;
    let tail = resumed.rest().await;
    assert_eq!(names(&tail), names(&events[events.len() - 2..]));
    assert_eq!(tail[1].data, events[events.len() - 1].data);

    let (status, body) = call(
        addr,
        Method::GET,
        &format!("/jobs/{followed}"),
        None,
        vec![],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "done", "{body}");
    let reported: BTreeSet<&str> = body["report"]["renditions"]
        .as_array()
        .expect("report.renditions")
        .iter()
        .map(|r| r["name"].as_str().expect("name"))
        .collect();
    assert!(
        reported.is_subset(&renditions) && !reported.is_empty(),
        "report {reported:?} vs events {renditions:?}"
    );

    let package = server.root.join(&followed);
    for file in ["master.m3u8", "manifest.mpd", "report.json"] {
        assert!(
            package.join(file).is_file(),
            "{file} missing in {package:?}"
        );
    }
    let report: Value =
        serde_json::from_slice(&std::fs::read(package.join("report.json")).expect("report.json"))
            .expect("report.json is JSON");
    assert_eq!(report["renditions"], body["report"]["renditions"]);

    // Nothing of the cancelled job: no package, no staging directory, no
    // lock; and its spooled upload is gone, as is the finished job's.
    assert!(!server.root.join(&cancelled).exists());
    assert_eq!(entries(&server.root), BTreeSet::from([followed.clone()]));
    assert_eq!(entries(&server.spool), BTreeSet::new());

    timeout(STEP_TIMEOUT, server.state.shutdown())
        .await
        .expect("shutdown with nothing running");
}

#[tokio::test]
async fn unknown_ids_and_bad_requests() {
    let server = start(1).await;
    let addr = server.addr;
    assert!(matches!(
        app::OutRoot::parse("s3://bucket/prefix/"),
        app::OutRoot::S3(prefix) if prefix == "s3://bucket/prefix/"
    ));
    for method in [Method::GET, Method::DELETE] {
        let (status, body) =
            call(addr, method.clone(), "/jobs/0123456789abcdef", None, vec![]).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {body}");
        assert_eq!(body["error"]["kind"], "not-found");
    }
    let response = send(addr, Method::GET, "/jobs/nope/events", &[], vec![]).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    // text/plain is a URL or nothing.
    let (status, body) = call(
        addr,
        Method::POST,
        "/jobs",
        Some("text/plain; charset=utf-8"),
        b"/etc/passwd".to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    // An s3:// URL without a key is refused by the job's builder.
    let (status, body) = call(
        addr,
        Method::POST,
        "/jobs",
        Some("text/plain"),
        b"s3://bucket-only".to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["kind"], "config", "{body}");
    // An empty upload.
    let (status, body) = call(addr, Method::POST, "/jobs", Some("audio/wav"), vec![]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // Nothing was started, nothing left behind.
    assert_eq!(entries(&server.root), BTreeSet::new());
    assert_eq!(entries(&server.spool), BTreeSet::new());
}

/// One job at a time: the others wait, queued; one cancelled in the queue
/// never starts, the other starts once the slot is free.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_jobs_wait_for_a_slot() {
    let server = start(1).await;
    let addr = server.addr;
    let demo = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/demo.flac"
    ))
    .expect("fixtures/demo.flac");

    let long = submit_audio(addr, noise_wav(120), "audio/wav").await;
    let mut long_events = SseReader::open(addr, &long).await;
    let first = long_events.next().await.expect("the long job starts");
    assert_eq!(first.name, "phase-started", "{first:?}");
    let (_, status) = call(addr, Method::GET, &format!("/jobs/{long}"), None, vec![]).await;
    assert_eq!(status["status"], "running", "{status}");

    let dropped = submit_audio(addr, demo.clone(), "audio/flac").await;
    let waiting = submit_audio(addr, demo, "audio/flac").await;
    for id in [&dropped, &waiting] {
        let (_, status) = call(addr, Method::GET, &format!("/jobs/{id}"), None, vec![]).await;
        assert_eq!(status["status"], "queued", "{status}");
    }

    // Cancelled in the queue: one event, the error, and nothing written.
    let (status, body) = call(
        addr,
        Method::DELETE,
        &format!("/jobs/{dropped}"),
        None,
        vec![],
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let events = timeout(STEP_TIMEOUT, SseReader::open(addr, &dropped).await.rest())
        .await
        .expect("the queued job's stream ends");
    assert_eq!(names(&events), ["error"]);
    assert_eq!(events[0].data["kind"], "cancelled", "{:?}", events[0].data);
    let (_, status) = call(addr, Method::GET, &format!("/jobs/{waiting}"), None, vec![]).await;
    assert_eq!(
        status["status"], "queued",
        "still waiting for the slot: {status}"
    );

    // Freeing the slot starts the next job, which runs to its end.
    let (status, body) = call(addr, Method::DELETE, &format!("/jobs/{long}"), None, vec![]).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let rest = timeout(JOB_TIMEOUT, long_events.rest())
        .await
        .expect("the long job's stream ends");
    let last = rest.last().expect("events after the cancel");
    assert_eq!(last.name, "error", "{:?}", names(&rest));
    assert_eq!(last.data["kind"], "cancelled", "{:?}", last.data);
    let events = timeout(JOB_TIMEOUT, SseReader::open(addr, &waiting).await.rest())
        .await
        .expect("the waiting job ends");
    assert_eq!(names(&events).first(), Some(&"phase-started"));
    assert_eq!(names(&events).last(), Some(&"done"));

    assert_eq!(entries(&server.root), BTreeSet::from([waiting.clone()]));
    assert_eq!(entries(&server.spool), BTreeSet::new());
}
