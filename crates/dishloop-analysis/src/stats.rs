//! Firing statistics: rates, inter-spike intervals, CV of the ISI and the Fano factor.
//!
//! For a Poisson process the ISI is exponential, so CV = 1, and counts in any window are
//! Poisson, so the Fano factor (variance / mean of the count) = 1 (Dayan & Abbott 2001,
//! *Theoretical Neuroscience*, §1.4). Regular firing gives values below 1; bursting gives
//! values above 1.

use crate::spikes::{SpikeError, SpikeTrains};

/// Minimum number of ISIs for a neuron's CV to be reported: with fewer the estimate is
/// dominated by noise (its relative standard error is about `1/sqrt(n)` for a Poisson train).
pub const MIN_ISIS_FOR_CV: usize = 5;

/// A statistic per neuron and its mean over the neurons where it is defined.
#[derive(Debug, Clone, PartialEq)]
pub struct PerNeuron {
    /// Value for each neuron; NaN where undefined (too few spikes, zero mean count...).
    pub per_neuron: Vec<f64>,
    /// Mean over the neurons where the value is defined; NaN if there are none.
    pub mean: f64,
    /// Number of neurons where the value is defined.
    pub n_defined: usize,
}

impl PerNeuron {
    fn from_values(per_neuron: Vec<f64>) -> Self {
        let (sum, n) = per_neuron
            .iter()
            .filter(|v| v.is_finite())
            .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
        Self {
            mean: if n > 0 { sum / n as f64 } else { f64::NAN },
            per_neuron,
            n_defined: n,
        }
    }
}

/// Firing rate of each neuron in Hz over the whole recording.
pub fn rates_hz(trains: &SpikeTrains) -> Vec<f64> {
    let dur_s = trains.duration_s();
    trains
        .spike_counts()
        .into_iter()
        .map(|c| {
            if dur_s > 0.0 {
                c as f64 / dur_s
            } else {
                f64::NAN
            }
        })
        .collect()
}

/// Mean firing rate per neuron in Hz (`n_spikes / (n_neurons * duration)`); NaN for an
/// empty population or a zero-length recording.
pub fn mean_rate_hz(trains: &SpikeTrains) -> f64 {
    let dur_s = trains.duration_s();
    if trains.n_neurons == 0 || dur_s <= 0.0 {
        return f64::NAN;
    }
    trains.n_spikes() as f64 / (f64::from(trains.n_neurons) * dur_s)
}

/// Inter-spike intervals of each neuron in ms.
pub fn isi_ms(trains: &SpikeTrains) -> Vec<Vec<f64>> {
    trains
        .per_neuron_steps()
        .into_iter()
        .map(|st| {
            st.windows(2)
                .map(|w| f64::from(w[1] - w[0]) * trains.dt_ms)
                .collect()
        })
        .collect()
}

/// Coefficient of variation of the ISI (sample SD / mean) per neuron, for neurons with at
/// least [`MIN_ISIS_FOR_CV`] intervals.
pub fn cv_isi(trains: &SpikeTrains) -> PerNeuron {
    let values = isi_ms(trains)
        .into_iter()
        .map(|isi| {
            if isi.len() < MIN_ISIS_FOR_CV {
                return f64::NAN;
            }
            let (m, v) = mean_var(&isi);
            if m > 0.0 { v.sqrt() / m } else { f64::NAN }
        })
        .collect();
    PerNeuron::from_values(values)
}

