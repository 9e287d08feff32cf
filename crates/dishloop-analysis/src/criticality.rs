//! Criticality: neuronal avalanches (Beggs & Plenz 2003, J Neurosci 23:11167) and branching
//! ratios.
//!
//! **Avalanches.** Activity is binned (by default at the mean inter-event interval of the
//! pooled spikes, as Beggs & Plenz did on LFP events from 60 electrodes); an avalanche is a
//! maximal run of active bins bounded by quiet ones; its size is the number of events and its
//! duration the number of bins. Beggs & Plenz found `P(size) ~ size^-1.5` and
//! `P(duration) ~ duration^-2`. On a full raster of thousands of noisy neurons no bin is
//! quiet, so the method degenerates (BL-1 reports NaN exponents there); use electrode-level
//! spikes (for example [`SpikeTrains::select_neurons`] on the cells an electrode sees), or a
//! threshold: bins count as quiet while the population count is at or below `theta`, and the
//! size is the area above it, `sum (n_t - theta)` (the thresholded-avalanche approach of Poil,
//! Hardstone, Mansvelder & Linkenkaer-Hansen 2012, J Neurosci 32:9817). Avalanches cut by
//! the start or end of the recording are dropped, since their size is unknown.
//!
//! **Branching ratio.** Three estimators, all on a binned population count `n_t`:
//!
//! * [`branching_ratio_naive`]: mean over active bins of `n_{t+1} / n_t` (Beggs & Plenz 2003;
//!   BL-1 uses it). Biased: the mean of a ratio is not the ratio of means, and external drive
//!   adds to every `n_{t+1}`, so noisy stationary activity reads ~1 whatever the dynamics (BL-1
//!   measured 1.03–1.07 with and without bursts).
//! * [`branching_ratio_harris`]: the ratio of sums `sum n_{t+1} / sum n_t` over active bins
//!   `t`, the maximum-likelihood estimator of the offspring mean of a Galton–Watson process
//!   (Harris 1948, Ann Math Stat 19:474). Consistent for fully observed, undriven cascades
//!   (avalanches separated by silence), including supercritical growth; still biased by drive
//!   (`+h / mean(n)`) and by subsampling.
//! * [`branching_ratio_mr`]: the multiple-regression (MR) estimator of Wilting & Priesemann
//!   2018 (Nat Commun 9:2325): regress `n_{t+k}` on `n_t` for `k = 1..k_max`; the slopes obey
//!   `r_k = b m^k` for a driven branching process observed through any random subsample
//!   (`b` absorbs the subsampling), so fitting `b m^k` recovers `m`. This is the estimator to
//!   report for recordings (subsampled and driven). `m` depends on the bin `dt` as
//!   `m = exp(-dt / tau)`; Wilting & Priesemann used 4 ms bins.

use serde::{Deserialize, Serialize};

use crate::spikes::{SpikeError, SpikeTrains};

/// How quiet bins are defined for avalanches.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum AvalancheThreshold {
    /// A bin is quiet only when it holds no event (Beggs & Plenz 2003).
    None,
    /// A bin is quiet while its count is `<=` this value; sizes are the area above it.
    Count(u32),
    /// As `Count`, with the value at this percentile (0–100) of the per-bin counts.
    Percentile(f64),
}

/// Parameters of [`avalanches`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AvalancheParams {
    /// Bin width in ms (snapped to whole steps); `None` = the mean inter-event interval of the
    /// pooled spikes ([`mean_iei_ms`]), at least one step.
    pub bin_ms: Option<f64>,
    /// Quiet-bin rule.
    pub threshold: AvalancheThreshold,
}

impl Default for AvalancheParams {
    fn default() -> Self {
        Self {
            bin_ms: None,
            threshold: AvalancheThreshold::None,
        }
    }
}

/// Avalanches found in a recording.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Avalanches {
    /// Effective bin width in ms (whole steps).
    pub bin_ms: f64,
    /// Count threshold used (0 = Beggs & Plenz).
    pub threshold: u32,
    /// Size of each complete avalanche (events above the threshold).
    pub sizes: Vec<u64>,
    /// Duration of each complete avalanche in bins.
    pub durations: Vec<u64>,
    /// Number of bins.
    pub n_bins: usize,
    /// Fraction of bins above the threshold (close to 1 means the method degenerates).
    pub fraction_active: f64,
}

