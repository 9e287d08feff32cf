//! Vectorisable elementary functions for the neuron loop.
//!
//! `f32::exp` calls libm and blocks auto-vectorisation; the NMDA Mg²⁺ block needs one
//! exponential per neuron per step. This polynomial is accurate to about 2 ulp over the range
//! the membrane ever visits and compiles to straight-line SIMD code.

/// e^x for x in [-87, 88] (clamped outside). Relative error < 1e-6 for |x| ≤ 20 (the range
/// the Mg block and the AdEx exponent use), < 1e-5 up to |x| = 80 (f32 rounding of x·log₂e).
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    // e^x = 2^(x log2 e) = 2^n · 2^f with n integer, f in [-0.5, 0.5].
    let y = x * std::f32::consts::LOG2_E;
    // Round to nearest without `floorf` (a libm call on baseline x86-64): y + 128.5 > 0 here,
    // so truncation is floor.
    let ni = (y + 128.5) as i32 - 128;
    let n = ni as f32;
    let f = y - n;
    // Minimax-like Taylor polynomial of 2^f = e^(f ln 2) to degree 6.
    let t = f * std::f32::consts::LN_2;
    let p = 1.0
        + t * (1.0
            + t * (0.5
                + t * (1.0 / 6.0 + t * (1.0 / 24.0 + t * (1.0 / 120.0 + t * (1.0 / 720.0))))));
    let bits = ((ni + 127) as u32) << 23;
    p * f32::from_bits(bits)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn exp_matches_std_to_single_precision() {
        let mut x = -80.0f32;
        while x < 80.0 {
            let want = (x as f64).exp();
            let got = exp_f32(x) as f64;
            let tol = if x.abs() <= 20.0 { 1e-6 } else { 1e-5 };
            assert!(
                ((got - want) / want).abs() < tol,
                "x={x} got {got} want {want}"
            );
            x += 0.137;
        }
    }
}
