//! Functional and effective connectivity: cross-correlograms, transfer entropy, thresholded
//! graphs and their small-world and rich-club statistics.
//!
//! * Cross-correlogram: counts of spike pairs by lag (Perkel, Gerstein & Moore 1967, Biophys
//!   J 7:419).
//! * Transfer entropy (Schreiber 2000, Phys Rev Lett 85:461) on binarised binned trains with
//!   `k` bins of history for both target and source, plug-in estimate in bits.
//! * Effective graph: keep the entries of a weight matrix above a percentile of its
//!   off-diagonal values (BL-1 uses the 95th).
//! * Clustering coefficient and characteristic path length (Watts & Strogatz 1998, Nature
//!   393:440) on the undirected graph; small-world index `sigma = (C / C_rand) / (L / L_rand)`
//!   (Humphries & Gurney 2008, PLoS ONE 3:e0002051) against an analytic random reference
//!   (`C_rand = k / (n - 1)`, `L_rand = ln n / ln k`) or a seeded ensemble of Erdős–Rényi
//!   `G(n, M)` graphs with the same number of edges.
//! * Rich-club coefficient `phi(k) = 2 E_{>k} / (N_{>k} (N_{>k} - 1))` (Zhou & Mondragón
//!   2004, IEEE Commun Lett 8:180), normalised by its mean over degree-preserving
//!   randomisations (Maslov & Sneppen 2002, Science 296:910; Colizza, Flammini, Serrano &
//!   Vespignani 2006, Nat Phys 2:110) rather than by density as BL-1 does, since density
//!   ignores that high-degree nodes are more likely to be linked by chance.
//!
//! Matrix computations run in parallel with rayon; every entry is computed independently and
//! random references use one seeded stream per graph, so results do not depend on the number
//! of threads.

use rand::RngExt;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::AnalysisError;
use crate::powerlaw::seeded_rng;
use crate::spikes::SpikeTrains;

/// A dense square matrix, row-major: `data[i * n + j]` is the entry from `i` to `j`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Matrix {
    /// Number of rows (= columns).
    pub n: usize,
    /// Entries, row-major.
    pub data: Vec<f64>,
}

impl Matrix {
    /// Entry `(i, j)`.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.n + j]
    }
}

/// A cross-correlogram.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Correlogram {
    /// Centre of each lag bin in ms (`t_b - t_a`; positive = `b` after `a`).
    pub lags_ms: Vec<f64>,
    /// Number of spike pairs in each lag bin.
    pub counts: Vec<u64>,
}

/// Cross-correlogram of neuron `b` relative to neuron `a`: the number of pairs with
/// `t_b - t_a` in each lag bin of `bin_ms` (snapped to whole steps), bins centred on
/// `k * bin` for `|k| <= round(max_lag_ms / bin)`. BL-1 uses 5 ms bins and ±50 ms.
pub fn cross_correlogram(
    trains: &SpikeTrains,
    a: u32,
    b: u32,
    bin_ms: f64,
    max_lag_ms: f64,
) -> Result<Correlogram, AnalysisError> {
    let bs = trains.bin_steps(bin_ms)? as i64;
    if !(max_lag_ms.is_finite() && max_lag_ms >= 0.0) {
        return Err(AnalysisError::invalid(
            "max_lag_ms",
            max_lag_ms,
            "must be >= 0",
        ));
    }
    for n in [a, b] {
        if n >= trains.n_neurons {
            return Err(AnalysisError::invalid(
                "neuron",
                n,
                "is not below n_neurons",
            ));
        }
    }
    let kmax = (max_lag_ms / (bs as f64 * trains.dt_ms)).round() as i64;
    let per = trains.per_neuron_steps();
    let (ta, tb) = (&per[a as usize], &per[b as usize]);
    let mut counts = vec![0u64; (2 * kmax + 1) as usize];
    // Lags d (steps) with -kmax*bs - bs/2 <= d < kmax*bs + bs/2 (in half steps).
    let lo2 = -2 * kmax * bs - bs;
    let hi2 = 2 * kmax * bs + bs;
    let mut start = 0usize;
    for &s in ta {
        let s = i64::from(s);
        while start < tb.len() && 2 * (i64::from(tb[start]) - s) < lo2 {
            start += 1;
        }
        let mut j = start;
        while j < tb.len() {
            let d = i64::from(tb[j]) - s;
            if 2 * d >= hi2 {
                break;
            }
            let k = (2 * d + bs).div_euclid(2 * bs);
            counts[(k + kmax) as usize] += 1;
            j += 1;
        }
    }
    let bin_eff = bs as f64 * trains.dt_ms;
    Ok(Correlogram {
        lags_ms: (-kmax..=kmax).map(|k| k as f64 * bin_eff).collect(),
        counts,
    })
}

