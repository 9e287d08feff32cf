//! Point-neuron models: Izhikevich (2003), AdEx (Brette & Gerstner 2005) and leaky
//! integrate-and-fire with spike-triggered adaptation.
//!
//! Units: membrane potential in mV, time in ms. Synaptic conductances are stored *per unit
//! capacitance* (1/ms), so `g·(E − v)` is a rate of change of v in mV/ms for every model.
//! For Izhikevich cells this is exactly the convention of Izhikevich (2003) and BL-1 (the
//! "current" I is in mV/ms); for AdEx/LIF a conductance of `g_ns` nanosiemens on a cell of
//! `c_pf` picofarads is `g_ns / c_pf` per ms. External currents follow the same rule: they are
//! given in mV/ms (Izhikevich units); AdEx/LIF cells receive `i · c_pf` pA.

use serde::{Deserialize, Serialize};

/// Izhikevich (2003) cortical cell classes (Izhikevich 2003, Fig. 2; Izhikevich 2004).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum IzhType {
    /// Regular spiking (excitatory): adapting tonic spiking.
    RS,
    /// Intrinsically bursting (excitatory): initial burst, then single spikes.
    IB,
    /// Chattering (excitatory): repetitive high-frequency bursts.
    CH,
    /// Fast spiking (inhibitory): high-rate, non-adapting.
    FS,
    /// Low-threshold spiking (inhibitory): rebound and low-threshold spikes.
    LTS,
}

/// Parameters of one Izhikevich cell: `v' = 0.04v² + 5v + 140 − u + I`, `u' = a(bv − u)`,
/// spike at v ≥ 30 mV, then v ← c, u ← u + d.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct IzhParams {
    /// Recovery time scale (1/ms).
    pub a: f32,
    /// Recovery sensitivity to v.
    pub b: f32,
    /// Reset potential (mV).
    pub c: f32,
    /// Recovery jump after a spike.
    pub d: f32,
}

impl IzhType {
    /// All five types, excitatory first.
    pub const ALL: [IzhType; 5] = [
        IzhType::RS,
        IzhType::IB,
        IzhType::CH,
        IzhType::FS,
        IzhType::LTS,
    ];

    /// The standard (a, b, c, d) of Izhikevich (2003), Fig. 2 caption / Table in BL-1 §2.
    pub fn params(self) -> IzhParams {
        let (a, b, c, d) = match self {
            IzhType::RS => (0.02, 0.2, -65.0, 8.0),
            IzhType::IB => (0.02, 0.2, -55.0, 4.0),
            IzhType::CH => (0.02, 0.2, -50.0, 2.0),
            IzhType::FS => (0.1, 0.2, -65.0, 2.0),
            IzhType::LTS => (0.02, 0.25, -65.0, 2.0),
        };
        IzhParams { a, b, c, d }
    }

    /// Whether the type is excitatory (glutamatergic).
    pub fn is_excitatory(self) -> bool {
        matches!(self, IzhType::RS | IzhType::IB | IzhType::CH)
    }

    /// Parameters with Izhikevich's (2003) heterogeneity: for excitatory cells
    /// c += 15·r², d −= 6·r²; for inhibitory cells a += 0.08·r, b −= 0.05·r, with r ~ U(0, 1)
    /// scaled by `jitter` (0 = the standard type, 1 = Izhikevich's full spread, which for RS
    /// spans RS → CH). `r` is supplied by the caller so wiring stays deterministic.
    pub fn jittered(self, jitter: f32, r: f32) -> IzhParams {
        let mut p = self.params();
        let r = r * jitter;
        if self.is_excitatory() {
            p.c += 15.0 * r * r;
            p.d -= 6.0 * r * r;
        } else {
            p.a += 0.08 * r;
            p.b -= 0.05 * r;
        }
        p
    }
}

