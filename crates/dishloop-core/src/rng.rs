//! Counter-based random numbers.
//!
//! Every random draw in the hot loop is a pure function of `(seed, stream, counter)`, so the
//! result of a run does not depend on how neurons are split across threads (DESIGN.md,
//! "deterministic reductions, per-neuron RNG streams from a counter-based or split seed").
//! The mixer is SplitMix64's finaliser (Steele, Lea & Flood 2014, "Fast splittable
//! pseudorandom number generators", OOPSLA), which passes BigCrush when fed a Weyl sequence.

/// SplitMix64 finaliser: a bijective 64-bit mixer.
#[inline(always)]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Derives an independent 64-bit key for `stream` from `seed`.
#[inline]
pub fn stream_key(seed: u64, stream: u64) -> u64 {
    mix64(
        mix64(seed ^ 0x6A09_E667_F3BC_C909)
            .wrapping_add(stream.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
    )
}

/// 64 random bits for `(key, counter)`.
#[inline(always)]
pub fn bits(key: u64, counter: u64) -> u64 {
    mix64(key.wrapping_add(counter.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
}

/// Uniform in [0, 1) from 64 random bits (53-bit mantissa).
#[inline(always)]
pub fn unit_f64(b: u64) -> f64 {
    (b >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Approximately standard-normal value from 64 random bits: the Irwin–Hall sum of four
/// 16-bit uniforms, centred and scaled to unit variance.
///
/// Why not an exact Gaussian: the background drive needs one draw per neuron per 0.5 ms step
/// (2·10⁸ draws per simulated second at 100 000 neurons); Brian2 spends 72 % of its culture
/// run on Box–Muller draws (shared/bench/peers/MEASURED.md). This costs one hash and a few
/// adds, has exact mean 0 and variance 1 (to 2⁻¹⁶), kurtosis 2.7 instead of 3, and tails cut
/// at ±√12 ≈ 3.46 σ. For subthreshold noise driving Izhikevich cells the difference is far
/// below the cell-to-cell variability.
#[inline(always)]
pub fn approx_normal(b: u64) -> f32 {
    let s = (b & 0xFFFF) + ((b >> 16) & 0xFFFF) + ((b >> 32) & 0xFFFF) + (b >> 48);
    // Each 16-bit uniform u_k = (x_k + 0.5) / 65536 has mean 0.5 and variance 1/12.
    const SCALE: f32 = 1.732_050_8 / 65536.0; // sqrt(3) / 2^16: sum of 4 has var 4/12 = 1/3
    // s < 2¹⁸, so going through i32 is exact; u64 → f32 has no vector instruction on AVX2.
    (s as i32 as f32 + 2.0 - 131_072.0) * SCALE
}

/// A small sequential generator for set-up code (placement, wiring): SplitMix64.
#[derive(Clone, Debug)]
pub struct SplitMix {
    state: u64,
}

impl SplitMix {
    /// A generator for `stream` of `seed`.
    pub fn new(seed: u64, stream: u64) -> Self {
        Self {
            state: stream_key(seed, stream),
        }
    }
    /// Next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix64(self.state)
    }
    /// Uniform in [0, 1).
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        unit_f64(self.next_u64())
    }
    /// Uniform in [lo, hi).
    #[inline]
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }
    /// Uniform integer in [0, n) (n > 0), by Lemire's multiply-shift.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }
    /// Exact standard normal by Box–Muller (set-up code only).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
    /// Number of failures before the first success of a Bernoulli(p) sequence (p in (0, 1]).
    #[inline]
    pub fn geometric(&mut self, ln_1mp: f64) -> u64 {
        // ln_1mp = ln(1 - p); inverse-CDF sampling of the geometric distribution.
        let u = 1.0 - self.uniform();
        let k = (u.ln() / ln_1mp).floor();
        if k.is_finite() && k < u64::MAX as f64 {
            k as u64
        } else {
            u64::MAX
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approx_normal_has_unit_moments() {
        let key = stream_key(7, 3);
        let n = 400_000u64;
        let (mut s1, mut s2) = (0.0f64, 0.0f64);
        for c in 0..n {
            let x = approx_normal(bits(key, c)) as f64;
            s1 += x;
            s2 += x * x;
        }
        let mean = s1 / n as f64;
        let var = s2 / n as f64 - mean * mean;
        // Standard errors: mean 1/sqrt(n) = 0.0016, variance ~0.002.
        assert!(mean.abs() < 0.006, "mean {mean}");
        assert!((var - 1.0).abs() < 0.01, "var {var}");
    }

    #[test]
    fn geometric_has_the_right_mean() {
        let mut r = SplitMix::new(1, 2);
        let p: f64 = 0.1;
        let l = (1.0 - p).ln();
        let n = 100_000;
        let m: f64 = (0..n).map(|_| r.geometric(l) as f64).sum::<f64>() / n as f64;
        // E = (1-p)/p = 9, sd of the mean = sqrt((1-p)/p^2/n) = 0.03
        assert!((m - 9.0).abs() < 0.15, "mean {m}");
    }
}
