//! dishloop-analysis (docs in progress)
#![warn(missing_docs)]

pub mod spikes;

pub use spikes::SpikeTrains;
