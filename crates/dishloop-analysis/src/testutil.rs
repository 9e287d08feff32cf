//! Generators shared by the unit tests (not part of the API).

use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::SpikeTrains;

/// A seeded generator.
pub fn rng(seed: u64) -> Xoshiro256PlusPlus {
    Xoshiro256PlusPlus::seed_from_u64(seed)
}

/// `(step, neuron)` pairs of a Poisson train at `rate_hz` on a `dt_ms` grid, for steps in
/// `0..n_steps`: geometric inter-spike steps, the exact discrete-time analogue of exponential
/// ISIs (one Bernoulli(p) trial per step, p = rate * dt).
pub fn poisson_pairs(
    neuron: u32,
    rate_hz: f64,
    dt_ms: f64,
    n_steps: u64,
    rng: &mut Xoshiro256PlusPlus,
) -> Vec<(u32, u32)> {
    let p = rate_hz * dt_ms / 1000.0;
    let ln_q = (1.0 - p).ln();
    let mut out = Vec::new();
    let mut t: u64 = 0;
    loop {
        let u: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
        t += (u.ln() / ln_q).floor() as u64 + 1;
        if t >= n_steps {
            break;
        }
        out.push((t as u32, neuron));
    }
    out
}

/// `n` independent Poisson trains.
pub fn poisson(n: u32, rate_hz: f64, dt_ms: f64, n_steps: u64, seed: u64) -> SpikeTrains {
    let mut r = rng(seed);
    let pairs: Vec<_> = (0..n)
        .flat_map(|i| poisson_pairs(i, rate_hz, dt_ms, n_steps, &mut r))
        .collect();
    SpikeTrains::from_unsorted(n, dt_ms, n_steps, pairs).expect("valid by construction")
}