/// 1 where the count is positive, else 0.
pub fn binarize(counts: &[u32]) -> Vec<u8> {
    counts.iter().map(|&c| u8::from(c > 0)).collect()
}

/// Largest history for transfer entropy (the joint state has `2k + 1` bits).
pub const MAX_TE_HISTORY: usize = 10;

/// Transfer entropy from `source` to `target` in bits (Schreiber 2000):
/// `sum p(y', y_k, x_k) log2 [p(y' | y_k, x_k) / p(y' | y_k)]`, with `y_k`, `x_k` the last `k`
/// bins of target and source and `y'` the next target bin; inputs are 0/1 series (any
/// non-zero value is 1). Plug-in estimate, biased upwards by roughly
/// `2^(2k) / (2 N ln 2)` bits for independent series of length `N`.
///
/// ```
/// use dishloop_analysis::connectivity::transfer_entropy;
/// // y copies x one bin later: TE x -> y is H(x) = 1 bit, TE y -> x is 0.
/// let mut state = 7u64;
/// let x: Vec<u8> = (0..4096)
///     .map(|_| {
///         state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
///         (state >> 63) as u8 // a pseudo-random bit
///     })
///     .collect();
/// let mut y = vec![0u8; x.len()];
/// y[1..].copy_from_slice(&x[..x.len() - 1]);
/// let xy = transfer_entropy(&x, &y, 1).unwrap();
/// let yx = transfer_entropy(&y, &x, 1).unwrap();
/// assert!(xy > 0.9 && yx < 0.05);
/// ```
pub fn transfer_entropy(source: &[u8], target: &[u8], k: usize) -> Result<f64, AnalysisError> {
    if source.len() != target.len() {
        return Err(AnalysisError::LengthMismatch(source.len(), target.len()));
    }
    if k == 0 || k > MAX_TE_HISTORY {
        return Err(AnalysisError::invalid("history", k, "must be 1..=10 bins"));
    }
    let t = source.len();
    if t <= k {
        return Ok(f64::NAN);
    }
    let mask = (1usize << k) - 1;
    let states = 1usize << (2 * k + 1);
    let mut c = vec![0u32; states];
    let (mut yp, mut xp) = (0usize, 0usize);
    for i in 0..t {
        let y = usize::from(target[i] != 0);
        if i >= k {
            // State (y', y_k, x_k) -> index y' | y_k << 1 | x_k << (k + 1).
            c[y | (yp << 1) | (xp << (k + 1))] += 1;
        }
        yp = ((yp << 1) | y) & mask;
        xp = ((xp << 1) | usize::from(source[i] != 0)) & mask;
    }
    let n = (t - k) as f64;
    // Marginals: c(y_k, x_k), c(y', y_k), c(y_k).
    let mut c_yx = vec![0u32; 1 << (2 * k)];
    let mut c_yy = vec![0u32; 1 << (k + 1)];
    let mut c_y = vec![0u32; 1 << k];
    for (idx, &v) in c.iter().enumerate() {
        if v == 0 {
            continue;
        }
        let ynext = idx & 1;
        let ypast = (idx >> 1) & mask;
        let xpast = idx >> (k + 1);
        c_yx[ypast | (xpast << k)] += v;
        c_yy[ynext | (ypast << 1)] += v;
        c_y[ypast] += v;
    }
    let mut te = 0.0;
    for (idx, &v) in c.iter().enumerate() {
        if v == 0 {
            continue;
        }
        let ynext = idx & 1;
        let ypast = (idx >> 1) & mask;
        let xpast = idx >> (k + 1);
        let num = f64::from(v) * f64::from(c_y[ypast]);
        let den = f64::from(c_yx[ypast | (xpast << k)]) * f64::from(c_yy[ynext | (ypast << 1)]);
        te += f64::from(v) / n * (num / den).log2();
    }
    Ok(te.max(0.0))
}

