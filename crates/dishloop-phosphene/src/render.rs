//! Rendering (reference §3.3): an end-point-inclusive pixel grid over the square view, peak-normalised
//! Gaussian blobs (optionally elliptic, "Gabor" shape), linear sum and clamp to [0, 1]; its adjoint; and
//! image → amplitude sampling (receptive fields or centre, with dynaphos' rescale rule).
//!
//! Images are row-major `height × width` `f32`; row `j` lies at `y = origin_y − view/2 + j·view/(H−1)` and
//! column `i` at `x = origin_x − view/2 + i·view/(W−1)` (dynaphos' `'xy'` indexing). Each blob is cut off
//! at [`Renderer::cutoff_sigmas`] σ (default 4, where the Gaussian is e⁻⁸ ≈ 3.4e-4 of its peak); an
//! infinite cut-off gives the dense O(n·H·W) render of dynaphos.

use crate::PhospheneError;
use crate::cortex::PhospheneLayout;
use crate::params::{Params, SamplingMethod};
use crate::sim::Simulator;
use rayon::prelude::*;

/// Default blob cut-off in units of σ.
pub const DEFAULT_CUTOFF_SIGMAS: f64 = 4.0;
/// dynaphos floors σ at this value before dividing.
pub const SIGMA_FLOOR_DEG: f64 = 1e-22;

/// Renders phosphene states to images.
#[derive(Clone, Debug)]
pub struct Renderer {
    width_px: usize,
    height_px: usize,
    grid_x_deg: Vec<f64>,
    grid_y_deg: Vec<f64>,
    x0_deg: f64,
    y0_deg: f64,
    dx_deg: f64,
    dy_deg: f64,
    ph_x_deg: Vec<f64>,
    ph_y_deg: Vec<f64>,
    /// (cos θ, sin θ) per phosphene when Gabor shapes are on.
    gabor: Option<(Vec<(f64, f64)>, f64)>,
    /// Blob cut-off radius in σ (∞ = dense).
    pub cutoff_sigmas: f64,
}

fn linspace(a: f64, b: f64, n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| a + (b - a) * i as f64 / (n - 1) as f64)
        .collect()
}

impl Renderer {
    /// A renderer for `layout` at `width_px × height_px` over the view of `params` (Gabor orientations
    /// given per phosphene when `params.gabor.enabled`).
    pub fn new(
        params: &Params,
        layout: &PhospheneLayout,
        width_px: usize,
        height_px: usize,
        gabor_theta_rad: &[f64],
    ) -> Result<Self, PhospheneError> {
        if width_px < 2 || height_px < 2 {
            return Err(PhospheneError::InvalidParameter(
                "render resolution must be at least 2x2".into(),
            ));
        }
        let v = params.run.view_angle_deg;
        let (ox, oy) = params.run.origin_deg;
        let gabor = if params.gabor.enabled {
            if gabor_theta_rad.len() != layout.len() {
                return Err(PhospheneError::Shape {
                    expected: layout.len(),
                    got: gabor_theta_rad.len(),
                });
            }
            Some((
                gabor_theta_rad.iter().map(|t| (t.cos(), t.sin())).collect(),
                params.gabor.gamma,
            ))
        } else {
            None
        };
        Ok(Self {
            width_px,
            height_px,
            grid_x_deg: linspace(ox - v / 2.0, ox + v / 2.0, width_px),
            grid_y_deg: linspace(oy - v / 2.0, oy + v / 2.0, height_px),
            x0_deg: ox - v / 2.0,
            y0_deg: oy - v / 2.0,
            dx_deg: v / (width_px - 1) as f64,
            dy_deg: v / (height_px - 1) as f64,
            ph_x_deg: layout.x_deg.clone(),
            ph_y_deg: layout.y_deg.clone(),
            gabor,
            cutoff_sigmas: DEFAULT_CUTOFF_SIGMAS,
        })
    }

