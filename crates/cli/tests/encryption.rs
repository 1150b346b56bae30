//! Encrypted packages (`--encrypt cbcs|cenc --keys …`), checked from the
//! outside:
//!
//! * an independent decryptor (Shaka Packager's binary from the
//!   `shaka-packager` npm package, raw-key decryption) turns every
//!   encrypted rendition back into media ffmpeg decodes to exactly the PCM
//!   of the clear package made with the same options: cbcs and cenc, Opus
//!   and FLAC, both layouts, two keys (lossy / lossless);
//! * the init segments carry `enca`/`sinf`/`tenc` and the PSSH boxes, which
//!   parse back (Widevine protobuf, PlayReady header, common-system KIDs);
//! * the manifests reference the keys (EXT-X-KEY / SESSION-KEY,
//!   ContentProtection);
//! * reruns are byte-identical; a canary key never appears in anything the
//!   run wrote or printed, locally or in the bucket;
//! * bad key sources are exit 14 with nothing written; impossible option
//!   combinations are exit 2.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use audiopack_drm::Kid;
use audiopack_drm::pssh::{Pssh, parse_playready_object, parse_widevine};
use audiopack_drm::system::{COMMON_SYSTEM_ID, PLAYREADY_SYSTEM_ID, WIDEVINE_SYSTEM_ID};
use common::*;

const LOSSY_KID: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
const LOSSLESS_KID: &str = "f9e8d7c6b5a493827160f5e4d3c2b1a0";
/// Canary keys: distinctive byte patterns searched for in every output.
const LOSSY_KEY: &str = "c0ffee00deadbeef5a5a5a5a13572468";
const LOSSLESS_KEY: &str = "feedface0badf00d97531357abcdef01";

fn write_keys(dir: &Path, two: bool) -> PathBuf {
    let path = dir.join("keys.json");
    let text = if two {
        format!(
            r#"{{"keys":[{{"kid":"{LOSSY_KID}","key":"{LOSSY_KEY}","tracks":"lossy"}},{{"kid":"{LOSSLESS_KID}","key":"{LOSSLESS_KEY}","tracks":"lossless"}}]}}"#
        )
    } else {
        format!(r#"{{"keys":[{{"kid":"{LOSSY_KID}","key":"{LOSSY_KEY}"}}]}}"#)
    };
    std::fs::write(&path, text).expect("keys");
    path
}

/// A short master (8 s of music-like noise and tones, 44.1 kHz 16-bit).
fn master(dir: &Path) -> PathBuf {
    let path = dir.join("master.wav");
    ffmpeg_generate(
        "sine=f=440:r=44100:d=8,volume=0.3[a];anoisesrc=r=44100:a=0.1:d=8:s=3[b];[a][b]amix=inputs=2",
        &["-ac", "2", "-c:a", "pcm_s16le"],
        &path,
    );
    path
}

fn renditions(pkg: &Path) -> Vec<String> {
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(pkg.join("report.json")).expect("report"))
            .expect("json");
    report["package"]["renditions"]
        .as_array()
        .expect("renditions")
        .iter()
        .map(|r| r["name"].as_str().expect("name").to_string())
        .collect()
}