/// AdEx cell classes (the five Naud-style sets BL-1 ships; see reference §2 for the caveat
/// that they share C and g_L).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdexType {
    /// Regular spiking.
    Rs,
    /// Bursting.
    Bursting,
    /// Adapting.
    Adapting,
    /// Fast spiking (inhibitory).
    Fs,
    /// Irregular (inhibitory).
    Irregular,
}

/// Parameters of one AdEx cell (Brette & Gerstner 2005, J Neurophysiol 94:3637):
/// `C v' = −g_L(v − E_L) + g_L Δ_T exp((v − V_T)/Δ_T) − w + I`, `τ_w w' = a(v − E_L) − w`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdexParams {
    /// Capacitance (pF).
    pub c_pf: f32,
    /// Leak conductance (nS).
    pub gl_ns: f32,
    /// Leak reversal (mV).
    pub el_mv: f32,
    /// Slope factor (mV).
    pub delta_t_mv: f32,
    /// Threshold (mV).
    pub vt_mv: f32,
    /// Reset (mV).
    pub v_reset_mv: f32,
    /// Peak at which a spike is registered (mV).
    pub v_peak_mv: f32,
    /// Subthreshold adaptation (nS).
    pub a_ns: f32,
    /// Spike-triggered adaptation (pA).
    pub b_pa: f32,
    /// Adaptation time constant (ms).
    pub tau_w_ms: f32,
}

impl AdexType {
    /// Parameters as in BL-1 §2 (C = 281 pF, g_L = 30 nS, E_L = −70.6, Δ_T = 2, V_T = −50.4,
    /// V_peak = 20 mV; Brette & Gerstner 2005 Table 1 for RS).
    pub fn params(self) -> AdexParams {
        let (v_reset_mv, a_ns, b_pa, tau_w_ms) = match self {
            AdexType::Rs => (-70.6, 4.0, 80.5, 144.0),
            AdexType::Bursting => (-47.2, 4.0, 80.5, 20.0),
            AdexType::Adapting => (-70.6, 28.0, 0.0, 144.0),
            AdexType::Fs => (-70.6, 4.0, 0.5, 144.0),
            AdexType::Irregular => (-70.6, -10.0, 30.0, 300.0),
        };
        AdexParams {
            c_pf: 281.0,
            gl_ns: 30.0,
            el_mv: -70.6,
            delta_t_mv: 2.0,
            vt_mv: -50.4,
            v_reset_mv,
            v_peak_mv: 20.0,
            a_ns,
            b_pa,
            tau_w_ms,
        }
    }
    /// Whether the type is excitatory.
    pub fn is_excitatory(self) -> bool {
        matches!(self, AdexType::Rs | AdexType::Bursting | AdexType::Adapting)
    }
}

/// Leaky integrate-and-fire with refractoriness and spike-triggered adaptation:
/// `v' = (E_L − v)/τ_m − w + I_syn + I`, `w' = −w/τ_w`, on a spike v ← V_r, w ← w + b.
/// With b = 0 it is the COBA benchmark cell (Vogels & Abbott 2005; Brette et al. 2007).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct LifParams {
    /// Membrane time constant (ms).
    pub tau_m_ms: f32,
    /// Leak reversal (mV).
    pub el_mv: f32,
    /// Threshold (mV).
    pub v_th_mv: f32,
    /// Reset (mV).
    pub v_reset_mv: f32,
    /// Absolute refractory period (ms).
    pub t_ref_ms: f32,
    /// Spike-triggered adaptation jump (mV/ms).
    pub b_mv_per_ms: f32,
    /// Adaptation time constant (ms).
    pub tau_w_ms: f32,
    /// Capacitance (pF), used only to convert currents given in pA.
    pub c_pf: f32,
}

impl LifParams {
    /// The COBA benchmark cell: τ_m 20 ms, E_L −60, V_t −50, V_r −60 mV, 5 ms refractory,
    /// C = 200 pF (Brette et al. 2007, benchmark 1), no adaptation.
    pub fn coba() -> Self {
        Self {
            tau_m_ms: 20.0,
            el_mv: -60.0,
            v_th_mv: -50.0,
            v_reset_mv: -60.0,
            t_ref_ms: 5.0,
            b_mv_per_ms: 0.0,
            tau_w_ms: 100.0,
            c_pf: 200.0,
        }
    }
}

