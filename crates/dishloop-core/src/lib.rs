//! # dishloop-core
//!
//! The simulator core of dishloop: point neurons (Izhikevich 2003 with the five cortical
//! types, AdEx, LIF with adaptation, mixed in one population), conductance synapses (AMPA,
//! NMDA with Jahr–Stevens Mg²⁺ block, GABA_A, GABA_B), axonal delays, Tsodyks–Markram STP,
//! STDP, homeostatic and structural plasticity, and a deterministic, multi-threaded step.
//!
//! ```
//! use dishloop_core::{Csr, IzhType, Network, NetworkSpec, PopulationBuilder};
//! let mut pop = PopulationBuilder::new();
//! pop.push_izhikevich(IzhType::RS.params());
//! let csr = Csr::from_rows(1, vec![vec![]]).unwrap();
//! let mut net = Network::new(NetworkSpec::new(0.5, pop, 1, csr, 42)).unwrap();
//! net.i_ext_mut()[0] = 10.0; // mV/ms, well above RS rheobase
//! let mut spikes = 0;
//! net.run(2000, |_, s| spikes += s.len()); // 1 s
//! assert!(spikes > 5);
//! ```

pub mod csr;
pub mod error;
pub mod fastmath;
pub mod lines;
pub mod network;
pub mod neuron;
pub mod plasticity;
pub mod rng;
pub mod stp;
pub mod synapse;

pub use csr::{Csr, Synapse};
pub use error::CoreError;
pub use network::{Network, NetworkSpec, NoiseParams, StpSpec};
pub use neuron::{
    AdexParams, AdexType, IzhParams, IzhScheme, IzhType, LifParams, Model, PopulationBuilder,
};
pub use plasticity::{HomeostaticParams, StdpParams, StructuralParams};
pub use stp::{Stp, StpParams, StpVariant};
pub use synapse::{ReceptorParams, dual_exp_peak_norm, mg_block};
