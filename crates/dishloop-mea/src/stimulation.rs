//! From a current pulse at an electrode to a current in the neurons near it.
//!
//! # The model
//!
//! **Space: point source and the current–distance relation.** An electrode passing current `I`
//! into a homogeneous medium of conductivity σ sets up the potential `V(r) = I / (4πσr)` and
//! the field `E(r) = I / (4πσr²)` (point-source approximation; Ranck 1975, Brain Res 98:417).
//! A neuron is excited when the field at its excitable membrane exceeds a threshold, so the
//! threshold current grows with the square of distance, `I_th(r) = K·r²` — the classic
//! current–distance relation (Stoney, Thompson & Asanuma 1968, J Neurophysiol 31:659; reviewed
//! by Tehovnik 1996, J Neurosci Methods 65:1, who tabulates K from ~30 to ~4 000 µA/mm²
//! depending on the neural element and pulse). We take `K = 400 µA/mm²` for a 200 µs
//! cathodic phase (equivalently a field threshold `K/(4πσ) ≈ 106 V/m` with σ = 0.3 S/m), and
//! measure `r` from a point `height_um` = 10 µm above the electrode (cells lie on the electrode,
//! their excitable membrane does not coincide with it), so `r_eff = √(d² + h²)`.
//! With these values a 1 µA, 200 µs cathodic phase reaches threshold out to 50 µm and 3 µA out
//! to 87 µm: a handful of the nearest neurons, as on real MEAs, where 1–3 µA-scale pulses
//! evoke reliable responses (Wagenaar, Pine & Potter 2004, J Neurosci Methods 138:27) and
//! BL-1 uses a 75 µm activation radius.
//!
//! **Time: sub-step pulses as charge.** Pulses are 20 µs-granular while the simulator steps
//! 500 µs, so each pulse is delivered as the *effective depolarising charge* that falls into
//! every step it overlaps. The membrane at the site of excitation responds to the electrode
//! current through a fast leaky integrator, `dx/dt = −x/τ + I_dep(t)` with `I_dep = −I`
//! (cathodic current depolarises the cells next to the electrode) and `τ = 200 µs`, of the
//! order of the chronaxie of cortical neurons to extracellular stimulation (Ranck 1975;
//! Nowak & Bullier 1998, Exp Brain Res 118:477). The effective charge of a step is
//! `∫ step (x⁺ + x⁻/a) dt / τ` (pC): the depolarising part of the response, plus the
//! hyperpolarising part scaled down by `a` = 3 (anodic currents excite only through
//! "virtual cathodes" further along the axon, at several-fold higher thresholds, Ranck 1975).
//!
//! For a monophasic cathodic pulse this is exactly its charge `|I|·d`, spread over the steps
//! where `x` rises and decays. **A charge-balanced biphasic pulse still excites:** its
//! cathodic first phase depolarises the membrane before the anodic phase can reverse it, and
//! the leaky integrator only partly undoes the depolarisation (for 200 µs phases the effective
//! charge is ≈ 0.5 of the first phase's). The hyperpolarising remainder is not subtracted:
//! at a 0.5 ms step it would cancel the depolarisation inside the same step, whereas a real
//! neuron has already started its spike during the first phase. The biphasic threshold is
//! therefore about twice the monophasic one at 200 µs and approaches it for long phases,
//! the direction found by van den Honert & Mortimer 1979 (Ann Biomed Eng 7:117).
//!
//! **Neuron: one-step kick calibrated to threshold.** A neuron at effective distance `r`
//! receives, in each step, the external current `i = i₁ · Q_step / Q_th(r)` (mV/ms) with
//! `Q_th(r) = K·r²·200 µs` and `i₁` the current that, held for one step, takes a resting
//! regular-spiking Izhikevich cell just to a spike within 5 ms (computed from the model, see
//! [`one_step_threshold`]). So a pulse at threshold charge makes a resting cell fire within a
//! few ms, a stronger one sooner, a weaker one not at all; cells already depolarised by the
//! network fire more easily, and long pulses or 200 Hz trains add up through the neuron's own
//! dynamics. The kick is capped at `max_drive` × `i₁`, and a cell that spiked within the last
//! `refractory_ms` (1 ms) gets none, so one pulse fires a cell at most once. Fields of several
//! electrodes add.

use dishloop_core::IzhType;
use dishloop_core::neuron::{IzhScheme, izh_step};
use serde::{Deserialize, Serialize};

use crate::design::{MAX_CHARGE_PC, StimDesign, TIMING_STEP_US};