#[test]
fn decrypted_renditions_decode_to_exactly_the_clear_package() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = master(tmp.path());
    let keys = write_keys(tmp.path(), true);
    let keys = keys.to_str().expect("utf8");
    for layout in ["segments", "single-file"] {
        let clear = tmp.path().join(format!("clear-{layout}"));
        ingest_json(&input, &clear, &["--layout", layout, "--ladder", "64,128"]);
        for scheme in ["cbcs", "cenc"] {
            let pkg = tmp.path().join(format!("{scheme}-{layout}"));
            let report = ingest_json(
                &input,
                &pkg,
                &[
                    "--layout",
                    layout,
                    "--ladder",
                    "64,128",
                    "--encrypt",
                    scheme,
                    "--keys",
                    keys,
                ],
            );
            let protection = &report["protection"];
            assert_eq!(protection["scheme"], scheme, "{protection}");
            let names = renditions(&pkg);
            assert_eq!(names, ["opus_64k", "opus_128k", "flac"]);
            for name in &names {
                let (kid, key) = if name == "flac" {
                    (LOSSLESS_KID, LOSSLESS_KEY)
                } else {
                    (LOSSY_KID, LOSSY_KEY)
                };
                let encrypted = whole_track(&pkg, name);
                let clear_bytes = whole_track(&clear, name);
                assert!(encrypted.len() >= clear_bytes.len(), "{name}");
                assert_ne!(encrypted, clear_bytes, "{scheme} {layout} {name} is clear");
                let decrypted = decrypt_and_decode(tmp.path(), &encrypted, kid, key);
                std::fs::write(tmp.path().join("clear.mp4"), &clear_bytes).expect("write");
                let reference = pcm(&tmp.path().join("clear.mp4"));
                assert!(
                    decrypted == reference,
                    "{scheme} {layout} {name}: decrypted PCM differs from the clear package's \
                     ({} vs {} bytes)",
                    decrypted.len(),
                    reference.len()
                );
                // The other tier's key does not open it.
                let (wrong_kid, wrong_key) = if name == "flac" {
                    (LOSSLESS_KID, LOSSY_KEY)
                } else {
                    (LOSSY_KID, LOSSLESS_KEY)
                };
                let output = tmp.path().join("wrong.mp4");
                let status =
                    shaka_decrypt(&tmp.path().join("enc.mp4"), &output, wrong_kid, wrong_key);
                if status.status.success() {
                    let wrong = Command::new("ffmpeg")
                        .args(["-v", "quiet", "-i"])
                        .arg(&output)
                        .args(["-f", "s32le", "-"])
                        .output()
                        .expect("ffmpeg");
                    assert!(
                        wrong.stdout != reference,
                        "{scheme} {layout} {name}: a wrong key gave the clear PCM"
                    );
                }
            }
        }
    }
}

/// The payload of the first box of type `kind` among `bytes`' boxes (no
/// descent).
fn children(bytes: &[u8]) -> Vec<([u8; 4], &[u8])> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 8 <= bytes.len() {
        let size = u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4")) as usize;
        assert!(
            size >= 8 && at + size <= bytes.len(),
            "box at {at}: size {size}"
        );
        let kind: [u8; 4] = bytes[at + 4..at + 8].try_into().expect("4");
        out.push((kind, &bytes[at..at + size]));
        at += size;
    }
    out
}

fn child<'a>(bytes: &'a [u8], kind: &[u8; 4], skip: usize) -> &'a [u8] {
    children(&bytes[skip..])
        .into_iter()
        .find(|(k, _)| k == kind)
        .map(|(_, b)| b)
        .unwrap_or_else(|| panic!("no {} box", String::from_utf8_lossy(kind)))
}

/// `(tenc payload, original format, scheme, pssh boxes)` of an init segment.
fn protection_boxes(init: &[u8]) -> (Vec<u8>, [u8; 4], [u8; 4], Vec<Vec<u8>>) {
    let moov = child(init, b"moov", 0);
    let stsd = child(
        child(
            child(child(child(moov, b"trak", 8), b"mdia", 8), b"minf", 8),
            b"stbl",
            8,
        ),
        b"stsd",
        8,
    );
    // stsd: header 8, version/flags 4, entry count 4; enca: header 8 +
    // 28 bytes of AudioSampleEntry fields before its children.
    let enca = child(stsd, b"enca", 16);
    let sinf = child(enca, b"sinf", 36);
    let frma = child(sinf, b"frma", 8);
    let schm = child(sinf, b"schm", 8);
    let tenc = child(child(sinf, b"schi", 8), b"tenc", 8);
    let pssh = children(&moov[8..])
        .into_iter()
        .filter(|(k, _)| k == b"pssh")
        .map(|(_, b)| b.to_vec())
        .collect();
    (
        tenc[8..].to_vec(),
        frma[8..12].try_into().expect("4"),
        schm[12..16].try_into().expect("4"),
        pssh,
    )
}

fn kid(hex: &str) -> Kid {
    Kid(audiopack_drm::parse_hex16(hex).expect("kid"))
}