/// Mean interval between successive events of the pooled population in ms:
/// `(t_last - t_first) / (n_spikes - 1)`; NaN with fewer than 2 spikes.
pub fn mean_iei_ms(trains: &SpikeTrains) -> f64 {
    match (trains.steps.first(), trains.steps.last()) {
        (Some(&a), Some(&b)) if trains.n_spikes() >= 2 => {
            f64::from(b - a) * trains.dt_ms / (trains.n_spikes() - 1) as f64
        }
        _ => f64::NAN,
    }
}

/// Avalanche sizes and durations from a binned count series: maximal runs of bins with
/// `count > threshold`; size = `sum (count - threshold)`, duration = run length. Runs touching
/// either end of the series are dropped (censored).
pub fn avalanches_from_counts(counts: &[u32], threshold: u32) -> (Vec<u64>, Vec<u64>) {
    let mut sizes = Vec::new();
    let mut durations = Vec::new();
    let mut run: Option<(usize, u64)> = None; // (start, size)
    for (i, &c) in counts.iter().enumerate() {
        if c > threshold {
            let add = u64::from(c - threshold);
            run = Some(match run {
                None => (i, add),
                Some((s, z)) => (s, z + add),
            });
        } else if let Some((s, z)) = run.take()
            && s > 0
        {
            sizes.push(z);
            durations.push((i - s) as u64);
        }
    }
    (sizes, durations)
}

/// Neuronal avalanches of `trains` (see the module docs).
///
/// ```
/// use dishloop_analysis::SpikeTrains;
/// use dishloop_analysis::criticality::{AvalancheParams, avalanches};
/// // 1 ms steps, 4 ms bins: counts per bin [1, 0, 2, 3, 0, 1, 0] -> one avalanche of
/// // size 5 over 2 bins, one of size 1; the first bin touches the start and is dropped.
/// let s = SpikeTrains::from_unsorted(4, 1.0, 28,
///     [(0, 0), (8, 1), (9, 2), (12, 0), (13, 1), (14, 3), (20, 2)]).unwrap();
/// let a = avalanches(&s, &AvalancheParams { bin_ms: Some(4.0), ..Default::default() }).unwrap();
/// assert_eq!(a.sizes, vec![5, 1]);
/// assert_eq!(a.durations, vec![2, 1]);
/// ```
pub fn avalanches(
    trains: &SpikeTrains,
    params: &AvalancheParams,
) -> Result<Avalanches, SpikeError> {
    let bin_steps = match params.bin_ms {
        Some(ms) => trains.bin_steps(ms)?,
        None => {
            let iei = mean_iei_ms(trains);
            if iei.is_finite() && iei > 0.0 {
                trains.bin_steps(iei)?
            } else {
                1
            }
        }
    };
    let counts = trains.population_counts_steps(bin_steps);
    let threshold = match params.threshold {
        AvalancheThreshold::None => 0,
        AvalancheThreshold::Count(c) => c,
        AvalancheThreshold::Percentile(p) => percentile_u32(&counts, p),
    };
    let (sizes, durations) = avalanches_from_counts(&counts, threshold);
    let active = counts.iter().filter(|&&c| c > threshold).count();
    Ok(Avalanches {
        bin_ms: bin_steps as f64 * trains.dt_ms,
        threshold,
        sizes,
        durations,
        n_bins: counts.len(),
        fraction_active: if counts.is_empty() {
            f64::NAN
        } else {
            active as f64 / counts.len() as f64
        },
    })
}

/// The value at percentile `p` (0–100, nearest rank) of `x`; 0 for an empty slice.
pub(crate) fn percentile_u32(x: &[u32], p: f64) -> u32 {
    if x.is_empty() {
        return 0;
    }
    let mut v = x.to_vec();
    v.sort_unstable();
    let p = if p.is_finite() {
        p.clamp(0.0, 100.0)
    } else {
        50.0
    };
    let idx = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
    v[idx.min(v.len() - 1)]
}

