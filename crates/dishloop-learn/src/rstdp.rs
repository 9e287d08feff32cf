//! Three-factor, reward-modulated STDP (R-STDP) on a plastic projection of a network.
//!
//! Every plastic synapse `i → j` keeps an eligibility trace `e_ij` fed by STDP pairings and
//! decaying with `τ_e`: a postsynaptic spike adds `A₊·x_i` (the presynaptic trace, pre
//! before post), a presynaptic spike subtracts `A₋·y_j` (the postsynaptic trace, post before
//! pre). Nothing changes until the third factor arrives: a neuromodulatory signal `d` (here a
//! reward-prediction error delivered once per frame) turns the eligibility into a weight
//! change `Δw = η·d·e` (Izhikevich 2007, Cereb Cortex 17:2443, eqs. 1–2; Florian 2007,
//! Neural Comput 19:1468). With `d` a *prediction error* (reward minus a learned baseline)
//! the expected update is the covariance of reward and pairing, the unsupervised STDP drift
//! cancels (Frémaux, Sprekeler & Gerstner 2010, J Neurosci 30:13326), and R-STDP becomes a
//! spiking form of node perturbation whose exploration is spike-timing noise.
//!
//! The eligibility decay is applied lazily through one global scale factor, so a step costs
//! O(spikes × fan) rather than O(plastic synapses).

use serde::{Deserialize, Serialize};

use crate::LearnError;

/// Weight normalisation applied after each reinforcement (to [`RstdpConfig::normalise_sum`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Normalise {
    /// None.
    #[default]
    None,
    /// Each presynaptic neuron's plastic outgoing weights keep the sum (competition among
    /// targets, like BL-1's row-sum normalisation).
    Outgoing,
    /// Each postsynaptic neuron's plastic incoming weights keep the sum (synaptic scaling).
    Incoming,
}

/// Parameters of [`ThreeFactorStdp`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RstdpConfig {
    /// Potentiation amplitude per pairing (pre before post).
    pub a_plus: f32,
    /// Depression amplitude per pairing (post before pre).
    pub a_minus: f32,
    /// Presynaptic trace time constant (ms).
    pub tau_plus_ms: f32,
    /// Postsynaptic trace time constant (ms).
    pub tau_minus_ms: f32,
    /// Eligibility time constant (ms).
    pub tau_elig_ms: f32,
    /// Learning rate η (weight units per unit of `d·e`).
    pub eta: f32,
    /// Lower weight bound.
    pub w_min: f32,
    /// Upper weight bound.
    pub w_max: f32,
    /// Normalisation after each update.
    pub normalise: Normalise,
    /// The sum kept by the normalisation.
    pub normalise_sum: f32,
}

impl RstdpConfig {
    /// Checks every field.
    pub fn validate(&self) -> Result<(), LearnError> {
        let f = |name, v: f32, ok: bool, allowed| crate::check(name, v as f64, ok, allowed);
        f("rstdp.a_plus", self.a_plus, self.a_plus >= 0.0, ">= 0")?;
        f("rstdp.a_minus", self.a_minus, self.a_minus >= 0.0, ">= 0")?;
        f(
            "rstdp.tau_plus_ms",
            self.tau_plus_ms,
            self.tau_plus_ms > 0.0,
            "> 0",
        )?;
        f(
            "rstdp.tau_minus_ms",
            self.tau_minus_ms,
            self.tau_minus_ms > 0.0,
            "> 0",
        )?;
        f(
            "rstdp.tau_elig_ms",
            self.tau_elig_ms,
            self.tau_elig_ms > 0.0,
            "> 0",
        )?;
        f("rstdp.eta", self.eta, self.eta >= 0.0, ">= 0")?;
        f(
            "rstdp.w_min",
            self.w_min,
            self.w_min >= 0.0 && self.w_min <= self.w_max,
            "0 <= w_min <= w_max",
        )?;
        f(
            "rstdp.w_max",
            self.w_max,
            self.w_max >= self.w_min,
            ">= w_min",
        )?;
        match self.normalise {
            Normalise::Outgoing | Normalise::Incoming => f(
                "rstdp.normalise_sum",
                self.normalise_sum,
                self.normalise_sum > 0.0,
                "> 0",
            ),
            Normalise::None => Ok(()),
        }
    }
}

/// The plastic synapses of a network: their CSR indices, pre and post neurons, and both
/// adjacency views.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlasticProjection {
    /// Index of each plastic synapse in the network's CSR weight array.
    pub csr_index: Vec<u32>,
    /// Presynaptic neuron of each plastic synapse.
    pub pre: Vec<u32>,
    /// Postsynaptic neuron of each plastic synapse.
    pub post: Vec<u32>,
    out_ptr: Vec<u32>,
    out_idx: Vec<u32>,
    in_ptr: Vec<u32>,
    in_idx: Vec<u32>,
}

