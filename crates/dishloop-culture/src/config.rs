//! Culture configuration (YAML), its defaults and its validation.
//!
//! Every field has a documented range; [`CultureConfig::validate`] refuses a value outside it
//! with the dotted field path, the value and the range.

use dishloop_core::{
    HomeostaticParams, IzhScheme, ReceptorParams, StdpParams, StpParams, StpVariant,
    StructuralParams,
};
use serde::{Deserialize, Serialize};

use crate::CultureError;

/// Neuron model of a culture.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// Izhikevich cells of the five cortical types.
    #[default]
    Izhikevich,
    /// AdEx cells of the five BL-1 types.
    Adex,
    /// Izhikevich cells with a fraction `adex_fraction` of each type replaced by AdEx.
    Hybrid,
}

/// How receptor classes are assigned to synapses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Wiring {
    /// A synapse's sign follows its presynaptic cell (Dale's law). Correct.
    #[default]
    Dale,
    /// BL-1's dense builder below 10 000 neurons: sign and weight follow the *postsynaptic*
    /// cell (reference bl1.md §0.1). For reproducing BL-1's own numbers only.
    LegacyBl1,
}

/// Shares of the five Izhikevich types within their class (normalised per class).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TypeMix {
    /// Regular spiking share of excitatory cells.
    #[serde(rename = "RS")]
    pub rs: f64,
    /// Intrinsically bursting share of excitatory cells.
    #[serde(rename = "IB")]
    pub ib: f64,
    /// Chattering share of excitatory cells.
    #[serde(rename = "CH")]
    pub ch: f64,
    /// Fast-spiking share of inhibitory cells.
    #[serde(rename = "FS")]
    pub fs: f64,
    /// Low-threshold spiking share of inhibitory cells.
    #[serde(rename = "LTS")]
    pub lts: f64,
}

impl Default for TypeMix {
    fn default() -> Self {
        // BL-1 §2: RS:IB:CH = 0.8:0.1:0.1, FS:LTS = 0.8:0.2.
        Self {
            rs: 0.8,
            ib: 0.1,
            ch: 0.1,
            fs: 0.8,
            lts: 0.2,
        }
    }
}

/// The culture: cells, substrate, wiring.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CultureSection {
    /// Number of neurons, 1 … 2 000 000.
    pub n_neurons: usize,
    /// Excitatory fraction, 0 … 1.
    pub ei_ratio: f64,
    /// Substrate width and height (µm), each 10 … 100 000.
    pub substrate_um: [f64; 2],
    /// Connection probability at zero distance, 0 … 1.
    pub p_max: f64,
    /// Length constant of p(d) = p_max·e^{−d/λ} (µm), 1 … 100 000.
    pub lambda_um: f64,
    /// Distance cut-off in units of λ (the tail beyond holds (1+c)e^{−c} of the expected
    /// connections: 4 % at c = 5), 1 … 50.
    pub cutoff_lambdas: f64,
    /// Excitatory weight (conductance jump per unit capacitance, 1/ms), 0 … 100.
    pub g_exc: f64,
    /// Inhibitory weight (1/ms), 0 … 100.
    pub g_inh: f64,
    /// Relative uniform weight jitter: w = g·(1 + j·U(−1, 1)), 0 … 1. BL-1: 0.1.
    pub weight_jitter: f64,
    /// σ of a lognormal weight distribution, 0 … 3 (0 = off: uniform `weight_jitter`). When
    /// set, w = g·exp(σ·N(0, 1) − σ²/2), so the mean stays g while a few synapses are many times
    /// stronger than the median: cortical EPSP amplitudes are lognormal (Song et al. 2005, PLoS
    /// Biol 3:e68, σ ≈ 0.9–1.0 in ln mV; cultured pairs are heavier-tailed), and such
    /// "strong-sparse" links let single spikes start cascades (Teramae, Tsubo & Fukai 2012, Sci
    /// Rep 2:485). Replaces `weight_jitter`.
    pub weight_lognormal_sigma: f64,
    /// Cap on lognormal weights in multiples of g, 1 … 1000 (keeps one synapse from
    /// exceeding what a unitary EPSP can be).
    pub weight_max_factor: f64,
    /// Axonal conduction velocity (µm/ms), 1 … 100 000. BL-1: 300.
    pub axon_velocity_um_per_ms: f64,
    /// Neuron model.
    pub model: ModelKind,
    /// Fraction of each type simulated as AdEx when `model: hybrid`, 0 … 1.
    pub adex_fraction: f64,
    /// Cell-type mix.
    pub neuron_types: TypeMix,
    /// Izhikevich (2003) r² heterogeneity scale, 0 … 1 (0 = identical cells per type).
    pub param_jitter: f64,
    /// Synapse sign convention.
    pub wiring: Wiring,
}