/// Integration scheme of the Izhikevich model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum IzhScheme {
    /// v advanced in two half steps of dt/2, u once with the new v (Izhikevich 2003's own
    /// code). Default: the quadratic term 0.04v² makes one forward-Euler step of 0.5 ms
    /// overshoot near threshold, so a spike onset can jump past 30 mV by tens of mV or, with
    /// strong input, diverge; halving the step for v keeps the upstroke bounded at dt = 0.5.
    #[default]
    HalfStep,
    /// One forward-Euler step, u from the old v (BL-1's scheme; for comparison).
    Euler,
}

/// A contiguous block of neurons of one model. Populations are lists of blocks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Model {
    /// Izhikevich cells (per-neuron a, b, c, d).
    Izhikevich,
    /// AdEx cells sharing C, g_L, E_L, Δ_T, V_T, V_peak (per-neuron V_reset, a, b, τ_w).
    Adex {
        /// Shared parameters (the per-neuron fields are taken from the arrays).
        shared: AdexParams,
    },
    /// LIF cells sharing all parameters.
    Lif(LifParams),
}

/// Per-neuron parameters of a population (struct of arrays, one entry per neuron).
#[derive(Clone, Debug, Default)]
pub struct NeuronParams {
    /// Izhikevich a / AdEx a (nS) / unused for LIF.
    pub p0: Vec<f32>,
    /// Izhikevich b / AdEx b (pA).
    pub p1: Vec<f32>,
    /// Izhikevich c / AdEx V_reset.
    pub p2: Vec<f32>,
    /// Izhikevich d / AdEx τ_w.
    pub p3: Vec<f32>,
}

/// A block of neurons `[start, end)` of one model.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    /// First neuron.
    pub start: usize,
    /// One past the last neuron.
    pub end: usize,
    /// Model of every neuron in the block.
    pub model: Model,
}

/// Builder of a (possibly hybrid) population. Neurons are appended in order; the caller
/// decides the E/I layout (cultures put excitatory neurons first).
#[derive(Clone, Debug, Default)]
pub struct PopulationBuilder {
    pub(crate) blocks: Vec<Block>,
    pub(crate) params: NeuronParams,
    pub(crate) v0: Vec<f32>,
    pub(crate) u0: Vec<f32>,
}

impl PopulationBuilder {
    /// An empty population.
    pub fn new() -> Self {
        Self::default()
    }

    fn push_block(&mut self, model: Model, n: usize) {
        let start = self.v0.len() - n;
        if let Some(last) = self.blocks.last_mut()
            && last.model == model
            && last.end == start
        {
            last.end += n;
            return;
        }
        self.blocks.push(Block {
            start,
            end: start + n,
            model,
        });
    }

    /// Appends one Izhikevich neuron with the given parameters (v0 = −65 mV, u0 = b·v0).
    pub fn push_izhikevich(&mut self, p: IzhParams) -> &mut Self {
        let v0 = -65.0;
        self.params.p0.push(p.a);
        self.params.p1.push(p.b);
        self.params.p2.push(p.c);
        self.params.p3.push(p.d);
        self.v0.push(v0);
        self.u0.push(p.b * v0);
        self.push_block(Model::Izhikevich, 1);
        self
    }

    /// Appends one AdEx neuron (v0 = E_L, w0 = 0).
    pub fn push_adex(&mut self, p: AdexParams) -> &mut Self {
        self.params.p0.push(p.a_ns);
        self.params.p1.push(p.b_pa);
        self.params.p2.push(p.v_reset_mv);
        self.params.p3.push(p.tau_w_ms);
        self.v0.push(p.el_mv);
        self.u0.push(0.0);
        let shared = AdexParams {
            v_reset_mv: 0.0,
            a_ns: 0.0,
            b_pa: 0.0,
            tau_w_ms: 0.0,
            ..p
        };
        self.push_block(Model::Adex { shared }, 1);
        self
    }