/// Shew et al.'s κ (2009, J Neurosci 29:15595): how far an avalanche-size distribution is
/// from the critical power law `P(s) ~ s^-alpha_ref` (their `alpha_ref` = 1.5), as
/// `κ = 1 + (1/m) Σ_k (F_ref(β_k) − F(β_k))` over `m` sizes `β_k` spaced evenly in log from the
/// smallest observed size to `s_max`, where `F` is the empirical and `F_ref` the reference
/// cumulative distribution, both on `[smallest, s_max]`. κ ≈ 1 at criticality; κ < 1 when
/// large avalanches are missing (subcritical: Shew et al.'s AP5/DNQX cultures) and κ > 1 when
/// they are in excess (supercritical: their picrotoxin cultures). Unlike a fitted exponent it
/// needs no `x_min` and reads the whole distribution, bursts included.
///
/// `s_max` is the system size: Shew et al. counted electrodes, so theirs was the array size.
/// Spike-event sizes have no fixed ceiling; `None` takes the largest observed avalanche, which
/// makes κ a statement about the *shape* between the smallest and the largest avalanche
/// (steeper than `s^-1.5` → below 1, a bump of large avalanches → above 1). `None` with fewer
/// than two distinct sizes.
///
/// ```
/// use dishloop_analysis::criticality::kappa;
/// // Sizes drawn exactly in proportion to s^-1.5 on 1..=1000 give κ = 1.
/// let mut sizes = Vec::new();
/// for s in 1..=1000u64 {
///     let n = (1e6 * (s as f64).powf(-1.5)).round() as usize;
///     sizes.extend(std::iter::repeat_n(s, n));
/// }
/// let k = kappa(&sizes, 1.5, None, 10).unwrap();
/// assert!((k - 1.0).abs() < 0.01, "{k}");
/// ```
pub fn kappa(sizes: &[u64], alpha_ref: f64, s_max: Option<u64>, m: usize) -> Option<f64> {
    let lo = *sizes.iter().filter(|&&s| s > 0).min()?;
    let hi = s_max.unwrap_or(*sizes.iter().max()?);
    if hi <= lo || m == 0 || !alpha_ref.is_finite() || hi - lo > 100_000_000 {
        return None;
    }
    let mut sorted: Vec<u64> = sizes.iter().copied().filter(|&s| s > 0).collect();
    sorted.sort_unstable();
    let n = sorted.len() as f64;
    // Reference CDF on lo..=hi by exact sums.
    let mut cdf_ref: Vec<f64> = Vec::with_capacity((hi - lo + 1) as usize);
    let mut acc = 0.0;
    for s in lo..=hi {
        acc += (s as f64).powf(-alpha_ref);
        cdf_ref.push(acc);
    }
    let (l0, l1) = ((lo as f64).ln(), (hi as f64).ln());
    let mut sum = 0.0;
    for k in 0..m {
        let frac = if m == 1 {
            0.0
        } else {
            k as f64 / (m - 1) as f64
        };
        let beta = (l0 + frac * (l1 - l0))
            .exp()
            .round()
            .clamp(lo as f64, hi as f64) as u64;
        let f_emp = sorted.partition_point(|&s| s <= beta) as f64 / n;
        sum += cdf_ref[(beta - lo) as usize] / acc - f_emp;
    }
    Some(1.0 + sum / m as f64)
}

/// Beggs & Plenz's branching ratio: mean over bins with `n_t > 0` of `n_{t+1} / n_t`
/// (biased; for comparison with BL-1 only). NaN without active bins.
pub fn branching_ratio_naive(counts: &[u32]) -> f64 {
    let (mut sum, mut n) = (0.0, 0usize);
    for w in counts.windows(2) {
        if w[0] > 0 {
            sum += f64::from(w[1]) / f64::from(w[0]);
            n += 1;
        }
    }
    if n > 0 { sum / n as f64 } else { f64::NAN }
}

/// Ratio-of-sums (Harris 1948) branching ratio `sum n_{t+1} / sum n_t` over bins `t` with
/// `n_t > 0` (the last bin has no successor and is skipped). NaN without active bins.
pub fn branching_ratio_harris(counts: &[u32]) -> f64 {
    let (mut num, mut den) = (0u64, 0u64);
    for w in counts.windows(2) {
        if w[0] > 0 {
            num += u64::from(w[1]);
            den += u64::from(w[0]);
        }
    }
    if den > 0 {
        num as f64 / den as f64
    } else {
        f64::NAN
    }
}

