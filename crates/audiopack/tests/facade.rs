//! The library as backends use it: the Job builder, events, cancellation
//! in every pass, custom stores, `S3Store::from_client`, and `run()` on a
//! current-thread runtime — all through the public API, never the binary.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use audiopack::{
    Body, CancellationToken, Error, ErrorKind, Event, Existing, Input, Job, ObjectStore, Output,
    Phase, PublishError, PutObject, S3Store,
};
use audiopack_testkit::S3Server;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(name)
}

/// A stereo 16-bit 44.1 kHz WAV of `seconds` of pseudo-random noise at
/// about -12 dBFS, written by hand (no ffmpeg needed).
fn noise_wav(path: &Path, seconds: u32) {
    noise_wav_at(path, seconds, 4);
}

/// [`noise_wav`] with samples divided by `divisor` (4: about -12 dBFS
/// peaks; 16: about -24).
fn noise_wav_at(path: &Path, seconds: u32, divisor: i16) {
    let rate = 44_100u32;
    let frames = rate * seconds;
    let data_len = frames * 4;
    let mut bytes = Vec::with_capacity(44 + data_len as usize);
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&(36 + data_len).to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    bytes.extend_from_slice(&16u32.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes());
    bytes.extend_from_slice(&2u16.to_le_bytes());
    bytes.extend_from_slice(&rate.to_le_bytes());
    bytes.extend_from_slice(&(rate * 4).to_le_bytes());
    bytes.extend_from_slice(&4u16.to_le_bytes());
    bytes.extend_from_slice(&16u16.to_le_bytes());
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&data_len.to_le_bytes());
    let mut state = 0x1234_5678u32;
    for _ in 0..frames * 2 {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let sample = ((state >> 16) as i16) / divisor;
        bytes.extend_from_slice(&sample.to_le_bytes());
    }
    std::fs::write(path, bytes).expect("write wav");
}

/// Collects every event.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Event>>>);

impl Recorder {
    fn events(&self) -> Vec<Event> {
        self.0.lock().expect("lock").clone()
    }
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn events_arrive_in_order_with_monotonic_progress() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("demo");
    let recorder = Recorder::default();
    let sink = recorder.clone();
    let report = Job::builder()
        .input(Input::path(fixture("demo.flac")))
        .output(Output::dir(&out))
        .on_event(move |e| sink.0.lock().expect("lock").push(e.clone()))
        .build()
        .expect("valid job")
        .run_blocking()
        .expect("job");
    let events = recorder.events();
    let frames = 20 * 44_100;

    // Two passes, in order, each with progress that only grows and ends
    // on the whole input.
    let starts: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::PhaseStarted {
                phase,
                pass,
                passes,
                total_frames,
            } => Some((*phase, *pass, *passes, *total_frames)),
            _ => None,
        })
        .collect();
    assert_eq!(
        starts,
        vec![
            (Phase::Measure, 1, 2, Some(frames)),
            (Phase::Encode, 2, 2, Some(frames))
        ]
    );
    let mut current = None;
    let mut last = 0;
    let mut finals = Vec::new();
    for e in &events {
        match e {
            Event::PhaseStarted { phase, .. } => {
                if current.is_some() {
                    finals.push(last);
                }
                current = Some(*phase);
                last = 0;
            }
            Event::Progress {
                phase, frames_done, ..
            } => {
                assert_eq!(Some(*phase), current, "progress of the current pass");
                assert!(*frames_done >= last, "{frames_done} after {last}");
                last = *frames_done;
            }
            _ => {}
        }
    }
    finals.push(last);
    assert_eq!(finals, vec![frames, frames]);

    // Renditions after the last pass, then done, last of all.
    let renditions: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            Event::RenditionFinished { name, .. } => Some(name.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        renditions,
        ["opus_64k", "opus_96k", "opus_128k", "opus_160k", "flac"]
    );
    let first_rendition = events
        .iter()
        .position(|e| matches!(e, Event::RenditionFinished { .. }))
        .expect("renditions");
    let last_progress = events
        .iter()
        .rposition(|e| matches!(e, Event::Progress { .. }))
        .expect("progress");
    assert!(first_rendition > last_progress);
    assert!(matches!(events.last(), Some(Event::Done { .. })));
    assert_eq!(report.ingest.input.frames, frames);
    assert!(out.join("master.m3u8").is_file());
    assert!(report.publish.is_none());
}

