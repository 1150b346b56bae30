//! DASH-IF CPIX 2.3 documents: reading keys (and per-system data) from a
//! document, and writing / reading back the request a SPEKE v2 server fills.
//!
//! ## What is read
//!
//! * `cpix:ContentKeyList/cpix:ContentKey@kid` (a UUID) with
//!   `cpix:Data/pskc:Secret/pskc:PlainValue` (base64 of the 16 key bytes)
//!   and an optional `@explicitIV` (base64 of 16 bytes, the cbcs constant
//!   IV). A `pskc:EncryptedValue` is refused: audiopack does not decrypt
//!   `DeliveryDataList` document keys, so a key service must hand over plain
//!   keys (over HTTPS, or in a file only the packager can read).
//! * `cpix:DRMSystemList/cpix:DRMSystem@kid@systemId`: `cpix:PSSH` (base64
//!   of a whole `pssh` box, checked to be one, for that system) and
//!   `cpix:HLSSignalingData@playlist="media"|"master"` (base64 of the
//!   playlist lines; `media` when the attribute is absent) become
//!   [`SystemData`], which the packager uses verbatim instead of what it
//!   would write itself. `DRMSystem`s whose system ID audiopack does not know
//!   are ignored (their data has no place in the package); other child
//!   elements (`ContentProtectionData`, `URIExtXKey`, Smooth Streaming…) are
//!   ignored too. A `DRMSystem` for a key ID the `ContentKeyList` does not
//!   hold is an error.
//! * `cpix:ContentKeyUsageRuleList/cpix:ContentKeyUsageRule@kid`: which key
//!   protects which tracks. The convention (SPEKE v2 lets an encryptor name
//!   its own `intendedTrackType` values, one per rule, with a filter each):
//!   - `intendedTrackType` containing `LOSSY` (any case: `lossy`,
//!     `LOSSY_AUDIO`) → the Opus ladder; containing `LOSSLESS` → the FLAC
//!     tier; `AUDIO`, `ALL` (AWS presets' single audio key) or a rule with
//!     an `AudioFilter` and no such label → any audio track. Several
//!     sub-components may be joined with `+` (`LOSSY+LOSSLESS`).
//!   - Rules that are only about video (`VideoFilter` without
//!     `AudioFilter`, labels like `SD`, `HD`) are skipped.
//!   - A track takes the key whose rule names it; otherwise the key of an
//!     "any audio" rule. Two keys claiming the same track, or two "any
//!     audio" keys with none named, is an error.
//!   - Without rules, one key protects every track; several keys without
//!     rules is an error (which would be which is not guessed).
//!   - A rule for a key ID the `ContentKeyList` does not hold is an error.
//!
//! ## What is written (SPEKE v2 request)
//!
//! [`request_document`] writes `cpix:CPIX@contentId@version="2.3"` with one
//! `ContentKey@kid@commonEncryptionScheme` per key ID (no key data), one
//! `DRMSystem@kid@systemId` per key and system asking for a `PSSH`
//! (Widevine, PlayReady, ClearKey: the common-system ID `1077efec-…`) or
//! for `HLSSignalingData` `media` and `master` (FairPlay), and the
//! encryption contract: one key → one rule `intendedTrackType="AUDIO"`;
//! two keys → `LOSSY_AUDIO` and `LOSSLESS_AUDIO`, each with an
//! `<AudioFilter/>`. The SPEKE v2 presets split audio keys only by channel
//! count (what `AudioFilter` can express), and nothing in CPIX filters by
//! codec, so both rules carry an attribute-less `AudioFilter`: the labels,
//! which SPEKE v2 lets an encryptor define, carry the distinction. A key
//! server that insists on non-overlapping filters will refuse a two-key
//! request; one key always works.
//!
//! Nothing here ever puts key bytes in a message: keys are named by key ID.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use zeroize::Zeroizing;

use crate::{ContentKey, DrmError, DrmSystem, KeySet, KeySource, Kid, Scheme, SystemData};
use crate::{parse_uuid, uuid_text};

/// The CPIX namespace.
pub const CPIX_NS: &str = "urn:dashif:org:cpix";
/// The PSKC namespace (RFC 6030) of the key values.
pub const PSKC_NS: &str = "urn:ietf:params:xml:ns:keyprov:pskc";
/// The CPIX version SPEKE v2.0 speaks.
pub const CPIX_VERSION: &str = "2.3";

