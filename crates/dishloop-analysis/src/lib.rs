//! # dishloop-analysis
//!
//! Pure functions over spike trains: network bursts, criticality, connectivity, information
//! measures and firing statistics, with literature ranges. No dependency on the simulator: it
//! works on imported recordings as well (NumPy files or CSV). It also owns the spike-train
//! type, [`SpikeTrains`], and its file format, which the simulator uses to write spikes.
//!
//! | module | what |
//! |---|---|
//! | [`spikes`] | [`SpikeTrains`] (integer steps, sorted by (step, neuron)), binning, the file set below, CSV import |
//! | [`stats`] | rates, ISIs, CV of the ISI, Fano factor |
//! | [`bursts`] | Wagenaar et al. 2006 burstlets → network bursts; BL-1's rate threshold for comparison |
//! | [`criticality`] | avalanches (Beggs & Plenz 2003), branching ratio (naive, Harris 1948, Wilting & Priesemann 2018 MR) |
//! | [`powerlaw`] | discrete power-law MLE, KS `x_min`, bootstrap p-value (Clauset, Shalizi & Newman 2009) |
//! | [`connectivity`] | cross-correlograms, transfer entropy, thresholded graphs, small-world σ, rich club |
//! | [`info`] | mutual information, active information storage, integration and neural complexity (Tononi, Sporns & Edelman 1994) |
//! | [`summary`] | [`summary::summarize`]: one serialisable struct with verdicts against Wagenaar 2006 and Beggs & Plenz 2003 ranges |
//!
//! ```
//! use dishloop_analysis::SpikeTrains;
//! use dishloop_analysis::summary::{SummaryParams, summarize};
//! // Two neurons, 0.5 ms steps, 2 s.
//! let s = SpikeTrains::from_unsorted(2, 0.5, 4000, [(10, 0), (10, 1), (2000, 0)]).unwrap();
//! let summary = summarize(&s, &SummaryParams::default());
//! assert_eq!(summary.mean_rate_hz, Some(0.75)); // 3 spikes / (2 neurons * 2 s)
//! ```
//!
//! ## Spike file format (version 1)
//!
//! A recording is three files with a common stem, e.g. `run1`:
//!
//! * `run1_steps.npy`: NumPy `.npy` 1.0, dtype `<u4`, shape `(n_spikes,)`, the step of
//!   each spike;
//! * `run1_neurons.npy`: same dtype and shape, the neuron (channel) of each spike;
//! * `run1.json`: `{"format": "dishloop-spikes", "format_version": 1, "n_neurons", "dt_ms",
//!   "n_steps", "n_spikes", "n_exc" (optional), "metadata" (free-form object)}`.
//!
//! Spike `i` is neuron `neurons[i]` at time `steps[i] * dt_ms` ms; spikes are sorted by
//! (step, neuron) with no duplicates; the recording spans `n_steps` steps. Files are written
//! atomically (temporary file + rename, JSON last) by [`spikes::write_spikes`] and read
//! strictly by [`spikes::read_spikes`], which names the file and the problem on any error
//! (bad magic, dtype, shape, truncation, mismatched lengths, neuron `>= n_neurons`, unsorted
//! steps). `FORMAT.md` in the crate folder has the full specification. In Python:
//!
//! ```python
//! import json, numpy as np
//! hdr = json.load(open("run1.json"))
//! steps = np.load("run1_steps.npy"); neurons = np.load("run1_neurons.npy")
//! t_ms = steps * hdr["dt_ms"]
//! ```
//!
//! Plain `time_ms,neuron` CSV files are read by [`spikes::read_csv`].
//!
//! ## Conventions
//!
//! * Times are integer steps; bins are whole numbers of steps (`round(bin_ms / dt_ms)`, at
//!   least 1), and only complete bins are used.
//! * Undefined results are NaN (or `None` in the summary), never panics; invalid arguments
//!   are typed errors.
//! * Randomised procedures (bootstrap, random graphs, bipartitions) take a seed and use one
//!   stream per independent unit of work, so results do not depend on the rayon thread count.
//! * Every method and constant cites its source in the module documentation.
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
pub use summary::{Summary, SummaryParams, summarize};

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
    pub(crate) fn invalid(
        name: &'static str,
        value: impl std::fmt::Display,
        reason: &'static str,
    ) -> Self {
        Self::InvalidParameter {
            name,
            value: value.to_string(),
            reason,
        }
    }
}
