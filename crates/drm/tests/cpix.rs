//! CPIX documents given as `--keys`, and the SPEKE v2 request/answer pair,
//! read by `audiopack_drm::cpix`.

use audiopack_drm::cpix::{self, KeyRequest};
use audiopack_drm::{DrmError, DrmSystem, KeySet, KeySource, Kid, Scheme, TrackType, uuid_text};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

const KID_A: [u8; 16] = [0x11; 16];
const KID_B: [u8; 16] = [0x22; 16];
const KID_VIDEO: [u8; 16] = [0x33; 16];
const KEY_A: [u8; 16] = [
    0xa1, 0xb2, 0xc3, 0xd4, 0xe5, 0xf6, 0x07, 0x18, 0x29, 0x3a, 0x4b, 0x5c, 0x6d, 0x7e, 0x8f, 0x90,
];
const KEY_B: [u8; 16] = [
    0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78, 0x87, 0x96, 0xa5, 0xb4, 0xc3, 0xd2, 0xe1, 0xf0,
];
const IV: [u8; 16] = [0x5e; 16];

fn source() -> KeySource {
    KeySource::Cpix("keys.cpix.xml".into())
}

fn uuid(kid: [u8; 16]) -> String {
    uuid_text(&kid)
}

fn content_key(kid: [u8; 16], key: [u8; 16]) -> String {
    format!(
        r#"<cpix:ContentKey kid="{}" commonEncryptionScheme="cbcs"><cpix:Data><pskc:Secret><pskc:PlainValue>{}</pskc:PlainValue></pskc:Secret></cpix:Data></cpix:ContentKey>"#,
        uuid(kid),
        BASE64.encode(key)
    )
}

fn document(body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- written by a key service -->
<cpix:CPIX xmlns:cpix="urn:dashif:org:cpix" xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc" contentId="album-1" version="2.3">
{body}
</cpix:CPIX>"#
    )
}

fn parse(xml: &str) -> Result<KeySet, DrmError> {
    cpix::parse_document(xml.as_bytes(), source())
}

/// Neither key appears in `text` in any form a key is written in.
fn assert_no_key_material(text: &str) {
    for key in [KEY_A, KEY_B] {
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        let b64 = BASE64.encode(key);
        assert!(!text.to_lowercase().contains(&hex), "key hex in: {text}");
        assert!(!text.contains(&b64), "key base64 in: {text}");
        assert!(!text.contains(&b64[..12]), "key base64 prefix in: {text}");
    }
}

fn expect_error(xml: &str, wanted: &[&str]) -> String {
    let error = match parse(xml) {
        Ok(keys) => panic!("accepted: {keys:?}"),
        Err(e) => e,
    };
    assert!(matches!(error, DrmError::Keys { .. }), "{error:?}");
    let text = format!("{error} {error:?}");
    for w in wanted {
        assert!(text.contains(w), "{w:?} not in: {text}");
    }
    assert!(text.contains("keys.cpix.xml"), "{text}");
    assert_no_key_material(&text);
    text
}

#[test]
fn one_plain_key_protects_every_track() {
    let xml = document(&format!(
        r#"<cpix:ContentKeyList><cpix:ContentKey kid="{}" explicitIV="{}" commonEncryptionScheme="cbcs">
  <cpix:Data><pskc:Secret><pskc:PlainValue>
    {}
  </pskc:PlainValue></pskc:Secret></cpix:Data></cpix:ContentKey></cpix:ContentKeyList>"#,
        uuid(KID_A).to_uppercase(),
        BASE64.encode(IV),
        BASE64.encode(KEY_A)
    ));
    assert!(cpix::is_cpix(xml.as_bytes()));
    let keys = parse(&xml).expect("parse");
    assert_eq!(keys.lossy.kid, Kid(KID_A));
    assert_eq!(keys.lossless.kid, Kid(KID_A));
    assert_eq!(keys.lossy.secret(), &KEY_A);
    assert_eq!(keys.lossy.iv, Some(IV));
    assert!(keys.system_data.is_empty());
    assert_eq!(keys.source, source());
    assert_no_key_material(&format!("{keys:?} {keys:#?}"));
}

