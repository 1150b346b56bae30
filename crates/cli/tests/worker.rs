//! `audiopack submit`, `worker` and `status` through the real binary,
//! against a real `nats-server -js` on 127.0.0.1 (Debian's, installed by
//! `scripts/deps.sh test`) and the in-process test S3 server: a fleet of
//! three workers with one killed mid-encode, duplicate submits, poison
//! messages, a broker restart, and wrong storage credentials.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const AK: &str = "AKIDAUDIOPACKTEST";
const SK: &str = "audiopack-test-secret-key";
const BUCKET: &str = "origin";

/// A `nats-server -js` with file storage in its own directory, on a free
/// port; killed on drop.
struct Nats {
    child: Option<Child>,
    port: u16,
    store: PathBuf,
}

impl Nats {
    fn start(dir: &Path) -> Nats {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut nats = Nats {
            child: None,
            port,
            store: dir.join("jetstream"),
        };
        nats.spawn();
        nats
    }

    fn spawn(&mut self) {
        let child = Command::new("nats-server")
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-sd",
            ])
            .arg(&self.store)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server is not installed: run scripts/deps.sh test");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// `kill -9`, then the same server again on the same port and store.
    fn restart(&mut self) {
        self.kill();
        std::thread::sleep(Duration::from_millis(500));
        self.spawn();
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Publishes `payload` on `subject` with the plain NATS protocol (no
    /// JetStream client): what a misbehaving producer would send.
    fn publish_raw(&self, subject: &str, payload: &[u8]) {
        let mut conn = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        conn.set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut reader = BufReader::new(conn.try_clone().expect("clone"));
        let mut info = String::new();
        reader.read_line(&mut info).expect("INFO");
        assert!(info.starts_with("INFO"), "{info}");
        conn.write_all(b"CONNECT {\"verbose\":false}\r\n")
            .expect("write");
        conn.write_all(format!("PUB {subject} {}\r\n", payload.len()).as_bytes())
            .expect("write");
        conn.write_all(payload).expect("write");
        conn.write_all(b"\r\nPING\r\n").expect("write");
        let mut pong = String::new();
        reader.read_line(&mut pong).expect("PONG");
        assert!(pong.starts_with("PONG"), "{pong}");
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A worker process whose JSON events are collected as they come.
struct Worker {
    child: Child,
    events: Arc<Mutex<Vec<Value>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Worker {
    fn spawn(mut command: Command, nats: &Nats, args: &[&str]) -> Worker {
        let mut child = command
            .args(["worker", "--nats", &nats.url(), "--json"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn worker");
        let stdout = child.stdout.take().expect("stdout");
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&events);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let event: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("not a JSON event: {line}: {e}"));
                sink.lock().expect("lock").push(event);
            }
        });
        Worker {
            child,
            events,
            reader: Some(reader),
        }
    }

    fn events(&self) -> Vec<Value> {
        self.events.lock().expect("lock").clone()
    }

    /// Waits for an event matching `want`.
    fn wait_for(&self, what: &str, want: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(e) = self.events().into_iter().find(|e| want(e)) {
                return e;
            }
            assert!(Instant::now() < deadline, "no {what}: {:?}", self.events());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits for the process (at most `limit`); its exit code and stderr.
    fn finish(mut self, limit: Duration) -> (Option<i32>, String, Vec<Value>) {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("worker still running after {limit:?}: {:?}", self.events());
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        let mut err = String::new();
        if let Some(mut stderr) = self.child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut stderr, &mut err);
        }
        (status.code(), err, self.events())
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8")
}

/// Short stereo tones `t01…tNN` (seconds each) in `dir/masters`, a CSV
/// catalog with relative inputs, plus `extra` rows.
fn catalog(dir: &Path, n: usize, seconds: u32, extra: &[(&str, &str)]) -> PathBuf {
    let masters = dir.join("masters");
    std::fs::create_dir_all(&masters).expect("mkdir");
    let mut text = String::from("id,input\n");
    for i in 1..=n {
        let path = masters.join(format!("t{i:02}.wav"));
        ffmpeg_generate(
            &format!("sine=f={}:d={seconds}:sample_rate=44100", 200 + 37 * i),
            &["-ac", "2", "-c:a", "pcm_s16le", "-af", "volume=0.3"],
            &path,
        );
        text.push_str(&format!("t{i:02},masters/t{i:02}.wav\n"));
    }
    for (id, input) in extra {
        text.push_str(&format!("{id},{input}\n"));
    }
    let path = dir.join("catalog.csv");
    std::fs::write(&path, text).expect("catalog");
    path
}

fn submit(command: Command, nats: &Nats, catalog: &Path, out: &str, extra: &[&str]) -> Value {
    let mut command = command;
    let o = command
        .args([
            "submit",
            s(catalog),
            "--nats",
            &nats.url(),
            "--out",
            out,
            "--json",
        ])
        .args(["--formats", "hls,dash", "--ladder", "64,96"])
        .args(extra)
        .output()
        .expect("submit");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("submit --json")
}

fn status(nats: &Nats) -> Value {
    let o = bin()
        .args(["status", "--nats", &nats.url(), "--json"])
        .output()
        .expect("status");
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("status --json")
}

/// Polls `status` until `done` (at most `limit`).
fn wait_status(nats: &Nats, limit: Duration, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let st = status(nats);
        if done(&st) {
            return st;
        }
        assert!(Instant::now() < deadline, "status never got there: {st}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn jobs_by_id(status: &Value) -> BTreeMap<String, Value> {
    status["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .map(|j| (j["id"].as_str().expect("id").to_string(), j.clone()))
        .collect()
}

fn s3_command(scratch: &Path, secret: &str) -> Command {
    let mut c = with_keys(s3_isolated(), AK, secret);
    c.env("TMPDIR", scratch);
    c
}

#[test]
fn a_fleet_of_three_survives_a_kill_and_encodes_each_track_once() {
    let tmp = tempfile::tempdir().expect("tmp");
    let bad = tmp.path().join("masters-bad");
    std::fs::create_dir_all(&bad).expect("mkdir");
    std::fs::write(bad.join("notes.wav"), b"these are liner notes, not audio").expect("write");
    // A FLAC cut short in its first frame: bad input.
    let flac = std::fs::read(fixture("demo.flac")).expect("demo");
    std::fs::write(bad.join("cut.flac"), &flac[..9000]).expect("write");
    let catalog = catalog(
        tmp.path(),
        18,
        4,
        &[
            ("bad-notes", "masters-bad/notes.wav"),
            ("bad-cut", "masters-bad/cut.flac"),
        ],
    );
    // t01 is long noise: still encoding when its worker is killed.
    ffmpeg_generate(
        "anoisesrc=r=48000:a=0.3:d=40:s=5",
        &["-ac", "2", "-c:a", "pcm_s24le"],
        &tmp.path().join("masters/t01.wav"),
    );
    let server = s3_server(tmp.path(), AK, SK, BUCKET);
    let scratch = tmp.path().join("scratch");
    std::fs::create_dir(&scratch).expect("scratch");
    let nats = Nats::start(tmp.path());
    let endpoint = server.endpoint();
    let storage = ["--endpoint-url", endpoint.as_str(), "--jobs", "1"];

    let submitted = submit(
        s3_command(&scratch, SK),
        &nats,
        &catalog,
        "s3://origin/fleet/",
        &["--ack-wait", "2", "--endpoint-url", &endpoint],
    );
    assert_eq!(submitted["new"], 20, "{submitted}");

    // Worker a takes t01 (the first message); b and c start; a is killed
    // while it encodes t01.
    let a = Worker::spawn(
        s3_command(&scratch, SK),
        &nats,
        &[&storage[..], &["--name", "a"]].concat(),
    );
    a.wait_for("a starting t01", |e| {
        e["event"] == "job-started" && e["id"] == "t01"
    });
    let b = Worker::spawn(
        s3_command(&scratch, SK),
        &nats,
        &[&storage[..], &["--name", "b"]].concat(),
    );
    let c = Worker::spawn(
        s3_command(&scratch, SK),
        &nats,
        &[&storage[..], &["--name", "c"]].concat(),
    );
    b.wait_for("b started", |e| e["event"] == "worker-started");
    a.signal("-KILL");
    let (code, _, a_events) = a.finish(Duration::from_secs(10));
    assert_eq!(code, None, "killed");
    assert!(
        !a_events
            .iter()
            .any(|e| e["event"] == "job-done" && e["id"] == "t01"),
        "t01 finished before the kill: {a_events:?}"
    );

    let st = wait_status(&nats, Duration::from_secs(300), |st| {
        st["done"].as_u64().unwrap_or(0) + st["failed"].as_u64().unwrap_or(0) == 20
    });
    b.signal("-TERM");
    c.signal("-TERM");
    let (b_code, b_err, b_events) = b.finish(Duration::from_secs(60));
    let (c_code, c_err, c_events) = c.finish(Duration::from_secs(60));
    assert_eq!(b_code, Some(0), "{b_err}");
    assert_eq!(c_code, Some(0), "{c_err}");

    assert_eq!(st["total"], 20, "{st}");
    assert_eq!(st["done"], 18, "{st}");
    assert_eq!(st["failed"], 2, "{st}");
    assert_eq!(st["queued"], 0, "{st}");
    assert_eq!(st["running"], 0, "{st}");
    let jobs = jobs_by_id(&st);
    let notes = &jobs["bad-notes"];
    assert_eq!(notes["state"], "failed");
    assert!(
        notes["message"].as_str().is_some_and(|m| m.contains("notes.wav") && m.contains("not a recognised audio format")),
        "{notes}"
    );
    assert_eq!(notes["attempts"], 1, "terminated, not retried: {notes}");
    let cut = &jobs["bad-cut"];
    assert_eq!(cut["state"], "failed");
    assert!(
        cut["message"]
            .as_str()
            .is_some_and(|m| m.contains("cut.flac")),
        "{cut}"
    );
    assert_eq!(cut["attempts"], 1, "{cut}");
    // t01 came back after the ack wait and another worker finished it.
    assert!(
        jobs["t01"]["attempts"].as_u64().unwrap_or(0) >= 2,
        "{}",
        jobs["t01"]
    );
    assert_ne!(jobs["t01"]["worker"], "a");

    // Each good track encoded to completion exactly once, fleet-wide.
    let mut completions: BTreeMap<String, usize> = BTreeMap::new();
    for e in a_events.iter().chain(&b_events).chain(&c_events) {
        if e["event"] == "job-done" && e["skipped"] == false {
            *completions
                .entry(e["id"].as_str().expect("id").to_string())
                .or_default() += 1;
        }
    }
    assert_eq!(completions.len(), 18, "{completions:?}");
    assert!(completions.values().all(|&n| n == 1), "{completions:?}");
    for i in 1..=18 {
        assert_complete_package(&server.object_path(BUCKET, &format!("fleet/t{i:02}")));
    }
    for id in ["bad-notes", "bad-cut"] {
        assert!(
            !server.object_path(BUCKET, &format!("fleet/{id}")).exists(),
            "{id}: something was published"
        );
    }
}

#[test]
fn a_repeated_submit_sends_nothing_and_poison_messages_are_terminated() {
    let tmp = tempfile::tempdir().expect("tmp");
    let catalog = catalog(tmp.path(), 3, 2, &[]);
    let nats = Nats::start(tmp.path());
    let out = tmp.path().join("out");
    let first = submit(bin(), &nats, &catalog, s(&out), &[]);
    assert_eq!(first["new"], 3, "{first}");
    let again = submit(bin(), &nats, &catalog, s(&out), &[]);
    assert_eq!(again["new"], 0, "{again}");
    assert_eq!(again["queued"], 3, "{again}");
    // A changed setting is another job.
    let louder = submit(bin(), &nats, &catalog, s(&out), &["--target-lufs", "-10"]);
    assert_eq!(louder["new"], 3, "{louder}");
    // Encrypted jobs whose key file is broken after they were sent: keys
    // that are wrong stay wrong, so each fails on its first delivery.
    let keys = tmp.path().join("keys.json");
    std::fs::write(
        &keys,
        r#"{"keys":[{"kid":"0123456789abcdef0123456789abcdef","key":"00112233445566778899aabbccddeeff"}]}"#,
    )
    .expect("keys");
    let encrypted_out = tmp.path().join("encrypted");
    let encrypted = submit(
        bin(),
        &nats,
        &catalog,
        s(&encrypted_out),
        &["--encrypt", "cbcs", "--keys", s(&keys)],
    );
    assert_eq!(encrypted["new"], 3, "{encrypted}");
    std::fs::write(&keys, r#"{"keys":[{"kid":"not hex","key":"00"}]}"#).expect("keys");

    nats.publish_raw("audiopack.jobs", b"{this is not json");
    nats.publish_raw(
        "audiopack.jobs",
        br#"{"version": 2, "id": "from-the-future", "input": "x"}"#,
    );
    let worker = Worker::spawn(bin(), &nats, &["--jobs", "1", "--max-jobs", "11"]);
    let (code, err, events) = worker.finish(Duration::from_secs(120));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(
        events.iter().filter(|e| e["event"] == "job-failed").count(),
        5,
        "{events:?}"
    );
    assert!(
        !events.iter().any(|e| e["event"] == "job-retry"),
        "nothing here is worth a retry: {events:?}"
    );
    let st = status(&nats);
    assert_eq!(st["done"], 6, "{st}");
    assert_eq!(st["failed"], 5, "{st}");
    let key_failures: Vec<&Value> = st["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .filter(|j| {
            j["message"]
                .as_str()
                .is_some_and(|m| m.contains("keys.json"))
        })
        .collect();
    assert_eq!(key_failures.len(), 3, "{st}");
    for job in key_failures {
        assert_eq!(job["state"], "failed", "{job}");
        assert_eq!(job["attempts"], 1, "terminated, not retried: {job}");
        assert!(
            job["message"]
                .as_str()
                .is_some_and(|m| m.contains("must be 32 hex digits")),
            "{job}"
        );
    }
    for i in 1..=3 {
        let package = encrypted_out.join(format!("t{i:02}"));
        assert!(!package.exists(), "{}: written", package.display());
    }
    assert_eq!(st["pending_messages"], 0, "poison retried: {st}");
    assert_eq!(st["unacknowledged_messages"], 0, "poison held: {st}");
    let messages: Vec<&str> = st["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .filter(|j| j["state"] == "failed")
        .map(|j| j["message"].as_str().expect("message"))
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.starts_with("invalid job message")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("version 2 is not supported")),
        "{messages:?}"
    );
    for i in 1..=3 {
        assert_complete_package(&out.join(format!("t{i:02}")));
    }
    // Days later, the same catalog again: all done, nothing sent.
    let later = submit(bin(), &nats, &catalog, s(&out), &[]);
    assert_eq!(later["new"], 0, "{later}");
    assert_eq!(later["done"], 3, "{later}");
}

#[test]
fn a_broker_restart_mid_catalog_loses_nothing() {
    let tmp = tempfile::tempdir().expect("tmp");
    let catalog = catalog(tmp.path(), 6, 3, &[]);
    let mut nats = Nats::start(tmp.path());
    let out = tmp.path().join("out");
    let sent = submit(bin(), &nats, &catalog, s(&out), &["--ack-wait", "3"]);
    assert_eq!(sent["new"], 6, "{sent}");
    let worker = Worker::spawn(bin(), &nats, &["--jobs", "1", "--retry-backoff", "1"]);
    worker.wait_for("a first job done", |e| e["event"] == "job-done");
    let done_before = worker
        .events()
        .iter()
        .filter(|e| e["event"] == "job-done")
        .count();
    assert!(done_before < 6, "the catalog ended before the restart");
    nats.restart();
    let st = wait_status(&nats, Duration::from_secs(180), |st| st["done"] == 6);
    assert_eq!(st["total"], 6, "{st}");
    worker.signal("-TERM");
    let (code, err, _) = worker.finish(Duration::from_secs(60));
    assert_eq!(code, Some(0), "{err}");
    for i in 1..=6 {
        assert_complete_package(&out.join(format!("t{i:02}")));
    }
}

#[test]
fn sigterm_hands_a_long_job_back_after_the_grace_period_and_exits_0() {
    let tmp = tempfile::tempdir().expect("tmp");
    let catalog = catalog(tmp.path(), 1, 1, &[]);
    ffmpeg_generate(
        "anoisesrc=r=48000:a=0.3:d=30:s=9",
        &["-ac", "2", "-c:a", "pcm_s24le"],
        &tmp.path().join("masters/t01.wav"),
    );
    let nats = Nats::start(tmp.path());
    let out = tmp.path().join("out");
    submit(bin(), &nats, &catalog, s(&out), &["--ack-wait", "30"]);
    let worker = Worker::spawn(bin(), &nats, &["--jobs", "1", "--grace", "0.5"]);
    worker.wait_for("t01 started", |e| e["event"] == "job-started");
    let stopped = Instant::now();
    worker.signal("-TERM");
    let (code, err, events) = worker.finish(Duration::from_secs(30));
    assert_eq!(code, Some(0), "{err}");
    assert!(
        stopped.elapsed() < Duration::from_secs(10),
        "{:?}",
        stopped.elapsed()
    );
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "job-retry" && e["delay_seconds"] == 0.0),
        "handed back at once: {events:?}"
    );
    assert!(!out.join("t01").exists(), "a cancelled job left output");
    let st = status(&nats);
    assert_eq!(st["queued"], 1, "{st}");
    // Nak'ed, not left to the 30 s ack wait: the next worker takes it now.
    let next = Worker::spawn(bin(), &nats, &["--jobs", "2", "--max-jobs", "1"]);
    let (code, err, _) = next.finish(Duration::from_secs(180));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(status(&nats)["done"], 1);
    assert_complete_package(&out.join("t01"));
}

