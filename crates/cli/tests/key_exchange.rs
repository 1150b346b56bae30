//! Keys from a key service, end to end through `audiopack ingest`:
//!
//! * a DASH-IF CPIX 2.3 document (`--keys doc.xml`, detected by content)
//!   with two keys told apart by usage rules and a Widevine PSSH that must
//!   reach the init segments and the manifests verbatim;
//! * a SPEKE v2 key server (the test kit's, which validates requests
//!   against the spec): the package is encrypted with the keys it returns;
//!   a 403 is one attempt and exit 14 with nothing written;
//! * the same server over https, as key servers are run: trusted through
//!   `SSL_CERT_FILE` it keys the package; untrusted, the job stops at the
//!   first handshake with exit 14, the reason named and nothing written.
//!
//! Each package is decrypted by Shaka Packager and compared with the clear
//! package, so the keys were really used.

mod common;

use std::path::{Path, PathBuf};

use audiopack_drm::pssh::{Pssh, base64};
use audiopack_drm::system::WIDEVINE_SYSTEM_ID;
use audiopack_drm::{Kid, uuid_text};
use audiopack_testkit::speke::{SPEKE_PATH, SpekeServer, SpekeServerOptions};
use common::*;

const KID_LOSSY: [u8; 16] = [0x3a; 16];
const KID_LOSSLESS: [u8; 16] = [0x4b; 16];
const KEY_LOSSY: [u8; 16] = [
    0x9c, 0x11, 0x57, 0xe2, 0x08, 0xaa, 0x31, 0x6f, 0xd4, 0x42, 0x7b, 0x90, 0x1e, 0xc8, 0x63, 0x25,
];
const KEY_LOSSLESS: [u8; 16] = [
    0x27, 0x84, 0xbe, 0x0d, 0x5f, 0x93, 0xe1, 0x46, 0xa2, 0x7c, 0x18, 0xf5, 0x39, 0x6b, 0xd0, 0x0e,
];

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn short_master(dir: &Path) -> PathBuf {
    let path = dir.join("song.wav");
    ffmpeg_generate(
        "sine=f=330:r=48000:d=5,volume=0.4",
        &["-ac", "2", "-c:a", "pcm_s16le"],
        &path,
    );
    path
}

/// Decrypting `rendition` of `pkg` with `kid`/`key` gives the PCM of the
/// same rendition of `clear`.
fn assert_opens(pkg: &Path, clear: &Path, rendition: &str, kid: &[u8; 16], key: &[u8; 16]) {
    let work = tempfile::tempdir().expect("tempdir");
    let decrypted = decrypt_and_decode(
        work.path(),
        &whole_track(pkg, rendition),
        &hex(kid),
        &hex(key),
    );
    let clear_file = work.path().join("clear.mp4");
    std::fs::write(&clear_file, whole_track(clear, rendition)).expect("write");
    assert!(
        decrypted == pcm(&clear_file),
        "{rendition} of {} does not decrypt to the clear PCM",
        pkg.display()
    );
}

fn init_pssh(pkg: &Path, rendition: &str, system: [u8; 16]) -> Vec<u8> {
    let init = std::fs::read(pkg.join(rendition).join("init.mp4")).expect("init");
    // Find the pssh boxes in moov by their type and parse each.
    let mut found = Vec::new();
    for at in 0..init.len().saturating_sub(8) {
        if &init[at + 4..at + 8] == b"pssh" {
            let size = u32::from_be_bytes(init[at..at + 4].try_into().expect("4")) as usize;
            if let Some(bytes) = init.get(at..at + size)
                && let Ok(p) = Pssh::parse(bytes)
                && p.system_id == system
            {
                found.push(bytes.to_vec());
            }
        }
    }
    assert_eq!(found.len(), 1, "{rendition}: one pssh of the system");
    found.remove(0)
}