/// `intendedTrackType` of the single key's rule.
pub const TRACK_TYPE_AUDIO: &str = "AUDIO";
/// `intendedTrackType` of the lossy key's rule when there are two keys.
pub const TRACK_TYPE_LOSSY: &str = "LOSSY_AUDIO";
/// `intendedTrackType` of the lossless key's rule when there are two keys.
pub const TRACK_TYPE_LOSSLESS: &str = "LOSSLESS_AUDIO";

/// Documents larger than this are refused unread.
const MAX_DOCUMENT_BYTES: usize = 16 * 1024 * 1024;
/// Deeper element nesting than this is refused (CPIX needs 6 levels).
const MAX_DEPTH: usize = 32;
/// More elements than this are refused.
const MAX_ELEMENTS: usize = 200_000;

/// What a package needs from a key service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRequest {
    /// The content ID (SPEKE `CPIX@contentId`; Widevine content_id).
    pub content_id: String,
    pub scheme: Scheme,
    /// The systems whose data is asked for.
    pub systems: Vec<DrmSystem>,
    /// The key ID for the Opus ladder.
    pub lossy_kid: Kid,
    /// The key ID for the FLAC tier; `None`: the lossy key protects it too.
    pub lossless_kid: Option<Kid>,
}

impl KeyRequest {
    /// The distinct key IDs asked for: the lossy one first.
    pub fn kids(&self) -> Vec<Kid> {
        match self.lossless_kid {
            Some(kid) if kid != self.lossy_kid => vec![self.lossy_kid, kid],
            _ => vec![self.lossy_kid],
        }
    }
}

/// True when `bytes` look like a CPIX document (an XML document whose
/// root element is `CPIX` in the `urn:dashif:org:cpix` namespace).
pub fn is_cpix(bytes: &[u8]) -> bool {
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let mut reader = NsReader::from_reader(bytes);
    // Only the prolog is read: a few events at most.
    for _ in 0..64 {
        match reader.read_resolved_event() {
            Ok((ResolveResult::Bound(ns), Event::Start(e) | Event::Empty(e))) => {
                return ns.0 == CPIX_NS && e.local_name().as_ref() == "CPIX";
            }
            Ok((_, Event::Start(_) | Event::Empty(_))) | Ok((_, Event::Eof)) | Err(_) => {
                return false;
            }
            Ok(_) => {}
        }
    }
    false
}

/// Reads a CPIX document given as `--keys` (see the module documentation
/// for the conventions).
pub fn parse_document(xml: &[u8], source: KeySource) -> Result<KeySet, DrmError> {
    let fail = |message: String| DrmError::Keys {
        source_name: source.location(),
        message,
    };
    let document = read_document(xml).map_err(fail)?;
    let (lossy_kid, lossless_kid) = assign_tracks(&document).map_err(fail)?;
    let lossy = document.key(lossy_kid).map_err(fail)?;
    let lossless = document.key(lossless_kid).map_err(fail)?;
    let system_data = document
        .systems
        .into_iter()
        .filter(|d| d.kid == lossy_kid || d.kid == lossless_kid)
        .collect();
    Ok(KeySet {
        lossy,
        lossless,
        system_data,
        source,
    })
}

/// The SPEKE v2 request for `req` (see the module documentation).
pub fn request_document(req: &KeyRequest) -> String {
    let kids = req.kids();
    let mut xml = String::new();
    xml.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.push_str(&format!(
        "<cpix:CPIX xmlns:cpix=\"{CPIX_NS}\" xmlns:pskc=\"{PSKC_NS}\" contentId=\"{}\" version=\"{CPIX_VERSION}\">\n",
        xml_escape(&req.content_id)
    ));
    xml.push_str("  <cpix:ContentKeyList>\n");
    for kid in &kids {
        xml.push_str(&format!(
            "    <cpix:ContentKey kid=\"{}\" commonEncryptionScheme=\"{}\"/>\n",
            kid.uuid(),
            req.scheme.fourcc()
        ));
    }
    xml.push_str("  </cpix:ContentKeyList>\n");
    if !req.systems.is_empty() {
        xml.push_str("  <cpix:DRMSystemList>\n");
        for kid in &kids {
            for &system in &req.systems {
                xml.push_str(&format!(
                    "    <cpix:DRMSystem kid=\"{}\" systemId=\"{}\">\n",
                    kid.uuid(),
                    uuid_text(&system.system_id())
                ));
                if wants_pssh(system) {
                    xml.push_str("      <cpix:PSSH/>\n");
                } else {
                    xml.push_str("      <cpix:HLSSignalingData playlist=\"media\"/>\n");
                    xml.push_str("      <cpix:HLSSignalingData playlist=\"master\"/>\n");
                }
                xml.push_str("    </cpix:DRMSystem>\n");
            }
        }
        xml.push_str("  </cpix:DRMSystemList>\n");
    }
    xml.push_str("  <cpix:ContentKeyUsageRuleList>\n");
    let labels: &[&str] = if kids.len() == 1 {
        &[TRACK_TYPE_AUDIO]
    } else {
        &[TRACK_TYPE_LOSSY, TRACK_TYPE_LOSSLESS]
    };
    for (kid, label) in kids.iter().zip(labels) {
        xml.push_str(&format!(
            "    <cpix:ContentKeyUsageRule kid=\"{}\" intendedTrackType=\"{label}\">\n      <cpix:AudioFilter/>\n    </cpix:ContentKeyUsageRule>\n",
            kid.uuid()
        ));
    }
    xml.push_str("  </cpix:ContentKeyUsageRuleList>\n");
    xml.push_str("</cpix:CPIX>\n");
    xml
}

