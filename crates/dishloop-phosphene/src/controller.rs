//! A learned controller (seed §06): a small Elman recurrent net reads the error signal each frame and
//! outputs an amplitude *increment* (velocity form, so holding a constant output needs no effort, like
//! the integral of a PID). It is trained by back-propagation through time through the single-electrode
//! plant (activation, trace, brightness, threshold — the same frame update as [`crate::sim`]) with Adam,
//! on random step / ramp / sine targets, with the loss the PID is judged by (mean squared tracking error).
//!
//! Inputs per frame: (target − reading, target, previous amplitude / 100 µA). Hidden: `tanh`, H units.
//! Output: Δu = 20 µA · tanh(v·h + c); u is clamped to [0, 300] µA. The detection threshold passes
//! gradients straight through and the rheobase ReLU uses a surrogate slope of 0.1 below rheobase.

use crate::params::Params;
use crate::pid::{Controller, Target};
use crate::sim::FrameConstants;
use rand::RngExt;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Serialize;

const N_IN: usize = 3;
const DU_MAX_UA: f64 = 20.0;
const U_MAX_UA: f64 = 300.0;
const RELU_SURROGATE: f64 = 0.1;

/// The recurrent controller's weights.
#[derive(Clone, Debug, Serialize)]
pub struct RnnController {
    /// Hidden units.
    pub hidden: usize,
    /// Flat parameters: W (H×H), U (H×3), b (H), v (H), c (1).
    pub params: Vec<f64>,
    #[serde(skip)]
    h: Vec<f64>,
    #[serde(skip)]
    u_prev: f64,
}

impl RnnController {
    /// Random initialisation (scaled normal) from `seed`.
    pub fn new(hidden: usize, seed: u64) -> Self {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let n = hidden * hidden + hidden * N_IN + 2 * hidden + 1;
        let mut params = vec![0.0; n];
        for (i, p) in params.iter_mut().enumerate() {
            let z: f64 = StandardNormal.sample(&mut rng);
            let scale = if i < hidden * hidden {
                0.5 / (hidden as f64).sqrt()
            } else {
                0.5
            };
            *p = z * scale;
        }
        Self {
            hidden,
            params,
            h: vec![0.0; hidden],
            u_prev: 0.0,
        }
    }

    fn split(&self) -> (usize, usize, usize, usize, usize) {
        let h = self.hidden;
        (
            0,
            h * h,
            h * h + h * N_IN,
            h * h + h * N_IN + h,
            h * h + h * N_IN + 2 * h,
        )
    }

    /// One controller step from state (h, u_prev); returns (h_new, Δu pre-tanh z, u).
    fn cell(&self, h_prev: &[f64], x: &[f64; N_IN], u_prev: f64) -> (Vec<f64>, f64, f64) {
        let (ow, ou, ob, ov, oc) = self.split();
        let hn = self.hidden;
        let p = &self.params;
        let mut h = vec![0.0; hn];
        for i in 0..hn {
            let mut a = p[ob + i];
            for j in 0..hn {
                a += p[ow + i * hn + j] * h_prev[j];
            }
            for j in 0..N_IN {
                a += p[ou + i * N_IN + j] * x[j];
            }
            h[i] = a.tanh();
        }
        let z = p[oc] + (0..hn).map(|i| p[ov + i] * h[i]).sum::<f64>();
        let u = (u_prev + DU_MAX_UA * z.tanh()).clamp(0.0, U_MAX_UA);
        (h, z, u)
    }
}

impl Controller for RnnController {
    fn reset(&mut self) {
        self.h = vec![0.0; self.hidden];
        self.u_prev = 0.0;
    }
    fn control(&mut self, target: f64, measured: f64, _dt_s: f64) -> f64 {
        let x = [target - measured, target, self.u_prev / 100.0];
        let (h, _, u) = self.cell(&self.h, &x, self.u_prev);
        self.h = h;
        self.u_prev = u;
        u
    }
    fn name(&self) -> String {
        format!("RNN({} hidden)", self.hidden)
    }
}

