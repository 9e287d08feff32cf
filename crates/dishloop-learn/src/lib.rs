//! # dishloop-learn
//!
//! Learning machinery shared by dishloop's closed-loop experiments (DESIGN.md layer
//! `dishloop-learn`). Nothing here knows about a particular game:
//!
//! - [`schedule`]: annealing schedules (exploration σ, learning rates);
//! - [`baseline`]: per-bin reward baselines (reward-prediction error `R − R̄(bin)`);
//! - [`pool`]: population averaging of spike counts per band, sum-1 feature normalisation;
//! - [`readout`]: a Gaussian-policy linear readout trained by node perturbation / REINFORCE
//!   (Williams 1992; Fiete & Seung 2006), with optional eligibility traces across frames;
//! - [`rstdp`]: three-factor reward-modulated STDP on a plastic projection of a
//!   [`dishloop_core::Network`] (Izhikevich 2007, Cereb Cortex 17:2443; Frémaux & Gerstner
//!   2016, Front Neural Circuits 9:85).
//!
//! Every learner state is `serde`-serialisable so experiments can save "brains".

pub mod baseline;
pub mod pool;
pub mod readout;
pub mod rstdp;
pub mod schedule;

pub use baseline::BinnedBaseline;
pub use pool::BandPool;
pub use readout::{Action, GaussianReadout, GradScale, ReadoutConfig};
pub use rstdp::{PlasticProjection, RstdpConfig, ThreeFactorStdp};
pub use schedule::Schedule;

/// Errors of the learning machinery.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LearnError {
    /// A parameter is outside its allowed range.
    #[error("parameter `{name}` = {value} is out of range (allowed: {allowed})")]
    Param {
        /// Parameter name.
        name: &'static str,
        /// Offending value.
        value: String,
        /// Allowed range.
        allowed: &'static str,
    },
    /// Sizes of two things that must agree do not.
    #[error("size mismatch: {0}")]
    Size(String),
}

pub(crate) fn check(
    name: &'static str,
    value: f64,
    ok: bool,
    allowed: &'static str,
) -> Result<(), LearnError> {
    if ok && value.is_finite() {
        Ok(())
    } else {
        Err(LearnError::Param {
            name,
            value: format!("{value}"),
            allowed,
        })
    }
}
