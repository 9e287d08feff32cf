//! The spike-train type ([`SpikeTrains`]), its validation and binning, and its files
//! (see [`write_spikes`], [`read_spikes`], [`read_csv`] and `FORMAT.md`).

mod file;
mod npy;

pub use file::{
    CsvOptions, FORMAT_NAME, FORMAT_VERSION, SpikeFile, SpikeFileMeta, SpikeFilePaths,
    SpikeIoError, read_csv, read_spikes, spike_file_paths, write_spikes,
};
pub use npy::{NpyError, parse_npy_u32, read_npy_u32, to_npy_u32, write_npy_u32};

use thiserror::Error;

/// Why a [`SpikeTrains`] (or a request on it) is invalid.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SpikeError {
    /// `dt_ms` must be finite and > 0.
    #[error("dt_ms must be finite and > 0, got {0}")]
    InvalidDt(f64),
    /// A bin or window width must be finite and > 0.
    #[error("bin/window width must be finite and > 0 ms, got {0} ms")]
    InvalidBin(f64),
    /// `steps` and `neurons` have different lengths.
    #[error("steps has {steps} entries but neurons has {neurons}")]
    LengthMismatch {
        /// Length of `steps`.
        steps: usize,
        /// Length of `neurons`.
        neurons: usize,
    },
    /// A neuron index is not below `n_neurons`.
    #[error("spike {index}: neuron {neuron} is not below n_neurons = {n_neurons}")]
    NeuronOutOfRange {
        /// Position in the spike arrays.
        index: usize,
        /// The offending neuron index.
        neuron: u32,
        /// The population size.
        n_neurons: u32,
    },
    /// A step is not below `n_steps`.
    #[error("spike {index}: step {step} is not below n_steps = {n_steps}")]
    StepOutOfRange {
        /// Position in the spike arrays.
        index: usize,
        /// The offending step.
        step: u32,
        /// The recording length in steps.
        n_steps: u64,
    },
    /// Spikes are not sorted by (step, neuron).
    #[error("spike {index} is out of order: spikes must be sorted by (step, neuron)")]
    NotSorted {
        /// Position of the first spike that is smaller than its predecessor.
        index: usize,
    },
    /// The same neuron spikes twice in one step.
    #[error("spike {index}: neuron {neuron} spikes twice in step {step}")]
    Duplicate {
        /// Position of the second copy.
        index: usize,
        /// The step.
        step: u32,
        /// The neuron.
        neuron: u32,
    },
    /// A neuron index passed to a selection is out of range.
    #[error("selected neuron {neuron} is not below n_neurons = {n_neurons}")]
    SelectionOutOfRange {
        /// The offending neuron index.
        neuron: u32,
        /// The population size.
        n_neurons: u32,
    },
}

/// Spikes of a population, sorted by (step, neuron). Times are integer steps of `dt_ms` (exact).
///
/// Spike `i` is neuron `neurons[i]` firing in step `steps[i]`, i.e. at `steps[i] as f64 * dt_ms`
/// milliseconds. The recording covers steps `0..n_steps`. Invariants (checked by
/// [`SpikeTrains::new`] and [`SpikeTrains::validate`], and on every file read):
/// `steps.len() == neurons.len()`, `neurons[i] < n_neurons`, `steps[i] < n_steps`, and the pairs
/// `(steps[i], neurons[i])` strictly increase (so a neuron fires at most once per step).
///
/// ```
/// use dishloop_analysis::SpikeTrains;
/// // 3 neurons, 0.5 ms steps, 1 s recorded; neuron 0 fires at 1 ms and 2 ms, neuron 2 at 1 ms.
/// let s = SpikeTrains::new(3, 0.5, 2000, vec![2, 2, 4], vec![0, 2, 0]).unwrap();
/// assert_eq!(s.per_neuron_steps()[0], vec![2, 4]);
/// assert_eq!(s.population_counts(1.0).unwrap()[1], 2); // bin [1 ms, 2 ms) holds 2 spikes
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SpikeTrains {
    /// Population size; neuron (or channel) indices are `0..n_neurons`.
    pub n_neurons: u32,
    /// Duration of one step in milliseconds.
    pub dt_ms: f64,
    /// Length of the recording in steps.
    pub n_steps: u64,
    /// Step of each spike, non-decreasing.
    pub steps: Vec<u32>,
    /// Neuron of each spike, increasing within a step.
    pub neurons: Vec<u32>,
}

