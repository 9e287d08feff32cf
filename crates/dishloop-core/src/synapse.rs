//! Conductance-based receptors: AMPA, NMDA (with Mg²⁺ block), GABA_A, GABA_B.
//!
//! Synaptic current (positive = depolarising, mV/ms, conductances per unit capacitance):
//! `I = g_AMPA(E_AMPA − v) + g_NMDA·B(v)(E_NMDA − v) + g_GABA_A(E_GABA_A − v) + g_GABA_B(E_GABA_B − v)`.
//! Constants: BL-1 reference §3 (τ_AMPA 2 ms, τ_GABA_A 6 ms, NMDA rise/decay 2/100 ms,
//! GABA_B 45/170 ms; E 0/0/−75/−95 mV).

use crate::lines::LineVec;
use serde::{Deserialize, Serialize};

/// Receptor kinetics and reversal potentials, and how excitatory/inhibitory input is split
/// between the fast and slow receptor of each class.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReceptorParams {
    /// AMPA decay (ms).
    pub tau_ampa_ms: f32,
    /// AMPA reversal (mV).
    pub e_ampa_mv: f32,
    /// NMDA rise (ms).
    pub tau_nmda_rise_ms: f32,
    /// NMDA decay (ms).
    pub tau_nmda_decay_ms: f32,
    /// NMDA reversal (mV).
    pub e_nmda_mv: f32,
    /// Extracellular Mg²⁺ (mM) for the NMDA block.
    pub mg_mm: f32,
    /// GABA_A decay (ms).
    pub tau_gaba_a_ms: f32,
    /// GABA_A reversal (mV).
    pub e_gaba_a_mv: f32,
    /// GABA_B rise (ms).
    pub tau_gaba_b_rise_ms: f32,
    /// GABA_B decay (ms).
    pub tau_gaba_b_decay_ms: f32,
    /// GABA_B reversal (mV).
    pub e_gaba_b_mv: f32,
    /// Fraction of an excitatory weight that goes to NMDA (the rest to AMPA). BL-1's
    /// validated scripts use 0.37.
    pub nmda_ratio: f32,
    /// Fraction of an inhibitory weight that goes to GABA_B (the rest to GABA_A).
    pub gaba_b_ratio: f32,
}

impl Default for ReceptorParams {
    fn default() -> Self {
        Self {
            tau_ampa_ms: 2.0,
            e_ampa_mv: 0.0,
            tau_nmda_rise_ms: 2.0,
            tau_nmda_decay_ms: 100.0,
            e_nmda_mv: 0.0,
            mg_mm: 1.0,
            tau_gaba_a_ms: 6.0,
            e_gaba_a_mv: -75.0,
            tau_gaba_b_rise_ms: 45.0,
            tau_gaba_b_decay_ms: 170.0,
            e_gaba_b_mv: -95.0,
            nmda_ratio: 0.0,
            gaba_b_ratio: 0.0,
        }
    }
}

/// Jahr & Stevens (1990, J Neurosci 10:3178) voltage dependence of the NMDA Mg²⁺ block:
/// `B(v) = 1 / (1 + [Mg²⁺]/3.57 mM · exp(−0.062 v))`, v in mV. Reference implementation in
/// f64; the hot loop uses an f32 polynomial exponential that agrees to < 1e-6.
pub fn mg_block(v_mv: f64, mg_mm: f64) -> f64 {
    1.0 / (1.0 + mg_mm / 3.57 * (-0.062 * v_mv).exp())
}

/// f32 Mg block for the hot loop.
#[inline(always)]
pub fn mg_block_f32(v_mv: f32, mg_over_357: f32) -> f32 {
    1.0 / (1.0 + mg_over_357 * crate::fastmath::exp_f32(-0.062 * v_mv))
}