    /// Appends one LIF neuron starting at `v0_mv`.
    pub fn push_lif(&mut self, p: LifParams, v0_mv: f32) -> &mut Self {
        self.params.p0.push(0.0);
        self.params.p1.push(0.0);
        self.params.p2.push(0.0);
        self.params.p3.push(0.0);
        self.v0.push(v0_mv);
        self.u0.push(0.0);
        self.push_block(Model::Lif(p), 1);
        self
    }

    /// Number of neurons so far.
    pub fn len(&self) -> usize {
        self.v0.len()
    }

    /// Whether the population is empty.
    pub fn is_empty(&self) -> bool {
        self.v0.is_empty()
    }

    /// Overrides the initial membrane potential of neuron `i`.
    pub fn set_v0(&mut self, i: usize, v_mv: f32) {
        self.v0[i] = v_mv;
    }
}

/// `if c { a } else { b }` as a data select, never a branch (see `lif_cell`).
#[inline(always)]
fn select<T>(c: bool, a: T, b: T) -> T {
    std::hint::select_unpredictable(c, a, b)
}

/// Izhikevich update of one neuron over one step; returns true on a spike.
///
/// `i_total` is the summed synaptic + external drive in mV/ms.
#[inline(always)]
pub fn izh_step(
    v: &mut f32,
    u: &mut f32,
    p: IzhParams,
    i_total: f32,
    dt_ms: f32,
    scheme: IzhScheme,
) -> bool {
    let mut vv = *v;
    let uu = *u;
    match scheme {
        IzhScheme::HalfStep => {
            let h = 0.5 * dt_ms;
            // Floor at −120 mV: below the model's lower fixed point (≈ −83 mV) v² dominates,
            // and a huge hyperpolarising kick would otherwise be thrown back past threshold.
            vv = (vv + h * (0.04 * vv * vv + 5.0 * vv + 140.0 - uu + i_total)).max(-120.0);
            // Stop at threshold: a second half step from above 30 mV only inflates v².
            if vv < 30.0 {
                vv = (vv + h * (0.04 * vv * vv + 5.0 * vv + 140.0 - uu + i_total)).max(-120.0);
            }
            *u = uu + dt_ms * p.a * (p.b * vv.min(30.0) - uu);
        }
        IzhScheme::Euler => {
            vv = (vv + dt_ms * (0.04 * vv * vv + 5.0 * vv + 140.0 - uu + i_total)).max(-120.0);
            *u = uu + dt_ms * p.a * (p.b * *v - uu);
        }
    }
    if vv >= 30.0 || vv.is_nan() {
        *v = p.c;
        *u += p.d;
        true
    } else {
        *v = vv;
        false
    }
}

#[allow(clippy::too_many_arguments)]
/// AdEx update of one neuron over one step (forward Euler, exponent clamped at 20 as in
/// BL-1 so a single step can never overflow); `i_total` in mV/ms.
#[inline(always)]
pub fn adex_step(
    v: &mut f32,
    w: &mut f32,
    sh: &AdexParams,
    a_ns: f32,
    b_pa: f32,
    v_reset: f32,
    tau_w_ms: f32,
    i_total: f32,
    dt_ms: f32,
) -> bool {
    let vv = *v;
    let ex = ((vv - sh.vt_mv) / sh.delta_t_mv).min(20.0);
    let dv = (-sh.gl_ns * (vv - sh.el_mv)
        + sh.gl_ns * sh.delta_t_mv * crate::fastmath::exp_f32(ex)
        - *w)
        / sh.c_pf
        + i_total;
    let dw = (a_ns * (vv - sh.el_mv) - *w) / tau_w_ms;
    let vn = vv + dt_ms * dv;
    *w += dt_ms * dw;
    if vn >= sh.v_peak_mv || vn.is_nan() {
        *v = v_reset;
        *w += b_pa;
        true
    } else {
        *v = vn;
        false
    }
}