/// Fano factor (sample variance / mean of the spike count in consecutive windows of
/// `window_ms`, snapped to whole steps) per neuron. Needs at least 2 complete windows; NaN for
/// silent neurons. 100 ms windows are a common choice for cortical data.
pub fn fano_factor(trains: &SpikeTrains, window_ms: f64) -> Result<PerNeuron, SpikeError> {
    let w = trains.bin_steps(window_ms)?;
    let n_win = trains.n_bins(w);
    let n = trains.n_neurons as usize;
    if n_win < 2 {
        return Ok(PerNeuron::from_values(vec![f64::NAN; n]));
    }
    // Per neuron: sum of counts and sum of squared counts over windows, streaming the spikes.
    let mut sum = vec![0u64; n];
    let mut sum_sq = vec![0u64; n];
    let mut current = vec![0u64; n];
    let mut current_win = vec![u64::MAX; n];
    let flush = |i: usize, cur: &mut [u64], sum: &mut [u64], sum_sq: &mut [u64]| {
        sum[i] += cur[i];
        sum_sq[i] += cur[i] * cur[i];
        cur[i] = 0;
    };
    for (&s, &nn) in trains.steps.iter().zip(&trains.neurons) {
        let win = u64::from(s) / w;
        if win >= n_win as u64 {
            break; // sorted: every later spike is in the dropped partial window too
        }
        let i = nn as usize;
        if current_win[i] != win {
            flush(i, &mut current, &mut sum, &mut sum_sq);
            current_win[i] = win;
        }
        current[i] += 1;
    }
    let k = n_win as f64;
    let values = (0..n)
        .map(|i| {
            flush(i, &mut current, &mut sum, &mut sum_sq);
            let mean = sum[i] as f64 / k;
            if mean <= 0.0 {
                return f64::NAN;
            }
            let var = (sum_sq[i] as f64 - k * mean * mean) / (k - 1.0);
            var / mean
        })
        .collect();
    Ok(PerNeuron::from_values(values))
}

/// Mean and unbiased (n - 1) variance.
pub(crate) fn mean_var(x: &[f64]) -> (f64, f64) {
    let n = x.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let m = x.iter().sum::<f64>() / n as f64;
    if n < 2 {
        return (m, f64::NAN);
    }
    let v = x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n as f64 - 1.0);
    (m, v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::poisson;

    #[test]
    fn poisson_trains_have_cv_and_fano_near_one() {
        // 100 neurons x 10 Hz x 100 s = ~1000 ISIs per neuron. Per neuron the CV estimate has
        // SE ~ 1/sqrt(1000) = 0.032 and the Fano factor in 100 ms windows (1000 windows, mean
        // count 1) SE ~ sqrt(2/999) = 0.045; averaging 100 independent neurons divides those
        // by 10. Discrete time shifts the exact values to sqrt(1-p) and 1-p with p = 0.001.
        // Tolerances of 0.02 are > 4 SE.
        let s = poisson(100, 10.0, 0.1, 1_000_000, 7);
        let r = mean_rate_hz(&s);
        assert!((r - 10.0).abs() < 0.1, "rate {r}");
        let cv = cv_isi(&s);
        assert_eq!(cv.n_defined, 100);
        assert!((cv.mean - 1.0).abs() < 0.02, "CV {}", cv.mean);
        let ff = fano_factor(&s, 100.0).unwrap();
        assert!((ff.mean - 1.0).abs() < 0.02, "Fano {}", ff.mean);
    }

    #[test]
    fn regular_train_has_zero_cv_and_fano() {
        // One spike every 10 ms exactly: CV 0; 100 ms windows always hold 10 spikes: Fano 0.
        let pairs = (0..1000u32).map(|k| (k * 20, 0));
        let s = SpikeTrains::from_unsorted(2, 0.5, 20_000, pairs).unwrap();
        assert_eq!(cv_isi(&s).per_neuron[0], 0.0);
        assert!(cv_isi(&s).per_neuron[1].is_nan());
        let f = fano_factor(&s, 100.0).unwrap();
        assert_eq!(f.per_neuron[0], 0.0);
        assert!(f.per_neuron[1].is_nan());
        assert_eq!(f.n_defined, 1);
        assert_eq!(rates_hz(&s)[0], 100.0);
    }

    #[test]
    fn empty_inputs_give_nan_not_panics() {
        let s = SpikeTrains::empty(0, 0.5, 0).unwrap();
        assert!(mean_rate_hz(&s).is_nan());
        assert!(cv_isi(&s).mean.is_nan());
        assert!(fano_factor(&s, 100.0).unwrap().mean.is_nan());
    }
}
