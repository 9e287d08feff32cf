//! Per-frame phosphene dynamics (dynaphos `GaussianSimulator.update`, reference §3.2), with a hand-written
//! adjoint for gradients with respect to the stimulation amplitudes.
//!
//! State is a struct of arrays over `batch × n` electrodes (batch-major). The six steps of one frame run
//! in the reference order: effective current (with the *previous* trace), activation with ⌈γ/fps⌉
//! sub-steps, trace, size from the raw amplitude, brightness, visibility against the per-electrode
//! threshold. State is kept in `f64` (dynaphos uses `float32`; the difference is far below the 1e-4
//! tolerance of the reference table, and `f64` keeps finite-difference gradient checks meaningful).

use crate::PhospheneError;
use crate::cortex::{PhospheneLayout, magnification_mm_per_deg};
use crate::params::{Params, SizeModel};
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;

/// Constants of one frame update, derived from [`Params`] once.
#[derive(Clone, Debug)]
pub struct FrameConstants {
    /// Frame duration Δt, s.
    pub dt_s: f64,
    /// Activation decay rate γ, /s.
    pub gamma_per_s: f64,
    /// Activation sub-steps.
    pub n_act: usize,
    /// Trace decay rate δ, /s.
    pub delta_per_s: f64,
    /// Trace sub-steps.
    pub n_trace: usize,
    /// κ.
    pub kappa: f64,
    /// ρ.
    pub rho: f64,
    /// Rheobase, A.
    pub rheobase_a: f64,
    /// Brightness slope λ.
    pub lambda: f64,
    /// Activation at half brightness.
    pub a50: f64,
    /// Size model parameters.
    pub size: crate::params::SizeParams,
    /// Default pulse width, s.
    pub pulse_width_s: f64,
    /// Default frequency, Hz.
    pub frequency_hz: f64,
}

impl FrameConstants {
    /// Derives the constants from parameters.
    pub fn new(p: &Params) -> Self {
        Self {
            dt_s: 1.0 / p.run.fps,
            gamma_per_s: p.activation_decay_rate_per_s(),
            n_act: p.activation_substeps(),
            delta_per_s: p.trace_decay_rate_per_s(),
            n_trace: p.trace_substeps(),
            kappa: p.temporal.trace_increase_rate,
            rho: p.stimulus.relative_duration,
            rheobase_a: p.threshold.rheobase_a,
            lambda: p.brightness.slope,
            a50: p.brightness.cps_half,
            size: p.size.clone(),
            pulse_width_s: p.stimulus.pulse_width_s,
            frequency_hz: p.stimulus.frequency_hz,
        }
    }

    /// Activation after one frame from `a_prev` under constant effective current, and dA/dA_prev,
    /// dA/dI_eff.
    #[inline]
    pub fn activation_update(&self, a_prev: f64, i_eff: f64) -> (f64, f64, f64) {
        let n = self.n_act as f64;
        let c = 1.0 - self.gamma_per_s * self.dt_s / n;
        let d = self.rho * self.dt_s / n;
        let mut a = a_prev;
        let (mut cn, mut sum) = (1.0, 0.0);
        for _ in 0..self.n_act {
            a += (-self.gamma_per_s * a + self.rho * i_eff) * self.dt_s / n;
            sum += cn;
            cn *= c;
        }
        (a, cn, d * sum)
    }

    /// Trace after one frame, and dQ/dQ_prev, dQ/dI_eff.
    #[inline]
    pub fn trace_update(&self, q_prev: f64, i_eff: f64) -> (f64, f64, f64) {
        let n = self.n_trace as f64;
        let e = 1.0 - self.delta_per_s * self.dt_s / n;
        let g = self.kappa * self.rho * self.dt_s / n;
        let mut q = q_prev;
        let (mut en, mut sum) = (1.0, 0.0);
        for _ in 0..self.n_trace {
            q = q - self.delta_per_s * q * self.dt_s / n + g * i_eff;
            sum += en;
            en *= e;
        }
        (q, en, g * sum)
    }