/// Rolls out the controller on the plant for `targets` (one value per frame) and returns the loss
/// (mean squared tracking error) and, when `grad` is given, accumulates ∂loss/∂params into it.
/// `relu_surrogate` is the slope passed backwards below rheobase (0 = exact gradient).
pub fn rollout(
    ctrl: &RnnController,
    c: &FrameConstants,
    threshold: f64,
    targets: &[f64],
    relu_surrogate: f64,
    grad: Option<&mut [f64]>,
) -> f64 {
    let t_len = targets.len();
    let hn = ctrl.hidden;
    // forward, recording
    let mut hs = vec![vec![0.0; hn]]; // hs[t+1] = h_t
    let mut xs = Vec::with_capacity(t_len);
    let mut zs = Vec::with_capacity(t_len);
    let mut us = vec![0.0]; // us[t+1] = u_t
    let mut clamped = Vec::with_capacity(t_len);
    let (mut a, mut q, mut y) = (0.0f64, 0.0f64, 0.0f64);
    let mut rec = Vec::with_capacity(t_len); // (x_pre, a_prev, b)
    let mut loss = 0.0;
    for t in 0..t_len {
        let r_prev = if t == 0 { targets[0] } else { targets[t - 1] };
        let u_prev = us[t];
        let x = [r_prev - y, r_prev, u_prev / 100.0];
        let (h, z, u) = ctrl.cell(&hs[t], &x, u_prev);
        let raw = u_prev + DU_MAX_UA * z.tanh();
        clamped.push(!(0.0..=U_MAX_UA).contains(&raw));
        let xp = (u * 1e-6 - c.rheobase_a - q) * c.pulse_width_s * c.frequency_hz;
        let ieff = xp.max(0.0);
        let a_prev = a;
        a = c.activation_update(a, ieff).0;
        q = c.trace_update(q, ieff).0;
        let (b, _) = c.brightness(a);
        y = if a > threshold { b } else { 0.0 };
        loss += (targets[t] - y).powi(2);
        rec.push((xp, a_prev, b, y));
        xs.push(x);
        zs.push(z);
        hs.push(h);
        us.push(u);
    }
    loss /= t_len as f64;
    let Some(g) = grad else { return loss };
    let (ow, ou, ob, ov, oc) = ctrl.split();
    let p = &ctrl.params;
    let pwf = c.pulse_width_s * c.frequency_hz;
    let (mut g_a, mut g_q, mut g_u_next, mut g_y_next) = (0.0, 0.0, 0.0, 0.0);
    let mut g_h_next = vec![0.0; hn];
    for t in (0..t_len).rev() {
        let (xp, a_prev, b, y) = rec[t];
        let g_y = 2.0 * (y - targets[t]) / t_len as f64 + g_y_next;
        let g_at = g_a + g_y * c.lambda * b * (1.0 - b);
        let ieff = xp.max(0.0);
        let (_, da_da, da_di) = c.activation_update(a_prev, ieff);
        let (_, dq_dq, dq_di) = c.trace_update(0.0, ieff);
        let g_ieff = g_at * da_di + g_q * dq_di;
        let relu = if xp > 0.0 { pwf } else { relu_surrogate * pwf };
        let g_u = g_u_next + g_ieff * relu * 1e-6;
        g_a = g_at * da_da;
        g_q = g_q * dq_dq - g_ieff * relu;
        // u_t = clamp(u_{t-1} + 20 tanh(z_t))
        let (g_z, g_u_pass) = if clamped[t] {
            (0.0, 0.0)
        } else {
            (g_u * DU_MAX_UA * (1.0 - zs[t].tanh().powi(2)), g_u)
        };
        let h = &hs[t + 1];
        g[oc] += g_z;
        let mut g_h = g_h_next.clone();
        for i in 0..hn {
            g[ov + i] += g_z * h[i];
            g_h[i] += g_z * p[ov + i];
        }
        let mut g_x = [0.0; N_IN];
        let mut g_hp = vec![0.0; hn];
        for i in 0..hn {
            let gp = g_h[i] * (1.0 - h[i] * h[i]);
            g[ob + i] += gp;
            for j in 0..hn {
                g[ow + i * hn + j] += gp * hs[t][j];
                g_hp[j] += gp * p[ow + i * hn + j];
            }
            for j in 0..N_IN {
                g[ou + i * N_IN + j] += gp * xs[t][j];
                g_x[j] += gp * p[ou + i * N_IN + j];
            }
        }
        g_h_next = g_hp;
        g_y_next = -g_x[0];
        g_u_next = g_u_pass + g_x[2] / 100.0;
    }
    loss
}

/// A random training target of `frames` frames at `fps`: a step, ramp or sine within [0.5, 0.95].
pub fn random_target<R: rand::Rng + ?Sized>(rng: &mut R) -> Target {
    match rng.random_range(0..3) {
        0 => Target::Step {
            level: rng.random_range(0.5..0.9),
            t_on_s: rng.random_range(0.1..1.0),
        },
        1 => {
            let from = rng.random_range(0.5..0.7);
            Target::Ramp {
                from,
                to: rng.random_range(0.75..0.95),
                t0_s: rng.random_range(0.2..1.0),
                t1_s: rng.random_range(2.0..4.0),
            }
        }
        _ => Target::Sine {
            mean: rng.random_range(0.65..0.75),
            amplitude: rng.random_range(0.05..0.2),
            period_s: rng.random_range(1.0..3.0),
        },
    }
}

