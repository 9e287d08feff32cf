//! # dishloop-culture
//!
//! Builds a neural culture: neurons placed uniformly on a substrate, typed by a cell-type mix
//! (excitatory cells first, in contiguous type blocks, BL-1 convention), wired with
//! probability `p_max·e^{−d/λ}` in O(N·k) with a spatial grid, delays from distance and
//! conduction velocity; configs in YAML, three of them embedded; pharmacology presets.
//!
//! ```
//! let cfg = dishloop_culture::load_config("wagenaar_calibrated").unwrap();
//! let mut small = cfg.clone();
//! small.culture.n_neurons = 300;
//! let culture = dishloop_culture::Culture::build(&small, 1).unwrap();
//! let mut net = culture.into_network().unwrap();
//! net.run(200, |_, _| {});
//! ```

pub mod config;
pub mod pharmacology;
mod wiring;

use dishloop_core::{
    AdexType, Csr, IzhType, Network, NetworkSpec, NoiseParams, PopulationBuilder, StpSpec,
};

pub use config::{CultureConfig, ModelKind, Wiring};
pub use pharmacology::Drug;

/// Errors of culture building and config handling.
#[derive(Debug, thiserror::Error)]
pub enum CultureError {
    /// A field is out of its allowed range.
    #[error("config field `{field}` = {value} is out of range (allowed: {allowed})")]
    Field {
        /// Dotted path.
        field: String,
        /// Offending value.
        value: String,
        /// Allowed range.
        allowed: String,
    },
    /// YAML could not be parsed (unknown fields are named here).
    #[error("config is not valid YAML for a culture: {0}")]
    Parse(String),
    /// A config name is neither embedded nor a readable file.
    #[error(
        "no embedded config named `{name}` and no readable file at that path ({io}); embedded: {embedded}"
    )]
    NotFound {
        /// What was asked for.
        name: String,
        /// The file error.
        io: String,
        /// Embedded names.
        embedded: String,
    },
    /// The simulator core refused the built network.
    #[error(transparent)]
    Core(#[from] dishloop_core::CoreError),
}

/// Embedded configurations: (name, YAML).
pub const EMBEDDED: [(&str, &str); 4] = [
    ("default", include_str!("../configs/default.yaml")),
    (
        "wagenaar_calibrated",
        include_str!("../configs/wagenaar_calibrated.yaml"),
    ),
    (
        "dishbrain_pong",
        include_str!("../configs/dishbrain_pong.yaml"),
    ),
    (
        "wagenaar_bl1_legacy",
        include_str!("../configs/wagenaar_bl1_legacy.yaml"),
    ),
];