/// Cancels when `phase` starts (after `blocks` progress events of it) and
/// checks the job stops within 0.5 s leaving nothing at the output.
fn cancel_during(phase: Phase, input: Input, limiter: bool) {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("pkg");
    let token = CancellationToken::new();
    let cancelled_at = Arc::new(Mutex::new(None::<Instant>));
    let (t, at) = (token.clone(), Arc::clone(&cancelled_at));
    let seen = Arc::new(AtomicUsize::new(0));
    let seen_in = Arc::clone(&seen);
    let job = Job::builder()
        .input(input)
        .output(Output::dir(&out))
        .limiter(limiter)
        .on_event(move |e| {
            if let Event::Progress { phase: p, .. } = e
                && *p == phase
                && seen_in.fetch_add(1, Ordering::SeqCst) == 1
            {
                *at.lock().expect("lock") = Some(Instant::now());
                t.cancel();
            }
        })
        .cancel(token)
        .build()
        .expect("valid job");
    let err = job.run_blocking().expect_err("cancelled");
    let returned = Instant::now();
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
    let at = cancelled_at
        .lock()
        .expect("lock")
        .expect("the phase ran and was cancelled");
    let took = returned - at;
    assert!(
        took < Duration::from_millis(500),
        "{phase:?}: returned {took:?} after cancel"
    );
    assert!(!out.exists(), "nothing at the output");
    assert!(
        entries(tmp.path()).is_empty(),
        "no staging left: {:?}",
        entries(tmp.path())
    );
}

#[test]
fn cancel_stops_the_measure_pass() {
    let tmp = tempfile::tempdir().expect("tmp");
    let wav = tmp.path().join("noise.wav");
    noise_wav(&wav, 120);
    cancel_during(Phase::Measure, Input::path(&wav), false);
}

#[test]
fn cancel_stops_the_encode_pass() {
    let tmp = tempfile::tempdir().expect("tmp");
    let wav = tmp.path().join("noise.wav");
    noise_wav(&wav, 120);
    cancel_during(Phase::Encode, Input::path(&wav), false);
}

#[test]
fn cancel_stops_the_limiter_dry_runs() {
    // A quiet master with sparse full-scale peaks: reaching -14 LUFS needs
    // the limiter, so calibration and peak-check passes run.
    let peaky = fixture("quiet_peaky_s16_44100.wav");
    cancel_during(Phase::LimiterCalibration, Input::path(&peaky), true);
    cancel_during(Phase::PeakCheck, Input::path(&peaky), true);
}

#[test]
fn a_reader_is_opened_once_per_pass_and_named_by_its_label() {
    let bytes = Arc::new(std::fs::read(fixture("demo.flac")).expect("demo"));
    let opened = Arc::new(AtomicUsize::new(0));
    let (b, o) = (Arc::clone(&bytes), Arc::clone(&opened));
    let tmp = tempfile::tempdir().expect("tmp");
    let report = Job::builder()
        .input(Input::reader("upload-7f3a", move || {
            o.fetch_add(1, Ordering::SeqCst);
            Ok(Cursor::new(b.as_ref().clone()))
        }))
        .output(Output::dir(tmp.path().join("pkg")))
        .build()
        .expect("valid")
        .run_blocking()
        .expect("job");
    assert_eq!(opened.load(Ordering::SeqCst), 2, "measure + encode");
    assert_eq!(
        report.ingest.input.sha256, None,
        "a reader is not read a third time"
    );
    assert_eq!(report.ingest.input.path, Path::new("upload-7f3a"));

    // A broken one: bad input, named by the label.
    let err = Job::builder()
        .input(Input::reader("upload-broken", || {
            Ok(Cursor::new(
                b"RIFF\x24\x00\x00\x00WAVEjunkjunkjunk".to_vec(),
            ))
        }))
        .output(Output::dir(tmp.path().join("broken")))
        .build()
        .expect("valid")
        .run_blocking()
        .expect_err("bad input");
    assert!(
        matches!(err.kind(), ErrorKind::BadInput | ErrorKind::Unsupported),
        "{err}"
    );
    assert!(err.to_string().contains("upload-broken"), "{err}");
    assert!(!tmp.path().join("broken").exists());
}