/// Transfer entropy between every ordered pair of rows (`data[i * n + j]` = TE `i -> j`;
/// diagonal 0), in parallel over source rows.
pub fn transfer_entropy_matrix(rows: &[Vec<u8>], k: usize) -> Result<Matrix, AnalysisError> {
    let n = rows.len();
    if let Some(r) = rows.iter().find(|r| r.len() != rows[0].len()) {
        return Err(AnalysisError::LengthMismatch(rows[0].len(), r.len()));
    }
    let data: Result<Vec<Vec<f64>>, AnalysisError> = (0..n)
        .into_par_iter()
        .map(|i| {
            (0..n)
                .map(|j| {
                    if i == j {
                        Ok(0.0)
                    } else {
                        transfer_entropy(&rows[i], &rows[j], k)
                    }
                })
                .collect()
        })
        .collect();
    Ok(Matrix {
        n,
        data: data?.into_iter().flatten().collect(),
    })
}

/// Transfer entropy between the given neurons of a recording, binned at `bin_ms` and
/// binarised (BL-1: 10 ms bins, history 5, the first 50 neurons; `data[i * n + j]` is
/// TE `neurons[i] -> neurons[j]`).
pub fn transfer_entropy_trains(
    trains: &SpikeTrains,
    neurons: &[u32],
    bin_ms: f64,
    k: usize,
) -> Result<Matrix, AnalysisError> {
    let rows: Vec<Vec<u8>> = trains
        .neuron_counts(bin_ms, neurons)?
        .iter()
        .map(|r| binarize(r))
        .collect();
    transfer_entropy_matrix(&rows, k)
}

/// A directed graph on `n` nodes as a dense adjacency matrix (`adj[i * n + j]`: edge i -> j).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Graph {
    /// Number of nodes.
    pub n: usize,
    /// Adjacency, row-major.
    pub adj: Vec<bool>,
}

impl Graph {
    /// A graph without edges.
    pub fn empty(n: usize) -> Self {
        Self {
            n,
            adj: vec![false; n * n],
        }
    }

    /// Whether there is an edge `i -> j`.
    pub fn has_edge(&self, i: usize, j: usize) -> bool {
        self.adj[i * self.n + j]
    }

    /// The undirected graph with an edge `{i, j}` where `i -> j` or `j -> i` (no self-loops).
    pub fn undirected(&self) -> Graph {
        let n = self.n;
        let mut g = Graph::empty(n);
        for i in 0..n {
            for j in 0..n {
                if i != j && (self.has_edge(i, j) || self.has_edge(j, i)) {
                    g.adj[i * n + j] = true;
                }
            }
        }
        g
    }

    /// Number of directed edges (twice the undirected count for an undirected graph).
    pub fn n_edges(&self) -> usize {
        self.adj.iter().filter(|&&e| e).count()
    }

    /// Degree of each node (out-degree for a directed graph).
    pub fn degrees(&self) -> Vec<usize> {
        (0..self.n)
            .map(|i| {
                self.adj[i * self.n..(i + 1) * self.n]
                    .iter()
                    .filter(|&&e| e)
                    .count()
            })
            .collect()
    }

