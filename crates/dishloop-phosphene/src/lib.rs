//! # dishloop-phosphene
//!
//! A dynaphos-equivalent cortical phosphene simulator (van der Grinten, de Ruyter van Steveninck et al.,
//! eLife 13:e85812, 2024; equations and defaults as recorded in `shared/reference/cpg_car_phosphene.md` §3),
//! and the closed loops of the phosphene seed built on it:
//!
//! - [`cortex`]: electrode → visual-field mapping (monopole, dipole, wedge-dipole), cortical
//!   magnification, electrode grids, jitter, dropout, full-field mirroring, cropping, probabilistic
//!   placement.
//! - [`sim`]: per-frame dynamics in the reference order, with a hand-written adjoint (∂/∂amplitude through
//!   activation, trace, size and brightness, across frames).
//! - [`render`]: end-point-inclusive pixel grids, peak-normalised Gaussian (optionally Gabor-shaped)
//!   blobs cut off at a few σ, linear sum and clamp, its adjoint, and image → amplitude sampling.
//! - [`pid`]: PID, P-only (Ziegler–Nichols from the loop's linearised ultimate gain), pure-I and open-loop
//!   (dynamic inverse without adaptation) control of one electrode and per channel on a grid, reading
//!   either the drawn intensity or the seed's mean pixel of the render.
//! - [`controller`]: a learned recurrent controller trained by back-propagation through time through the
//!   simulator's adjoint.
//! - [`nn`], [`glyphs`], [`decoder`], [`e2e`]: a small CNN library with manual back-propagation and Adam,
//!   a built-in bitmap font, a digit decoder trained on phosphene renders, and end-to-end encoder/decoder
//!   training through the simulator (continuous and 10-level straight-through amplitudes, optional
//!   per-image charge budget), compared with Sobel and direct encoders.
//! - [`figures`]: PNG/GIF writers. [`bench`]: the render benchmark.
//!
//! ## Why manual back-propagation instead of candle
//! DESIGN.md names `candle-core` + `candle-nn` for small nets. A cold release build of the two
//! (default features off) took 2 min 03 s on this 2-core machine (measured 2026-05, `cargo build --release`
//! of an empty crate depending on both) — under the 3-minute bar, but the simulator and renderer need
//! hand-written adjoints anyway (they are stateful across frames and sparse in space, which a tensor
//! library would express densely at O(n·H·W)), and wiring them into candle means custom ops whose
//! backward calls those adjoints. The nets here are small (≤ 4 conv layers of ≤ 16 channels on 32 × 32
//! inputs), so a ~500-line layer library with manual backward passes, checked against finite differences
//! in its tests, is cheaper for CI (no extra 2 minutes of cold compile) and keeps one gradient code path.
//!
//! Units: amplitudes are in amperes inside the simulator (as dynaphos) and named `_a`; helpers taking
//! µA are named `_ua`. Angles in degrees (`_deg`), cortical distances in mm (`_mm`).

// Index loops mirror the equations (and the adjoints index several parallel arrays at once);
// `!(x > 0.0)` is deliberate: it also rejects NaN parameters.
#![allow(
    clippy::needless_range_loop,
    clippy::neg_cmp_op_on_partial_ord,
    clippy::type_complexity
)]

pub mod bench;
pub mod controller;
pub mod cortex;
pub mod decoder;
pub mod e2e;
pub mod figures;
pub mod glyphs;
pub mod nn;
pub mod params;
pub mod pid;
pub mod render;
pub mod sim;

pub use cortex::{CortexCoords, PhospheneLayout};
pub use params::Params;
pub use render::Renderer;
pub use sim::Simulator;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum PhospheneError {
    /// A parameter is out of its valid range.
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// A buffer has the wrong length.
    #[error("wrong length: expected {expected}, got {got}")]
    Shape {
        /// Expected length.
        expected: usize,
        /// Given length.
        got: usize,
    },
    /// Writing a figure failed.
    #[error("figure: {0}")]
    Figure(String),
    /// I/O.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Amplitudes of the Fernández protocol table (reference §3.7), µA.
pub const FERNANDEZ_AMPLITUDES_UA: [f64; 10] =
    [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0];

/// Runs the Fernández (2021, Fig. 6A) protocol of dynaphos' `test_brightness` for each amplitude: fps 500,
/// 83 frames of stimulation then 417 frames off, 170 µs pulses at 300 Hz, no threshold, no dropout, one
/// electrode at cortex (35, 10) mm (dipole). Returns (peak activation, peak brightness) per amplitude.
pub fn fernandez_protocol(amplitudes_ua: &[f64]) -> Result<(Vec<f64>, Vec<f64>), PhospheneError> {
    let mut p = Params::default();
    p.run.fps = 500.0;
    p.cortex.dropout_rate = 0.0;
    p.stimulus.pulse_width_s = 170e-6;
    p.stimulus.frequency_hz = 300.0;
    p.threshold.use_threshold = false;
    let w = cortex::Complex::new(35.0, 10.0);
    let z = cortex::cortex_to_visual(&p.cortex, w);
    let layout = PhospheneLayout::single(-z.re, -z.im);
    let mut sim = Simulator::new(p, layout, 1)?;
    let mut peak_a = Vec::with_capacity(amplitudes_ua.len());
    let mut peak_b = Vec::with_capacity(amplitudes_ua.len());
    for &amp in amplitudes_ua {
        sim.reset();
        let (mut pa, mut pb) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
        for frame in 0..500 {
            let i = if frame < 83 { amp * 1e-6 } else { 0.0 };
            sim.step(&[i])?;
            pa = pa.max(sim.activation()[0]);
            pb = pb.max(sim.brightness()[0]);
        }
        peak_a.push(pa);
        peak_b.push(pb);
    }
    Ok((peak_a, peak_b))
}