/// Whether the request asks `system` for a PSSH (else for HLS signalling
/// data): FairPlay has no PSSH.
pub fn wants_pssh(system: DrmSystem) -> bool {
    system != DrmSystem::FairPlay
}

/// Reads a key server's answer to [`request_document`]`(req)`: every key
/// asked for must come back with its value, nothing else may, and every
/// system asked for must come with its data (PSSH, or the HLS media
/// playlist line for FairPlay).
pub fn parse_response(xml: &[u8], req: &KeyRequest, source: KeySource) -> Result<KeySet, DrmError> {
    let fail = |message: String| DrmError::Keys {
        source_name: source.location(),
        message,
    };
    let document = read_document(xml).map_err(fail)?;
    check_response(&document, req).map_err(fail)?;
    let lossless_kid = req.lossless_kid.unwrap_or(req.lossy_kid);
    let lossy = document.key(req.lossy_kid).map_err(fail)?;
    let lossless = document.key(lossless_kid).map_err(fail)?;
    let system_data = document
        .systems
        .into_iter()
        .filter(|d| req.systems.contains(&d.system))
        .collect();
    Ok(KeySet {
        lossy,
        lossless,
        system_data,
        source,
    })
}

fn check_response(document: &Document, req: &KeyRequest) -> Result<(), String> {
    if let Some(id) = &document.content_id
        && id != &req.content_id
    {
        return Err(format!(
            "the answer is for content ID {id:?}, not the {:?} asked for",
            req.content_id
        ));
    }
    let kids = req.kids();
    for key in &document.keys {
        if !kids.contains(&key.kid) {
            return Err(format!(
                "the answer holds key ID {}, which was not asked for",
                key.kid
            ));
        }
        if let Some(scheme) = &key.scheme
            && scheme != req.scheme.fourcc()
        {
            return Err(format!(
                "key ID {} comes back for scheme {scheme:?}, not the {} asked for",
                key.kid, req.scheme
            ));
        }
    }
    for data in &document.systems {
        if !kids.contains(&data.kid) {
            return Err(format!(
                "the answer holds {} data for key ID {}, which was not asked for",
                data.system, data.kid
            ));
        }
    }
    for &kid in &kids {
        if !document.keys.iter().any(|k| k.kid == kid) {
            return Err(format!("the answer holds no key for key ID {kid}"));
        }
        for &system in &req.systems {
            let data = document
                .systems
                .iter()
                .find(|d| d.kid == kid && d.system == system);
            let complete = match data {
                Some(d) if wants_pssh(system) => d.pssh.is_some(),
                Some(d) => d.hls_media.is_some(),
                None => false,
            };
            if !complete {
                let what = if wants_pssh(system) {
                    "PSSH"
                } else {
                    "HLS signalling data"
                };
                return Err(format!(
                    "the answer holds no {system} {what} for key ID {kid}"
                ));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The document model
// ---------------------------------------------------------------------------

/// One `ContentKey`.
struct DocumentKey {
    kid: Kid,
    /// `None` when the element carries no value (a request).
    key: Option<ContentKey>,
    scheme: Option<String>,
}

/// Which audio tracks one usage rule is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RuleTracks {
    lossy: bool,
    lossless: bool,
}

struct UsageRule {
    kid: Kid,
    /// `None`: a rule about other tracks (video).
    tracks: Option<RuleTracks>,
}

/// What a CPIX document says, checked for consistency.
struct Document {
    content_id: Option<String>,
    keys: Vec<DocumentKey>,
    systems: Vec<SystemData>,
    rules: Vec<UsageRule>,
}

impl Document {
    fn key(&self, kid: Kid) -> Result<ContentKey, String> {
        let entry = self
            .keys
            .iter()
            .find(|k| k.kid == kid)
            .ok_or_else(|| format!("no ContentKey with key ID {kid}"))?;
        entry.key.clone().ok_or_else(|| {
            format!("ContentKey {kid} carries no key value (cpix:Data/pskc:Secret/pskc:PlainValue)")
        })
    }
}

/// Picks the lossy and the lossless key IDs by the usage rules.
fn assign_tracks(document: &Document) -> Result<(Kid, Kid), String> {
    let Some(first) = document.keys.first() else {
        return Err("the ContentKeyList holds no ContentKey".into());
    };
    if document.rules.is_empty() {
        if document.keys.len() == 1 {
            return Ok((first.kid, first.kid));
        }
        return Err(format!(
            "{} content keys but no ContentKeyUsageRuleList saying which protects the lossy \
             tracks and which the lossless ones (expected rules with intendedTrackType \
             \"lossy\" and \"lossless\")",
            document.keys.len()
        ));
    }
    let pick = |name: &str, named: &dyn Fn(RuleTracks) -> bool| -> Result<Kid, String> {
        let mut explicit: Vec<Kid> = Vec::new();
        let mut generic: Vec<Kid> = Vec::new();
        for rule in &document.rules {
            let Some(tracks) = rule.tracks else { continue };
            let list = if tracks.lossy != tracks.lossless {
                if !named(tracks) {
                    continue;
                }
                &mut explicit
            } else {
                &mut generic
            };
            if !list.contains(&rule.kid) {
                list.push(rule.kid);
            }
        }
        match (explicit.as_slice(), generic.as_slice()) {
            ([kid], _) => Ok(*kid),
            ([_, _, ..], _) => Err(format!(
                "several keys ({}) have usage rules for the {name} tracks",
                kid_list(&explicit)
            )),
            ([], [kid]) => Ok(*kid),
            ([], [_, _, ..]) => Err(format!(
                "several keys ({}) have usage rules for all audio tracks and none names the \
                 {name} tracks",
                kid_list(&generic)
            )),
            ([], []) if document.keys.len() == 1 => Ok(first.kid),
            ([], []) => Err(format!("no usage rule names a key for the {name} tracks")),
        }
    };
    let lossy = pick("lossy", &|t| t.lossy)?;
    let lossless = pick("lossless", &|t| t.lossless)?;
    Ok((lossy, lossless))
}

fn kid_list(kids: &[Kid]) -> String {
    kids.iter().map(Kid::uuid).collect::<Vec<_>>().join(", ")
}

/// Parses and checks a CPIX document.
fn read_document(xml: &[u8]) -> Result<Document, String> {
    let root = parse_xml(xml)?;
    if !root.is(CPIX_NS, "CPIX") {
        return Err(format!(
            "not a CPIX document: the root element is {:?} (expected CPIX in {CPIX_NS})",
            root.name
        ));
    }
    let delivery_data = root.child(CPIX_NS, "DeliveryDataList").is_some();
    let content_id = root.attr("contentId").map(str::to_owned);
    let list = root
        .child(CPIX_NS, "ContentKeyList")
        .ok_or("the document has no ContentKeyList")?;
    let mut keys: Vec<DocumentKey> = Vec::new();
    for element in list.children_named(CPIX_NS, "ContentKey") {
        let key = read_content_key(element, delivery_data)?;
        if keys.iter().any(|k| k.kid == key.kid) {
            return Err(format!(
                "key ID {} is listed twice in ContentKeyList",
                key.kid
            ));
        }
        keys.push(key);
    }
    if keys.is_empty() {
        return Err("the ContentKeyList holds no ContentKey".into());
    }
    let known = |kid: Kid| keys.iter().any(|k| k.kid == kid);

    let mut systems: Vec<SystemData> = Vec::new();
    if let Some(list) = root.child(CPIX_NS, "DRMSystemList") {
        for element in list.children_named(CPIX_NS, "DRMSystem") {
            let kid = required_kid(element, "DRMSystem")?;
            if !known(kid) {
                return Err(format!(
                    "a DRMSystem is for key ID {kid}, which the ContentKeyList does not hold"
                ));
            }
            let Some(data) = read_drm_system(element, kid)? else {
                continue;
            };
            if systems
                .iter()
                .any(|d| d.kid == kid && d.system == data.system)
            {
                return Err(format!(
                    "two DRMSystem elements for {} and key ID {kid}",
                    data.system
                ));
            }
            systems.push(data);
        }
    }

    let mut rules = Vec::new();
    if let Some(list) = root.child(CPIX_NS, "ContentKeyUsageRuleList") {
        for element in list.children_named(CPIX_NS, "ContentKeyUsageRule") {
            let kid = required_kid(element, "ContentKeyUsageRule")?;
            if !known(kid) {
                return Err(format!(
                    "a ContentKeyUsageRule is for key ID {kid}, which the ContentKeyList does \
                     not hold"
                ));
            }
            rules.push(UsageRule {
                kid,
                tracks: rule_tracks(element),
            });
        }
    }
    Ok(Document {
        content_id,
        keys,
        systems,
        rules,
    })
}

fn required_kid(element: &Element, what: &str) -> Result<Kid, String> {
    let text = element
        .attr("kid")
        .ok_or_else(|| format!("a {what} has no kid attribute"))?;
    parse_uuid(text)
        .map(Kid)
        .ok_or_else(|| format!("a {what} has kid {text:?}, which is not a UUID"))
}

fn read_content_key(element: &Element, delivery_data: bool) -> Result<DocumentKey, String> {
    let kid = required_kid(element, "ContentKey")?;
    let iv = match element.attr("explicitIV") {
        Some(text) => {
            let bytes = decode_base64(text)
                .ok_or_else(|| format!("ContentKey {kid}: explicitIV is not valid base64"))?;
            let iv: [u8; 16] = bytes.as_slice().try_into().map_err(|_| {
                format!(
                    "ContentKey {kid}: explicitIV has {} bytes, not 16",
                    bytes.len()
                )
            })?;
            Some(iv)
        }
        None => None,
    };
    let secret = element
        .child_local("Data")
        .and_then(|data| data.child_local("Secret"));
    let mut key = None;
    if let Some(secret) = secret {
        if secret.child_local("EncryptedValue").is_some() {
            let why = if delivery_data {
                "audiopack does not decrypt DeliveryDataList document keys"
            } else {
                "the document has no DeliveryDataList with a document key to decrypt it, and \
                 audiopack does not decrypt document keys anyway"
            };
            return Err(format!(
                "ContentKey {kid} is encrypted (pskc:EncryptedValue): {why}; ask the key \
                 service for plain keys (pskc:PlainValue)"
            ));
        }
        if let Some(plain) = secret.child_local("PlainValue") {
            let bytes = decode_base64(&plain.text)
                .ok_or_else(|| format!("ContentKey {kid}: the PlainValue is not valid base64"))?;
            let value: [u8; 16] = bytes.as_slice().try_into().map_err(|_| {
                format!(
                    "ContentKey {kid}: the PlainValue has {} bytes, not the 16 of an AES-128 key",
                    bytes.len()
                )
            })?;
            key = Some(ContentKey::new(kid, value, iv));
        }
    }
    Ok(DocumentKey {
        kid,
        key,
        scheme: element.attr("commonEncryptionScheme").map(str::to_owned),
    })
}

/// The data of one `DRMSystem`; `None` for a system audiopack does not
/// know.
fn read_drm_system(element: &Element, kid: Kid) -> Result<Option<SystemData>, String> {
    let id_text = element
        .attr("systemId")
        .ok_or_else(|| format!("a DRMSystem for key ID {kid} has no systemId"))?;
    let id = parse_uuid(id_text).ok_or_else(|| {
        format!("a DRMSystem for key ID {kid} has systemId {id_text:?}, which is not a UUID")
    })?;
    let Some(system) = DrmSystem::from_system_id(&id) else {
        return Ok(None);
    };
    let mut data = SystemData {
        system,
        kid,
        pssh: None,
        hls_media: None,
        hls_master: None,
    };
    if let Some(pssh) = element.child(CPIX_NS, "PSSH")
        && !pssh.text.trim().is_empty()
    {
        let bytes = decode_base64(&pssh.text)
            .ok_or_else(|| format!("the {system} PSSH for key ID {kid} is not valid base64"))?;
        check_pssh(&bytes, system)
            .map_err(|why| format!("the {system} PSSH for key ID {kid}: {why}"))?;
        data.pssh = Some(bytes.to_vec());
    }
    for hls in element.children_named(CPIX_NS, "HLSSignalingData") {
        if hls.text.trim().is_empty() {
            continue;
        }
        let playlist = hls.attr("playlist").unwrap_or("media");
        let bytes = decode_base64(&hls.text).ok_or_else(|| {
            format!("the {system} HLSSignalingData for key ID {kid} is not valid base64")
        })?;
        let text = String::from_utf8(bytes.to_vec()).map_err(|_| {
            format!("the {system} HLSSignalingData for key ID {kid} is not UTF-8 text")
        })?;
        match playlist {
            "media" => data.hls_media = Some(text),
            "master" => data.hls_master = Some(text),
            other => {
                return Err(format!(
                    "the {system} HLSSignalingData for key ID {kid} has playlist {other:?} \
                     (expected media or master)"
                ));
            }
        }
    }
    Ok(Some(data))
}

/// Which audio tracks a `ContentKeyUsageRule` is for.
fn rule_tracks(rule: &Element) -> Option<RuleTracks> {
    let audio_filter = rule.child(CPIX_NS, "AudioFilter").is_some();
    let video_filter = rule.child(CPIX_NS, "VideoFilter").is_some();
    let all = RuleTracks {
        lossy: true,
        lossless: true,
    };
    let Some(label) = rule.attr("intendedTrackType") else {
        return (audio_filter || !video_filter).then_some(all);
    };
    let mut tracks = RuleTracks {
        lossy: false,
        lossless: false,
    };
    let mut generic = false;
    for part in label.split('+') {
        let part = part.trim().to_ascii_uppercase();
        if part.contains("LOSSLESS") {
            tracks.lossless = true;
        } else if part.contains("LOSSY") {
            tracks.lossy = true;
        } else if part == "ALL" || part.contains("AUDIO") {
            generic = true;
        }
    }
    if generic || (!tracks.lossy && !tracks.lossless && audio_filter) {
        return Some(all);
    }
    (tracks.lossy || tracks.lossless).then_some(tracks)
}

/// Checks that `bytes` are one whole `pssh` box for `system`
/// (ISO/IEC 23001-7 §8.1).
pub fn check_pssh(bytes: &[u8], system: DrmSystem) -> Result<(), String> {
    let be32 = |at: usize| -> Option<usize> {
        let word: [u8; 4] = bytes.get(at..at + 4)?.try_into().ok()?;
        usize::try_from(u32::from_be_bytes(word)).ok()
    };
    if bytes.len() < 32 {
        return Err(format!("{} bytes are too few for a pssh box", bytes.len()));
    }
    if bytes.get(4..8) != Some(b"pssh".as_slice()) {
        return Err("the data is not a pssh box".into());
    }
    if be32(0) != Some(bytes.len()) {
        return Err("the pssh box size does not match its length".into());
    }
    let version = bytes[8];
    if version > 1 {
        return Err(format!("pssh version {version} is not known (0 or 1)"));
    }
    let id: [u8; 16] = bytes[12..28]
        .try_into()
        .map_err(|_| "the pssh box is truncated".to_string())?;
    if DrmSystem::from_system_id(&id) != Some(system) {
        return Err(format!(
            "the pssh box is for system ID {}, not {system}",
            uuid_text(&id)
        ));
    }
    let mut at = 28;
    if version == 1 {
        let count = be32(at).ok_or("the pssh box is truncated")?;
        at = count
            .checked_mul(16)
            .and_then(|n| n.checked_add(at + 4))
            .ok_or("the pssh box is truncated")?;
    }
    let size = be32(at).ok_or("the pssh box is truncated")?;
    if at.checked_add(4).and_then(|n| n.checked_add(size)) != Some(bytes.len()) {
        return Err("the pssh data size does not match the box".into());
    }
    Ok(())
}

/// Standard base64, whitespace allowed (documents wrap long values).
fn decode_base64(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let compact: Zeroizing<String> =
        Zeroizing::new(text.chars().filter(|c| !c.is_ascii_whitespace()).collect());
    BASE64.decode(compact.as_bytes()).ok().map(Zeroizing::new)
}

/// Text for XML attribute values and element content (the CPIX request,
/// the PlayReady header).
pub(crate) fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
    out
}

// ---------------------------------------------------------------------------
// A minimal namespace-aware element tree
// ---------------------------------------------------------------------------

/// One XML element: its namespace URI (empty when unbound), local name,
/// unprefixed attributes, children and text (zeroized on drop: key values
/// pass through here).
struct Element {
    ns: String,
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Element>,
    text: Zeroizing<String>,
}

impl Element {
    fn is(&self, ns: &str, name: &str) -> bool {
        self.ns == ns && self.name == name
    }

    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn child(&self, ns: &str, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(ns, name))
    }

    /// The first child with this local name, whatever its namespace (PSKC
    /// elements appear under several prefixes in the wild).
    fn child_local(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    fn children_named<'a>(
        &'a self,
        ns: &'a str,
        name: &'a str,
    ) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.is(ns, name))
    }
}

