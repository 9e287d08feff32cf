//! The network and its step: neuron update (parallel over neuron ranges), event-driven
//! spike propagation into a delay ring buffer, then plasticity.
//!
//! # Determinism
//! Results are bit-identical for any thread count:
//! - every neuron is updated by the same arithmetic whoever updates it, and draws its
//!   background noise from its own counter-based stream ([`crate::rng`]);
//! - synaptic input is accumulated in **fixed point** (u32, a power-of-two scale chosen at
//!   build time so that no neuron's summed input can overflow). Integer addition is
//!   associative, so the ring buffer holds the same bits whatever order events are added in.
//!   The quantum is at most 2⁻¹⁰ of the largest possible summed input of a neuron (and never
//!   coarser than 2⁻²⁴ /ms), far below synaptic noise.
//!
//! # Step order (per step t)
//! 1. **Update** (parallel over parts, each a contiguous range of neurons): add the
//!    conductance arriving in ring slot t (split into AMPA/NMDA or GABA_A/GABA_B) to the
//!    decayed conductances; synaptic current from those and the current v; add external
//!    current and background noise; integrate; detect spikes; STP efficacy of each spike (STP
//!    state belongs to the presynaptic cell, so to the part that owns it). With only the fast
//!    receptors on, receptors, drive and cell run as one fused loop; otherwise as passes over
//!    a chunk of 1 024 neurons. Either way the loops are branch-free and vectorise (8 lanes
//!    with AVX2, 16 with the run-time AVX-512 build; same bits).
//! 2. **Deliver** (parallel over the same parts): part p walks the rows of *all* spikes of
//!    step t, but only the synapses whose target lies in its own range (rows are sorted by
//!    target within each delay segment, so that is one contiguous sub-range, whose ends are
//!    precomputed per segment in `splits`), and adds their weights into ring slot t + delay.
//!    No two threads ever write the same ring entry, so there are no atomics and each thread's
//!    ring share stays in its own cache. Delay ≥ 1 step: a spike acts on currents from t + 1
//!    on (BL-1 with zero delay).
//! 3. STDP, homeostatic scaling and structural plasticity, if enabled (sequential).
//!
//! [`Network::step`] runs the two parallel phases with rayon. [`Network::run`] keeps a team of
//! threads alive for all its steps instead (see [`Team`]), with one barrier per step: at 4 000
//! neurons (COBA) a step takes about two microseconds, about one rayon fork-join.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::csr::{Csr, decode_post};
use crate::error::CoreError;
use crate::lines::{LINE_BYTES, LineVec};
use crate::neuron::{
    self, Block, IzhParams, IzhScheme, Model, ParamSrc, PerNeuron, PopulationBuilder,
};
use crate::plasticity::{HomeostaticParams, StdpParams, StdpState, StructuralParams};
use crate::rng;
use crate::stp::{Stp, StpParams, StpRaw, StpVariant};
use crate::synapse::{Conductances, ReceptorParams, ReceptorStep};

/// Neurons per inner chunk of the update. The per-chunk scratch (drive, spike flags) and the
/// chunk's state stay in L1 between the passes over the chunk.
const CHUNK: usize = 1024;
/// Fewest neurons per parallel part; smaller networks run on one thread.
const MIN_PART: usize = 1024;
/// Part boundaries are multiples of this (whole cache lines of every state array).
const PART_ALIGN: usize = 64;
/// In [`Network::step`], below this many synapses to deliver, delivery runs on one thread
/// (a rayon fork-join costs more than the work).
const PAR_SYNAPSES: usize = 32_768;
/// [`Network::run`] starts a thread team only for at least this many steps.
const TEAM_MIN_STEPS: u64 = 16;

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
    data: LineVec<u32>,
    /// Fixed-point units per 1/ms.
    scale: f32,
}

/// Output buffers per part: step `t` uses buffer `t % OUT_BUFS`. In [`Network::run`]'s team,
/// part p may update step t + 1 while another thread still delivers p's spikes of step t, and
/// the calling thread reads the spikes of step t − 1 meanwhile; four buffers leave a step of
/// slack so that nobody waits for the caller.
const OUT_BUFS: usize = 4;

/// Spikes a [`Mail`] holds; more are read from [`PartOut::spikes`].
const MAIL_SPIKES: usize = 11;

/// What part p's update of one step tells everyone else, in one cache line: how many neurons
/// spiked and, when they are few, which; the synapses they reach; and, in [`Network::run`]'s
/// team, the stage that wrote it (the team's barrier). A thread that waits for p's stage to
/// finish therefore gets p's spikes with the same cache-line transfer: on a small network
/// (COBA: ~4 spikes per part and step) a step costs one transfer between the threads, not one
/// per `Vec` header and buffer.
#[repr(C, align(128))]
struct Mail {
    /// Team stage that last wrote this buffer (stage k writes relative step k − 1).
    stage: AtomicU64,
    /// Synapses the spikes deliver to.
    synapses: UnsafeCell<u64>,
    /// Spikes of the part in the step.
    count: UnsafeCell<u32>,
    /// The first `MAIL_SPIKES` of them (all of them when `count <= MAIL_SPIKES`).
    spikes: UnsafeCell<[u32; MAIL_SPIKES]>,
}

impl Default for Mail {
    fn default() -> Self {
        Mail {
            stage: AtomicU64::new(0),
            synapses: UnsafeCell::new(0),
            count: UnsafeCell::new(0),
            spikes: UnsafeCell::new([0; MAIL_SPIKES]),
        }
    }
}

/// What one part produced in the update phase of a step, per output buffer (see
/// [`OUT_BUFS`]); the summary others read first is in its [`Mail`].
#[derive(Clone, Debug, Default)]
#[repr(align(128))]
struct PartOut {
    /// Neurons of the part that spiked (ascending).
    spikes: [Vec<u32>; OUT_BUFS],
    /// Per spike: STP efficacy × fixed-point scale (filled only with STP; without it every
    /// spike delivers at the fixed-point scale).
    eff: [Vec<f32>; OUT_BUFS],
    /// Scratch of one chunk: total drive (mV/ms) and spike flags, kept here so that the
    /// update neither zeroes nor allocates them per chunk.
    itot: LineVec<f32>,
    flags: LineVec<u32>,
}