/// LIF update of one neuron over one step (forward Euler, as Brian2's COBA); `refr` counts
/// remaining refractory steps.
#[inline(always)]
pub fn lif_step(
    v: &mut f32,
    w: &mut f32,
    refr: &mut u16,
    p: &LifParams,
    i_total: f32,
    dt_ms: f32,
    ref_steps: u16,
) -> bool {
    *w -= dt_ms * *w * (1.0 / p.tau_w_ms);
    if *refr > 0 {
        *refr -= 1;
        return false;
    }
    let vn = *v + dt_ms * ((p.el_mv - *v) * (1.0 / p.tau_m_ms) - *w + i_total);
    if vn > p.v_th_mv {
        *v = p.v_reset_mv;
        *w += p.b_mv_per_ms;
        *refr = ref_steps;
        true
    } else {
        *v = vn;
        false
    }
}

// ---------------------------------------------------------------------------------------------
// Chunk kernels used by the network step.
//
// Each kernel is the per-neuron function above applied to a whole chunk, written as one
// straight-line body per neuron with the branches turned into selects, so that LLVM
// vectorises it 8 wide (AVX2). The arithmetic is the same expression, in the same order, as
// the scalar function, so both give bit-identical results (Rust never contracts a·b + c into
// an FMA on its own). A spike is reported in `fired[k]` (0/1); the caller collects the
// indices afterwards, which keeps pushes out of the vector loop. Booleans combine with `&`
// and `|`, never `&&` and `||`: short-circuit operators are control flow, which LLVM
// if-converts into masked stores.
// ---------------------------------------------------------------------------------------------

/// Where a chunk kernel reads the four per-neuron parameters (`p0..p3` of
/// [`NeuronParams`]) from: per-neuron arrays, or one set for the whole chunk. Cultures build
/// type blocks of identical cells, and broadcasting their parameters saves 16 bytes of
/// memory traffic per neuron and step, a sixth of the update's traffic at 100 000 neurons.
pub(crate) trait ParamSrc: Copy {
    /// Parameters of neuron `k` of the chunk.
    fn at(&self, k: usize) -> [f32; 4];
}

/// One parameter set for every neuron of the chunk.
impl ParamSrc for [f32; 4] {
    #[inline(always)]
    fn at(&self, _k: usize) -> [f32; 4] {
        *self
    }
}

/// Per-neuron parameter arrays (all of the chunk's length).
#[derive(Clone, Copy)]
pub(crate) struct PerNeuron<'a>(pub [&'a [f32]; 4]);

impl PerNeuron<'_> {
    /// Neurons `lo..hi` of the chunk.
    pub(crate) fn sub(&self, lo: usize, hi: usize) -> Self {
        PerNeuron(self.0.map(|a| &a[lo..hi]))
    }
}

impl ParamSrc for PerNeuron<'_> {
    #[inline(always)]
    fn at(&self, k: usize) -> [f32; 4] {
        [self.0[0][k], self.0[1][k], self.0[2][k], self.0[3][k]]
    }
}

/// Izhikevich update of a chunk; same arithmetic as [`izh_step`]. Under `blocked` (TTX) a
/// cell that would spike is held just below threshold instead and keeps its recovery value.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn izh_chunk<P: ParamSrc>(
    v: &mut [f32],
    u: &mut [f32],
    prm: P,
    itot: &[f32],
    fired: &mut [u32],
    dt_ms: f32,
    scheme: IzhScheme,
    blocked: bool,
) {
    let m = v.len();
    // Re-slicing to one length lets LLVM drop every bounds check inside the loops.
    let (u, itot, fired) = (&mut u[..m], &itot[..m], &mut fired[..m]);
    match scheme {
        IzhScheme::HalfStep => {
            for k in 0..m {
                izh_cell::<true>(
                    &mut v[k],
                    &mut u[k],
                    &mut fired[k],
                    prm.at(k),
                    itot[k],
                    dt_ms,
                    blocked,
                );
            }
        }
        IzhScheme::Euler => {
            for k in 0..m {
                izh_cell::<false>(
                    &mut v[k],
                    &mut u[k],
                    &mut fired[k],
                    prm.at(k),
                    itot[k],
                    dt_ms,
                    blocked,
                );
            }
        }
    }
}