#[test]
fn a_cpix_document_keys_the_package_and_its_pssh_is_used_verbatim() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = short_master(tmp.path());
    // A Widevine PSSH "from the key service": its own provider and content
    // ID, which audiopack would never write.
    let mut data = vec![0x12, 0x10];
    data.extend_from_slice(&KID_LOSSY);
    data.extend_from_slice(&[0x1a, 0x09]);
    data.extend_from_slice(b"keyvendor");
    data.extend_from_slice(&[0x22, 0x06]);
    data.extend_from_slice(b"c-1234");
    let given = Pssh {
        version: 0,
        system_id: WIDEVINE_SYSTEM_ID,
        kids: Vec::new(),
        data,
    }
    .to_bytes();
    let document = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<cpix:CPIX xmlns:cpix="urn:dashif:org:cpix" xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc" contentId="c-1234" version="2.3">
  <cpix:ContentKeyList>
    <cpix:ContentKey kid="{lossless}" commonEncryptionScheme="cenc"><cpix:Data><pskc:Secret><pskc:PlainValue>{key_lossless}</pskc:PlainValue></pskc:Secret></cpix:Data></cpix:ContentKey>
    <cpix:ContentKey kid="{lossy}" commonEncryptionScheme="cenc"><cpix:Data><pskc:Secret><pskc:PlainValue>{key_lossy}</pskc:PlainValue></pskc:Secret></cpix:Data></cpix:ContentKey>
  </cpix:ContentKeyList>
  <cpix:DRMSystemList>
    <cpix:DRMSystem kid="{lossy}" systemId="edef8ba9-79d6-4ace-a3c8-27dcd51d21ed"><cpix:PSSH>{pssh}</cpix:PSSH></cpix:DRMSystem>
  </cpix:DRMSystemList>
  <cpix:ContentKeyUsageRuleList>
    <cpix:ContentKeyUsageRule kid="{lossless}" intendedTrackType="LOSSLESS_AUDIO"><cpix:AudioFilter/></cpix:ContentKeyUsageRule>
    <cpix:ContentKeyUsageRule kid="{lossy}" intendedTrackType="LOSSY_AUDIO"><cpix:AudioFilter/></cpix:ContentKeyUsageRule>
  </cpix:ContentKeyUsageRuleList>
</cpix:CPIX>"#,
        lossy = uuid_text(&KID_LOSSY),
        lossless = uuid_text(&KID_LOSSLESS),
        key_lossy = base64(&KEY_LOSSY),
        key_lossless = base64(&KEY_LOSSLESS),
        pssh = base64(&given),
    );
    // No .xml extension: the content decides.
    let doc = tmp.path().join("keys.from-vendor");
    std::fs::write(&doc, document).expect("write");
    let clear = tmp.path().join("clear");
    ingest_json(&input, &clear, &["--ladder", "64"]);
    let pkg = tmp.path().join("pkg");
    let report = ingest_json(
        &input,
        &pkg,
        &[
            "--ladder",
            "64",
            "--encrypt",
            "cenc",
            "--keys",
            doc.to_str().expect("utf8"),
        ],
    );
    let protection = &report["protection"];
    assert_eq!(protection["key_source"], "cpix", "{protection}");
    assert_eq!(protection["lossy_kid"], uuid_text(&KID_LOSSY));
    assert_eq!(protection["lossless_kid"], uuid_text(&KID_LOSSLESS));
    assert_eq!(
        protection["provided_by_key_service"],
        serde_json::json!(["widevine"])
    );
    assert_opens(&pkg, &clear, "opus_64k", &KID_LOSSY, &KEY_LOSSY);
    assert_opens(&pkg, &clear, "flac", &KID_LOSSLESS, &KEY_LOSSLESS);
    // The lossy tier carries the given PSSH byte for byte, in the init
    // segment, the HLS key line and the MPD; the lossless tier (no PSSH
    // given for its key) a generated one.
    assert_eq!(init_pssh(&pkg, "opus_64k", WIDEVINE_SYSTEM_ID), given);
    let generated = init_pssh(&pkg, "flac", WIDEVINE_SYSTEM_ID);
    assert_ne!(generated, given);
    let media = std::fs::read_to_string(pkg.join("opus_64k.m3u8")).expect("m3u8");
    assert!(
        media.contains(&format!("data:text/plain;base64,{}", base64(&given))),
        "{media}"
    );
    let mpd = std::fs::read_to_string(pkg.join("manifest.mpd")).expect("mpd");
    assert!(
        mpd.contains(&format!("<cenc:pssh>{}</cenc:pssh>", base64(&given))),
        "{mpd}"
    );
}