/// A running network.
pub struct Network {
    dt_ms: f32,
    n: usize,
    n_exc: usize,
    blocks: Vec<Block>,
    /// Per block: its parameters if every neuron of the block has the same.
    uniform: Vec<Option<[f32; 4]>>,
    /// Per-neuron parameters `p0..p3` (see [`neuron::NeuronParams`]).
    params: [LineVec<f32>; 4],
    /// Membrane potential (mV).
    v: LineVec<f32>,
    /// Recovery / adaptation variable.
    u: LineVec<f32>,
    /// Remaining refractory steps (LIF).
    refr: LineVec<f32>,
    g: Conductances,
    rec: ReceptorStep,
    /// Multipliers on each receptor (pharmacology): AMPA, NMDA, GABA_A, GABA_B.
    receptor_gain: [f32; 4],
    spikes_blocked: bool,
    izh_scheme: IzhScheme,
    noise: NoiseParams,
    noise_stream: rng::NoiseStream,
    /// Use the fused update where the receptor set allows (tests turn it off to check that
    /// both paths give the same bits).
    fused: bool,
    /// Use the AVX-512 build of the update kernels (see `avx512_ok`).
    avx512: bool,
    /// [`PAR_SYNAPSES`] (tests lower it to exercise the parallel delivery).
    par_synapses: usize,
    /// Per-neuron key of the noise stream.
    noise_key: LineVec<u32>,
    i_ext: LineVec<f32>,
    /// `i_ext_mut` has been called: until then every external current is 0 and the fused
    /// update does not read the array (4 bytes per neuron and step less).
    i_ext_used: bool,
    csr: Csr,
    ring: Ring,
    fx_dirty: bool,
    /// Every weight (and every weight plasticity can make) is finite, ≥ 0 and below 2³¹
    /// fixed-point units, so delivery may convert without saturation checks.
    weights_sane: bool,
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
    /// Part boundaries: part p owns neurons `bounds[p]..bounds[p + 1]`.
    bounds: Vec<usize>,
    /// For every segment of the CSR, where each inner part boundary falls in it (absolute
    /// synapse index of its first target ≥ the boundary), `parts − 1` per segment: a part's
    /// share of a row is then two loads away instead of two binary searches.
    splits: Vec<u32>,
    parts: Vec<PartOut>,
    /// Team or calling thread alone, for `run` (see [`Tuner`]).
    tuner: Tuner,
    /// `OUT_BUFS` per part: part p, buffer b at `p * OUT_BUFS + b`.
    mail: Vec<Mail>,
    total_spikes: u64,
    delivered: u64,
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
        let noise_stream = rng::NoiseStream::new(spec.seed);
        let noise_key = (0..n as u32).map(|i| noise_stream.neuron_key(i)).collect();
        let stdp = spec
            .stdp
            .map(|p| StdpState::new(p, n, spec.dt_ms, &spec.csr));
        let n_exc_syn = count_exc_synapses(&spec.csr, spec.n_exc);
        let pp = &spec.population.params;
        let uniform = spec
            .population
            .blocks
            .iter()
            .map(|b| {
                let first = |k: usize| [pp.p0[k], pp.p1[k], pp.p2[k], pp.p3[k]];
                if b.start >= b.end {
                    return None;
                }
                let p = first(b.start);
                (b.start..b.end)
                    .all(|k| first(k).map(f32::to_bits) == p.map(f32::to_bits))
                    .then_some(p)
            })
            .collect();
        let mut net = Network {
            dt_ms: spec.dt_ms,
            n,
            n_exc: spec.n_exc,
            blocks: spec.population.blocks,
            uniform,
            params: [&pp.p0, &pp.p1, &pp.p2, &pp.p3].map(|p| LineVec::from_slice(p)),
            v: spec.population.v0.into(),
            u: spec.population.u0.into(),
            refr: LineVec::zeros(n),
            g: Conductances::zeros(n),
            rec: ReceptorStep::new(&spec.receptors, spec.dt_ms),
            receptor_gain: [1.0; 4],
            spikes_blocked: false,
            izh_scheme: spec.izh_scheme,
            noise: spec.noise,
            noise_stream,
            fused: true,
            avx512: avx512_ok(),
            par_synapses: PAR_SYNAPSES,
            noise_key,
            i_ext: LineVec::zeros(n),
            i_ext_used: false,
            csr: spec.csr,
            ring: Ring {
                slots,
                data: LineVec::zeros(slots * 2 * n),
                scale: 1.0,
            },
            fx_dirty: true,
            weights_sane: false,
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
            bounds: vec![0, n],
            splits: Vec::new(),
            parts: vec![PartOut::default()],
            tuner: Tuner::default(),
            mail: (0..OUT_BUFS).map(|_| Mail::default()).collect(),
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
            // A stored target is its offset in a ring slot, `[class][neuron]`.
            let k = t as usize;
            bound[k] += self.csr.weights[s].max(upper) as f64;
        }
        let max_in = bound.iter().copied().fold(1e-3f64, f64::max);
        let mut lower_ok = true;
        if let Some(s) = &self.stdp {
            lower_ok &= s.p.w_min >= 0.0;
        }
        if let Some(h) = &self.homeo {
            lower_ok &= h.p.w_min >= 0.0;
        }
        let max_w = self.csr.weights.iter().try_fold(upper as f64, |m, &w| {
            (w.is_finite() && w >= 0.0).then(|| m.max(w as f64))
        });
        // Room for 4x growth (structural synapses) on top of the bound.
        let ideal = (2f64.powi(31) / (4.0 * max_in))
            .log2()
            .floor()
            .clamp(10.0, 24.0);
        let scale = 2f32.powi(ideal as i32);
        if scale != self.ring.scale {
            let ratio = scale / self.ring.scale;
            for x in self.ring.data.iter_mut() {
                if *x != 0 {
                    *x = (*x as f32 * ratio).round() as u32;
                }
            }
            self.ring.scale = scale;
        }
        self.weights_sane =
            lower_ok && upper.is_finite() && max_w.is_some_and(|w| w * (scale as f64) < 2e9);
        // The connectivity may have changed (`csr_mut`, structural plasticity).
        self.refresh_splits();
        self.fx_dirty = false;
    }

    /// Recomputes `splits` for the current parts and connectivity.
    fn refresh_splits(&mut self) {
        let inner = &self.bounds[1..self.bounds.len() - 1];
        self.splits.clear();
        if inner.is_empty() {
            return;
        }
        self.splits.reserve(self.csr.n_segments() * inner.len());
        for s in 0..self.csr.n_segments() {
            let (_, r) = self.csr.segment(s);
            let tg = &self.csr.targets[r.clone()];
            for &b in inner {
                self.splits
                    .push((r.start + first_at_least(tg, b as u32, self.n as u32)) as u32);
            }
        }
    }

    /// Splits the neurons into `parts` contiguous ranges (one per thread). Any split gives
    /// the same results; it only decides who does which work.
    fn set_parts(&mut self, parts: usize) {
        let parts = parts.clamp(1, (self.n / MIN_PART).max(1));
        if self.parts.len() == parts {
            return;
        }
        self.bounds = (0..=parts)
            .map(|p| (self.n * p / parts / PART_ALIGN * PART_ALIGN).min(self.n))
            .collect();
        self.bounds[parts] = self.n;
        self.parts = vec![PartOut::default(); parts];
        // Spike buffers of a few kB: far larger than a step's spikes usually need, so they
        // rarely move, and no other thread's small allocation shares the lines written here.
        for (q, out) in self.parts.iter_mut().enumerate() {
            let len = self.bounds[q + 1] - self.bounds[q];
            for b in &mut out.spikes {
                b.reserve_exact(len.min(1024) + LINE_BYTES / 4);
            }
        }
        self.mail = (0..parts * OUT_BUFS).map(|_| Mail::default()).collect();
        self.refresh_splits();
    }

    /// Advances one step and returns the neurons that spiked in it (ascending).
    pub fn step(&mut self) -> &[u32] {
        self.set_parts(rayon::current_num_threads());
        let ctx = self.begin_step();
        let parts = self.parts.len();
        if parts > 1 {
            (0..parts).into_par_iter().for_each(|p| {
                // SAFETY: each part owns its neuron range and its `PartOut`.
                unsafe { ctx.update_part(p, false) }
            });
        } else {
            // SAFETY: one part, this thread only.
            unsafe { ctx.update_part(0, false) };
        }
        let synapses: u64 = (0..parts).map(|q| ctx.synapses_of(q)).sum();
        if parts > 1 && synapses >= self.par_synapses as u64 {
            (0..parts).into_par_iter().for_each(|p| {
                // SAFETY: part p writes only ring entries of its own targets.
                unsafe { ctx.deliver(Some(p)) }
            });
        } else {
            // SAFETY: this thread only.
            unsafe { ctx.deliver(None) };
        }
        self.end_step();
        &self.spikes
    }

    /// Runs `n_steps`, calling `on_step(step_index, spikes)` after each.
    ///
    /// With more than one rayon thread (the current pool's size) and a network of at least
    /// two parts, the steps run on a team of threads that stays alive for the whole call:
    /// the calling thread plus helpers spawned into the current rayon pool (see [`Team`]).
    /// Where the second core does not pay off (a small network on cores far apart or shared
    /// with other work), a tuner moves the steps to the calling thread alone and checks again
    /// every few tens of milliseconds ([`Network::team_and_solo_stages`] counts both).
    /// Results are identical to calling [`Network::step`] `n_steps` times.
    pub fn run(&mut self, n_steps: u64, mut on_step: impl FnMut(u64, &[u32])) {
        let threads = rayon::current_num_threads();
        self.set_parts(threads);
        let plastic = self.stdp.is_some() || self.homeo.is_some() || self.structural.is_some();
        if self.parts.len() > 1 && n_steps >= TEAM_MIN_STEPS && !plastic {
            self.run_team(n_steps, &mut on_step);
            return;
        }
        for _ in 0..n_steps {
            let t = self.step;
            self.step();
            on_step(t, &self.spikes);
        }
    }

    /// Runs `steps` steps split into `parts` parts (as a team of that many threads would, but
    /// all on this thread, one phase after another) and returns the mean time per step of
    /// each phase: the update of each part, then the delivery of each part, then the step's
    /// bookkeeping — in time-stamp-counter cycles on x86-64, nanoseconds elsewhere. Spikes are
    /// those of [`Network::step`]. For measuring what splitting a step costs
    /// (`dishloop bench --one CASE --profile-parts N`); `parts` is capped as for a team.
    ///
    /// ```
    /// # use dishloop_core::{Csr, Network, NetworkSpec, PopulationBuilder, LifParams};
    /// let mut pop = PopulationBuilder::new();
    /// for _ in 0..2048 {
    ///     pop.push_lif(LifParams::coba(), -55.0);
    /// }
    /// let csr = Csr::from_rows(2048, vec![vec![]; 2048]).unwrap();
    /// let mut net = Network::new(NetworkSpec::new(0.1, pop, 1600, csr, 1)).unwrap();
    /// let t = net.profile_parts(2, 10);
    /// assert_eq!(t.len(), 2 * 2 + 1);
    /// ```
    pub fn profile_parts(&mut self, parts: usize, steps: u64) -> Vec<f64> {
        fn ticks() -> u64 {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: RDTSC exists on every x86-64 CPU.
            return unsafe { std::arch::x86_64::_rdtsc() };
            #[cfg(not(target_arch = "x86_64"))]
            {
                use std::sync::OnceLock;
                static T0: OnceLock<std::time::Instant> = OnceLock::new();
                T0.get_or_init(std::time::Instant::now).elapsed().as_nanos() as u64
            }
        }
        self.set_parts(parts);
        let parts = self.parts.len();
        let mut sum = vec![0u64; 2 * parts + 1];
        for _ in 0..steps {
            let ctx = self.begin_step();
            for (p, acc) in sum[..parts].iter_mut().enumerate() {
                let t0 = ticks();
                // SAFETY: one thread, part by part.
                unsafe { ctx.update_part(p, false) };
                *acc += ticks() - t0;
            }
            for (p, acc) in sum[parts..2 * parts].iter_mut().enumerate() {
                let t0 = ticks();
                // SAFETY: one thread; every update of the step is complete.
                unsafe { ctx.deliver((parts > 1).then_some(p)) };
                *acc += ticks() - t0;
            }
            let t0 = ticks();
            self.end_step();
            sum[2 * parts] += ticks() - t0;
        }
        sum.iter()
            .map(|&x| x as f64 / steps.max(1) as f64)
            .collect()
    }

    /// Everything sequential before the parallel phases of a step: the fixed-point scale,
    /// then the raw view of the state the phases work on.
    fn begin_step(&mut self) -> StepCtx {
        if self.fx_dirty {
            self.refresh_fixed_point();
        }
        let n = self.n;
        let slot = (self.step % self.ring.slots as u64) as usize;
        StepCtx {
            n,
            n_exc: self.n_exc,
            v: self.v.as_mut_ptr(),
            u: self.u.as_mut_ptr(),
            refr: self.refr.as_mut_ptr(),
            ampa: self.g.ampa.as_mut_ptr(),
            nmda_r: self.g.nmda_r.as_mut_ptr(),
            nmda_d: self.g.nmda_d.as_mut_ptr(),
            gaba_a: self.g.gaba_a.as_mut_ptr(),
            gabab_r: self.g.gabab_r.as_mut_ptr(),
            gabab_d: self.g.gabab_d.as_mut_ptr(),
            ring: self.ring.data.as_mut_ptr(),
            slot,
            slots: self.ring.slots,
            fx_scale: self.ring.scale,
            weights_sane: self.weights_sane,
            inv_scale: 1.0 / self.ring.scale,
            rec: self.rec,
            gain: self.receptor_gain,
            noise: self.noise,
            noise_key: self.noise_key.as_ptr(),
            noise_word: self.noise_stream.step_word(self.step),
            noise_stream: self.noise_stream,
            i_ext: self.i_ext.as_ptr(),
            i_ext_used: self.i_ext_used,
            params: [
                self.params[0].as_ptr(),
                self.params[1].as_ptr(),
                self.params[2].as_ptr(),
                self.params[3].as_ptr(),
            ],
            blocks: (self.blocks.as_ptr(), self.blocks.len()),
            uniform: self.uniform.as_ptr(),
            csr: &self.csr as *const Csr,
            stp: self.stp.as_mut().map(Stp::raw),
            bounds: (self.bounds.as_ptr(), self.bounds.len()),
            splits: self.splits.as_ptr(),
            parts: self.parts.as_mut_ptr(),
            mail: self.mail.as_ptr(),
            step: self.step,
            dt_ms: self.dt_ms,
            scheme: self.izh_scheme,
            blocked: self.spikes_blocked,
            fused: self.fused,
            avx512: self.avx512,
        }
    }

    /// Everything sequential after the parallel phases: the step's spike list (parts in
    /// order, so ascending), counters and plasticity.
    fn end_step(&mut self) {
        let buf = out_buf(self.step);
        self.spikes.clear();
        for q in 0..self.parts.len() {
            // SAFETY: only this step's buffer is borrowed: in `run`'s team helpers may be
            // writing other buffers of the same part meanwhile.
            let (spikes, synapses) = unsafe {
                let parts = self.parts.as_ptr();
                let mail = self.mail.as_ptr();
                (
                    spikes_in(parts, mail, q, buf),
                    *(*mail_of(mail, q, buf)).synapses.get(),
                )
            };
            self.spikes.extend_from_slice(spikes);
            self.delivered += synapses;
        }
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
    }

    /// [`Network::run`] on a team of threads, one barrier per step.
    ///
    /// Stage k runs, for every part p: the delivery of step k − 2 into p's targets, then the
    /// update of step k − 1 of p's neurons (stages count from 1; relative steps from 0). Both
    /// touch only p's ring entries and neurons, so they need no barrier between them; stage
    /// k + 1 opens when every part of stage k is done, so all spikes of a step are known before
    /// they are delivered. The calling thread does the sequential rest of step k − 2 (spike
    /// list, counters, the callback) after its part of stage k, while the others finish
    /// theirs; outputs have [`OUT_BUFS`] buffers, and a stage that would overwrite a step the
    /// caller has not read yet waits for it (see [`Team`]).
    /// Without plasticity nothing changes between steps but the step index, so every member
    /// derives a step's view from the first one. Plasticity changes weights and the
    /// fixed-point scale between delivery and the next update; plastic networks run through
    /// [`Network::step`] instead.
    fn run_team(&mut self, n_steps: u64, on_step: &mut dyn FnMut(u64, &[u32])) {
        let parts = self.parts.len();
        // Stage marks count from 1 in every run.
        for m in &mut self.mail {
            *m.stage.get_mut() = 0;
        }
        let team = Team::new(parts, n_steps, self.begin_step());
        let mut tuner = std::mem::take(&mut self.tuner);
        team.solo.0.store(tuner.solo, Ordering::Relaxed);
        rayon::in_place_scope(|scope| {
            // Stops the helpers if the callback panics (they would wait for the caller).
            let _stop = StopOnDrop(&team);
            for me in 1..parts {
                let team = &team;
                scope.spawn(move |_| team.help(me));
            }
            let mut member = Member::default();
            let mut consumed = 0;
            let mut clock = std::time::Instant::now();
            for k in 1..=team.last {
                team.wait_open(&mut member, k);
                if tuner.solo {
                    team.run_all(&mut member, k);
                } else {
                    team.run_part(&mut member, 0, k);
                }
                // Stage k − 1 is complete, so step k − 2 is: read it while the others work.
                while consumed + 2 <= k {
                    self.end_step();
                    on_step(self.step - 1, &self.spikes);
                    consumed += 1;
                    team.acked.0.store(consumed, Ordering::Release);
                }
                let now = std::time::Instant::now();
                if tuner.tick(now.duration_since(clock)) {
                    team.solo.0.store(tuner.solo, Ordering::Release);
                    if !tuner.solo {
                        team.wake_helpers();
                    }
                }
                clock = now;
            }
            // The last stage's deliveries leave the ring as `step` would.
            team.wait_open(&mut member, team.last + 1);
        });
        self.tuner = tuner;
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
                    // Excitatory class (t < n) onto an excitatory cell.
                    let t = self.csr.targets[s] as usize;
                    if t < self.n_exc {
                        let w = &mut self.csr.weights[s];
                        *w = (*w * factor[t]).clamp(h.p.w_min, h.p.w_max);
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

    /// Stages [`Network::run`] has run so far on a thread team and on the calling thread
    /// alone (solo: the team's tuner found the second core slower than none; see the
    /// `Tuner` in this module). Both 0 where `run` never used a team.
    pub fn team_and_solo_stages(&self) -> (u64, u64) {
        (self.tuner.stages[0], self.tuner.stages[1])
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
        self.i_ext_used = true;
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
    /// Bytes of all the state a step touches: connectivity, per-neuron state and parameters,
    /// the delay ring, STP and plasticity state (heap buffers at their length; small fixed
    /// overheads left out).
    pub fn memory_bytes(&self) -> usize {
        let f = std::mem::size_of::<f32>();
        let per_neuron = self.v.len() * f
            + self.u.len() * f
            + self.refr.len() * 4
            + 6 * self.g.ampa.len() * f
            + self.noise_key.len() * 4
            + self.i_ext.len() * f
            + 4 * self.params[0].len() * f
            + self.spike_counts.len() * 4;
        let stp = self.stp.as_ref().map_or(0, |_| self.n * (4 + 4 + 8));
        let stdp = self.stdp.as_ref().map_or(0, |s| {
            (s.pre_trace.len() + s.post_trace.len()) * f
                + (s.in_ptr.len() + s.in_idx.len() + s.src.len()) * 4
        });
        let homeo = self.homeo.as_ref().map_or(0, |h| h.rate_hz.len() * f);
        self.csr.memory_bytes().0
            + self.splits.len() * 4
            + per_neuron
            + self.ring.data.len() * 4
            + stp
            + stdp
            + homeo
    }
    /// Izhikevich parameters of neuron `i` if it is an Izhikevich cell.
    pub fn izh_params(&self, i: usize) -> Option<IzhParams> {
        let b = self.blocks.iter().find(|b| b.start <= i && i < b.end)?;
        matches!(b.model, Model::Izhikevich).then(|| IzhParams {
            a: self.params[0][i],
            b: self.params[1][i],
            c: self.params[2][i],
            d: self.params[3][i],
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

/// Raw view of a network for the parallel phases of one step.
///
/// Built by [`Network::begin_step`] from `&mut Network` while no phase runs; valid until the
/// step ends (nothing reallocates during a step). The phases share it across threads under
/// one rule: in the update phase part p touches only the state of its own neurons and its
/// own [`PartOut`]; in the delivery phase part p reads every `PartOut` and the CSR and writes
/// only ring entries of its own neurons.
#[derive(Clone, Copy)]
struct StepCtx {
    n: usize,
    n_exc: usize,
    v: *mut f32,
    u: *mut f32,
    refr: *mut f32,
    ampa: *mut f32,
    nmda_r: *mut f32,
    nmda_d: *mut f32,
    gaba_a: *mut f32,
    gabab_r: *mut f32,
    gabab_d: *mut f32,
    ring: *mut u32,
    /// Ring slot of this step.
    slot: usize,
    slots: usize,
    fx_scale: f32,
    weights_sane: bool,
    inv_scale: f32,
    rec: ReceptorStep,
    gain: [f32; 4],
    noise: NoiseParams,
    noise_key: *const u32,
    /// `Network::i_ext_used`.
    i_ext_used: bool,
    /// Step word of the noise stream (see [`rng::NoiseStream`]).
    noise_word: u32,
    noise_stream: rng::NoiseStream,
    i_ext: *const f32,
    params: [*const f32; 4],
    blocks: (*const Block, usize),
    /// Parallel to `blocks`.
    uniform: *const Option<[f32; 4]>,
    csr: *const Csr,
    stp: Option<StpRaw>,
    bounds: (*const usize, usize),
    /// `Network::splits`.
    splits: *const u32,
    parts: *mut PartOut,
    /// `Network::mail`.
    mail: *const Mail,
    step: u64,
    dt_ms: f32,
    scheme: IzhScheme,
    blocked: bool,
    fused: bool,
    /// Run the AVX-512 build of the update kernels.
    avx512: bool,
}

// SAFETY: the pointers are only dereferenced under the ownership rule stated on the type.
unsafe impl Send for StepCtx {}
unsafe impl Sync for StepCtx {}

/// Output buffer of step `t` (see [`OUT_BUFS`]).
fn out_buf(t: u64) -> usize {
    (t % OUT_BUFS as u64) as usize
}

/// Buffer `b` of part q's [`Mail`] in the network's `mail` array (`OUT_BUFS` per part).
fn mail_of(mail: *const Mail, q: usize, b: usize) -> *const Mail {
    mail.wrapping_add(q * OUT_BUFS + b)
}

/// Spikes of part q in output buffer `b`: from its mail when they fit, else from its
/// [`PartOut`].
///
/// # Safety
/// `parts` and `mail` are the network's; q's update of the buffer's step is complete and
/// nobody writes the buffer while the slice lives.
unsafe fn spikes_in<'a>(parts: *const PartOut, mail: *const Mail, q: usize, b: usize) -> &'a [u32] {
    unsafe {
        let m = &*mail_of(mail, q, b);
        let count = *m.count.get() as usize;
        if count <= MAIL_SPIKES {
            (*m.spikes.get()).get_unchecked(..count)
        } else {
            &(*parts.add(q)).spikes[b]
        }
    }
}

/// `len` elements from `ptr + start`, mutable.
///
/// # Safety
/// In bounds, and nobody else touches the range while the slice lives.
#[inline(always)]
unsafe fn part_mut<'a, T>(ptr: *mut T, start: usize, len: usize) -> &'a mut [T] {
    unsafe { std::slice::from_raw_parts_mut(ptr.add(start), len) }
}

/// `len` elements from `ptr + start`, shared.
///
/// # Safety
/// In bounds, and nobody writes the range while the slice lives.
#[inline(always)]
unsafe fn part_ref<'a, T>(ptr: *const T, start: usize, len: usize) -> &'a [T] {
    unsafe { std::slice::from_raw_parts(ptr, start + len).get_unchecked(start..) }
}

impl StepCtx {
    /// The same view for step `t` (what differs between steps of a run without plasticity).
    fn at_step(&self, t: u64) -> StepCtx {
        StepCtx {
            step: t,
            slot: (t % self.slots as u64) as usize,
            noise_word: self.noise_stream.step_word(t),
            ..*self
        }
    }

    /// Output buffer of this step (see [`OUT_BUFS`]).
    fn buf(&self) -> usize {
        out_buf(self.step)
    }

    /// Buffer `b` of part q's mail.
    fn mail(&self, q: usize, b: usize) -> &Mail {
        // SAFETY: `mail` holds OUT_BUFS entries per part and q is a part.
        unsafe { &*mail_of(self.mail, q, b) }
    }

    /// Synapses part q's spikes of this step deliver to (its update must be complete).
    fn synapses_of(&self, q: usize) -> u64 {
        // SAFETY: written only by q's update of this step, which is complete.
        unsafe { *self.mail(q, self.buf()).synapses.get() }
    }

    fn bounds_of(&self, p: usize) -> (usize, usize) {
        // SAFETY: `bounds` has parts + 1 entries and p < parts.
        let b = unsafe { part_ref(self.bounds.0, 0, self.bounds.1) };
        (b[p], b[p + 1])
    }

    /// Update phase of part `p`: its neurons, its spikes, their STP efficacies. With `whole`,
    /// of every neuron, with all spikes in part p's outputs (see [`Team::run_all`]).
    ///
    /// # Safety
    /// Nobody else runs part `p` of this step or touches its neurons' state meanwhile (with
    /// `whole`: any neuron's state, or any part's outputs of this step).
    unsafe fn update_part(&self, p: usize, whole: bool) {
        #[cfg(target_arch = "x86_64")]
        if self.avx512 {
            // SAFETY: `avx512` is set only where the CPU has these features (`avx512_ok`).
            return unsafe { self.update_part_avx512(p, whole) };
        }
        // SAFETY: forwarded.
        unsafe { self.update_part_impl(p, whole) }
    }

    /// Empties part q's outputs of this step (its spikes were produced by a `whole` update).
    ///
    /// # Safety
    /// Nobody else touches part q's outputs of this step meanwhile.
    unsafe fn clear_outputs(&self, q: usize) {
        let buf = self.buf();
        let mail = self.mail(q, buf);
        // SAFETY: as the caller promises.
        unsafe {
            let out = self.parts.add(q);
            (*out).spikes[buf].clear();
            (*out).eff[buf].clear();
            *mail.synapses.get() = 0;
            *mail.count.get() = 0;
        }
    }

    /// [`StepCtx::update_part`] compiled for AVX-512 (x86-64-v4): the same kernels, inlined
    /// here, 16 lanes wide. Same IEEE operations in the same order, so the same bits.
    ///
    /// # Safety
    /// As `update_part`, and the CPU has AVX-512 F/BW/DQ/VL.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
    unsafe fn update_part_avx512(&self, p: usize, whole: bool) {
        // SAFETY: forwarded.
        unsafe { self.update_part_impl(p, whole) }
    }

    /// The update phase proper; the kernels below are `#[inline(always)]` so that they are
    /// compiled once per instruction set, inside `update_part` and `update_part_avx512`.
    /// (Their slice parameters keep LLVM's no-alias scopes when inlined.)
    ///
    /// # Safety
    /// As `update_part`.
    #[inline(always)]
    unsafe fn update_part_impl(&self, p: usize, whole: bool) {
        let (lo, hi) = if whole {
            (0, self.n)
        } else {
            self.bounds_of(p)
        };
        let buf = self.buf();
        // SAFETY: part p's own output (type-level rule). Only this step's buffer and the
        // scratch are borrowed: another thread may be reading the other buffer of the same
        // `PartOut` (the previous step's spikes) meanwhile.
        let (spikes, eff, itot, flags) = unsafe {
            let out = self.parts.add(p);
            (
                &mut (*out).spikes[buf],
                &mut (*out).eff[buf],
                &mut (*out).itot,
                &mut (*out).flags,
            )
        };
        spikes.clear();
        eff.clear();
        if itot.len() < CHUNK {
            *itot = LineVec::zeros(CHUNK);
            *flags = LineVec::zeros(CHUNK);
        }
        // SAFETY: blocks are read-only during a step.
        let blocks = unsafe { part_ref(self.blocks.0, 0, self.blocks.1) };
        // SAFETY: parallel to `blocks`, read-only.
        let uniform = unsafe { part_ref(self.uniform, 0, self.blocks.1) };
        for (b, &uni) in blocks.iter().zip(uniform) {
            let (s0, e0) = (b.start.max(lo), b.end.min(hi));
            let mut s = s0;
            while s < e0 {
                let e = (s + CHUNK).min(e0);
                // SAFETY: [s, e) lies in part p's range.
                unsafe { self.update_chunk(&b.model, uni, s, e, spikes, itot, flags) };
                s = e;
            }
        }
        // SAFETY: read-only during a step.
        let csr = unsafe { &*self.csr };
        let mut synapses = 0;
        for &j in spikes.iter() {
            let j = j as usize;
            if let Some(stp) = &self.stp {
                // SAFETY: j is one of part p's neurons.
                let e = unsafe { stp.on_spike(j, self.step, self.dt_ms, j < self.n_exc) };
                eff.push(e * self.fx_scale);
            }
            synapses += csr.row_range(j).len() as u64;
        }
        let mail = self.mail(p, buf);
        let k = spikes.len().min(MAIL_SPIKES);
        // SAFETY: this buffer of part p's mail is ours until the update is complete (nobody
        // reads it before: the team's stage mark, or the join of `step`'s phases, orders them).
        unsafe {
            *mail.synapses.get() = synapses;
            *mail.count.get() = spikes.len() as u32;
            (&mut *mail.spikes.get())[..k].copy_from_slice(&spikes[..k]);
        }
    }

    /// Updates neurons `[s, e)` of one block and appends those that spiked to `out`.
    ///
    /// # Safety
    /// `[s, e)` is in bounds and nobody else touches those neurons meanwhile.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    unsafe fn update_chunk(
        &self,
        model: &Model,
        uniform: Option<[f32; 4]>,
        s: usize,
        e: usize,
        spikes: &mut Vec<u32>,
        itot: &mut [f32],
        flags: &mut [u32],
    ) {
        let m = e - s;
        let n = self.n;
        // SAFETY: neurons [s, e) are ours (caller); ring entries of slot `slot` for them too.
        let (v, u, refr, ampa, nr, nd, ga, br, bd, re, ri) = unsafe {
            let ring = self.ring.add(self.slot * 2 * n);
            (
                part_mut(self.v, s, m),
                part_mut(self.u, s, m),
                part_mut(self.refr, s, m),
                part_mut(self.ampa, s, m),
                part_mut(self.nmda_r, s, m),
                part_mut(self.nmda_d, s, m),
                part_mut(self.gaba_a, s, m),
                part_mut(self.gabab_r, s, m),
                part_mut(self.gabab_d, s, m),
                part_mut(ring, s, m),
                part_mut(ring, n + s, m),
            )
        };
        // SAFETY: read-only during a step.
        let (i_ext, keys, prm) = unsafe {
            (
                part_ref(self.i_ext, s, m),
                part_ref(self.noise_key, s, m),
                [
                    part_ref(self.params[0], s, m),
                    part_ref(self.params[1], s, m),
                    part_ref(self.params[2], s, m),
                    part_ref(self.params[3], s, m),
                ],
            )
        };
        let r = &self.rec;
        let inv = self.inv_scale;
        let gain = self.gain;
        let (dt, blocked) = (self.dt_ms, self.blocked);
        let per = PerNeuron(prm);
        // The background drive splits the chunk at the E/I boundary into at most two runs.
        let split = self.n_exc.clamp(s, e) - s;
        let nz = self.noise;
        let runs = [
            (0, split, Drive::of(nz.mean_exc, nz.std_exc)),
            (split, m, Drive::of(nz.mean_inh, nz.std_inh)),
        ];
        let fired = &mut flags[..m];
        let lif = match model {
            Model::Lif(lp) => Some(neuron::LifConsts::new(lp, dt)),
            _ => None,
        };
        if self.fused && !r.has_nmda && !r.has_gaba_b && !matches!(model, Model::Adex { .. }) {
            // Fused path (no slow receptors, no AdEx): receptors, drive and cell in one loop,
            // so the drive never goes through memory. Same arithmetic as the passes below.
            let fk = FastKernel {
                d_ampa: r.d_ampa,
                d_gaba_a: r.d_gaba_a,
                e_ampa: r.p.e_ampa_mv,
                e_gaba_a: r.p.e_gaba_a_mv,
                inv,
                fa: r.f_ampa * gain[0],
                fga: r.f_gaba_a * gain[2],
                word: self.noise_word,
                dt,
                blocked,
                ext: self.i_ext_used,
            };
            for (lo, hi, drive) in runs {
                if lo == hi {
                    continue;
                }
                let st = Fused {
                    ampa: &mut ampa[lo..hi],
                    ga: &mut ga[lo..hi],
                    re: &mut re[lo..hi],
                    ri: &mut ri[lo..hi],
                    v: &mut v[lo..hi],
                    u: &mut u[lo..hi],
                    refr: &mut refr[lo..hi],
                    i_ext: &i_ext[lo..hi],
                    keys: &keys[lo..hi],
                    fired: &mut fired[lo..hi],
                };
                match (&lif, uniform) {
                    (Some(c), _) => fused_lif(st, &fk, drive, c),
                    (None, Some(p)) => fused_izh(st, &fk, drive, p, self.scheme),
                    (None, None) => fused_izh(st, &fk, drive, per.sub(lo, hi), self.scheme),
                }
            }
        } else {
            // Pass 1: conductances and the total drive per neuron, one loop per term, each in
            // its own function: slices passed as arguments carry `noalias`, which is what lets
            // LLVM vectorise loops over half a dozen arrays without runtime overlap checks.
            let itot = &mut itot[..m];
            fast_receptors(ampa, ga, itot, re, ri, v, i_ext, r, inv, gain);
            if r.has_nmda {
                nmda(nr, nd, itot, re, v, r, inv, r.f_nmda * gain[1]);
            }
            if r.has_gaba_b {
                gaba_b(br, bd, itot, ri, v, r, inv, r.f_gaba_b * gain[3]);
            }
            re.fill(0);
            ri.fill(0);
            for (lo, hi, drive) in runs {
                match drive {
                    Drive::Noise(mean, sd) => {
                        add_noise(&mut itot[lo..hi], &keys[lo..hi], self.noise_word, mean, sd);
                    }
                    Drive::Mean(mean) => {
                        for x in &mut itot[lo..hi] {
                            *x += mean;
                        }
                    }
                    Drive::None => {}
                }
            }
            // Pass 2: the neuron model, spikes as 0/1 flags.
            match (model, uniform) {
                (Model::Izhikevich, Some(c)) => {
                    neuron::izh_chunk(v, u, c, itot, fired, dt, self.scheme, blocked);
                }
                (Model::Izhikevich, None) => {
                    neuron::izh_chunk(v, u, per, itot, fired, dt, self.scheme, blocked);
                }
                (Model::Adex { shared }, Some(c)) => {
                    neuron::adex_chunk(v, u, shared, c, itot, fired, dt, blocked);
                }
                (Model::Adex { shared }, None) => {
                    neuron::adex_chunk(v, u, shared, per, itot, fired, dt, blocked);
                }
                (Model::Lif(_), _) => {
                    let c = lif.expect("LIF constants");
                    neuron::lif_chunk(v, u, refr, &c, itot, fired, blocked);
                }
            }
        }
        // Collect the spikes, skipping 16 flags at a time while all are zero (most are).
        let groups = fired.chunks_exact(16);
        let tail = groups.remainder().len();
        for (g, f16) in groups.enumerate() {
            if f16.iter().fold(0, |a, &f| a | f) != 0 {
                for (j, &f) in f16.iter().enumerate() {
                    if f != 0 {
                        spikes.push((s + g * 16 + j) as u32);
                    }
                }
            }
        }
        for (j, &f) in fired[m - tail..].iter().enumerate() {
            if f != 0 {
                spikes.push((s + m - tail + j) as u32);
            }
        }
    }

    /// Delivery: the rows of every spike of this step, restricted to the targets of `part`
    /// (all targets for `None`), go into the ring slot of their delay.
    ///
    /// # Safety
    /// Nobody else writes ring entries of the part's neurons meanwhile, and the update phase
    /// of this step is complete.
    unsafe fn deliver(&self, range: Option<usize>) {
        #[cfg(target_arch = "x86_64")]
        if self.avx512 {
            // SAFETY: `avx512` is set only where the CPU has these features.
            return unsafe { self.deliver_avx512(range) };
        }
        // SAFETY: forwarded.
        unsafe { self.deliver_any(range) }
    }

    /// [`StepCtx::deliver`] compiled for AVX-512 (see `update_part_avx512`).
    ///
    /// # Safety
    /// As `deliver`, and the CPU has AVX-512 F/BW/DQ/VL.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq,avx512vl")]
    unsafe fn deliver_avx512(&self, range: Option<usize>) {
        // SAFETY: forwarded.
        unsafe { self.deliver_any(range) }
    }

    /// # Safety
    /// As `deliver`.
    #[inline(always)]
    unsafe fn deliver_any(&self, range: Option<usize>) {
        if self.weights_sane {
            // SAFETY: forwarded from the caller; weights are sane.
            unsafe { self.deliver_impl::<true>(range) }
        } else {
            // SAFETY: forwarded from the caller.
            unsafe { self.deliver_impl::<false>(range) }
        }
    }

    /// [`StepCtx::deliver`]. With `SANE`, weights are known finite, ≥ 0 and small enough
    /// (see `Network::refresh_fixed_point`) for a plain truncating conversion; otherwise the
    /// saturating `as` maps NaN and negative products to 0.
    ///
    /// # Safety
    /// As [`StepCtx::deliver`]; with `SANE`, `weights_sane` holds.
    #[inline(always)]
    unsafe fn deliver_impl<const SANE: bool>(&self, part: Option<usize>) {
        let n = self.n;
        // SAFETY: read-only during the delivery phase.
        let csr = unsafe { &*self.csr };
        let parts = self.bounds.1 - 1;
        // Where in a segment the part's targets start and end: `splits` holds the inner
        // boundaries, `parts − 1` per segment.
        let (first, last) = match part {
            Some(p) => (p == 0, p + 1 == parts),
            None => (true, true),
        };
        let p = part.unwrap_or(0);
        let split = |s: usize, i: usize| -> usize {
            // SAFETY: s < segments and i < parts − 1 whenever this is called.
            unsafe { *self.splits.add(s * (parts - 1) + i) as usize }
        };
        // Two passes per batch of row segments: first where each segment's share starts and
        // ends (a few dependent loads per spike, independent between spikes, so the core
        // overlaps them; the share's first lines are prefetched), then the scattered adds.
        // Interleaved, every spike waited for its lookups: ~50 cycles each, as much as the
        // adds of a COBA row's half.
        const JOBS: usize = 32;
        let mut jobs = [Job::default(); JOBS];
        let mut nj = 0;
        let run = |jobs: &[Job]| {
            for job in jobs {
                // SAFETY: a..b lies within one segment of the CSR.
                let (tg, w) = unsafe {
                    (
                        csr.targets.get_unchecked(job.a as usize..job.b as usize),
                        csr.weights.get_unchecked(job.a as usize..job.b as usize),
                    )
                };
                for (&t, &w) in tg.iter().zip(w) {
                    let x = w * job.e + 0.5;
                    let q = if SANE {
                        // SAFETY: 0 ≤ x < 2³¹ (weights_sane, and e ≤ the scale).
                        unsafe { x.to_int_unchecked::<i32>() as u32 }
                    } else {
                        x as u32
                    };
                    // A stored target is its offset within the slot (`Csr`).
                    let idx = job.base + t as usize;
                    // SAFETY: idx < slots·2n, and its neuron is in [lo, hi) (caller).
                    unsafe {
                        let r = self.ring.add(idx);
                        *r = (*r).wrapping_add(q);
                    }
                }
            }
        };
        let buf = self.buf();
        for q in 0..parts {
            // SAFETY: this step's outputs are complete and nobody writes them now (other
            // buffers may be being written: only this one is borrowed).
            let spikes = unsafe { spikes_in(self.parts, self.mail, q, buf) };
            // SAFETY: as above; `eff` is filled only with STP.
            let eff = unsafe { &(*self.parts.add(q)).eff[buf] };
            for (k, &j) in spikes.iter().enumerate() {
                let e = if self.stp.is_some() {
                    eff[k]
                } else {
                    self.fx_scale
                };
                for s in csr.row_segment_ids(j as usize) {
                    let (d, r) = csr.segment(s);
                    let a = if first { r.start } else { split(s, p - 1) };
                    let b = if last { r.end } else { split(s, p) };
                    if a == b {
                        continue;
                    }
                    csr.prefetch_from(a);
                    let mut slot = self.slot + d as usize;
                    if slot >= self.slots {
                        slot -= self.slots;
                    }
                    jobs[nj] = Job {
                        base: slot * 2 * n,
                        a: a as u32,
                        b: b as u32,
                        e,
                    };
                    nj += 1;
                    if nj == JOBS {
                        run(&jobs);
                        nj = 0;
                    }
                }
            }
        }
        run(&jobs[..nj]);
    }
}

/// One row segment's share of a delivery: synapses `a..b` into the ring at `base`, scaled
/// by `e`.
#[derive(Clone, Copy, Default)]
struct Job {
    base: usize,
    a: u32,
    b: u32,
    e: f32,
}

// ---------------------------------------------------------------------------------------------
// Receptor and noise passes over one chunk (see `StepCtx::update_chunk`). Ring entries are
// < 2³¹ (the fixed-point scale guarantees it), so `as i32 as f32` is exact and one vector
// instruction (u32 → f32 has none before AVX-512).
// ---------------------------------------------------------------------------------------------

/// Index of the first stored target whose neuron is ≥ `x` in a segment sorted by neuron, in
/// a network of `n` neurons (branch-free binary search: the comparisons are data-dependent
/// and would mispredict).
fn first_at_least(tg: &[u32], x: u32, n: u32) -> usize {
    let (mut base, mut len) = (0usize, tg.len());
    while len > 1 {
        let half = len / 2;
        base = if decode_post(tg[base + half], n) < x {
            base + half
        } else {
            base
        };
        len -= half;
    }
    base + (len == 1 && decode_post(tg[base], n) < x) as usize
}

/// The background drive of a run of neurons.
#[derive(Clone, Copy, Debug)]
enum Drive {
    None,
    Mean(f32),
    /// Mean and standard deviation.
    Noise(f32, f32),
}

impl Drive {
    /// The `DRIVE` code of the fused loops (see `FastKernel::drive`) and (mean, sd).
    fn code(self, ext: bool) -> (u8, (f32, f32)) {
        let (c, ms) = match self {
            Drive::None => (0, (0.0, 0.0)),
            Drive::Mean(m) => (1, (m, 0.0)),
            Drive::Noise(m, sd) => (2, (m, sd)),
        };
        (c | (ext as u8) << 2, ms)
    }

    fn of(mean: f32, sd: f32) -> Self {
        if sd > 0.0 {
            Drive::Noise(mean, sd)
        } else if mean != 0.0 {
            Drive::Mean(mean)
        } else {
            Drive::None
        }
    }
}

/// Constants of the fused update (fast receptors only).
#[derive(Clone, Copy, Debug)]
struct FastKernel {
    d_ampa: f32,
    d_gaba_a: f32,
    e_ampa: f32,
    e_gaba_a: f32,
    inv: f32,
    fa: f32,
    fga: f32,
    word: u32,
    dt: f32,
    blocked: bool,
    /// Some external current may be non-zero.
    ext: bool,
}

impl FastKernel {
    /// AMPA and GABA_A of one neuron (decay, this step's input, ring entry cleared), then its
    /// total drive: the arithmetic of `fast_receptors` followed by `add_noise`. `DRIVE`: bits
    /// 0–1 the background (0 none, 1 mean only, 2 mean + sd·N(0, 1)), bit 2 the external
    /// current (without it `i_ext` is known to be 0 and never loaded).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn drive<const DRIVE: u8>(
        &self,
        ampa: &mut f32,
        ga: &mut f32,
        re: &mut u32,
        ri: &mut u32,
        v: f32,
        i_ext: f32,
        key: u32,
        (mean, sd): (f32, f32),
    ) -> f32 {
        let a = flush(*ampa * self.d_ampa + *re as i32 as f32 * self.inv * self.fa);
        let g = flush(*ga * self.d_gaba_a + *ri as i32 as f32 * self.inv * self.fga);
        *ampa = a;
        *ga = g;
        *re = 0;
        *ri = 0;
        let mut it = a * (self.e_ampa - v) + g * (self.e_gaba_a - v);
        if DRIVE & 4 != 0 {
            it += i_ext;
        }
        match DRIVE & 3 {
            1 => it += mean,
            2 => it += mean + sd * rng::NoiseStream::draw(key, self.word),
            _ => {}
        }
        it
    }
}

/// The arrays of one run of neurons for the fused update.
struct Fused<'a> {
    ampa: &'a mut [f32],
    ga: &'a mut [f32],
    re: &'a mut [u32],
    ri: &'a mut [u32],
    v: &'a mut [f32],
    u: &'a mut [f32],
    refr: &'a mut [f32],
    i_ext: &'a [f32],
    keys: &'a [u32],
    fired: &'a mut [u32],
}

/// Fused update of Izhikevich cells: picks the monomorphised loop for the scheme and drive.
#[inline(always)]
fn fused_izh<P: ParamSrc>(st: Fused, fk: &FastKernel, drive: Drive, prm: P, scheme: IzhScheme) {
    let Fused {
        ampa,
        ga,
        re,
        ri,
        v,
        u,
        i_ext,
        keys,
        fired,
        ..
    } = st;
    let half = scheme == IzhScheme::HalfStep;
    let (code, ms) = drive.code(fk.ext);
    macro_rules! go {
        ($($half:literal, $code:literal);*) => {
            match (half, code) {
                $(($half, $code) => fused_izh_loop::<P, $half, $code>(
                    ampa, ga, re, ri, v, u, i_ext, keys, fired, prm, fk, ms,
                ),)*
                _ => unreachable!("drive codes are 0..=2 and 4..=6"),
            }
        };
    }
    go!(true, 0; true, 1; true, 2; true, 4; true, 5; true, 6;
        false, 0; false, 1; false, 2; false, 4; false, 5; false, 6)
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn fused_izh_loop<P: ParamSrc, const HALF: bool, const DRIVE: u8>(
    ampa: &mut [f32],
    ga: &mut [f32],
    re: &mut [u32],
    ri: &mut [u32],
    v: &mut [f32],
    u: &mut [f32],
    i_ext: &[f32],
    keys: &[u32],
    fired: &mut [u32],
    prm: P,
    fk: &FastKernel,
    ms: (f32, f32),
) {
    let m = v.len();
    let (ampa, ga, re, ri, u, i_ext, keys, fired) = (
        &mut ampa[..m],
        &mut ga[..m],
        &mut re[..m],
        &mut ri[..m],
        &mut u[..m],
        &i_ext[..m],
        &keys[..m],
        &mut fired[..m],
    );
    for k in 0..m {
        let it = fk.drive::<DRIVE>(
            &mut ampa[k],
            &mut ga[k],
            &mut re[k],
            &mut ri[k],
            v[k],
            i_ext[k],
            keys[k],
            ms,
        );
        neuron::izh_cell::<HALF>(
            &mut v[k],
            &mut u[k],
            &mut fired[k],
            prm.at(k),
            it,
            fk.dt,
            fk.blocked,
        );
    }
}

/// Fused update of LIF cells: picks the monomorphised loop for adaptation and drive.
#[inline(always)]
fn fused_lif(st: Fused, fk: &FastKernel, drive: Drive, c: &neuron::LifConsts) {
    let Fused {
        ampa,
        ga,
        re,
        ri,
        v,
        u,
        refr,
        i_ext,
        keys,
        fired,
    } = st;
    let adapt = c.adapts();
    let (code, ms) = drive.code(fk.ext);
    macro_rules! go {
        ($($adapt:literal, $code:literal);*) => {
            match (adapt, code) {
                $(($adapt, $code) => fused_lif_loop::<$adapt, $code>(
                    ampa, ga, re, ri, v, u, refr, i_ext, keys, fired, c, fk, ms,
                ),)*
                _ => unreachable!("drive codes are 0..=2 and 4..=6"),
            }
        };
    }
    go!(true, 0; true, 1; true, 2; true, 4; true, 5; true, 6;
        false, 0; false, 1; false, 2; false, 4; false, 5; false, 6)
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn fused_lif_loop<const ADAPT: bool, const DRIVE: u8>(
    ampa: &mut [f32],
    ga: &mut [f32],
    re: &mut [u32],
    ri: &mut [u32],
    v: &mut [f32],
    w: &mut [f32],
    refr: &mut [f32],
    i_ext: &[f32],
    keys: &[u32],
    fired: &mut [u32],
    c: &neuron::LifConsts,
    fk: &FastKernel,
    ms: (f32, f32),
) {
    let m = v.len();
    let (ampa, ga, re, ri, w, refr, i_ext, keys, fired) = (
        &mut ampa[..m],
        &mut ga[..m],
        &mut re[..m],
        &mut ri[..m],
        &mut w[..m],
        &mut refr[..m],
        &i_ext[..m],
        &keys[..m],
        &mut fired[..m],
    );
    for k in 0..m {
        let it = fk.drive::<DRIVE>(
            &mut ampa[k],
            &mut ga[k],
            &mut re[k],
            &mut ri[k],
            v[k],
            i_ext[k],
            keys[k],
            ms,
        );
        neuron::lif_cell::<ADAPT>(
            &mut v[k],
            &mut w[k],
            &mut refr[k],
            &mut fired[k],
            c,
            it,
            fk.blocked,
        );
    }
}

/// A decaying conductance below 10⁻³⁰ /ms is set to exactly zero. Left alone it would
/// decay into the subnormal range within a few hundred steps of silence, and arithmetic on
/// subnormals takes a microcode assist of ~100 cycles per vector on x86. Conductances are
/// never negative, and one of 10⁻³⁰ /ms changes no f32 membrane update.
#[inline(always)]
fn flush(g: f32) -> f32 {
    if g < 1e-30 { 0.0 } else { g }
}

/// AMPA and GABA_A: decay, add this step's input, and start the drive with their current
/// plus the external current.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn fast_receptors(
    ampa: &mut [f32],
    ga: &mut [f32],
    itot: &mut [f32],
    re: &[u32],
    ri: &[u32],
    v: &[f32],
    i_ext: &[f32],
    r: &ReceptorStep,
    inv: f32,
    gain: [f32; 4],
) {
    let m = itot.len();
    let (ampa, ga, re, ri, v, i_ext) = (
        &mut ampa[..m],
        &mut ga[..m],
        &re[..m],
        &ri[..m],
        &v[..m],
        &i_ext[..m],
    );
    let p = &r.p;
    let fa = r.f_ampa * gain[0];
    let fga = r.f_gaba_a * gain[2];
    for k in 0..m {
        let vk = v[k];
        ampa[k] = flush(ampa[k] * r.d_ampa + re[k] as i32 as f32 * inv * fa);
        ga[k] = flush(ga[k] * r.d_gaba_a + ri[k] as i32 as f32 * inv * fga);
        itot[k] = ampa[k] * (p.e_ampa_mv - vk) + ga[k] * (p.e_gaba_a_mv - vk) + i_ext[k];
    }
}

/// NMDA (difference of exponentials, Mg²⁺ block): adds its current to the drive.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn nmda(
    nr: &mut [f32],
    nd: &mut [f32],
    itot: &mut [f32],
    re: &[u32],
    v: &[f32],
    r: &ReceptorStep,
    inv: f32,
    fnm: f32,
) {
    let m = itot.len();
    let (nr, nd, re, v) = (&mut nr[..m], &mut nd[..m], &re[..m], &v[..m]);
    for k in 0..m {
        let vk = v[k];
        let ge = re[k] as i32 as f32 * inv * fnm;
        nr[k] = flush(nr[k] * r.d_nmda_r + ge);
        nd[k] = flush(nd[k] * r.d_nmda_d + ge);
        let block = crate::synapse::mg_block_f32(vk, r.mg_over_357);
        itot[k] += (nd[k] - nr[k]) * block * (r.p.e_nmda_mv - vk);
    }
}

/// GABA_B (difference of exponentials): adds its current to the drive.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn gaba_b(
    br: &mut [f32],
    bd: &mut [f32],
    itot: &mut [f32],
    ri: &[u32],
    v: &[f32],
    r: &ReceptorStep,
    inv: f32,
    fgb: f32,
) {
    let m = itot.len();
    let (br, bd, ri, v) = (&mut br[..m], &mut bd[..m], &ri[..m], &v[..m]);
    for k in 0..m {
        let gi = ri[k] as i32 as f32 * inv * fgb;
        br[k] = flush(br[k] * r.d_gabab_r + gi);
        bd[k] = flush(bd[k] * r.d_gabab_d + gi);
        itot[k] += (bd[k] - br[k]) * (r.p.e_gaba_b_mv - v[k]);
    }
}

/// Background noise: `mean + sd·N(0, 1)` from each neuron's own counter-based stream.
#[inline(always)]
fn add_noise(itot: &mut [f32], keys: &[u32], word: u32, mean: f32, sd: f32) {
    for (x, &key) in itot.iter_mut().zip(keys) {
        *x += mean + sd * rng::NoiseStream::draw(key, word);
    }
}

/// Whether the update may use its AVX-512 build: the CPU has AVX-512 F/BW/DQ/VL and
/// `DISHLOOP_NO_AVX512` is not set (for A/B comparisons). The binary itself targets
/// x86-64-v3 (AVX2, `.cargo/config.toml`), so this is a run-time choice; both builds give the
/// same bits (tested).
fn avx512_ok() -> bool {
    static OK: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *OK.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            std::env::var_os("DISHLOOP_NO_AVX512").is_none()
                && std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw")
                && std::arch::is_x86_feature_detected!("avx512dq")
                && std::arch::is_x86_feature_detected!("avx512vl")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    })
}