    /// Phosphene σ in degrees for amplitude `amp_a` at magnification `mag`, and dσ/dI.
    #[inline]
    pub fn sigma_deg(&self, amp_a: f64, mag_mm_per_deg: f64) -> (f64, f64) {
        let s = &self.size;
        let scale = s.radius_to_sigma / mag_mm_per_deg;
        match s.model {
            SizeModel::Sqrt => {
                let i = amp_a.max(0.0);
                let d = (i / s.current_spread_a_per_mm2).sqrt();
                let dd = if i > 0.0 {
                    0.5 / (i * s.current_spread_a_per_mm2).sqrt()
                } else {
                    0.0
                };
                (d * scale, dd * scale)
            }
            SizeModel::Sigmoid => {
                // dynaphos passes amperes into constants given in µA (the documented unit quirk).
                let unit = if s.sigmoid_amplitude_in_ua { 1e6 } else { 1.0 };
                let x = s.slope_per_ua * (amp_a * unit - s.i_half_ua);
                let sg = sigmoid(x);
                let d = 0.5 * s.md_mm * sg;
                let dd = 0.5 * s.md_mm * sg * (1.0 - sg) * s.slope_per_ua * unit;
                (d * scale, dd * scale)
            }
        }
    }

    /// Brightness B = sigmoid(λ(A − A₅₀)) and dB/dA.
    #[inline]
    pub fn brightness(&self, a: f64) -> (f64, f64) {
        let b = sigmoid(self.lambda * (a - self.a50));
        (b, self.lambda * b * (1.0 - b))
    }
}

/// Logistic function.
#[inline]
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// What the adjoint needs from one frame (all `batch × n`).
#[derive(Clone, Debug, Default)]
pub struct FrameRecord {
    /// Amplitude, A.
    pub amplitude_a: Vec<f64>,
    /// Pulse width × frequency used per electrode.
    pub pw_f: Vec<f64>,
    /// Pre-ReLU effective current.
    pub x_pre: Vec<f64>,
    /// Activation after the frame.
    pub activation: Vec<f64>,
    /// Brightness after the frame.
    pub brightness: Vec<f64>,
    /// Visibility mask after the frame.
    pub visible: Vec<bool>,
}

/// The phosphene simulator: electrode layout, per-electrode constants, and state.
#[derive(Clone, Debug)]
pub struct Simulator {
    params: Params,
    consts: FrameConstants,
    layout: PhospheneLayout,
    batch: usize,
    /// Magnification at each phosphene, mm/deg (len n).
    magnification: Vec<f64>,
    /// Gabor orientation per phosphene, rad (empty unless Gabor shapes are on).
    gabor_theta_rad: Vec<f64>,
    /// Activation threshold per (batch, electrode).
    threshold: Vec<f64>,
    activation: Vec<f64>,
    trace_a: Vec<f64>,
    sigma_deg: Vec<f64>,
    brightness: Vec<f64>,
    i_eff: Vec<f64>,
    rng: Xoshiro256PlusPlus,
}

impl Simulator {
    /// A simulator for `layout` with `batch` independent copies of the state (`batch ≥ 1`), seeded with
    /// `params.run.seed`.
    pub fn new(
        params: Params,
        layout: PhospheneLayout,
        batch: usize,
    ) -> Result<Self, PhospheneError> {
        params.validate()?;
        if batch == 0 {
            return Err(PhospheneError::InvalidParameter(
                "batch must be at least 1".into(),
            ));
        }
        let n = layout.len();
        let magnification = (0..n)
            .map(|i| magnification_mm_per_deg(&params.cortex, layout.eccentricity_deg(i)))
            .collect();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(params.run.seed);
        let gabor_theta_rad = if params.gabor.enabled {
            (0..n)
                .map(|_| std::f64::consts::TAU * rand::RngExt::random::<f64>(&mut rng))
                .collect()
        } else {
            Vec::new()
        };
        let m = batch * n;
        let mut s = Self {
            consts: FrameConstants::new(&params),
            params,
            layout,
            batch,
            magnification,
            gabor_theta_rad,
            threshold: vec![0.0; m],
            activation: vec![0.0; m],
            trace_a: vec![0.0; m],
            sigma_deg: vec![0.0; m],
            brightness: vec![0.0; m],
            i_eff: vec![0.0; m],
            rng,
        };
        s.reinitialize_thresholds();
        s.reset();
        Ok(s)
    }