    /// The renderer matching a simulator, at the resolution of its parameters.
    pub fn for_simulator(sim: &Simulator) -> Result<Self, PhospheneError> {
        let p = sim.params();
        Self::new(
            p,
            sim.layout(),
            p.run.resolution_x_px,
            p.run.resolution_y_px,
            sim.gabor_theta_rad(),
        )
    }

    /// Same geometry at another resolution.
    pub fn with_resolution(&self, width_px: usize, height_px: usize) -> Self {
        let v = self.grid_x_deg[self.width_px - 1] - self.grid_x_deg[0];
        let (ox, oy) = (self.x0_deg + v / 2.0, self.y0_deg + v / 2.0);
        Self {
            width_px,
            height_px,
            grid_x_deg: linspace(ox - v / 2.0, ox + v / 2.0, width_px),
            grid_y_deg: linspace(oy - v / 2.0, oy + v / 2.0, height_px),
            dx_deg: v / (width_px - 1) as f64,
            dy_deg: v / (height_px - 1) as f64,
            ..self.clone()
        }
    }

    /// Width in pixels.
    pub fn width_px(&self) -> usize {
        self.width_px
    }
    /// Height in pixels.
    pub fn height_px(&self) -> usize {
        self.height_px
    }
    /// Number of phosphenes.
    pub fn n(&self) -> usize {
        self.ph_x_deg.len()
    }
    /// Pixel grid along x, degrees (end points included).
    pub fn grid_x_deg(&self) -> &[f64] {
        &self.grid_x_deg
    }
    /// Pixel grid along y, degrees.
    pub fn grid_y_deg(&self) -> &[f64] {
        &self.grid_y_deg
    }

    /// Pixel rectangle (inclusive) touched by phosphene `i` of σ `s`.
    #[inline]
    fn patch(&self, i: usize, s: f64) -> Option<(usize, usize, usize, usize)> {
        let stretch = match &self.gabor {
            Some((_, g)) if *g < 1.0 => 1.0 / g,
            _ => 1.0,
        };
        let r = self.cutoff_sigmas * s * stretch;
        let (x, y) = (self.ph_x_deg[i], self.ph_y_deg[i]);
        let (w, h) = (self.width_px as f64, self.height_px as f64);
        let (i0, i1, j0, j1) = if r.is_finite() {
            (
                ((x - r - self.x0_deg) / self.dx_deg).ceil().max(0.0),
                ((x + r - self.x0_deg) / self.dx_deg).floor().min(w - 1.0),
                ((y - r - self.y0_deg) / self.dy_deg).ceil().max(0.0),
                ((y + r - self.y0_deg) / self.dy_deg).floor().min(h - 1.0),
            )
        } else {
            (0.0, w - 1.0, 0.0, h - 1.0)
        };
        (i0 <= i1 && j0 <= j1).then_some((i0 as usize, i1 as usize, j0 as usize, j1 as usize))
    }

    /// Squared (elliptic for Gabor) distance of pixel offset (dx, dy) for phosphene `i`.
    #[inline]
    fn dist2(&self, i: usize, dx: f64, dy: f64) -> f64 {
        match &self.gabor {
            None => dx * dx + dy * dy,
            Some((cs, g)) => {
                let (c, s) = cs[i];
                let xr = dx * c + dy * s;
                let yr = -dx * s + dy * c;
                xr * xr + yr * yr * g * g
            }
        }
    }