#[test]
fn a_job_whose_last_delivery_dies_with_its_worker_is_recorded_failed() {
    let tmp = tempfile::tempdir().expect("tmp");
    let catalog = catalog(tmp.path(), 1, 1, &[]);
    ffmpeg_generate(
        "anoisesrc=r=48000:a=0.3:d=30:s=3",
        &["-ac", "2", "-c:a", "pcm_s24le"],
        &tmp.path().join("masters/t01.wav"),
    );
    let nats = Nats::start(tmp.path());
    let out = tmp.path().join("out");
    submit(
        bin(),
        &nats,
        &catalog,
        s(&out),
        &["--ack-wait", "1", "--max-deliver", "1"],
    );
    let doomed = Worker::spawn(bin(), &nats, &["--jobs", "1"]);
    doomed.wait_for("t01 started", |e| e["event"] == "job-started");
    doomed.signal("-KILL");
    let _ = doomed.finish(Duration::from_secs(10));
    // The next worker's pull makes the server give up on it: the advisory
    // says so, and the job is failed rather than "running" forever.
    let next = Worker::spawn(bin(), &nats, &["--jobs", "1"]);
    let failed = next.wait_for("the give-up", |e| e["event"] == "job-failed");
    assert_eq!(failed["class"], "max-deliveries", "{failed}");
    next.signal("-TERM");
    let (code, err, _) = next.finish(Duration::from_secs(30));
    assert_eq!(code, Some(0), "{err}");
    let st = status(&nats);
    assert_eq!(st["failed"], 1, "{st}");
    assert_eq!(st["running"], 0, "{st}");
    assert_eq!(st["pending_messages"], 0, "{st}");
    assert_eq!(st["unacknowledged_messages"], 0, "{st}");
    let job = &st["jobs"][0];
    assert!(
        job["message"]
            .as_str()
            .is_some_and(|m| m.contains("gave up after 1 deliveries")),
        "{job}"
    );
}