impl SpikeTrains {
    /// Builds spike trains from sorted arrays, checking every invariant.
    pub fn new(
        n_neurons: u32,
        dt_ms: f64,
        n_steps: u64,
        steps: Vec<u32>,
        neurons: Vec<u32>,
    ) -> Result<Self, SpikeError> {
        let s = Self {
            n_neurons,
            dt_ms,
            n_steps,
            steps,
            neurons,
        };
        s.validate()?;
        Ok(s)
    }

    /// A recording with no spikes.
    pub fn empty(n_neurons: u32, dt_ms: f64, n_steps: u64) -> Result<Self, SpikeError> {
        Self::new(n_neurons, dt_ms, n_steps, Vec::new(), Vec::new())
    }

    /// Builds spike trains from `(step, neuron)` pairs in any order; exact duplicates are merged
    /// (a neuron fires at most once per step). Range checks still apply.
    pub fn from_unsorted(
        n_neurons: u32,
        dt_ms: f64,
        n_steps: u64,
        pairs: impl IntoIterator<Item = (u32, u32)>,
    ) -> Result<Self, SpikeError> {
        let mut v: Vec<(u32, u32)> = pairs.into_iter().collect();
        v.sort_unstable();
        v.dedup();
        let (steps, neurons) = v.into_iter().unzip();
        Self::new(n_neurons, dt_ms, n_steps, steps, neurons)
    }

    /// Checks every invariant listed on the type.
    pub fn validate(&self) -> Result<(), SpikeError> {
        if !(self.dt_ms.is_finite() && self.dt_ms > 0.0) {
            return Err(SpikeError::InvalidDt(self.dt_ms));
        }
        if self.steps.len() != self.neurons.len() {
            return Err(SpikeError::LengthMismatch {
                steps: self.steps.len(),
                neurons: self.neurons.len(),
            });
        }
        let mut prev: Option<(u32, u32)> = None;
        for (index, (&step, &neuron)) in self.steps.iter().zip(&self.neurons).enumerate() {
            if neuron >= self.n_neurons {
                return Err(SpikeError::NeuronOutOfRange {
                    index,
                    neuron,
                    n_neurons: self.n_neurons,
                });
            }
            if u64::from(step) >= self.n_steps {
                return Err(SpikeError::StepOutOfRange {
                    index,
                    step,
                    n_steps: self.n_steps,
                });
            }
            if let Some(p) = prev {
                if (step, neuron) == p {
                    return Err(SpikeError::Duplicate {
                        index,
                        step,
                        neuron,
                    });
                }
                if (step, neuron) < p {
                    return Err(SpikeError::NotSorted { index });
                }
            }
            prev = Some((step, neuron));
        }
        Ok(())
    }

    /// Number of spikes.
    pub fn n_spikes(&self) -> usize {
        self.steps.len()
    }

    /// Recording length in milliseconds (`n_steps * dt_ms`).
    pub fn duration_ms(&self) -> f64 {
        self.n_steps as f64 * self.dt_ms
    }

    /// Recording length in seconds.
    pub fn duration_s(&self) -> f64 {
        self.duration_ms() / 1000.0
    }

    /// Spike steps of each neuron (ascending); index = neuron.
    pub fn per_neuron_steps(&self) -> Vec<Vec<u32>> {
        let mut counts = vec![0usize; self.n_neurons as usize];
        for &n in &self.neurons {
            if let Some(c) = counts.get_mut(n as usize) {
                *c += 1;
            }
        }
        let mut out: Vec<Vec<u32>> = counts.into_iter().map(Vec::with_capacity).collect();
        for (&s, &n) in self.steps.iter().zip(&self.neurons) {
            if let Some(v) = out.get_mut(n as usize) {
                v.push(s);
            }
        }
        out
    }