/// Peak normaliser of a difference of exponentials `e^{−t/τd} − e^{−t/τr}` so that a unit
/// jump peaks at 1: `1/(e^{−t_p/τ_d} − e^{−t_p/τ_r})` with `t_p = τ_dτ_r/(τ_d−τ_r)·ln(τ_d/τ_r)`.
pub fn dual_exp_peak_norm(tau_rise_ms: f64, tau_decay_ms: f64) -> f64 {
    let tp = tau_decay_ms * tau_rise_ms / (tau_decay_ms - tau_rise_ms)
        * (tau_decay_ms / tau_rise_ms).ln();
    1.0 / ((-tp / tau_decay_ms).exp() - (-tp / tau_rise_ms).exp())
}

/// Per-step constants derived from [`ReceptorParams`] and dt.
#[derive(Clone, Copy, Debug)]
pub struct ReceptorStep {
    pub(crate) d_ampa: f32,
    pub(crate) d_nmda_r: f32,
    pub(crate) d_nmda_d: f32,
    pub(crate) d_gaba_a: f32,
    pub(crate) d_gabab_r: f32,
    pub(crate) d_gabab_d: f32,
    /// Input split: fraction to AMPA, to NMDA (×peak norm), to GABA_A, to GABA_B (×norm).
    pub(crate) f_ampa: f32,
    pub(crate) f_nmda: f32,
    pub(crate) f_gaba_a: f32,
    pub(crate) f_gaba_b: f32,
    pub(crate) mg_over_357: f32,
    pub(crate) has_nmda: bool,
    pub(crate) has_gaba_b: bool,
    pub(crate) p: ReceptorParams,
}

impl ReceptorStep {
    /// Precomputes decay factors exp(−dt/τ) and the receptor split.
    pub fn new(p: &ReceptorParams, dt_ms: f32) -> Self {
        let d = |tau: f32| (-(dt_ms as f64) / tau as f64).exp() as f32;
        let nn = dual_exp_peak_norm(p.tau_nmda_rise_ms as f64, p.tau_nmda_decay_ms as f64) as f32;
        let nb =
            dual_exp_peak_norm(p.tau_gaba_b_rise_ms as f64, p.tau_gaba_b_decay_ms as f64) as f32;
        Self {
            d_ampa: d(p.tau_ampa_ms),
            d_nmda_r: d(p.tau_nmda_rise_ms),
            d_nmda_d: d(p.tau_nmda_decay_ms),
            d_gaba_a: d(p.tau_gaba_a_ms),
            d_gabab_r: d(p.tau_gaba_b_rise_ms),
            d_gabab_d: d(p.tau_gaba_b_decay_ms),
            f_ampa: 1.0 - p.nmda_ratio,
            f_nmda: p.nmda_ratio * nn,
            f_gaba_a: 1.0 - p.gaba_b_ratio,
            f_gaba_b: p.gaba_b_ratio * nb,
            mg_over_357: p.mg_mm / 3.57,
            has_nmda: p.nmda_ratio > 0.0,
            has_gaba_b: p.gaba_b_ratio > 0.0,
            p: *p,
        }
    }
}

/// Conductance state per postsynaptic neuron (struct of arrays, 1/ms).
#[derive(Clone, Debug, Default)]
pub struct Conductances {
    /// AMPA.
    pub ampa: LineVec<f32>,
    /// NMDA rise component.
    pub nmda_r: LineVec<f32>,
    /// NMDA decay component (g_NMDA = decay − rise).
    pub nmda_d: LineVec<f32>,
    /// GABA_A.
    pub gaba_a: LineVec<f32>,
    /// GABA_B rise component.
    pub gabab_r: LineVec<f32>,
    /// GABA_B decay component.
    pub gabab_d: LineVec<f32>,
}

impl Conductances {
    /// All-zero conductances for `n` neurons.
    pub fn zeros(n: usize) -> Self {
        Self {
            ampa: LineVec::zeros(n),
            nmda_r: LineVec::zeros(n),
            nmda_d: LineVec::zeros(n),
            gaba_a: LineVec::zeros(n),
            gabab_r: LineVec::zeros(n),
            gabab_d: LineVec::zeros(n),
        }
    }
}