    fn neighbours(&self, i: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.n).filter(move |&j| self.adj[i * self.n + j])
    }
}

/// The directed graph with an edge `i -> j` (i != j) wherever `w(i, j)` is above the value at
/// percentile `percentile` (0–100, nearest rank) of the finite off-diagonal entries.
pub fn threshold_graph(w: &Matrix, percentile: f64) -> Graph {
    let n = w.n;
    let mut vals: Vec<f64> = (0..n)
        .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
        .map(|(i, j)| w.get(i, j))
        .filter(|v| v.is_finite())
        .collect();
    let mut g = Graph::empty(n);
    if vals.is_empty() {
        return g;
    }
    vals.sort_by(f64::total_cmp);
    let p = if percentile.is_finite() {
        percentile.clamp(0.0, 100.0)
    } else {
        95.0
    };
    let thr = vals[((p / 100.0) * (vals.len() - 1) as f64).round() as usize];
    for i in 0..n {
        for j in 0..n {
            let v = w.get(i, j);
            if i != j && v.is_finite() && v > thr {
                g.adj[i * n + j] = true;
            }
        }
    }
    g
}

/// Mean local clustering coefficient of the undirected version of `g` (Watts & Strogatz
/// 1998); nodes with fewer than 2 neighbours count as 0 (as in networkx). NaN for `n = 0`.
pub fn clustering_coefficient(g: &Graph) -> f64 {
    let u = g.undirected();
    if u.n == 0 {
        return f64::NAN;
    }
    let total: f64 = (0..u.n)
        .map(|i| {
            let nb: Vec<usize> = u.neighbours(i).collect();
            let k = nb.len();
            if k < 2 {
                return 0.0;
            }
            let mut links = 0usize;
            for (a, &x) in nb.iter().enumerate() {
                for &y in &nb[a + 1..] {
                    if u.has_edge(x, y) {
                        links += 1;
                    }
                }
            }
            2.0 * links as f64 / (k * (k - 1)) as f64
        })
        .sum();
    total / u.n as f64
}

/// Characteristic path length of the undirected version of `g`: the mean shortest-path length
/// (in edges) over ordered pairs of distinct nodes that are connected. NaN without such pairs.
pub fn characteristic_path_length(g: &Graph) -> f64 {
    let u = g.undirected();
    let n = u.n;
    let lists: Vec<Vec<usize>> = (0..n).map(|i| u.neighbours(i).collect()).collect();
    let (sum, count) = (0..n)
        .into_par_iter()
        .map(|s| {
            let mut dist = vec![usize::MAX; n];
            dist[s] = 0;
            let mut queue = std::collections::VecDeque::from([s]);
            let (mut sum, mut count) = (0u64, 0u64);
            while let Some(v) = queue.pop_front() {
                for &w in &lists[v] {
                    if dist[w] == usize::MAX {
                        dist[w] = dist[v] + 1;
                        sum += dist[w] as u64;
                        count += 1;
                        queue.push_back(w);
                    }
                }
            }
            (sum, count)
        })
        .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    if count == 0 {
        f64::NAN
    } else {
        sum as f64 / count as f64
    }
}

/// Random reference for the small-world index.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum RandomReference {
    /// `C_rand = k / (n - 1)` (the edge density) and `L_rand = ln n / ln k`, with `k` the mean
    /// degree (Watts & Strogatz 1998).
    Analytic,
    /// Means over `n_graphs` Erdős–Rényi `G(n, M)` graphs with the same number of edges;
    /// graph `i` uses its own stream seeded from `(seed, i)`.
    ErdosRenyi {
        /// Number of random graphs.
        n_graphs: usize,
        /// Seed.
        seed: u64,
    },
}