/// Training report.
#[derive(Clone, Debug, Serialize)]
pub struct ControllerReport {
    /// Loss (mean squared error) per iteration, averaged over the batch.
    pub train_loss: Vec<f64>,
    /// Hidden units.
    pub hidden: usize,
    /// Iterations.
    pub iterations: usize,
}

/// Trains an RNN controller on the demo electrode with Adam (lr 3e-3), `iterations` × `batch` random
/// episodes of `episode_s` seconds.
pub fn train_controller(
    params: &Params,
    threshold: f64,
    hidden: usize,
    iterations: usize,
    batch: usize,
    episode_s: f64,
    seed: u64,
) -> (RnnController, ControllerReport) {
    let c = FrameConstants::new(params);
    let mut ctrl = RnnController::new(hidden, seed);
    let np = ctrl.params.len();
    let (mut m, mut v) = (vec![0.0; np], vec![0.0; np]);
    let (lr, b1, b2, eps) = (3e-3, 0.9, 0.999, 1e-8);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ 0xc0);
    let frames = (episode_s * params.run.fps).round() as usize;
    let mut losses = Vec::with_capacity(iterations);
    for it in 0..iterations {
        let mut g = vec![0.0; np];
        let mut l = 0.0;
        for _ in 0..batch {
            let tg = random_target(&mut rng);
            let targets: Vec<f64> = (0..frames)
                .map(|f| tg.at(f as f64 / params.run.fps))
                .collect();
            l += rollout(&ctrl, &c, threshold, &targets, RELU_SURROGATE, Some(&mut g));
        }
        losses.push(l / batch as f64);
        let t = (it + 1) as i32;
        for i in 0..np {
            let gi = (g[i] / batch as f64).clamp(-10.0, 10.0);
            m[i] = b1 * m[i] + (1.0 - b1) * gi;
            v[i] = b2 * v[i] + (1.0 - b2) * gi * gi;
            ctrl.params[i] -=
                lr * (m[i] / (1.0 - b1.powi(t))) / ((v[i] / (1.0 - b2.powi(t))).sqrt() + eps);
        }
    }
    (
        ctrl,
        ControllerReport {
            train_loss: losses,
            hidden,
            iterations,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bptt_matches_finite_differences() {
        let mut p = Params::default();
        p.threshold.use_threshold = false;
        let c = FrameConstants::new(&p);
        let ctrl = RnnController::new(4, 3);
        let targets: Vec<f64> = (0..40)
            .map(|f| 0.6 + 0.2 * (f as f64 * 0.2).sin())
            .collect();
        let mut g = vec![0.0; ctrl.params.len()];
        rollout(&ctrl, &c, -1.0, &targets, 0.0, Some(&mut g));
        let mut agree = 0;
        for i in 0..ctrl.params.len() {
            let h = 1e-6;
            let mut a = ctrl.clone();
            a.params[i] += h;
            let mut b = ctrl.clone();
            b.params[i] -= h;
            let fd = (rollout(&a, &c, -1.0, &targets, 0.0, None)
                - rollout(&b, &c, -1.0, &targets, 0.0, None))
                / (2.0 * h);
            if (fd - g[i]).abs() <= 1e-4 * fd.abs().max(g[i].abs()) + 1e-9 {
                agree += 1;
            } else {
                eprintln!("param {i}: fd {fd:e} vs bptt {:e}", g[i]);
            }
        }
        // Exact except where a perturbation crosses the rheobase kink (surrogate slope) or the output clamp.
        assert!(
            agree as f64 >= 0.9 * g.len() as f64,
            "{agree} of {}",
            g.len()
        );
    }

    #[test]
    fn trained_controller_beats_untrained_and_tracks() {
        let p = Params::default();
        let (layout, thr) = crate::pid::demo_electrode(&p);
        let (mut ctrl, rep) = train_controller(&p, thr, 8, 150, 4, 3.0, 1);
        let first: f64 = rep.train_loss[..10].iter().sum::<f64>() / 10.0;
        let last: f64 = rep.train_loss[rep.train_loss.len() - 10..]
            .iter()
            .sum::<f64>()
            / 10.0;
        assert!(last < 0.5 * first, "loss {first} -> {last}");
        let step = Target::Step {
            level: 0.7,
            t_on_s: 0.5,
        };
        let tr = crate::pid::run_single(&p, layout, Some(thr), &mut ctrl, &step, 4.0).expect("run");
        let m = crate::pid::metrics(&tr, &step, 1.5);
        assert!(m.rmse < 0.1, "learned controller rmse {}", m.rmse);
    }
}