impl PlasticProjection {
    /// The excitatory synapses of `csr` whose pre and post neurons satisfy the predicates.
    pub fn from_csr(
        csr: &dishloop_core::Csr,
        is_pre: impl Fn(u32) -> bool,
        is_post: impl Fn(u32) -> bool,
    ) -> Self {
        let (mut csr_index, mut pre, mut post) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..csr.n() {
            if !is_pre(i as u32) {
                continue;
            }
            for s in csr.row_range(i) {
                let j = csr.target(s);
                if !csr.is_inhibitory(s) && is_post(j) {
                    csr_index.push(s as u32);
                    pre.push(i as u32);
                    post.push(j);
                }
            }
        }
        Self::from_parts(csr.n(), csr_index, pre, post)
    }

    fn from_parts(n: usize, csr_index: Vec<u32>, pre: Vec<u32>, post: Vec<u32>) -> Self {
        let index = |key: &[u32]| {
            let mut ptr = vec![0u32; n + 1];
            for &k in key {
                ptr[k as usize + 1] += 1;
            }
            for i in 0..n {
                ptr[i + 1] += ptr[i];
            }
            let mut fill = ptr.clone();
            let mut idx = vec![0u32; key.len()];
            for (s, &k) in key.iter().enumerate() {
                idx[fill[k as usize] as usize] = s as u32;
                fill[k as usize] += 1;
            }
            (ptr, idx)
        };
        let (out_ptr, out_idx) = index(&pre);
        let (in_ptr, in_idx) = index(&post);
        Self {
            csr_index,
            pre,
            post,
            out_ptr,
            out_idx,
            in_ptr,
            in_idx,
        }
    }

    /// Number of plastic synapses.
    pub fn len(&self) -> usize {
        self.csr_index.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.csr_index.is_empty()
    }

    /// Number of neurons of the network.
    pub fn n_neurons(&self) -> usize {
        self.out_ptr.len() - 1
    }

    /// Plastic synapses leaving neuron `i` (indices into this projection).
    pub fn outgoing(&self, i: usize) -> &[u32] {
        &self.out_idx[self.out_ptr[i] as usize..self.out_ptr[i + 1] as usize]
    }

    /// Plastic synapses reaching neuron `j`.
    pub fn incoming(&self, j: usize) -> &[u32] {
        &self.in_idx[self.in_ptr[j] as usize..self.in_ptr[j + 1] as usize]
    }
}

/// Reward-modulated STDP state: traces, eligibilities and the plastic weights.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ThreeFactorStdp {
    /// Parameters.
    pub cfg: RstdpConfig,
    /// The plastic synapses.
    pub proj: PlasticProjection,
    /// Plastic weights (the learner's copy; written into the network by [`Self::write_weights`]).
    pub weights: Vec<f32>,
    #[serde(skip)]
    pre_trace: Vec<f32>,
    #[serde(skip)]
    post_trace: Vec<f32>,
    /// Stored eligibilities; the true value is `elig[k] · scale`.
    #[serde(skip)]
    elig: Vec<f32>,
    #[serde(skip)]
    scale: f32,
    decay_pre: f32,
    decay_post: f32,
    decay_elig: f32,
    /// Reinforcements applied so far.
    pub updates: u64,
}

impl ThreeFactorStdp {
    /// A learner over `proj`, starting from the network's current weights `csr_weights`.
    pub fn new(
        cfg: RstdpConfig,
        proj: PlasticProjection,
        csr_weights: &[f32],
        dt_ms: f32,
    ) -> Result<Self, LearnError> {
        cfg.validate()?;
        if let Some(&bad) = proj
            .csr_index
            .iter()
            .find(|&&s| s as usize >= csr_weights.len())
        {
            return Err(LearnError::Size(format!(
                "plastic synapse {bad} outside a network of {} synapses",
                csr_weights.len()
            )));
        }
        let weights: Vec<f32> = proj
            .csr_index
            .iter()
            .map(|&s| csr_weights[s as usize])
            .collect();
        let n = proj.n_neurons();
        let m = proj.len();
        Ok(Self {
            decay_pre: (-dt_ms / cfg.tau_plus_ms).exp(),
            decay_post: (-dt_ms / cfg.tau_minus_ms).exp(),
            decay_elig: (-dt_ms / cfg.tau_elig_ms).exp(),
            cfg,
            proj,
            weights,
            pre_trace: vec![0.0; n],
            post_trace: vec![0.0; n],
            elig: vec![0.0; m],
            scale: 1.0,
            updates: 0,
        })
    }

