//! What tags may cost, per opened source.
//!
//! Symphonia 0.6.1 parses every tag it finds into structures costing some
//! 300 bytes per entry (a 16 MB FLAC comment block of tiny comments took
//! 713 MB), and its `MetadataOptions` limits are declared but read by no
//! reader. So audiopack decides before symphonia parses: the
//! [pre-scan](crate::prescan) for container blocks and chunks, the
//! [probe](crate::probe) wrappers for ID3v2/APE tags. What does not fit is
//! skipped and listed as a warning.

use std::cell::RefCell;

/// Bytes of tag data kept per source (cover art included).
pub(crate) const MAX_METADATA_BYTES: u64 = 8 << 20;
/// Tag entries (comments, ID3 frames, chunks, blocks) kept per source.
pub(crate) const MAX_METADATA_ENTRIES: u64 = 10_000;
/// Separate ID3v2/APE tags read by the probe; more is an error (each one
/// becomes a metadata revision, so a chain of empty tags costs memory too).
pub(crate) const MAX_TAGS: u32 = 64;

#[derive(Debug, Clone)]
pub(crate) struct MetadataBudget {
    pub bytes_left: u64,
    pub entries_left: u64,
    pub tags_left: u32,
    /// What was skipped, for [`Source::warnings`](crate::Source::warnings).
    pub warnings: Vec<String>,
}

impl Default for MetadataBudget {
    fn default() -> Self {
        MetadataBudget {
            bytes_left: MAX_METADATA_BYTES,
            entries_left: MAX_METADATA_ENTRIES,
            tags_left: MAX_TAGS,
            warnings: Vec::new(),
        }
    }
}

impl MetadataBudget {
    /// Takes `bytes` and `entries` if both fit; false (nothing taken) if not.
    pub fn take(&mut self, bytes: u64, entries: u64) -> bool {
        if bytes <= self.bytes_left && entries <= self.entries_left {
            self.bytes_left -= bytes;
            self.entries_left -= entries;
            true
        } else {
            false
        }
    }

    pub fn skipped(&mut self, what: String) {
        // The list itself is bounded: past a few, only count.
        const SHOWN: usize = 8;
        if self.warnings.len() < SHOWN {
            self.warnings.push(format!(
                "{what}: skipped (tags are limited to {} MiB and {} entries)",
                MAX_METADATA_BYTES >> 20,
                MAX_METADATA_ENTRIES
            ));
        } else if self.warnings.len() == SHOWN {
            self.warnings
                .push("more tag data skipped (not listed)".to_string());
        }
    }
}

thread_local! {
    /// The budget of the source being probed on this thread. The probe calls
    /// metadata readers through plain functions with no state of ours, so
    /// the budget travels here, set by [`with_budget`] around the probe.
    static CURRENT: RefCell<Option<MetadataBudget>> = const { RefCell::new(None) };
}

/// Runs `f` (the probe) with `budget` as this thread's budget; returns what
/// is left of it.
pub(crate) fn with_budget<R>(budget: MetadataBudget, f: impl FnOnce() -> R) -> (R, MetadataBudget) {
    CURRENT.with(|c| *c.borrow_mut() = Some(budget));
    let result = f();
    let budget = CURRENT.with(|c| c.borrow_mut().take()).unwrap_or_default();
    (result, budget)
}

/// Gives the metadata readers the current budget. Outside [`with_budget`]
/// (symphonia's own probe, tests) a fresh default one applies per call.
pub(crate) fn with_current<R>(f: impl FnOnce(&mut MetadataBudget) -> R) -> R {
    CURRENT.with(|c| {
        let mut slot = c.borrow_mut();
        match slot.as_mut() {
            Some(budget) => f(budget),
            None => f(&mut MetadataBudget::default()),
        }
    })
}
