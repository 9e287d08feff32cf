//! The MEA attached to a running network: stimulation in, detection out.

use std::collections::VecDeque;
use std::sync::Arc;

use dishloop_core::Network;
use serde::{Deserialize, Serialize};

use crate::MeaError;
use crate::design::{BurstDesign, EnvelopeError, MIN_LEAD_TIME_US, StimDesign, TIMING_STEP_US};
use crate::layout::Layout;
use crate::raw::{LfpModel, RawModel};
use crate::recording::{DetectionModel, Recording};
use crate::schedule::{DEFAULT_MAX_QUEUED, Pulse, StimPlan, StimQueue};
use crate::stimulation::{StimModel, one_step_threshold};

/// Everything configurable about an MEA besides its layout.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MeaConfig {
    /// Stimulation physics.
    pub stim: StimModel,
    /// Spike detection.
    pub detection: DetectionModel,
    /// Raw-signal synthesis.
    pub raw: RawModel,
    /// LFP estimate.
    pub lfp: LfpModel,
    /// Keep every neuron's spikes (needed for raw samples and the LFP; cheap).
    pub keep_raster: bool,
    /// Pulses allowed to wait in one electrode's queue.
    pub max_queued_pulses: usize,
    /// Seed of per-neuron gains, sub-step spike times and the raw noise.
    pub seed: u64,
}

impl Default for MeaConfig {
    fn default() -> Self {
        Self {
            stim: StimModel::default(),
            detection: DetectionModel::default(),
            raw: RawModel::default(),
            lfp: LfpModel::default(),
            keep_raster: true,
            max_queued_pulses: DEFAULT_MAX_QUEUED,
            seed: 0,
        }
    }
}

/// Uniform-grid index of neuron positions for radius queries.
#[derive(Debug, Clone)]
pub(crate) struct SpatialIndex {
    origin: [f32; 2],
    cell_um: f32,
    nx: usize,
    ny: usize,
    starts: Vec<u32>,
    ids: Vec<u32>,
}

impl SpatialIndex {
    fn new(pos: &[[f32; 2]], cell_um: f32) -> Self {
        let mut lo = [f32::INFINITY; 2];
        let mut hi = [f32::NEG_INFINITY; 2];
        for p in pos {
            for k in 0..2 {
                lo[k] = lo[k].min(p[k]);
                hi[k] = hi[k].max(p[k]);
            }
        }
        if pos.is_empty() {
            lo = [0.0; 2];
            hi = [0.0; 2];
        }
        let nx = (((hi[0] - lo[0]) / cell_um).floor() as usize + 1).max(1);
        let ny = (((hi[1] - lo[1]) / cell_um).floor() as usize + 1).max(1);
        let cell_of = |p: &[f32; 2]| {
            let cx = (((p[0] - lo[0]) / cell_um) as usize).min(nx - 1);
            let cy = (((p[1] - lo[1]) / cell_um) as usize).min(ny - 1);
            cy * nx + cx
        };
        let mut counts = vec![0u32; nx * ny + 1];
        for p in pos {
            counts[cell_of(p) + 1] += 1;
        }
        for i in 1..counts.len() {
            counts[i] += counts[i - 1];
        }
        let mut fill = counts.clone();
        let mut ids = vec![0u32; pos.len()];
        for (i, p) in pos.iter().enumerate() {
            let c = cell_of(p);
            ids[fill[c] as usize] = i as u32;
            fill[c] += 1;
        }
        Self {
            origin: lo,
            cell_um,
            nx,
            ny,
            starts: counts,
            ids,
        }
    }

    /// Calls `f(neuron, distance²)` for every neuron within `radius` of `c`, in ascending
    /// neuron order.
    pub(crate) fn within(
        &self,
        pos: &[[f32; 2]],
        c: [f32; 2],
        radius: f32,
        out: &mut Vec<(u32, f32)>,
    ) {
        out.clear();
        let r2 = radius * radius;
        let cx0 = ((c[0] - radius - self.origin[0]) / self.cell_um)
            .floor()
            .max(0.0) as usize;
        let cy0 = ((c[1] - radius - self.origin[1]) / self.cell_um)
            .floor()
            .max(0.0) as usize;
        let cx1 = ((c[0] + radius - self.origin[0]) / self.cell_um).floor();
        let cy1 = ((c[1] + radius - self.origin[1]) / self.cell_um).floor();
        if cx1 < 0.0 || cy1 < 0.0 {
            return;
        }
        let cx1 = (cx1 as usize).min(self.nx - 1);
        let cy1 = (cy1 as usize).min(self.ny - 1);
        for cy in cy0..=cy1 {
            for cx in cx0..=cx1 {
                let cell = cy * self.nx + cx;
                for &i in &self.ids[self.starts[cell] as usize..self.starts[cell + 1] as usize] {
                    let p = pos[i as usize];
                    let d2 = (p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2);
                    if d2 <= r2 {
                        out.push((i, d2));
                    }
                }
            }
        }
        out.sort_unstable_by_key(|x| x.0);
    }
}

