//! The network and its step: neuron update (parallel over fixed neuron chunks), event-driven
//! spike propagation into a delay ring buffer, then plasticity.
//!
//! # Determinism
//! Results are bit-identical for any thread count:
//! - neurons are updated in fixed chunks (independent of the thread count), each neuron from
//!   its own counter-based noise stream ([`crate::rng`]);
//! - synaptic input is accumulated in **fixed point** (u32, a power-of-two scale chosen at
//!   build time so that no neuron's summed input can overflow). Integer addition is
//!   associative, so the ring buffer holds the same bits whatever order threads add in. The
//!   quantum is at most 2⁻¹⁰ of the largest possible summed input of a neuron (and never
//!   coarser than 2⁻²⁴ /ms), far below synaptic noise.
//!
//! # Step order (per step t)
//! 1. For every neuron: add the conductance arriving in ring slot t (split into AMPA/NMDA or
//!    GABA_A/GABA_B) to the decayed conductances; synaptic current from those and the
//!    current v; add external current and background noise; integrate; detect a spike.
//! 2. For every spike (ascending neuron order): STP efficacy, then its row's weights go into
//!    ring slot t + delay (delay ≥ 1 step, so a spike acts on currents from t + 1 on, as in
//!    BL-1 with zero delay).
//! 3. STDP, homeostatic scaling and structural plasticity, if enabled.

use std::sync::atomic::{AtomicU32, Ordering};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::csr::{Csr, INH_BIT, TARGET_MASK};
use crate::error::CoreError;
use crate::neuron::{self, Block, IzhParams, IzhScheme, Model, NeuronParams, PopulationBuilder};
use crate::plasticity::{HomeostaticParams, StdpParams, StdpState, StructuralParams};
use crate::rng;
use crate::stp::{Stp, StpParams, StpVariant};
use crate::synapse::{Conductances, ReceptorParams, ReceptorStep};

/// Neurons per work item of the parallel update. Fixed, so results never depend on threads.
const CHUNK: usize = 4096;
/// Below this many synapses to deliver in a step, propagation runs on one thread.
const PAR_SYNAPSES: usize = 32_768;

/// Background drive: a fresh draw per neuron per step, held for the step (the convention of
/// BL-1 and of the Brian2/NEST peers), in mV/ms.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NoiseParams {
    /// Mean current for excitatory cells.
    pub mean_exc: f32,
    /// Standard deviation for excitatory cells.
    pub std_exc: f32,
    /// Mean current for inhibitory cells.
    pub mean_inh: f32,
    /// Standard deviation for inhibitory cells.
    pub std_inh: f32,
}

impl Default for NoiseParams {
    fn default() -> Self {
        Self {
            mean_exc: 0.0,
            std_exc: 0.0,
            mean_inh: 0.0,
            std_inh: 0.0,
        }
    }
}

/// STP settings for a network.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StpSpec {
    /// Excitatory presynaptic class.
    pub exc: StpParams,
    /// Inhibitory presynaptic class.
    pub inh: StpParams,
    /// Model form.
    pub variant: StpVariant,
}

/// Everything needed to build a [`Network`].
#[derive(Clone, Debug)]
pub struct NetworkSpec {
    /// Time step (ms).
    pub dt_ms: f32,
    /// Neurons.
    pub population: PopulationBuilder,
    /// Neurons `[0, n_exc)` are excitatory (their STP class; STDP and scaling act on them).
    pub n_exc: usize,
    /// Connectivity (rows = presynaptic neurons).
    pub csr: Csr,
    /// Receptors.
    pub receptors: ReceptorParams,
    /// Izhikevich integration scheme.
    pub izh_scheme: IzhScheme,
    /// Background drive.
    pub noise: NoiseParams,
    /// Short-term plasticity.
    pub stp: Option<StpSpec>,
    /// STDP.
    pub stdp: Option<StdpParams>,
    /// Homeostatic scaling.
    pub homeostatic: Option<HomeostaticParams>,
    /// Structural plasticity (needs positions).
    pub structural: Option<StructuralParams>,
    /// Neuron positions (µm), for structural plasticity and the MEA.
    pub positions_um: Option<Vec<[f32; 2]>>,
    /// Axonal conduction velocity (µm/ms) for delays of grown synapses.
    pub axon_velocity_um_per_ms: f32,
    /// Seed of every random stream of the run.
    pub seed: u64,
}

