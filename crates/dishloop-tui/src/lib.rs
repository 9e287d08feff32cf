//! # dishloop-tui
//!
//! The terminal cockpit (`dishloop tui`), work in progress.
#![warn(missing_docs)]

pub mod configs;
mod error;
pub mod mea;
pub mod preview;
pub mod results;
pub mod science;

pub use error::TuiError;