/// Parameters of the stimulation model (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StimModel {
    /// `K` of `I_th = K·r²` for a `reference_phase_us` cathodic phase, µA/mm².
    pub k_ua_per_mm2: f32,
    /// Phase duration at which `K` holds, µs.
    pub reference_phase_us: f32,
    /// Height of the excitable membrane above the electrode plane, µm.
    pub height_um: f32,
    /// Time constant of the membrane's fast response at the site of excitation, µs.
    pub tau_us: f32,
    /// Anodic currents excite this many times less than cathodic ones.
    pub anodic_factor: f32,
    /// Largest kick per step, in multiples of the one-step threshold current.
    pub max_drive: f32,
    /// Drive below this fraction of threshold (per step) is negligible and not delivered;
    /// neurons that even the strongest allowed phase (3 nC) would drive below it are not
    /// coupled to an electrode at all.
    pub min_drive: f32,
    /// Latency within which a threshold kick makes a resting cell spike, ms.
    pub threshold_latency_ms: f32,
    /// Absolute refractory period, ms: a cell that spiked this recently gets no stimulation
    /// current (the Izhikevich model has no refractory period of its own, so without it the
    /// decaying tail of one strong pulse could fire a cell twice within a millisecond).
    pub refractory_ms: f32,
}

impl Default for StimModel {
    fn default() -> Self {
        Self {
            k_ua_per_mm2: 400.0,
            reference_phase_us: 200.0,
            height_um: 10.0,
            tau_us: 200.0,
            anodic_factor: 3.0,
            max_drive: 20.0,
            min_drive: 0.02,
            threshold_latency_ms: 5.0,
            refractory_ms: 1.0,
        }
    }
}

impl StimModel {
    /// Threshold charge at in-plane distance `d_um` from the electrode, pC.
    pub fn threshold_charge_pc(&self, d_um: f32) -> f32 {
        let r2 = d_um * d_um + self.height_um * self.height_um;
        // K [µA/mm²] · r² [µm²] · 1e-6 [mm²/µm²] · d_ref [µs] = pC.
        self.k_ua_per_mm2 * 1e-6 * r2 * self.reference_phase_us
    }

    /// Threshold current of a `reference_phase_us` monophasic cathodic phase at distance
    /// `d_um`, µA.
    pub fn threshold_current_ua(&self, d_um: f32) -> f32 {
        self.threshold_charge_pc(d_um) / self.reference_phase_us
    }

    /// Largest in-plane distance at which a neuron is coupled (module docs, `min_drive`), µm.
    pub fn coupling_radius_um(&self) -> f32 {
        // K·r²·d_ref · min_drive = MAX_CHARGE_PC
        let r2 = MAX_CHARGE_PC
            / (self.min_drive.max(1e-6) * self.k_ua_per_mm2 * 1e-6 * self.reference_phase_us);
        (r2 - self.height_um * self.height_um).max(0.0).sqrt()
    }

    /// Effective depolarising charge of `design`, pC, in consecutive 20 µs slots from the pulse
    /// onset, including the decay of the membrane response after the pulse.
    pub fn charge_profile(&self, design: &StimDesign) -> Vec<f32> {
        const SUB: usize = 4;
        let slot = TIMING_STEP_US as f32;
        let h = slot / SUB as f32;
        let tau = self.tau_us.max(1.0);
        let decay = (-h / tau).exp();
        let inv_a = 1.0 / self.anodic_factor.max(1.0);
        let mut out = Vec::new();
        let mut x = 0.0f32; // µA·µs
        let mut peak = 0.0f32;
        let eff = |x: f32| if x >= 0.0 { x } else { -x * inv_a };
        let push_slot = |i_dep: f32, x: &mut f32, out: &mut Vec<f32>| {
            let mut q = 0.0;
            for _ in 0..SUB {
                let x0 = *x;
                *x = x0 * decay + i_dep * tau * (1.0 - decay);
                // Trapezoid on the rectified response; exact enough at 5 µs ≪ τ.
                q += 0.5 * (eff(x0) + eff(*x)) * h / tau;
            }
            out.push(q);
        };
        for p in design.phases() {
            let n = (p.duration_us / TIMING_STEP_US) as usize;
            for _ in 0..n {
                push_slot(-p.current_ua, &mut x, &mut out);
                peak = peak.max(x.abs());
            }
        }
        // Tail: until the response has decayed to 0.1 % of its peak.
        let mut guard = 0;
        while x.abs() > 1e-3 * peak && guard < 10_000 {
            push_slot(0.0, &mut x, &mut out);
            guard += 1;
        }
        out
    }

    /// Total effective charge of `design`, pC.
    pub fn effective_charge_pc(&self, design: &StimDesign) -> f32 {
        self.charge_profile(design).iter().sum()
    }
}