    /// Parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }
    /// Frame constants.
    pub fn constants(&self) -> &FrameConstants {
        &self.consts
    }
    /// Phosphene layout.
    pub fn layout(&self) -> &PhospheneLayout {
        &self.layout
    }
    /// Number of electrodes (phosphenes).
    pub fn n(&self) -> usize {
        self.layout.len()
    }
    /// Batch size.
    pub fn batch(&self) -> usize {
        self.batch
    }
    /// Magnification per phosphene, mm/deg.
    pub fn magnification(&self) -> &[f64] {
        &self.magnification
    }
    /// Gabor orientations (empty unless enabled).
    pub fn gabor_theta_rad(&self) -> &[f64] {
        &self.gabor_theta_rad
    }
    /// Activation per (batch, electrode).
    pub fn activation(&self) -> &[f64] {
        &self.activation
    }
    /// Memory trace per (batch, electrode), A.
    pub fn trace_a(&self) -> &[f64] {
        &self.trace_a
    }
    /// σ per (batch, electrode), degrees.
    pub fn sigma_deg(&self) -> &[f64] {
        &self.sigma_deg
    }
    /// Brightness per (batch, electrode).
    pub fn brightness(&self) -> &[f64] {
        &self.brightness
    }
    /// Effective current (charge per second) of the last frame.
    pub fn effective_current(&self) -> &[f64] {
        &self.i_eff
    }
    /// Activation thresholds per (batch, electrode).
    pub fn thresholds(&self) -> &[f64] {
        &self.threshold
    }
    /// Overrides the thresholds (clipped at 0).
    pub fn set_thresholds(&mut self, t: &[f64]) -> Result<(), PhospheneError> {
        self.check_len(t.len())?;
        for (d, s) in self.threshold.iter_mut().zip(t) {
            *d = s.max(0.0);
        }
        Ok(())
    }

    /// Redraws the thresholds from max(0, N(mean, sd²)), or zeroes them when thresholds are off.
    pub fn reinitialize_thresholds(&mut self) {
        let t = &self.params.threshold;
        for v in &mut self.threshold {
            *v = if t.use_threshold {
                let z: f64 = StandardNormal.sample(&mut self.rng);
                (t.activation_threshold + t.activation_threshold_sd * z).max(0.0)
            } else {
                0.0
            };
        }
    }

    /// Zeroes activation, trace, σ (and brightness/current bookkeeping); keeps the thresholds.
    pub fn reset(&mut self) {
        self.activation.fill(0.0);
        self.trace_a.fill(0.0);
        self.sigma_deg.fill(0.0);
        self.i_eff.fill(0.0);
        let b0 = self.consts.brightness(0.0).0;
        self.brightness.fill(b0);
    }

    fn check_len(&self, len: usize) -> Result<(), PhospheneError> {
        if len != self.batch * self.n() {
            return Err(PhospheneError::Shape {
                expected: self.batch * self.n(),
                got: len,
            });
        }
        Ok(())
    }

    /// One frame with the default pulse width and frequency. `amplitude_a` is `batch × n`, in amperes.
    pub fn step(&mut self, amplitude_a: &[f64]) -> Result<(), PhospheneError> {
        self.step_with(amplitude_a, None, None, false).map(|_| ())
    }

    /// One frame with the amplitudes given in µA.
    pub fn step_ua(&mut self, amplitude_ua: &[f64]) -> Result<(), PhospheneError> {
        let a: Vec<f64> = amplitude_ua.iter().map(|x| x * 1e-6).collect();
        self.step(&a)
    }

    /// One frame; optional per-electrode pulse widths (s) and frequencies (Hz); when `record` is true the
    /// returned [`FrameRecord`] holds what [`Simulator::backward`] needs.
    pub fn step_with(
        &mut self,
        amplitude_a: &[f64],
        pulse_width_s: Option<&[f64]>,
        frequency_hz: Option<&[f64]>,
        record: bool,
    ) -> Result<Option<FrameRecord>, PhospheneError> {
        self.check_len(amplitude_a.len())?;
        if let Some(p) = pulse_width_s {
            self.check_len(p.len())?;
        }
        if let Some(f) = frequency_hz {
            self.check_len(f.len())?;
        }
        let n = self.n();
        let c = &self.consts;
        let mut rec = record.then(|| FrameRecord {
            amplitude_a: amplitude_a.to_vec(),
            pw_f: Vec::with_capacity(amplitude_a.len()),
            x_pre: Vec::with_capacity(amplitude_a.len()),
            activation: Vec::new(),
            brightness: Vec::new(),
            visible: Vec::new(),
        });
        for k in 0..amplitude_a.len() {
            let amp = amplitude_a[k];
            let pw = pulse_width_s.map_or(c.pulse_width_s, |p| p[k]);
            let f = frequency_hz.map_or(c.frequency_hz, |f| f[k]);
            // 1. effective current with the previous trace.
            let x = (amp - (c.rheobase_a + self.trace_a[k])) * pw * f;
            let i_eff = x.max(0.0);
            // 2. activation, 3. trace.
            self.activation[k] = c.activation_update(self.activation[k], i_eff).0;
            self.trace_a[k] = c.trace_update(self.trace_a[k], i_eff).0;
            // 4. size from the raw amplitude.
            self.sigma_deg[k] = c.sigma_deg(amp, self.magnification[k % n]).0;
            // 5. brightness.
            self.brightness[k] = c.brightness(self.activation[k]).0;
            self.i_eff[k] = i_eff;
            if let Some(r) = rec.as_mut() {
                r.pw_f.push(pw * f);
                r.x_pre.push(x);
            }
        }
        if let Some(r) = rec.as_mut() {
            r.activation = self.activation.clone();
            r.brightness = self.brightness.clone();
            r.visible = self.visible();
        }
        Ok(rec)
    }

