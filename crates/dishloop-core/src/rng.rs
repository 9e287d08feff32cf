//! Counter-based random numbers.
//!
//! Every random draw in the hot loop is a pure function of `(seed, stream, counter)`, so the
//! result of a run does not depend on how neurons are split across threads (DESIGN.md,
//! "deterministic reductions, per-neuron RNG streams from a counter-based or split seed").
//! The 64-bit mixer is SplitMix64's finaliser (Steele, Lea & Flood 2014, "Fast splittable
//! pseudorandom number generators", OOPSLA), which passes BigCrush when fed a Weyl sequence.
//!
//! The background noise of the network uses [`NoiseStream`]: 32-bit lanes, because AVX2 has
//! no 64-bit multiply (SplitMix64's two multiplies cost about 20 vector instructions per four
//! neurons; the 32-bit hash below costs about 20 per eight).

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

/// The "triple32" integer hash (C. Wellons, *Prospecting for hash functions*, 2018,
/// nullprogram.com; avalanche bias 0.021, the best of its search): a bijection of u32 built
/// from xor-shifts and odd multiplies, three 32-bit multiplies in all.
#[inline(always)]
pub fn hash32(mut x: u32) -> u32 {
    x ^= x >> 17;
    x = x.wrapping_mul(0xED5A_D4BB);
    x ^= x >> 11;
    x = x.wrapping_mul(0xAC4C_1B51);
    x ^= x >> 15;
    x = x.wrapping_mul(0x3184_8BAB);
    x ^= x >> 14;
    x
}

/// Approximately standard-normal value from 32 random bits: the Irwin–Hall sum of its four
/// bytes, centred and scaled to unit variance.
///
/// A byte is uniform on {0, …, 255}: mean 127.5, variance (256² − 1)/12, so the sum of four
/// has mean 510 and variance 21 845 exactly, and the result has mean 0 and variance 1
/// exactly. Like [`approx_normal`] it has kurtosis 2.7 and tails cut at ±3.45 σ; its grid of
/// 1/147.8 σ is far below any effect on a membrane.
#[inline(always)]
pub fn approx_normal_u32(h: u32) -> f32 {
    // Two byte sums side by side in 16-bit halves, then the halves: 5 vector operations.
    let t = (h & 0x00FF_00FF) + ((h >> 8) & 0x00FF_00FF);
    let s = (t & 0xFFFF) + (t >> 16);
    // 1/sqrt(21 845)
    const SCALE: f32 = 0.006_765_875;
    (s as i32 as f32 - 510.0) * SCALE
}

/// Per-neuron, per-step noise stream of the network: neuron i at step t draws
/// `approx_normal_u32(hash32(key_i ^ word_t))`.
///
/// - `key_i = hash32(i ^ k)` with k from the seed: a bijection of the neuron index, so no two
///   neurons share a stream, and 4 bytes per neuron.
/// - `word_t`: 32 bits of SplitMix64 of the step, computed once per step for all neurons.
///
/// For a fixed step the inputs `key_i ^ word_t` are distinct across neurons; for a fixed
/// neuron they follow the step words, so successive draws are independent as far as the
/// hash is; two neurons' inputs differ by the constant `key_i ^ key_j`, which the hash's
/// avalanche decorrelates (tested below: moments, lag-1 autocorrelation, neighbour
/// cross-correlation). The draw is a pure function of (seed, neuron, step), so it does not
/// depend on threads or on the order neurons are visited.
#[derive(Clone, Copy, Debug)]
pub struct NoiseStream {
    key: u32,
    step_key: u64,
}