#[test]
fn init_segments_and_manifests_carry_the_key_references() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = master(tmp.path());
    let keys = write_keys(tmp.path(), true);
    let keys = keys.to_str().expect("utf8");
    for scheme in ["cbcs", "cenc"] {
        let pkg = tmp.path().join(scheme);
        let mut args = vec![
            "--ladder",
            "64",
            "--encrypt",
            scheme,
            "--keys",
            keys,
            "--content-id",
            "album-7/track-3",
            "--clearkey-license-url",
            "https://license.example/clearkey?x=1&y=2",
        ];
        if scheme == "cbcs" {
            args.extend(["--fairplay-key-uri", "skd://keys.example/7-3"]);
        }
        let report = ingest_json(&input, &pkg, &args);
        let protection = &report["protection"];
        assert_eq!(protection["lossy_kid"], kid(LOSSY_KID).uuid());
        assert_eq!(protection["lossless_kid"], kid(LOSSLESS_KID).uuid());
        assert_eq!(protection["key_source"], "file");
        let mut systems = vec!["widevine", "playready", "clearkey"];
        if scheme == "cbcs" {
            systems.insert(2, "fairplay");
        }
        assert_eq!(protection["systems"], serde_json::json!(systems));

        for (rendition, kid_hex, original) in [
            ("opus_64k", LOSSY_KID, b"Opus"),
            ("flac", LOSSLESS_KID, b"fLaC"),
        ] {
            let init = std::fs::read(pkg.join(rendition).join("init.mp4")).expect("init");
            let (tenc, frma, schm, pssh) = protection_boxes(&init);
            assert_eq!(&frma, original);
            assert_eq!(&schm, scheme.as_bytes());
            let version = tenc[0];
            // tenc: version/flags 4, reserved 1, pattern (v1) 1,
            // isProtected 1, per-sample IV size 1, KID 16, [IV size 1, IV].
            assert_eq!(tenc[6], 1, "isProtected");
            assert_eq!(&tenc[8..24], &kid(kid_hex).0, "default KID");
            if scheme == "cbcs" {
                assert_eq!(version, 1, "cbcs tenc is version 1");
                assert_eq!(tenc[5], 0, "no pattern for audio");
                assert_eq!(tenc[7], 0, "constant IV");
                assert_eq!(tenc[24], 16, "16-byte constant IV");
                assert_eq!(tenc.len(), 41);
            } else {
                assert_eq!(version, 0);
                assert_eq!(tenc[7], 8, "8-byte per-sample IVs");
                assert_eq!(tenc.len(), 24);
            }
            // PSSH: Widevine, PlayReady, common system (no FairPlay box).
            let parsed: Vec<Pssh> = pssh.iter().map(|b| Pssh::parse(b).expect("pssh")).collect();
            let ids: Vec<[u8; 16]> = parsed.iter().map(|p| p.system_id).collect();
            assert_eq!(
                ids,
                [WIDEVINE_SYSTEM_ID, PLAYREADY_SYSTEM_ID, COMMON_SYSTEM_ID]
            );
            let wv = parse_widevine(&parsed[0].data).expect("widevine");
            assert_eq!(wv.key_ids, [kid(kid_hex)]);
            assert_eq!(wv.content_id.as_deref(), Some(&b"album-7/track-3"[..]));
            let pr = parse_playready_object(&parsed[1].data).expect("playready");
            let guid = audiopack_drm::pssh::base64(&audiopack_drm::pssh::guid_order(&kid(kid_hex)));
            if scheme == "cbcs" {
                assert!(pr.contains("version=\"4.3.0.0\""), "{pr}");
                assert!(
                    pr.contains(&format!("ALGID=\"AESCBC\" VALUE=\"{guid}\"")),
                    "{pr}"
                );
            } else {
                assert!(pr.contains("version=\"4.0.0.0\""), "{pr}");
                assert!(pr.contains(&format!("<KID>{guid}</KID>")), "{pr}");
                assert!(pr.contains("<ALGID>AESCTR</ALGID>"), "{pr}");
            }
            assert_eq!(parsed[2].kids, [kid(kid_hex)]);

            // Media playlists: the keys before the map.
            let media =
                std::fs::read_to_string(pkg.join(format!("{rendition}.m3u8"))).expect("m3u8");
            let method = if scheme == "cbcs" {
                "SAMPLE-AES"
            } else {
                "SAMPLE-AES-CTR"
            };
            let wv_line = format!(
                "#EXT-X-KEY:METHOD={method},URI=\"data:text/plain;base64,{}\",KEYFORMAT=\"urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed\",KEYFORMATVERSIONS=\"1\"",
                audiopack_drm::pssh::base64(&pssh[0])
            );
            assert!(media.contains(&wv_line), "{media}");
            assert!(
                media.contains("KEYFORMAT=\"com.microsoft.playready\""),
                "{media}"
            );
            assert_eq!(
                media.contains(
                    "URI=\"skd://keys.example/7-3\",KEYFORMAT=\"com.apple.streamingkeydelivery\""
                ),
                scheme == "cbcs",
                "{media}"
            );
            let key_at = media.find("#EXT-X-KEY").expect("key");
            assert!(key_at < media.find("#EXT-X-MAP").expect("map"), "{media}");
        }
        // Masters: session keys, once per system.
        let master = std::fs::read_to_string(pkg.join("master.m3u8")).expect("master");
        assert_eq!(
            master.matches("#EXT-X-SESSION-KEY:").count(),
            if scheme == "cbcs" { 3 } else { 2 },
            "{master}"
        );
        let lossless = std::fs::read_to_string(pkg.join("lossless.m3u8")).expect("lossless");
        assert!(lossless.contains("#EXT-X-SESSION-KEY:"), "{lossless}");

        // DASH: per AdaptationSet, mp4protection with the tier's KID, the
        // PSSH, ClearKey with its licence URL. The MPD parses.
        let mpd_text = std::fs::read_to_string(pkg.join("manifest.mpd")).expect("mpd");
        dash_mpd_core::parse(&mpd_text).expect("the MPD parses");
        for kid_hex in [LOSSY_KID, LOSSLESS_KID] {
            assert!(
                mpd_text.contains(&format!(
                    "<ContentProtection schemeIdUri=\"urn:mpeg:dash:mp4protection:2011\" value=\"{scheme}\" cenc:default_KID=\"{}\"/>",
                    kid(kid_hex).uuid()
                )),
                "{mpd_text}"
            );
        }
        assert_eq!(
            mpd_text
                .matches("schemeIdUri=\"urn:uuid:edef8ba9-79d6-4ace-a3c8-27dcd51d21ed\"")
                .count(),
            2
        );
        assert!(
            mpd_text.contains(
                "<dashif:Laurl>https://license.example/clearkey?x=1&amp;y=2</dashif:Laurl>"
            ),
            "{mpd_text}"
        );
        assert!(mpd_text.contains("urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e"));
        // cenc fragments carry senc/saiz/saio; cbcs with a constant IV
        // needs none.
        let segment = std::fs::read(pkg.join("opus_64k").join("1.m4s")).expect("segment");
        let has = |kind: &[u8]| segment.windows(4).any(|w| w == kind);
        assert_eq!(has(b"senc"), scheme == "cenc", "{scheme} senc");
        assert_eq!(has(b"saio"), scheme == "cenc", "{scheme} saio");
    }
}

fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path
                    .strip_prefix(dir)
                    .expect("prefix")
                    .display()
                    .to_string();
                out.insert(rel, std::fs::read(&path).expect("read"));
            }
        }
    }
    out
}

#[test]
fn reruns_with_the_same_keys_are_byte_identical() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = master(tmp.path());
    let keys = write_keys(tmp.path(), false);
    let keys = keys.to_str().expect("utf8");
    for scheme in ["cbcs", "cenc"] {
        let a = tmp.path().join(format!("{scheme}-a"));
        let b = tmp.path().join(format!("{scheme}-b"));
        for out in [&a, &b] {
            ingest_json(
                &input,
                out,
                &["--ladder", "64", "--encrypt", scheme, "--keys", keys],
            );
        }
        let (ta, tb) = (tree(&a), tree(&b));
        assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>());
        for (name, bytes) in &ta {
            if name == "report.json" {
                continue; // timings differ
            }
            assert!(bytes == &tb[name], "{scheme}: {name} differs between runs");
        }
    }
}

/// Every encoding of `key` a leak could take.
fn canary_forms(key_hex: &str) -> Vec<Vec<u8>> {
    let raw = audiopack_drm::parse_hex16(key_hex).expect("key").to_vec();
    let b64 = audiopack_drm::pssh::base64(&raw);
    let b64url = b64.replace('+', "-").replace('/', "_").replace('=', "");
    vec![
        key_hex.to_lowercase().into_bytes(),
        key_hex.to_uppercase().into_bytes(),
        b64.trim_end_matches('=').as_bytes().to_vec(),
        b64url.into_bytes(),
        raw,
    ]
}