#[test]
fn invalid_settings_are_typed_config_errors() {
    let build = |b: audiopack::JobBuilder| {
        b.input(Input::path(fixture("demo.flac")))
            .output(Output::dir("unused"))
            .build()
            .expect_err("invalid")
    };
    let e = build(Job::builder().target_lufs(-80.0));
    assert_eq!(e.kind(), ErrorKind::Config);
    let c = e.config().expect("typed");
    assert_eq!((c.field, c.value.as_str()), ("target_lufs", "-80"));
    assert!(c.expected.contains("-70"), "{c}");

    let e = build(Job::builder().segment_duration(Duration::from_millis(2010)));
    assert_eq!(e.config().map(|c| c.field), Some("segment_duration"));
    let e = build(Job::builder().ladder("64,abc"));
    assert_eq!(e.config().map(|c| c.field), Some("ladder"));
    let e = build(Job::builder().true_peak_ceiling(3.0));
    assert_eq!(e.config().map(|c| c.field), Some("true_peak_ceiling"));
    let e = build(Job::builder().threads(0));
    assert_eq!(e.config().map(|c| c.field), Some("threads"));

    let e = Job::builder()
        .input(Input::s3("s3://b/"))
        .output(Output::dir("x"))
        .build()
        .expect_err("no object");
    assert_eq!(e.config().map(|c| c.field), Some("input"));
    let e = Job::builder()
        .input(Input::path(fixture("demo.flac")))
        .build()
        .expect_err("no output");
    assert_eq!(e.config().map(|c| c.field), Some("output"));
}

#[test]
fn key_errors_say_whether_asking_again_can_help() {
    let tmp = tempfile::tempdir().expect("tmp");
    let build = |keys: audiopack::Keys| {
        Job::builder()
            .input(Input::path(fixture("demo.flac")))
            .output(Output::dir(tmp.path().join("out")))
            .encryption(audiopack::Encryption::new(
                audiopack::EncryptionScheme::Cbcs,
                keys,
            ))
            .build()
            .expect_err("bad keys")
    };
    // A key file that is not there (yet): may pass.
    let missing = build(audiopack::Keys::File(tmp.path().join("missing.json")));
    assert_eq!(missing.kind(), ErrorKind::Keys, "{missing}");
    assert!(missing.keys_unavailable(), "{missing}");
    // Keys that are wrong: will not.
    let bad = tmp.path().join("keys.json");
    std::fs::write(&bad, r#"{"keys":[{"kid":"not hex","key":"00"}]}"#).expect("write");
    let invalid = build(audiopack::Keys::File(bad));
    assert_eq!(invalid.kind(), ErrorKind::Keys, "{invalid}");
    assert!(!invalid.keys_unavailable(), "{invalid}");
    // Other kinds are never "keys unavailable".
    let config = Job::builder()
        .input(Input::path(fixture("demo.flac")))
        .output(Output::dir(tmp.path().join("out")))
        .threads(0)
        .build()
        .expect_err("config");
    assert!(!config.keys_unavailable());
}

#[test]
fn runtime_misuse_is_a_typed_error_not_a_panic() {
    let tmp = tempfile::tempdir().expect("tmp");
    let job = || {
        Job::builder()
            .input(Input::path(fixture("demo.flac")))
            .output(Output::dir(tmp.path().join("x")))
            .build()
            .expect("valid")
    };
    // run_blocking inside a runtime.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let err = rt
        .block_on(async { job().run_blocking() })
        .expect_err("misuse");
    assert_eq!(err.kind(), ErrorKind::Config);
    assert_eq!(err.config().map(|c| c.field), Some("runtime"));
    // run() polled without a tokio runtime.
    let mut future = Box::pin(job().run());
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(Err(e)) => assert_eq!(e.kind(), ErrorKind::Config),
        other => panic!(
            "expected a config error at once, got {:?}",
            other.is_ready()
        ),
    }
    assert!(!tmp.path().join("x").exists());
}