/// Neurons coupled to one electrode and their current per pC (mV/ms/pC), strongest first.
type Coupling = Arc<[(u32, f32)]>;

/// A virtual MEA under a culture: queues and delivers stimulation into a [`Network`] through
/// `i_ext`, and detects the network's spikes on its electrodes. See the crate docs.
pub struct Mea {
    layout: Layout,
    cfg: MeaConfig,
    pub(crate) positions: Vec<[f32; 2]>,
    pub(crate) n_exc: usize,
    pub(crate) index: SpatialIndex,
    pub(crate) gains: Vec<f32>,
    dt_ms: f32,
    dt_us: u64,
    /// One-step threshold current, mV/ms.
    i1: f32,
    /// Per electrode: coupled neurons and their current per pC (mV/ms/pC), built on first use.
    couplings: Vec<Option<Coupling>>,
    /// Cached effective-charge profiles per design.
    profiles: Vec<(StimDesign, Arc<[f32]>)>,
    /// Effective charge per (step, electrode) still to deliver; `pending[0]` is `pending_base`.
    pending: VecDeque<Vec<(u32, f32)>>,
    pending_base: u64,
    /// Current added to `i_ext` this step, to take back after it.
    touched: Vec<(u32, f32)>,
    /// Per neuron: 1 + step of its last spike (0 = never).
    last_spike: Vec<u32>,
    /// Per-neuron detecting electrodes (CSR).
    det_start: Vec<u32>,
    det_electrodes: Vec<u32>,
    queue: StimQueue,
    now_us: u64,
    scratch: Vec<Pulse>,
    scratch_near: Vec<(u32, f32)>,
    start_step: u64,
    net_time: std::time::Duration,
    mea_time: std::time::Duration,
    rec: Recording,
}

impl std::fmt::Debug for Mea {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mea")
            .field("layout", &self.layout.name)
            .field("electrodes", &self.layout.len())
            .field("neurons", &self.positions.len())
            .field("now_us", &self.now_us)
            .finish()
    }
}

impl Mea {
    /// An MEA under `net`, whose neuron positions it reads (a culture built by
    /// `dishloop-culture` has them).
    pub fn new(layout: Layout, net: &Network, cfg: MeaConfig) -> Result<Self, MeaError> {
        let pos = net.positions_um().ok_or(MeaError::NoPositions)?;
        let mut m = Self::with_positions(layout, pos.to_vec(), net.n_exc(), net.dt_ms(), cfg)?;
        m.now_us = net.step_index() * m.dt_us;
        m.pending_base = net.step_index();
        m.rec.first_step = net.step_index();
        m.start_step = net.step_index();
        Ok(m)
    }