impl Default for CultureSection {
    fn default() -> Self {
        Self {
            n_neurons: 5000,
            ei_ratio: 0.8,
            substrate_um: [3000.0, 3000.0],
            p_max: 0.21,
            lambda_um: 200.0,
            cutoff_lambdas: 5.0,
            g_exc: 0.05,
            g_inh: 0.20,
            weight_jitter: 0.1,
            weight_lognormal_sigma: 0.0,
            weight_max_factor: 20.0,
            axon_velocity_um_per_ms: 300.0,
            model: ModelKind::Izhikevich,
            adex_fraction: 0.0,
            neuron_types: TypeMix::default(),
            param_jitter: 0.0,
            wiring: Wiring::Dale,
        }
    }
}

/// Time stepping.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimulationSection {
    /// Time step (ms), 0.01 … 1.
    pub dt_ms: f64,
    /// Default duration of a run (ms), > 0.
    pub duration_ms: f64,
    /// Izhikevich integration scheme.
    pub izh_scheme: IzhScheme,
}

impl Default for SimulationSection {
    fn default() -> Self {
        Self {
            dt_ms: 0.5,
            duration_ms: 60_000.0,
            izh_scheme: IzhScheme::HalfStep,
        }
    }
}

/// Spontaneous background drive: a fresh N(mean, std²) current per neuron per step (mV/ms).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackgroundSection {
    /// Mean, −50 … 50.
    pub mean: f64,
    /// Standard deviation, 0 … 100.
    pub std: f64,
    /// Inhibitory cells' mean, if different.
    pub mean_inh: Option<f64>,
    /// Inhibitory cells' standard deviation, if different.
    pub std_inh: Option<f64>,
}

impl Default for BackgroundSection {
    fn default() -> Self {
        // BL-1 Rust default N(1, 3).
        Self {
            mean: 1.0,
            std: 3.0,
            mean_inh: None,
            std_inh: None,
        }
    }
}

/// Short-term plasticity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StpSection {
    /// On/off.
    pub enabled: bool,
    /// Excitatory presynaptic cells.
    pub excitatory: StpParams,
    /// Inhibitory presynaptic cells.
    pub inhibitory: StpParams,
    /// Model form.
    pub variant: StpVariant,
}

impl Default for StpSection {
    fn default() -> Self {
        Self {
            enabled: false,
            excitatory: StpParams::excitatory_calibrated(),
            inhibitory: StpParams::inhibitory(),
            variant: StpVariant::Markram1998,
        }
    }
}

/// An optional plasticity rule with its parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Switch<T: Default> {
    /// On/off.
    pub enabled: bool,
    /// Parameters.
    #[serde(flatten)]
    pub params: T,
}

/// Network-burst detection settings (population-rate threshold, as BL-1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BurstSection {
    /// Threshold in standard deviations above the mean rate, 0 … 20.
    pub threshold_sd: f64,
    /// Minimum burst duration (ms), ≥ 0.
    pub min_duration_ms: f64,
}

impl Default for BurstSection {
    fn default() -> Self {
        Self {
            threshold_sd: 1.5,
            min_duration_ms: 50.0,
        }
    }
}