impl NetworkSpec {
    /// A spec with defaults for everything but the population and wiring.
    pub fn new(
        dt_ms: f32,
        population: PopulationBuilder,
        n_exc: usize,
        csr: Csr,
        seed: u64,
    ) -> Self {
        Self {
            dt_ms,
            population,
            n_exc,
            csr,
            receptors: ReceptorParams::default(),
            izh_scheme: IzhScheme::default(),
            noise: NoiseParams::default(),
            stp: None,
            stdp: None,
            homeostatic: None,
            structural: None,
            positions_um: None,
            axon_velocity_um_per_ms: 300.0,
            seed,
        }
    }
}

struct HomeoState {
    p: HomeostaticParams,
    rate_hz: Vec<f32>,
}

struct StructState {
    p: StructuralParams,
    target_exc_synapses: f64,
    updates: u64,
}

/// Delay ring of fixed-point conductance increments: `[slot][class][neuron]`.
struct Ring {
    slots: usize,
    data: Vec<u32>,
    /// Fixed-point units per 1/ms.
    scale: f32,
}

/// A running network.
pub struct Network {
    dt_ms: f32,
    n: usize,
    n_exc: usize,
    blocks: Vec<Block>,
    params: NeuronParams,
    /// Membrane potential (mV).
    v: Vec<f32>,
    /// Recovery / adaptation variable.
    u: Vec<f32>,
    refr: Vec<u16>,
    g: Conductances,
    rec: ReceptorStep,
    /// Multipliers on each receptor (pharmacology): AMPA, NMDA, GABA_A, GABA_B.
    receptor_gain: [f32; 4],
    spikes_blocked: bool,
    izh_scheme: IzhScheme,
    noise: NoiseParams,
    noise_key: Vec<u64>,
    i_ext: Vec<f32>,
    csr: Csr,
    ring: Ring,
    fx_dirty: bool,
    stp: Option<Stp>,
    stdp: Option<StdpState>,
    homeo: Option<HomeoState>,
    structural: Option<StructState>,
    spike_counts: Vec<u32>,
    counts_since_ms: f64,
    positions: Option<Vec<[f32; 2]>>,
    axon_velocity: f32,
    seed: u64,
    step: u64,
    spikes: Vec<u32>,
    work: Vec<(usize, usize, usize)>,
    chunk_spikes: Vec<Vec<u32>>,
    total_spikes: u64,
    delivered: u64,
}

#[derive(Clone, Copy)]
struct Ptr<T>(*mut T);
unsafe impl<T> Send for Ptr<T> {}
unsafe impl<T> Sync for Ptr<T> {}
impl<T> Ptr<T> {
    /// # Safety
    /// Callers touch disjoint ranges only.
    #[inline(always)]
    unsafe fn slice(self, start: usize, end: usize) -> &'static mut [T] {
        unsafe { std::slice::from_raw_parts_mut(self.0.add(start), end - start) }
    }
}