#[test]
fn run_keeps_a_current_thread_runtime_ticking() {
    let tmp = tempfile::tempdir().expect("tmp");
    let wav = tmp.path().join("noise.wav");
    noise_wav(&wav, 60);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let (ticks, elapsed) = rt.block_on(async {
        let ticks = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&ticks);
        let ticker = tokio::spawn(async move {
            let mut interval = tokio::time::interval(Duration::from_millis(10));
            loop {
                interval.tick().await;
                counter.fetch_add(1, Ordering::SeqCst);
            }
        });
        let started = Instant::now();
        let job = Job::builder()
            .input(Input::path(&wav))
            .output(Output::dir(tmp.path().join("pkg")))
            .build()
            .expect("valid");
        job.run().await.expect("job");
        let elapsed = started.elapsed();
        ticker.abort();
        (ticks.load(Ordering::SeqCst), elapsed)
    });
    // A blocked runtime would tick once or twice; a free one ~every 10 ms.
    let expected = elapsed.as_millis() as usize / 10;
    assert!(elapsed > Duration::from_millis(300), "{elapsed:?}");
    assert!(ticks * 2 >= expected, "{ticks} ticks in {elapsed:?}");
}

/// An embedder's own store: objects in memory, with the order of writes.
#[derive(Default)]
struct MemoryStore {
    objects: Mutex<BTreeMap<String, Vec<u8>>>,
    order: Mutex<Vec<String>>,
    preflights: AtomicUsize,
}

#[audiopack::async_trait]
impl ObjectStore for MemoryStore {
    fn describe(&self, relative: &str) -> String {
        format!("mem://{relative}")
    }