#[test]
fn a_speke_v2_server_keys_the_package() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = short_master(tmp.path());
    let server = SpekeServer::start(SpekeServerOptions::default()).expect("speke server");
    let url = format!("{}{SPEKE_PATH}", server.url().trim_end_matches('/'));
    let clear = tmp.path().join("clear");
    ingest_json(&input, &clear, &["--ladder", "64"]);
    let pkg = tmp.path().join("pkg");
    let report = ingest_json(
        &input,
        &pkg,
        &[
            "--ladder",
            "64",
            "--encrypt",
            "cbcs",
            "--keys",
            &url,
            "--content-id",
            "catalog-42",
        ],
    );
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "one request");
    assert_eq!(requests[0].status, 200, "{:?}", requests[0].problem);
    assert_eq!(requests[0].header("x-speke-version"), Some("2.0"));
    assert!(requests[0].body.contains("contentId=\"catalog-42\""));
    let protection = &report["protection"];
    assert_eq!(protection["key_source"], "speke");
    assert_eq!(protection["key_source_location"], url);
    let kid_of = |field: &str| {
        Kid(audiopack_drm::parse_uuid(protection[field].as_str().expect("kid")).expect("uuid")).0
    };
    let (lossy, lossless) = (kid_of("lossy_kid"), kid_of("lossless_kid"));
    assert_ne!(lossy, lossless, "one key per track type");
    assert_opens(&pkg, &clear, "opus_64k", &lossy, &server.key_for(&lossy));
    assert_opens(&pkg, &clear, "flac", &lossless, &server.key_for(&lossless));
    // The server's own PSSH is in the init segment.
    let widevine = init_pssh(&pkg, "opus_64k", WIDEVINE_SYSTEM_ID);
    assert!(
        requests[0].status == 200 && Pssh::parse(&widevine).is_ok(),
        "widevine pssh"
    );

    // A server that refuses: one attempt, exit 14, nothing written.
    let refusing = SpekeServer::start(SpekeServerOptions {
        refuse: Some(403),
        ..SpekeServerOptions::default()
    })
    .expect("speke server");
    let url = format!("{}{SPEKE_PATH}", refusing.url().trim_end_matches('/'));
    let out = tmp.path().join("refused");
    let run = run(&[
        "ingest",
        input.to_str().expect("utf8"),
        "--out",
        out.to_str().expect("utf8"),
        "--encrypt",
        "cbcs",
        "--keys",
        &url,
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(14), "{stderr}");
    assert!(stderr.contains("refused"), "{stderr}");
    assert_eq!(refusing.attempts(), 1, "a 403 is not retried");
    assert!(!out.exists());
    assert_no_staging_left(&out);
}

#[test]
fn a_speke_v2_server_over_https_is_trusted_only_through_its_ca() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let input = short_master(tmp.path());
    let server = SpekeServer::start_tls(SpekeServerOptions::default()).expect("speke server");
    let url = server.url();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let ca = tmp.path().join("ca.pem");
    std::fs::write(&ca, server.ca_pem().expect("tls")).expect("write ca");
    let ingest = |out: &Path, ca: Option<&Path>| {
        let mut command = bin();
        command
            .args(["ingest", input.to_str().expect("utf8"), "--out"])
            .arg(out)
            .args([
                "--json",
                "--ladder",
                "64",
                "--encrypt",
                "cenc",
                "--keys",
                &url,
            ])
            .env_remove("SSL_CERT_FILE")
            .env_remove("SSL_CERT_DIR");
        if let Some(ca) = ca {
            command.env("SSL_CERT_FILE", ca);
        }
        command.output().expect("running audiopack")
    };

    // Trusted: the keys come over TLS and open the package.
    let clear = tmp.path().join("clear");
    ingest_json(&input, &clear, &["--ladder", "64"]);
    let pkg = tmp.path().join("pkg");
    let run = ingest(&pkg, Some(&ca));
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).expect("report");
    let requests = server.requests();
    assert_eq!(requests.len(), 1, "one request");
    assert_eq!(requests[0].status, 200, "{:?}", requests[0].problem);
    let protection = &report["protection"];
    assert_eq!(protection["key_source"], "speke");
    assert_eq!(protection["key_source_location"], url);
    let lossy = Kid(
        audiopack_drm::parse_uuid(protection["lossy_kid"].as_str().expect("kid")).expect("uuid"),
    )
    .0;
    assert_opens(&pkg, &clear, "opus_64k", &lossy, &server.key_for(&lossy));

    // Untrusted (the system's roots only): refused at the handshake, once,
    // exit 14, the reason named, nothing written.
    let connections = server.connections();
    let out = tmp.path().join("untrusted");
    let run = ingest(&out, None);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(14), "{stderr}");
    assert!(stderr.contains("certificate is not trusted"), "{stderr}");
    assert!(
        stderr.contains(&url),
        "the message names the server: {stderr}"
    );
    assert_eq!(
        server.connections() - connections,
        1,
        "a refused certificate is not retried"
    );
    assert_eq!(
        server.requests().len(),
        1,
        "no request crossed the handshake"
    );
    assert!(!out.exists());
    assert_no_staging_left(&out);
}
