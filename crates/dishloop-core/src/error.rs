//! Errors of the simulator core.

/// What can go wrong when building or running a network.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CoreError {
    /// A parameter is outside its allowed range.
    #[error("{field} = {value} is out of range: {allowed}")]
    OutOfRange {
        /// Dotted path of the parameter.
        field: String,
        /// The offending value, as written.
        value: String,
        /// The allowed range, in words.
        allowed: String,
    },
    /// Sizes of arrays that must agree do not.
    #[error("size mismatch: {0}")]
    Size(String),
    /// The network would exceed a hard limit (u32 indices, delay range).
    #[error("limit exceeded: {0}")]
    Limit(String),
}

impl CoreError {
    /// Shorthand for [`CoreError::OutOfRange`].
    pub fn range(
        field: impl Into<String>,
        value: impl ToString,
        allowed: impl Into<String>,
    ) -> Self {
        CoreError::OutOfRange {
            field: field.into(),
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }
}