    /// 6. visibility: a phosphene is drawn only when its activation exceeds its threshold.
    pub fn visible(&self) -> Vec<bool> {
        self.activation
            .iter()
            .zip(&self.threshold)
            .map(|(a, t)| a > t)
            .collect()
    }

    /// Drawn intensity per (batch, electrode): brightness where visible, else 0.
    pub fn intensity(&self) -> Vec<f64> {
        self.activation
            .iter()
            .zip(&self.threshold)
            .zip(&self.brightness)
            .map(|((a, t), b)| if a > t { *b } else { 0.0 })
            .collect()
    }

    /// Adjoint of a sequence of frames started from the zero state (after [`Simulator::reset`]).
    ///
    /// `grad_intensity[t]` and `grad_sigma[t]` are ∂L/∂(drawn intensity) and ∂L/∂σ at frame `t`; returns
    /// ∂L/∂amplitude for every frame. The visibility mask is treated as a constant (it is a step function);
    /// with `straight_through_threshold` the mask is skipped in the backward pass so that sub-threshold
    /// electrodes still receive a gradient. The ReLU of the effective current passes no gradient below
    /// rheobase + trace, exactly like autograd through dynaphos would.
    pub fn backward(
        &self,
        records: &[FrameRecord],
        grad_intensity: &[Vec<f64>],
        grad_sigma: &[Vec<f64>],
        straight_through_threshold: bool,
    ) -> Vec<Vec<f64>> {
        self.backward_with(
            records,
            grad_intensity,
            grad_sigma,
            straight_through_threshold,
            0.0,
        )
    }