#[test]
fn two_keys_are_mapped_by_their_usage_rules() {
    // The lossless key comes first: the rules, not the order, decide.
    let xml = document(&format!(
        r#"<cpix:ContentKeyList>{}{}</cpix:ContentKeyList>
<cpix:ContentKeyUsageRuleList>
  <cpix:ContentKeyUsageRule kid="{}" intendedTrackType="lossless"><cpix:AudioFilter/></cpix:ContentKeyUsageRule>
  <cpix:ContentKeyUsageRule kid="{}" intendedTrackType="LOSSY_AUDIO"><cpix:AudioFilter/></cpix:ContentKeyUsageRule>
</cpix:ContentKeyUsageRuleList>"#,
        content_key(KID_B, KEY_B),
        content_key(KID_A, KEY_A),
        uuid(KID_B),
        uuid(KID_A)
    ));
    let keys = parse(&xml).expect("parse");
    assert_eq!(keys.key(TrackType::Lossy).kid, Kid(KID_A));
    assert_eq!(keys.key(TrackType::Lossy).secret(), &KEY_A);
    assert_eq!(keys.key(TrackType::Lossless).kid, Kid(KID_B));
    assert_eq!(keys.key(TrackType::Lossless).secret(), &KEY_B);
    assert_eq!(keys.lossy.iv, None);
}

#[test]
fn an_aws_style_audio_rule_picks_the_audio_key_beside_video_keys() {
    let xml = document(&format!(
        r#"<cpix:ContentKeyList>{}{}</cpix:ContentKeyList>
<cpix:ContentKeyUsageRuleList>
  <cpix:ContentKeyUsageRule kid="{}" intendedTrackType="SD"><cpix:VideoFilter maxPixels="442368"/></cpix:ContentKeyUsageRule>
  <cpix:ContentKeyUsageRule kid="{}" intendedTrackType="AUDIO"><cpix:AudioFilter/></cpix:ContentKeyUsageRule>
</cpix:ContentKeyUsageRuleList>"#,
        content_key(KID_VIDEO, KEY_B),
        content_key(KID_A, KEY_A),
        uuid(KID_VIDEO),
        uuid(KID_A)
    ));
    let keys = parse(&xml).expect("parse");
    assert_eq!(keys.lossy.kid, Kid(KID_A));
    assert_eq!(keys.lossless.kid, Kid(KID_A));
}

fn widevine_pssh() -> Vec<u8> {
    // A v0 Widevine box with provider and content ID, as a key service
    // would hand it over.
    let mut data = vec![0x12, 16];
    data.extend_from_slice(&KID_A);
    data.extend_from_slice(&[0x1a, 6]);
    data.extend_from_slice(b"vendor");
    data.extend_from_slice(&[0x22, 7]);
    data.extend_from_slice(b"album-1");
    let mut body = vec![0, 0, 0, 0];
    body.extend_from_slice(&DrmSystem::Widevine.system_id());
    body.extend_from_slice(&(data.len() as u32).to_be_bytes());
    body.extend_from_slice(&data);
    let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
    out.extend_from_slice(b"pssh");
    out.extend_from_slice(&body);
    out
}

#[test]
fn provided_pssh_and_hls_signalling_are_used_verbatim() {
    let pssh = widevine_pssh();
    let media = "#EXT-X-KEY:METHOD=SAMPLE-AES,URI=\"skd://album-1\",KEYFORMAT=\"com.apple.streamingkeydelivery\",KEYFORMATVERSIONS=\"1\"";
    let master = media.replace("#EXT-X-KEY", "#EXT-X-SESSION-KEY");
    let xml = document(&format!(
        r#"<cpix:ContentKeyList>{}</cpix:ContentKeyList>
<cpix:DRMSystemList>
  <cpix:DRMSystem kid="{kid}" systemId="EDEF8BA9-79D6-4ACE-A3C8-27DCD51D21ED">
    <cpix:PSSH>{}</cpix:PSSH>
    <cpix:ContentProtectionData>PGNlbmM6cHNzaC8+</cpix:ContentProtectionData>
  </cpix:DRMSystem>
  <cpix:DRMSystem kid="{kid}" systemId="94ce86fb-07ff-4f43-adb8-93d2fa968ca2">
    <cpix:HLSSignalingData playlist="media">{}</cpix:HLSSignalingData>
    <cpix:HLSSignalingData playlist="master">{}</cpix:HLSSignalingData>
  </cpix:DRMSystem>
  <cpix:DRMSystem kid="{kid}" systemId="adb41c24-2dbf-4a6d-958b-4457c0d27b95">
    <cpix:PSSH>AAAA</cpix:PSSH>
  </cpix:DRMSystem>
</cpix:DRMSystemList>"#,
        content_key(KID_A, KEY_A),
        BASE64.encode(&pssh),
        BASE64.encode(media),
        BASE64.encode(&master),
        kid = uuid(KID_A)
    ));
    let keys = parse(&xml).expect("parse");
    let widevine = keys
        .provided(DrmSystem::Widevine, Kid(KID_A))
        .expect("widevine data");
    assert_eq!(widevine.pssh.as_deref(), Some(pssh.as_slice()));
    let fairplay = keys
        .provided(DrmSystem::FairPlay, Kid(KID_A))
        .expect("fairplay data");
    assert_eq!(fairplay.hls_media.as_deref(), Some(media));
    assert_eq!(fairplay.hls_master.as_deref(), Some(master.as_str()));
    assert_eq!(fairplay.pssh, None);
    // The unknown system (Primetime here) is ignored, not an error.
    assert_eq!(keys.system_data.len(), 2);
}