    /// An MEA for neurons at `positions_um` (excitatory ones are `[0, n_exc)`), stepping
    /// `dt_ms`.
    pub fn with_positions(
        layout: Layout,
        positions_um: Vec<[f32; 2]>,
        n_exc: usize,
        dt_ms: f32,
        cfg: MeaConfig,
    ) -> Result<Self, MeaError> {
        layout.validate()?;
        let dt_us_f = dt_ms as f64 * 1000.0;
        if !(dt_us_f.is_finite() && dt_us_f >= 1.0) || dt_us_f.fract() != 0.0 {
            return Err(MeaError::Step(dt_ms));
        }
        let dt_us = dt_us_f as u64;
        let n = positions_um.len();
        let index = SpatialIndex::new(&positions_um, 50.0);
        let seed_key = dishloop_core::rng::stream_key(cfg.seed, 0x3EA_5EED);
        let j = cfg.detection.gain_jitter.clamp(0.0, 0.99);
        let gains: Vec<f32> = (0..n as u64)
            .map(|i| {
                let u = dishloop_core::rng::unit_f64(dishloop_core::rng::bits(seed_key ^ 0x6A1, i));
                1.0 + j * (2.0 * u as f32 - 1.0)
            })
            .collect();
        // Detection lists: electrodes → neurons, inverted to neurons → electrodes.
        let r_max = cfg.detection.detection_radius_um(1.0 + j);
        let thr = cfg.detection.threshold_uv();
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        let mut near = Vec::new();
        for e in layout.recording() {
            let el = layout.electrodes[e as usize];
            index.within(&positions_um, [el.x_um, el.y_um], r_max, &mut near);
            for &(i, d2) in &near {
                if cfg.detection.amplitude_uv(d2.sqrt(), gains[i as usize]) >= thr {
                    pairs.push((i, e));
                }
            }
        }
        pairs.sort_unstable();
        let mut det_start = vec![0u32; n + 1];
        for &(i, _) in &pairs {
            det_start[i as usize + 1] += 1;
        }
        for i in 1..=n {
            det_start[i] += det_start[i - 1];
        }
        let det_electrodes = pairs.iter().map(|p| p.1).collect();
        let i1 = one_step_threshold(dt_ms, cfg.stim.threshold_latency_ms);
        let n_el = layout.len();
        let rec = Recording {
            seed_key,
            dt_us: dt_us as f64,
            first_step: 0,
            counts: vec![0; n_el],
            ..Default::default()
        };
        Ok(Self {
            queue: StimQueue::new(n_el, cfg.max_queued_pulses),
            couplings: vec![None; n_el],
            layout,
            cfg,
            positions: positions_um,
            n_exc,
            index,
            gains,
            dt_ms,
            dt_us,
            i1,
            profiles: Vec::new(),
            pending: VecDeque::new(),
            pending_base: 0,
            touched: Vec::new(),
            last_spike: vec![0; n],
            det_start,
            det_electrodes,
            now_us: 0,
            scratch: Vec::new(),
            scratch_near: Vec::new(),
            start_step: 0,
            net_time: std::time::Duration::ZERO,
            mea_time: std::time::Duration::ZERO,
            rec,
        })
    }

    /// The layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The configuration.
    pub fn config(&self) -> &MeaConfig {
        &self.cfg
    }

    /// Neuron positions, µm.
    pub fn positions_um(&self) -> &[[f32; 2]] {
        &self.positions
    }

    /// Excitatory neurons are `[0, n_exc)`.
    pub fn n_exc(&self) -> usize {
        self.n_exc
    }

    /// Step, ms.
    pub fn dt_ms(&self) -> f32 {
        self.dt_ms
    }

    /// Start of the next step to simulate, µs since step 0.
    pub fn now_us(&self) -> u64 {
        self.now_us
    }

    /// One-step threshold current of the stimulation model, mV/ms.
    pub fn one_step_threshold(&self) -> f32 {
        self.i1
    }

    /// What was recorded.
    pub fn recording(&self) -> &Recording {
        &self.rec
    }

    /// Mutable access (e.g. to forget old events).
    pub fn recording_mut(&mut self) -> &mut Recording {
        &mut self.rec
    }

    /// The stimulation queues.
    pub fn queue(&self) -> &StimQueue {
        &self.queue
    }

    /// Electrodes that detect `neuron`.
    pub fn detecting_electrodes(&self, neuron: usize) -> &[u32] {
        match (self.det_start.get(neuron), self.det_start.get(neuron + 1)) {
            (Some(&a), Some(&b)) => &self.det_electrodes[a as usize..b as usize],
            _ => &[],
        }
    }

    /// Neurons each electrode detects (index = electrode).
    pub fn detected_neurons(&self) -> Vec<Vec<u32>> {
        let mut v = vec![Vec::new(); self.layout.len()];
        for n in 0..self.positions.len() {
            for &e in self.detecting_electrodes(n) {
                v[e as usize].push(n as u32);
            }
        }
        v
    }

    /// Per-neuron amplitude gain of the detection model.
    pub fn neuron_gain(&self, neuron: usize) -> f32 {
        self.gains.get(neuron).copied().unwrap_or(1.0)
    }

    /// Queues a (synchronised) stim on `electrodes` with the minimum lead time; returns its
    /// start, µs.
    pub fn stim(
        &mut self,
        electrodes: &[u32],
        design: StimDesign,
        burst: BurstDesign,
    ) -> Result<u64, MeaError> {
        self.queue.stim(
            &self.layout,
            electrodes,
            design,
            burst,
            MIN_LEAD_TIME_US,
            self.now_us,
        )
    }

    /// Queues a stim that starts no earlier than `at_us` (µs since step 0).
    pub fn stim_at(
        &mut self,
        electrodes: &[u32],
        design: StimDesign,
        burst: BurstDesign,
        at_us: u64,
    ) -> Result<u64, MeaError> {
        let lead = at_us
            .saturating_sub(self.now_us)
            .max(MIN_LEAD_TIME_US as u64)
            .div_ceil(TIMING_STEP_US as u64)
            * TIMING_STEP_US as u64;
        let lead = u32::try_from(lead).map_err(|_| MeaError::TooFarAhead(at_us))?;
        self.queue
            .stim(&self.layout, electrodes, design, burst, lead, self.now_us)
    }