    async fn preflight(&self, _write: bool) -> Result<(), PublishError> {
        self.preflights.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    async fn head(&self, relative: &str) -> Result<Option<Existing>, PublishError> {
        Ok(self
            .objects
            .lock()
            .expect("lock")
            .get(relative)
            .map(|b| Existing {
                size: b.len() as u64,
                sha256: Some(audiopack::sha256_hex(b)),
                etag: None,
            }))
    }

    async fn put(&self, object: PutObject<'_>) -> Result<(), PublishError> {
        let bytes = match object.body {
            Body::Bytes(b) => b.to_vec(),
            Body::File { path, .. } => tokio::fs::read(path).await.expect("spooled file"),
        };
        self.order
            .lock()
            .expect("lock")
            .push(object.relative.to_string());
        self.objects
            .lock()
            .expect("lock")
            .insert(object.relative.to_string(), bytes);
        Ok(())
    }

    async fn delete(&self, relative: &str) -> Result<(), PublishError> {
        self.objects.lock().expect("lock").remove(relative);
        Ok(())
    }
}

#[test]
fn a_custom_store_gets_the_package_media_first_report_last() {
    let store = Arc::new(MemoryStore::default());
    let recorder = Recorder::default();
    let sink = recorder.clone();
    let report = Job::builder()
        .input(Input::path(fixture("demo.flac")))
        .output(Output::store(store.clone()))
        .on_event(move |e| sink.0.lock().expect("lock").push(e.clone()))
        .build()
        .expect("valid")
        .run_blocking()
        .expect("job");
    let order = store.order.lock().expect("lock").clone();
    let position = |name: &str| order.iter().position(|k| k == name).expect(name);
    let last_media = order
        .iter()
        .rposition(|k| k.ends_with(".m4s") || k.ends_with(".mp4"))
        .expect("media");
    assert!(last_media < position("opus_64k.m3u8"));
    assert!(position("opus_64k.m3u8") < position("master.m3u8"));
    assert!(position("master.m3u8") < position("report.json"));
    assert_eq!(order.last().map(String::as_str), Some("report.json"));
    assert_eq!(store.preflights.load(Ordering::SeqCst), 1);
    // A batch that checked the destination itself skips the job's check;
    // an identical rerun writes nothing.
    let again = Job::builder()
        .input(Input::path(fixture("demo.flac")))
        .output(Output::store(store.clone()))
        .preflighted(true)
        .build()
        .expect("valid")
        .run_blocking()
        .expect("rerun");
    assert_eq!(store.preflights.load(Ordering::SeqCst), 1);
    assert_eq!(again.publish.as_ref().map(|p| p.objects_written), Some(0));
    let objects = store.objects.lock().expect("lock");
    let stored: serde_json::Value =
        serde_json::from_slice(&objects["report.json"]).expect("report json");
    assert_eq!(stored["schema_version"], 1);
    assert!(stored["publish"]["objects_written"].as_u64() > Some(10));
    // Every file of the package is there, with its listed size.
    for f in &report.ingest.files {
        assert_eq!(
            objects.get(&f.path).map(|b| b.len() as u64),
            Some(f.bytes),
            "{}",
            f.path
        );
    }
    let published = report.publish.as_ref().expect("publish section");
    let stored_events = recorder
        .events()
        .iter()
        .filter(|e| matches!(e, Event::ObjectStored { .. }))
        .count();
    assert_eq!(stored_events, published.objects.len() + 1, "+ report.json");
}

#[test]
fn s3_store_from_an_existing_client() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server =
        S3Server::start(&tmp.path().join("s3"), "AKIAFACADE", "facade-secret").expect("server");
    server.create_bucket("origin").expect("bucket");
    let endpoint = server.endpoint();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("rt");
    let report = rt.block_on(async {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .endpoint_url(&endpoint)
            .force_path_style(true)
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                "AKIAFACADE",
                "facade-secret",
                None,
                None,
                "test",
            ))
            .build();
        let client = aws_sdk_s3::Client::from_conf(config);
        let store = S3Store::from_client(client, "origin", "catalog/demo/").expect("store");
        Job::builder()
            .input(Input::path(fixture("demo.flac")))
            .output(Output::store(Arc::new(store)))
            .build()
            .expect("valid")
            .run()
            .await
            .expect("job")
    });
    let keys = server.list_keys("origin");
    for name in [
        "master.m3u8",
        "manifest.mpd",
        "report.json",
        "opus_64k/init.mp4",
    ] {
        assert!(
            keys.contains(&format!("catalog/demo/{name}")),
            "{name} in {keys:?}"
        );
    }
    let published = report.publish.expect("publish section");
    assert!(
        published
            .destination
            .starts_with("s3://origin/catalog/demo/")
    );
}

#[test]
fn cancelling_an_s3_job_mid_upload_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().expect("tmp");
    let server =
        S3Server::start(&tmp.path().join("s3"), "AKIAFACADE", "facade-secret").expect("server");
    server.create_bucket("origin").expect("bucket");
    let wav = tmp.path().join("noise.wav");
    noise_wav(&wav, 90);
    let spool = tmp.path().join("spool");
    std::fs::create_dir(&spool).expect("spool");
    let token = CancellationToken::new();
    let t = token.clone();
    let at = Arc::new(Mutex::new(None::<Instant>));
    let at_in = Arc::clone(&at);
    let job = Job::builder()
        .input(Input::path(&wav))
        .output(Output::s3("s3://origin/cancelled/"))
        .storage(audiopack::S3Options {
            endpoint_url: Some(server.endpoint()),
            credentials: Some(audiopack::S3Credentials {
                access_key_id: "AKIAFACADE".into(),
                secret_access_key: "facade-secret".into(),
                session_token: None,
            }),
            ..audiopack::S3Options::default()
        })
        .spool_dir(&spool)
        .on_event(move |e| {
            if let Event::ObjectStored { .. } = e {
                let mut at = at_in.lock().expect("lock");
                if at.is_none() {
                    *at = Some(Instant::now());
                    t.cancel();
                }
            }
        })
        .cancel(token)
        .build()
        .expect("valid");
    let err: Error = job.run_blocking().expect_err("cancelled");
    let returned = Instant::now();
    assert_eq!(err.kind(), ErrorKind::Cancelled, "{err}");
    let at = at
        .lock()
        .expect("lock")
        .expect("an object was stored first");
    assert!(
        returned - at < Duration::from_millis(500),
        "{:?}",
        returned - at
    );
    let keys = server.list_keys("origin");
    assert!(keys.is_empty(), "objects left: {keys:?}");
    assert!(
        entries(&spool).is_empty(),
        "spool left: {:?}",
        entries(&spool)
    );
}

