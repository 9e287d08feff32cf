//! Reward baselines per context bin: `R̄(bin)` tracks the mean reward seen in each bin (e.g. the
//! ball's position band) by an exponential moving average, so the learning signal is the
//! reward-prediction error `R − R̄(bin)`. Subtracting a baseline leaves the expected
//! REINFORCE gradient unchanged and removes most of its variance (Williams 1992, Mach Learn
//! 8:229, §4); for reward-modulated STDP it also cancels the unsupervised Hebbian drift
//! (Frémaux, Sprekeler & Gerstner 2010, J Neurosci 30:13326).

use serde::{Deserialize, Serialize};

use crate::LearnError;

/// Exponential-moving-average reward baseline per bin.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BinnedBaseline {
    /// EMA rate per update, in (0, 1].
    pub alpha: f64,
    /// Current baseline per bin.
    pub values: Vec<f64>,
    /// Whether a bin has seen a reward yet (the first one initialises it).
    pub seen: Vec<bool>,
}

impl BinnedBaseline {
    /// `bins` bins with EMA rate `alpha`.
    pub fn new(bins: usize, alpha: f64) -> Result<Self, LearnError> {
        crate::check(
            "baseline.alpha",
            alpha,
            alpha > 0.0 && alpha <= 1.0,
            "0 < alpha <= 1",
        )?;
        if bins == 0 {
            return Err(LearnError::Size("a baseline needs at least one bin".into()));
        }
        Ok(Self {
            alpha,
            values: vec![0.0; bins],
            seen: vec![false; bins],
        })
    }

    /// Number of bins.
    pub fn bins(&self) -> usize {
        self.values.len()
    }

    /// The bin of a value in [0, 1] (clamped).
    pub fn bin_of(&self, x01: f64) -> usize {
        let n = self.values.len();
        let x = if x01.is_finite() {
            x01.clamp(0.0, 1.0)
        } else {
            0.5
        };
        ((x * n as f64) as usize).min(n - 1)
    }

    /// The baseline of `bin` (0 before the first reward there).
    pub fn get(&self, bin: usize) -> f64 {
        self.values.get(bin).copied().unwrap_or(0.0)
    }

    /// Returns the prediction error `r − R̄(bin)` and then moves `R̄(bin)` toward `r`.
    pub fn advantage(&mut self, bin: usize, r: f64) -> f64 {
        let Some(v) = self.values.get_mut(bin) else {
            return 0.0;
        };
        if !self.seen[bin] {
            self.seen[bin] = true;
            *v = r;
            return 0.0;
        }
        let a = r - *v;
        *v += self.alpha * a;
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converges_to_the_mean_reward_per_bin() {
        let mut b = BinnedBaseline::new(4, 0.1).unwrap();
        for k in 0..2000 {
            let r = if k % 2 == 0 { 1.0 } else { 0.0 }; // mean 0.5 in bin 2
            b.advantage(2, r);
            b.advantage(0, -0.25);
        }
        // EMA of an alternating 1/0 sequence oscillates around 0.5 within alpha/(2-alpha).
        assert!((b.get(2) - 0.5).abs() < 0.06, "{}", b.get(2));
        assert!((b.get(0) + 0.25).abs() < 1e-9);
        assert_eq!(b.get(1), 0.0);
    }

    #[test]
    fn first_reward_initialises_without_an_error_signal() {
        let mut b = BinnedBaseline::new(2, 0.5).unwrap();
        assert_eq!(b.advantage(1, 0.8), 0.0);
        assert!((b.advantage(1, 1.0) - 0.2).abs() < 1e-12);
        assert!((b.get(1) - 0.9).abs() < 1e-12);
    }

    #[test]
    fn bins_clamp_and_reject_bad_alpha() {
        let b = BinnedBaseline::new(16, 0.1).unwrap();
        assert_eq!(b.bin_of(-1.0), 0);
        assert_eq!(b.bin_of(1.0), 15);
        assert_eq!(b.bin_of(0.5), 8);
        assert!(BinnedBaseline::new(4, 0.0).is_err());
        assert!(BinnedBaseline::new(4, f64::NAN).is_err());
    }
}