    /// Cancels queued pulses on `electrodes`; returns how many.
    pub fn interrupt(&mut self, electrodes: &[u32]) -> usize {
        self.queue.interrupt(electrodes, self.now_us)
    }

    /// Synchronises the next operations on `electrodes`.
    pub fn sync(&mut self, electrodes: &[u32]) {
        self.queue.sync(electrodes);
    }

    /// Runs a plan now (all or nothing).
    pub fn run_plan(&mut self, plan: &mut StimPlan) -> Result<(), MeaError> {
        plan.run(&mut self.queue, &self.layout, self.now_us)
    }

    /// Delivers one already-scheduled pulse directly, bypassing the queues (for a device that
    /// keeps its own queues, like the CL1's). A pulse whose onset lies in the past is delivered
    /// at the current step.
    pub fn deliver(&mut self, pulse: Pulse) -> Result<(), MeaError> {
        if !self.layout.is_stimulable(pulse.electrode as usize) {
            return Err(EnvelopeError::NotStimulable {
                channel: pulse.electrode as usize,
            }
            .into());
        }
        self.schedule(pulse);
        Ok(())
    }

    fn profile(&mut self, d: &StimDesign) -> Arc<[f32]> {
        if let Some((_, p)) = self.profiles.iter().find(|(k, _)| k == d) {
            return p.clone();
        }
        let p: Arc<[f32]> = self.cfg.stim.charge_profile(d).into();
        if self.profiles.len() >= 256 {
            self.profiles.remove(0);
        }
        self.profiles.push((*d, p.clone()));
        p
    }

    fn schedule(&mut self, pulse: Pulse) {
        let prof = self.profile(&pulse.design);
        let now_step = self.now_us / self.dt_us;
        if self.pending.is_empty() {
            self.pending_base = now_step;
        }
        for (k, &q) in prof.iter().enumerate() {
            if q <= 0.0 {
                continue;
            }
            let t = pulse.start_us + k as u64 * TIMING_STEP_US as u64;
            let step = (t / self.dt_us).max(self.pending_base);
            let idx = (step - self.pending_base) as usize;
            while self.pending.len() <= idx {
                self.pending.push_back(Vec::new());
            }
            let slot = &mut self.pending[idx];
            match slot.iter_mut().find(|(e, _)| *e == pulse.electrode) {
                Some(x) => x.1 += q,
                None => slot.push((pulse.electrode, q)),
            }
        }
        self.rec.pulses.push(pulse);
    }

    fn coupling(&mut self, e: u32) -> Arc<[(u32, f32)]> {
        if let Some(c) = &self.couplings[e as usize] {
            return c.clone();
        }
        let el = self.layout.electrodes[e as usize];
        let m = self.cfg.stim;
        let r = m.coupling_radius_um();
        let mut near = std::mem::take(&mut self.scratch_near);
        self.index
            .within(&self.positions, [el.x_um, el.y_um], r, &mut near);
        let mut v: Vec<(u32, f32)> = near
            .iter()
            .map(|&(i, d2)| (i, self.i1 / m.threshold_charge_pc(d2.sqrt())))
            .collect();
        // Strongest coupling first, so delivery can stop at the first negligible one.
        v.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let list: Arc<[(u32, f32)]> = v.into();
        self.scratch_near = near;
        self.couplings[e as usize] = Some(list.clone());
        list
    }

    /// Neurons coupled to electrode `e` and their current per pC of effective charge
    /// (mV/ms/pC), strongest first; empty for a non-stimulable electrode.
    pub fn coupled_neurons(&mut self, e: u32) -> Arc<[(u32, f32)]> {
        if !self.layout.is_stimulable(e as usize) {
            return Arc::from(Vec::new());
        }
        self.coupling(e)
    }

