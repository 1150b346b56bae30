//! The SPEKE v2 client against the test kit's key server.

use std::time::Duration;

use audiopack_drm::cpix::{self, KeyRequest};
use audiopack_drm::speke::{self, AwsCredentials, AwsSigning, SpekeOptions};
use audiopack_drm::{DrmError, DrmSystem, Kid, Scheme};
use audiopack_testkit::speke::{SpekeServer, SpekeServerOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LOSSY: [u8; 16] = [0x41; 16];
const LOSSLESS: [u8; 16] = [0x42; 16];

fn request() -> KeyRequest {
    KeyRequest {
        content_id: "album-7".into(),
        scheme: Scheme::Cbcs,
        systems: vec![
            DrmSystem::Widevine,
            DrmSystem::PlayReady,
            DrmSystem::FairPlay,
        ],
        lossy_kid: Kid(LOSSY),
        lossless_kid: Some(Kid(LOSSLESS)),
    }
}

/// Quick options: short timeouts, short backoff, no ambient AWS signing.
fn options() -> SpekeOptions {
    SpekeOptions::default()
        .with_timeout(Duration::from_secs(5))
        .with_connect_timeout(Duration::from_secs(2))
        .with_backoff(Duration::from_millis(20))
        .with_signing(AwsSigning::Off)
}

fn start(options: SpekeServerOptions) -> SpekeServer {
    SpekeServer::start(options).expect("start the SPEKE test server")
}

fn assert_no_key_material(text: &str, server: &SpekeServer) {
    for kid in [LOSSY, LOSSLESS] {
        let key = server.key_for(&kid);
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        assert!(!text.to_lowercase().contains(&hex), "{text}");
    }
}

#[tokio::test]
async fn keys_and_pssh_come_from_the_key_server() {
    let server = start(SpekeServerOptions::default());
    let answer = speke::fetch(&server.url(), &request(), &options())
        .await
        .expect("keys");
    let keys = &answer.keys;
    assert_eq!(keys.lossy.kid, Kid(LOSSY));
    assert_eq!(keys.lossy.secret(), &server.key_for(&LOSSY));
    assert_eq!(keys.lossless.kid, Kid(LOSSLESS));
    assert_eq!(keys.lossless.secret(), &server.key_for(&LOSSLESS));
    for kid in [LOSSY, LOSSLESS] {
        for system in [DrmSystem::Widevine, DrmSystem::PlayReady] {
            let data = keys.provided(system, Kid(kid)).expect("system data");
            let pssh = data.pssh.as_deref().expect("pssh");
            cpix::check_pssh(pssh, system).expect("a valid pssh box");
        }
        let fairplay = keys
            .provided(DrmSystem::FairPlay, Kid(kid))
            .expect("fairplay");
        assert!(
            fairplay
                .hls_media
                .as_deref()
                .is_some_and(|l| l.starts_with("#EXT-X-KEY:METHOD=SAMPLE-AES")),
            "{fairplay:?}"
        );
        assert!(fairplay.hls_master.is_some());
    }
    assert_eq!(answer.attempts, 1);
    assert!(!answer.signed);
    assert!(answer.server.is_some());
    assert!(answer.warnings.is_empty(), "{:?}", answer.warnings);
    assert_eq!(keys.source.location(), server.url());
    assert_no_key_material(&format!("{answer:?}"), &server);

    let seen = server.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].status, 200, "{:?}", seen[0].problem);
    assert_eq!(seen[0].header("x-speke-version"), Some("2.0"));
    assert_eq!(seen[0].header("content-type"), Some("application/xml"));
    assert!(seen[0].body.contains(r#"contentId="album-7""#));
}

#[tokio::test]
async fn server_errors_are_retried() {
    let server = start(SpekeServerOptions {
        fail_first: 2,
        ..SpekeServerOptions::default()
    });
    let answer = speke::fetch(&server.url(), &request(), &options())
        .await
        .expect("the third attempt succeeds");
    assert_eq!(answer.attempts, 3);
    let statuses: Vec<u16> = server.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [500, 500, 200]);
}