    /// [`Simulator::backward`] with a surrogate slope for the rheobase ReLU: below rheobase + trace the
    /// backward pass uses `relu_surrogate_slope × pw × f` instead of 0 (0 = exact gradient).
    pub fn backward_with(
        &self,
        records: &[FrameRecord],
        grad_intensity: &[Vec<f64>],
        grad_sigma: &[Vec<f64>],
        straight_through_threshold: bool,
        relu_surrogate_slope: f64,
    ) -> Vec<Vec<f64>> {
        let m = self.batch * self.n();
        let n = self.n();
        let c = &self.consts;
        let mut lam_a = vec![0.0; m];
        let mut lam_q = vec![0.0; m];
        let mut out = vec![vec![0.0; m]; records.len()];
        for t in (0..records.len()).rev() {
            let r = &records[t];
            let a_prev = |k: usize| {
                if t == 0 {
                    0.0
                } else {
                    records[t - 1].activation[k]
                }
            };
            for k in 0..m {
                let x = r.x_pre[k];
                let i_eff = x.max(0.0);
                let (_, da_da, da_di) = c.activation_update(a_prev(k), i_eff);
                let (_, dq_dq, dq_di) = c.trace_update(0.0, i_eff);
                let b = r.brightness[k];
                let db_da = c.lambda * b * (1.0 - b);
                let gi = grad_intensity[t][k];
                let mask = if straight_through_threshold || r.visible[k] {
                    1.0
                } else {
                    0.0
                };
                let g_a = lam_a[k] + gi * mask * db_da;
                let g_ieff = g_a * da_di + lam_q[k] * dq_di;
                let relu = if x > 0.0 {
                    r.pw_f[k]
                } else {
                    relu_surrogate_slope * r.pw_f[k]
                };
                let (_, ds_di) = c.sigma_deg(r.amplitude_a[k], self.magnification[k % n]);
                out[t][k] = g_ieff * relu + grad_sigma[t][k] * ds_di;
                lam_a[k] = g_a * da_da;
                lam_q[k] = lam_q[k] * dq_dq - g_ieff * relu;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fernández protocol (reference §3.7, dynaphos `test_brightness`): fps 500, 83 frames on then 417 off,
    /// 170 µs, 300 Hz, no threshold, one electrode at cortex (35, 10) mm.
    pub(crate) fn fernandez(amp_ua: f64) -> (f64, f64) {
        crate::fernandez_protocol(&[amp_ua])
            .map(|(a, b)| (a[0], b[0]))
            .expect("protocol runs")
    }

    #[test]
    fn fernandez_table_to_1e4() {
        // Reference §3.7 table (dynaphos test/data, reproduced there by an independent implementation).
        let amps = [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0];
        let peak_a = [
            0.0, 0.0, 2.5038, 6.6084, 10.713, 14.817, 18.922, 23.027, 27.131, 31.236,
        ];
        let peak_b = [
            0.11654, 0.11654, 0.17565, 0.31865, 0.50654, 0.69260, 0.83180, 0.91564, 0.95972,
            0.98124,
        ];
        for i in 0..10 {
            let (a, b) = fernandez(amps[i]);
            let ea = peak_a[i] * 1e-8;
            if ea == 0.0 {
                assert_eq!(a, 0.0);
            } else {
                assert!(
                    ((a - ea) / ea).abs() < 1e-4,
                    "A({}) = {a:e}, expected {ea:e}",
                    amps[i]
                );
            }
            assert!(
                ((b - peak_b[i]) / peak_b[i]).abs() < 1e-4,
                "B({}) = {b}, expected {}",
                amps[i],
                peak_b[i]
            );
        }
    }

    #[test]
    fn single_frame_at_35_fps() {
        // Reference §3.7: A = I_eff/35 after one frame from rest.
        let p = Params::default();
        let mut sim = Simulator::new(p, PhospheneLayout::single(1.0, 0.0), 1).expect("sim");
        sim.set_thresholds(&[9.141886000943878e-8]).expect("len");
        for (amp, a_exp, b_exp, vis) in [
            (30.0, 8.89e-9, 0.135, false),
            (50.0, 3.80e-8, 0.215, false),
            (80.0, 8.18e-8, 0.387, false),
            (100.0, 1.109e-7, 0.5245, true),
            (128.0, 1.517e-7, 0.707, true),
        ] {
            sim.reset();
            sim.step_ua(&[amp]).expect("step");
            let a = sim.activation()[0];
            let b = sim.brightness()[0];
            assert!(((a - a_exp) / a_exp).abs() < 3e-3, "A({amp}) = {a:e}");
            assert!((b - b_exp).abs() < 1.5e-3, "B({amp}) = {b}");
            assert_eq!(sim.visible()[0], vis, "visibility at {amp} µA");
        }
        // B(0) = 0.1165 and the closed-form steady state A = I_eff/γ (4.31e-7 at 100 µA, B = 0.998).
        assert!((sim.constants().brightness(0.0).0 - 0.1165).abs() < 1e-4);
        let i_eff: f64 = (100e-6 - 23.9e-6) * 170e-6 * 300.0;
        let a_ss = i_eff / 9.0;
        assert!((a_ss - 4.31e-7).abs() < 0.01e-7);
        assert!((sim.constants().brightness(a_ss).0 - 0.998).abs() < 1e-3);
    }

    #[test]
    fn sizes_at_100_ua() {
        // Reference §3.7: σ = 0.0198° at 1°, 0.0313° at 2°, 0.0670° at 5°, 0.1045° at 8°; x0.707 at 50 µA.
        let c = FrameConstants::new(&Params::default());
        let p = Params::default().cortex;
        for (r, s) in [(1.0, 0.0198), (2.0, 0.0313), (5.0, 0.0670), (8.0, 0.1045)] {
            let m = magnification_mm_per_deg(&p, r);
            let got = c.sigma_deg(100e-6, m).0;
            assert!(((got - s) / s).abs() < 3e-3, "sigma at {r} = {got}");
            let half = c.sigma_deg(50e-6, m).0;
            assert!((half / got - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-9);
        }
        // 0.0670 deg is 1.07 px at 256 px over 16 deg (spacing 16/255).
        let m5 = magnification_mm_per_deg(&p, 5.0);
        assert!((c.sigma_deg(100e-6, m5).0 / (16.0 / 255.0) - 1.07).abs() < 0.01);
    }

    #[test]
    fn sigmoid_size_quirk_is_constant_in_amperes() {
        let mut p = Params::default();
        p.size.model = SizeModel::Sigmoid;
        let c = FrameConstants::new(&p);
        let (a, b) = (c.sigma_deg(20e-6, 9.74).0, c.sigma_deg(120e-6, 9.74).0);
        assert!(
            (a - b).abs() < 1e-4 * a,
            "quirk: sigma is effectively constant"
        );
        p.size.sigmoid_amplitude_in_ua = true;
        let c = FrameConstants::new(&p);
        assert!(c.sigma_deg(120e-6, 9.74).0 > 5.0 * c.sigma_deg(20e-6, 9.74).0);
    }

    #[test]
    fn trace_half_life_and_activation_time_constant() {
        let c = FrameConstants::new(&Params::default());
        // Activation falls by 1/e in 111 ms; trace half-life ~1364 s (reference §3.7).
        assert!((1.0 / c.gamma_per_s - 0.111).abs() < 1e-3);
        assert!((2f64.ln() / c.delta_per_s - 1364.0).abs() < 1.0);
    }

    #[test]
    fn reset_keeps_thresholds_and_redraw_changes_them() {
        let mut sim =
            Simulator::new(Params::default(), PhospheneLayout::single(1.0, 1.0), 4).expect("sim");
        let t0 = sim.thresholds().to_vec();
        sim.step_ua(&[100.0; 4]).expect("step");
        sim.reset();
        assert_eq!(sim.thresholds(), &t0[..]);
        assert!(sim.activation().iter().all(|&a| a == 0.0));
        sim.reinitialize_thresholds();
        assert_ne!(sim.thresholds(), &t0[..]);
        assert!(sim.thresholds().iter().all(|&t| t >= 0.0));
    }

    #[test]
    fn adjoint_matches_finite_differences() {
        // L = Σ_t Σ_k w_tk · intensity_tk + v_tk · σ_tk over 12 frames at 35 fps; thresholds off so the mask
        // is constant.
        let mut p = Params::default();
        p.threshold.use_threshold = false;
        let layout = PhospheneLayout {
            x_deg: vec![1.0, -2.0, 0.5],
            y_deg: vec![0.3, 1.0, -4.0],
        };
        let mut sim = Simulator::new(p, layout, 1).expect("sim");
        let frames = 12;
        let amps: Vec<Vec<f64>> = (0..frames)
            .map(|t| {
                (0..3)
                    .map(|k| (40.0 + 15.0 * k as f64 + 10.0 * ((t * (k + 1)) as f64).sin()) * 1e-6)
                    .collect()
            })
            .collect();
        let w: Vec<Vec<f64>> = (0..frames)
            .map(|t| (0..3).map(|k| ((t + 2 * k) as f64 * 0.7).cos()).collect())
            .collect();
        let v: Vec<Vec<f64>> = (0..frames)
            .map(|t| {
                (0..3)
                    .map(|k| ((t * k) as f64 * 0.3).sin() * 10.0)
                    .collect()
            })
            .collect();
        let loss = |sim: &mut Simulator, amps: &[Vec<f64>]| {
            sim.reset();
            let mut l = 0.0;
            for t in 0..frames {
                sim.step(&amps[t]).expect("step");
                let it = sim.intensity();
                for k in 0..3 {
                    l += w[t][k] * it[k] + v[t][k] * sim.sigma_deg()[k];
                }
            }
            l
        };
        sim.reset();
        let mut recs = Vec::new();
        for a in &amps {
            recs.push(
                sim.step_with(a, None, None, true)
                    .expect("step")
                    .expect("record"),
            );
        }
        let g = sim.backward(&recs, &w, &v, false);
        for t in [0, 3, 7, 11] {
            for k in 0..3 {
                let h = 1e-9;
                let mut ap = amps.clone();
                ap[t][k] += h;
                let mut am = amps.clone();
                am[t][k] -= h;
                let fd = (loss(&mut sim, &ap) - loss(&mut sim, &am)) / (2.0 * h);
                let an = g[t][k];
                assert!(
                    (fd - an).abs() <= 1e-4 * fd.abs().max(an.abs()).max(1e3),
                    "t={t} k={k}: fd {fd:e} vs adjoint {an:e}"
                );
            }
        }
    }
}