fn assert_no_canary(what: &str, bytes: &[u8]) {
    for key in [LOSSY_KEY, LOSSLESS_KEY] {
        for form in canary_forms(key) {
            assert!(
                !bytes.windows(form.len()).any(|w| w == form.as_slice()),
                "a key leaked into {what} (as {:?})",
                String::from_utf8_lossy(&form)
            );
        }
    }
}

#[test]
fn a_canary_key_reaches_no_output_report_log_or_bucket() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = master(tmp.path());
    let keys = write_keys(tmp.path(), true);
    let keys = keys.to_str().expect("utf8");
    // Local output, both layouts, every verbosity, human and JSON output.
    for (i, (layout, flags)) in [
        ("segments", vec!["-v"]),
        ("single-file", vec!["--json"]),
        ("segments", vec!["-q"]),
    ]
    .into_iter()
    .enumerate()
    {
        let out = tmp.path().join(format!("out{i}"));
        for scheme in ["cbcs", "cenc"] {
            let _ = std::fs::remove_dir_all(&out);
            let mut args = vec![
                "ingest",
                input.to_str().expect("utf8"),
                "--out",
                out.to_str().expect("utf8"),
                "--layout",
                layout,
                "--ladder",
                "64",
                "--encrypt",
                scheme,
                "--keys",
                keys,
            ];
            args.extend(flags.iter().copied());
            let run = bin()
                .env("TMPDIR", tmp.path())
                .args(&args)
                .output()
                .expect("run");
            assert!(
                run.status.success(),
                "{}",
                String::from_utf8_lossy(&run.stderr)
            );
            assert_no_canary("stdout", &run.stdout);
            assert_no_canary("stderr", &run.stderr);
            for (name, bytes) in tree(&out) {
                assert_no_canary(&name, &bytes);
            }
        }
    }
    // Nothing left in the temporary directory but our own files.
    for entry in std::fs::read_dir(tmp.path()).expect("tmp") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        assert!(
            name == "master.wav" || name == "keys.json" || name.starts_with("out"),
            "left behind in TMPDIR: {name}"
        );
    }
    // A bad key file: the error names the file, not the key.
    let bad = tmp.path().join("bad.json");
    std::fs::write(
        &bad,
        format!(r#"{{"keys":[{{"kid":"{LOSSY_KID}","key":"{LOSSY_KEY}ff"}}]}}"#),
    )
    .expect("write");
    let out = tmp.path().join("bad-out");
    let run = run(&[
        "ingest",
        input.to_str().expect("utf8"),
        "--out",
        out.to_str().expect("utf8"),
        "--encrypt",
        "cbcs",
        "--keys",
        bad.to_str().expect("utf8"),
        "-v",
    ]);
    assert_eq!(
        run.status.code(),
        Some(14),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_no_canary("stderr of a bad key file", &run.stderr);

    // Published to S3: scan every object.
    let server = s3_server(tmp.path(), "AKIDCANARY", "canary-secret-key", "media");
    let endpoint = server.endpoint();
    let run = s3_ingest(
        with_keys(s3_isolated(), "AKIDCANARY", "canary-secret-key"),
        tmp.path(),
        input.to_str().expect("utf8"),
        "s3://media/drm/",
        &endpoint,
    )
    .args(["--ladder", "64", "--encrypt", "cenc", "--keys", keys, "-v"])
    .output()
    .expect("run");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert_no_canary("stderr (s3)", &run.stderr);
    let bucket = tree(&server.object_path("media", "drm"));
    assert!(
        bucket.keys().any(|k| k.ends_with("init.mp4")),
        "{:?}",
        bucket.keys()
    );
    for (name, bytes) in bucket {
        assert_no_canary(&format!("s3 object {name}"), &bytes);
    }
}

#[test]
fn bad_key_sources_are_exit_14_and_impossible_combinations_exit_2_with_nothing_written() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = fixture("demo.flac");
    let out = tmp.path().join("out");
    let cases: Vec<(String, &str)> = vec![
        ("does-not-exist.json".into(), "does-not-exist.json"),
        ("{\"keys\":[]}".into(), "list is empty"),
        ("not json".into(), "invalid JSON"),
        (
            format!(r#"{{"keys":[{{"kid":"{LOSSY_KID}","key":"{LOSSY_KEY}"}},{{"kid":"{LOSSLESS_KID}","key":"{LOSSLESS_KEY}"}}]}}"#),
            "\"tracks\"",
        ),
        ("<?xml version=\"1.0\"?><cpix:CPIX xmlns:cpix=\"urn:dashif:org:cpix\"><cpix:ContentKeyList/></cpix:CPIX>".into(), "keys.txt"),
    ];
    for (i, (content, want)) in cases.iter().enumerate() {
        let keys = if i == 0 {
            tmp.path().join(content)
        } else {
            let p = tmp.path().join("keys.txt");
            std::fs::write(&p, content).expect("write");
            p
        };
        let run = run(&[
            "ingest",
            input.to_str().expect("utf8"),
            "--out",
            out.to_str().expect("utf8"),
            "--encrypt",
            "cenc",
            "--keys",
            keys.to_str().expect("utf8"),
        ]);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(14), "case {i}: {stderr}");
        assert!(stderr.contains(want), "case {i}: {stderr}");
        assert!(!out.exists(), "case {i}: output written");
        assert_no_staging_left(&out);
    }
    let keys = write_keys(tmp.path(), false);
    let keys = keys.to_str().expect("utf8");
    for (args, want) in [
        (
            vec!["--encrypt", "cbcs", "--keys", keys, "--formats", "hls,ogg"],
            "Ogg",
        ),
        (vec!["--encrypt", "ctr", "--keys", keys], "cbcs, cenc"),
        (
            vec![
                "--encrypt",
                "cenc",
                "--keys",
                keys,
                "--drm-systems",
                "fairplay",
                "--fairplay-key-uri",
                "skd://k",
            ],
            "cbcs",
        ),
        (
            vec![
                "--encrypt",
                "cbcs",
                "--keys",
                keys,
                "--drm-systems",
                "fairplay",
            ],
            "--fairplay-key-uri",
        ),
        (
            vec![
                "--encrypt",
                "cbcs",
                "--keys",
                keys,
                "--drm-systems",
                "widevine,marlin",
            ],
            "marlin",
        ),
        (vec!["--encrypt", "cbcs"], "--keys"),
        (vec!["--keys", keys], "--encrypt"),
        (
            vec![
                "--encrypt",
                "cbcs",
                "--keys",
                "https://user:pw@keys.example/speke",
            ],
            "user:password",
        ),
    ] {
        let mut full = vec![
            "ingest",
            input.to_str().expect("utf8"),
            "--out",
            out.to_str().expect("utf8"),
        ];
        full.extend(args.iter().copied());
        let run = run(&full);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
        assert!(!stderr.contains("pw@"), "{stderr}");
        assert!(!out.exists(), "{args:?}: output written");
    }
}