    /// Adds Σᵢ intensityᵢ·exp(−½ dᵢ²/σᵢ²) into `acc` (no clamp).
    pub fn accumulate(&self, intensity: &[f64], sigma_deg: &[f64], acc: &mut [f32]) {
        let w = self.width_px;
        for i in 0..self.n() {
            let b = intensity[i];
            if b == 0.0 {
                continue;
            }
            let s = sigma_deg[i].max(SIGMA_FLOOR_DEG);
            let Some((i0, i1, j0, j1)) = self.patch(i, s) else {
                continue;
            };
            let k = (-0.5 / (s * s)) as f32;
            let bf = b as f32;
            let (px, py) = (self.ph_x_deg[i], self.ph_y_deg[i]);
            for j in j0..=j1 {
                let dy = self.grid_y_deg[j] - py;
                let row = &mut acc[j * w + i0..=j * w + i1];
                if self.gabor.is_none() {
                    let dy2 = (dy * dy) as f32;
                    for (c, v) in row.iter_mut().enumerate() {
                        let dx = (self.grid_x_deg[i0 + c] - px) as f32;
                        *v += bf * (k * (dx * dx + dy2)).exp();
                    }
                } else {
                    for (c, v) in row.iter_mut().enumerate() {
                        let d2 = self.dist2(i, self.grid_x_deg[i0 + c] - px, dy) as f32;
                        *v += bf * (k * d2).exp();
                    }
                }
            }
        }
    }

    /// Renders one frame: `clamp(Σᵢ intensityᵢ·G(σᵢ), 0, 1)`. `intensity` and `sigma_deg` have length n.
    pub fn render(&self, intensity: &[f64], sigma_deg: &[f64]) -> Vec<f32> {
        let mut img = vec![0.0f32; self.width_px * self.height_px];
        self.accumulate(intensity, sigma_deg, &mut img);
        for v in &mut img {
            *v = v.clamp(0.0, 1.0);
        }
        img
    }

    /// Renders only the pixel rectangle with top-left pixel (`col0`, `row0`) and size `cols × rows`
    /// (clipped to the image): the same values as the corresponding crop of [`Renderer::render`] (every
    /// blob that reaches the rectangle is summed, then clamped to [0, 1]). Row-major, `rows × cols`.
    pub fn render_region(
        &self,
        intensity: &[f64],
        sigma_deg: &[f64],
        col0: usize,
        row0: usize,
        cols: usize,
        rows: usize,
    ) -> Vec<f32> {
        let c1 = (col0 + cols).min(self.width_px);
        let r1 = (row0 + rows).min(self.height_px);
        let mut acc = vec![0.0f32; cols * rows];
        if col0 >= c1 || row0 >= r1 {
            return acc;
        }
        for i in 0..self.n() {
            let b = intensity[i];
            if b == 0.0 {
                continue;
            }
            let s = sigma_deg[i].max(SIGMA_FLOOR_DEG);
            let Some((i0, i1, j0, j1)) = self.patch(i, s) else {
                continue;
            };
            let (i0, i1, j0, j1) = (i0.max(col0), i1.min(c1 - 1), j0.max(row0), j1.min(r1 - 1));
            if i0 > i1 || j0 > j1 {
                continue;
            }
            let k = (-0.5 / (s * s)) as f32;
            let bf = b as f32;
            let (px, py) = (self.ph_x_deg[i], self.ph_y_deg[i]);
            // The same f32 arithmetic as `accumulate`, so the values equal the full render's bit for bit.
            for j in j0..=j1 {
                let dy = self.grid_y_deg[j] - py;
                let dy2 = (dy * dy) as f32;
                for c in i0..=i1 {
                    let d2 = if self.gabor.is_none() {
                        let dx = (self.grid_x_deg[c] - px) as f32;
                        dx * dx + dy2
                    } else {
                        self.dist2(i, self.grid_x_deg[c] - px, dy) as f32
                    };
                    acc[(j - row0) * cols + (c - col0)] += bf * (k * d2).exp();
                }
            }
        }
        for v in &mut acc {
            *v = v.clamp(0.0, 1.0);
        }
        acc
    }

