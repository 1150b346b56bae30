//! Shared helpers for the CLI tests: the real binary, the fixtures, and
//! ffmpeg/ffprobe as the outside oracle. The README's test command installs
//! ffmpeg; a missing oracle fails the test loudly instead of skipping it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_audiopack"))
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(name)
}

pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("running audiopack")
}

/// Runs audiopack, asserts success, parses stdout as JSON.
pub fn run_json(args: &[&str]) -> serde_json::Value {
    let out = run(args);
    assert!(
        out.status.success(),
        "audiopack {args:?} failed ({:?}): {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON on stdout")
}

/// Runs `audiopack ingest INPUT --out OUT EXTRA… --json`, asserts success,
/// returns the report.
pub fn ingest_json(input: &Path, out: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "ingest",
        input.to_str().expect("utf8"),
        "--out",
        out.to_str().expect("utf8"),
        "--json",
    ];
    args.extend_from_slice(extra);
    run_json(&args)
}

fn tool(name: &str) -> Command {
    let probe = Command::new(name).arg("-version").output();
    assert!(
        probe.is_ok_and(|o| o.status.success()),
        "{name} is required by the tests: run scripts/test.sh, which installs it"
    );
    Command::new(name)
}

/// Decodes any file with ffmpeg to interleaved f32; returns (samples, channels).
pub fn ffmpeg_decode(path: &Path) -> (Vec<f32>, usize) {
    let channels = ffprobe_stream(path, "channels")
        .parse::<usize>()
        .expect("channels");
    let out = tool("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args(["-f", "f32le", "-"])
        .output()
        .expect("ffmpeg");
    assert!(
        out.status.success(),
        "ffmpeg could not decode {}",
        path.display()
    );
    let samples = out
        .stdout
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    (samples, channels)
}

/// Frames per channel ffmpeg decodes from a file.
pub fn ffmpeg_frames(path: &Path) -> u64 {
    let (samples, channels) = ffmpeg_decode(path);
    (samples.len() / channels) as u64
}

/// One field of the first audio stream, as ffprobe prints it.
pub fn ffprobe_stream(path: &Path, field: &str) -> String {
    let out = tool("ffprobe")
        .args(["-v", "error", "-select_streams", "a:0", "-show_entries"])
        .arg(format!("stream={field}"))
        .args(["-of", "csv=p=0"])
        .arg(path)
        .output()
        .expect("ffprobe");
    // Manifests (HLS, DASH) also print program entries: take the first value.
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default()
        .to_string()
}

/// ffmpeg's `ebur128` filter's view of a file (optionally after a filter
/// such as a downmix): integrated LUFS, LRA, true peak dBTP, sample peak dBFS.
#[derive(Debug, Clone, Copy)]
pub struct Loudness {
    pub integrated: f64,
    pub range: f64,
    pub true_peak: f64,
    pub sample_peak: f64,
}

pub fn ffmpeg_loudness(path: &Path, pre_filter: Option<&str>) -> Loudness {
    let meta = tempfile::NamedTempFile::new().expect("temp file");
    let filter = format!(
        "{}ebur128=metadata=1:peak=true+sample,ametadata=mode=print:file={}",
        pre_filter.map(|f| format!("{f},")).unwrap_or_default(),
        meta.path().display()
    );
    let out = tool("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args(["-af", &filter, "-f", "null", "-"])
        .output()
        .expect("ffmpeg");
    assert!(
        out.status.success(),
        "ffmpeg ebur128 failed on {}",
        path.display()
    );
    let text = std::fs::read_to_string(meta.path()).expect("metadata file");
    let mut l = Loudness {
        integrated: f64::NEG_INFINITY,
        range: 0.0,
        true_peak: 0.0,
        sample_peak: 0.0,
    };
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let Ok(v) = value.parse::<f64>() else {
            continue;
        };
        match key {
            "lavfi.r128.I" => l.integrated = v,
            "lavfi.r128.LRA" => l.range = v,
            "lavfi.r128.true_peak" => l.true_peak = l.true_peak.max(v),
            "lavfi.r128.sample_peak" => l.sample_peak = l.sample_peak.max(v),
            _ => {}
        }
    }
    l.true_peak = 20.0 * l.true_peak.log10();
    l.sample_peak = 20.0 * l.sample_peak.log10();
    l
}

/// round(n · 48000 / rate), the exact length every rendition must have.
pub fn len_at_48k(frames: u64, rate: u64) -> u64 {
    (frames * 48_000 + rate / 2) / rate
}

/// No staging directory (`.NAME.audiopack-PID`) left next to `out`.
pub fn assert_no_staging_left(out: &Path) {
    let parent = out.parent().expect("parent");
    let leftovers: Vec<_> = std::fs::read_dir(parent)
        .expect("read parent")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().contains(".audiopack-"))
        .collect();
    assert!(leftovers.is_empty(), "staging left behind: {leftovers:?}");
}

