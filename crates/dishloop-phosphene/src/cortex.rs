//! Electrode → visual-field mapping (dynaphos `cortex_models.py`, reference §3.1).
//!
//! Visual-field positions `z = r·e^{iφ}` are in degrees, cortical positions `w` in mm. The three
//! visuotopic models of Polimeni et al. (2006) are implemented with the constants k = 17.3 mm, a = 0.75°,
//! b = 120°, α = 0.95 (defaults in [`crate::params::CortexParams`]).

use crate::params::{CortexModel, CortexParams};
use rand::seq::SliceRandom;
use rand::{Rng, RngExt};
use rand_distr::{Distribution, StandardNormal};

/// A minimal complex number (the mapping is conformal, so complex arithmetic is the natural language).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Complex {
    /// Real part.
    pub re: f64,
    /// Imaginary part.
    pub im: f64,
}

impl Complex {
    /// `re + i·im`.
    pub const fn new(re: f64, im: f64) -> Self {
        Self { re, im }
    }
    /// `r·e^{iφ}`.
    pub fn from_polar(r: f64, phi: f64) -> Self {
        Self::new(r * phi.cos(), r * phi.sin())
    }
    /// Modulus.
    pub fn abs(self) -> f64 {
        self.re.hypot(self.im)
    }
    /// Argument in (−π, π].
    pub fn arg(self) -> f64 {
        self.im.atan2(self.re)
    }
    fn add(self, o: Self) -> Self {
        Self::new(self.re + o.re, self.im + o.im)
    }
    fn sub(self, o: Self) -> Self {
        Self::new(self.re - o.re, self.im - o.im)
    }
    fn div(self, o: Self) -> Self {
        let d = o.re * o.re + o.im * o.im;
        Self::new(
            (self.re * o.re + self.im * o.im) / d,
            (self.im * o.re - self.re * o.im) / d,
        )
    }
    fn scale(self, s: f64) -> Self {
        Self::new(self.re * s, self.im * s)
    }
    fn ln(self) -> Self {
        Self::new(self.abs().ln(), self.arg())
    }
    fn exp(self) -> Self {
        Self::from_polar(self.re.exp(), self.im)
    }
    fn real(x: f64) -> Self {
        Self::new(x, 0.0)
    }
}

fn dipole(p: &CortexParams, z: Complex) -> Complex {
    // w = k ln(b(z + a) / (a(z + b)))
    let num = z.add(Complex::real(p.a)).scale(p.b);
    let den = z.add(Complex::real(p.b)).scale(p.a);
    num.div(den).ln().scale(p.k)
}

fn dipole_inverse(p: &CortexParams, w: Complex) -> Complex {
    // z = ab(e^{w/k} − 1) / (b − a e^{w/k})
    let e = w.scale(1.0 / p.k).exp();
    e.sub(Complex::real(1.0))
        .scale(p.a * p.b)
        .div(Complex::real(p.b).sub(e.scale(p.a)))
}

/// Visual field (degrees) → cortex (mm).
pub fn visual_to_cortex(p: &CortexParams, z: Complex) -> Complex {
    match p.model {
        CortexModel::Monopole => z.scale(1.0 / p.a).add(Complex::real(1.0)).ln().scale(p.k),
        CortexModel::Dipole => dipole(p, z),
        CortexModel::WedgeDipole => dipole(p, Complex::from_polar(z.abs(), p.alpha * z.arg())),
    }
}

/// Cortex (mm) → visual field (degrees).
pub fn cortex_to_visual(p: &CortexParams, w: Complex) -> Complex {
    match p.model {
        CortexModel::Monopole => w.scale(1.0 / p.k).exp().scale(p.a).sub(Complex::real(p.a)),
        CortexModel::Dipole => dipole_inverse(p, w),
        CortexModel::WedgeDipole => {
            let z = dipole_inverse(p, w);
            Complex::from_polar(z.abs(), z.arg() / p.alpha)
        }
    }
}

/// Cortical magnification M(r) in mm per degree at eccentricity `r_deg`.
///
/// Dipole: k(1/(r + a) − 1/(r + b)); at 0.5/1/2/5/8° this is 13.70/9.74/6.15/2.87/1.84 mm/deg (reference §3.1).
pub fn magnification_mm_per_deg(p: &CortexParams, r_deg: f64) -> f64 {
    match p.model {
        CortexModel::Monopole => p.k / (r_deg + p.a),
        CortexModel::Dipole | CortexModel::WedgeDipole => {
            p.k * (1.0 / (r_deg + p.a) - 1.0 / (r_deg + p.b))
        }
    }
}