/// Parses `xml` into a tree. Errors name the problem and the byte offset,
/// never the document's text.
fn parse_xml(xml: &[u8]) -> Result<Element, String> {
    if xml.len() > MAX_DOCUMENT_BYTES {
        return Err(format!(
            "the document has {} bytes, more than the {MAX_DOCUMENT_BYTES} accepted",
            xml.len()
        ));
    }
    let xml = xml.strip_prefix(b"\xef\xbb\xbf").unwrap_or(xml);
    let mut reader = NsReader::from_reader(xml);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    loop {
        let position = reader.buffer_position();
        let malformed = |what: String| format!("not well-formed XML near byte {position}: {what}");
        let (resolved, event) = reader
            .read_resolved_event()
            .map_err(|e| malformed(describe_xml_error(&e)))?;
        let ns = match resolved {
            ResolveResult::Bound(ns) => ns.0.to_owned(),
            ResolveResult::Unbound => String::new(),
            ResolveResult::Unknown(prefix) => {
                return Err(malformed(format!(
                    "namespace prefix {prefix:?} is not declared"
                )));
            }
        };
        match event {
            Event::Start(e) => {
                count += 1;
                if stack.len() >= MAX_DEPTH || count > MAX_ELEMENTS {
                    return Err("the document is nested too deeply or is too large".into());
                }
                stack.push(new_element(&reader, ns, &e).map_err(malformed)?);
            }
            Event::Empty(e) => {
                count += 1;
                if count > MAX_ELEMENTS {
                    return Err("the document has too many elements".into());
                }
                let element = new_element(&reader, ns, &e).map_err(malformed)?;
                attach(&mut stack, &mut root, element).map_err(malformed)?;
            }
            Event::End(_) => {
                let element = stack
                    .pop()
                    .ok_or_else(|| malformed("an end tag without a start tag".into()))?;
                attach(&mut stack, &mut root, element).map_err(malformed)?;
            }
            Event::Text(t) => push_text(&mut stack, &t.xml10_content()).map_err(malformed)?,
            Event::CData(t) => push_text(&mut stack, &t.xml10_content()).map_err(malformed)?,
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref() {
                    Ok(Some(c)) => c,
                    Ok(None) => match &*r {
                        "lt" => '<',
                        "gt" => '>',
                        "amp" => '&',
                        "apos" => '\'',
                        "quot" => '"',
                        _ => return Err(malformed("an unknown entity reference".into())),
                    },
                    Err(_) => return Err(malformed("an invalid character reference".into())),
                };
                push_text(&mut stack, c.encode_utf8(&mut [0; 4])).map_err(malformed)?;
            }
            Event::DocType(_) => {
                return Err(malformed(
                    "document type declarations are not accepted".into(),
                ));
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err("not well-formed XML: the document ends inside an element".into());
    }
    root.ok_or_else(|| "not an XML document: no root element".into())
}

fn new_element(
    reader: &NsReader<&[u8]>,
    ns: String,
    start: &quick_xml::events::BytesStart<'_>,
) -> Result<Element, String> {
    let mut attrs = Vec::new();
    for attr in start.attributes() {
        let attr = attr.map_err(|e| format!("a malformed attribute ({e})"))?;
        let key = attr.key.as_ref();
        if key == "xmlns" || key.starts_with("xmlns:") {
            continue;
        }
        let (resolved, local) = reader.resolver().resolve_attribute(attr.key);
        if !matches!(resolved, ResolveResult::Unbound) {
            continue;
        }
        let value = attr
            .normalized_value(quick_xml::XmlVersion::Implicit1_0)
            .map_err(|e| format!("a malformed attribute value ({})", describe_xml_error(&e)))?;
        attrs.push((local.as_ref().to_owned(), value.into_owned()));
    }
    Ok(Element {
        ns,
        name: start.local_name().as_ref().to_owned(),
        attrs,
        children: Vec::new(),
        text: Zeroizing::new(String::new()),
    })
}

fn attach(
    stack: &mut [Element],
    root: &mut Option<Element>,
    element: Element,
) -> Result<(), String> {
    match stack.last_mut() {
        Some(parent) => {
            parent.children.push(element);
            Ok(())
        }
        None if root.is_none() => {
            *root = Some(element);
            Ok(())
        }
        None => Err("more than one root element".into()),
    }
}

fn push_text(stack: &mut [Element], text: &str) -> Result<(), String> {
    match stack.last_mut() {
        Some(element) => {
            element.text.push_str(text);
            Ok(())
        }
        None if text.trim().is_empty() => Ok(()),
        None => Err("text outside the root element".into()),
    }
}

/// A quick-xml error without the document's text (a value could be a key):
/// syntax and nesting errors name tags, not content.
fn describe_xml_error(error: &quick_xml::Error) -> String {
    match error {
        quick_xml::Error::Syntax(e) => e.to_string(),
        quick_xml::Error::IllFormed(e) => e.to_string(),
        quick_xml::Error::Encoding(_) => "the text is not valid UTF-8".into(),
        _ => "invalid markup".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pssh(version: u8, system: [u8; 16], kids: &[[u8; 16]], data: &[u8]) -> Vec<u8> {
        let mut body = vec![version, 0, 0, 0];
        body.extend_from_slice(&system);
        if version == 1 {
            body.extend_from_slice(&(kids.len() as u32).to_be_bytes());
            kids.iter().for_each(|k| body.extend_from_slice(k));
        }
        body.extend_from_slice(&(data.len() as u32).to_be_bytes());
        body.extend_from_slice(data);
        let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(b"pssh");
        out.extend_from_slice(&body);
        out
    }

    #[test]
    fn pssh_boxes_are_checked_whole() {
        let common = DrmSystem::ClearKey.system_id();
        let good = pssh(1, common, &[[7; 16]], &[]);
        assert_eq!(check_pssh(&good, DrmSystem::ClearKey), Ok(()));
        assert!(check_pssh(&good, DrmSystem::Widevine).is_err());
        let mut short = good.clone();
        short.pop();
        assert!(check_pssh(&short, DrmSystem::ClearKey).is_err());
        // A kid count that runs past the end.
        let mut lying = pssh(1, common, &[[7; 16]], &[]);
        lying[31] = 200;
        assert!(check_pssh(&lying, DrmSystem::ClearKey).is_err());
        let v0 = pssh(0, DrmSystem::PlayReady.system_id(), &[], b"header");
        assert_eq!(check_pssh(&v0, DrmSystem::PlayReady), Ok(()));
    }

    fn rule(label: Option<&str>, filters: &[&str]) -> Element {
        Element {
            ns: CPIX_NS.into(),
            name: "ContentKeyUsageRule".into(),
            attrs: label
                .map(|l| vec![("intendedTrackType".to_string(), l.to_string())])
                .unwrap_or_default(),
            children: filters
                .iter()
                .map(|f| Element {
                    ns: CPIX_NS.into(),
                    name: (*f).into(),
                    attrs: Vec::new(),
                    children: Vec::new(),
                    text: Zeroizing::new(String::new()),
                })
                .collect(),
            text: Zeroizing::new(String::new()),
        }
    }

    #[test]
    fn usage_rule_labels() {
        let all = Some(RuleTracks {
            lossy: true,
            lossless: true,
        });
        let lossy = Some(RuleTracks {
            lossy: true,
            lossless: false,
        });
        let lossless = Some(RuleTracks {
            lossy: false,
            lossless: true,
        });
        assert_eq!(rule_tracks(&rule(Some("lossy"), &[])), lossy);
        assert_eq!(
            rule_tracks(&rule(Some("LOSSLESS_AUDIO"), &["AudioFilter"])),
            lossless
        );
        assert_eq!(rule_tracks(&rule(Some("LOSSY+LOSSLESS"), &[])), all);
        assert_eq!(rule_tracks(&rule(Some("AUDIO"), &["AudioFilter"])), all);
        assert_eq!(
            rule_tracks(&rule(Some("ALL"), &["AudioFilter", "VideoFilter"])),
            all
        );
        assert_eq!(rule_tracks(&rule(Some("STEREO"), &["AudioFilter"])), all);
        assert_eq!(rule_tracks(&rule(Some("HD"), &["VideoFilter"])), None);
        assert_eq!(rule_tracks(&rule(None, &["VideoFilter"])), None);
        assert_eq!(rule_tracks(&rule(None, &[])), all);
    }

    #[test]
    fn xml_errors_never_quote_text() {
        let error = parse_xml(b"<a>secretvalue&unknownentity;</a>").err();
        let text = error.unwrap_or_default();
        assert!(!text.contains("secretvalue"), "{text}");
        assert!(text.contains("unknown entity"), "{text}");
    }
}
