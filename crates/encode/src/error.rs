use thiserror::Error;

/// Everything that can go wrong in the pure stages. The messages carry the
/// offending values; the caller adds the file or rendition context.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// An option that cannot work (bitrate out of range, bad ladder text, …).
    #[error("invalid encoder configuration: {0}")]
    Config(String),
    /// libopus refused a setting or a frame.
    #[error("opus encoder ({bitrate_bps} bit/s): {source}")]
    Opus {
        bitrate_bps: u32,
        #[source]
        source: opus::Error,
    },
    /// The resampler could not be set up or fed.
    #[error("resampler {from_hz} Hz -> {to_hz} Hz: {message}")]
    Resample {
        from_hz: u32,
        to_hz: u32,
        message: String,
    },
    /// Writing the encoded stream failed (the sink's I/O error).
    #[error("writing the encoded stream: {0}")]
    Io(#[from] std::io::Error),
}