/// Result of the multiple-regression estimator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MrEstimate {
    /// Branching ratio `m` per bin.
    pub m: f64,
    /// Amplitude `b` of `r_k = b m^k` (reflects subsampling; 1 for full sampling).
    pub b: f64,
    /// Regression slopes `r_k` for `k = 1..=k_max`.
    pub r_k: Vec<f64>,
    /// Autocorrelation time `-1 / ln m` in bins (infinite for `m >= 1`).
    pub tau_bins: f64,
    /// Whether the fit explains more than noise would. If not, the series has no detectable
    /// autocorrelation (`b m^k` is then unidentifiable: any `m` fits with `b ~ 0`), and `m`
    /// and `b` are reported as 0: no detectable propagation.
    pub significant: bool,
}

/// Wilting & Priesemann 2018 multiple-regression estimate of the branching ratio from a binned
/// count series: slopes `r_k = Cov(n_t, n_{t+k}) / Var(n_t)` (each over the overlapping
/// segments) for `k = 1..=k_max`, then least squares of `r_k = b m^k` (for each `m` the best
/// `b` is linear; `m` is found on a 0.001 grid over [0, 1.5] and refined by golden section).
/// `None` when the series is shorter than `2 k_max + 2` bins, `k_max` is 0, or a segment has
/// no variance.
///
/// Significance: for an uncorrelated series of `T` bins each `r_k` has variance about `1/T`,
/// so a two-parameter fit explains about `2/T` of `sum r_k^2` by chance. Unless it explains
/// more than `20/T`, the estimate is flagged not significant and `m = b = 0` (for white noise
/// the unconstrained fit returns an arbitrary `m`, e.g. 0.91 for independent Poisson
/// neurons).
///
/// ```
/// use dishloop_analysis::criticality::branching_ratio_mr;
/// // An AR(1) series with coefficient 0.9 has r_k = 0.9^k exactly.
/// let mut x = vec![0u32; 20000];
/// let mut v = 10.0f64;
/// let mut state = 1u64;
/// for xi in x.iter_mut() {
///     state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
///     let noise = ((state >> 33) as f64 / (1u64 << 31) as f64) * 20.0; // uniform 0..20
///     v = 0.9 * v + noise;
///     *xi = v.round() as u32;
/// }
/// let est = branching_ratio_mr(&x, 20).unwrap();
/// assert!((est.m - 0.9).abs() < 0.02);
/// ```
pub fn branching_ratio_mr(counts: &[u32], k_max: usize) -> Option<MrEstimate> {
    let t = counts.len();
    if k_max == 0 || t < 2 * k_max + 2 {
        return None;
    }
    let x: Vec<f64> = counts.iter().map(|&c| f64::from(c)).collect();
    let mut r_k = Vec::with_capacity(k_max);
    for k in 1..=k_max {
        let a = &x[..t - k];
        let b = &x[k..];
        let n = a.len() as f64;
        let ma = a.iter().sum::<f64>() / n;
        let mb = b.iter().sum::<f64>() / n;
        let (mut cov, mut var) = (0.0, 0.0);
        for (u, v) in a.iter().zip(b) {
            cov += (u - ma) * (v - mb);
            var += (u - ma) * (u - ma);
        }
        if var <= 0.0 {
            return None;
        }
        r_k.push(cov / var);
    }
    // Residual of the best b for a given m: sum r^2 - (sum r m^k)^2 / sum m^2k.
    let resid = |m: f64| {
        let (mut srm, mut sm2) = (0.0, 0.0);
        let mut mk = 1.0;
        for r in &r_k {
            mk *= m;
            srm += r * mk;
            sm2 += mk * mk;
        }
        if sm2 > 0.0 { -(srm * srm) / sm2 } else { 0.0 }
    };
    let mut best_m = 0.0;
    let mut best = f64::INFINITY;
    for i in 1..=1500 {
        let m = i as f64 * 0.001;
        let r = resid(m);
        if r < best {
            best = r;
            best_m = m;
        }
    }
    let (mut lo, mut hi) = ((best_m - 0.001).max(1e-6), best_m + 0.001);
    let g = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..60 {
        let x1 = hi - g * (hi - lo);
        let x2 = lo + g * (hi - lo);
        if resid(x1) < resid(x2) {
            hi = x2;
        } else {
            lo = x1;
        }
    }
    let m = 0.5 * (lo + hi);
    let (mut srm, mut sm2, mut mk) = (0.0, 0.0, 1.0);
    for r in &r_k {
        mk *= m;
        srm += r * mk;
        sm2 += mk * mk;
    }
    let b = if sm2 > 0.0 { srm / sm2 } else { f64::NAN };
    // Explained sum of squares of the fit: sum r^2 - residual = (sum r m^k)^2 / sum m^2k.
    let explained = -resid(m);
    let significant = explained > 20.0 / t as f64;
    let (m, b) = if significant { (m, b) } else { (0.0, 0.0) };
    Some(MrEstimate {
        m,
        b,
        r_k,
        tau_bins: if m < 1.0 {
            -1.0 / m.ln()
        } else {
            f64::INFINITY
        },
        significant,
    })
}

