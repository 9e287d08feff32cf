//! Tsodyks–Markram short-term plasticity, per presynaptic neuron (applied to all its
//! outgoing synapses), evaluated lazily at spike times only: between spikes the variables
//! relax with exact exponentials, so the cost is O(spikes), not O(N) per step.

use serde::{Deserialize, Serialize};

/// Parameters of one class of presynaptic cells.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StpParams {
    /// Utilisation of synaptic efficacy U (0, 1].
    #[serde(rename = "U", alias = "u")]
    pub u: f32,
    /// Recovery from depression τ_rec (ms).
    pub tau_rec_ms: f32,
    /// Facilitation τ_fac (ms); ~0 disables facilitation.
    pub tau_fac_ms: f32,
}

impl StpParams {
    /// BL-1's calibrated excitatory set (reference §3): U 0.30, τ_rec 800 ms, no facilitation.
    pub fn excitatory_calibrated() -> Self {
        Self {
            u: 0.30,
            tau_rec_ms: 800.0,
            tau_fac_ms: 0.001,
        }
    }
    /// BL-1's inhibitory set: U 0.04, τ_rec 100 ms, τ_fac 1000 ms (facilitating).
    pub fn inhibitory() -> Self {
        Self {
            u: 0.04,
            tau_rec_ms: 100.0,
            tau_fac_ms: 1000.0,
        }
    }
    /// Steady-state efficacy u·x of a regular train with inter-spike interval `isi_ms` under
    /// the [`StpVariant::Markram1998`] recursion (Tsodyks, Pawelzik & Markram 1998, Neural
    /// Comput 10:821; Maass & Markram 2002): `u* = U / (1 − (1−U)e^{−Δ/τ_F})`,
    /// `x* = (1 − e^{−Δ/τ_D}) / (1 − (1−u*)e^{−Δ/τ_D})`.
    pub fn steady_state_efficacy(&self, isi_ms: f64) -> f64 {
        let u = self.u as f64;
        let ef = (-isi_ms / self.tau_fac_ms as f64).exp();
        let ed = (-isi_ms / self.tau_rec_ms as f64).exp();
        let us = u / (1.0 - (1.0 - u) * ef);
        let xs = (1.0 - ed) / (1.0 - (1.0 - us) * ed);
        us * xs
    }
}

/// Which form of the model to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StpVariant {
    /// u_{n+1} = U + u_n(1−U)e^{−Δ/τ_F}, x_{n+1} = 1 + (x_n − u_n x_n − 1)e^{−Δ/τ_D},
    /// efficacy u_n x_n; the first spike of a rested synapse has efficacy U.
    #[default]
    Markram1998,
    /// Mongillo, Barak & Tsodyks 2008 (Science 319:1543) form used by BL-1: u relaxes to U
    /// and jumps by U(1−u) *before* release, so a rested synapse releases U(2−U).
    Mongillo2008,
}

/// STP state per presynaptic neuron.
#[derive(Clone, Debug)]
pub struct Stp {
    /// Parameters for excitatory presynaptic cells.
    pub exc: StpParams,
    /// Parameters for inhibitory presynaptic cells.
    pub inh: StpParams,
    /// Model form.
    pub variant: StpVariant,
    u: Vec<f32>,
    x: Vec<f32>,
    last_step: Vec<u64>,
}

const NEVER: u64 = u64::MAX;

impl Stp {
    /// Rested state for `n` neurons.
    pub fn new(n: usize, exc: StpParams, inh: StpParams, variant: StpVariant) -> Self {
        Self {
            exc,
            inh,
            variant,
            u: vec![0.0; n],
            x: vec![1.0; n],
            last_step: vec![NEVER; n],
        }
    }

    /// Efficacy (release scale) of a spike of neuron `i` at `step`, updating its state.
    #[inline]
    pub fn on_spike(&mut self, i: usize, step: u64, dt_ms: f32, excitatory: bool) -> f32 {
        let p = if excitatory { self.exc } else { self.inh };
        release(
            p,
            self.variant,
            &mut self.u[i],
            &mut self.x[i],
            &mut self.last_step[i],
            step,
            dt_ms,
        )
    }

    /// Raw view for the parallel step, where each thread updates the state of the
    /// presynaptic neurons it owns.
    pub(crate) fn raw(&mut self) -> StpRaw {
        StpRaw {
            exc: self.exc,
            inh: self.inh,
            variant: self.variant,
            u: self.u.as_mut_ptr(),
            x: self.x.as_mut_ptr(),
            last_step: self.last_step.as_mut_ptr(),
        }
    }