impl Network {
    /// Builds and validates a network.
    pub fn new(spec: NetworkSpec) -> Result<Self, CoreError> {
        let n = spec.population.len();
        if !(spec.dt_ms > 0.0 && spec.dt_ms <= 2.0) {
            return Err(CoreError::range(
                "simulation.dt_ms",
                spec.dt_ms,
                "0 < dt_ms <= 2",
            ));
        }
        if spec.csr.n() != n {
            return Err(CoreError::Size(format!(
                "connectivity has {} rows, population {} neurons",
                spec.csr.n(),
                n
            )));
        }
        if spec.n_exc > n {
            return Err(CoreError::range(
                "n_exc",
                spec.n_exc,
                format!("<= {n} neurons"),
            ));
        }
        if let Some(p) = &spec.positions_um
            && p.len() != n
        {
            return Err(CoreError::Size(format!(
                "{} positions for {} neurons",
                p.len(),
                n
            )));
        }
        if spec.structural.is_some() && spec.positions_um.is_none() {
            return Err(CoreError::Size(
                "structural plasticity needs neuron positions".into(),
            ));
        }
        if spec.csr.max_delay() as usize > 4096 {
            return Err(CoreError::Limit(format!(
                "max delay {} steps > 4096",
                spec.csr.max_delay()
            )));
        }
        let slots = spec.csr.max_delay() as usize + 1;
        let mut work = Vec::new();
        for (bi, b) in spec.population.blocks.iter().enumerate() {
            let mut s = b.start;
            while s < b.end {
                let e = (s / CHUNK + 1) * CHUNK;
                let e = e.min(b.end);
                work.push((bi, s, e));
                s = e;
            }
        }
        let noise_key = (0..n as u64)
            .map(|i| rng::stream_key(spec.seed, i))
            .collect();
        let stdp = spec
            .stdp
            .map(|p| StdpState::new(p, n, spec.dt_ms, &spec.csr));
        let n_exc_syn = count_exc_synapses(&spec.csr, spec.n_exc);
        let mut net = Network {
            dt_ms: spec.dt_ms,
            n,
            n_exc: spec.n_exc,
            blocks: spec.population.blocks,
            params: spec.population.params,
            v: spec.population.v0,
            u: spec.population.u0,
            refr: vec![0; n],
            g: Conductances::zeros(n),
            rec: ReceptorStep::new(&spec.receptors, spec.dt_ms),
            receptor_gain: [1.0; 4],
            spikes_blocked: false,
            izh_scheme: spec.izh_scheme,
            noise: spec.noise,
            noise_key,
            i_ext: vec![0.0; n],
            csr: spec.csr,
            ring: Ring {
                slots,
                data: vec![0; slots * 2 * n],
                scale: 1.0,
            },
            fx_dirty: true,
            stp: spec.stp.map(|s| Stp::new(n, s.exc, s.inh, s.variant)),
            stdp,
            homeo: spec.homeostatic.map(|p| HomeoState {
                p,
                rate_hz: vec![p.target_rate_hz; n],
            }),
            structural: spec.structural.map(|p| StructState {
                p,
                target_exc_synapses: (n_exc_syn as f64 * p.target_fraction as f64).max(1.0),
                updates: 0,
            }),
            spike_counts: vec![0; n],
            counts_since_ms: 0.0,
            positions: spec.positions_um,
            axon_velocity: spec.axon_velocity_um_per_ms,
            seed: spec.seed,
            step: 0,
            spikes: Vec::new(),
            chunk_spikes: vec![Vec::new(); work.len()],
            work,
            total_spikes: 0,
            delivered: 0,
        };
        net.refresh_fixed_point();
        Ok(net)
    }

    /// Chooses the fixed-point scale so that the largest possible summed input of any neuron
    /// (all its synapses at their upper weight bound arriving in one step) fits in 2³¹, and
    /// rescales pending input if the scale changes.
    fn refresh_fixed_point(&mut self) {
        let mut upper = 0.0f32;
        if let Some(s) = &self.stdp {
            upper = upper.max(s.p.w_max);
        }
        if let Some(h) = &self.homeo {
            upper = upper.max(h.p.w_max);
        }
        if let Some(s) = &self.structural {
            upper = upper.max(s.p.w_new);
        }
        let mut bound = vec![0.0f64; 2 * self.n];
        for (s, &t) in self.csr.targets.iter().enumerate() {
            let k = (t & TARGET_MASK) as usize + if t & INH_BIT != 0 { self.n } else { 0 };
            bound[k] += self.csr.weights[s].max(upper) as f64;
        }
        let max_in = bound.iter().copied().fold(1e-3f64, f64::max);
        // Room for 4x growth (structural synapses) on top of the bound.
        let ideal = (2f64.powi(31) / (4.0 * max_in))
            .log2()
            .floor()
            .clamp(10.0, 24.0);
        let scale = 2f32.powi(ideal as i32);
        if scale != self.ring.scale {
            let ratio = scale / self.ring.scale;
            for x in &mut self.ring.data {
                if *x != 0 {
                    *x = (*x as f32 * ratio).round() as u32;
                }
            }
            self.ring.scale = scale;
        }
        self.fx_dirty = false;
    }