/// One Izhikevich cell over one step ([`izh_step`] with `HALF` = [`IzhScheme::HalfStep`]),
/// branch-free: threshold, reset and the TTX block are selects.
#[inline(always)]
pub(crate) fn izh_cell<const HALF: bool>(
    v: &mut f32,
    u: &mut f32,
    fired: &mut u32,
    [pa, pb, pc, pd]: [f32; 4],
    i: f32,
    dt_ms: f32,
    blocked: bool,
) {
    let (v0, u0) = (*v, *u);
    let (vn, un) = if HALF {
        let h = 0.5 * dt_ms;
        let v1 = (v0 + h * (0.04 * v0 * v0 + 5.0 * v0 + 140.0 - u0 + i)).max(-120.0);
        let v2 = (v1 + h * (0.04 * v1 * v1 + 5.0 * v1 + 140.0 - u0 + i)).max(-120.0);
        // The second half step only runs from below threshold (see `izh_step`).
        let vn = select(v1 < 30.0, v2, v1);
        (vn, u0 + dt_ms * pa * (pb * vn.min(30.0) - u0))
    } else {
        let vn = (v0 + dt_ms * (0.04 * v0 * v0 + 5.0 * v0 + 140.0 - u0 + i)).max(-120.0);
        (vn, u0 + dt_ms * pa * (pb * v0 - u0))
    };
    let spike = (vn >= 30.0) | vn.is_nan();
    let fire = spike & !blocked;
    *v = select(fire, pc, select(spike, 29.0f32.min(v0.max(pc)), vn));
    // Blocked: `izh_step` has added d already and the caller takes it off again.
    *u = select(fire, un + pd, select(spike, (un + pd) - pd, un));
    *fired = fire as u32;
}

/// AdEx update of a chunk; same arithmetic as [`adex_step`]. Under `blocked` a cell that
/// would spike keeps its state of the previous step.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn adex_chunk<P: ParamSrc>(
    v: &mut [f32],
    w: &mut [f32],
    sh: &AdexParams,
    prm: P,
    itot: &[f32],
    fired: &mut [u32],
    dt_ms: f32,
    blocked: bool,
) {
    let m = v.len();
    let (w, itot, fired) = (&mut w[..m], &itot[..m], &mut fired[..m]);
    for k in 0..m {
        let [pa, pb, pr, pt] = prm.at(k);
        let (vv, w0) = (v[k], w[k]);
        let ex = ((vv - sh.vt_mv) / sh.delta_t_mv).min(20.0);
        let dv = (-sh.gl_ns * (vv - sh.el_mv)
            + sh.gl_ns * sh.delta_t_mv * crate::fastmath::exp_f32(ex)
            - w0)
            / sh.c_pf
            + itot[k];
        let dw = (pa * (vv - sh.el_mv) - w0) / pt;
        let vn = vv + dt_ms * dv;
        let wn = w0 + dt_ms * dw;
        let spike = (vn >= sh.v_peak_mv) | vn.is_nan();
        let fire = spike & !blocked;
        // `select` and `+ 0.0`: see `lif_cell`.
        v[k] = select(fire, pr, select(spike, vv + 0.0, vn));
        w[k] = select(fire, wn + pb, select(spike, w0 + 0.0, wn));
        fired[k] = fire as u32;
    }
}

