//! Information measures on binned spike trains.
//!
//! * Discrete plug-in entropies in bits: [`mutual_information`] between two symbol series and
//!   [`active_information_storage`] `A = I(x_{t+1}; x_t^(k))` (Lizier, Prokopenko & Zomaya
//!   2012, Inf Sci 208:39). BL-1 coarsens counts to {0, 1, >=2} for AIS; [`coarsen`] does
//!   that.
//! * Integration and neural complexity (Tononi, Sporns & Edelman 1994, PNAS 91:5033) under a
//!   Gaussian approximation, where entropies are log-determinants of covariance matrices:
//!   integration `I(X) = sum_i H(x_i) - H(X) = 1/2 (sum ln Sigma_ii - ln det Sigma)`, and
//!   complexity `C_N(X) = sum_{k=1}^{n/2} < MI(X_k ; X \ X_k) >`, the mean over subsets `X_k`
//!   of size `k` of the mutual information between the subset and the rest. Subsets are
//!   enumerated when there are at most `n_samples` of them and otherwise drawn at random from
//!   a seeded stream per `k` (BL-1 draws 100 bipartitions with seed 42). All values in bits.
//!
//! Sums run in a fixed order (counts are sorted, not hashed), so results are bit-for-bit
//! reproducible.

use rand::RngExt;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::AnalysisError;
use crate::connectivity::Matrix;
use crate::powerlaw::seeded_rng;

/// `min(c, max_symbol)` for each count: e.g. `coarsen(x, 2)` maps counts to {0, 1, >=2}.
pub fn coarsen(counts: &[u32], max_symbol: u32) -> Vec<u32> {
    counts.iter().map(|&c| c.min(max_symbol)).collect()
}

/// Plug-in entropy in bits of the sorted keys' frequency distribution.
fn entropy_sorted<T: PartialEq>(sorted: &[T]) -> f64 {
    let n = sorted.len() as f64;
    if sorted.is_empty() {
        return f64::NAN;
    }
    let mut h = 0.0;
    let mut run = 1usize;
    for i in 1..=sorted.len() {
        if i < sorted.len() && sorted[i] == sorted[i - 1] {
            run += 1;
        } else {
            let p = run as f64 / n;
            h -= p * p.log2();
            run = 1;
        }
    }
    h
}

/// Plug-in Shannon entropy of a symbol series in bits; NaN for an empty series.
pub fn entropy_bits(x: &[u32]) -> f64 {
    let mut v = x.to_vec();
    v.sort_unstable();
    entropy_sorted(&v)
}

/// Plug-in mutual information `H(x) + H(y) - H(x, y)` in bits between two symbol series of
/// equal length (for example binned counts, or [`coarsen`]ed counts).
///
/// ```
/// use dishloop_analysis::info::mutual_information;
/// let x = [0, 1, 0, 1, 2, 2, 0, 1];
/// // A series shares all of its information with itself: MI = H(x) = 1.56 bits.
/// assert!((mutual_information(&x, &x).unwrap() - 1.561278124459133).abs() < 1e-12);
/// ```
pub fn mutual_information(x: &[u32], y: &[u32]) -> Result<f64, AnalysisError> {
    if x.len() != y.len() {
        return Err(AnalysisError::LengthMismatch(x.len(), y.len()));
    }
    let mut xy: Vec<(u32, u32)> = x.iter().copied().zip(y.iter().copied()).collect();
    xy.sort_unstable();
    Ok((entropy_bits(x) + entropy_bits(y) - entropy_sorted(&xy)).max(0.0))
}

/// Mutual information between every pair of rows (symmetric; the diagonal holds each row's
/// entropy), in parallel over rows.
pub fn mutual_information_matrix(rows: &[Vec<u32>]) -> Result<Matrix, AnalysisError> {
    let n = rows.len();
    if let Some(r) = rows.iter().find(|r| r.len() != rows[0].len()) {
        return Err(AnalysisError::LengthMismatch(rows[0].len(), r.len()));
    }
    let upper: Vec<Vec<f64>> = (0..n)
        .into_par_iter()
        .map(|i| {
            (i..n)
                .map(|j| mutual_information(&rows[i], &rows[j]).unwrap_or(f64::NAN))
                .collect()
        })
        .collect();
    let mut data = vec![0.0; n * n];
    for (i, row) in upper.iter().enumerate() {
        for (d, &v) in row.iter().enumerate() {
            let j = i + d;
            data[i * n + j] = v;
            data[j * n + i] = v;
        }
    }
    Ok(Matrix { n, data })
}