    /// Advances one step and returns the neurons that spiked in it (ascending).
    pub fn step(&mut self) -> &[u32] {
        if self.fx_dirty {
            self.refresh_fixed_point();
        }
        self.update_neurons();
        self.propagate();
        if let Some(s) = &mut self.stdp {
            s.step(&self.spikes, &mut self.csr, self.n_exc);
        }
        if self.homeo.is_some() || self.structural.is_some() {
            for &s in &self.spikes {
                self.spike_counts[s as usize] += 1;
            }
            self.counts_since_ms += self.dt_ms as f64;
            self.slow_plasticity();
        }
        self.total_spikes += self.spikes.len() as u64;
        self.step += 1;
        &self.spikes
    }

    /// Runs `n_steps`, calling `on_step(step_index, spikes)` after each.
    pub fn run(&mut self, n_steps: u64, mut on_step: impl FnMut(u64, &[u32])) {
        for _ in 0..n_steps {
            let t = self.step;
            self.step();
            on_step(t, &self.spikes);
        }
    }

    fn update_neurons(&mut self) {
        let slot = (self.step % self.ring.slots as u64) as usize;
        let n = self.n;
        let ring_exc = Ptr(self.ring.data[slot * 2 * n..].as_mut_ptr());
        let ring_inh = Ptr(self.ring.data[slot * 2 * n + n..].as_mut_ptr());
        let ctx = UpdateCtx {
            v: Ptr(self.v.as_mut_ptr()),
            u: Ptr(self.u.as_mut_ptr()),
            refr: Ptr(self.refr.as_mut_ptr()),
            ampa: Ptr(self.g.ampa.as_mut_ptr()),
            nmda_r: Ptr(self.g.nmda_r.as_mut_ptr()),
            nmda_d: Ptr(self.g.nmda_d.as_mut_ptr()),
            gaba_a: Ptr(self.g.gaba_a.as_mut_ptr()),
            gabab_r: Ptr(self.g.gabab_r.as_mut_ptr()),
            gabab_d: Ptr(self.g.gabab_d.as_mut_ptr()),
            ring_exc,
            ring_inh,
            inv_scale: 1.0 / self.ring.scale,
            rec: self.rec,
            gain: self.receptor_gain,
            noise: self.noise,
            n_exc: self.n_exc,
            noise_key: &self.noise_key,
            i_ext: &self.i_ext,
            params: &self.params,
            step: self.step,
            dt_ms: self.dt_ms,
            scheme: self.izh_scheme,
            blocked: self.spikes_blocked,
        };
        let blocks = &self.blocks;
        let work = &self.work;
        if n >= 2 * CHUNK && rayon::current_num_threads() > 1 {
            self.chunk_spikes
                .par_iter_mut()
                .zip(work.par_iter())
                .for_each(|(out, &(bi, s, e))| {
                    out.clear();
                    // SAFETY: work items cover disjoint neuron ranges.
                    unsafe { ctx.update(&blocks[bi].model, s, e, out) };
                });
        } else {
            for (out, &(bi, s, e)) in self.chunk_spikes.iter_mut().zip(work.iter()) {
                out.clear();
                // SAFETY: sequential.
                unsafe { ctx.update(&blocks[bi].model, s, e, out) };
            }
        }
        self.spikes.clear();
        for c in &self.chunk_spikes {
            self.spikes.extend_from_slice(c);
        }
    }