    /// Restores transient state after deserialising (traces and eligibility start at 0) and
    /// checks sizes.
    pub fn after_load(&mut self, dt_ms: f32) -> Result<(), LearnError> {
        self.cfg.validate()?;
        if self.weights.len() != self.proj.len() {
            return Err(LearnError::Size(format!(
                "{} plastic weights for {} plastic synapses",
                self.weights.len(),
                self.proj.len()
            )));
        }
        if !self.weights.iter().all(|w| w.is_finite()) {
            return Err(LearnError::Size(
                "plastic weights hold non-finite numbers".into(),
            ));
        }
        let n = self.proj.n_neurons();
        self.pre_trace = vec![0.0; n];
        self.post_trace = vec![0.0; n];
        self.elig = vec![0.0; self.proj.len()];
        self.scale = 1.0;
        self.decay_pre = (-dt_ms / self.cfg.tau_plus_ms).exp();
        self.decay_post = (-dt_ms / self.cfg.tau_minus_ms).exp();
        self.decay_elig = (-dt_ms / self.cfg.tau_elig_ms).exp();
        Ok(())
    }

    /// Feeds one step's spikes (ascending ids): pairings update the eligibilities, then the
    /// traces decay and the spiking neurons' traces jump by 1.
    pub fn on_step(&mut self, spikes: &[u32]) {
        // Decay first so that this step's pairings use traces from earlier steps only.
        for t in &mut self.pre_trace {
            *t *= self.decay_pre;
        }
        for t in &mut self.post_trace {
            *t *= self.decay_post;
        }
        self.scale *= self.decay_elig;
        if self.scale < 1e-20 {
            self.rescale();
        }
        let inv = 1.0 / self.scale;
        let (ap, am) = (self.cfg.a_plus * inv, self.cfg.a_minus * inv);
        let n = self.pre_trace.len();
        for &s in spikes {
            let s = s as usize;
            if s >= n {
                continue;
            }
            if ap != 0.0 {
                for &k in self.proj.incoming(s) {
                    let k = k as usize;
                    self.elig[k] += ap * self.pre_trace[self.proj.pre[k] as usize];
                }
            }
            if am != 0.0 {
                for &k in self.proj.outgoing(s) {
                    let k = k as usize;
                    self.elig[k] -= am * self.post_trace[self.proj.post[k] as usize];
                }
            }
        }
        for &s in spikes {
            if let Some(t) = self.pre_trace.get_mut(s as usize) {
                *t += 1.0;
                self.post_trace[s as usize] += 1.0;
            }
        }
    }

    fn rescale(&mut self) {
        for e in &mut self.elig {
            *e *= self.scale;
        }
        self.scale = 1.0;
    }

    /// The true eligibility of plastic synapse `k`.
    pub fn eligibility(&self, k: usize) -> f32 {
        self.elig.get(k).map_or(0.0, |e| e * self.scale)
    }

    /// Applies the third factor `d`: `w += η·d·e`, clipped to the bounds, then normalised.
    pub fn reinforce(&mut self, d: f64) {
        if !d.is_finite() || d == 0.0 || self.cfg.eta == 0.0 {
            return;
        }
        let k = self.cfg.eta * d as f32 * self.scale;
        let (lo, hi) = (self.cfg.w_min, self.cfg.w_max);
        for (w, e) in self.weights.iter_mut().zip(&self.elig) {
            *w = (*w + k * e).clamp(lo, hi);
        }
        self.normalise();
        self.updates += 1;
    }

    /// Applies the configured normalisation now.
    pub fn normalise(&mut self) {
        let target = self.cfg.normalise_sum;
        let by_pre = match self.cfg.normalise {
            Normalise::None => return,
            Normalise::Outgoing => true,
            Normalise::Incoming => false,
        };
        for i in 0..self.proj.n_neurons() {
            let ks = if by_pre {
                self.proj.outgoing(i)
            } else {
                self.proj.incoming(i)
            };
            if ks.is_empty() {
                continue;
            }
            let sum: f32 = ks.iter().map(|&k| self.weights[k as usize]).sum();
            if sum > 0.0 {
                let f = target / sum;
                for &k in ks {
                    let w = &mut self.weights[k as usize];
                    *w = (*w * f).clamp(self.cfg.w_min, self.cfg.w_max);
                }
            }
        }
    }