/// Active information storage `I(x_{t+1}; x_t, ..., x_{t-k+1})` in bits (Lizier et al. 2012),
/// plug-in. Symbols must be small: `(max(x) + 1)^k` must fit in 63 bits.
pub fn active_information_storage(x: &[u32], k: usize) -> Result<f64, AnalysisError> {
    if k == 0 {
        return Err(AnalysisError::invalid("history", k, "must be >= 1"));
    }
    let base = u64::from(x.iter().copied().max().unwrap_or(0)) + 1;
    let fits = (0..k).try_fold(1u64, |acc, _| {
        acc.checked_mul(base).filter(|&v| v < 1 << 63)
    });
    if fits.is_none() {
        return Err(AnalysisError::invalid(
            "history",
            k,
            "too long for the alphabet (coarsen the counts first)",
        ));
    }
    if x.len() <= k {
        return Ok(f64::NAN);
    }
    let modulus = base.pow(k as u32 - 1);
    let mut past = 0u64;
    for &v in &x[..k] {
        past = past * base + u64::from(v);
    }
    let mut joint: Vec<(u64, u32)> = Vec::with_capacity(x.len() - k);
    for &v in &x[k..] {
        joint.push((past, v));
        past = (past % modulus) * base + u64::from(v);
    }
    let mut pasts: Vec<u64> = joint.iter().map(|p| p.0).collect();
    let mut nexts: Vec<u32> = joint.iter().map(|p| p.1).collect();
    pasts.sort_unstable();
    nexts.sort_unstable();
    joint.sort_unstable();
    Ok((entropy_sorted(&pasts) + entropy_sorted(&nexts) - entropy_sorted(&joint)).max(0.0))
}

/// Sample covariance matrix (`n - 1` denominator) of the rows (variables × samples).
pub fn covariance(rows: &[Vec<f64>]) -> Result<Matrix, AnalysisError> {
    let n = rows.len();
    let t = rows.first().map_or(0, Vec::len);
    if let Some(r) = rows.iter().find(|r| r.len() != t) {
        return Err(AnalysisError::LengthMismatch(t, r.len()));
    }
    if t < 2 {
        return Err(AnalysisError::invalid("samples", t, "need at least 2"));
    }
    let means: Vec<f64> = rows
        .iter()
        .map(|r| r.iter().sum::<f64>() / t as f64)
        .collect();
    let mut data = vec![0.0; n * n];
    for i in 0..n {
        for j in i..n {
            let c = rows[i]
                .iter()
                .zip(&rows[j])
                .map(|(a, b)| (a - means[i]) * (b - means[j]))
                .sum::<f64>()
                / (t - 1) as f64;
            data[i * n + j] = c;
            data[j * n + i] = c;
        }
    }
    Ok(Matrix { n, data })
}

/// Natural log-determinant of the symmetric positive-definite submatrix `idx × idx` of `cov`
/// by Cholesky; `None` if it is not positive definite.
fn log_det(cov: &Matrix, idx: &[usize]) -> Option<f64> {
    let m = idx.len();
    let mut a = vec![0.0; m * m];
    for (r, &i) in idx.iter().enumerate() {
        for (c, &j) in idx.iter().enumerate() {
            a[r * m + c] = cov.get(i, j);
        }
    }
    let mut ld = 0.0;
    for j in 0..m {
        let mut d = a[j * m + j];
        for k in 0..j {
            d -= a[j * m + k] * a[j * m + k];
        }
        if d.is_nan() || d <= 0.0 {
            return None;
        }
        let l = d.sqrt();
        a[j * m + j] = l;
        ld += 2.0 * l.ln();
        for i in j + 1..m {
            let mut s = a[i * m + j];
            for k in 0..j {
                s -= a[i * m + k] * a[j * m + k];
            }
            a[i * m + j] = s / l;
        }
    }
    Some(ld)
}

/// Gaussian integration `1/2 (sum ln Sigma_ii - ln det Sigma) / ln 2` bits of a covariance
/// matrix; NaN if it is not positive definite.
pub fn integration_from_cov(cov: &Matrix) -> f64 {
    let all: Vec<usize> = (0..cov.n).collect();
    let diag: f64 = (0..cov.n).map(|i| cov.get(i, i).ln()).sum();
    match log_det(cov, &all) {
        Some(ld) => 0.5 * (diag - ld) / std::f64::consts::LN_2,
        None => f64::NAN,
    }
}

/// Integration and neural complexity of a system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Complexity {
    /// Integration `I(X)` in bits.
    pub integration_bits: f64,
    /// Neural complexity `C_N(X)` in bits.
    pub complexity_bits: f64,
    /// `<MI(X_k ; X \ X_k)>` for `k = 1..=n/2`, in bits.
    pub mean_mi_by_size: Vec<f64>,
    /// Variables used.
    pub n_used: usize,
    /// Variables dropped for having zero variance (they carry no information).
    pub n_dropped: usize,
}

