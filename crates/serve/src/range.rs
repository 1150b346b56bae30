//! The `Range` header (RFC 9110 §14): one byte range at a time.
//!
//! `bytes=a-b`, `bytes=a-` and `bytes=-n` (the last `n` bytes) are
//! answered with 206 and `Content-Range`; a range starting at or past the
//! end (or `-0`, or any range of an empty file) with 416 and
//! `Content-Range: bytes */size`. A request for several ranges
//! (`bytes=0-1,5-6`), another unit, or a malformed value is ignored, as the
//! RFC allows: the whole file is sent with 200 (players ask for one range).

/// What to send for a file of a given size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeAnswer {
    /// The whole file (no range, or one this server ignores).
    Full,
    /// Bytes `start..=end` (206).
    Partial {
        /// First byte.
        start: u64,
        /// Last byte (inclusive).
        end: u64,
    },
    /// The range starts past the end (416).
    Unsatisfiable,
}

/// Decides the answer to `header` (the `Range` value, if any) for a file of
/// `size` bytes.
pub fn answer(header: Option<&str>, size: u64) -> RangeAnswer {
    let Some(header) = header else {
        return RangeAnswer::Full;
    };
    let Some((unit, spec)) = header.trim().split_once('=') else {
        return RangeAnswer::Full;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") || spec.contains(',') {
        return RangeAnswer::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAnswer::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    match (number(first), number(last)) {
        // bytes=-n: the last n bytes.
        (None, Some(n)) if first.is_empty() => {
            if n == 0 || size == 0 {
                RangeAnswer::Unsatisfiable
            } else {
                RangeAnswer::Partial {
                    start: size.saturating_sub(n),
                    end: size - 1,
                }
            }
        }
        // bytes=a-
        (Some(start), None) if last.is_empty() => from(start, u64::MAX, size),
        // bytes=a-b
        (Some(start), Some(end)) if end >= start => from(start, end, size),
        _ => RangeAnswer::Full,
    }
}

fn from(start: u64, end: u64, size: u64) -> RangeAnswer {
    if start >= size {
        RangeAnswer::Unsatisfiable
    } else {
        RangeAnswer::Partial {
            start,
            end: end.min(size - 1),
        }
    }
}

/// Digits only (no sign, no spaces inside), within u64.
fn number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::RangeAnswer::{Full, Partial, Unsatisfiable};
    use super::*;

    #[test]
    fn single_ranges() {
        assert_eq!(answer(None, 100), Full);
        assert_eq!(answer(Some("bytes=0-9"), 100), Partial { start: 0, end: 9 });
        assert_eq!(
            answer(Some("bytes=10-"), 100),
            Partial { start: 10, end: 99 }
        );
        assert_eq!(
            answer(Some("bytes=-10"), 100),
            Partial { start: 90, end: 99 }
        );
        assert_eq!(
            answer(Some("bytes=-1000"), 100),
            Partial { start: 0, end: 99 }
        );
        assert_eq!(
            answer(Some("bytes=90-1000"), 100),
            Partial { start: 90, end: 99 }
        );
        assert_eq!(
            answer(Some("bytes=99-99"), 100),
            Partial { start: 99, end: 99 }
        );
        assert_eq!(
            answer(Some(" Bytes = 5 - 6 "), 100),
            Partial { start: 5, end: 6 }
        );
    }

    #[test]
    fn unsatisfiable_ranges() {
        assert_eq!(answer(Some("bytes=100-"), 100), Unsatisfiable);
        assert_eq!(answer(Some("bytes=100-200"), 100), Unsatisfiable);
        assert_eq!(answer(Some("bytes=-0"), 100), Unsatisfiable);
        assert_eq!(answer(Some("bytes=0-"), 0), Unsatisfiable);
        assert_eq!(answer(Some("bytes=-5"), 0), Unsatisfiable);
    }

    #[test]
    fn ignored_ranges_mean_the_whole_file() {
        for header in [
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes=5-1",
            "bytes=-",
            "bytes=a-b",
            "bytes=+1-2",
            "bytes 0-1",
            "bytes=99999999999999999999999-",
        ] {
            assert_eq!(answer(Some(header), 100), Full, "{header}");
        }
    }
}
