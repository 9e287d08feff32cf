//! Long-term plasticity: pair-based STDP with traces, homeostatic synaptic scaling and
//! structural plasticity. Each is optional; the network calls them from its step.

use serde::{Deserialize, Serialize};

/// Pair-based STDP with exponential traces (Morrison, Diesmann & Gerstner 2008, Biol Cybern
/// 98:459, "all-to-all" interaction). BL-1 constants: A+ 0.005, A− 0.00525, τ+ 20 ms,
/// τ− 50 ms, bounds [0, 0.1]. Applied to excitatory synapses from excitatory cells only.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StdpParams {
    /// Potentiation amplitude (added to the presynaptic trace per spike).
    pub a_plus: f32,
    /// Depression amplitude (added to the postsynaptic trace per spike).
    pub a_minus: f32,
    /// Presynaptic trace time constant (ms).
    pub tau_plus_ms: f32,
    /// Postsynaptic trace time constant (ms).
    pub tau_minus_ms: f32,
    /// Lower weight bound.
    pub w_min: f32,
    /// Upper weight bound.
    pub w_max: f32,
}

impl Default for StdpParams {
    fn default() -> Self {
        Self {
            a_plus: 0.005,
            a_minus: 0.00525,
            tau_plus_ms: 20.0,
            tau_minus_ms: 50.0,
            w_min: 0.0,
            w_max: 0.1,
        }
    }
}

impl StdpParams {
    /// The configured window: weight change for one pre/post pair with `dt_ms = t_post − t_pre`.
    pub fn window(&self, dt_ms: f64) -> f64 {
        if dt_ms > 0.0 {
            self.a_plus as f64 * (-dt_ms / self.tau_plus_ms as f64).exp()
        } else if dt_ms < 0.0 {
            -(self.a_minus as f64) * (dt_ms / self.tau_minus_ms as f64).exp()
        } else {
            self.a_plus as f64 - self.a_minus as f64
        }
    }
}

/// Homeostatic synaptic scaling (Turrigiano et al. 1998, Nature 391:892): every
/// `interval_ms`, each neuron's incoming excitatory weights from excitatory cells are scaled by
/// `1 + eta·interval·(r_target − r)`, where r is an exponential moving average of its rate.
/// BL-1 constants: r_target 5 Hz, η 1e-5 per ms per Hz, bounds [0.001, 0.2], EMA τ 10 s.
/// Unlike BL-1, the factor uses the real interval between updates (BL-1 multiplies by the
/// 0.5 ms step although it is meant to be called once per second, which makes it inert).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HomeostaticParams {
    /// Target rate (Hz).
    pub target_rate_hz: f32,
    /// Learning rate (per ms per Hz).
    pub eta_per_ms_hz: f32,
    /// Rate EMA time constant (ms).
    pub tau_rate_ms: f32,
    /// Update interval (ms).
    pub interval_ms: f32,
    /// Lower weight bound.
    pub w_min: f32,
    /// Upper weight bound.
    pub w_max: f32,
}

impl Default for HomeostaticParams {
    fn default() -> Self {
        Self {
            target_rate_hz: 5.0,
            eta_per_ms_hz: 1e-5,
            tau_rate_ms: 10_000.0,
            interval_ms: 1000.0,
            w_min: 0.001,
            w_max: 0.2,
        }
    }
}

/// Activity-dependent structural plasticity (after van Ooyen 1994 / Butz & van Ooyen 2013,
/// as parameterised in BL-1 §3): every `interval_ms`, weak excitatory synapses are pruned with
/// a probability that grows with how far the network is above its target synapse count, and
/// new E→any synapses grow between active cells within `max_distance_um`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StructuralParams {
    /// Synapses below this weight are candidates for pruning.
    pub prune_threshold: f32,
    /// Base pruning probability per candidate per update.
    pub prune_prob: f32,
    /// Base growth probability per active excitatory cell per update.
    pub growth_prob: f32,
    /// A cell is active above this rate (Hz) over the last interval.
    pub activity_threshold_hz: f32,
    /// Growth only to cells closer than this (µm).
    pub max_distance_um: f32,
    /// Target excitatory synapse count as a fraction of the initial count.
    pub target_fraction: f32,
    /// Weight of a new synapse.
    pub w_new: f32,
    /// Update interval (ms).
    pub interval_ms: f32,
}

impl Default for StructuralParams {
    fn default() -> Self {
        Self {
            prune_threshold: 0.001,
            prune_prob: 0.1,
            growth_prob: 0.01,
            activity_threshold_hz: 0.1,
            max_distance_um: 500.0,
            target_fraction: 1.0,
            w_new: 0.01,
            interval_ms: 1000.0,
        }
    }
}

/// Trace state and the incoming-synapse index that STDP needs.
#[derive(Clone, Debug)]
pub(crate) struct StdpState {
    pub p: StdpParams,
    pub pre_trace: Vec<f32>,
    pub post_trace: Vec<f32>,
    pub decay_pre: f32,
    pub decay_post: f32,
    /// CSC view: incoming synapse indices per postsynaptic neuron.
    pub in_ptr: Vec<u32>,
    pub in_idx: Vec<u32>,
    /// Presynaptic neuron of each synapse.
    pub src: Vec<u32>,
}

impl StdpState {
    pub fn new(p: StdpParams, n: usize, dt_ms: f32, csr: &crate::csr::Csr) -> Self {
        let (in_ptr, in_idx) = csr.incoming();
        Self {
            p,
            pre_trace: vec![0.0; n],
            post_trace: vec![0.0; n],
            decay_pre: (-dt_ms / p.tau_plus_ms).exp(),
            decay_post: (-dt_ms / p.tau_minus_ms).exp(),
            in_ptr,
            in_idx,
            src: csr.sources(),
        }
    }

    /// One step: decay traces, add this step's spikes, then depress on presynaptic spikes and
    /// potentiate on postsynaptic spikes. Only E→E-class synapses from cells `< n_exc` change;
    /// bounds are applied to the synapses that changed (BL-1 clips every synapse every step,
    /// which squashes a 0.12 culture to 0.1 at once).
    pub fn step(&mut self, spikes: &[u32], csr: &mut crate::csr::Csr, n_exc: usize) {
        for t in &mut self.pre_trace {
            *t *= self.decay_pre;
        }
        for t in &mut self.post_trace {
            *t *= self.decay_post;
        }
        for &s in spikes {
            self.pre_trace[s as usize] += self.p.a_plus;
            self.post_trace[s as usize] += self.p.a_minus;
        }
        let (lo, hi) = (self.p.w_min, self.p.w_max);
        // Depression: presynaptic spike meets the postsynaptic trace.
        for &j in spikes {
            let j = j as usize;
            if j >= n_exc {
                continue;
            }
            for s in csr.row_range(j) {
                if csr.is_inhibitory(s) {
                    continue;
                }
                let post = csr.target(s) as usize;
                let w = &mut csr.weights[s];
                *w = (*w - self.post_trace[post]).clamp(lo, hi);
            }
        }
        // Potentiation: postsynaptic spike meets the presynaptic trace.
        for &k in spikes {
            let k = k as usize;
            for &s in &self.in_idx[self.in_ptr[k] as usize..self.in_ptr[k + 1] as usize] {
                let s = s as usize;
                let pre = self.src[s] as usize;
                if pre >= n_exc || csr.is_inhibitory(s) {
                    continue;
                }
                let w = &mut csr.weights[s];
                *w = (*w + self.pre_trace[pre]).clamp(lo, hi);
            }
        }
    }
}