    /// Pixel (column, row) nearest phosphene `i`'s centre, clamped into the image.
    pub fn centre_pixel(&self, i: usize) -> (usize, usize) {
        let c = ((self.ph_x_deg[i] - self.x0_deg) / self.dx_deg)
            .round()
            .clamp(0.0, (self.width_px - 1) as f64);
        let r = ((self.ph_y_deg[i] - self.y0_deg) / self.dy_deg)
            .round()
            .clamp(0.0, (self.height_px - 1) as f64);
        (c as usize, r as usize)
    }

    /// The dense reference render (every blob over every pixel), for checks and benchmarks.
    pub fn render_dense(&self, intensity: &[f64], sigma_deg: &[f64]) -> Vec<f32> {
        let dense = Self {
            cutoff_sigmas: f64::INFINITY,
            ..self.clone()
        };
        dense.render(intensity, sigma_deg)
    }

    /// Renders the current state of a simulator, one image per batch element (in parallel).
    pub fn render_simulator(&self, sim: &Simulator) -> Vec<Vec<f32>> {
        let n = sim.n();
        let inten = sim.intensity();
        let sig = sim.sigma_deg();
        (0..sim.batch())
            .into_par_iter()
            .map(|b| self.render(&inten[b * n..(b + 1) * n], &sig[b * n..(b + 1) * n]))
            .collect()
    }

    /// Adjoint of [`Renderer::render`]: given ∂L/∂image returns (∂L/∂intensity, ∂L/∂σ). The clamp passes
    /// gradient only where the unclamped sum lies in [0, 1].
    pub fn backward(
        &self,
        intensity: &[f64],
        sigma_deg: &[f64],
        grad_image: &[f32],
    ) -> (Vec<f64>, Vec<f64>) {
        let mut sum = vec![0.0f32; self.width_px * self.height_px];
        self.accumulate(intensity, sigma_deg, &mut sum);
        let g: Vec<f32> = sum
            .iter()
            .zip(grad_image)
            .map(|(s, g)| if (0.0..=1.0).contains(s) { *g } else { 0.0 })
            .collect();
        let w = self.width_px;
        let mut gi = vec![0.0; self.n()];
        let mut gs = vec![0.0; self.n()];
        for i in 0..self.n() {
            let s = sigma_deg[i].max(SIGMA_FLOOR_DEG);
            let Some((i0, i1, j0, j1)) = self.patch(i, s) else {
                continue;
            };
            let (px, py) = (self.ph_x_deg[i], self.ph_y_deg[i]);
            let inv_s2 = 1.0 / (s * s);
            let (mut acc_i, mut acc_s) = (0.0f64, 0.0f64);
            for j in j0..=j1 {
                let dy = self.grid_y_deg[j] - py;
                for c in i0..=i1 {
                    let gp = g[j * w + c] as f64;
                    if gp == 0.0 {
                        continue;
                    }
                    let d2 = self.dist2(i, self.grid_x_deg[c] - px, dy);
                    let e = (-0.5 * d2 * inv_s2).exp();
                    acc_i += gp * e;
                    acc_s += gp * e * d2 * inv_s2 / s;
                }
            }
            gi[i] = acc_i;
            gs[i] = if sigma_deg[i] > SIGMA_FLOOR_DEG {
                intensity[i] * acc_s
            } else {
                0.0
            };
        }
        (gi, gs)
    }

    /// Index of the pixel nearest each phosphene centre (row-major), clamped into the image.
    pub fn centre_indices(&self) -> Vec<usize> {
        (0..self.n())
            .map(|i| {
                let (c, r) = self.centre_pixel(i);
                r * self.width_px + c
            })
            .collect()
    }

