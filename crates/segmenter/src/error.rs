use thiserror::Error;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SegmentError {
    /// The box writer refused a value (out of range for its field).
    #[error("writing {what}: {source}")]
    Mp4 {
        what: &'static str,
        #[source]
        source: mp4_atom::Error,
    },
    /// A value that does not fit the format (a segment over 4 GiB, …).
    #[error("{0}")]
    Limit(String),
}