#[test]
fn clearkey_players_play_encrypted_packages_and_refuse_a_wrong_cbcs_key() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = fixture("demo.flac");
    let keys = write_keys(tmp.path(), true);
    let keys = keys.to_str().expect("utf8");
    let cbcs = tmp.path().join("cbcs");
    let cenc = tmp.path().join("cenc");
    ingest_json(&input, &cbcs, &["--encrypt", "cbcs", "--keys", keys]);
    ingest_json(
        &input,
        &cenc,
        &[
            "--encrypt",
            "cenc",
            "--keys",
            keys,
            "--layout",
            "single-file",
        ],
    );
    let right = format!("{LOSSY_KID}:{LOSSY_KEY},{LOSSLESS_KID}:{LOSSLESS_KEY}");
    let wrong = format!("{LOSSY_KID}:{LOSSLESS_KEY},{LOSSLESS_KID}:{LOSSY_KEY}");
    let (results, stdout, stderr, success) = play(&[
        "--clearkey".as_ref(),
        right.as_ref(),
        cbcs.as_os_str(),
        cenc.as_os_str(),
        "--expect-failure".as_ref(),
        "--clearkey".as_ref(),
        wrong.as_ref(),
        cbcs.as_os_str(),
    ]);
    // Per package: Shaka HLS, Shaka DASH, dash.js, Shaka lossless HLS.
    assert_eq!(results.len(), 12, "{stdout}\n{stderr}");
    for r in &results {
        assert_eq!(r["ok"], true, "{r}");
        if r["expectFailure"] == true {
            assert_eq!(r["played"], false, "{r}");
        } else {
            assert!(r["currentTime"].as_f64().expect("currentTime") > 3.0, "{r}");
        }
    }
    assert!(success, "{stdout}");
    assert_no_canary(
        "player log",
        stdout.replace(&right, "").replace(&wrong, "").as_bytes(),
    );
}