#[test]
fn wrong_storage_credentials_stop_the_worker_instead_of_failing_every_job() {
    let tmp = tempfile::tempdir().expect("tmp");
    let catalog = catalog(tmp.path(), 3, 2, &[]);
    let server = s3_server(tmp.path(), AK, SK, BUCKET);
    let endpoint = server.endpoint();
    let scratch = tmp.path().join("scratch");
    std::fs::create_dir(&scratch).expect("scratch");
    let nats = Nats::start(tmp.path());
    submit(
        s3_command(&scratch, SK),
        &nats,
        &catalog,
        "s3://origin/fleet/",
        &["--endpoint-url", &endpoint],
    );
    let started = Instant::now();
    let wrong = Worker::spawn(
        s3_command(&scratch, "not-the-secret"),
        &nats,
        &["--endpoint-url", &endpoint, "--jobs", "1"],
    );
    let (code, err, events) = wrong.finish(Duration::from_secs(90));
    assert!(matches!(code, Some(7 | 8)), "{code:?}: {err}");
    assert!(err.contains("worker stopped"), "{err}");
    assert!(!err.contains("not-the-secret"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(
        !events.iter().any(|e| e["event"] == "job-failed"),
        "{events:?}"
    );
    let st = status(&nats);
    assert_eq!(st["failed"], 0, "{st}");
    assert_eq!(st["queued"], 3, "{st}");

    // With the right key the same queue completes.
    let right = Worker::spawn(
        s3_command(&scratch, SK),
        &nats,
        &[
            "--endpoint-url",
            &endpoint,
            "--jobs",
            "2",
            "--max-jobs",
            "3",
        ],
    );
    let (code, err, _) = right.finish(Duration::from_secs(120));
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(status(&nats)["done"], 3);
    for i in 1..=3 {
        assert_complete_package(&server.object_path(BUCKET, &format!("fleet/t{i:02}")));
    }
}

#[test]
fn usage_errors_and_an_unreachable_server_have_their_exit_codes() {
    let tmp = tempfile::tempdir().expect("tmp");
    let catalog = catalog(tmp.path(), 1, 1, &[]);
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let url = format!("nats://user:pa55word@127.0.0.1:{port}");
    let o: Output = bin()
        .args(["status", "--nats", &url])
        .output()
        .expect("status");
    assert_eq!(o.status.code(), Some(10));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(!err.contains("pa55word"), "{err}");
    let o = bin()
        .args(["submit", s(&catalog), "--out", "out"])
        .env_remove("NATS_URL")
        .output()
        .expect("submit");
    assert_eq!(o.status.code(), Some(2), "no --nats");
    let o = bin()
        .args(["submit", s(&catalog), "--out", "out", "--ladder", "fast"])
        .env("NATS_URL", &url)
        .output()
        .expect("submit");
    assert_eq!(
        o.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("catalog.csv:2"),
        "the row is named: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}