/// A team of threads for [`Network::run`].
///
/// Part p of stage k is done when buffer (k − 1) mod [`OUT_BUFS`] of p's [`Mail`] carries
/// stage mark k, written after the part's outputs in the same cache line; stage k opens when
/// every part has finished stage k − 1 and the caller has read every step whose buffer stage k
/// overwrites. Each member runs its own part of each stage (claimed by compare-and-swap on a
/// line of its own, `claims`), then waits for the others. In the steady state a stage costs one
/// cache-line transfer per pair of threads: the other part's mail, which brings its spikes
/// along. A part that has not been started after a member's patience runs out is taken over
/// by that member (and the next ones at once, until its owner shows up again), so a helper
/// that starts late, or never (rayon may keep it queued behind other work), or whose core the
/// machine takes away for a while, only costs speed: results never depend on who did what.
/// Waiting spins briefly, then yields, then sleeps, so idle helpers give the cores back.
struct Team {
    /// Stages 1 ..= last.
    last: u64,
    /// Per part: the last stage it was claimed for.
    claims: Vec<PaddedU64>,
    /// Steps whose outputs the caller has consumed.
    acked: PaddedU64,
    /// The caller runs every part (see [`Tuner`]); helpers wait, parked.
    solo: PaddedBool,
    stop: AtomicBool,
    /// Helpers that have started, to unpark when solo mode ends or the team stops.
    helpers: std::sync::Mutex<Vec<std::thread::Thread>>,
    /// View of the first step; every stage derives its steps' views from it.
    base: StepCtx,
}