    fn propagate(&mut self) {
        if self.spikes.is_empty() {
            return;
        }
        let n = self.n;
        let slots = self.ring.slots as u64;
        let fx = self.ring.scale;
        let step = self.step;
        // STP efficacies first (sequential, O(spikes)), so delivery can run in parallel.
        let mut eff = Vec::with_capacity(self.spikes.len());
        let mut total = 0usize;
        for &j in &self.spikes {
            let j = j as usize;
            let e = match &mut self.stp {
                Some(stp) => stp.on_spike(j, step, self.dt_ms, j < self.n_exc),
                None => 1.0,
            };
            eff.push(e * fx);
            total += self.csr.row_range(j).len();
        }
        self.delivered += total as u64;
        let csr = &self.csr;
        let deliver = |j: usize, e: f32, add: &mut dyn FnMut(usize, u32)| {
            for (d, r) in csr.row_segments(j) {
                let base = ((step + d as u64) % slots) as usize * 2 * n;
                for s in r {
                    let t = csr.targets[s];
                    let idx = base + ((t >> 31) as usize) * n + (t & TARGET_MASK) as usize;
                    add(idx, (csr.weights[s] * e + 0.5) as u32);
                }
            }
        };
        if total >= PAR_SYNAPSES && rayon::current_num_threads() > 1 {
            // SAFETY: AtomicU32 has the layout of u32; the slice is not otherwise accessed
            // while the atomics are alive.
            let atoms: &[AtomicU32] = unsafe {
                std::slice::from_raw_parts(
                    self.ring.data.as_mut_ptr() as *const AtomicU32,
                    self.ring.data.len(),
                )
            };
            self.spikes
                .par_iter()
                .zip(eff.par_iter())
                .with_min_len(8)
                .for_each(|(&j, &e)| {
                    deliver(j as usize, e, &mut |idx, q| {
                        atoms[idx].fetch_add(q, Ordering::Relaxed);
                    });
                });
        } else {
            let data = &mut self.ring.data;
            for (&j, &e) in self.spikes.iter().zip(eff.iter()) {
                deliver(j as usize, e, &mut |idx, q| {
                    data[idx] = data[idx].wrapping_add(q)
                });
            }
        }
    }

    fn slow_plasticity(&mut self) {
        let mut due_h = false;
        let mut due_s = false;
        if let Some(h) = &self.homeo {
            due_h = self.counts_since_ms + 1e-9 >= h.p.interval_ms as f64;
        }
        if let Some(s) = &self.structural {
            due_s = self.counts_since_ms + 1e-9 >= s.p.interval_ms as f64;
        }
        if !(due_h || due_s) {
            return;
        }
        let window_ms = self.counts_since_ms;
        let rates: Vec<f32> = self
            .spike_counts
            .iter()
            .map(|&c| (c as f64 * 1000.0 / window_ms) as f32)
            .collect();
        if due_h && let Some(h) = &mut self.homeo {
            let a = (-(window_ms as f32) / h.p.tau_rate_ms).exp();
            for (r, &x) in h.rate_hz.iter_mut().zip(&rates) {
                *r = *r * a + x * (1.0 - a);
            }
            let k = h.p.eta_per_ms_hz * window_ms as f32;
            let factor: Vec<f32> = h
                .rate_hz
                .iter()
                .map(|&r| 1.0 + k * (h.p.target_rate_hz - r))
                .collect();
            for pre in 0..self.n_exc {
                for s in self.csr.row_range(pre) {
                    let t = self.csr.targets[s];
                    if t & INH_BIT == 0 && ((t & TARGET_MASK) as usize) < self.n_exc {
                        let w = &mut self.csr.weights[s];
                        *w = (*w * factor[(t & TARGET_MASK) as usize]).clamp(h.p.w_min, h.p.w_max);
                    }
                }
            }
        }
        if due_s {
            self.structural_update(&rates);
        }
        self.spike_counts.fill(0);
        self.counts_since_ms = 0.0;
        self.fx_dirty = true;
    }

