//! Placement and distance-dependent wiring in O(N·k).
//!
//! Each presynaptic neuron visits the grid cells (side λ) within the cut-off. In a cell whose
//! nearest point is `d_min` away, every candidate has probability at most
//! `p_cell = p_max·e^{−d_min/λ}`; candidates are drawn by geometric skipping at `p_cell` and
//! accepted with `p(d)/p_cell` (thinning). The result has exactly the distribution of an
//! independent Bernoulli(p(d)) draw per ordered pair, without touching all N² pairs. Each row
//! uses its own random stream, so rows can be built in parallel and stay identical for any
//! thread count.

use dishloop_core::rng::SplitMix;
use dishloop_core::{CoreError, Csr, IzhType};
use rayon::prelude::*;

use crate::config::{CultureConfig, CultureSection, Wiring};

/// Uniform placement; within each type block, neurons are ordered by grid cell so that
/// spatial neighbours have nearby indices (better cache locality when spikes are delivered).
pub(crate) fn place(c: &CultureSection, counts: &[(IzhType, usize)], seed: u64) -> Vec<[f32; 2]> {
    let mut r = SplitMix::new(seed, 1);
    let [w, h] = c.substrate_um;
    let cell = c.lambda_um.max(1.0);
    let mut out = Vec::with_capacity(c.n_neurons);
    for &(_, k) in counts {
        let mut block: Vec<[f32; 2]> = (0..k)
            .map(|_| [r.range(0.0, w) as f32, r.range(0.0, h) as f32])
            .collect();
        block.sort_by(|a, b| {
            let ka = ((a[1] as f64 / cell) as u64, (a[0] as f64 / cell) as u64);
            let kb = ((b[1] as f64 / cell) as u64, (b[0] as f64 / cell) as u64);
            ka.cmp(&kb).then(a[0].total_cmp(&b[0]))
        });
        out.extend(block);
    }
    out
}

/// One presynaptic row as generated: `(post, weight, delay_steps, inhibitory)`.
type Row = Vec<(u32, f32, u16, bool)>;

/// Rows generated per parallel batch. Only one batch of rows exists outside the matrix at a
/// time (≈ 12 B per synapse of the batch, ~30 MB at BL-1 `default`'s ~480 synapses per row),
/// so wiring peaks near the matrix's own 8 B per synapse instead of holding every row (12 B
/// per synapse plus `Vec` growth slack, and allocator arenas that keep it resident afterwards).
/// 25 batches for 100 000 neurons: the fork-join cost per batch is negligible.
const BATCH_ROWS: usize = 4096;

/// Rows per rayon task within a batch (16 tasks per full batch, enough to balance 2–16 threads).
const MIN_ROWS_PER_TASK: usize = 256;

/// Wires the culture straight into a delay-segmented CSR matrix. Rows are generated in
/// parallel, [`BATCH_ROWS`] at a time, and handed to [`Csr::from_row_fn`] in order; each row
/// draws from its own random stream, so the matrix is identical for any thread count and
/// batch size (and bit-identical to the previous build-all-rows-then-`Csr::from_rows`).
pub(crate) fn connect(
    cfg: &CultureConfig,
    pos: &[[f32; 2]],
    n_exc: usize,
    seed: u64,
) -> Result<Csr, CoreError> {
    let n = pos.len();
    let wirer = Wirer::new(cfg, pos, n_exc, seed);
    let mut batch: Vec<Row> = Vec::new();
    let mut batch_start = 0usize;
    Csr::from_row_fn(n, 0, |pre, row| {
        if pre >= batch_start + batch.len() {
            batch_start = pre;
            let end = (pre + BATCH_ROWS).min(n);
            (pre..end)
                .into_par_iter()
                .with_min_len(MIN_ROWS_PER_TASK)
                .map(|i| {
                    let mut r = Row::new();
                    wirer.row(i, &mut r);
                    // `from_row_fn` sorts each row by (delay, target) on the one building
                    // thread; targets are distinct within a row, so this order is unique and
                    // sorting here (in parallel) leaves it an O(len) check there.
                    r.sort_unstable_by_key(|&(t, _, d, _)| (d, t));
                    r
                })
                .collect_into_vec(&mut batch);
        }
        // The matrix copies the row out; the buffer it hands back is dropped with the batch.
        std::mem::swap(row, &mut batch[pre - batch_start]);
    })
}

/// Everything row generation reads: the config's wiring numbers, positions, and the grid of
/// cells (side λ) listing the neurons in each.
struct Wirer<'a> {
    c: &'a CultureSection,
    pos: &'a [[f32; 2]],
    n_exc: usize,
    seed: u64,
    dt_ms: f64,
    cell_um: f64,
    cutoff_um: f64,
    nx: usize,
    ny: usize,
    /// Grid cells by `y·nx + x`, each listing its neurons in index order.
    cells: Vec<Vec<u32>>,
    /// Cells visited on each side of a neuron's own cell.
    reach: i64,
}