/// A whole culture configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct CultureConfig {
    /// Name (for reports).
    pub name: String,
    /// Free text: where the numbers come from.
    pub description: String,
    /// Cells and wiring.
    pub culture: CultureSection,
    /// Time stepping.
    pub simulation: SimulationSection,
    /// Background drive.
    pub background: BackgroundSection,
    /// Receptors.
    pub synapses: ReceptorParams,
    /// Short-term plasticity.
    pub stp: StpSection,
    /// STDP.
    pub stdp: Switch<StdpParams>,
    /// Homeostatic scaling.
    pub homeostatic: Switch<HomeostaticParams>,
    /// Structural plasticity.
    pub structural: Switch<StructuralParams>,
    /// Burst detection.
    pub bursts: BurstSection,
}

fn check(field: &str, v: f64, lo: f64, hi: f64) -> Result<(), CultureError> {
    if v.is_finite() && v >= lo && v <= hi {
        Ok(())
    } else {
        Err(CultureError::Field {
            field: field.into(),
            value: format!("{v}"),
            allowed: format!("{lo} ..= {hi}"),
        })
    }
}

fn check_pos(field: &str, v: f64, hi: f64) -> Result<(), CultureError> {
    if v.is_finite() && v > 0.0 && v <= hi {
        Ok(())
    } else {
        Err(CultureError::Field {
            field: field.into(),
            value: format!("{v}"),
            allowed: format!("0 < x <= {hi}"),
        })
    }
}

impl CultureConfig {
    /// Scales the culture down to at most `cap` neurons at the same density: the substrate
    /// shrinks by `sqrt(cap / n)` on each side, so local wiring statistics (neighbours within
    /// λ, delays) are kept. A cap at or above the size changes nothing; 0 is refused.
    ///
    /// ```
    /// let mut c = dishloop_culture::load_config("wagenaar_calibrated").unwrap();
    /// c.cap_neurons(1250).unwrap();
    /// assert_eq!(c.culture.n_neurons, 1250);
    /// assert!((c.culture.substrate_um[0] - 1500.0).abs() < 1e-9);
    /// assert!(c.cap_neurons(0).is_err());
    /// ```
    pub fn cap_neurons(&mut self, cap: usize) -> Result<(), CultureError> {
        if cap == 0 {
            return Err(CultureError::Field {
                field: "neuron cap".into(),
                value: "0".into(),
                allowed: "at least 1".into(),
            });
        }
        let n = self.culture.n_neurons;
        if cap < n {
            let f = (cap as f64 / n as f64).sqrt();
            self.culture.substrate_um = [
                self.culture.substrate_um[0] * f,
                self.culture.substrate_um[1] * f,
            ];
            self.culture.n_neurons = cap;
        }
        Ok(())
    }