    fn structural_update(&mut self, rates: &[f32]) {
        let (Some(st), Some(pos)) = (&mut self.structural, &self.positions) else {
            return;
        };
        let p = st.p;
        st.updates += 1;
        let mut r = rng::SplitMix::new(self.seed ^ 0x5715_0C7A, st.updates);
        let n_exc_syn = count_exc_synapses(&self.csr, self.n_exc) as f64;
        let ratio = (n_exc_syn / st.target_exc_synapses).max(1e-3);
        let p_prune = (p.prune_prob as f64 * ratio).min(1.0);
        let p_grow = (p.growth_prob as f64 / ratio).min(1.0);
        let mut syn = self.csr.to_synapses();
        syn.retain(|s| {
            let candidate =
                (s.pre as usize) < self.n_exc && !s.inhibitory && s.weight < p.prune_threshold;
            !(candidate && r.uniform() < p_prune)
        });
        let active: Vec<bool> = rates.iter().map(|&x| x > p.activity_threshold_hz).collect();
        let mut existing: std::collections::HashSet<(u32, u32)> =
            syn.iter().map(|s| (s.pre, s.post)).collect();
        let max_d2 = p.max_distance_um * p.max_distance_um;
        for pre in 0..self.n_exc {
            if !active[pre] || r.uniform() >= p_grow {
                continue;
            }
            for _ in 0..20 {
                let post = r.below(self.n as u64) as usize;
                if post == pre || !active[post] || existing.contains(&(pre as u32, post as u32)) {
                    continue;
                }
                let (a, b) = (pos[pre], pos[post]);
                let d2 = (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2);
                if d2 > max_d2 {
                    continue;
                }
                let delay = (d2.sqrt() / self.axon_velocity / self.dt_ms)
                    .round()
                    .clamp(1.0, (self.ring.slots - 1) as f32);
                syn.push(crate::csr::Synapse {
                    pre: pre as u32,
                    post: post as u32,
                    weight: p.w_new,
                    delay_steps: delay as u16,
                    inhibitory: false,
                });
                existing.insert((pre as u32, post as u32));
                break;
            }
        }
        if let Ok(csr) = Csr::from_synapses(self.n, &syn) {
            self.csr = csr;
            if let Some(s) = &mut self.stdp {
                let (pre, post) = (
                    std::mem::take(&mut s.pre_trace),
                    std::mem::take(&mut s.post_trace),
                );
                *s = StdpState::new(s.p, self.n, self.dt_ms, &self.csr);
                s.pre_trace = pre;
                s.post_trace = post;
            }
        }
    }

    /// Number of neurons.
    pub fn n(&self) -> usize {
        self.n
    }
    /// Number of excitatory neurons (indices `[0, n_exc)`).
    pub fn n_exc(&self) -> usize {
        self.n_exc
    }
    /// Number of synapses.
    pub fn n_synapses(&self) -> usize {
        self.csr.nnz()
    }
    /// Time step (ms).
    pub fn dt_ms(&self) -> f32 {
        self.dt_ms
    }
    /// Steps simulated so far.
    pub fn step_index(&self) -> u64 {
        self.step
    }
    /// Simulated time (ms).
    pub fn time_ms(&self) -> f64 {
        self.step as f64 * self.dt_ms as f64
    }
    /// Spikes of the last step.
    pub fn last_spikes(&self) -> &[u32] {
        &self.spikes
    }
    /// Spikes since the start.
    pub fn total_spikes(&self) -> u64 {
        self.total_spikes
    }
    /// Synaptic events delivered since the start (spikes × out-degree).
    pub fn synaptic_events(&self) -> u64 {
        self.delivered
    }
    /// Membrane potentials (mV).
    pub fn v(&self) -> &[f32] {
        &self.v
    }
    /// Recovery / adaptation variables.
    pub fn u(&self) -> &[f32] {
        &self.u
    }
    /// Conductances (1/ms).
    pub fn conductances(&self) -> &Conductances {
        &self.g
    }
    /// External current per neuron (mV/ms), held until changed: the MEA writes stimulation
    /// here.
    pub fn i_ext_mut(&mut self) -> &mut [f32] {
        &mut self.i_ext
    }
    /// External current per neuron (mV/ms).
    pub fn i_ext(&self) -> &[f32] {
        &self.i_ext
    }
    /// Connectivity.
    pub fn csr(&self) -> &Csr {
        &self.csr
    }
    /// Mutable connectivity (weights). The fixed-point scale is re-derived before the next step.
    pub fn csr_mut(&mut self) -> &mut Csr {
        self.fx_dirty = true;
        &mut self.csr
    }
    /// Neuron positions (µm), if the network has them.
    pub fn positions_um(&self) -> Option<&[[f32; 2]]> {
        self.positions.as_deref()
    }
    /// Receptor constants.
    pub fn receptors(&self) -> &ReceptorParams {
        &self.rec.p
    }
    /// Multipliers on AMPA, NMDA, GABA_A, GABA_B conductance input (pharmacology: CNQX
    /// blocks AMPA, APV NMDA, bicuculline GABA_A). Each must be finite and ≥ 0.
    pub fn set_receptor_gains(&mut self, gains: [f32; 4]) -> Result<(), CoreError> {
        for (i, g) in gains.iter().enumerate() {
            if !(g.is_finite() && *g >= 0.0) {
                let name = ["ampa", "nmda", "gaba_a", "gaba_b"][i];
                return Err(CoreError::range(
                    format!("receptor_gain.{name}"),
                    g,
                    "finite and >= 0",
                ));
            }
        }
        self.receptor_gain = gains;
        Ok(())
    }
    /// Receptor multipliers.
    pub fn receptor_gains(&self) -> [f32; 4] {
        self.receptor_gain
    }
    /// Blocks or restores action potentials everywhere (TTX blocks voltage-gated Na⁺
    /// channels, so no cell can fire; membrane dynamics go on).
    pub fn set_spikes_blocked(&mut self, blocked: bool) {
        self.spikes_blocked = blocked;
    }
    /// Background drive.
    pub fn noise(&self) -> NoiseParams {
        self.noise
    }
    /// Replaces the background drive.
    pub fn set_noise(&mut self, noise: NoiseParams) {
        self.noise = noise;
    }
    /// Bytes of the connectivity and the part that scales per synapse.
    pub fn connectivity_bytes(&self) -> (usize, usize) {
        self.csr.memory_bytes()
    }
    /// Izhikevich parameters of neuron `i` if it is an Izhikevich cell.
    pub fn izh_params(&self, i: usize) -> Option<IzhParams> {
        let b = self.blocks.iter().find(|b| b.start <= i && i < b.end)?;
        matches!(b.model, Model::Izhikevich).then(|| IzhParams {
            a: self.params.p0[i],
            b: self.params.p1[i],
            c: self.params.p2[i],
            d: self.params.p3[i],
        })
    }
    /// The seed of the run.
    pub fn seed(&self) -> u64 {
        self.seed
    }
}

