//! # audiopack-fuzz-targets
//!
//! Fuzz harnesses: plain `fn(&[u8])` functions that must return on **any**
//! input without panicking, hanging or allocating without bound. They
//! catch nothing: a panic (ours or a dependency's) is a finding.
//!
//! ```text
//!  fuzz/ (afl.rs, stable Rust)      tests/corpus_replay.rs (cargo test)
//!  afl::fuzz!(|d| decode(d))        every file in fuzz/corpus/<target>/
//!           │                        and fuzz/regressions/<target>/
//!           └────────────┬───────────┘
//!                        ▼
//!   decode      Source::from_media + next_block to the end (strict, then
//!               lenient when strict refused): prescan, probe, every
//!               container and codec, end-of-stream checks
//!   tags        Source::from_media only: prescan patches, the bounded
//!               ID3v2/APE readers, container tags, SourceInfo::tags
//!   cmaf_parse  mp4-atom (strict) parse-back of init and media segments,
//!               as the segmenter tests read our CMAF
//! ```
//!
//! Catalog and CPIX parsers do not exist yet; when they land, each gets a
//! module here, a line in [`TARGETS`], a seed directory under
//! `fuzz/corpus/` and a binary in `fuzz/` (see `docs/fuzzing.md`).
//!
//! Besides "no panic", the harnesses check the documented contracts of
//! what they call (a block has one plane per channel, all of one length),
//! so a contract broken on odd input is a finding too.

mod cmaf_parse;
mod decode;
mod tags;

pub use cmaf_parse::{cmaf_parse, counts_are_bounded};
pub use decode::decode;
pub use tags::tags;

/// A harness: returns on any input; a panic is a finding.
pub type Harness = fn(&[u8]);

/// Every target by name (the directory names under `fuzz/corpus/` and
/// `fuzz/regressions/`, and the binaries in `fuzz/`).
pub const TARGETS: &[(&str, Harness)] = &[
    ("decode", decode),
    ("tags", tags),
    ("cmaf_parse", cmaf_parse),
    // ("catalog", catalog),  // when the catalog parser exists
    // ("cpix", cpix),        // when the CPIX parser exists
];