/// A 96 kHz 24-bit master, made here with ffmpeg from the demo.
pub fn hi_res_master(dir: &Path) -> PathBuf {
    let path = dir.join("hi96.wav");
    let status = tool("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-i"])
        .arg(fixture("demo.flac"))
        .args(["-t", "8", "-ar", "96000", "-c:a", "pcm_s24le"])
        .arg(&path)
        .status()
        .expect("ffmpeg");
    assert!(status.success());
    path
}

/// Generates a WAV with ffmpeg from a lavfi source (`aevalsrc=…`,
/// `anoisesrc=…`), e.g. `-ac 2 -c:a pcm_s24le` in `args`.
pub fn ffmpeg_generate(lavfi: &str, args: &[&str], path: &Path) {
    let status = tool("ffmpeg")
        .args(["-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", lavfi])
        .args(args)
        .arg(path)
        .status()
        .expect("ffmpeg");
    assert!(status.success(), "ffmpeg could not generate {lavfi}");
}

/// `audiopack` with nothing from the machine's AWS setup (profile,
/// endpoints, credentials, proxies) and no credentials: add a key pair
/// with [`with_keys`] to sign.
pub fn s3_isolated() -> Command {
    let mut c = bin();
    for var in [
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_SESSION_TOKEN",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
    ] {
        c.env_remove(var);
    }
    c.env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent/audiopack-test")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/audiopack-test")
        .env("NO_PROXY", "127.0.0.1,localhost");
    c
}

/// Signs `command` with this key pair.
pub fn with_keys(mut command: Command, access_key: &str, secret: &str) -> Command {
    command
        .env("AWS_ACCESS_KEY_ID", access_key)
        .env("AWS_SECRET_ACCESS_KEY", secret);
    command
}

/// `seconds` of stereo 24-bit noise at `rate` Hz, `dir/noise.wav` (FLAC
/// cannot shrink it: big lossless objects for the multipart path).
pub fn noise_master(dir: &Path, seconds: u32, rate: u32) -> PathBuf {
    let path = dir.join("noise.wav");
    // Two independent channels: a mono noise copied to both would halve
    // in FLAC (libFLAC codes the side channel as silence).
    let noise = |seed: u32| format!("anoisesrc=r={rate}:a=0.3:d={seconds}:s={seed}");
    ffmpeg_generate(
        &format!(
            "{}[l];{}[r];[l][r]amerge=inputs=2[out0]",
            noise(7),
            noise(8)
        ),
        &["-c:a", "pcm_s24le"],
        &path,
    );
    path
}

/// The test S3 server over `dir/s3`, accepting this key pair, with `bucket`.
pub fn s3_server(
    dir: &Path,
    access_key: &str,
    secret: &str,
    bucket: &str,
) -> audiopack_testkit::S3Server {
    let server =
        audiopack_testkit::S3Server::start(&dir.join("s3"), access_key, secret).expect("server");
    server.create_bucket(bucket).expect("bucket");
    server
}

/// Where `key` of `bucket` lives in the test server's directory, its parent
/// made: write or copy the object there.
fn s3_object_path(server: &audiopack_testkit::S3Server, bucket: &str, key: &str) -> PathBuf {
    let path = server.object_path(bucket, key);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    path
}

/// Uploads the local file `from` as `key` of `bucket` (a copy into the test
/// server's directory).
pub fn s3_upload_file(server: &audiopack_testkit::S3Server, bucket: &str, key: &str, from: &Path) {
    std::fs::copy(from, s3_object_path(server, bucket, key)).expect("upload");
}

/// Uploads `bytes` as `key` of `bucket` (written into the test server's
/// directory).
pub fn s3_upload_bytes(
    server: &audiopack_testkit::S3Server,
    bucket: &str,
    key: &str,
    bytes: &[u8],
) {
    std::fs::write(s3_object_path(server, bucket, key), bytes).expect("upload");
}

/// Runs `command` with `args` and `--endpoint-url ENDPOINT`.
pub fn run_at(mut command: Command, endpoint: &str, args: &[&str]) -> Output {
    command
        .args(args)
        .args(["--endpoint-url", endpoint])
        .output()
        .expect("running audiopack")
}