    /// Image → amplitudes (dynaphos `sample_stimulus`). The image must have this renderer's resolution.
    /// Images whose maximum exceeds 1 (uint8 data) are first divided by 255. Receptive fields: each
    /// electrode takes the maximum pixel within `rf_size_mm / M(r)` degrees of its phosphene (0 if none);
    /// centre: the pixel nearest its centre. With `rescale` the result is multiplied by
    /// `stimulus_scale_a` (1e-4: a pixel of 1 becomes 100 µA, returned in amperes).
    pub fn sample(
        &self,
        image: &[f32],
        params: &Params,
        magnification: &[f64],
        rescale: bool,
    ) -> Result<Vec<f64>, PhospheneError> {
        if image.len() != self.width_px * self.height_px {
            return Err(PhospheneError::Shape {
                expected: self.width_px * self.height_px,
                got: image.len(),
            });
        }
        let max = image.iter().fold(0.0f32, |m, v| m.max(*v));
        let div = if max > 1.0 { 255.0 } else { 1.0 };
        let scale = if rescale {
            params.sampling.stimulus_scale_a
        } else {
            1.0
        };
        let out = match params.sampling.method {
            SamplingMethod::Centre => self
                .centre_indices()
                .into_iter()
                .map(|k| image[k] as f64 / div * scale)
                .collect(),
            SamplingMethod::ReceptiveFields => (0..self.n())
                .map(|i| {
                    let rad = params.sampling.rf_size_mm / magnification[i];
                    let (px, py) = (self.ph_x_deg[i], self.ph_y_deg[i]);
                    let c0 = ((px - rad - self.x0_deg) / self.dx_deg).ceil().max(0.0) as usize;
                    let c1 = ((px + rad - self.x0_deg) / self.dx_deg)
                        .floor()
                        .min((self.width_px - 1) as f64);
                    let r0 = ((py - rad - self.y0_deg) / self.dy_deg).ceil().max(0.0) as usize;
                    let r1 = ((py + rad - self.y0_deg) / self.dy_deg)
                        .floor()
                        .min((self.height_px - 1) as f64);
                    let mut m = 0.0f32;
                    if c1 >= 0.0 && r1 >= 0.0 {
                        for r in r0..=r1 as usize {
                            let dy = self.grid_y_deg[r] - py;
                            for c in c0..=c1 as usize {
                                let dx = self.grid_x_deg[c] - px;
                                if dx * dx + dy * dy < rad * rad {
                                    m = m.max(image[r * self.width_px + c]);
                                }
                            }
                        }
                    }
                    m as f64 / div * scale
                })
                .collect(),
        };
        Ok(out)
    }
}

/// Sums `factor × factor` blocks of a `w × h` image (w, h divisible by factor).
pub fn sum_pool(image: &[f32], w: usize, h: usize, factor: usize) -> Vec<f32> {
    let (ow, oh) = (w / factor, h / factor);
    let mut out = vec![0.0f32; ow * oh];
    for r in 0..oh * factor {
        for c in 0..ow * factor {
            out[(r / factor) * ow + c / factor] += image[r * w + c];
        }
    }
    out
}

