//! Render benchmark: frames per second of simulator update + render for `n` phosphenes at a given
//! resolution, with the Gaussians cut off at [`crate::render::DEFAULT_CUTOFF_SIGMAS`] σ, against the
//! dense O(n·H·W) render and against the paper's figure (28.7 fps for 10 000 phosphenes at 256² on an
//! NVIDIA A30; reference §3.5).

use crate::PhospheneError;
use crate::cortex::phosphenes_probabilistic;
use crate::params::Params;
use crate::render::Renderer;
use crate::sim::Simulator;
use rand::SeedableRng;
use serde::Serialize;
use std::time::Instant;

/// The paper's slowest setting, frames per second (10 000 phosphenes, 256², A30 GPU).
pub const PAPER_FPS_10K_256: f64 = 28.7;

/// Benchmark result.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    /// Phosphenes.
    pub n_phosphenes: usize,
    /// Resolution (square).
    pub resolution_px: usize,
    /// Frames timed with the cut-off render.
    pub frames: usize,
    /// Update + cut-off render, frames per second (single thread).
    pub fps_cutoff: f64,
    /// Update + dense render, frames per second (single thread).
    pub fps_dense: f64,
    /// fps_cutoff / 28.7.
    pub ratio_to_paper: f64,
    /// fps_cutoff / fps_dense.
    pub ratio_to_dense: f64,
    /// Largest pixel difference between the cut-off and dense renders.
    pub max_abs_diff: f32,
    /// Mean σ of the phosphenes, pixels.
    pub mean_sigma_px: f64,
}

/// Runs the benchmark: probabilistic placement of `n` phosphenes (seed 42), 100 µA on every electrode,
/// `frames` timed frames of update + render after 10 warm-up frames; the dense render is timed on
/// `dense_frames` frames.
pub fn render_benchmark(
    n: usize,
    resolution_px: usize,
    frames: usize,
    dense_frames: usize,
) -> Result<BenchReport, PhospheneError> {
    let mut p = Params::default();
    p.run.resolution_x_px = resolution_px;
    p.run.resolution_y_px = resolution_px;
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(p.run.seed);
    let layout = phosphenes_probabilistic(&p.cortex, p.run.view_angle_deg, n, &mut rng);
    let mut sim = Simulator::new(p, layout, 1)?;
    let r = Renderer::for_simulator(&sim)?;
    let amps = vec![100e-6; sim.n()];
    for _ in 0..10 {
        sim.step(&amps)?;
    }
    let mut checksum = 0.0f32;
    let t0 = Instant::now();
    for _ in 0..frames {
        sim.step(&amps)?;
        let img = r.render(&sim.intensity(), sim.sigma_deg());
        checksum += img[img.len() / 2];
    }
    let fps_cutoff = frames as f64 / t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let mut dense = Vec::new();
    for _ in 0..dense_frames.max(1) {
        sim.step(&amps)?;
        dense = r.render_dense(&sim.intensity(), sim.sigma_deg());
        checksum += dense[dense.len() / 2];
    }
    let fps_dense = dense_frames.max(1) as f64 / t1.elapsed().as_secs_f64();
    let cut = r.render(&sim.intensity(), sim.sigma_deg());
    let max_abs_diff = cut
        .iter()
        .zip(&dense)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    std::hint::black_box(checksum);
    let px = p_spacing(&r);
    let mean_sigma_px = sim.sigma_deg().iter().sum::<f64>() / sim.n().max(1) as f64 / px;
    Ok(BenchReport {
        n_phosphenes: sim.n(),
        resolution_px,
        frames,
        fps_cutoff,
        fps_dense,
        ratio_to_paper: fps_cutoff / PAPER_FPS_10K_256,
        ratio_to_dense: fps_cutoff / fps_dense,
        max_abs_diff,
        mean_sigma_px,
    })
}

fn p_spacing(r: &Renderer) -> f64 {
    r.grid_x_deg()[1] - r.grid_x_deg()[0]
}