#[tokio::test]
async fn server_errors_end_in_unavailable_after_the_last_attempt() {
    let server = start(SpekeServerOptions {
        fail_first: 10,
        ..SpekeServerOptions::default()
    });
    let error = speke::fetch_keys_with(&server.url(), &request(), &options().with_attempts(2))
        .await
        .expect_err("gives up");
    assert!(matches!(error, DrmError::Unavailable { .. }), "{error:?}");
    let text = error.to_string();
    assert!(
        text.contains("500") && text.contains("2 attempts"),
        "{text}"
    );
    assert_eq!(server.attempts(), 2);
}

#[tokio::test]
async fn a_refusal_is_not_retried() {
    let server = start(SpekeServerOptions {
        refuse: Some(403),
        ..SpekeServerOptions::default()
    });
    let url = server
        .url()
        .replace("http://", "http://user:hunter2@")
        .replace("copyProtection", "copyProtection?token=sesame");
    let error = speke::fetch_keys_with(&url, &request(), &options())
        .await
        .expect_err("refused");
    match &error {
        DrmError::Refused {
            status,
            source_name,
            ..
        } => {
            assert_eq!(*status, 403);
            assert_eq!(source_name, &server.url());
        }
        other => panic!("{other:?}"),
    }
    let text = format!("{error} {error:?}");
    assert!(text.contains("Forbidden"), "{text}");
    assert!(
        !text.contains("hunter2") && !text.contains("sesame"),
        "{text}"
    );
    assert_eq!(server.attempts(), 1);
    // The URL's user info went as HTTP Basic authentication.
    let seen = server.requests();
    assert_eq!(
        seen[0].header("authorization"),
        Some("Basic dXNlcjpodW50ZXIy")
    );
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let server = start(SpekeServerOptions {
        delay: Some(Duration::from_secs(3)),
        ..SpekeServerOptions::default()
    });
    let started = std::time::Instant::now();
    let error = speke::fetch_keys_with(
        &server.url(),
        &request(),
        &options()
            .with_timeout(Duration::from_millis(200))
            .with_attempts(2),
    )
    .await
    .expect_err("times out");
    assert!(matches!(error, DrmError::Unavailable { .. }), "{error:?}");
    assert!(error.to_string().contains("no answer within"), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn nothing_listening_is_unavailable() {
    let server = start(SpekeServerOptions::default());
    let url = server.url();
    drop(server);
    let error = speke::fetch_keys_with(&url, &request(), &options().with_attempts(2))
        .await
        .expect_err("unavailable");
    assert!(matches!(error, DrmError::Unavailable { .. }), "{error:?}");
}

#[tokio::test]
async fn sigv4_signed_requests_pass_a_server_that_wants_them() {
    let server = start(SpekeServerOptions {
        require_sigv4: true,
        ..SpekeServerOptions::default()
    });
    let credentials = AwsCredentials::new(
        "AKIDEXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        Some("session-token".into()),
        Some("eu-west-1".into()),
    );
    assert!(!format!("{credentials:?}").contains("EXAMPLEKEY"));
    let signed = options().with_signing(AwsSigning::With(credentials));
    let answer = speke::fetch(&server.url(), &request(), &signed)
        .await
        .expect("signed request accepted");
    assert!(answer.signed);
    let seen = server.requests();
    let auth = seen[0].header("authorization").expect("authorization");
    assert!(
        auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
            && auth.contains("/eu-west-1/execute-api/aws4_request"),
        "{auth}"
    );
    assert_eq!(
        seen[0].header("x-amz-security-token"),
        Some("session-token")
    );

    let error = speke::fetch_keys_with(&server.url(), &request(), &options())
        .await
        .expect_err("unsigned is refused");
    assert!(
        matches!(error, DrmError::Refused { status: 403, .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_missing_speke_user_agent_is_a_warning() {
    let server = start(SpekeServerOptions {
        user_agent: None,
        ..SpekeServerOptions::default()
    });
    let answer = speke::fetch(&server.url(), &request(), &options())
        .await
        .expect("keys");
    assert_eq!(answer.server, None);
    assert!(
        answer
            .warnings
            .iter()
            .any(|w| w.contains("X-Speke-User-Agent")),
        "{:?}",
        answer.warnings
    );
}

/// Sends one raw HTTP/1.1 request; returns the status and the body.
async fn raw_post(server: &SpekeServer, headers: &str, body: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(server.addr())
        .await
        .expect("connect");
    let head = format!(
        "POST /speke/v2.0/copyProtection HTTP/1.1\r\nHost: {}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
        server.addr(),
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    stream.write_all(body.as_bytes()).await.expect("write");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("read");
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn the_test_server_checks_requests_against_the_spec() {
    let server = start(SpekeServerOptions::default());
    let good = cpix::request_document(&request());
    let xml = "Content-Type: application/xml\r\nX-Speke-Version: 2.0\r\n";

    let (status, _) = raw_post(&server, xml, &good).await;
    assert_eq!(status, 200);

    let (status, body) = raw_post(&server, "Content-Type: application/xml\r\n", &good).await;
    assert_eq!(
        (status, body.as_str()),
        (400, "Missing X-Speke-Version header")
    );

    let (status, body) = raw_post(&server, xml, &good.replace(r#" contentId="album-7""#, "")).await;
    assert_eq!((status, body.as_str()), (422, "Missing CPIX@contentId"));

    let (status, body) = raw_post(
        &server,
        xml,
        &good.replace(r#"version="2.3""#, r#"version="2.1""#),
    )
    .await;
    assert_eq!((status, body.as_str()), (422, "Unsupported CPIX@version"));

    let one_scheme = good.replacen(
        r#"commonEncryptionScheme="cbcs""#,
        r#"commonEncryptionScheme="cenc""#,
        1,
    );
    let (status, body) = raw_post(&server, xml, &one_scheme).await;
    assert_eq!(
        (status, body.as_str()),
        (
            422,
            "Non compliant ContentKey@commonEncryptionScheme combination"
        )
    );

    let start_rules = good.find("<cpix:ContentKeyUsageRuleList>").expect("rules");
    let end_rules = good
        .find("</cpix:ContentKeyUsageRuleList>")
        .expect("rules end")
        + "</cpix:ContentKeyUsageRuleList>".len();
    let no_rules = format!("{}{}", &good[..start_rules], &good[end_rules..]);
    let (status, body) = raw_post(&server, xml, &no_rules).await;
    assert_eq!(
        (status, body.as_str()),
        (422, "Missing ContentKeyUsageRuleList")
    );

    let unknown_system = good.replace(
        "edef8ba9-79d6-4ace-a3c8-27dcd51d21ed",
        "00000000-0000-0000-0000-000000000001",
    );
    let (status, body) = raw_post(&server, xml, &unknown_system).await;
    assert_eq!(status, 422);
    assert!(body.starts_with("Unknown DRMSystem@systemId"), "{body}");

    let (status, _) = raw_post(
        &server,
        xml,
        "<cpix:CPIX xmlns:cpix=\"urn:dashif:org:cpix\">",
    )
    .await;
    assert_eq!(status, 400);

    let problems: Vec<Option<String>> = server.requests().into_iter().map(|r| r.problem).collect();
    assert_eq!(problems[0], None);
    assert!(problems[1..].iter().all(Option::is_some), "{problems:?}");
}

#[test]
fn urls_are_shown_without_credentials() {
    assert_eq!(
        speke::redact_url("https://user:pw@keys.example.com:8443/speke/v2?api_key=secret#x"),
        "https://keys.example.com:8443/speke/v2"
    );
    assert_eq!(
        speke::region_from_host("abc123.execute-api.eu-central-1.amazonaws.com").as_deref(),
        Some("eu-central-1")
    );
    assert_eq!(speke::region_from_host("keys.example.com"), None);
}

#[test]
fn refusal_snippets_hide_long_tokens() {
    let text = speke::snippet(
        b"<Error>\n  <Message>Denied for kid 11111111</Message>\n  <Key>obSbRmwlg2OwrfZ+Ix6PRg==</Key></Error>",
    );
    assert!(text.contains("Denied for kid 11111111"), "{text}");
    assert!(!text.contains("obSbRmwlg2OwrfZ"), "{text}");
    assert!(speke::snippet(&[b'a'; 1000]).chars().count() <= 201);
}