/// `command` (an [`s3_isolated`] one) as `ingest INPUT --out OUT
/// --endpoint-url ENDPOINT` with its working files in `tmpdir`.
pub fn s3_ingest(
    mut command: Command,
    tmpdir: &Path,
    input: &str,
    out: &str,
    endpoint: &str,
) -> Command {
    command
        .env("TMPDIR", tmpdir)
        .args(["ingest", input, "--out", out, "--endpoint-url", endpoint]);
    command
}

/// `dir` holds a complete package: every file its `report.json` lists,
/// with the listed size, and the HLS and DASH entry points.
pub fn assert_complete_package(dir: &Path) {
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).expect("report.json"))
            .expect("report");
    let files = report["files"].as_array().expect("files");
    assert!(!files.is_empty(), "{}: no files listed", dir.display());
    for f in files {
        let path = dir.join(f["path"].as_str().expect("path"));
        let len = std::fs::metadata(&path)
            .unwrap_or_else(|_| panic!("{} missing", path.display()))
            .len();
        assert_eq!(Some(len), f["bytes"].as_u64(), "{}", path.display());
    }
    assert!(dir.join("master.m3u8").is_file());
    assert!(dir.join("manifest.mpd").is_file());
}

/// Shaka Packager's binary (the `shaka-packager` npm package): the
/// independent decryptor of the encryption tests.
pub fn packager() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../players/node_modules/shaka-packager/bin/packager-linux-x64");
    assert!(
        path.is_file(),
        "{} is missing: run scripts/test.sh (npm ci in players/)",
        path.display()
    );
    path
}

/// The init segment followed by every media segment, in order, for one
/// rendition of a package (either layout).
pub fn whole_track(pkg: &Path, rendition: &str) -> Vec<u8> {
    let single = pkg.join(format!("{rendition}.mp4"));
    if single.is_file() {
        return std::fs::read(single).expect("single file");
    }
    let dir = pkg.join(rendition);
    let mut bytes = std::fs::read(dir.join("init.mp4")).expect("init");
    for n in 1.. {
        match std::fs::read(dir.join(format!("{n}.m4s"))) {
            Ok(b) => bytes.extend_from_slice(&b),
            Err(_) => break,
        }
    }
    bytes
}

/// Runs Shaka Packager's raw-key decryption of `input` (init + fragments)
/// into `output` (removed first).
pub fn shaka_decrypt(input: &Path, output: &Path, kid: &str, key: &str) -> Output {
    let _ = std::fs::remove_file(output);
    Command::new(packager())
        .arg(format!(
            "in={},stream=audio,output={}",
            input.display(),
            output.display()
        ))
        .args([
            "--enable_raw_key_decryption",
            "--keys",
            &format!("key_id={kid}:key={key}"),
        ])
        .output()
        .expect("packager")
}

/// Runs `players/run.mjs` with `args`; returns its per-case JSON results,
/// its stdout and stderr, and whether it exited 0.
pub fn play(args: &[&std::ffi::OsStr]) -> (Vec<serde_json::Value>, String, String, bool) {
    let players = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../players");
    assert!(
        players.join("node_modules/playwright-core").is_dir(),
        "players/node_modules is missing: run scripts/test.sh (it runs npm ci in players/)"
    );
    let out = Command::new("node")
        .arg(players.join("run.mjs"))
        .args(args)
        .output()
        .expect("node is required: run scripts/test.sh");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let results = stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("result line"))
        .collect();
    (
        results,
        stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.success(),
    )
}

/// Decrypts `encrypted` with Shaka Packager and returns ffmpeg's PCM of the
/// result (s32le, so FLAC's integer samples compare exactly).
pub fn decrypt_and_decode(work: &Path, encrypted: &[u8], kid: &str, key: &str) -> Vec<u8> {
    let input = work.join("enc.mp4");
    let output = work.join("dec.mp4");
    std::fs::write(&input, encrypted).expect("write");
    let out = shaka_decrypt(&input, &output, kid, key);
    assert!(
        out.status.success(),
        "shaka-packager could not decrypt: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    pcm(&output)
}

pub fn pcm(path: &Path) -> Vec<u8> {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "s32le", "-"])
        .output()
        .expect("ffmpeg");
    assert!(
        out.status.success(),
        "ffmpeg: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.stdout.is_empty(), "no samples from {}", path.display());
    out.stdout
}