/// The external current (mV/ms) that, applied for one step of `dt_ms` to a resting
/// regular-spiking Izhikevich cell (Izhikevich 2003 RS parameters, half-step scheme) and then
/// removed, makes it spike within `latency_ms`. Found by bisection on the model itself.
pub fn one_step_threshold(dt_ms: f32, latency_ms: f32) -> f32 {
    let p = IzhType::RS.params();
    // Resting fixed point of v' = 0.04v² + 5v + 140 − bv (I = 0): the lower root.
    let (bq, cq) = (5.0 - p.b, 140.0f32);
    let v_rest = (-bq - (bq * bq - 4.0 * 0.04 * cq).max(0.0).sqrt()) / 0.08;
    let n_after = (latency_ms / dt_ms).ceil().max(1.0) as usize;
    let fires = |i: f32| {
        let (mut v, mut u) = (v_rest, p.b * v_rest);
        if izh_step(&mut v, &mut u, p, i, dt_ms, IzhScheme::HalfStep) {
            return true;
        }
        (0..n_after).any(|_| izh_step(&mut v, &mut u, p, 0.0, dt_ms, IzhScheme::HalfStep))
    };
    let (mut lo, mut hi) = (0.0f32, 1.0f32);
    while !fires(hi) && hi < 1e6 {
        lo = hi;
        hi *= 2.0;
    }
    for _ in 0..40 {
        let mid = 0.5 * (lo + hi);
        if fires(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_distance_relation() {
        let m = StimModel::default();
        // K = 400 µA/mm² at r_eff = √(40² + 10²) µm: 400e-6 · 1700 = 0.68 µA.
        assert!((m.threshold_current_ua(40.0) - 0.68).abs() < 1e-4);
        // 1 µA reaches threshold at r_eff = 50 µm (d ≈ 49 µm), 3 µA at r_eff ≈ 86.6 µm.
        assert!((m.threshold_current_ua(49.0) - 1.0).abs() < 0.01);
        assert!((m.threshold_current_ua(86.0) - 3.0).abs() < 0.03);
        // Quadrupling with doubled distance (far from the electrode).
        let r = m.threshold_current_ua(400.0) / m.threshold_current_ua(200.0);
        assert!((r - 4.0).abs() < 0.01, "{r}");
        // Coupling radius: 2 % of threshold at 3 nC.
        let rc = m.coupling_radius_um();
        let q = m.threshold_charge_pc(rc);
        assert!((MAX_CHARGE_PC / q - 0.02).abs() < 1e-4, "{rc} {q}");
    }

    #[test]
    fn monophasic_delivers_its_charge_biphasic_about_half() {
        let m = StimModel::default();
        let mono = StimDesign::monophasic(200, -1.0).expect("ok");
        let q = m.effective_charge_pc(&mono);
        // Whole charge (200 pC) minus the 0.1 % tail cut-off.
        assert!((q - 200.0).abs() < 1.0, "{q}");
        let bi = StimDesign::cathodic_first(200, 1.0).expect("ok");
        let qb = m.effective_charge_pc(&bi);
        // Analytic for d = τ: positive area 0.51·Iτ from the cathodic phase and the first half
        // of the anodic one, plus the hyperpolarising remainder / 3.
        assert!((0.5 * q..0.8 * q).contains(&qb), "{qb}");
        // Anodic-first excites less than cathodic-first with the same phases.
        let anodic_first = StimDesign::biphasic(200, 1.0, 200, -1.0).expect("ok");
        assert!(m.effective_charge_pc(&anodic_first) < qb);
        // Long phases: biphasic approaches monophasic (per unit first-phase charge).
        let long_bi = StimDesign::cathodic_first(1000, 1.0).expect("ok");
        let ratio = m.effective_charge_pc(&long_bi) / 1000.0;
        assert!(ratio > 0.85, "{ratio}");
        // A pure anodic pulse excites a third as much.
        let an = StimDesign::monophasic(200, 1.0).expect("ok");
        assert!((m.effective_charge_pc(&an) / q - 1.0 / 3.0).abs() < 0.01);
    }

    #[test]
    fn one_step_threshold_separates_spike_from_no_spike() {
        let i1 = one_step_threshold(0.5, 5.0);
        assert!(i1 > 5.0 && i1 < 200.0, "{i1}");
        // Slightly more fires, slightly less does not (within 5 ms), as in the definition.
        let p = IzhType::RS.params();
        let run = |i: f32| {
            let (mut v, mut u) = (-70.0f32, -14.0f32);
            let mut k = 0;
            let mut fired = izh_step(&mut v, &mut u, p, i, 0.5, IzhScheme::HalfStep);
            while !fired && k < 10 {
                fired = izh_step(&mut v, &mut u, p, 0.0, 0.5, IzhScheme::HalfStep);
                k += 1;
            }
            fired
        };
        assert!(run(i1 * 1.01));
        assert!(!run(i1 * 0.99));
    }
}
