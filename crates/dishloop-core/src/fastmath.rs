//! Vectorisable elementary functions for the neuron loop.
//!
//! `f32::exp` calls libm and blocks auto-vectorisation; the NMDA Mg²⁺ block needs one
//! exponential per neuron per step. This polynomial is accurate to about 2 ulp over the range
//! the membrane ever visits and compiles to straight-line SIMD code (no float → int
//! conversion, no table).

/// e^x for x in [-87, 88] (clamped outside). Relative error < 1e-6 for |x| ≤ 20 (the range
/// the Mg block and the AdEx exponent use), < 1e-5 up to |x| = 80 (f32 rounding of x·log₂e).
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    // e^x = 2^(x log2 e) = 2^n · 2^f with n integer, f in [-0.5, 0.5].
    let y = x * std::f32::consts::LOG2_E;
    // Round y to the nearest integer by adding 1.5·2²³: the sum's ulp is 1, so the integer
    // lands in the low mantissa bits (valid for |y| < 2²²; here |y| ≤ 127). Unlike `as i32`,
    // whose saturating semantics LLVM scalarises lane by lane, this is two vector adds and an
    // integer subtract. Ties round to even.
    const MAGIC: f32 = 12_582_912.0;
    let t = y + MAGIC;
    let n = t - MAGIC;
    let ni = t.to_bits() as i32 - MAGIC.to_bits() as i32;
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