/// The visual grid dynaphos maps to cortex to find the electrode box: eccentricities 0..=89° in 1° steps,
/// times 10 polar angles evenly over [−π/2, π/2] (angle-major order, as `meshgrid(ecc, ang).ravel()`).
pub fn visual_field_grid() -> Vec<Complex> {
    let mut out = Vec::with_capacity(900);
    for j in 0..10 {
        let phi = -std::f64::consts::FRAC_PI_2 + std::f64::consts::PI * j as f64 / 9.0;
        for r in 0..90 {
            out.push(Complex::from_polar(r as f64, phi));
        }
    }
    out
}

/// Electrode positions on cortex (mm), as parallel `x` / `y` vectors.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CortexCoords {
    /// x in mm.
    pub x_mm: Vec<f64>,
    /// y in mm.
    pub y_mm: Vec<f64>,
}

fn linspace(a: f64, b: f64, n: usize) -> Vec<f64> {
    match n {
        0 => vec![],
        1 => vec![a],
        _ => (0..n)
            .map(|i| a + (b - a) * i as f64 / (n - 1) as f64)
            .collect(),
    }
}

/// An `nx × ny` electrode grid over the cortical bounding box of [`visual_field_grid`], x clipped at
/// `x_max_mm` when given (dynaphos' default grid is 32 × 32 with x_max = 40 mm). Row-major in y, as
/// `meshgrid(x, y).ravel()`.
pub fn cortex_grid(p: &CortexParams, nx: usize, ny: usize, x_max_mm: Option<f64>) -> CortexCoords {
    let ws: Vec<Complex> = visual_field_grid()
        .into_iter()
        .map(|z| visual_to_cortex(p, z))
        .collect();
    let fold =
        |f: fn(f64, f64) -> f64, init: f64, g: fn(&Complex) -> f64| ws.iter().map(g).fold(init, f);
    let x_min = fold(f64::min, f64::INFINITY, |w| w.re);
    let x_max = x_max_mm.unwrap_or_else(|| fold(f64::max, f64::NEG_INFINITY, |w| w.re));
    let y_min = fold(f64::min, f64::INFINITY, |w| w.im);
    let y_max = fold(f64::max, f64::NEG_INFINITY, |w| w.im);
    let xs = linspace(x_min, x_max, nx);
    let ys = linspace(y_min, y_max, ny);
    let mut c = CortexCoords::default();
    for &y in &ys {
        for &x in &xs {
            c.x_mm.push(x);
            c.y_mm.push(y);
        }
    }
    c
}

/// Phosphene centres in the visual field, degrees (x right, y up, origin at the fixation point).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PhospheneLayout {
    /// Horizontal position, degrees.
    pub x_deg: Vec<f64>,
    /// Vertical position, degrees.
    pub y_deg: Vec<f64>,
}

impl PhospheneLayout {
    /// Number of phosphenes.
    pub fn len(&self) -> usize {
        self.x_deg.len()
    }
    /// True when there are no phosphenes.
    pub fn is_empty(&self) -> bool {
        self.x_deg.is_empty()
    }
    /// Eccentricity of phosphene `i`, degrees.
    pub fn eccentricity_deg(&self, i: usize) -> f64 {
        self.x_deg[i].hypot(self.y_deg[i])
    }
    /// A single phosphene at `(x_deg, y_deg)`.
    pub fn single(x_deg: f64, y_deg: f64) -> Self {
        Self {
            x_deg: vec![x_deg],
            y_deg: vec![y_deg],
        }
    }
    /// Removes phosphenes outside the square view of side `view_angle_deg` centred on `origin_deg`
    /// (dynaphos keeps `0 ≤ x − origin + view/2 < view`, same for y).
    pub fn crop_to_view(&mut self, view_angle_deg: f64, origin_deg: (f64, f64)) {
        let keep = |x: f64, o: f64| {
            let off = x - o + view_angle_deg / 2.0;
            (0.0..view_angle_deg).contains(&off)
        };
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        for (&x, &y) in self.x_deg.iter().zip(&self.y_deg) {
            if keep(x, origin_deg.0) && keep(y, origin_deg.1) {
                xs.push(x);
                ys.push(y);
            }
        }
        self.x_deg = xs;
        self.y_deg = ys;
    }
}