/// An atomic alone in its cache lines (Zen and most x86 prefetch lines in pairs, hence 128
/// bytes).
#[repr(align(128))]
struct PaddedU64(AtomicU64);

/// An `AtomicBool` alone in its cache lines.
#[repr(align(128))]
struct PaddedBool(AtomicBool);

/// Parts run by a member other than their owner (tests check that takeovers happen).
#[cfg(test)]
static TAKEOVERS: AtomicU64 = AtomicU64::new(0);

/// What one team member remembers between stages.
struct Member {
    /// Idle rounds before taking over another member's part.
    patience: u32,
    /// Last value of `Team::acked` read.
    acked_seen: u64,
}

/// Idle rounds (~25 ns each) a member waits for another part of the stage before taking it
/// over: several times a COBA stage, far less than a time slice of a descheduled thread.
const PATIENCE: u32 = 1024;

impl Default for Member {
    fn default() -> Self {
        Member {
            patience: PATIENCE,
            acked_seen: 0,
        }
    }
}

/// Sets the flag when dropped (also while unwinding).
struct StopOnDrop<'a>(&'a Team);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.stop.store(true, Ordering::Release);
        self.0.wake_helpers();
    }
}

impl Team {
    fn new(parts: usize, n_steps: u64, base: StepCtx) -> Self {
        Team {
            last: n_steps + 1,
            claims: (0..parts).map(|_| PaddedU64(AtomicU64::new(0))).collect(),
            acked: PaddedU64(AtomicU64::new(0)),
            solo: PaddedBool(AtomicBool::new(false)),
            stop: AtomicBool::new(false),
            helpers: std::sync::Mutex::new(Vec::new()),
            base,
        }
    }