/// LIF update of a chunk; same arithmetic as [`lif_step`] (refractory counter in steps).
/// Under `blocked` a cell that would spike keeps its state of the previous step.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn lif_chunk(
    v: &mut [f32],
    w: &mut [f32],
    refr: &mut [f32],
    c: &LifConsts,
    itot: &[f32],
    fired: &mut [u32],
    blocked: bool,
) {
    // Without spike-triggered adaptation w starts at 0 and stays exactly 0 (0·decay = 0), so
    // the common case (the COBA cell) skips the w array altogether.
    if !c.adapts() {
        lif_chunk_impl::<false>(v, w, refr, c, itot, fired, blocked);
    } else {
        lif_chunk_impl::<true>(v, w, refr, c, itot, fired, blocked);
    }
}

#[inline(always)]
fn lif_chunk_impl<const ADAPT: bool>(
    v: &mut [f32],
    w: &mut [f32],
    refr: &mut [f32],
    c: &LifConsts,
    itot: &[f32],
    fired: &mut [u32],
    blocked: bool,
) {
    let m = v.len();
    let (w, refr, itot, fired) = (&mut w[..m], &mut refr[..m], &itot[..m], &mut fired[..m]);
    for k in 0..m {
        lif_cell::<ADAPT>(
            &mut v[k],
            &mut w[k],
            &mut refr[k],
            &mut fired[k],
            c,
            itot[k],
            blocked,
        );
    }
}

/// Per-chunk constants of the LIF update.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LifConsts {
    p: LifParams,
    dt_ms: f32,
    /// Reciprocals once per chunk instead of two divisions per neuron (`lif_step` uses the
    /// same products, so the scalar and vector paths agree bit for bit).
    inv_tau_m: f32,
    inv_tau_w: f32,
    ref_steps: f32,
}

impl LifConsts {
    pub(crate) fn new(p: &LifParams, dt_ms: f32) -> Self {
        Self {
            p: *p,
            dt_ms,
            inv_tau_m: 1.0 / p.tau_m_ms,
            inv_tau_w: 1.0 / p.tau_w_ms,
            // Whole steps, held as f32 so that the update stays in one register domain.
            ref_steps: (p.t_ref_ms / dt_ms).round(),
        }
    }
    /// Whether spikes move the adaptation variable (otherwise it stays 0).
    pub(crate) fn adapts(&self) -> bool {
        self.p.b_mv_per_ms != 0.0
    }
}

/// One LIF cell over one step ([`lif_step`]), branch-free. Without `ADAPT`, w is known to be
/// 0 and is neither read nor written.
#[inline(always)]
pub(crate) fn lif_cell<const ADAPT: bool>(
    v: &mut f32,
    w: &mut f32,
    refr: &mut f32,
    fired: &mut u32,
    c: &LifConsts,
    i: f32,
    blocked: bool,
) {
    let (p, dt_ms) = (&c.p, c.dt_ms);
    let (v0, r0) = (*v, *refr);
    let w0 = if ADAPT { *w } else { 0.0 };
    let wd = w0 - dt_ms * w0 * c.inv_tau_w;
    let vn = v0 + dt_ms * ((p.el_mv - v0) * c.inv_tau_m - wd + i);
    let in_ref = r0 > 0.0;
    let spike = !in_ref & (vn > p.v_th_mv);
    let fire = spike & !blocked;
    // A store that may give back the loaded value unchanged, or a chain of ifs, becomes
    // masked stores (VMASKMOVPS), which are microcoded and slow on AMD. Hence `select` and
    // `x + 0.0` for a kept value (a computed value: LLVM may not fold it, since it turns −0.0
    // into +0.0), so that the loop stores whole vectors. The numbers are the same.
    let held = select(in_ref | spike, v0 + 0.0, vn);
    *v = select(fire, p.v_reset_mv, held);
    if ADAPT {
        let held = select(spike, w0 + 0.0, wd);
        *w = select(fire, wd + p.b_mv_per_ms, held);
    }
    // Outside the refractory period the counter is 0, so it only ever counts down to 0.
    *refr = select(fire, c.ref_steps, (r0 - 1.0).max(0.0));
    *fired = fire as u32;
}