    /// Spike times of each neuron in milliseconds (ascending); index = neuron.
    pub fn per_neuron_times_ms(&self) -> Vec<Vec<f64>> {
        self.per_neuron_steps()
            .into_iter()
            .map(|v| v.into_iter().map(|s| f64::from(s) * self.dt_ms).collect())
            .collect()
    }

    /// Spike count of each neuron.
    pub fn spike_counts(&self) -> Vec<u64> {
        let mut counts = vec![0u64; self.n_neurons as usize];
        for &n in &self.neurons {
            if let Some(c) = counts.get_mut(n as usize) {
                *c += 1;
            }
        }
        counts
    }

    /// Number of whole steps in a bin of `bin_ms`: `round(bin_ms / dt_ms)`, at least 1.
    /// Bins are always whole steps so that binning is exact; the effective width is
    /// `bin_steps * dt_ms`.
    pub fn bin_steps(&self, bin_ms: f64) -> Result<u64, SpikeError> {
        if !(bin_ms.is_finite() && bin_ms > 0.0) {
            return Err(SpikeError::InvalidBin(bin_ms));
        }
        if !(self.dt_ms.is_finite() && self.dt_ms > 0.0) {
            return Err(SpikeError::InvalidDt(self.dt_ms));
        }
        Ok(((bin_ms / self.dt_ms).round() as u64).max(1))
    }

    /// Number of complete bins of `bin_steps` steps in the recording (a trailing partial bin
    /// is dropped, so every bin has the same width).
    pub fn n_bins(&self, bin_steps: u64) -> usize {
        (self.n_steps / bin_steps.max(1)) as usize
    }

    /// Population spike count per bin of `bin_ms` (snapped to whole steps, see
    /// [`SpikeTrains::bin_steps`]); only complete bins.
    pub fn population_counts(&self, bin_ms: f64) -> Result<Vec<u32>, SpikeError> {
        let b = self.bin_steps(bin_ms)?;
        Ok(self.population_counts_steps(b))
    }

    /// Population spike count per bin of `bin_steps` steps; only complete bins.
    pub fn population_counts_steps(&self, bin_steps: u64) -> Vec<u32> {
        let b = bin_steps.max(1);
        let n_bins = self.n_bins(b);
        let mut counts = vec![0u32; n_bins];
        for &s in &self.steps {
            let i = (u64::from(s) / b) as usize;
            if let Some(c) = counts.get_mut(i) {
                *c = c.saturating_add(1);
            }
        }
        counts
    }

    /// Spike counts per bin for each neuron in `neurons` (in that order): row `r` is
    /// `neurons[r]`. Only complete bins. Use a subset for large populations: the result has
    /// `neurons.len() * n_bins` entries.
    pub fn neuron_counts(&self, bin_ms: f64, neurons: &[u32]) -> Result<Vec<Vec<u32>>, SpikeError> {
        let b = self.bin_steps(bin_ms)?;
        let n_bins = self.n_bins(b);
        let mut row_of = vec![usize::MAX; self.n_neurons as usize];
        for (r, &n) in neurons.iter().enumerate() {
            match row_of.get_mut(n as usize) {
                Some(slot) => {
                    if *slot == usize::MAX {
                        *slot = r;
                    }
                }
                None => {
                    return Err(SpikeError::SelectionOutOfRange {
                        neuron: n,
                        n_neurons: self.n_neurons,
                    });
                }
            }
        }
        let mut rows = vec![vec![0u32; n_bins]; neurons.len()];
        for (&s, &n) in self.steps.iter().zip(&self.neurons) {
            let r = row_of.get(n as usize).copied().unwrap_or(usize::MAX);
            if r == usize::MAX {
                continue;
            }
            let i = (u64::from(s) / b) as usize;
            if i < n_bins {
                rows[r][i] = rows[r][i].saturating_add(1);
            }
        }
        // Duplicated selections get a copy of the first row.
        for (r, &n) in neurons.iter().enumerate() {
            let first = row_of[n as usize];
            if first != r {
                rows[r] = rows[first].clone();
            }
        }
        Ok(rows)
    }