#[test]
fn the_report_round_trips_and_matches_the_shipped_schema() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("demo");
    let report = Job::builder()
        .input(Input::path(fixture("demo.flac")))
        .output(Output::dir(&out))
        .build()
        .expect("valid")
        .run_blocking()
        .expect("job");
    let text = serde_json::to_string(&report).expect("json");
    let back: audiopack::JobReport = serde_json::from_str(&text).expect("deserialize");
    assert_eq!(serde_json::to_string(&back).expect("json"), text);
    // report.json on disk reads back as a JobReport too.
    let on_disk: audiopack::JobReport =
        serde_json::from_slice(&std::fs::read(out.join("report.json")).expect("report"))
            .expect("report.json is a JobReport");
    assert_eq!(
        on_disk.ingest.schema_version,
        audiopack::REPORT_SCHEMA_VERSION
    );
    assert_eq!(
        on_disk.ingest.package.as_ref().map(|p| p.layout),
        Some(audiopack::Layout::Segments)
    );

    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/report.schema.json");
    let generated = audiopack::JobReport::json_schema();
    if std::env::var_os("AUDIOPACK_WRITE_SCHEMA").is_some() {
        let mut text = serde_json::to_string_pretty(&generated).expect("schema");
        text.push('\n');
        std::fs::write(&path, text).expect("write the schema");
    }
    let shipped: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("docs/report.schema.json"))
            .expect("schema json");
    assert!(
        shipped == generated,
        "docs/report.schema.json is stale: regenerate it with \
         AUDIOPACK_WRITE_SCHEMA=1 cargo test -p audiopack --test facade"
    );
    // The schema describes what we write: its required top-level fields
    // are all in the report.
    let value = serde_json::to_value(&report).expect("json");
    for field in generated["required"].as_array().expect("required") {
        let field = field.as_str().expect("name");
        assert!(value.get(field).is_some(), "{field}");
    }
}

#[test]
fn the_report_records_the_input_and_settings_digests() {
    let tmp = tempfile::tempdir().expect("tmp");
    let demo = fixture("demo.flac");
    let job = Job::builder()
        .input(Input::path(&demo))
        .output(Output::dir(tmp.path().join("a")))
        .build()
        .expect("valid");
    let digest = job.settings_digest();
    let report = job.run_blocking().expect("job");
    assert_eq!(
        report.ingest.settings_digest.as_deref(),
        Some(digest.as_str())
    );
    // The input digest against an outside tool.
    let out = std::process::Command::new("sha256sum")
        .arg(&demo)
        .output()
        .expect("sha256sum");
    let theirs = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string();
    assert_eq!(theirs.len(), 64);
    assert_eq!(report.ingest.input.sha256.as_deref(), Some(theirs.as_str()));
    // A setting that shapes the package changes the digest; a limit does not.
    let other = |b: audiopack::JobBuilder| {
        b.input(Input::path(&demo))
            .output(Output::dir("unused"))
            .build()
            .expect("valid")
            .settings_digest()
    };
    assert_ne!(other(Job::builder().target_lufs(-16.0)), digest);
    assert_ne!(other(Job::builder().ladder("64,96")), digest);
    assert_eq!(other(Job::builder().threads(1)), digest);
}