    /// Unparks every helper that has started (see [`Team::help`]).
    fn wake_helpers(&self) {
        if let Ok(h) = self.helpers.lock() {
            for t in h.iter() {
                t.unpark();
            }
        }
    }

    /// Whether part q has finished stage k (≥ 1).
    fn part_done(&self, q: usize, k: u64) -> bool {
        let b = out_buf(self.base.step + k - 1);
        self.base.mail(q, b).stage.load(Ordering::Acquire) >= k
    }

    /// Runs part q of stage k unless somebody has claimed it; stage k must be open. Claiming
    /// another member's part sets `m`'s patience to zero (its owner is away), finding it
    /// claimed restores it.
    fn run_part(&self, m: &mut Member, q: usize, k: u64) -> bool {
        if !self.claim(q, k) {
            m.patience = PATIENCE;
            return false;
        }
        // SAFETY: claimed just now.
        unsafe { self.exec(q, k) };
        true
    }

    /// Claims part q of stage k; whether this call did.
    fn claim(&self, q: usize, k: u64) -> bool {
        let claim = &self.claims[q].0;
        // Test before the compare-and-swap: even a failing one takes the line from its owner.
        claim.load(Ordering::Relaxed) == k - 1
            && claim
                .compare_exchange(k - 1, k, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
    }

    /// Runs every part of stage k on this thread (solo mode, see [`Tuner`]): as one delivery
    /// and one update over all neurons, like [`Network::step`] on one thread, when nobody has
    /// claimed any part yet (a helper may have just joined); else part by part.
    fn run_all(&self, m: &mut Member, k: u64) {
        let parts = self.claims.len();
        // Claim in order; if somebody else holds a part, go part by part.
        let mut claimed = 0;
        while claimed < parts && self.claim(claimed, k) {
            claimed += 1;
        }
        if claimed < parts {
            m.patience = PATIENCE;
            for q in 0..parts {
                if q < claimed || (q > claimed && self.claim(q, k)) {
                    // SAFETY: claimed above.
                    unsafe { self.exec(q, k) };
                }
            }
            return;
        }
        let first = self.base.step;
        {
            // SAFETY: every part of stage k is ours (the claims) and stage k is open; the
            // whole update writes part 0's outputs and the others' are emptied.
            unsafe {
                if k >= 2 {
                    self.base.at_step(first + k - 2).deliver(None);
                }
                if k < self.last {
                    let ctx = self.base.at_step(first + k - 1);
                    ctx.update_part(0, true);
                    for q in 1..parts {
                        ctx.clear_outputs(q);
                    }
                }
            }
            let b = out_buf(first + k - 1);
            for q in 0..parts {
                self.base.mail(q, b).stage.store(k, Ordering::Release);
            }
        }
    }

    /// Runs part q of stage k and marks it done.
    ///
    /// # Safety
    /// This thread holds the claim of part q for stage k, and stage k is open.
    unsafe fn exec(&self, q: usize, k: u64) {
        let first = self.base.step;
        // SAFETY: part q of stage k is ours alone (the claim), and every part has finished
        // stage k − 1 (the stage is open). The delivery writes only ring entries of q's
        // neurons and the update touches only q's neurons, whose ring slot this same claim has
        // just finished delivering into; the update's output buffer was consumed (open).
        unsafe {
            if k >= 2 {
                self.base.at_step(first + k - 2).deliver(Some(q));
            }
            if k < self.last {
                self.base.at_step(first + k - 1).update_part(q, false);
            }
        }
        let b = out_buf(first + k - 1);
        self.base.mail(q, b).stage.store(k, Ordering::Release);
    }

    /// Waits until stage k is open: every part has finished stage k − 1 (parts of it still
    /// unclaimed when `m`'s patience runs out are run here) and the caller has consumed the
    /// steps whose buffers stage k overwrites. False if the team was stopped.
    fn wait_open(&self, m: &mut Member, k: u64) -> bool {
        let parts = self.claims.len();
        let mut idle = 0u32;
        loop {
            let mut all = true;
            if k >= 2 {
                for q in 0..parts {
                    if !self.part_done(q, k - 1) {
                        let mine = idle >= m.patience && self.run_part(m, q, k - 1);
                        if mine {
                            m.patience = 0;
                            #[cfg(test)]
                            TAKEOVERS.fetch_add(1, Ordering::Relaxed);
                        }
                        all &= mine;
                    }
                }
            }
            // Stage k writes the buffer of relative step k − 1 − OUT_BUFS.
            if all && m.acked_seen + (OUT_BUFS as u64) < k {
                m.acked_seen = self.acked.0.load(Ordering::Acquire);
            }
            if all && m.acked_seen + OUT_BUFS as u64 >= k {
                return true;
            }
            if self.stop.load(Ordering::Relaxed) {
                return false;
            }
            back_off(&mut idle);
        }
    }

    /// A helper's life: its part of every stage, until the last or until the team stops.
    fn help(&self, me: usize) {
        if let Ok(mut h) = self.helpers.lock() {
            h.push(std::thread::current());
        }
        let mut m = Member::default();
        let mut k = 1;
        while k <= self.last {
            if self.solo.0.load(Ordering::Acquire) {
                // The caller runs every part: sleep until it wakes us (team mode again, or
                // the end; the timeout only guards against a lost wake-up), then join at the
                // stage it has reached. A spinning neighbour would slow the caller down.
                while self.solo.0.load(Ordering::Acquire) {
                    if self.stop.load(Ordering::Acquire) {
                        return;
                    }
                    std::thread::park_timeout(std::time::Duration::from_millis(1));
                }
                k = k.max(self.claims[me].0.load(Ordering::Acquire) + 1);
                continue;
            }
            if !self.wait_open(&mut m, k) {
                return;
            }
            self.run_part(&mut m, me, k);
            k += 1;
        }
    }
}

/// Rounds of [`back_off`] that spin (~25 ns each), then that yield the core.
const SPIN_ROUNDS: u32 = 2048;
const YIELD_ROUNDS: u32 = 5000;

/// Chooses, while [`Network::run`] goes on, between running each stage on the whole team and
/// running every part on the calling thread (helpers wait), by timing both now and then.
///
/// Two threads help only where they can exchange a step's spikes quickly: on a shared or
/// virtual machine the second core may sit on another die (a cache-line transfer of ~0.3 µs
/// instead of ~0.07), or be taken away for milliseconds, and a small network (COBA: ~2 µs
/// per step) then runs slower on two threads than on one. Results never depend on the
/// choice. Windows of at least [`TUNE_WINDOW`] of stage time: one on the team, one solo;
/// solo wins if it is more than 5 % faster, and the winner holds for 16 windows (solo), 32
/// (team) or 64 (team ≥ 1.5× faster: less time spent measuring the slow mode) before the
/// next comparison. Solo runs each stage as one pass over all neurons, as one thread would.
#[derive(Clone, Debug, Default)]
struct Tuner {
    /// Current mode: every part on the calling thread.
    solo: bool,
    phase: TunePhase,
    /// Windows left in [`TunePhase::Hold`].
    hold: u32,
    /// Stage time per stage measured on the team in this comparison.
    team_per_stage: std::time::Duration,
    window: std::time::Duration,
    window_stages: u32,
    /// Stages run on the team and solo so far.
    stages: [u64; 2],
}

/// Where a [`Tuner`] is in its cycle.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
enum TunePhase {
    /// Timing the team (the first window of every run of a new network).
    #[default]
    Team,
    /// Timing the calling thread alone.
    Solo,
    /// Keeping the faster mode.
    Hold,
}

/// Shortest stage time over which a [`Tuner`] compares the modes.
const TUNE_WINDOW: std::time::Duration = std::time::Duration::from_millis(2);

impl Tuner {
    /// Adds one stage that took `took`; whether the mode changed.
    fn tick(&mut self, took: std::time::Duration) -> bool {
        self.stages[self.solo as usize] += 1;
        self.window += took;
        self.window_stages += 1;
        if self.window < TUNE_WINDOW {
            return false;
        }
        let per_stage = self.window / self.window_stages;
        self.window = std::time::Duration::ZERO;
        self.window_stages = 0;
        let was = self.solo;
        match self.phase {
            TunePhase::Team => {
                self.team_per_stage = per_stage;
                self.phase = TunePhase::Solo;
                self.solo = true;
            }
            TunePhase::Solo => {
                // Solo must win clearly: a window is short and the machine noisy, and every
                // switch moves a part's state between caches.
                let (solo, team) = (per_stage.as_secs_f64(), self.team_per_stage.as_secs_f64());
                self.solo = solo * 1.05 < team;
                self.hold = if self.solo {
                    16
                } else if solo >= 1.5 * team {
                    64
                } else {
                    32
                };
                self.phase = TunePhase::Hold;
            }
            TunePhase::Hold => {
                self.hold = self.hold.saturating_sub(1);
                if self.hold == 0 {
                    self.phase = TunePhase::Team;
                    self.solo = false;
                }
            }
        }
        self.solo != was
    }
}

/// One round of waiting after `idle` fruitless ones: spin for a few microseconds (a team
/// member usually answers within one), then yield the core, then sleep in 50 µs naps.
fn back_off(idle: &mut u32) {
    if *idle < SPIN_ROUNDS {
        std::hint::spin_loop();
    } else if *idle < SPIN_ROUNDS + YIELD_ROUNDS {
        std::thread::yield_now();
    } else {
        std::thread::sleep(std::time::Duration::from_micros(50));
    }
    *idle = idle.saturating_add(1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::neuron::{IzhType, LifParams};
    use crate::plasticity::{HomeostaticParams, StructuralParams};
    use crate::rng::SplitMix;

    /// A random network of `n` cells: Izhikevich RS/FS (`lif` false) or LIF with and without
    /// adaptation, fast receptors only, noisy drive, delays 1–4 steps.
    fn net(n: usize, lif: bool, scheme: IzhScheme, seed: u64) -> Network {
        net_with(n, lif, scheme, seed, false)
    }

    /// `net`, with NMDA and GABA_B (the pass-by-pass update) if `slow`.
    fn net_with(n: usize, lif: bool, scheme: IzhScheme, seed: u64, slow: bool) -> Network {
        let n_exc = n * 4 / 5;
        let mut pop = PopulationBuilder::new();
        let mut r = SplitMix::new(seed, 5);
        for i in 0..n {
            if lif {
                let p = LifParams {
                    b_mv_per_ms: if i % 2 == 0 { 0.0 } else { 0.05 },
                    ..LifParams::coba()
                };
                pop.push_lif(p, r.range(-60.0, -50.0) as f32);
            } else if i < n_exc {
                pop.push_izhikevich(IzhType::RS.jittered(1.0, r.uniform() as f32));
            } else {
                pop.push_izhikevich(IzhType::FS.params());
            }
        }
        let rows = (0..n)
            .map(|i| {
                (0..40)
                    .map(|_| {
                        let w = if i < n_exc { 0.05 } else { 0.2 };
                        (
                            r.below(n as u64) as u32,
                            w,
                            1 + r.below(4) as u16,
                            i >= n_exc,
                        )
                    })
                    .collect()
            })
            .collect();
        let csr = Csr::from_rows(n, rows).unwrap();
        let mut spec = NetworkSpec::new(if lif { 0.1 } else { 0.5 }, pop, n_exc, csr, seed);
        spec.izh_scheme = scheme;
        if slow {
            spec.receptors.nmda_ratio = 0.37;
            spec.receptors.gaba_b_ratio = 0.2;
        }
        spec.noise = if lif {
            NoiseParams {
                mean_exc: 1.1,
                std_exc: 0.0,
                mean_inh: 0.0,
                std_inh: 0.5,
            }
        } else {
            NoiseParams {
                mean_exc: 2.0,
                std_exc: 4.0,
                mean_inh: 1.0,
                std_inh: 0.0,
            }
        };
        Network::new(spec).unwrap()
    }

    fn trace(net: &mut Network, steps: u64) -> (Vec<(u64, u32)>, Vec<u32>) {
        let mut spikes = Vec::new();
        for k in 0..steps {
            if k == steps / 2 {
                net.set_spikes_blocked(true);
            }
            if k == steps / 2 + 20 {
                net.set_spikes_blocked(false);
            }
            spikes.extend(net.step().iter().map(|&i| (k, i)));
        }
        let bits = net.v().iter().chain(net.u()).map(|x| x.to_bits()).collect();
        (spikes, bits)
    }

    /// The fused update and the pass-by-pass update are the same arithmetic.
    #[test]
    fn fused_and_pass_updates_give_the_same_bits() {
        for (lif, scheme) in [
            (false, IzhScheme::HalfStep),
            (false, IzhScheme::Euler),
            (true, IzhScheme::HalfStep),
        ] {
            let mut a = net(3000, lif, scheme, 9);
            let mut b = net(3000, lif, scheme, 9);
            b.fused = false;
            let (sa, va) = trace(&mut a, 600);
            let (sb, vb) = trace(&mut b, 600);
            assert!(sa.len() > 500, "active: {}", sa.len());
            assert_eq!(sa, sb, "lif {lif} {scheme:?}");
            assert_eq!(va, vb);
        }
    }

    /// The AVX-512 and AVX2 builds of the update give the same bits (where the CPU has
    /// AVX-512; elsewhere both runs take the AVX2 build).
    #[test]
    fn avx512_and_avx2_builds_give_the_same_bits() {
        for (lif, slow) in [(false, false), (true, false), (false, true)] {
            let mut a = net_with(3000, lif, IzhScheme::HalfStep, 2, slow);
            let mut b = net_with(3000, lif, IzhScheme::HalfStep, 2, slow);
            a.avx512 = false;
            b.avx512 = avx512_ok();
            let (sa, va) = trace(&mut a, 500);
            let (sb, vb) = trace(&mut b, 500);
            assert_eq!(sa, sb);
            assert_eq!(va, vb);
        }
    }

    /// Plasticity that rewires (structural) and rescales (homeostatic) keeps results
    /// independent of the thread count: the parts' split points follow the new matrix.
    #[test]
    fn rewiring_networks_agree_across_thread_counts() {
        let go = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| {
                    let n = 3000;
                    let mut r = SplitMix::new(3, 3);
                    let mut pop = PopulationBuilder::new();
                    for i in 0..n {
                        pop.push_izhikevich(if i < 2400 {
                            IzhType::RS.params()
                        } else {
                            IzhType::FS.params()
                        });
                    }
                    let pos: Vec<[f32; 2]> = (0..n)
                        .map(|_| [r.range(0.0, 1000.0) as f32, r.range(0.0, 1000.0) as f32])
                        .collect();
                    let rows = (0..n)
                        .map(|i| {
                            (0..30)
                                .map(|_| {
                                    let w = if i < 2400 { 0.05 } else { 0.2 };
                                    (
                                        r.below(n as u64) as u32,
                                        w,
                                        1 + r.below(3) as u16,
                                        i >= 2400,
                                    )
                                })
                                .collect()
                        })
                        .collect();
                    let csr = Csr::from_rows(n, rows).unwrap();
                    let mut spec = NetworkSpec::new(0.5, pop, 2400, csr, 3);
                    spec.noise = NoiseParams {
                        mean_exc: 2.0,
                        std_exc: 4.0,
                        mean_inh: 2.0,
                        std_inh: 4.0,
                    };
                    spec.positions_um = Some(pos);
                    spec.structural = Some(StructuralParams {
                        interval_ms: 50.0,
                        prune_threshold: 0.06,
                        growth_prob: 0.5,
                        ..StructuralParams::default()
                    });
                    spec.homeostatic = Some(HomeostaticParams {
                        interval_ms: 50.0,
                        ..HomeostaticParams::default()
                    });
                    let mut net = Network::new(spec).unwrap();
                    net.par_synapses = 0;
                    let before = net.n_synapses();
                    let mut out = Vec::new();
                    net.run(600, |t, s| out.extend(s.iter().map(|&i| (t, i))));
                    (out, before != net.n_synapses())
                })
        };
        let (a, rewired) = go(1);
        assert!(
            rewired,
            "structural plasticity must have changed the matrix"
        );
        assert!(a.len() > 1000, "{}", a.len());
        assert_eq!(a, go(2).0);
        assert_eq!(a, go(3).0);
    }