    /// The spikes of `neurons` only, renumbered `0..neurons.len()` in the given order
    /// (for example the neurons under one electrode, or a random subsample).
    pub fn select_neurons(&self, neurons: &[u32]) -> Result<SpikeTrains, SpikeError> {
        let mut new_id = vec![u32::MAX; self.n_neurons as usize];
        for (r, &n) in neurons.iter().enumerate() {
            match new_id.get_mut(n as usize) {
                Some(slot) if *slot == u32::MAX => *slot = r as u32,
                Some(_) => {}
                None => {
                    return Err(SpikeError::SelectionOutOfRange {
                        neuron: n,
                        n_neurons: self.n_neurons,
                    });
                }
            }
        }
        let pairs = self.steps.iter().zip(&self.neurons).filter_map(|(&s, &n)| {
            let id = new_id[n as usize];
            (id != u32::MAX).then_some((s, id))
        });
        SpikeTrains::from_unsorted(neurons.len() as u32, self.dt_ms, self.n_steps, pairs)
    }

    /// The `k` neurons with the most spikes, most active first (ties: lower index first).
    pub fn most_active(&self, k: usize) -> Vec<u32> {
        let counts = self.spike_counts();
        let mut idx: Vec<u32> = (0..self.n_neurons).collect();
        idx.sort_by(|&a, &b| counts[b as usize].cmp(&counts[a as usize]).then(a.cmp(&b)));
        idx.truncate(k);
        idx
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_catches_each_problem() {
        assert!(matches!(
            SpikeTrains::new(2, 0.0, 10, vec![], vec![]),
            Err(SpikeError::InvalidDt(_))
        ));
        assert!(matches!(
            SpikeTrains::new(2, 0.5, 10, vec![1], vec![]),
            Err(SpikeError::LengthMismatch { .. })
        ));
        assert!(matches!(
            SpikeTrains::new(2, 0.5, 10, vec![1], vec![2]),
            Err(SpikeError::NeuronOutOfRange { neuron: 2, .. })
        ));
        assert!(matches!(
            SpikeTrains::new(2, 0.5, 10, vec![10], vec![0]),
            Err(SpikeError::StepOutOfRange { step: 10, .. })
        ));
        assert!(matches!(
            SpikeTrains::new(2, 0.5, 10, vec![3, 2], vec![0, 0]),
            Err(SpikeError::NotSorted { index: 1 })
        ));
        assert!(matches!(
            SpikeTrains::new(2, 0.5, 10, vec![3, 3], vec![1, 0]),
            Err(SpikeError::NotSorted { index: 1 })
        ));
        assert!(matches!(
            SpikeTrains::new(2, 0.5, 10, vec![3, 3], vec![1, 1]),
            Err(SpikeError::Duplicate { index: 1, .. })
        ));
    }

    #[test]
    fn binning_is_exact_and_drops_partial_bin() {
        // dt 0.5 ms, 25 steps = 12.5 ms; 4 ms bins = 8 steps -> 3 complete bins.
        let s = SpikeTrains::from_unsorted(
            3,
            0.5,
            25,
            [(0, 0), (7, 1), (8, 0), (23, 2), (24, 1), (16, 2)],
        )
        .unwrap();
        assert_eq!(s.bin_steps(4.0).unwrap(), 8);
        assert_eq!(s.population_counts(4.0).unwrap(), vec![2, 1, 2]);
        let rows = s.neuron_counts(4.0, &[2, 0]).unwrap();
        assert_eq!(rows, vec![vec![0, 0, 2], vec![1, 1, 0]]);
        assert_eq!(s.per_neuron_steps()[1], vec![7, 24]);
        assert!(s.population_counts(-1.0).is_err());
    }

    #[test]
    fn select_and_most_active() {
        let s = SpikeTrains::from_unsorted(4, 1.0, 10, [(1, 3), (2, 3), (3, 1), (4, 3), (5, 1)])
            .unwrap();
        assert_eq!(s.most_active(2), vec![3, 1]);
        let sub = s.select_neurons(&[3, 1]).unwrap();
        assert_eq!(sub.n_neurons, 2);
        assert_eq!(sub.steps, vec![1, 2, 3, 4, 5]);
        assert_eq!(sub.neurons, vec![0, 0, 1, 0, 1]);
        assert!(s.select_neurons(&[4]).is_err());
    }
}