/// Loads an embedded config by name, or a YAML file by path.
pub fn load_config(name_or_path: &str) -> Result<CultureConfig, CultureError> {
    if let Some((_, text)) = EMBEDDED.iter().find(|(n, _)| *n == name_or_path) {
        return CultureConfig::from_yaml(text);
    }
    match std::fs::read_to_string(name_or_path) {
        Ok(text) => CultureConfig::from_yaml(&text),
        Err(e) => Err(CultureError::NotFound {
            name: name_or_path.into(),
            io: e.to_string(),
            embedded: EMBEDDED
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

/// Cell class of a neuron (for plots and analyses).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CellKind {
    /// An Izhikevich cell of a type.
    Izh(IzhType),
    /// An AdEx cell of a type.
    Adex(AdexType),
}

/// A built culture: positions, types and the network spec.
pub struct Culture {
    /// The config it was built from.
    pub config: CultureConfig,
    /// The seed.
    pub seed: u64,
    /// Neuron positions (µm).
    pub positions_um: Vec<[f32; 2]>,
    /// Cell class per neuron.
    pub kinds: Vec<CellKind>,
    /// Excitatory cells are `[0, n_exc)`.
    pub n_exc: usize,
    /// Ready-to-run network description.
    pub spec: NetworkSpec,
}

fn adex_for(t: IzhType) -> AdexType {
    match t {
        IzhType::RS => AdexType::Rs,
        IzhType::IB => AdexType::Bursting,
        IzhType::CH => AdexType::Adapting,
        IzhType::FS => AdexType::Fs,
        IzhType::LTS => AdexType::Irregular,
    }
}

/// Per-type counts: shares normalised within E and I, rounding error to RS and FS
/// (BL-1 §2).
fn type_counts(cfg: &CultureConfig) -> Vec<(IzhType, usize)> {
    let c = &cfg.culture;
    let n = c.n_neurons;
    let n_exc = (n as f64 * c.ei_ratio).round() as usize;
    let n_inh = n - n_exc;
    let m = &c.neuron_types;
    let se = m.rs + m.ib + m.ch;
    let si = m.fs + m.lts;
    let ib = if se > 0.0 {
        (n_exc as f64 * m.ib / se).round() as usize
    } else {
        0
    };
    let ch = if se > 0.0 {
        (n_exc as f64 * m.ch / se).round() as usize
    } else {
        0
    };
    let ib = ib.min(n_exc);
    let ch = ch.min(n_exc - ib);
    let lts = if si > 0.0 {
        ((n_inh as f64 * m.lts / si).round() as usize).min(n_inh)
    } else {
        0
    };
    vec![
        (IzhType::RS, n_exc - ib - ch),
        (IzhType::IB, ib),
        (IzhType::CH, ch),
        (IzhType::FS, n_inh - lts),
        (IzhType::LTS, lts),
    ]
}

impl Culture {
    /// Places, types and wires a culture. Deterministic in `seed`, independent of threads.
    pub fn build(config: &CultureConfig, seed: u64) -> Result<Culture, CultureError> {
        config.validate()?;
        let c = &config.culture;
        let counts = type_counts(config);
        let n = c.n_neurons;
        let n_exc: usize = counts
            .iter()
            .filter(|(t, _)| t.is_excitatory())
            .map(|(_, k)| k)
            .sum();
        let positions = wiring::place(c, &counts, seed);
        let mut kinds = Vec::with_capacity(n);
        let mut pop = PopulationBuilder::new();
        let mut r = dishloop_core::rng::SplitMix::new(seed, 2);
        for &(t, k) in &counts {
            let n_adex = match c.model {
                ModelKind::Izhikevich => 0,
                ModelKind::Adex => k,
                ModelKind::Hybrid => (k as f64 * c.adex_fraction).round() as usize,
            };
            for j in 0..k {
                let jitter_r = r.uniform() as f32;
                if j >= k - n_adex {
                    pop.push_adex(adex_for(t).params());
                    kinds.push(CellKind::Adex(adex_for(t)));
                } else {
                    pop.push_izhikevich(t.jittered(c.param_jitter as f32, jitter_r));
                    kinds.push(CellKind::Izh(t));
                }
            }
        }
        let csr: Csr = wiring::connect(config, &positions, n_exc, seed)?;
        let mut spec = NetworkSpec::new(config.simulation.dt_ms as f32, pop, n_exc, csr, seed);
        spec.receptors = config.synapses;
        spec.izh_scheme = config.simulation.izh_scheme;
        let b = &config.background;
        spec.noise = NoiseParams {
            mean_exc: b.mean as f32,
            std_exc: b.std as f32,
            mean_inh: b.mean_inh.unwrap_or(b.mean) as f32,
            std_inh: b.std_inh.unwrap_or(b.std) as f32,
        };
        if config.stp.enabled {
            spec.stp = Some(StpSpec {
                exc: config.stp.excitatory,
                inh: config.stp.inhibitory,
                variant: config.stp.variant,
            });
        }
        spec.stdp = config.stdp.enabled.then_some(config.stdp.params);
        spec.homeostatic = config
            .homeostatic
            .enabled
            .then_some(config.homeostatic.params);
        spec.structural = config
            .structural
            .enabled
            .then_some(config.structural.params);
        spec.positions_um = Some(positions.clone());
        spec.axon_velocity_um_per_ms = c.axon_velocity_um_per_ms as f32;
        Ok(Culture {
            config: config.clone(),
            seed,
            positions_um: positions,
            kinds,
            n_exc,
            spec,
        })
    }

    /// Number of neurons.
    pub fn n(&self) -> usize {
        self.kinds.len()
    }

    /// Number of synapses.
    pub fn n_synapses(&self) -> usize {
        self.spec.csr.nnz()
    }

    /// Turns the culture into a running network.
    pub fn into_network(self) -> Result<Network, CultureError> {
        Ok(Network::new(self.spec)?)
    }

    /// Builds a running network from a config in one call.
    pub fn network(config: &CultureConfig, seed: u64) -> Result<Network, CultureError> {
        Self::build(config, seed)?.into_network()
    }
}