    #[test]
    fn first_at_least_is_a_lower_bound_on_the_neuron_index() {
        let mut r = SplitMix::new(1, 1);
        for len in 0..40usize {
            let mut v: Vec<u32> = (0..len).map(|_| r.below(50) as u32).collect();
            v.sort_unstable();
            // The class offset (+ n) must not affect the order used.
            let tg: Vec<u32> = v.iter().map(|&t| t + 50 * r.below(2) as u32).collect();
            for x in 0..52u32 {
                let want = v.partition_point(|&t| t < x);
                assert_eq!(first_at_least(&tg, x, 50), want, "{v:?} {x}");
            }
        }
    }

    /// The vectorised LIF cell is `lif_step`, bit for bit.
    #[test]
    fn lif_kernel_matches_lif_step() {
        let p = LifParams {
            b_mv_per_ms: 0.2,
            ..LifParams::coba()
        };
        let mut pop = PopulationBuilder::new();
        pop.push_lif(p, -55.0);
        let csr = Csr::from_rows(1, vec![vec![]]).unwrap();
        let mut net = Network::new(NetworkSpec::new(0.1, pop, 1, csr, 1)).unwrap();
        let (mut v, mut w, mut refr) = (-55.0f32, 0.0f32, 0u16);
        let ref_steps = (p.t_ref_ms / 0.1f32).round() as u16;
        let mut spikes = 0;
        for k in 0..20_000u32 {
            let i = if (k / 2000) % 2 == 0 { 1.5 } else { 0.3 };
            net.i_ext_mut()[0] = i;
            let fired = !net.step().is_empty();
            let want = crate::neuron::lif_step(&mut v, &mut w, &mut refr, &p, i, 0.1, ref_steps);
            assert_eq!(fired, want, "step {k}");
            assert_eq!(net.v()[0].to_bits(), v.to_bits(), "step {k}");
            assert_eq!(net.u()[0].to_bits(), w.to_bits(), "step {k}");
            spikes += fired as u32;
        }
        assert!(spikes > 20, "{spikes}");
    }