    /// Applies stimulation for step `k` to `i_ext`.
    fn apply(&mut self, k: u64, net: &mut Network) {
        // Late entries (steps before k) are delivered now.
        let mut due: Vec<(u32, f32)> = Vec::new();
        while self.pending_base <= k {
            match self.pending.pop_front() {
                Some(v) => due.extend(v),
                None => break,
            }
            self.pending_base += 1;
        }
        if self.pending.is_empty() {
            self.pending_base = k + 1;
        }
        if due.is_empty() {
            return;
        }
        let cap = self.cfg.stim.max_drive * self.i1;
        let n = net.n().min(self.last_spike.len());
        let refr = (self.cfg.stim.refractory_ms / self.dt_ms).round().max(0.0) as u64;
        let negligible = self.cfg.stim.min_drive * self.i1;
        for (e, q) in due {
            let list = self.coupling(e);
            let i_ext = net.i_ext_mut();
            for &(i, c) in list.iter() {
                if c * q < negligible {
                    break;
                }
                let i = i as usize;
                let last = self.last_spike.get(i).copied().unwrap_or(0) as u64;
                if i < n && (last == 0 || last + refr <= k) {
                    let a = (c * q).min(cap);
                    i_ext[i] += a;
                    self.touched.push((i as u32, a));
                }
            }
        }
    }

    fn undo(&mut self, net: &mut Network) {
        if self.touched.is_empty() {
            return;
        }
        let i_ext = net.i_ext_mut();
        for &(i, a) in &self.touched {
            if let Some(x) = i_ext.get_mut(i as usize) {
                *x -= a;
            }
        }
        self.touched.clear();
    }

    fn record(&mut self, k: u64, spikes: &[u32]) {
        let k32 = k as u32;
        for &s in spikes {
            if let Some(l) = self.last_spike.get_mut(s as usize) {
                *l = k32 + 1;
            }
            if self.cfg.keep_raster {
                self.rec.steps.push(k32);
                self.rec.neurons.push(s);
            }
            let (a, b) = match (
                self.det_start.get(s as usize),
                self.det_start.get(s as usize + 1),
            ) {
                (Some(&a), Some(&b)) => (a as usize, b as usize),
                _ => continue,
            };
            for &e in &self.det_electrodes[a..b] {
                self.rec.e_steps.push(k32);
                self.rec.e_electrodes.push(e);
                self.rec.e_neurons.push(s);
                self.rec.counts[e as usize] += 1;
            }
        }
    }

    /// Advances `net` by one step with stimulation and recording; returns its spikes.
    ///
    /// Before the step, queued pulses starting before its end are taken from the queues and
    /// the effective charge falling into the step is added to `i_ext` of the coupled neurons;
    /// after it, that current is taken back (other users' `i_ext` values are untouched) and the
    /// spikes are recorded.
    pub fn step<'n>(&mut self, net: &'n mut Network) -> &'n [u32] {
        let t0 = std::time::Instant::now();
        let k = net.step_index();
        self.now_us = k * self.dt_us;
        let end_us = self.now_us + self.dt_us;
        let mut due = std::mem::take(&mut self.scratch);
        due.clear();
        self.queue.pop_due(end_us, &mut due);
        for p in due.drain(..) {
            self.schedule(p);
        }
        self.scratch = due;
        self.apply(k, net);
        let t1 = std::time::Instant::now();
        let spikes = net.step();
        let t2 = std::time::Instant::now();
        self.record(k, spikes);
        self.undo(net);
        self.now_us = end_us;
        let t3 = std::time::Instant::now();
        self.net_time += t2 - t1;
        self.mea_time += (t1 - t0) + (t3 - t2);
        net.last_spikes()
    }

    /// Runs `n_steps`, calling `on_step(step_index, spikes)` after each.
    pub fn run(&mut self, net: &mut Network, n_steps: u64, mut on_step: impl FnMut(u64, &[u32])) {
        for _ in 0..n_steps {
            let k = net.step_index();
            let s = self.step(net);
            on_step(k, s);
        }
    }

    /// Steps spanned by the recording so far (`first_step..next_step`).
    pub fn next_step(&self) -> u64 {
        self.now_us / self.dt_us
    }

    /// Wall time spent `(inside the network's step, in the MEA's own work)` since the MEA was
    /// attached: the MEA's cost relative to the simulation it records.
    pub fn timings(&self) -> (std::time::Duration, std::time::Duration) {
        (self.net_time, self.mea_time)
    }

    /// Steps recorded since the MEA was attached.
    pub fn recorded_steps(&self) -> u64 {
        self.next_step().saturating_sub(self.start_step)
    }

    /// Step at which the MEA was attached.
    pub fn start_step(&self) -> u64 {
        self.start_step
    }

    /// Per-electrode firing rate over the recording so far, Hz (spikes per electrode per
    /// second; non-recording electrodes 0).
    pub fn electrode_rates_hz(&self) -> Vec<f64> {
        let span_s = self.recorded_steps() as f64 * self.dt_ms as f64 / 1000.0;
        self.rec
            .counts
            .iter()
            .map(|&c| if span_s > 0.0 { c as f64 / span_s } else { 0.0 })
            .collect()
    }
}