fn binomial(n: usize, k: usize) -> f64 {
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

/// All `k`-subsets of `0..n` in lexicographic order.
fn combinations(n: usize, k: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    let mut c: Vec<usize> = (0..k).collect();
    loop {
        out.push(c.clone());
        let mut i = k;
        loop {
            if i == 0 {
                return out;
            }
            i -= 1;
            if c[i] < n - k + i {
                c[i] += 1;
                for j in i + 1..k {
                    c[j] = c[j - 1] + 1;
                }
                break;
            }
        }
    }
}

/// Integration and Tononi–Sporns–Edelman complexity from a covariance matrix (module docs).
/// Variables with zero variance are dropped first.
///
/// ```
/// use dishloop_analysis::connectivity::Matrix;
/// use dishloop_analysis::info::neural_complexity_from_cov;
/// // Two variables with correlation 0.6: I = C = -1/2 log2(1 - 0.36) = 0.3219 bits.
/// let cov = Matrix { n: 2, data: vec![1.0, 0.6, 0.6, 1.0] };
/// let c = neural_complexity_from_cov(&cov, 100, 42);
/// assert!((c.integration_bits - 0.32192809488736235).abs() < 1e-12);
/// assert!((c.complexity_bits - c.integration_bits).abs() < 1e-12);
/// ```
pub fn neural_complexity_from_cov(cov: &Matrix, n_samples: usize, seed: u64) -> Complexity {
    let keep: Vec<usize> = (0..cov.n).filter(|&i| cov.get(i, i) > 0.0).collect();
    let n = keep.len();
    let mut sub = Matrix {
        n,
        data: vec![0.0; n * n],
    };
    for (r, &i) in keep.iter().enumerate() {
        for (c, &j) in keep.iter().enumerate() {
            sub.data[r * n + c] = cov.get(i, j);
        }
    }
    let integration = if n > 0 {
        integration_from_cov(&sub)
    } else {
        f64::NAN
    };
    let all: Vec<usize> = (0..n).collect();
    let ld_all = log_det(&sub, &all);
    let mean_mi_by_size: Vec<f64> = (1..=n / 2)
        .into_par_iter()
        .map(|k| {
            let Some(ld_all) = ld_all else {
                return f64::NAN;
            };
            let subsets: Vec<Vec<usize>> = if binomial(n, k) <= n_samples as f64 {
                combinations(n, k)
            } else {
                let mut rng = seeded_rng(seed ^ (k as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
                let mut pool: Vec<usize> = (0..n).collect();
                (0..n_samples)
                    .map(|_| {
                        for i in 0..k {
                            let j = rng.random_range(i..n);
                            pool.swap(i, j);
                        }
                        let mut s = pool[..k].to_vec();
                        s.sort_unstable();
                        s
                    })
                    .collect()
            };
            let mut in_set = vec![false; n];
            let mut total = 0.0;
            let mut count = 0usize;
            for s in &subsets {
                in_set.iter_mut().for_each(|v| *v = false);
                for &i in s {
                    in_set[i] = true;
                }
                let rest: Vec<usize> = (0..n).filter(|&i| !in_set[i]).collect();
                if let (Some(a), Some(b)) = (log_det(&sub, s), log_det(&sub, &rest)) {
                    total += 0.5 * (a + b - ld_all) / std::f64::consts::LN_2;
                    count += 1;
                }
            }
            if count > 0 {
                total / count as f64
            } else {
                f64::NAN
            }
        })
        .collect();
    let complexity = if n >= 2 {
        mean_mi_by_size.iter().sum()
    } else {
        f64::NAN
    };
    Complexity {
        integration_bits: integration,
        complexity_bits: complexity,
        mean_mi_by_size,
        n_used: n,
        n_dropped: cov.n - n,
    }
}

/// Integration and neural complexity of binned activity (`rows`: variables × time bins,
/// e.g. spike counts of up to a few dozen neurons) under the Gaussian approximation.
pub fn neural_complexity(
    rows: &[Vec<f64>],
    n_samples: usize,
    seed: u64,
) -> Result<Complexity, AnalysisError> {
    Ok(neural_complexity_from_cov(
        &covariance(rows)?,
        n_samples,
        seed,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::rng;
    use rand_distr::{Distribution, StandardNormal};

    #[test]
    fn mutual_information_known_values() {
        let mut r = rng(1);
        let x: Vec<u32> = (0..50_000).map(|_| r.random_range(0..4)).collect();
        let y: Vec<u32> = (0..50_000).map(|_| r.random_range(0..4)).collect();
        // Identical uniform 4-symbol series: 2 bits; independent: ~0 (plug-in bias
        // (4-1)^2 / (2 N ln 2) = 1.3e-4 bits).
        assert!((mutual_information(&x, &x).unwrap() - 2.0).abs() < 0.001);
        assert!(mutual_information(&x, &y).unwrap() < 0.001);
        // y = x mod 2 carries exactly 1 bit of x.
        let m2: Vec<u32> = x.iter().map(|v| v % 2).collect();
        assert!((mutual_information(&x, &m2).unwrap() - 1.0).abs() < 0.001);
        let m = mutual_information_matrix(&[x.clone(), m2.clone()]).unwrap();
        assert!((m.get(0, 1) - 1.0).abs() < 0.001 && m.get(0, 1) == m.get(1, 0));
        assert!((m.get(0, 0) - 2.0).abs() < 0.001);
        assert!(mutual_information(&x, &y[1..]).is_err());
    }

    #[test]
    fn ais_of_periodic_and_random_series() {
        // Period-3 sequence 0,1,2,...: one past symbol predicts the next: AIS = H = log2 3
        // (up to the unequal symbol counts of 2999 transitions: 1000/1000/999).
        let x: Vec<u32> = (0..3000).map(|i| i % 3).collect();
        assert!((active_information_storage(&x, 1).unwrap() - 3f64.log2()).abs() < 1e-6);
        assert!((active_information_storage(&x, 4).unwrap() - 3f64.log2()).abs() < 1e-6);
        let mut r = rng(2);
        let noise: Vec<u32> = (0..50_000).map(|_| r.random_range(0..3)).collect();
        assert!(active_information_storage(&noise, 2).unwrap() < 0.005);
        assert_eq!(coarsen(&[0, 1, 5, 2], 2), vec![0, 1, 2, 2]);
        assert!(active_information_storage(&noise, 0).is_err());
        assert!(active_information_storage(&[u32::MAX, 0], 3).is_err());
    }

    /// det of the equicorrelated m x m matrix: (1 - rho)^(m - 1) (1 + (m - 1) rho).
    fn ln_det_equi(m: usize, rho: f64) -> f64 {
        (m as f64 - 1.0) * (1.0 - rho).ln() + (1.0 + (m as f64 - 1.0) * rho).ln()
    }

    #[test]
    fn integration_and_complexity_of_equicorrelated_gaussians() {
        let (n, rho) = (6usize, 0.4);
        let mut data = vec![rho; n * n];
        for i in 0..n {
            data[i * n + i] = 1.0;
        }
        let cov = Matrix { n, data };
        let c = neural_complexity_from_cov(&cov, 1000, 42);
        let ln2 = std::f64::consts::LN_2;
        let integ = -0.5 * ln_det_equi(n, rho) / ln2;
        assert!((c.integration_bits - integ).abs() < 1e-12);
        // Every k-subset is equivalent: MI_k = 1/2 (ln det_k + ln det_{n-k} - ln det_n).
        let expect: f64 = (1..=n / 2)
            .map(|k| {
                0.5 * (ln_det_equi(k, rho) + ln_det_equi(n - k, rho) - ln_det_equi(n, rho)) / ln2
            })
            .sum();
        assert!((c.complexity_bits - expect).abs() < 1e-12);
        // Sampled subsets (fewer samples than C(6, 3) = 20) give the same value here.
        let s = neural_complexity_from_cov(&cov, 5, 7);
        assert!((s.complexity_bits - expect).abs() < 1e-12);
    }

    #[test]
    fn independent_data_has_no_integration_and_constant_rows_are_dropped() {
        let mut r = rng(3);
        let t = 20_000;
        let mut rows: Vec<Vec<f64>> = (0..8)
            .map(|_| (0..t).map(|_| StandardNormal.sample(&mut r)).collect())
            .collect();
        rows.push(vec![1.0; t]);
        let c = neural_complexity(&rows, 50, 1).unwrap();
        assert_eq!(c.n_dropped, 1);
        assert_eq!(c.n_used, 8);
        // Bias of the Gaussian estimate ~ n(n-1) / (4 T ln 2) = 1e-3 bits.
        assert!(c.integration_bits.abs() < 0.01, "{c:?}");
        assert!(c.complexity_bits.abs() < 0.02, "{c:?}");
        // Deterministic for a seed.
        assert_eq!(neural_complexity(&rows, 50, 1).unwrap(), c);
    }
}