impl<'a> Wirer<'a> {
    fn new(cfg: &'a CultureConfig, pos: &'a [[f32; 2]], n_exc: usize, seed: u64) -> Self {
        let c = &cfg.culture;
        let lambda = c.lambda_um;
        let cutoff_um = c.cutoff_lambdas * lambda;
        let cell_um = lambda;
        let nx = ((c.substrate_um[0] / cell_um).ceil() as usize).max(1);
        let ny = ((c.substrate_um[1] / cell_um).ceil() as usize).max(1);
        let mut w = Wirer {
            c,
            pos,
            n_exc,
            seed,
            dt_ms: cfg.simulation.dt_ms,
            cell_um,
            cutoff_um,
            nx,
            ny,
            cells: vec![Vec::new(); nx * ny],
            reach: (cutoff_um / cell_um).ceil() as i64 + 1,
        };
        for (i, &p) in pos.iter().enumerate() {
            let (x, y) = w.cell_of(p);
            w.cells[y * nx + x].push(i as u32);
        }
        w
    }

    fn cell_of(&self, p: [f32; 2]) -> (usize, usize) {
        let x = ((p[0] as f64 / self.cell_um) as usize).min(self.nx - 1);
        let y = ((p[1] as f64 / self.cell_um) as usize).min(self.ny - 1);
        (x, y)
    }

    /// Appends presynaptic neuron `i`'s synapses to `row`, in generation order.
    fn row(&self, i: usize, row: &mut Row) {
        let c = self.c;
        let (lambda, cutoff, cell) = (c.lambda_um, self.cutoff_um, self.cell_um);
        let (nx, ny, reach) = (self.nx, self.ny, self.reach);
        let (dt, v) = (self.dt_ms, c.axon_velocity_um_per_ms);
        let pos = self.pos;
        let mut r = SplitMix::new(self.seed, 1_000_000 + i as u64);
        let p = pos[i];
        let (cx, cy) = self.cell_of(p);
        if c.p_max <= 0.0 {
            return;
        }
        for gy in (cy as i64 - reach).max(0)..=(cy as i64 + reach).min(ny as i64 - 1) {
            for gx in (cx as i64 - reach).max(0)..=(cx as i64 + reach).min(nx as i64 - 1) {
                let members = &self.cells[gy as usize * nx + gx as usize];
                if members.is_empty() {
                    continue;
                }
                // Nearest point of the cell to p.
                let (x0, x1) = (gx as f64 * cell, (gx + 1) as f64 * cell);
                let (y0, y1) = (gy as f64 * cell, (gy + 1) as f64 * cell);
                let dx = (x0 - p[0] as f64).max(0.0).max(p[0] as f64 - x1);
                let dy = (y0 - p[1] as f64).max(0.0).max(p[1] as f64 - y1);
                let dmin = (dx * dx + dy * dy).sqrt();
                if dmin > cutoff {
                    continue;
                }
                let p_cell = c.p_max * (-dmin / lambda).exp();
                if p_cell <= 0.0 {
                    continue;
                }
                let ln1mp = if p_cell >= 1.0 {
                    f64::NEG_INFINITY
                } else {
                    (1.0 - p_cell).ln()
                };
                let mut k = 0usize;
                loop {
                    let skip = if p_cell >= 1.0 { 0 } else { r.geometric(ln1mp) };
                    k = match k.checked_add(skip as usize) {
                        Some(x) if x < members.len() => x,
                        _ => break,
                    };
                    let j = members[k] as usize;
                    k += 1;
                    if j == i {
                        continue;
                    }
                    let q = pos[j];
                    let d =
                        (((q[0] - p[0]) as f64).powi(2) + ((q[1] - p[1]) as f64).powi(2)).sqrt();
                    if d > cutoff {
                        continue;
                    }
                    let pd = c.p_max * (-d / lambda).exp();
                    if r.uniform() * p_cell >= pd {
                        continue;
                    }
                    let exc = match c.wiring {
                        Wiring::Dale => i < self.n_exc,
                        Wiring::LegacyBl1 => j < self.n_exc,
                    };
                    let g = if exc { c.g_exc } else { c.g_inh };
                    let w = if c.weight_lognormal_sigma > 0.0 {
                        // Mean-preserving lognormal (config docs); draws a normal instead of
                        // the uniform, so cultures without it keep their exact stream.
                        let s = c.weight_lognormal_sigma;
                        g * (s * r.normal() - 0.5 * s * s)
                            .exp()
                            .min(c.weight_max_factor)
                    } else {
                        g * (1.0 + c.weight_jitter * r.range(-1.0, 1.0))
                    };
                    let delay = (d / v / dt).round().clamp(1.0, 4000.0) as u16;
                    row.push((j as u32, w as f32, delay, !exc));
                }
            }
        }
    }
}