fn count_exc_synapses(csr: &Csr, n_exc: usize) -> usize {
    (0..n_exc)
        .map(|pre| {
            csr.row_range(pre)
                .filter(|&s| !csr.is_inhibitory(s))
                .count()
        })
        .sum()
}

struct UpdateCtx<'a> {
    v: Ptr<f32>,
    u: Ptr<f32>,
    refr: Ptr<u16>,
    ampa: Ptr<f32>,
    nmda_r: Ptr<f32>,
    nmda_d: Ptr<f32>,
    gaba_a: Ptr<f32>,
    gabab_r: Ptr<f32>,
    gabab_d: Ptr<f32>,
    ring_exc: Ptr<u32>,
    ring_inh: Ptr<u32>,
    inv_scale: f32,
    rec: ReceptorStep,
    gain: [f32; 4],
    noise: NoiseParams,
    n_exc: usize,
    noise_key: &'a [u64],
    i_ext: &'a [f32],
    params: &'a NeuronParams,
    step: u64,
    dt_ms: f32,
    scheme: IzhScheme,
    blocked: bool,
}

unsafe impl Sync for UpdateCtx<'_> {}

impl UpdateCtx<'_> {
    /// Updates neurons `[s, e)` of one block.
    ///
    /// # Safety
    /// No other thread may touch `[s, e)` of the state arrays at the same time.
    unsafe fn update(&self, model: &Model, s: usize, e: usize, out: &mut Vec<u32>) {
        let (v, u, refr) = unsafe {
            (
                self.v.slice(s, e),
                self.u.slice(s, e),
                self.refr.slice(s, e),
            )
        };
        let (ampa, nr, nd) = unsafe {
            (
                self.ampa.slice(s, e),
                self.nmda_r.slice(s, e),
                self.nmda_d.slice(s, e),
            )
        };
        let (ga, br, bd) = unsafe {
            (
                self.gaba_a.slice(s, e),
                self.gabab_r.slice(s, e),
                self.gabab_d.slice(s, e),
            )
        };
        let (re, ri) = unsafe { (self.ring_exc.slice(s, e), self.ring_inh.slice(s, e)) };
        let r = &self.rec;
        let p = &r.p;
        let fa = r.f_ampa * self.gain[0];
        let fnm = r.f_nmda * self.gain[1];
        let fga = r.f_gaba_a * self.gain[2];
        let fgb = r.f_gaba_b * self.gain[3];
        let dt = self.dt_ms;
        let m = e - s;
        // Pass 1: total drive per neuron into a stack buffer, one simple loop per term so the
        // compiler can vectorise each of them.
        let mut buf = [0.0f32; CHUNK];
        let itot = &mut buf[..m];
        let inv = self.inv_scale;
        let v_in: &[f32] = v;
        let i_ext = &self.i_ext[s..e];
        for k in 0..m {
            let vk = v_in[k];
            ampa[k] = ampa[k] * r.d_ampa + re[k] as f32 * inv * fa;
            ga[k] = ga[k] * r.d_gaba_a + ri[k] as f32 * inv * fga;
            itot[k] = ampa[k] * (p.e_ampa_mv - vk) + ga[k] * (p.e_gaba_a_mv - vk) + i_ext[k];
        }
        if r.has_nmda {
            for k in 0..m {
                let vk = v_in[k];
                let ge = re[k] as f32 * inv * fnm;
                nr[k] = nr[k] * r.d_nmda_r + ge;
                nd[k] = nd[k] * r.d_nmda_d + ge;
                let block = crate::synapse::mg_block_f32(vk, r.mg_over_357);
                itot[k] += (nd[k] - nr[k]) * block * (p.e_nmda_mv - vk);
            }
        }
        if r.has_gaba_b {
            for k in 0..m {
                let gi = ri[k] as f32 * inv * fgb;
                br[k] = br[k] * r.d_gabab_r + gi;
                bd[k] = bd[k] * r.d_gabab_d + gi;
                itot[k] += (bd[k] - br[k]) * (p.e_gaba_b_mv - v_in[k]);
            }
        }
        re.fill(0);
        ri.fill(0);
        // Background noise; the E/I boundary splits the chunk into at most two runs.
        let split = self.n_exc.clamp(s, e) - s;
        let keys = &self.noise_key[s..e];
        for (lo, hi, mean, sd) in [
            (0, split, self.noise.mean_exc, self.noise.std_exc),
            (split, m, self.noise.mean_inh, self.noise.std_inh),
        ] {
            if sd > 0.0 {
                for k in lo..hi {
                    itot[k] += mean + sd * rng::approx_normal(rng::bits(keys[k], self.step));
                }
            } else if mean != 0.0 {
                for x in &mut itot[lo..hi] {
                    *x += mean;
                }
            }
        }
        let blocked = self.blocked;
        match model {
            Model::Izhikevich => {
                let pp = self.params;
                for k in 0..e - s {
                    let i = s + k;
                    let itot = itot[k];
                    let prm = IzhParams {
                        a: pp.p0[i],
                        b: pp.p1[i],
                        c: pp.p2[i],
                        d: pp.p3[i],
                    };
                    let (mut vv, mut uu) = (v[k], u[k]);
                    let spiked = neuron::izh_step(&mut vv, &mut uu, prm, itot, dt, self.scheme);
                    if spiked && blocked {
                        // Na+ channels blocked: no spike, the cell stays just below threshold.
                        v[k] = 29.0f32.min(v[k].max(prm.c));
                        u[k] = uu - prm.d;
                        continue;
                    }
                    v[k] = vv;
                    u[k] = uu;
                    if spiked {
                        out.push(i as u32);
                    }
                }
            }
            Model::Adex { shared } => {
                let pp = self.params;
                for k in 0..e - s {
                    let i = s + k;
                    let itot = itot[k];
                    let (mut vv, mut ww) = (v[k], u[k]);
                    let spiked = neuron::adex_step(
                        &mut vv, &mut ww, shared, pp.p0[i], pp.p1[i], pp.p2[i], pp.p3[i], itot, dt,
                    );
                    if spiked && blocked {
                        continue;
                    }
                    v[k] = vv;
                    u[k] = ww;
                    if spiked {
                        out.push(i as u32);
                    }
                }
            }
            Model::Lif(lp) => {
                let ref_steps = (lp.t_ref_ms / dt).round() as u16;
                for k in 0..e - s {
                    let i = s + k;
                    let itot = itot[k];
                    let (mut vv, mut ww, mut rr) = (v[k], u[k], refr[k]);
                    let spiked =
                        neuron::lif_step(&mut vv, &mut ww, &mut rr, lp, itot, dt, ref_steps);
                    if spiked && blocked {
                        continue;
                    }
                    v[k] = vv;
                    u[k] = ww;
                    refr[k] = rr;
                    if spiked {
                        out.push(i as u32);
                    }
                }
            }
        }
    }
}