/// Small-world statistics of an undirected graph.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmallWorld {
    /// Mean clustering coefficient.
    pub c: f64,
    /// Characteristic path length.
    pub l: f64,
    /// Clustering of the random reference.
    pub c_rand: f64,
    /// Path length of the random reference.
    pub l_rand: f64,
    /// `(C / C_rand) / (L / L_rand)`; > 1 suggests a small world.
    pub sigma: f64,
}

/// Small-world index of the undirected version of `g` (Humphries & Gurney 2008).
pub fn small_world(g: &Graph, reference: RandomReference) -> SmallWorld {
    let u = g.undirected();
    let n = u.n;
    let m = u.n_edges() / 2;
    let c = clustering_coefficient(&u);
    let l = characteristic_path_length(&u);
    let (c_rand, l_rand) = match reference {
        RandomReference::Analytic => {
            let k = if n > 0 {
                2.0 * m as f64 / n as f64
            } else {
                f64::NAN
            };
            let density = if n > 1 { k / (n - 1) as f64 } else { f64::NAN };
            let l_r = if k > 1.0 {
                (n as f64).ln() / k.ln()
            } else {
                f64::NAN
            };
            (density, l_r)
        }
        RandomReference::ErdosRenyi { n_graphs, seed } => {
            let stats: Vec<(f64, f64)> = (0..n_graphs)
                .into_par_iter()
                .map(|i| {
                    let r = erdos_renyi_gnm(n, m, stream_seed(seed, i));
                    (clustering_coefficient(&r), characteristic_path_length(&r))
                })
                .collect();
            let mean = |f: fn(&(f64, f64)) -> f64| {
                let v: Vec<f64> = stats.iter().map(f).filter(|x| x.is_finite()).collect();
                if v.is_empty() {
                    f64::NAN
                } else {
                    v.iter().sum::<f64>() / v.len() as f64
                }
            };
            (mean(|s| s.0), mean(|s| s.1))
        }
    };
    SmallWorld {
        c,
        l,
        c_rand,
        l_rand,
        sigma: (c / c_rand) / (l / l_rand),
    }
}