impl NoiseStream {
    /// The stream family of `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            key: stream_key(seed, 0x4E01_5E00) as u32,
            step_key: stream_key(seed, 0x4E01_5E01),
        }
    }
    /// Key of neuron `i`.
    #[inline]
    pub fn neuron_key(&self, i: u32) -> u32 {
        hash32(i ^ self.key)
    }
    /// Word of step `t`, shared by all neurons.
    #[inline]
    pub fn step_word(&self, t: u64) -> u32 {
        (bits(self.step_key, t) >> 32) as u32
    }
    /// The draw of the neuron with key `neuron_key` at the step with word `step_word`.
    #[inline(always)]
    pub fn draw(neuron_key: u32, step_word: u32) -> f32 {
        approx_normal_u32(hash32(neuron_key ^ step_word))
    }
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
    fn byte_irwin_hall_is_exactly_centred_with_unit_variance() {
        // Exact over all byte sums: the distribution of s is the 4-fold convolution of the
        // uniform on 0..=255; check mean 0, variance 1 and kurtosis 2.7 by enumeration.
        let mut pmf = vec![1.0f64; 256];
        for _ in 0..3 {
            let mut next = vec![0.0f64; pmf.len() + 255];
            for (i, &p) in pmf.iter().enumerate() {
                for b in 0..256 {
                    next[i + b] += p;
                }
            }
            pmf = next;
        }
        let total: f64 = pmf.iter().sum();
        let (mut m1, mut m2, mut m4) = (0.0, 0.0, 0.0);
        for (s, &p) in pmf.iter().enumerate() {
            // The same value approx_normal_u32 gives for a word whose bytes sum to s.
            let b = [s.min(255), (s.max(255) - 255).min(255), 0, 0];
            let rest = s - b[0] - b[1];
            let b = [b[0], b[1], rest.min(255), rest - rest.min(255)];
            let h = u32::from_le_bytes([b[0] as u8, b[1] as u8, b[2] as u8, b[3] as u8]);
            let z = approx_normal_u32(h) as f64;
            let w = p / total;
            m1 += w * z;
            m2 += w * z * z;
            m4 += w * z.powi(4);
        }
        assert!(m1.abs() < 1e-6, "mean {m1}");
        assert!((m2 - 1.0).abs() < 1e-5, "variance {m2}");
        // Irwin–Hall with n = 4: excess kurtosis −6/(5n) = −0.3.
        assert!((m4 - 2.7).abs() < 1e-3, "kurtosis {m4}");
    }

    #[test]
    fn noise_stream_is_unit_normal_and_uncorrelated() {
        let st = NoiseStream::new(11);
        let (neurons, steps) = (64u32, 20_000u64);
        let keys: Vec<u32> = (0..neurons).map(|i| st.neuron_key(i)).collect();
        let (mut s1, mut s2, mut lag1, mut cross) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
        let mut prev = vec![0.0f64; neurons as usize];
        for t in 0..steps {
            let w = st.step_word(t);
            let x: Vec<f64> = keys
                .iter()
                .map(|&k| NoiseStream::draw(k, w) as f64)
                .collect();
            for i in 0..neurons as usize {
                s1 += x[i];
                s2 += x[i] * x[i];
                if t > 0 {
                    lag1 += x[i] * prev[i];
                }
                cross += x[i] * x[(i + 1) % neurons as usize];
            }
            prev = x;
        }
        let n = (neurons as u64 * steps) as f64;
        let mean = s1 / n;
        let var = s2 / n - mean * mean;
        // Standard error of each statistic: 1/sqrt(n) = 0.00088.
        assert!(mean.abs() < 0.004, "mean {mean}");
        assert!((var - 1.0).abs() < 0.01, "variance {var}");
        assert!(
            (lag1 / n).abs() < 0.004,
            "lag-1 autocorrelation {}",
            lag1 / n
        );
        assert!(
            (cross / n).abs() < 0.004,
            "neighbour correlation {}",
            cross / n
        );
        // Keys are a bijection of the index: all distinct.
        let mut k: Vec<u32> = (0..100_000).map(|i| st.neuron_key(i)).collect();
        k.sort_unstable();
        k.dedup();
        assert_eq!(k.len(), 100_000);
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
