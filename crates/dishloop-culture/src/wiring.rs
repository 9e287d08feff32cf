//! Placement and distance-dependent wiring in O(N·k).
//!
//! Each presynaptic neuron visits the grid cells (side λ) within the cut-off. In a cell whose
//! nearest point is `d_min` away, every candidate has probability at most
//! `p_cell = p_max·e^{−d_min/λ}`; candidates are drawn by geometric skipping at `p_cell` and
//! accepted with `p(d)/p_cell` (thinning). The result has exactly the distribution of an
//! independent Bernoulli(p(d)) draw per ordered pair, without touching all N² pairs. Each row
//! uses its own random stream, so rows can be built in parallel and stay identical for any
//! thread count.

use dishloop_core::IzhType;
use dishloop_core::rng::SplitMix;
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

type Row = Vec<(u32, f32, u16, bool)>;

pub(crate) fn connect(cfg: &CultureConfig, pos: &[[f32; 2]], n_exc: usize, seed: u64) -> Vec<Row> {
    let c = &cfg.culture;
    let n = pos.len();
    let lambda = c.lambda_um;
    let cutoff = c.cutoff_lambdas * lambda;
    let cell = lambda;
    let nx = ((c.substrate_um[0] / cell).ceil() as usize).max(1);
    let ny = ((c.substrate_um[1] / cell).ceil() as usize).max(1);
    let mut cells: Vec<Vec<u32>> = vec![Vec::new(); nx * ny];
    let cell_of = |p: [f32; 2]| {
        let x = ((p[0] as f64 / cell) as usize).min(nx - 1);
        let y = ((p[1] as f64 / cell) as usize).min(ny - 1);
        (x, y)
    };
    for (i, &p) in pos.iter().enumerate() {
        let (x, y) = cell_of(p);
        cells[y * nx + x].push(i as u32);
    }
    let reach = (cutoff / cell).ceil() as i64 + 1;
    let dt = cfg.simulation.dt_ms;
    let v = c.axon_velocity_um_per_ms;
    (0..n)
        .into_par_iter()
        .with_min_len(256)
        .map(|i| {
            let mut r = SplitMix::new(seed, 1_000_000 + i as u64);
            let p = pos[i];
            let (cx, cy) = cell_of(p);
            let mut row: Row = Vec::new();
            if c.p_max <= 0.0 {
                return row;
            }
            for gy in (cy as i64 - reach).max(0)..=(cy as i64 + reach).min(ny as i64 - 1) {
                for gx in (cx as i64 - reach).max(0)..=(cx as i64 + reach).min(nx as i64 - 1) {
                    let members = &cells[gy as usize * nx + gx as usize];
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
                        let d = (((q[0] - p[0]) as f64).powi(2) + ((q[1] - p[1]) as f64).powi(2))
                            .sqrt();
                        if d > cutoff {
                            continue;
                        }
                        let pd = c.p_max * (-d / lambda).exp();
                        if r.uniform() * p_cell >= pd {
                            continue;
                        }
                        let exc = match c.wiring {
                            Wiring::Dale => i < n_exc,
                            Wiring::LegacyBl1 => j < n_exc,
                        };
                        let g = if exc { c.g_exc } else { c.g_inh };
                        let w = g * (1.0 + c.weight_jitter * r.range(-1.0, 1.0));
                        let delay = (d / v / dt).round().clamp(1.0, 4000.0) as u16;
                        row.push((j as u32, w as f32, delay, !exc));
                    }
                }
            }
            row
        })
        .collect()
}