    /// `run` on a thread team, `step` with rayon and one thread all give the same spikes.
    #[test]
    fn run_team_step_and_one_thread_agree() {
        let go = |threads: usize, use_run: bool| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| {
                    let mut n = net(5000, true, IzhScheme::HalfStep, 4);
                    let mut out = Vec::new();
                    if use_run {
                        n.run(800, |t, s| out.extend(s.iter().map(|&i| (t, i))));
                    } else {
                        for t in 0..800 {
                            out.extend(n.step().iter().map(|&i| (t, i)));
                        }
                    }
                    out
                })
        };
        let base = go(1, false);
        assert!(base.len() > 1000, "{}", base.len());
        assert_eq!(base, go(2, true));
        assert_eq!(base, go(3, true));
        assert_eq!(base, go(2, false));
    }

    /// The tuner times one window on the team and one solo, keeps the clearly faster mode
    /// for its hold, then compares again.
    #[test]
    fn tuner_keeps_the_faster_mode_and_compares_again() {
        use std::time::Duration;
        let us = Duration::from_micros;
        let mut t = Tuner::default();
        // Team windows of 1.5 µs stages, solo windows of 2.5 µs stages: team wins.
        let window = |t: &mut Tuner, per_stage: Duration| {
            let mut changed = false;
            for _ in 0..(TUNE_WINDOW.as_nanos() / per_stage.as_nanos() + 1) {
                changed |= t.tick(per_stage);
            }
            changed
        };
        assert!(!t.solo);
        assert!(window(&mut t, us(1) + us(1) / 2)); // team measured, solo next
        assert!(t.solo);
        assert!(window(&mut t, us(2) + us(1) / 2)); // solo measured: back to the team
        assert!(!t.solo);
        assert_eq!((t.phase, t.hold), (TunePhase::Hold, 64));
        for _ in 0..63 {
            assert!(!window(&mut t, us(1)));
        }
        window(&mut t, us(1)); // hold over: measure the team again
        assert_eq!(t.phase, TunePhase::Team);
        // Now the team is slow (a far or busy second core): solo wins and holds 16 windows.
        window(&mut t, us(4));
        window(&mut t, us(2));
        assert!(t.solo);
        assert_eq!(t.hold, 16);
        // Solo only 3 % faster: not enough to leave the team.
        let mut t = Tuner::default();
        window(&mut t, us(100));
        window(&mut t, us(97));
        assert!(!t.solo);
        assert_eq!(t.hold, 32);
    }

    /// The team's other paths: steps with more spikes per part than a `Mail` holds, a caller
    /// so slow now and then that a helper takes over its part (and back), several `run` calls
    /// in a row, solo mode (whole-network stages on the caller, helpers parked), and a
    /// callback that panics (the panic reaches the caller; nobody hangs).
    #[test]
    fn team_handles_crowded_steps_slow_callers_and_panics() {
        let go = |threads: usize, slow: bool, solo: bool| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| {
                    let mut n = net(5000, true, IzhScheme::HalfStep, 9);
                    if solo {
                        // Solo from the start and for good: the whole-network stage path.
                        n.tuner = Tuner {
                            solo: true,
                            phase: TunePhase::Hold,
                            hold: u32::MAX,
                            ..Tuner::default()
                        };
                    }
                    for (i, x) in n.i_ext_mut().iter_mut().enumerate() {
                        *x = if i % 3 == 0 { 9.0 } else { 0.0 };
                    }
                    let mut out = Vec::new();
                    for _ in 0..3 {
                        n.run(300, |t, s| {
                            if slow && t % 97 == 0 {
                                std::thread::sleep(std::time::Duration::from_millis(2));
                            }
                            out.push(s.to_vec());
                        });
                    }
                    out
                })
        };
        let base = go(1, false, false);
        let crowded = base
            .iter()
            .filter(|s| s.len() > 2 * MAIL_SPIKES + 2)
            .count();
        assert!(crowded > 100, "only {crowded} crowded steps");
        let before = TAKEOVERS.load(Ordering::Relaxed);
        assert_eq!(base, go(2, true, false));
        assert_eq!(base, go(3, true, false));
        assert_eq!(base, go(2, false, true));
        assert_eq!(base, go(3, true, true));
        assert!(
            TAKEOVERS.load(Ordering::Relaxed) > before,
            "no part was taken over"
        );
        let panicked = std::panic::catch_unwind(|| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(2)
                .build()
                .unwrap()
                .install(|| {
                    let mut n = net(5000, true, IzhScheme::HalfStep, 9);
                    n.run(500, |t, _| assert!(t < 100, "stop here"));
                })
        });
        assert!(panicked.is_err());
    }
}