    /// Parses YAML and validates.
    pub fn from_yaml(text: &str) -> Result<Self, CultureError> {
        let cfg: CultureConfig =
            serde_yaml_ng::from_str(text).map_err(|e| CultureError::Parse(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Serialises to YAML.
    pub fn to_yaml(&self) -> String {
        serde_yaml_ng::to_string(self).unwrap_or_default()
    }

    /// Checks every field against its documented range.
    pub fn validate(&self) -> Result<(), CultureError> {
        let c = &self.culture;
        if !(1..=2_000_000).contains(&c.n_neurons) {
            return Err(CultureError::Field {
                field: "culture.n_neurons".into(),
                value: c.n_neurons.to_string(),
                allowed: "1 ..= 2000000".into(),
            });
        }
        check("culture.ei_ratio", c.ei_ratio, 0.0, 1.0)?;
        check(
            "culture.substrate_um[0]",
            c.substrate_um[0],
            10.0,
            100_000.0,
        )?;
        check(
            "culture.substrate_um[1]",
            c.substrate_um[1],
            10.0,
            100_000.0,
        )?;
        check("culture.p_max", c.p_max, 0.0, 1.0)?;
        check("culture.lambda_um", c.lambda_um, 1.0, 100_000.0)?;
        check("culture.cutoff_lambdas", c.cutoff_lambdas, 1.0, 50.0)?;
        check("culture.g_exc", c.g_exc, 0.0, 100.0)?;
        check("culture.g_inh", c.g_inh, 0.0, 100.0)?;
        check("culture.weight_jitter", c.weight_jitter, 0.0, 1.0)?;
        check(
            "culture.weight_lognormal_sigma",
            c.weight_lognormal_sigma,
            0.0,
            3.0,
        )?;
        check(
            "culture.weight_max_factor",
            c.weight_max_factor,
            1.0,
            1000.0,
        )?;
        check(
            "culture.axon_velocity_um_per_ms",
            c.axon_velocity_um_per_ms,
            1.0,
            100_000.0,
        )?;
        check("culture.adex_fraction", c.adex_fraction, 0.0, 1.0)?;
        check("culture.param_jitter", c.param_jitter, 0.0, 1.0)?;
        let m = &c.neuron_types;
        for (f, v) in [
            ("RS", m.rs),
            ("IB", m.ib),
            ("CH", m.ch),
            ("FS", m.fs),
            ("LTS", m.lts),
        ] {
            check(&format!("culture.neuron_types.{f}"), v, 0.0, 1.0)?;
        }
        if m.rs + m.ib + m.ch <= 0.0 && c.ei_ratio > 0.0 {
            return Err(CultureError::Field {
                field: "culture.neuron_types".into(),
                value: "RS+IB+CH = 0".into(),
                allowed: "a positive excitatory share when ei_ratio > 0".into(),
            });
        }
        if m.fs + m.lts <= 0.0 && c.ei_ratio < 1.0 {
            return Err(CultureError::Field {
                field: "culture.neuron_types".into(),
                value: "FS+LTS = 0".into(),
                allowed: "a positive inhibitory share when ei_ratio < 1".into(),
            });
        }
        let s = &self.simulation;
        check("simulation.dt_ms", s.dt_ms, 0.01, 1.0)?;
        check_pos("simulation.duration_ms", s.duration_ms, 1e10)?;
        let b = &self.background;
        check("background.mean", b.mean, -50.0, 50.0)?;
        check("background.std", b.std, 0.0, 100.0)?;
        if let Some(x) = b.mean_inh {
            check("background.mean_inh", x, -50.0, 50.0)?;
        }
        if let Some(x) = b.std_inh {
            check("background.std_inh", x, 0.0, 100.0)?;
        }
        let r = &self.synapses;
        for (f, v) in [
            ("synapses.tau_ampa_ms", r.tau_ampa_ms),
            ("synapses.tau_nmda_rise_ms", r.tau_nmda_rise_ms),
            ("synapses.tau_nmda_decay_ms", r.tau_nmda_decay_ms),
            ("synapses.tau_gaba_a_ms", r.tau_gaba_a_ms),
            ("synapses.tau_gaba_b_rise_ms", r.tau_gaba_b_rise_ms),
            ("synapses.tau_gaba_b_decay_ms", r.tau_gaba_b_decay_ms),
        ] {
            check_pos(f, v as f64, 10_000.0)?;
        }
        if r.tau_nmda_rise_ms >= r.tau_nmda_decay_ms {
            return Err(CultureError::Field {
                field: "synapses.tau_nmda_rise_ms".into(),
                value: r.tau_nmda_rise_ms.to_string(),
                allowed: format!("< tau_nmda_decay_ms ({})", r.tau_nmda_decay_ms),
            });
        }
        if r.tau_gaba_b_rise_ms >= r.tau_gaba_b_decay_ms {
            return Err(CultureError::Field {
                field: "synapses.tau_gaba_b_rise_ms".into(),
                value: r.tau_gaba_b_rise_ms.to_string(),
                allowed: format!("< tau_gaba_b_decay_ms ({})", r.tau_gaba_b_decay_ms),
            });
        }
        for (f, v) in [
            ("synapses.e_ampa_mv", r.e_ampa_mv),
            ("synapses.e_nmda_mv", r.e_nmda_mv),
            ("synapses.e_gaba_a_mv", r.e_gaba_a_mv),
            ("synapses.e_gaba_b_mv", r.e_gaba_b_mv),
        ] {
            check(f, v as f64, -150.0, 100.0)?;
        }
        check("synapses.mg_mm", r.mg_mm as f64, 0.0, 20.0)?;
        check("synapses.nmda_ratio", r.nmda_ratio as f64, 0.0, 1.0)?;
        check("synapses.gaba_b_ratio", r.gaba_b_ratio as f64, 0.0, 1.0)?;
        for (name, p) in [
            ("stp.excitatory", &self.stp.excitatory),
            ("stp.inhibitory", &self.stp.inhibitory),
        ] {
            check_pos(&format!("{name}.U"), p.u as f64, 1.0)?;
            check_pos(&format!("{name}.tau_rec_ms"), p.tau_rec_ms as f64, 1e6)?;
            check_pos(&format!("{name}.tau_fac_ms"), p.tau_fac_ms as f64, 1e6)?;
        }
        let d = &self.stdp.params;
        check("stdp.a_plus", d.a_plus as f64, 0.0, 1.0)?;
        check("stdp.a_minus", d.a_minus as f64, 0.0, 1.0)?;
        check_pos("stdp.tau_plus_ms", d.tau_plus_ms as f64, 10_000.0)?;
        check_pos("stdp.tau_minus_ms", d.tau_minus_ms as f64, 10_000.0)?;
        check("stdp.w_min", d.w_min as f64, 0.0, 100.0)?;
        check("stdp.w_max", d.w_max as f64, d.w_min as f64, 100.0)?;
        let h = &self.homeostatic.params;
        check(
            "homeostatic.target_rate_hz",
            h.target_rate_hz as f64,
            0.0,
            1000.0,
        )?;
        check(
            "homeostatic.eta_per_ms_hz",
            h.eta_per_ms_hz as f64,
            0.0,
            1.0,
        )?;
        check_pos("homeostatic.tau_rate_ms", h.tau_rate_ms as f64, 1e8)?;
        check_pos("homeostatic.interval_ms", h.interval_ms as f64, 1e8)?;
        check("homeostatic.w_min", h.w_min as f64, 0.0, 100.0)?;
        check("homeostatic.w_max", h.w_max as f64, h.w_min as f64, 100.0)?;
        let st = &self.structural.params;
        check(
            "structural.prune_threshold",
            st.prune_threshold as f64,
            0.0,
            100.0,
        )?;
        check("structural.prune_prob", st.prune_prob as f64, 0.0, 1.0)?;
        check("structural.growth_prob", st.growth_prob as f64, 0.0, 1.0)?;
        check(
            "structural.activity_threshold_hz",
            st.activity_threshold_hz as f64,
            0.0,
            1000.0,
        )?;
        check_pos("structural.max_distance_um", st.max_distance_um as f64, 1e6)?;
        check_pos(
            "structural.target_fraction",
            st.target_fraction as f64,
            100.0,
        )?;
        check("structural.w_new", st.w_new as f64, 0.0, 100.0)?;
        check_pos("structural.interval_ms", st.interval_ms as f64, 1e8)?;
        check("bursts.threshold_sd", self.bursts.threshold_sd, 0.0, 20.0)?;
        check(
            "bursts.min_duration_ms",
            self.bursts.min_duration_ms,
            0.0,
            1e6,
        )?;
        // Delay range: the ring buffer holds at most 4096 steps.
        let diag = (c.substrate_um[0].powi(2) + c.substrate_um[1].powi(2))
            .sqrt()
            .min(c.cutoff_lambdas * c.lambda_um);
        let max_delay = diag / c.axon_velocity_um_per_ms / s.dt_ms;
        if max_delay > 4000.0 {
            return Err(CultureError::Field {
                field: "culture.axon_velocity_um_per_ms".into(),
                value: c.axon_velocity_um_per_ms.to_string(),
                allowed: format!(
                    "fast enough that the longest delay ({max_delay:.0} steps) is <= 4000 steps"
                ),
            });
        }
        Ok(())
    }
}
