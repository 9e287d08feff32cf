//! The neural substrates a Pong agent plays on, all built from one culture config (by default
//! the embedded `dishbrain_pong`, capped in size at constant density):
//!
//! - **bank**: the culture's cells (types, heterogeneity, background noise, positions) with
//!   every recurrent synapse removed: a feed-forward bank (pursuit);
//! - **culture**: the full recurrent culture with its plasticity switched off, a fixed
//!   reservoir (reservoir, reflex);
//! - **sensorimotor**: the culture's cells split into a sensory half (x < width/2) and a motor
//!   half, with a plastic all-to-all projection from sensory to motor excitatory cells and
//!   fixed motor E ↔ I loops for competition (rstdp).
//!
//! Sensory and readout regions are horizontal bands by neuron height, BL-1's `Learner`
//! layout (reference/bl1.md §7). Stimulation goes through [`set_currents`], the one place
//! that touches `Network::i_ext_mut`, so the MEA crate's current injection can replace it.

use dishloop_core::{Csr, Network};
use dishloop_culture::{Culture, CultureConfig};
use dishloop_learn::{BandPool, PlasticProjection};

use super::PongError;

/// Which substrate to build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SubstrateKind {
    Bank,
    Culture,
    Sensorimotor,
}

/// Wiring constants of the sensorimotor substrate.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SensorimotorWiring {
    pub w_init: f32,
    pub g_ei: f32,
    pub g_ie: f32,
    pub jitter: f32,
    pub p_connect: f64,
}

/// A built substrate.
pub(crate) struct Substrate {
    pub net: Network,
    /// Neurons of each sensory band (stimulated by the place code and by feedback).
    pub sensory: Vec<Vec<u32>>,
    /// Readout bands: features (pursuit, reservoir, reflex) or motor bands (rstdp).
    pub readout: BandPool,
    /// The plastic projection (sensorimotor only).
    pub plastic: Option<PlasticProjection>,
    /// Motor excitatory cells per band (sensorimotor only; exploration currents go here).
    pub motor: Vec<Vec<u32>>,
}

fn band_of(y: f32, height: f64, n_bands: usize) -> usize {
    (((y as f64 / height) * n_bands as f64).max(0.0) as usize).min(n_bands - 1)
}

/// Builds a substrate from `cfg` (already capped) with `n_bands` bands.
pub(crate) fn build(
    kind: SubstrateKind,
    cfg: &CultureConfig,
    seed: u64,
    n_bands: usize,
    sm: SensorimotorWiring,
) -> Result<Substrate, PongError> {
    let mut culture = Culture::build(cfg, seed)?;
    let spec = &mut culture.spec;
    // Agents learn in their readout or their own plastic projection: the culture's own
    // plasticity stays off so "recurrent weights are never touched" holds.
    spec.stdp = None;
    spec.homeostatic = None;
    spec.structural = None;
    let n = culture.positions_um.len();
    let [width, height] = cfg.culture.substrate_um;
    let pos = culture.positions_um.clone();
    let n_exc = culture.n_exc;
    let y_band: Vec<usize> = pos.iter().map(|p| band_of(p[1], height, n_bands)).collect();
    let empty = |what: &str| {
        PongError::Config(format!(
            "{n} neurons are too few for {n_bands} {what} bands (a band is empty); raise --neurons"
        ))
    };
    match kind {
        SubstrateKind::Bank | SubstrateKind::Culture => {
            if kind == SubstrateKind::Bank {
                spec.csr = Csr::from_rows(n, vec![Vec::new(); n])?;
            }
            let mut sensory = vec![Vec::new(); n_bands];
            for (i, &b) in y_band.iter().enumerate() {
                sensory[b].push(i as u32);
            }
            let map: Vec<Option<usize>> = y_band.iter().map(|&b| Some(b)).collect();
            let readout = BandPool::new(n_bands, &map).map_err(|_| empty("sensory"))?;
            let net = culture.into_network()?;
            Ok(Substrate {
                net,
                sensory,
                readout,
                plastic: None,
                motor: Vec::new(),
            })
        }
        SubstrateKind::Sensorimotor => {
            let left = |i: usize| (pos[i][0] as f64) < 0.5 * width;
            let mut sensory = vec![Vec::new(); n_bands];
            let mut motor = vec![Vec::new(); n_bands];
            let mut motor_map = vec![None; n];
            let (mut s_exc, mut m_exc, mut m_inh) = (Vec::new(), Vec::new(), Vec::new());
            for i in 0..n {
                if left(i) {
                    sensory[y_band[i]].push(i as u32);
                    if i < n_exc {
                        s_exc.push(i as u32);
                    }
                } else if i < n_exc {
                    m_exc.push(i as u32);
                    motor_map[i] = Some(y_band[i]);
                    motor[y_band[i]].push(i as u32);
                } else {
                    m_inh.push(i as u32);
                }
            }
            if sensory.iter().any(|b| b.is_empty()) {
                return Err(empty("sensory"));
            }
            let readout = BandPool::new(n_bands, &motor_map).map_err(|_| empty("motor"))?;
            let mut r = dishloop_core::rng::SplitMix::new(seed, 0x5E45);
            let mut rows: Vec<Vec<(u32, f32, u16, bool)>> = vec![Vec::new(); n];
            for &i in &s_exc {
                let row = &mut rows[i as usize];
                for &j in &m_exc {
                    if sm.p_connect < 1.0 && r.uniform() >= sm.p_connect {
                        continue;
                    }
                    let w = sm.w_init * (1.0 + sm.jitter * r.range(-1.0, 1.0) as f32);
                    row.push((j, w, 1, false));
                }
            }
            for &j in &m_exc {
                rows[j as usize] = m_inh.iter().map(|&k| (k, sm.g_ei, 1, false)).collect();
            }
            for &k in &m_inh {
                rows[k as usize] = m_exc.iter().map(|&j| (j, sm.g_ie, 1, true)).collect();
            }
            spec.csr = Csr::from_rows(n, rows)?;
            let s_set: std::collections::HashSet<u32> = s_exc.iter().copied().collect();
            let m_set: std::collections::HashSet<u32> = m_exc.iter().copied().collect();
            let plastic = PlasticProjection::from_csr(
                &spec.csr,
                |i| s_set.contains(&i),
                |j| m_set.contains(&j),
            );
            let net = culture.into_network()?;
            Ok(Substrate {
                net,
                sensory,
                readout,
                plastic: Some(plastic),
                motor,
            })
        }
    }
}

/// Sets the held external current of every neuron in each region to `base[region]` plus the
/// per-neuron `extra` (if given, indexed by neuron). The single point where stimulation
/// enters the culture (to be replaced by the MEA crate's electrode injection).
pub(crate) fn set_currents(
    net: &mut Network,
    regions: &[Vec<u32>],
    base: &[f32],
    extra: Option<&[f32]>,
) {
    let i_ext = net.i_ext_mut();
    for (region, &amp) in regions.iter().zip(base) {
        for &i in region {
            let i = i as usize;
            i_ext[i] = amp + extra.map_or(0.0, |e| e[i]);
        }
    }
}