/// Maps cortical electrodes to phosphenes in one hemifield (reference §3.1): 0.4 mm Gaussian jitter,
/// dropout keeping a random ⌊(1 − rate)·n⌋ without replacement, map to the visual field, keep r ≤ 90° and
/// |φ| < π/2, then flip both x and y.
pub fn phosphenes_from_cortex<R: Rng + ?Sized>(
    p: &CortexParams,
    cortex: &CortexCoords,
    rng: &mut R,
) -> PhospheneLayout {
    let n = cortex.x_mm.len();
    let mut x: Vec<f64> = Vec::with_capacity(n);
    let mut y: Vec<f64> = Vec::with_capacity(n);
    for i in 0..n {
        let nx: f64 = StandardNormal.sample(rng);
        let ny: f64 = StandardNormal.sample(rng);
        x.push(cortex.x_mm[i] + p.noise_scale_mm * nx);
        y.push(cortex.y_mm[i] + p.noise_scale_mm * ny);
    }
    let keep_n = (n as f64 * (1.0 - p.dropout_rate)).floor() as usize;
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(rng);
    idx.truncate(keep_n);
    let mut out = PhospheneLayout::default();
    for i in idx {
        let z = cortex_to_visual(p, Complex::new(x[i], y[i]));
        let (r, phi) = (z.abs(), z.arg());
        if r.is_finite()
            && r <= 90.0
            && phi > -std::f64::consts::FRAC_PI_2
            && phi < std::f64::consts::FRAC_PI_2
        {
            out.x_deg.push(-z.re);
            out.y_deg.push(-z.im);
        }
    }
    out
}

/// Full-field layout: two independent draws of [`phosphenes_from_cortex`] (fresh jitter and dropout),
/// the second mirrored φ → π − φ (x → −x).
pub fn phosphenes_from_cortex_full<R: Rng + ?Sized>(
    p: &CortexParams,
    cortex: &CortexCoords,
    rng: &mut R,
) -> PhospheneLayout {
    let mut a = phosphenes_from_cortex(p, cortex, rng);
    let b = phosphenes_from_cortex(p, cortex, rng);
    a.x_deg.extend(b.x_deg.iter().map(|x| -x));
    a.y_deg.extend(b.y_deg.iter().copied());
    a
}

/// Probabilistic placement: `n` eccentricities drawn from 1000 values evenly spaced over
/// [0.001, view_angle/2] with probability ∝ M(r), polar angles uniform in [0, 2π).
pub fn phosphenes_probabilistic<R: Rng + ?Sized>(
    p: &CortexParams,
    view_angle_deg: f64,
    n: usize,
    rng: &mut R,
) -> PhospheneLayout {
    let ecc = linspace(1e-3, view_angle_deg / 2.0, 1000);
    let mut cdf = Vec::with_capacity(ecc.len());
    let mut acc = 0.0;
    for &r in &ecc {
        acc += magnification_mm_per_deg(p, r);
        cdf.push(acc);
    }
    let mut out = PhospheneLayout::default();
    for _ in 0..n {
        let u: f64 = rng.random::<f64>() * acc;
        let k = cdf.partition_point(|&c| c < u).min(ecc.len() - 1);
        let phi = std::f64::consts::TAU * rng.random::<f64>();
        out.x_deg.push(ecc[k] * phi.cos());
        out.y_deg.push(ecc[k] * phi.sin());
    }
    out
}