/// Integrated loudness of the files played one after the other, by
/// ffmpeg's ebur128 filter.
fn ffmpeg_integrated_concat(files: &[&Path]) -> f64 {
    let mut cmd = std::process::Command::new("ffmpeg");
    cmd.args(["-nostdin", "-hide_banner"]);
    for f in files {
        cmd.arg("-i").arg(f);
    }
    let inputs: String = (0..files.len()).map(|i| format!("[{i}:a]")).collect();
    cmd.args([
        "-filter_complex",
        &format!("{inputs}concat=n={}:v=0:a=1,ebur128", files.len()),
        "-f",
        "null",
        "-",
    ]);
    let out = cmd.output().expect("ffmpeg");
    let text = String::from_utf8_lossy(&out.stderr);
    let summary = text.rsplit("Summary:").next().unwrap_or_default();
    summary
        .lines()
        .find_map(|l| {
            let l = l.trim();
            l.strip_prefix("I:")
                .and_then(|v| v.trim().trim_end_matches("LUFS").trim().parse().ok())
        })
        .unwrap_or_else(|| panic!("no integrated loudness in ffmpeg's output: {text}"))
}

#[test]
fn album_gain_is_one_gain_from_all_tracks_together() {
    let tmp = tempfile::tempdir().expect("tmp");
    let loud = tmp.path().join("loud.wav");
    let quiet = tmp.path().join("quiet.wav");
    noise_wav_at(&loud, 12, 4);
    noise_wav_at(&quiet, 20, 16);
    let job = |input: &Path, out: &str| {
        Job::builder()
            .input(Input::path(input))
            .output(Output::dir(tmp.path().join(out)))
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("rt");
    let (ml, mq, normalize) = rt.block_on(async {
        let a = job(&loud, "loud").build().expect("valid");
        let b = job(&quiet, "quiet").build().expect("valid");
        let ml = a.measure().await.expect("measure loud");
        let mq = b.measure().await.expect("measure quiet");
        (ml, mq, *a.normalize())
    });
    let gain = audiopack::album_gain(&[&ml, &mq], &normalize).expect("album gain");
    let album = gain.integrated_lufs.expect("not silent");
    let theirs = ffmpeg_integrated_concat(&[&loud, &quiet]);
    assert!(
        (album - theirs).abs() < 0.3,
        "album {album:.2} LUFS, ffmpeg over the concatenation {theirs:.2}"
    );
    assert!(!gain.peak_capped);
    assert!((gain.gain_db - (-14.0 - album)).abs() < 1e-9);
    let own_loud = ml.loudness().integrated_lufs.expect("loud");
    let own_quiet = mq.loudness().integrated_lufs.expect("quiet");
    assert!(own_loud - own_quiet > 10.0, "{own_loud} vs {own_quiet}");

    let mut outputs = Vec::new();
    for (input, measured, out) in [(&loud, ml, "loud"), (&quiet, mq, "quiet")] {
        let recorder = Recorder::default();
        let sink = recorder.clone();
        let report = job(input, out)
            .album(gain, measured)
            .on_event(move |e| sink.0.lock().expect("lock").push(e.clone()))
            .build()
            .expect("valid")
            .run_blocking()
            .expect("album track");
        let l = &report.ingest.loudness;
        assert_eq!(l.album, Some(gain));
        assert_eq!(l.gain.gain_db, gain.gain_db);
        assert_eq!(l.gain.reason, audiopack::report_types::GainReason::Album);
        // Pass 1 was the album's: the track is decoded once more, no more.
        let passes: Vec<Phase> = recorder
            .events()
            .iter()
            .filter_map(|e| match e {
                Event::PhaseStarted { phase, .. } => Some(*phase),
                _ => None,
            })
            .collect();
        assert_eq!(passes, vec![Phase::Encode]);
        outputs.push(l.output.integrated_lufs.expect("output loudness"));
    }
    // One gain: the tracks keep their difference in loudness.
    let kept = outputs[0] - outputs[1];
    assert!(
        (kept - (own_loud - own_quiet)).abs() < 0.3,
        "difference {kept:.2} LU after, {:.2} before",
        own_loud - own_quiet
    );
}