    /// Clears eligibilities (e.g. at a new ball).
    pub fn clear_eligibility(&mut self) {
        self.elig.fill(0.0);
        self.scale = 1.0;
    }

    /// Writes the plastic weights into the network's CSR weights.
    pub fn write_weights(&self, csr_weights: &mut [f32]) {
        for (&s, &w) in self.proj.csr_index.iter().zip(&self.weights) {
            if let Some(x) = csr_weights.get_mut(s as usize) {
                *x = w;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dishloop_core::Csr;

    fn two_cell() -> (ThreeFactorStdp, Csr) {
        // 0 -> 1 excitatory, 1 -> 0 inhibitory (not plastic).
        let csr =
            Csr::from_rows(2, vec![vec![(1, 0.5, 1, false)], vec![(0, 0.5, 1, true)]]).unwrap();
        let proj = PlasticProjection::from_csr(&csr, |_| true, |_| true);
        assert_eq!(proj.len(), 1);
        let cfg = RstdpConfig {
            a_plus: 1.0,
            a_minus: 1.0,
            tau_plus_ms: 20.0,
            tau_minus_ms: 20.0,
            tau_elig_ms: 100.0,
            eta: 0.1,
            w_min: 0.0,
            w_max: 1.0,
            normalise: Normalise::None,
            normalise_sum: 1.0,
        };
        (
            ThreeFactorStdp::new(cfg, proj, csr.weights(), 1.0).unwrap(),
            csr,
        )
    }

    #[test]
    fn pre_before_post_is_eligible_and_reward_potentiates() {
        let (mut l, _) = two_cell();
        l.on_step(&[0]); // pre at t=0
        for _ in 0..9 {
            l.on_step(&[]);
        }
        l.on_step(&[1]); // post at t=10 ms
        // Pre trace e^{-10/20} = 0.6065 when the post spike arrives.
        let e = l.eligibility(0);
        assert!((e - (-10.0f32 / 20.0).exp()).abs() < 1e-5, "e {e}");
        l.reinforce(1.0);
        assert!((l.weights[0] - (0.5 + 0.1 * e)).abs() < 1e-6);
        // Eligibility decays with tau_elig: after 100 more steps, e/e.
        for _ in 0..100 {
            l.on_step(&[]);
        }
        assert!((l.eligibility(0) - e * (-1.0f32).exp()).abs() < 1e-5);
    }

    #[test]
    fn post_before_pre_depresses_under_reward_and_negative_reward_flips_it() {
        let (mut l, _) = two_cell();
        l.on_step(&[1]);
        for _ in 0..4 {
            l.on_step(&[]);
        }
        l.on_step(&[0]);
        assert!(l.eligibility(0) < 0.0);
        let w0 = l.weights[0];
        l.reinforce(-1.0);
        assert!(l.weights[0] > w0);
    }

    #[test]
    fn no_third_factor_no_change_and_lazy_decay_survives_rescaling() {
        let (mut l, mut csr) = two_cell();
        l.on_step(&[0]);
        l.on_step(&[1]);
        for _ in 0..10_000 {
            l.on_step(&[]); // scale underflows 1e-20 and is renormalised
        }
        assert!(l.eligibility(0) >= 0.0 && l.eligibility(0) < 1e-30);
        l.reinforce(0.0);
        l.write_weights(csr.weights_mut());
        assert_eq!(csr.weights()[0], 0.5);
    }

    #[test]
    fn outgoing_normalisation_keeps_row_sums() {
        let csr = Csr::from_rows(
            3,
            vec![vec![(1, 0.2, 1, false), (2, 0.6, 1, false)], vec![], vec![]],
        )
        .unwrap();
        let proj = PlasticProjection::from_csr(&csr, |i| i == 0, |_| true);
        let cfg = RstdpConfig {
            a_plus: 1.0,
            a_minus: 0.0,
            tau_plus_ms: 20.0,
            tau_minus_ms: 20.0,
            tau_elig_ms: 100.0,
            eta: 0.5,
            w_min: 0.0,
            w_max: 2.0,
            normalise: Normalise::Outgoing,
            normalise_sum: 1.0,
        };
        let mut l = ThreeFactorStdp::new(cfg, proj, csr.weights(), 1.0).unwrap();
        l.on_step(&[0]);
        l.on_step(&[1]);
        l.reinforce(1.0);
        let s: f32 = l.weights.iter().sum();
        assert!((s - 1.0).abs() < 1e-6);
        assert!(
            l.weights[0] > 0.25,
            "the paired synapse gained share: {:?}",
            l.weights
        );
    }
}
