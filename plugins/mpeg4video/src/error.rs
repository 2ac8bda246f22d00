//! Why decoding stopped.

/// A decoding failure: corrupt data, or a feature this decoder does not implement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The bitstream is corrupt or cut short.
    #[error("{0}")]
    Invalid(String),
    /// The bitstream is valid but uses a tool this decoder does not implement.
    #[error("{0}")]
    Unsupported(String),
}

impl Error {
    /// An [`Error::Invalid`].
    pub fn invalid(m: impl Into<String>) -> Self {
        Error::Invalid(m.into())
    }
    /// An [`Error::Unsupported`].
    pub fn unsupported(m: impl Into<String>) -> Self {
        Error::Unsupported(m.into())
    }
}

/// Shorthand for decoder results.
pub type Result<T> = std::result::Result<T, Error>;