/// Default bin for branching ratios: 4 ms, the bin of Wilting & Priesemann 2018 and about the
/// mean inter-event interval of Beggs & Plenz 2003's electrode data.
pub const DEFAULT_BRANCHING_BIN_MS: f64 = 4.0;

/// Default largest lag of the MR estimator in bins (40 bins = 160 ms at 4 ms, several
/// autocorrelation times for m <= 0.97).
pub const DEFAULT_MR_K_MAX: usize = 40;

/// The three branching-ratio estimates on one binning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Branching {
    /// Effective bin width in ms.
    pub bin_ms: f64,
    /// Multiple-regression estimate (Wilting & Priesemann 2018); the one to report.
    pub mr: Option<MrEstimate>,
    /// Ratio of sums over active bins (Harris 1948).
    pub harris: f64,
    /// Mean of ratios (Beggs & Plenz 2003 / BL-1; biased).
    pub naive: f64,
}

/// Branching ratios of the population count binned at `bin_ms` (see the module docs).
pub fn branching(trains: &SpikeTrains, bin_ms: f64, k_max: usize) -> Result<Branching, SpikeError> {
    let b = trains.bin_steps(bin_ms)?;
    let counts = trains.population_counts_steps(b);
    Ok(Branching {
        bin_ms: b as f64 * trains.dt_ms,
        mr: branching_ratio_mr(&counts, k_max),
        harris: branching_ratio_harris(&counts),
        naive: branching_ratio_naive(&counts),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::rng;
    use rand::RngExt;
    use rand_distr::{Binomial, Distribution, Poisson};

    fn poisson(lambda: f64, r: &mut impl rand::Rng) -> u32 {
        if lambda <= 0.0 {
            return 0;
        }
        Poisson::new(lambda)
            .map(|d| d.sample(r) as u32)
            .unwrap_or(0)
    }

    /// Galton–Watson avalanches with Poisson(sigma) offspring, one ancestor each, separated by
    /// 5 silent bins. Avalanches reaching `max_gen` generations are discarded whole (not
    /// truncated, which would fake deaths).
    fn avalanches_series(sigma: f64, n_aval: usize, max_gen: usize, seed: u64) -> Vec<u32> {
        let mut r = rng(seed);
        let mut out = vec![0u32; 5];
        let mut done = 0;
        while done < n_aval {
            let mut gens = vec![1u32];
            let mut n = 1u32;
            while n > 0 && gens.len() < max_gen {
                n = poisson(sigma * f64::from(n), &mut r);
                gens.push(n);
            }
            if n > 0 {
                continue;
            }
            out.extend_from_slice(&gens[..gens.len() - 1]);
            out.extend_from_slice(&[0; 5]);
            done += 1;
        }
        out
    }

    #[test]
    fn kappa_reads_missing_and_excess_large_avalanches() {
        let power = |alpha: f64, top: u64, scale: f64| -> Vec<u64> {
            let mut v = Vec::new();
            for s in 1..=top {
                let n = (scale * (s as f64).powf(-alpha)).round() as usize;
                v.extend(std::iter::repeat_n(s, n));
            }
            v
        };
        // Steeper than 1.5 (large avalanches missing): κ < 1, with either ceiling.
        let steep = power(2.5, 1000, 1e6);
        assert!(kappa(&steep, 1.5, None, 10).unwrap() < 0.9);
        assert!(kappa(&steep, 1.5, Some(1000), 10).unwrap() < 0.9);
        // Exponential sizes against a fixed system size (Shew et al.'s use): κ < 1.
        let expo: Vec<u64> = (0..20_000)
            .map(|i| 1 + ((-(1.0 - (i as f64 + 0.5) / 20_000.0).ln()) * 3.0) as u64)
            .collect();
        assert!(kappa(&expo, 1.5, Some(1000), 10).unwrap() < 0.96);
        // A critical power law plus a bump of system-size avalanches: κ > 1.
        let mut bumped = power(1.5, 1000, 1e5);
        let n0 = bumped.len();
        bumped.extend(std::iter::repeat_n(1000, n0 / 5));
        let k_sup = kappa(&bumped, 1.5, None, 10).unwrap();
        assert!(k_sup > 1.1, "{k_sup}");
        assert_eq!(kappa(&[3, 3, 3], 1.5, None, 10), None);
        assert_eq!(kappa(&[], 1.5, None, 10), None);
    }

    #[test]
    fn harris_recovers_sub_critical_and_critical_cascades() {
        // Harris's estimator is the GW maximum-likelihood estimator; its SE is
        // sqrt(sigma / sum n_t): ~0.01 for 3000 subcritical avalanches (sum n ~ 15 000),
        // smaller for the critical ones. Tolerance 0.03.
        for (sigma, seed) in [(0.8, 1), (1.0, 2)] {
            let x = avalanches_series(sigma, 3000, 100_000, seed);
            let h = branching_ratio_harris(&x);
            assert!((h - sigma).abs() < 0.03, "sigma {sigma}: harris {h}");
            // The mean of ratios is biased away from sigma for small n_t (Jensen): e.g. with
            // one ancestor it averages Poisson(sigma) / 1, but for larger n_t ratios shrink
            // towards sigma, and a death step (n_{t+1} = 0) weighs as much as a large
            // generation. We only check it differs from the MLE here.
            let naive = branching_ratio_naive(&x);
            assert!(naive.is_finite());
        }
    }

    #[test]
    fn harris_recovers_supercritical_growth() {
        // A supercritical cascade cannot be stationary: observe one growing cascade from 50
        // ancestors for 45 generations (n ~ 50 * 1.2^45 ~ 1.8e5). SE ~ sqrt(1.2 / 1e6).
        let mut r = rng(3);
        let mut x = vec![50u32];
        for _ in 0..45 {
            let n = *x.last().unwrap_or(&0);
            x.push(poisson(1.2 * f64::from(n), &mut r));
        }
        let h = branching_ratio_harris(&x);
        assert!((h - 1.2).abs() < 0.01, "harris {h}");
        let mr = branching_ratio_mr(&x, 3);
        assert!(mr.is_some());
    }

    /// A driven Galton–Watson process (Poisson(m n_t + h)), observed through binomial
    /// subsampling with probability `p_obs`.
    fn driven(m: f64, h: f64, t: usize, p_obs: f64, seed: u64) -> (Vec<u32>, Vec<u32>) {
        let mut r = rng(seed);
        let mut full = Vec::with_capacity(t);
        let mut n = (h / (1.0 - m)) as u32;
        for _ in 0..t + 1000 {
            n = poisson(m * f64::from(n) + h, &mut r);
            full.push(n);
        }
        full.drain(..1000); // burn-in
        let sub = full
            .iter()
            .map(|&n| {
                Binomial::new(u64::from(n), p_obs)
                    .map(|d| d.sample(&mut r) as u32)
                    .unwrap_or(0)
            })
            .collect();
        (full, sub)
    }

    #[test]
    fn mr_estimator_is_unbiased_under_drive_and_subsampling() {
        // m = 0.9, drive h = 5 per bin: stationary mean 50. Harris reads m + h/mean = 1.0
        // (a driven subcritical system looks critical); MR recovers 0.9 from the full series
        // and from a 5 % subsample (Wilting & Priesemann 2018, Fig. 2). With 2e5 bins the MR
        // estimate has SD ~0.005 (their Fig. 2c for comparable lengths); tolerance 0.02.
        let (full, sub) = driven(0.9, 5.0, 200_000, 0.05, 4);
        let h = branching_ratio_harris(&full);
        assert!((h - 1.0).abs() < 0.01, "harris under drive {h}");
        let mr_full = branching_ratio_mr(&full, 20).unwrap();
        assert!((mr_full.m - 0.9).abs() < 0.02, "{mr_full:?}");
        assert!((mr_full.b - 1.0).abs() < 0.05, "{mr_full:?}");
        let mr_sub = branching_ratio_mr(&sub, 20).unwrap();
        assert!((mr_sub.m - 0.9).abs() < 0.02, "{mr_sub:?}");
        // Subsampling shrinks b (here to ~ p / (p + (1 - p)(1 - m^2)/...) < 0.5), and biases
        // the single-lag slope r_1 = b m far below m: the conventional estimate fails.
        assert!(mr_sub.b < 0.5, "{mr_sub:?}");
        assert!(mr_sub.r_k[0] < 0.5);
        // Same for a near-critical process (m = 0.98, tau = 50 bins): k_max 100.
        let (_, sub) = driven(0.98, 1.0, 200_000, 0.1, 5);
        let est = branching_ratio_mr(&sub, 100).unwrap();
        assert!((est.m - 0.98).abs() < 0.01, "{est:?}");
        assert!(est.significant);
        // White noise: no detectable propagation.
        let mut r = rng(6);
        let noise: Vec<u32> = (0..100_000).map(|_| poisson(8.0, &mut r)).collect();
        let est = branching_ratio_mr(&noise, 40).unwrap();
        assert!(!est.significant && est.m == 0.0, "{est:?}");
    }

    #[test]
    fn avalanche_exponents_of_a_critical_branching_process() {
        // Mean-field critical branching gives size exponent 3/2 and duration exponent 2
        // (Harris 1963; the values Beggs & Plenz 2003 compare against). Fit the sizes of
        // 20 000 critical avalanches.
        use crate::powerlaw::{PowerLawOptions, fit_power_law};
        let x = avalanches_series(1.0, 20_000, 100_000, 6);
        let (sizes, durations) = avalanches_from_counts(&x, 0);
        assert_eq!(sizes.len(), 20_000);
        let fs = fit_power_law(&sizes, &PowerLawOptions::default()).unwrap();
        assert!((fs.alpha - 1.5).abs() < 0.1, "{fs:?}");
        let fd = fit_power_law(&durations, &PowerLawOptions::default()).unwrap();
        assert!((fd.alpha - 2.0).abs() < 0.25, "{fd:?}");
    }

    #[test]
    fn thresholded_avalanches_and_degenerate_rasters() {
        // A raster where every bin is active has no B&P avalanches; with a threshold it has.
        let mut r = rng(9);
        let n_steps = 40_000u64;
        let mut pairs = vec![];
        for step in 0..n_steps as u32 {
            for nrn in 0..20u32 {
                if r.random::<f64>() < 0.2 {
                    pairs.push((step, nrn));
                }
            }
        }
        let s = SpikeTrains::from_unsorted(20, 1.0, n_steps, pairs).unwrap();
        let a = avalanches(
            &s,
            &AvalancheParams {
                bin_ms: Some(4.0),
                threshold: AvalancheThreshold::None,
            },
        )
        .unwrap();
        assert!(a.sizes.is_empty());
        assert_eq!(a.fraction_active, 1.0);
        let t = avalanches(
            &s,
            &AvalancheParams {
                bin_ms: Some(4.0),
                threshold: AvalancheThreshold::Percentile(50.0),
            },
        )
        .unwrap();
        assert_eq!(t.threshold, 16); // median of Binomial(80, 0.2) counts
        assert!(t.sizes.len() > 1000);
        assert!(t.fraction_active < 0.5);
        // The default bin is the mean inter-event interval (1 / (20 * 0.2) steps -> 1 step).
        assert!(mean_iei_ms(&s) < 0.3);
        let d = avalanches(&s, &AvalancheParams::default()).unwrap();
        assert_eq!(d.bin_ms, 1.0);
    }

    #[test]
    fn degenerate_series() {
        assert!(branching_ratio_harris(&[]).is_nan());
        assert!(branching_ratio_naive(&[0, 0, 0]).is_nan());
        assert!(branching_ratio_mr(&[1, 2, 3], 5).is_none());
        assert!(branching_ratio_mr(&[3; 100], 5).is_none());
        assert_eq!(avalanches_from_counts(&[], 0), (vec![], vec![]));
        let s = SpikeTrains::empty(3, 0.5, 0).unwrap();
        let a = avalanches(&s, &AvalancheParams::default()).unwrap();
        assert!(a.sizes.is_empty());
        assert!(a.fraction_active.is_nan());
    }
}
