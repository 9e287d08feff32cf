//! dishloop-analysis (docs in progress)
#![warn(missing_docs)]

pub mod bursts;
pub mod connectivity;
pub mod criticality;
pub mod info;
pub mod powerlaw;
pub mod spikes;
pub mod stats;
pub mod summary;
#[cfg(test)]
pub(crate) mod testutil;

pub use spikes::SpikeTrains;

use thiserror::Error;

/// An invalid argument to an analysis function.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum AnalysisError {
    /// A problem with the spike trains or a bin width.
    #[error(transparent)]
    Spikes(#[from] spikes::SpikeError),
    /// A parameter out of its range.
    #[error("{name} = {value}: {reason}")]
    InvalidParameter {
        /// Parameter name.
        name: &'static str,
        /// The value given.
        value: String,
        /// The rule it breaks.
        reason: &'static str,
    },
    /// Two series that must have the same length do not.
    #[error("series lengths differ: {0} vs {1}")]
    LengthMismatch(usize, usize),
}

impl AnalysisError {
    pub(crate) fn invalid(name: &'static str, value: impl std::fmt::Display, reason: &'static str) -> Self {
        Self::InvalidParameter {
            name,
            value: value.to_string(),
            reason,
        }
    }
}