#[test]
fn a_pssh_for_another_system_is_refused() {
    let xml = document(&format!(
        r#"<cpix:ContentKeyList>{}</cpix:ContentKeyList>
<cpix:DRMSystemList><cpix:DRMSystem kid="{}" systemId="9a04f079-9840-4286-ab92-e65be0885f95"><cpix:PSSH>{}</cpix:PSSH></cpix:DRMSystem></cpix:DRMSystemList>"#,
        content_key(KID_A, KEY_A),
        uuid(KID_A),
        BASE64.encode(widevine_pssh())
    ));
    expect_error(
        &xml,
        &["playready PSSH", "edef8ba9-79d6-4ace-a3c8-27dcd51d21ed"],
    );
    let xml = document(&format!(
        r#"<cpix:ContentKeyList>{}</cpix:ContentKeyList>
<cpix:DRMSystemList><cpix:DRMSystem kid="{}" systemId="edef8ba9-79d6-4ace-a3c8-27dcd51d21ed"><cpix:PSSH>{}</cpix:PSSH></cpix:DRMSystem></cpix:DRMSystemList>"#,
        content_key(KID_A, KEY_A),
        uuid(KID_A),
        BASE64.encode(b"certainly not a pssh box at all, no")
    ));
    expect_error(&xml, &["widevine PSSH", "not a pssh box"]);
}

#[test]
fn malformed_xml_is_a_clear_error() {
    let xml = document(&content_key(KID_A, KEY_A)).replace("</cpix:Data>", "</cpix:Dat>");
    expect_error(&xml, &["not well-formed XML"]);
    let truncated = document(&format!(
        "<cpix:ContentKeyList>{}</cpix:ContentKeyList>",
        content_key(KID_A, KEY_A)
    ));
    expect_error(&truncated[..truncated.len() - 12], &["not well-formed XML"]);
    expect_error("{\"keys\": []}", &["text outside the root element"]);
    expect_error(
        "<MPD xmlns=\"urn:mpeg:dash:schema:mpd:2011\"/>",
        &["not a CPIX document"],
    );
}

#[test]
fn bad_key_values_are_named_without_their_bytes() {
    let short = document(&format!(
        r#"<cpix:ContentKeyList><cpix:ContentKey kid="{}"><cpix:Data><pskc:Secret><pskc:PlainValue>{}</pskc:PlainValue></pskc:Secret></cpix:Data></cpix:ContentKey></cpix:ContentKeyList>"#,
        uuid(KID_A),
        BASE64.encode(&KEY_A[..15])
    ));
    expect_error(&short, &["15 bytes, not the 16"]);
    let not_base64 = document(&format!(
        r#"<cpix:ContentKeyList><cpix:ContentKey kid="{}"><cpix:Data><pskc:Secret><pskc:PlainValue>{}!</pskc:PlainValue></pskc:Secret></cpix:Data></cpix:ContentKey></cpix:ContentKeyList>"#,
        uuid(KID_A),
        BASE64.encode(KEY_A)
    ));
    expect_error(&not_base64, &["not valid base64"]);
}

#[test]
fn encrypted_keys_without_a_document_key_are_refused() {
    let xml = document(&format!(
        r#"<cpix:ContentKeyList><cpix:ContentKey kid="{}"><cpix:Data><pskc:Secret><pskc:EncryptedValue>
  <xenc:EncryptionMethod xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Algorithm="http://www.w3.org/2001/04/xmlenc#aes256-cbc"/>
  <xenc:CipherData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#"><xenc:CipherValue>{}</xenc:CipherValue></xenc:CipherData>
</pskc:EncryptedValue></pskc:Secret></cpix:Data></cpix:ContentKey></cpix:ContentKeyList>"#,
        uuid(KID_A),
        BASE64.encode([KEY_A, KEY_B].concat())
    ));
    let text = expect_error(&xml, &["encrypted", "no DeliveryDataList", "document key"]);
    assert!(text.contains(&uuid(KID_A)), "{text}");
    let with_delivery = xml.replace(
        "<cpix:ContentKeyList>",
        "<cpix:DeliveryDataList><cpix:DeliveryData/></cpix:DeliveryDataList><cpix:ContentKeyList>",
    );
    expect_error(&with_delivery, &["does not decrypt DeliveryDataList"]);
}

