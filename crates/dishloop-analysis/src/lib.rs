//! dishloop-analysis (docs in progress)
#![warn(missing_docs)]

pub mod bursts;
pub mod powerlaw;
pub mod spikes;
pub mod stats;
#[cfg(test)]
pub(crate) mod testutil;

pub use spikes::SpikeTrains;