/// Adjoint of [`sum_pool`]: broadcasts each block's gradient to its pixels.
pub fn sum_pool_backward(grad: &[f32], w: usize, h: usize, factor: usize) -> Vec<f32> {
    let ow = w / factor;
    let mut out = vec![0.0f32; w * h];
    for r in 0..(h / factor) * factor {
        for c in 0..ow * factor {
            out[r * w + c] = grad[(r / factor) * ow + c / factor];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cortex::default_layout;
    use rand::SeedableRng;

    #[test]
    fn region_render_equals_the_crop_of_the_full_render() {
        let mut p = Params::default();
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(3);
        let layout = default_layout(&p.cortex, p.run.view_angle_deg, p.run.origin_deg, &mut rng);
        let n = layout.len();
        // Bright, wide blobs so that neighbours overlap and the clamp binds.
        let inten: Vec<f64> = (0..n).map(|i| 0.5 + 0.5 * ((i % 7) as f64 / 6.0)).collect();
        let sig: Vec<f64> = (0..n)
            .map(|i| 0.05 + 0.1 * ((i % 5) as f64 / 4.0))
            .collect();
        for gabor in [false, true] {
            p.gabor.enabled = gabor;
            let theta: Vec<f64> = (0..n).map(|i| i as f64 * 0.3).collect();
            let r = Renderer::new(&p, &layout, 128, 128, &theta).expect("r");
            let full = r.render(&inten, &sig);
            assert!(
                full.iter().filter(|v| **v == 1.0).count() > 10,
                "clamp binds"
            );
            for (c0, r0, cw, rh) in [(60, 70, 9, 7), (0, 0, 5, 5), (120, 125, 12, 10)] {
                let reg = r.render_region(&inten, &sig, c0, r0, cw, rh);
                for j in 0..rh {
                    for c in 0..cw {
                        let want = if c0 + c < 128 && r0 + j < 128 {
                            full[(r0 + j) * 128 + c0 + c]
                        } else {
                            0.0
                        };
                        assert_eq!(
                            reg[j * cw + c],
                            want,
                            "gabor {gabor} ({c0},{r0}) +({c},{j})"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn grid_is_endpoint_inclusive() {
        let p = Params::default();
        let r =
            Renderer::new(&p, &PhospheneLayout::single(0.0, 0.0), 256, 256, &[]).expect("renderer");
        assert_eq!(r.grid_x_deg()[0], -8.0);
        assert!((r.grid_x_deg()[255] - 8.0).abs() < 1e-12);
        assert!((r.grid_x_deg()[1] - r.grid_x_deg()[0] - 16.0 / 255.0).abs() < 1e-12);
    }

    #[test]
    fn peak_normalised_blob_and_clamp() {
        let p = Params::default();
        // Phosphene exactly on pixel (128, 100).
        let (x, y) = (-8.0 + 128.0 * 16.0 / 255.0, -8.0 + 100.0 * 16.0 / 255.0);
        let r = Renderer::new(
            &p,
            &PhospheneLayout {
                x_deg: vec![x, x],
                y_deg: vec![y, y],
            },
            256,
            256,
            &[],
        )
        .expect("r");
        let img = r.render(&[0.4, 0.0], &[0.2, 0.2]);
        assert!((img[100 * 256 + 128] - 0.4).abs() < 1e-6);
        // One pixel away: exp(-0.5 (h/σ)^2).
        let h = 16.0 / 255.0;
        let e = 0.4 * (-0.5f64 * (h / 0.2) * (h / 0.2)).exp();
        assert!((img[100 * 256 + 129] as f64 - e).abs() < 1e-6);
        // Two overlapping bright blobs clamp at 1.
        let img = r.render(&[0.8, 0.8], &[0.2, 0.2]);
        assert_eq!(img[100 * 256 + 128], 1.0);
    }

    #[test]
    fn cutoff_render_matches_dense() {
        let p = Params::default();
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(3);
        let layout = default_layout(&p.cortex, 16.0, (0.0, 0.0), &mut rng);
        let mut sim = Simulator::new(p.clone(), layout, 1).expect("sim");
        let amps: Vec<f64> = (0..sim.n())
            .map(|i| (60.0 + (i % 7) as f64 * 20.0) * 1e-6)
            .collect();
        for _ in 0..4 {
            sim.step(&amps).expect("step");
        }
        let r = Renderer::for_simulator(&sim).expect("r");
        let a = r.render(&sim.intensity(), sim.sigma_deg());
        let b = r.render_dense(&sim.intensity(), sim.sigma_deg());
        let max_diff = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        // Blobs are cut at 4σ (e^-8 = 3.4e-4); a pixel sees at most a handful of neighbours' tails.
        assert!(max_diff < 2e-3, "max diff {max_diff}");
        assert!(a.iter().sum::<f32>() > 10.0);
    }

    #[test]
    fn renderer_adjoint_matches_finite_differences() {
        let mut p = Params::default();
        for gabor in [false, true] {
            p.gabor.enabled = gabor;
            let layout = PhospheneLayout {
                x_deg: vec![0.1, 0.15, -1.0],
                y_deg: vec![0.05, 0.0, 2.0],
            };
            let theta = [0.3, 1.2, 2.0];
            let r = Renderer::new(&p, &layout, 64, 64, &theta).expect("r");
            let inten = [0.5, 0.3, 0.9];
            let sig = [0.3, 0.25, 0.4];
            let wimg: Vec<f32> = (0..64 * 64)
                .map(|k| ((k * 37 % 101) as f32 / 101.0) - 0.4)
                .collect();
            let loss = |i: &[f64], s: &[f64]| -> f64 {
                r.render(i, s)
                    .iter()
                    .zip(&wimg)
                    .map(|(a, b)| *a as f64 * *b as f64)
                    .sum()
            };
            let (gi, gs) = r.backward(&inten, &sig, &wimg);
            for k in 0..3 {
                let h = 1e-3;
                let (mut ip, mut im) = (inten, inten);
                ip[k] += h;
                im[k] -= h;
                let fd = (loss(&ip, &sig) - loss(&im, &sig)) / (2.0 * h);
                assert!(
                    (fd - gi[k]).abs() < 2e-3 * fd.abs().max(1.0),
                    "gabor={gabor} dI[{k}] fd {fd} vs {}",
                    gi[k]
                );
                let (mut sp, mut sm) = (sig, sig);
                sp[k] += h;
                sm[k] -= h;
                let fd = (loss(&inten, &sp) - loss(&inten, &sm)) / (2.0 * h);
                assert!(
                    (fd - gs[k]).abs() < 5e-3 * fd.abs().max(1.0),
                    "gabor={gabor} dσ[{k}] fd {fd} vs {}",
                    gs[k]
                );
            }
        }
    }

    #[test]
    fn sampling_rules() {
        let mut p = Params::default();
        let layout = PhospheneLayout {
            x_deg: vec![0.0, 5.0],
            y_deg: vec![0.0, 0.0],
        };
        let m: Vec<f64> = (0..2)
            .map(|i| crate::cortex::magnification_mm_per_deg(&p.cortex, layout.eccentricity_deg(i)))
            .collect();
        let r = Renderer::new(&p, &layout, 256, 256, &[]).expect("r");
        // uint8-style image: a single 255 pixel two pixels right of the 5-degree phosphene.
        let mut img = vec![0.0f32; 256 * 256];
        let col = ((5.0f64 + 8.0) / (16.0 / 255.0)).round() as usize + 2;
        img[128 * 256 + col] = 255.0;
        img[0] = 127.5;
        let a = r.sample(&img, &p, &m, true).expect("sample");
        // RF radius at 5 deg: 0.5 mm / 2.87 mm/deg = 0.174 deg = 2.8 px, so the bright pixel is inside:
        // 255/255 * 1e-4 = 100 µA.
        assert!((a[1] - 1e-4).abs() < 1e-12, "{a:?}");
        assert_eq!(a[0], 0.0);
        p.sampling.method = SamplingMethod::Centre;
        let a = r.sample(&img, &p, &m, false).expect("sample");
        assert_eq!(a[1], 0.0);
    }

    #[test]
    fn pool_adjoint() {
        let img: Vec<f32> = (0..16).map(|x| x as f32).collect();
        let p = sum_pool(&img, 4, 4, 2);
        assert_eq!(
            p,
            vec![
                0.0 + 1.0 + 4.0 + 5.0,
                2.0 + 3.0 + 6.0 + 7.0,
                8.0 + 9.0 + 12.0 + 13.0,
                10.0 + 11.0 + 14.0 + 15.0
            ]
        );
        let g = sum_pool_backward(&[1.0, 2.0, 3.0, 4.0], 4, 4, 2);
        assert_eq!(g[5], 1.0);
        assert_eq!(g[15], 4.0);
    }
}