/// dynaphos' default implant: the 32 × 32 grid with x_max = 40 mm, full field (both hemispheres),
/// jitter + dropout, cropped to the view.
pub fn default_layout<R: Rng + ?Sized>(
    p: &CortexParams,
    view_angle_deg: f64,
    origin_deg: (f64, f64),
    rng: &mut R,
) -> PhospheneLayout {
    let grid = cortex_grid(p, 32, 32, Some(40.0));
    let mut l = phosphenes_from_cortex_full(p, &grid, rng);
    l.crop_to_view(view_angle_deg, origin_deg);
    l
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Params;
    use rand::SeedableRng;

    fn cp(model: CortexModel) -> CortexParams {
        let mut p = Params::default().cortex;
        p.model = model;
        p
    }

    #[test]
    fn dipole_magnification_matches_reference() {
        // Reference §3.1: dipole M at 0.5/1/2/5/8 deg = 13.70/9.74/6.15/2.87/1.84 mm/deg.
        let p = cp(CortexModel::Dipole);
        for (r, m) in [
            (0.5, 13.70),
            (1.0, 9.74),
            (2.0, 6.15),
            (5.0, 2.87),
            (8.0, 1.84),
        ] {
            let got = magnification_mm_per_deg(&p, r);
            assert!((got - m).abs() < 0.006, "M({r}) = {got}, expected {m}");
        }
    }

    #[test]
    fn mappings_round_trip() {
        for model in [
            CortexModel::Monopole,
            CortexModel::Dipole,
            CortexModel::WedgeDipole,
        ] {
            let p = cp(model);
            for z in visual_field_grid() {
                let back = cortex_to_visual(&p, visual_to_cortex(&p, z));
                assert!(
                    (back.re - z.re).abs() < 1e-8 && (back.im - z.im).abs() < 1e-8,
                    "{model:?} {z:?} {back:?}"
                );
            }
        }
    }

    #[test]
    fn magnification_is_derivative_of_mapping() {
        // |dw/dz| along the horizontal meridian equals M(r).
        for model in [CortexModel::Monopole, CortexModel::Dipole] {
            let p = cp(model);
            for r in [0.5, 2.0, 7.0] {
                let h = 1e-6;
                let d = visual_to_cortex(&p, Complex::new(r + h, 0.0)).re
                    - visual_to_cortex(&p, Complex::new(r - h, 0.0)).re;
                let m = magnification_mm_per_deg(&p, r);
                assert!((d / (2.0 * h) - m).abs() < 1e-5 * m);
            }
        }
    }

    #[test]
    fn dipole_grid_bounding_box() {
        // Reference §3.1: for the dipole the box is x in [0, 78.84] mm, y in ±24.44 mm
        // (dynaphos test: 4x4 grid x = 0, 26.2799, 52.5598, 78.8396; y = ±24.4414, ±8.1471).
        let g = cortex_grid(&cp(CortexModel::Dipole), 4, 4, None);
        let xs = [0.0, 26.27987687, 52.55975374, 78.83963061];
        let ys = [-24.44135778, -8.14711926, 8.14711926, 24.44135778];
        for j in 0..4 {
            for i in 0..4 {
                assert!((g.x_mm[4 * j + i] - xs[i]).abs() < 1e-6);
                assert!((g.y_mm[4 * j + i] - ys[j]).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn default_layout_is_seeded_and_in_view() {
        let p = Params::default();
        let mut r1 = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(42);
        let mut r2 = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(42);
        let a = default_layout(&p.cortex, 16.0, (0.0, 0.0), &mut r1);
        let b = default_layout(&p.cortex, 16.0, (0.0, 0.0), &mut r2);
        assert_eq!(a, b);
        // 2 x floor(0.8 * 1024) = 1638 electrodes before the crop; the 40 mm grid reaches ~7.3 deg.
        assert!(a.len() > 1000 && a.len() <= 1638, "{}", a.len());
        assert!(a.x_deg.iter().all(|x| (-8.0..8.0).contains(x)));
        // Both hemifields are populated.
        assert!(a.x_deg.iter().any(|&x| x < -1.0) && a.x_deg.iter().any(|&x| x > 1.0));
    }

    #[test]
    fn probabilistic_placement_follows_magnification() {
        let p = Params::default();
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(1);
        let l = phosphenes_probabilistic(&p.cortex, 16.0, 20000, &mut rng);
        let inner = (0..l.len())
            .filter(|&i| l.eccentricity_deg(i) < 1.0)
            .count() as f64
            / l.len() as f64;
        // P(r < 1) = sum of M over [0, 1] / sum over [0, 8]: with M ~ k/(r+a) about 0.44.
        let num: f64 = (0..1000)
            .map(|i| 1e-3 + 7.999 * i as f64 / 999.0)
            .filter(|r| *r < 1.0)
            .map(|r| magnification_mm_per_deg(&p.cortex, r))
            .sum();
        let den: f64 = (0..1000)
            .map(|i| 1e-3 + 7.999 * i as f64 / 999.0)
            .map(|r| magnification_mm_per_deg(&p.cortex, r))
            .sum();
        assert!(
            (inner - num / den).abs() < 0.015,
            "{inner} vs {}",
            num / den
        );
    }
}