fn stream_seed(seed: u64, i: usize) -> u64 {
    seed ^ (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// A uniformly random undirected graph with `n` nodes and `m` edges (`G(n, M)`), seeded.
pub fn erdos_renyi_gnm(n: usize, m: usize, seed: u64) -> Graph {
    let mut g = Graph::empty(n);
    let max_m = n * n.saturating_sub(1) / 2;
    let m = m.min(max_m);
    let mut rng = seeded_rng(seed);
    let mut placed = 0;
    while placed < m {
        let i = rng.random_range(0..n);
        let j = rng.random_range(0..n);
        if i != j && !g.adj[i * n + j] {
            g.adj[i * n + j] = true;
            g.adj[j * n + i] = true;
            placed += 1;
        }
    }
    g
}

/// Rich-club coefficients by degree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RichClub {
    /// Degree thresholds `k` (nodes with degree > k form the club); only `k` with at least
    /// two such nodes.
    pub degree: Vec<usize>,
    /// `phi(k)`.
    pub phi: Vec<f64>,
    /// Mean `phi(k)` over degree-preserving randomisations.
    pub phi_rand: Vec<f64>,
    /// `phi(k) / phi_rand(k)`; > 1 means the hubs are more interconnected than chance.
    pub normalized: Vec<f64>,
}

fn phi_by_degree(u: &Graph, deg: &[usize], ks: &[usize]) -> Vec<f64> {
    ks.iter()
        .map(|&k| {
            let club: Vec<usize> = (0..u.n).filter(|&i| deg[i] > k).collect();
            let nk = club.len();
            let mut e = 0usize;
            for (a, &x) in club.iter().enumerate() {
                for &y in &club[a + 1..] {
                    if u.has_edge(x, y) {
                        e += 1;
                    }
                }
            }
            2.0 * e as f64 / (nk * (nk - 1)) as f64
        })
        .collect()
}

/// Rich-club coefficient of the undirected version of `g`, normalised by `n_rand`
/// degree-preserving randomisations (10 double-edge swaps attempted per edge; randomisation
/// `i` uses its own stream seeded from `(seed, i)`).
pub fn rich_club(g: &Graph, n_rand: usize, seed: u64) -> RichClub {
    let u = g.undirected();
    let deg = u.degrees();
    let max_k = deg.iter().copied().max().unwrap_or(0);
    let ks: Vec<usize> = (0..max_k)
        .filter(|&k| deg.iter().filter(|&&d| d > k).count() >= 2)
        .collect();
    let phi = phi_by_degree(&u, &deg, &ks);
    let rand_phis: Vec<Vec<f64>> = (0..n_rand)
        .into_par_iter()
        .map(|i| {
            let r = degree_preserving_shuffle(&u, stream_seed(seed, i));
            phi_by_degree(&r, &deg, &ks)
        })
        .collect();
    let phi_rand: Vec<f64> = (0..ks.len())
        .map(|j| {
            if rand_phis.is_empty() {
                f64::NAN
            } else {
                rand_phis.iter().map(|p| p[j]).sum::<f64>() / rand_phis.len() as f64
            }
        })
        .collect();
    let normalized = phi.iter().zip(&phi_rand).map(|(a, b)| a / b).collect();
    RichClub {
        degree: ks,
        phi,
        phi_rand,
        normalized,
    }
}

/// Maslov–Sneppen rewiring of an undirected graph: repeatedly pick edges (a, b), (c, d) and
/// rewire to (a, d), (c, b) unless that makes a self-loop or a multi-edge. Degrees are kept.
pub fn degree_preserving_shuffle(u: &Graph, seed: u64) -> Graph {
    let n = u.n;
    let mut g = u.clone();
    let mut edges: Vec<(usize, usize)> = (0..n)
        .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
        .filter(|&(i, j)| u.adj[i * n + j])
        .collect();
    if edges.len() < 2 {
        return g;
    }
    let mut rng = seeded_rng(seed);
    for _ in 0..10 * edges.len() {
        let e1 = rng.random_range(0..edges.len());
        let e2 = rng.random_range(0..edges.len());
        if e1 == e2 {
            continue;
        }
        let (a, b) = edges[e1];
        let (mut c, mut d) = edges[e2];
        if rng.random::<bool>() {
            std::mem::swap(&mut c, &mut d);
        }
        if a == d || c == b || a == c || b == d || g.adj[a * n + d] || g.adj[c * n + b] {
            continue;
        }
        for (x, y, v) in [(a, b, false), (c, d, false), (a, d, true), (c, b, true)] {
            g.adj[x * n + y] = v;
            g.adj[y * n + x] = v;
        }
        edges[e1] = (a.min(d), a.max(d));
        edges[e2] = (c.min(b), c.max(b));
    }
    g
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::rng;

    #[test]
    fn correlogram_peaks_at_the_planted_lag() {
        // b fires 3 ms after each spike of a (1 ms steps), plus an unrelated spike.
        let mut pairs = vec![];
        for k in 0..50u32 {
            pairs.push((100 + k * 40, 0));
            pairs.push((103 + k * 40, 1));
        }
        pairs.push((5, 1));
        let s = SpikeTrains::from_unsorted(2, 1.0, 3000, pairs).unwrap();
        let cc = cross_correlogram(&s, 0, 1, 1.0, 10.0).unwrap();
        assert_eq!(cc.lags_ms.len(), 21);
        assert_eq!(cc.lags_ms[13], 3.0);
        assert_eq!(cc.counts[13], 50);
        // Pairs with |lag| <= 10 ms other than +3: none (spikes are 40 ms apart).
        assert_eq!(cc.counts.iter().sum::<u64>(), 50);
        // Reversed: the peak moves to -3 ms.
        let rc = cross_correlogram(&s, 1, 0, 1.0, 10.0).unwrap();
        assert_eq!(rc.counts[7], 50);
        // 5 ms bins centred on 0, ±5, ±10: +3 ms falls in the +5 bin ([2.5, 7.5)).
        let c5 = cross_correlogram(&s, 0, 1, 5.0, 10.0).unwrap();
        assert_eq!(c5.lags_ms, vec![-10.0, -5.0, 0.0, 5.0, 10.0]);
        assert_eq!(c5.counts, vec![0, 0, 0, 50, 0]);
        assert!(cross_correlogram(&s, 0, 2, 1.0, 10.0).is_err());
    }

    #[test]
    fn transfer_entropy_is_larger_in_the_driven_direction() {
        // x: Bernoulli(0.3). y copies x with one bin delay with probability 0.7, else fires
        // at random with probability 0.1.
        let mut r = rng(5);
        let t = 20_000;
        let x: Vec<u8> = (0..t).map(|_| u8::from(r.random::<f64>() < 0.3)).collect();
        let mut y = vec![0u8; t];
        for i in 1..t {
            y[i] = if r.random::<f64>() < 0.7 {
                x[i - 1]
            } else {
                u8::from(r.random::<f64>() < 0.1)
            };
        }
        for k in [1, 3, 5] {
            let xy = transfer_entropy(&x, &y, k).unwrap();
            let yx = transfer_entropy(&y, &x, k).unwrap();
            // Plug-in bias for independent series ~ 2^(2k) / (2 N ln 2) = 0.037 bits at k = 5.
            assert!(xy > 0.3, "k {k}: TE x->y {xy}");
            assert!(yx < 0.05, "k {k}: TE y->x {yx}");
        }
        let m = transfer_entropy_matrix(&[x.clone(), y.clone()], 2).unwrap();
        assert!(m.get(0, 1) > 10.0 * m.get(1, 0));
        assert_eq!(m.get(0, 0), 0.0);
        // The same pair as spike trains (1 ms steps, 1 ms bins), neurons listed as [y, x].
        let pairs = (0..t).flat_map(|i| {
            let mut v = vec![];
            if x[i] == 1 {
                v.push((i as u32, 0));
            }
            if y[i] == 1 {
                v.push((i as u32, 1));
            }
            v
        });
        let s = SpikeTrains::from_unsorted(2, 1.0, t as u64, pairs).unwrap();
        let mt = transfer_entropy_trains(&s, &[1, 0], 1.0, 2).unwrap();
        assert_eq!(mt.get(1, 0), m.get(0, 1));
        assert_eq!(mt.get(0, 1), m.get(1, 0));
        assert!(transfer_entropy(&x, &y[1..], 1).is_err());
        assert!(transfer_entropy(&x, &y, 11).is_err());
    }

    fn ring_lattice(n: usize, k: usize) -> Graph {
        let mut g = Graph::empty(n);
        for i in 0..n {
            for d in 1..=k / 2 {
                let j = (i + d) % n;
                g.adj[i * n + j] = true;
                g.adj[j * n + i] = true;
            }
        }
        g
    }

    #[test]
    fn clustering_and_path_length_of_known_graphs() {
        // Ring lattice, k = 4: C = 3(k - 2) / (4(k - 1)) = 0.5 (Watts & Strogatz 1998);
        // n = 20: L = 55 / 19 (distances 1,1,2,2,...,5 around the ring).
        let g = ring_lattice(20, 4);
        assert!((clustering_coefficient(&g) - 0.5).abs() < 1e-12);
        assert!((characteristic_path_length(&g) - 55.0 / 19.0).abs() < 1e-12);
        let mut full = Graph::empty(6);
        for i in 0..6 {
            for j in 0..6 {
                full.adj[i * 6 + j] = i != j;
            }
        }
        assert_eq!(clustering_coefficient(&full), 1.0);
        assert_eq!(characteristic_path_length(&full), 1.0);
        assert!(characteristic_path_length(&Graph::empty(3)).is_nan());
    }

    #[test]
    fn small_world_sigma() {
        // Watts–Strogatz: a ring lattice (n = 200, k = 10) with 10 % of edges rewired keeps
        // high clustering with short paths: sigma well above 1. A G(n, M) graph has sigma ~ 1
        // against an Erdős–Rényi reference.
        let n = 200;
        let mut g = ring_lattice(n, 10);
        let mut r = rng(8);
        for i in 0..n {
            for d in 1..=5 {
                let j = (i + d) % n;
                if r.random::<f64>() < 0.1 {
                    let t = r.random_range(0..n);
                    if t != i && !g.adj[i * n + t] {
                        g.adj[i * n + j] = false;
                        g.adj[j * n + i] = false;
                        g.adj[i * n + t] = true;
                        g.adj[t * n + i] = true;
                    }
                }
            }
        }
        let sw = small_world(
            &g,
            RandomReference::ErdosRenyi {
                n_graphs: 10,
                seed: 1,
            },
        );
        assert!(sw.sigma > 4.0, "{sw:?}");
        let sa = small_world(&g, RandomReference::Analytic);
        assert!(sa.sigma > 4.0, "{sa:?}");
        let er = erdos_renyi_gnm(n, 1000, 99);
        let se = small_world(
            &er,
            RandomReference::ErdosRenyi {
                n_graphs: 10,
                seed: 2,
            },
        );
        assert!((se.sigma - 1.0).abs() < 0.2, "{se:?}");
        // Deterministic for a seed.
        let again = small_world(
            &g,
            RandomReference::ErdosRenyi {
                n_graphs: 10,
                seed: 1,
            },
        );
        assert_eq!(sw, again);
    }

    #[test]
    fn rich_club_detects_interconnected_hubs() {
        // 10 hubs forming a clique, each with 10 private leaves (hub degree 19); the leaves
        // also form a ring (leaf degree 3), so chance can rewire hub-hub edges away.
        let (hubs, leaves) = (10, 10);
        let n = hubs + hubs * leaves;
        let mut g = Graph::empty(n);
        let mut link = |a: usize, b: usize| {
            g.adj[a * n + b] = true;
            g.adj[b * n + a] = true;
        };
        for a in 0..hubs {
            for b in a + 1..hubs {
                link(a, b);
            }
            for l in 0..leaves {
                link(a, hubs + a * leaves + l);
            }
        }
        for l in 0..hubs * leaves {
            link(hubs + l, hubs + (l + 1) % (hubs * leaves));
        }
        let rc = rich_club(&g, 20, 3);
        // Club of degree > 3 = the hubs: phi = 1.
        let i1 = rc.degree.iter().position(|&k| k == 3).unwrap();
        assert_eq!(rc.phi[i1], 1.0);
        assert!(rc.normalized[i1] > 1.2, "{rc:?}");
        // Degree-preserving shuffle keeps every degree and the edge count.
        let sh = degree_preserving_shuffle(&g, 4);
        assert_eq!(sh.degrees(), g.degrees());
        assert_ne!(sh, g);
        assert_eq!(rich_club(&g, 20, 3), rc);
    }

    #[test]
    fn threshold_graph_keeps_the_top_entries() {
        let w = Matrix {
            n: 3,
            data: vec![9.0, 1.0, 2.0, 3.0, 9.0, 4.0, 5.0, 6.0, 9.0],
        };
        // Off-diagonal values 1..6; the 50th percentile (nearest rank) is 4 (index 2.5 -> 3):
        // keep 5 and 6.
        let g = threshold_graph(&w, 50.0);
        assert_eq!(g.n_edges(), 2);
        assert!(g.has_edge(2, 0) && g.has_edge(2, 1));
    }
}