#[test]
fn references_to_unknown_key_ids_are_errors() {
    let drm_system = document(&format!(
        r#"<cpix:ContentKeyList>{}</cpix:ContentKeyList>
<cpix:DRMSystemList><cpix:DRMSystem kid="{}" systemId="edef8ba9-79d6-4ace-a3c8-27dcd51d21ed"><cpix:PSSH>{}</cpix:PSSH></cpix:DRMSystem></cpix:DRMSystemList>"#,
        content_key(KID_A, KEY_A),
        uuid(KID_B),
        BASE64.encode(widevine_pssh())
    ));
    expect_error(&drm_system, &["DRMSystem", &uuid(KID_B), "does not hold"]);
    let rule = document(&format!(
        r#"<cpix:ContentKeyList>{}</cpix:ContentKeyList>
<cpix:ContentKeyUsageRuleList><cpix:ContentKeyUsageRule kid="{}" intendedTrackType="lossy"><cpix:AudioFilter/></cpix:ContentKeyUsageRule></cpix:ContentKeyUsageRuleList>"#,
        content_key(KID_A, KEY_A),
        uuid(KID_B)
    ));
    expect_error(
        &rule,
        &["ContentKeyUsageRule", &uuid(KID_B), "does not hold"],
    );
}

#[test]
fn two_keys_need_rules_that_tell_them_apart() {
    let keys = format!(
        "<cpix:ContentKeyList>{}{}</cpix:ContentKeyList>",
        content_key(KID_A, KEY_A),
        content_key(KID_B, KEY_B)
    );
    expect_error(
        &document(&keys),
        &["2 content keys", "ContentKeyUsageRuleList"],
    );
    let both_lossy = document(&format!(
        r#"{keys}<cpix:ContentKeyUsageRuleList>
<cpix:ContentKeyUsageRule kid="{}" intendedTrackType="lossy"><cpix:AudioFilter/></cpix:ContentKeyUsageRule>
<cpix:ContentKeyUsageRule kid="{}" intendedTrackType="LOSSY_HQ"><cpix:AudioFilter/></cpix:ContentKeyUsageRule>
</cpix:ContentKeyUsageRuleList>"#,
        uuid(KID_A),
        uuid(KID_B)
    ));
    expect_error(&both_lossy, &["several keys", "lossy"]);
    let only_lossy = document(&format!(
        r#"{keys}<cpix:ContentKeyUsageRuleList>
<cpix:ContentKeyUsageRule kid="{}" intendedTrackType="lossy"><cpix:AudioFilter/></cpix:ContentKeyUsageRule>
</cpix:ContentKeyUsageRuleList>"#,
        uuid(KID_A)
    ));
    expect_error(
        &only_lossy,
        &["no usage rule names a key for the lossless tracks"],
    );
}

