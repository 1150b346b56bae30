//! The test server's own small XML reading and writing for CPIX documents:
//! an element tree with resolved namespaces (it shares no code with the
//! client under test).

use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;

use super::CPIX_NS;

/// Text for XML content and attribute values.
pub(super) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A CPIX element (only `urn:dashif:org:cpix` children are kept, by local
/// name; other namespaces are dropped).
pub(super) struct Node {
    pub ns: String,
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Node>,
}

impl Node {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children
            .iter()
            .find(|c| c.ns == CPIX_NS && c.name == name)
    }

    pub fn children<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children
            .iter()
            .filter(move |c| c.ns == CPIX_NS && c.name == name)
    }
}

/// Parses a document into its element tree (no DTDs).
pub(super) fn parse(xml: &[u8]) -> Result<Node, String> {
    let mut reader = NsReader::from_reader(xml);
    let mut stack: Vec<Node> = Vec::new();
    let mut root = None;
    loop {
        let (resolved, event) = reader
            .read_resolved_event()
            .map_err(|e| format!("not well-formed XML: {e}"))?;
        let ns = match resolved {
            ResolveResult::Bound(ns) => ns.0.to_string(),
            _ => String::new(),
        };
        let node = |start: &BytesStart<'_>| -> Result<Node, String> {
            let mut attrs = Vec::new();
            for attr in start.attributes() {
                let attr = attr.map_err(|e| format!("bad attribute: {e}"))?;
                let key = attr.key.as_ref().to_string();
                if key.starts_with("xmlns") || key.contains(':') {
                    continue;
                }
                let value = attr
                    .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .map_err(|e| format!("bad attribute value: {e}"))?;
                attrs.push((key, value.into_owned()));
            }
            Ok(Node {
                ns: ns.clone(),
                name: start.local_name().as_ref().to_string(),
                attrs,
                children: Vec::new(),
            })
        };
        match event {
            Event::Start(start) => stack.push(node(&start)?),
            Event::Empty(start) => {
                let n = node(&start)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(n),
                    None => root = Some(n),
                }
            }
            Event::End(_) => {
                let n = stack.pop().ok_or("an unmatched end tag")?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(n),
                    None if root.is_none() => root = Some(n),
                    None => return Err("more than one root element".into()),
                }
            }
            Event::DocType(_) => return Err("DTDs are not accepted".into()),
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err("not well-formed XML: unclosed elements".into());
    }
    root.ok_or_else(|| "not XML: no root element".into())
}