    /// Forgets all history (rested synapses).
    pub fn reset(&mut self) {
        self.u.fill(0.0);
        self.x.fill(1.0);
        self.last_step.fill(NEVER);
    }
}

/// Pointers into an [`Stp`]'s state (see [`Stp::raw`]).
#[derive(Clone, Copy)]
pub(crate) struct StpRaw {
    pub exc: StpParams,
    pub inh: StpParams,
    pub variant: StpVariant,
    pub u: *mut f32,
    pub x: *mut f32,
    pub last_step: *mut u64,
}

impl StpRaw {
    /// [`Stp::on_spike`] through the raw view.
    ///
    /// # Safety
    /// `i` is in bounds and no other thread touches neuron `i`'s state meanwhile.
    #[inline]
    pub unsafe fn on_spike(&self, i: usize, step: u64, dt_ms: f32, excitatory: bool) -> f32 {
        let p = if excitatory { self.exc } else { self.inh };
        // SAFETY: guaranteed by the caller.
        unsafe {
            release(
                p,
                self.variant,
                &mut *self.u.add(i),
                &mut *self.x.add(i),
                &mut *self.last_step.add(i),
                step,
                dt_ms,
            )
        }
    }
}

/// One release of a presynaptic cell with state `(u, x, last)` at `step`: relaxes the state
/// over the time since the last spike, returns the efficacy and applies the spike.
#[inline]
fn release(
    p: StpParams,
    variant: StpVariant,
    u: &mut f32,
    x: &mut f32,
    last: &mut u64,
    step: u64,
    dt_ms: f32,
) -> f32 {
    let prev = *last;
    *last = step;
    let (u0, x0) = (*u, *x);
    match variant {
        StpVariant::Markram1998 => {
            let (un, xn) = if prev == NEVER {
                (p.u, 1.0)
            } else {
                let dt = (step - prev) as f32 * dt_ms;
                let ef = (-dt / p.tau_fac_ms).exp();
                let ed = (-dt / p.tau_rec_ms).exp();
                (p.u + u0 * (1.0 - p.u) * ef, 1.0 + (x0 - u0 * x0 - 1.0) * ed)
            };
            *u = un;
            *x = xn;
            un * xn
        }
        StpVariant::Mongillo2008 => {
            let (mut un, mut xn) = if prev == NEVER {
                (p.u, 1.0)
            } else {
                let dt = (step - prev) as f32 * dt_ms;
                (
                    p.u + (u0 - p.u) * (-dt / p.tau_fac_ms).exp(),
                    1.0 - (1.0 - x0) * (-dt / p.tau_rec_ms).exp(),
                )
            };
            un += p.u * (1.0 - un);
            let scale = un * xn;
            xn *= 1.0 - un;
            *u = un;
            *x = xn;
            scale
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Steady-state efficacy of a regular train equals the Tsodyks–Markram closed form.
    #[test]
    fn regular_train_reaches_closed_form_steady_state() {
        for (p, isi) in [
            (StpParams::excitatory_calibrated(), 50.0),
            (StpParams::inhibitory(), 25.0),
            (
                StpParams {
                    u: 0.5,
                    tau_rec_ms: 800.0,
                    tau_fac_ms: 0.001,
                },
                100.0,
            ),
        ] {
            let mut stp = Stp::new(1, p, p, StpVariant::Markram1998);
            let dt = 0.5f32;
            let every = (isi / dt as f64) as u64;
            let mut last = 0.0;
            for k in 0..400u64 {
                last = stp.on_spike(0, k * every, dt, true) as f64;
            }
            let want = p.steady_state_efficacy(isi);
            assert!(
                (last - want).abs() < 1e-5 * want.max(1e-3),
                "{p:?}: {last} vs {want}"
            );
        }
        // A rested depressing synapse releases U on the first spike.
        let p = StpParams::excitatory_calibrated();
        let mut stp = Stp::new(1, p, p, StpVariant::Markram1998);
        assert!((stp.on_spike(0, 5, 0.5, true) - 0.30).abs() < 1e-7);
    }

    #[test]
    fn mongillo_first_spike_releases_u_two_minus_u() {
        let p = StpParams::excitatory_calibrated();
        let mut stp = Stp::new(1, p, p, StpVariant::Mongillo2008);
        let s = stp.on_spike(0, 0, 0.5, true);
        assert!((s - 0.3 * 1.7).abs() < 1e-6);
        // Depression: an immediate second spike releases less.
        assert!(stp.on_spike(0, 2, 0.5, true) < s);
    }
}
