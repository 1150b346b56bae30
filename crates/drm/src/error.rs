//! Errors. No message ever carries key material: keys are only ever
//! referred to by their key ID.

/// What went wrong getting or using keys.
#[derive(Debug, thiserror::Error)]
pub enum DrmError {
    /// The key file, CPIX document or server answer is malformed or does
    /// not give what the package needs. `source` names where the keys came
    /// from (a path, or a URL without credentials).
    #[error("{source_name}: {message}")]
    Keys {
        source_name: String,
        message: String,
    },
    /// The key source could not be read or reached.
    #[error("{source_name}: {message}")]
    Unavailable {
        source_name: String,
        message: String,
    },
    /// A key server refused the request (4xx): not retried.
    #[error("{source_name}: the key server refused the request: {message}")]
    Refused {
        source_name: String,
        status: u16,
        message: String,
    },
    /// Options that do not go together (e.g. FairPlay with cenc).
    #[error("{0}")]
    Config(String),
}