#[test]
fn cpix_is_recognized_by_content() {
    let with_bom = [
        b"\xef\xbb\xbf".as_slice(),
        document(&content_key(KID_A, KEY_A)).as_bytes(),
    ]
    .concat();
    assert!(cpix::is_cpix(&with_bom));
    assert!(cpix::is_cpix(
        br#"<CPIX xmlns="urn:dashif:org:cpix"><ContentKeyList/></CPIX>"#
    ));
    assert!(!cpix::is_cpix(br#"{"keys":[]}"#));
    assert!(!cpix::is_cpix(br#"<CPIX><ContentKeyList/></CPIX>"#));
    assert!(!cpix::is_cpix(br#"<cpix:CPIX xmlns:cpix="urn:other"/>"#));
    assert!(!cpix::is_cpix(b""));
}

fn request(lossless: Option<[u8; 16]>, systems: Vec<DrmSystem>) -> KeyRequest {
    KeyRequest {
        content_id: "album-1 & co".into(),
        scheme: Scheme::Cbcs,
        systems,
        lossy_kid: Kid(KID_A),
        lossless_kid: lossless.map(Kid),
    }
}

#[test]
fn the_speke_request_lists_keys_systems_and_the_encryption_contract() {
    let req = request(Some(KID_B), vec![DrmSystem::Widevine, DrmSystem::FairPlay]);
    let xml = cpix::request_document(&req);
    assert!(cpix::is_cpix(xml.as_bytes()));
    assert!(
        xml.contains(r#"contentId="album-1 &amp; co" version="2.3""#),
        "{xml}"
    );
    for kid in [KID_A, KID_B] {
        assert!(
            xml.contains(&format!(
                r#"<cpix:ContentKey kid="{}" commonEncryptionScheme="cbcs"/>"#,
                uuid(kid)
            )),
            "{xml}"
        );
    }
    assert_eq!(xml.matches("<cpix:DRMSystem ").count(), 4, "{xml}");
    assert_eq!(xml.matches("<cpix:PSSH/>").count(), 2, "{xml}");
    assert_eq!(
        xml.matches(r#"<cpix:HLSSignalingData playlist="media"/>"#)
            .count(),
        2
    );
    assert!(xml.contains(&format!(
        r#"kid="{}" intendedTrackType="LOSSY_AUDIO""#,
        uuid(KID_A)
    )));
    assert!(xml.contains(&format!(
        r#"kid="{}" intendedTrackType="LOSSLESS_AUDIO""#,
        uuid(KID_B)
    )));
    // A request is a CPIX document without key values: reading it as one
    // says so.
    let error = cpix::parse_document(xml.as_bytes(), source()).expect_err("no values");
    assert!(
        error.to_string().contains("carries no key value"),
        "{error}"
    );

    let single = cpix::request_document(&request(None, vec![]));
    assert!(single.contains(r#"intendedTrackType="AUDIO""#), "{single}");
    assert!(!single.contains("DRMSystemList"), "{single}");
    assert_eq!(single.matches("<cpix:ContentKey ").count(), 1);
}

/// The answer a key server would give to `request(Some(KID_B), [Widevine])`.
fn answer(extra: &str, keys: &[([u8; 16], [u8; 16])], with_pssh: bool) -> String {
    let mut body = String::from("<cpix:ContentKeyList>");
    for (kid, key) in keys {
        body.push_str(&content_key(*kid, *key));
    }
    body.push_str("</cpix:ContentKeyList><cpix:DRMSystemList>");
    for (kid, _) in keys {
        let pssh = if with_pssh {
            BASE64.encode(widevine_pssh())
        } else {
            String::new()
        };
        body.push_str(&format!(
            r#"<cpix:DRMSystem kid="{}" systemId="edef8ba9-79d6-4ace-a3c8-27dcd51d21ed"><cpix:PSSH>{pssh}</cpix:PSSH></cpix:DRMSystem>"#,
            uuid(*kid)
        ));
    }
    body.push_str("</cpix:DRMSystemList>");
    body.push_str(extra);
    document(&body).replace("album-1", "album-1 &amp; co")
}

fn read_answer(xml: &str) -> Result<KeySet, DrmError> {
    let req = request(Some(KID_B), vec![DrmSystem::Widevine]);
    cpix::parse_response(
        xml.as_bytes(),
        &req,
        KeySource::Speke("https://keys.example/speke".into()),
    )
}

#[test]
fn a_speke_answer_gives_each_requested_key_its_place() {
    let keys = read_answer(&answer("", &[(KID_B, KEY_B), (KID_A, KEY_A)], true)).expect("ok");
    assert_eq!(keys.lossy.kid, Kid(KID_A));
    assert_eq!(keys.lossy.secret(), &KEY_A);
    assert_eq!(keys.lossless.secret(), &KEY_B);
    assert!(keys.provided(DrmSystem::Widevine, Kid(KID_B)).is_some());
}

#[test]
fn a_speke_answer_must_match_the_request() {
    let check = |xml: String, wanted: &str| {
        let error = read_answer(&xml).expect_err("refused");
        let text = error.to_string();
        assert!(text.contains(wanted), "{wanted:?} not in {text}");
        assert!(text.starts_with("https://keys.example/speke: "), "{text}");
        assert_no_key_material(&text);
    };
    check(
        answer("", &[(KID_A, KEY_A)], true),
        &format!("no key for key ID {}", uuid(KID_B)),
    );
    check(
        answer(
            "",
            &[(KID_A, KEY_A), (KID_B, KEY_B), (KID_VIDEO, KEY_B)],
            true,
        ),
        &format!("{}, which was not asked for", uuid(KID_VIDEO)),
    );
    check(
        answer("", &[(KID_A, KEY_A), (KID_B, KEY_B)], false),
        "no widevine PSSH",
    );
    check(
        answer("", &[(KID_A, KEY_A), (KID_B, KEY_B)], true).replace("album-1 &amp; co", "other"),
        "content ID",
    );
}
