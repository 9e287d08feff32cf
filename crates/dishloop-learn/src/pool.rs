//! Population averaging per band and sum-1 feature normalisation.
//!
//! A readout on raw per-neuron spike counts is hostage to how many cells a band happens to
//! hold and to how sparsely the culture fires. Two steps fix that (BL-1 `Learner`,
//! reference/bl1.md §7, where both are called essential): average the counts over the cells
//! of each band, then scale the band means to sum 1, so `Δw ∝ x` stays well-scaled whatever
//! the firing rate.

use serde::{Deserialize, Serialize};

use crate::LearnError;

/// Marker for a neuron that belongs to no band.
pub const NO_BAND: u16 = u16::MAX;

/// Spike counts pooled per band over one window.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BandPool {
    band_of: Vec<u16>,
    size: Vec<u32>,
    counts: Vec<u32>,
}

impl BandPool {
    /// `band_of[i]` is neuron `i`'s band (`None`: ignored). Every band must hold a neuron.
    pub fn new(n_bands: usize, band_of: &[Option<usize>]) -> Result<Self, LearnError> {
        if n_bands == 0 || n_bands >= NO_BAND as usize {
            return Err(LearnError::Size(format!(
                "{n_bands} bands (allowed 1 ..= 65534)"
            )));
        }
        let mut size = vec![0u32; n_bands];
        let mut map = Vec::with_capacity(band_of.len());
        for b in band_of {
            match b {
                Some(b) if *b < n_bands => {
                    size[*b] += 1;
                    map.push(*b as u16);
                }
                Some(b) => return Err(LearnError::Size(format!("band {b} of {n_bands}"))),
                None => map.push(NO_BAND),
            }
        }
        if let Some(e) = size.iter().position(|&s| s == 0) {
            return Err(LearnError::Size(format!("band {e} has no neurons")));
        }
        Ok(Self {
            band_of: map,
            size,
            counts: vec![0; n_bands],
        })
    }

    /// Number of bands.
    pub fn n_bands(&self) -> usize {
        self.size.len()
    }

    /// Neurons per band.
    pub fn sizes(&self) -> &[u32] {
        &self.size
    }

    /// The band of neuron `i`, if any.
    pub fn band_of(&self, i: usize) -> Option<usize> {
        match self.band_of.get(i) {
            Some(&b) if b != NO_BAND => Some(b as usize),
            _ => None,
        }
    }

    /// Starts a new window.
    pub fn clear(&mut self) {
        self.counts.fill(0);
    }

    /// Adds the spikes of one step (neuron ids; ids outside the map are ignored).
    #[inline]
    pub fn add_spikes(&mut self, spikes: &[u32]) {
        for &s in spikes {
            if let Some(&b) = self.band_of.get(s as usize)
                && b != NO_BAND
            {
                self.counts[b as usize] += 1;
            }
        }
    }

    /// Raw spike counts per band in this window.
    pub fn counts(&self) -> &[u32] {
        &self.counts
    }

    /// Mean spikes per neuron of each band in this window.
    pub fn band_means(&self, out: &mut [f64]) {
        for ((o, &c), &s) in out.iter_mut().zip(&self.counts).zip(&self.size) {
            *o = c as f64 / s as f64;
        }
    }

    /// Band means scaled to sum 1 (all zeros when no band spiked). Returns the sum of the
    /// band means before scaling.
    pub fn features_sum1(&self, out: &mut [f64]) -> f64 {
        self.band_means(out);
        normalise_sum1(out)
    }
}

/// Scales `x` in place to sum 1; leaves all-zero (or non-positive-sum) input as zeros and
/// returns the original sum.
pub fn normalise_sum1(x: &mut [f64]) -> f64 {
    let s: f64 = x.iter().sum();
    if s > 0.0 && s.is_finite() {
        x.iter_mut().for_each(|v| *v /= s);
    } else {
        x.iter_mut().for_each(|v| *v = 0.0);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pools_means_and_normalises() {
        // Band 0: neurons 0, 1; band 1: neuron 2; neuron 3 ignored.
        let mut p = BandPool::new(2, &[Some(0), Some(0), Some(1), None]).unwrap();
        p.add_spikes(&[0, 1, 3]);
        p.add_spikes(&[0, 2, 99]);
        assert_eq!(p.counts(), &[3, 1]);
        let mut x = [0.0; 2];
        p.band_means(&mut x);
        assert_eq!(x, [1.5, 1.0]);
        let s = p.features_sum1(&mut x);
        assert_eq!(s, 2.5);
        assert!((x[0] - 0.6).abs() < 1e-12 && (x[1] - 0.4).abs() < 1e-12);
        p.clear();
        assert_eq!(p.features_sum1(&mut x), 0.0);
        assert_eq!(x, [0.0, 0.0]);
    }

    #[test]
    fn rejects_empty_bands_and_bad_ids() {
        assert!(BandPool::new(3, &[Some(0), Some(2)]).is_err());
        assert!(BandPool::new(1, &[Some(1)]).is_err());
        assert!(BandPool::new(0, &[]).is_err());
    }
}
