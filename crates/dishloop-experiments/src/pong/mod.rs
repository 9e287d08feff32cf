//! Closed-loop Pong (DishBrain; Kagan et al. 2022, Neuron 110:3952), the way BL-1 runs it
//! (reference/bl1.md §7), with four agents and shareable brains.
//!
//! One frame (`game_step`, 20 ms of culture time = 40 steps of 0.5 ms):
//! 1. **observe** the ball and paddle;
//! 2. **encode** the ball height as a Gaussian bump of current over the sensory bands (place
//!    code; optional amplitude code of the ball's distance);
//! 3. **stimulate**: run the culture for the frame, pooling spikes per band (feedback
//!    stimulation from the last event is overlaid on the first steps);
//! 4. **decode** a paddle target (linear readout, motor-band centre of mass, or the reflex
//!    up/down comparison);
//! 5. **act**: move the paddle (`direct` or `smooth`), advance the ball, score hits/misses;
//! 6. **feedback**: learning (REINFORCE on the readout, or the third factor of R-STDP), and
//!    the feedback stimulation policy (`fep`, `open_loop`, `silent`) for the next frame.
//!
//! Drive it with [`PongSession::new`] and [`PongSession::step`] (or the [`crate::Experiment`]
//! trait); save and load trained agents with [`PongSession::save_brain`] /
//! [`PongSession::load_brain`].

pub mod brain;
pub mod game;
pub mod stats;
mod substrate;

use std::time::Instant;

use dishloop_core::rng::SplitMix;
use dishloop_culture::CultureConfig;
use dishloop_learn::rstdp::Normalise;
use dishloop_learn::{
    BinnedBaseline, GaussianReadout, GradScale, ReadoutConfig, RstdpConfig, Schedule,
    ThreeFactorStdp,
};
use serde::{Deserialize, Serialize};

pub use game::{GameEvent, GameParams, PaddleMode, PongGame};
pub use stats::{EventRecord, HitLog};
use substrate::{Substrate, SubstrateKind};

/// Errors of the Pong experiment.
#[derive(Debug, thiserror::Error)]
pub enum PongError {
    /// A setting is invalid.
    #[error("pong config: {0}")]
    Config(String),
    /// The culture could not be built.
    #[error(transparent)]
    Culture(#[from] dishloop_culture::CultureError),
    /// The simulator core refused the network.
    #[error(transparent)]
    Core(#[from] dishloop_core::CoreError),
    /// A learner refused its parameters.
    #[error(transparent)]
    Learn(#[from] dishloop_learn::LearnError),
    /// A brain file could not be used.
    #[error("brain file {path}: {message}")]
    Brain {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
}

/// The agent that plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentKind {
    /// Motor read from the sensory-driven bands (up half vs down half); no plasticity.
    Reflex,
    /// REINFORCE linear readout on a feed-forward bank of the culture's cells.
    Pursuit,
    /// The same readout on the full recurrent culture used as a fixed reservoir.
    Reservoir,
    /// Reward-modulated STDP on a plastic sensory → motor projection.
    Rstdp,
    /// Baseline: the paddle stays in the middle.
    Static,
    /// Baseline: the paddle jumps to a uniformly random height every frame.
    Random,
}

impl AgentKind {
    /// All agents, learning ones first.
    pub const ALL: [AgentKind; 6] = [
        Self::Pursuit,
        Self::Reservoir,
        Self::Rstdp,
        Self::Reflex,
        Self::Static,
        Self::Random,
    ];

    /// CLI name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Reflex => "reflex",
            Self::Pursuit => "pursuit",
            Self::Reservoir => "reservoir",
            Self::Rstdp => "rstdp",
            Self::Static => "static",
            Self::Random => "random",
        }
    }

    /// Default culture size (neurons) for the agent (the baselines build none).
    pub fn default_neurons(self) -> usize {
        match self {
            Self::Pursuit => 512,
            Self::Reservoir | Self::Reflex => 400,
            // Decoding noise falls with motor cells per band: 800 reached 74 % held-out at
            // 8000 frames against 60 % for 400 (seeds 1-3).
            Self::Rstdp => 800,
            // No substrate is built; the culture config is only recorded.
            Self::Static | Self::Random => 400,
        }
    }

    fn substrate(self) -> Option<SubstrateKind> {
        match self {
            Self::Pursuit => Some(SubstrateKind::Bank),
            Self::Reservoir | Self::Reflex => Some(SubstrateKind::Culture),
            Self::Rstdp => Some(SubstrateKind::Sensorimotor),
            Self::Static | Self::Random => None,
        }
    }
}

impl std::str::FromStr for AgentKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .iter()
            .copied()
            .find(|a| a.name() == s)
            .ok_or_else(|| {
                format!("unknown agent `{s}` (pursuit, reservoir, rstdp, reflex, static, random)")
            })
    }
}

impl std::fmt::Display for AgentKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The feedback stimulation policy after a hit or a miss (Kagan 2022; BL-1 §7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackMode {
    /// Free-energy protocol: predictable stimulation (all sensory bands, same current, same
    /// onset) after a hit, unpredictable noise (random bands, random currents) after a miss.
    #[default]
    Fep,
    /// Stimulation after every event regardless of outcome (random currents).
    OpenLoop,
    /// No feedback stimulation.
    Silent,
}

impl FeedbackMode {
    /// CLI name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Fep => "fep",
            Self::OpenLoop => "open_loop",
            Self::Silent => "silent",
        }
    }
}

impl std::str::FromStr for FeedbackMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "fep" => Ok(Self::Fep),
            "open_loop" | "open-loop" => Ok(Self::OpenLoop),
            "silent" => Ok(Self::Silent),
            _ => Err(format!("unknown feedback `{s}` (fep, open_loop, silent)")),
        }
    }
}

impl std::fmt::Display for FeedbackMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Controls that break learning on purpose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Ablation {
    /// None.
    #[default]
    None,
    /// The learner receives the reward of a random earlier frame (same distribution, no
    /// contingency on its actions).
    ShuffledReward,
    /// Nothing is ever learned (readout at its initial weights, plastic weights fixed).
    Frozen,
}

impl Ablation {
    /// CLI name.
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ShuffledReward => "shuffled_reward",
            Self::Frozen => "frozen",
        }
    }
}

impl std::fmt::Display for Ablation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Ablation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "none" => Ok(Self::None),
            "shuffled_reward" | "shuffled-reward" => Ok(Self::ShuffledReward),
            "frozen" => Ok(Self::Frozen),
            _ => Err(format!(
                "unknown ablation `{s}` (none, shuffled_reward, frozen)"
            )),
        }
    }
}

/// Where R-STDP's third factor comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Modulator {
    /// Every frame: the tracking-reward prediction error `R − R̄(ball band)`.
    #[default]
    Tracking,
    /// Only at events, and only through the feedback policy: predictable (hit) feedback
    /// releases +1, unpredictable (miss) −1, open-loop feedback a random sign, silent nothing.
    Feedback,
}

/// Feedback stimulation constants (currents in mV/ms, Izhikevich units).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FeedbackParams {
    /// Predictable stimulation after a hit: current on every sensory neuron.
    pub hit_amp: f32,
    /// Unpredictable stimulation after a miss: per-neuron current uniform in this range, on
    /// each sensory band with probability 1/2.
    pub miss_range: [f32; 2],
    /// Open-loop stimulation after any event: per-neuron current uniform in this range.
    pub open_loop_range: [f32; 2],
    /// Steps of the next frame the feedback is held for.
    pub steps: u32,
}

impl Default for FeedbackParams {
    fn default() -> Self {
        // BL-1's Python controller (reference/bl1.md §7): hit +2.0 on every neuron, miss
        // U(−5, 15) per neuron, open loop U(−2, 8); there for one 0.5 ms step, here held for
        // 10 ms so the currents can reach threshold.
        Self {
            hit_amp: 8.0,
            miss_range: [-5.0, 15.0],
            open_loop_range: [-2.0, 8.0],
            steps: 20,
        }
    }
}

/// Reflex decoder constants (BL-1's Rust `ClosedLoop`, reference/bl1.md §7).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReflexParams {
    /// Paddle step per frame toward the more active half.
    pub step: f64,
    /// Rate difference (Hz per neuron) needed to move.
    pub margin_hz: f64,
}

impl Default for ReflexParams {
    fn default() -> Self {
        Self {
            step: 0.03,
            margin_hz: 1.0,
        }
    }
}

/// R-STDP agent constants.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RstdpParams {
    /// The plasticity rule.
    pub rule: RstdpConfig,
    /// Initial sensory → motor weight (conductance jump, 1/ms).
    pub w_init: f32,
    /// ± relative jitter of initial weights.
    pub w_jitter: f32,
    /// Probability of each sensory E → motor E plastic synapse (1: all-to-all).
    pub p_connect: f64,
    /// Motor E → motor I weight.
    pub g_ei: f32,
    /// Motor I → motor E weight.
    pub g_ie: f32,
    /// Source of the third factor.
    pub modulator: Modulator,
    /// Third-factor gain on the prediction error over training frames (a learning-rate
    /// schedule on top of the rule's η).
    pub gain: Schedule,
    /// Exploration: standard deviation (mV/ms) of a current drawn per motor band per frame
    /// and held on that band's excitatory cells, over training frames (annealed like the
    /// readout's σ). Band-coherent perturbations are node perturbation at the level the
    /// decoder reads (Fiete & Seung 2006, Phys Rev Lett 97:048104).
    pub explore: Schedule,
    /// Motor population averaging in time: decay per frame of the band-activity trace the
    /// paddle target is decoded from (0: this frame only).
    pub motor_smoothing: f64,
    /// Decode from the activity above the mean band activity (else from all activity).
    pub decode_above_mean: bool,
    /// Constant current (mV/ms) on the motor excitatory cells, keeping them near threshold
    /// so that a few coincident sensory spikes decide which band fires.
    pub motor_bias: f32,
    /// Clear the eligibility after each reinforcement, so every pairing is credited once,
    /// with the prediction error of its own frame (tracking modulator only).
    pub consume_eligibility: bool,
}

impl Default for RstdpParams {
    fn default() -> Self {
        // Tuned on seeds 1-2 at 4000-8000 frames (see RESULTS.md, "R-STDP: what made it
        // converge"); STDP window shape after Izhikevich 2007 (tau 20 ms), LTP-dominated.
        Self {
            rule: RstdpConfig {
                a_plus: 1.0,
                a_minus: 0.5,
                tau_plus_ms: 20.0,
                tau_minus_ms: 20.0,
                tau_elig_ms: 40.0,
                eta: 0.1,
                w_min: 0.0,
                w_max: 2.0,
                normalise: Normalise::Outgoing,
                normalise_sum: 16.0,
            },
            w_init: 0.1,
            w_jitter: 0.5,
            p_connect: 1.0,
            g_ei: 0.05,
            g_ie: 0.1,
            modulator: Modulator::Tracking,
            gain: Schedule::exponential(1.0, 0.2, 8000),
            consume_eligibility: true,
            motor_bias: 0.0,
            motor_smoothing: 0.5,
            decode_above_mean: true,
            explore: Schedule::exponential(8.0, 0.5, 6000),
        }
    }
}

/// What the dense tracking reward `1 − 2|· − ball_y|` is computed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RewardOn {
    /// The paddle after it moved (BL-1).
    #[default]
    Paddle,
    /// The decoded target (the culture's motor command), whatever the paddle's inertia.
    Target,
}

/// Everything that defines a Pong run (saved in brain files).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PongConfig {
    /// The agent.
    pub agent: AgentKind,
    /// Paddle control.
    pub paddle: PaddleMode,
    /// Feedback stimulation policy.
    pub feedback: FeedbackMode,
    /// Ablation control.
    pub ablation: Ablation,
    /// Seed of the culture (placement, wiring, noise) and of the game.
    pub seed: u64,
    /// The culture (already capped to the substrate size).
    pub culture: CultureConfig,
    /// Culture steps per game frame (40 × 0.5 ms = 20 ms, BL-1).
    pub frame_steps: u32,
    /// Sensory / readout bands.
    pub n_bands: usize,
    /// Peak sensory current of the place-code bump (mV/ms).
    pub input_amp: f64,
    /// Bump width (bands).
    pub bump_sigma_bands: f64,
    /// Rate code of the ball's distance: the bump amplitude scales by `1 + gain·(x − 0.5)`
    /// (0: not encoded, as BL-1's `Learner`; BL-1's Python controller codes x as a 4–40 Hz
    /// pulse rate, here as the current that sets the rate).
    pub x_rate_gain: f64,
    /// Frequency code of the ball's distance: pulse rate `[at x = 0, at x = 1]` in Hz; the
    /// place code is only delivered in frames where a pulse falls (`[0, 0]`: every frame).
    /// BL-1's closed loop and Kagan 2022 use 4–40 Hz.
    pub x_pulse_hz: [f64; 2],
    /// Game constants.
    pub game: GameParams,
    /// Readout learner (pursuit, reservoir).
    pub readout: ReadoutConfig,
    /// What the tracking reward measures against the ball height.
    pub reward_on: RewardOn,
    /// Slow feature trace: decay per frame of an extra copy of the band features (0: no
    /// slow features). Gives the readout the ball's recent past, hence its velocity.
    pub slow_features: f64,
    /// Reward-baseline bins over the ball height.
    pub baseline_bins: usize,
    /// Reward-baseline EMA rate.
    pub baseline_alpha: f64,
    /// Reflex decoder.
    pub reflex: ReflexParams,
    /// R-STDP agent.
    pub rstdp: RstdpParams,
    /// Feedback stimulation.
    pub feedback_params: FeedbackParams,
}

impl PongConfig {
    /// The default configuration of `agent` on the embedded `dishbrain_pong` culture, capped
    /// to `neurons` (default: [`AgentKind::default_neurons`]) at the culture's density.
    pub fn new(agent: AgentKind, neurons: Option<usize>, seed: u64) -> Result<Self, PongError> {
        Self::with_culture(agent, "dishbrain_pong", neurons, seed)
    }

    /// As [`Self::new`] with another culture config (embedded name or YAML path).
    pub fn with_culture(
        agent: AgentKind,
        culture: &str,
        neurons: Option<usize>,
        seed: u64,
    ) -> Result<Self, PongError> {
        let mut c = dishloop_culture::load_config(culture)?;
        let cap = neurons.unwrap_or(agent.default_neurons()).max(1);
        c.cap_neurons(cap)?;
        let n_bands = 16;
        // BL-1's Learner uses eta 0.05 with (a - mu) scaling and sigma 0.3 -> 0.05 linearly
        // over 3000 frames. Here: the same eta on the sigma-normalised perturbation xi (the
        // step no longer shrinks as sigma^2) and sigma 0.15 -> 0.02 geometrically over 3000
        // frames (RESULTS.md, "pursuit: what changed against BL-1").
        let mut readout = ReadoutConfig::bl1(n_bands);
        readout.grad_scale = GradScale::Normalised;
        readout.eta = Schedule::constant(0.05);
        readout.sigma = Schedule::exponential(0.15, 0.02, 3000);
        Ok(Self {
            agent,
            paddle: PaddleMode::Direct,
            feedback: FeedbackMode::Fep,
            ablation: Ablation::None,
            seed,
            culture: c,
            frame_steps: 40,
            n_bands,
            input_amp: if agent == AgentKind::Reservoir {
                10.0
            } else {
                12.0
            },
            bump_sigma_bands: 1.5,
            x_rate_gain: 0.0,
            x_pulse_hz: if agent == AgentKind::Reflex {
                [4.0, 40.0]
            } else {
                [0.0, 0.0]
            },
            game: GameParams::default(),
            readout,
            reward_on: RewardOn::Target,
            slow_features: 0.0,
            baseline_bins: 16,
            baseline_alpha: 0.1,
            reflex: ReflexParams::default(),
            rstdp: RstdpParams::default(),
            feedback_params: FeedbackParams::default(),
        })
    }

    /// Applies `path=value` overrides (dotted field paths into this config, values as YAML,
    /// e.g. `readout.eta.start=0.05`, `culture.culture.g_exc=0.1`, `rstdp.modulator=feedback`)
    /// and re-validates.
    pub fn with_overrides(self, overrides: &[String]) -> Result<Self, PongError> {
        if overrides.is_empty() {
            return Ok(self);
        }
        let bad = |m: String| PongError::Config(m);
        let mut v = serde_yaml_ng::to_value(&self).map_err(|e| bad(e.to_string()))?;
        for o in overrides {
            let (path, val) = o
                .split_once('=')
                .ok_or_else(|| bad(format!("override `{o}` is not path=value")))?;
            let val: serde_yaml_ng::Value = serde_yaml_ng::from_str(val)
                .map_err(|e| bad(format!("override `{o}`: value is not YAML: {e}")))?;
            let mut cur = &mut v;
            for key in path.split('.') {
                let map = cur
                    .as_mapping_mut()
                    .ok_or_else(|| bad(format!("override `{o}`: `{key}` is not inside a map")))?;
                let k = serde_yaml_ng::Value::String(key.into());
                if !map.contains_key(&k) {
                    let known: Vec<String> = map
                        .keys()
                        .filter_map(|k| k.as_str().map(String::from))
                        .collect();
                    return Err(bad(format!(
                        "override `{o}`: no field `{key}` (fields: {})",
                        known.join(", ")
                    )));
                }
                cur = map
                    .get_mut(&k)
                    .ok_or_else(|| bad(format!("override `{o}`")))?;
            }
            *cur = val;
        }
        let cfg: PongConfig =
            serde_yaml_ng::from_value(v).map_err(|e| bad(format!("after overrides: {e}")))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Number of readout features.
    pub fn n_features(&self) -> usize {
        if self.slow_features > 0.0 {
            2 * self.n_bands
        } else {
            self.n_bands
        }
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<(), PongError> {
        let e = |m: String| Err(PongError::Config(m));
        if !(1..=4000).contains(&self.frame_steps) {
            return e(format!(
                "frame_steps = {} (allowed 1 ..= 4000)",
                self.frame_steps
            ));
        }
        if !(2..=1024).contains(&self.n_bands) {
            return e(format!("n_bands = {} (allowed 2 ..= 1024)", self.n_bands));
        }
        if !(self.input_amp.is_finite() && (0.0..=200.0).contains(&self.input_amp)) {
            return e(format!(
                "input_amp = {} (allowed 0 ..= 200)",
                self.input_amp
            ));
        }
        if !(self.bump_sigma_bands.is_finite() && self.bump_sigma_bands > 0.0) {
            return e(format!(
                "bump_sigma_bands = {} (allowed > 0)",
                self.bump_sigma_bands
            ));
        }
        if !(0.0..1.0).contains(&self.slow_features) {
            return e(format!(
                "slow_features = {} (allowed 0 <= x < 1)",
                self.slow_features
            ));
        }
        if !(1..=1024).contains(&self.baseline_bins) {
            return e(format!(
                "baseline_bins = {} (allowed 1 ..= 1024)",
                self.baseline_bins
            ));
        }
        self.game.validate().map_err(PongError::Config)?;
        let mut r = self.readout.clone();
        r.n_in = self.n_features();
        r.validate()?;
        self.rstdp.rule.validate()?;
        let r = &self.rstdp;
        if !(r.p_connect > 0.0 && r.p_connect <= 1.0) {
            return e(format!(
                "rstdp.p_connect = {} (allowed 0 < p <= 1)",
                r.p_connect
            ));
        }
        for (name, v) in [
            ("w_init", r.w_init),
            ("w_jitter", r.w_jitter),
            ("g_ei", r.g_ei),
            ("g_ie", r.g_ie),
        ] {
            if !(v.is_finite() && (0.0..=100.0).contains(&v)) {
                return e(format!("rstdp.{name} = {v} (allowed 0 ..= 100)"));
            }
        }
        if r.w_jitter > 1.0 {
            return e(format!("rstdp.w_jitter = {} (allowed 0 ..= 1)", r.w_jitter));
        }
        if !(r.motor_smoothing >= 0.0 && r.motor_smoothing < 1.0) {
            return e(format!(
                "rstdp.motor_smoothing = {} (allowed 0 <= x < 1)",
                r.motor_smoothing
            ));
        }
        if !(r.motor_bias.is_finite() && r.motor_bias.abs() <= 100.0) {
            return e(format!(
                "rstdp.motor_bias = {} (allowed -100 ..= 100)",
                r.motor_bias
            ));
        }
        r.explore.validate("rstdp.explore")?;
        r.gain.validate("rstdp.gain")?;
        let [f0, f1] = self.x_pulse_hz;
        if !(f0.is_finite()
            && f1.is_finite()
            && f0 >= 0.0
            && f1 >= 0.0
            && f0 <= 1000.0
            && f1 <= 1000.0)
        {
            return e(format!("x_pulse_hz = [{f0}, {f1}] (allowed 0 ..= 1000 Hz)"));
        }
        if !(self.x_rate_gain.is_finite() && self.x_rate_gain.abs() <= 2.0) {
            return e(format!(
                "x_rate_gain = {} (allowed -2 ..= 2)",
                self.x_rate_gain
            ));
        }
        self.culture.validate()?;
        Ok(())
    }
}

/// What one frame did (for the cockpit, logs and tests).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepInfo {
    /// Frame index (0-based) of this step.
    pub step: u64,
    /// Ball position `[x, y]` as observed (before it moved this frame).
    pub ball: [f64; 2],
    /// Paddle centre after it moved.
    pub paddle: f64,
    /// Target the agent decoded.
    pub target: f64,
    /// Tracking reward `1 − 2|paddle − ball_y|`.
    pub reward: f64,
    /// A hit or a miss, if the ball reached the paddle line this frame.
    pub event: Option<GameEvent>,
    /// Hits so far.
    pub hits: u64,
    /// Misses so far.
    pub misses: u64,
    /// Current rally (consecutive hits).
    pub rally: u32,
    /// Hit rate over the events of the last [`RECENT_STEPS`] frames (NaN before the first).
    pub recent_hit_rate: f64,
    /// Stimulation current per sensory band this frame (the place-code bump).
    pub stim_bump: Vec<f32>,
    /// Mean spikes per neuron per readout band this frame (the culture's response).
    pub band_activity: Vec<f64>,
    /// Spikes in the whole culture this frame.
    pub spikes: u64,
    /// Exploration σ used.
    pub sigma: f64,
    /// Whether the agent learned this frame.
    pub training: bool,
}

/// Frames over which [`StepInfo::recent_hit_rate`] is computed.
pub const RECENT_STEPS: u64 = 1000;

/// Summary of a run (the CLI's `--json` object).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct PongSummary {
    /// Agent name.
    pub agent: String,
    /// Paddle mode.
    pub paddle: String,
    /// Feedback policy.
    pub feedback: String,
    /// Ablation.
    pub ablation: String,
    /// Seed.
    pub seed: u64,
    /// Neurons in the substrate.
    pub neurons: usize,
    /// Frames played in training.
    pub steps: u64,
    /// Hits in training.
    pub hits: u64,
    /// Misses in training.
    pub misses: u64,
    /// Hit rate over all training events.
    pub hit_rate_overall: f64,
    /// Hit rate over the events of the first 1000 frames.
    pub hit_rate_first_1000: f64,
    /// Hit rate over the events of the last 1000 frames.
    pub hit_rate_last_1000: f64,
    /// Learning improvement: last-1000 minus first-1000 hit rate.
    pub improvement: f64,
    /// Mean rally length (hits per rally).
    pub mean_rally: f64,
    /// Longest rally.
    pub max_rally: u32,
    /// Held-out evaluation frames (readout frozen, exploration off).
    pub eval_steps: u64,
    /// Held-out hit rate (NaN when no evaluation ran).
    pub eval_hit_rate: f64,
    /// Wall time of training and evaluation (s).
    pub wall_s: f64,
    /// Frames per wall second.
    pub steps_per_s: f64,
}

/// A frame's decoded action.
#[derive(Clone, Copy, Debug, Default)]
pub struct PongAction {
    /// Paddle target.
    pub target: f64,
    /// Readout action details (pursuit, reservoir).
    pub readout: dishloop_learn::Action,
}

/// A frame's observation.
#[derive(Clone, Copy, Debug)]
pub struct PongObs {
    /// Ball `[x, y]`.
    pub ball: [f64; 2],
    /// Ball velocity per frame.
    pub vel: [f64; 2],
    /// Paddle centre.
    pub paddle: f64,
}

enum Agent {
    Static,
    Random,
    Reflex,
    Readout {
        readout: GaussianReadout,
        baseline: BinnedBaseline,
    },
    Rstdp {
        learner: Box<ThreeFactorStdp>,
        baseline: BinnedBaseline,
    },
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Pending {
    None,
    Predictable,
    Unpredictable,
    OpenLoop,
}

/// A running Pong experiment: game, substrate, agent, log.
pub struct PongSession {
    cfg: PongConfig,
    game: PongGame,
    sub: Option<Substrate>,
    agent: Agent,
    log: HitLog,
    step: u64,
    training: bool,
    rng: SplitMix,
    // Per-frame buffers.
    bump: Vec<f32>,
    x: Vec<f64>,
    slow: Vec<f64>,
    activity: Vec<f64>,
    extra: Vec<f32>,
    pending: Pending,
    frame_spikes: u64,
    pulse_phase: f64,
    motor_drive: Vec<f32>,
    last_target: f64,
    reward_ring: Vec<f64>,
    wall_s: f64,
    trained_steps_before: u64,
    trained_steps: u64,
    prior_counts: (u64, u64),
}

impl PongSession {
    /// Builds the substrate and a fresh agent.
    pub fn new(cfg: PongConfig) -> Result<Self, PongError> {
        cfg.validate()?;
        let sub = match cfg.agent.substrate() {
            Some(kind) => {
                let r = &cfg.rstdp;
                let wiring = substrate::SensorimotorWiring {
                    w_init: r.w_init,
                    g_ei: r.g_ei,
                    g_ie: r.g_ie,
                    jitter: r.w_jitter,
                    p_connect: r.p_connect,
                };
                Some(substrate::build(
                    kind,
                    &cfg.culture,
                    cfg.seed,
                    cfg.n_bands,
                    wiring,
                )?)
            }
            None => None,
        };
        let baseline = BinnedBaseline::new(cfg.baseline_bins, cfg.baseline_alpha)?;
        let agent = match cfg.agent {
            AgentKind::Static => Agent::Static,
            AgentKind::Random => Agent::Random,
            AgentKind::Reflex => Agent::Reflex,
            AgentKind::Pursuit | AgentKind::Reservoir => {
                let mut rc = cfg.readout.clone();
                rc.n_in = cfg.n_features();
                Agent::Readout {
                    readout: GaussianReadout::new(rc)?,
                    baseline,
                }
            }
            AgentKind::Rstdp => {
                let s = sub
                    .as_ref()
                    .ok_or_else(|| PongError::Config("rstdp needs a substrate".into()))?;
                let proj = s
                    .plastic
                    .clone()
                    .ok_or_else(|| PongError::Config("rstdp needs a plastic projection".into()))?;
                let mut learner = ThreeFactorStdp::new(
                    cfg.rstdp.rule.clone(),
                    proj,
                    s.net.csr().weights(),
                    s.net.dt_ms(),
                )?;
                learner.normalise(); // start from normalised weights (written in by sync_weights)
                Agent::Rstdp {
                    learner: Box::new(learner),
                    baseline,
                }
            }
        };
        let n = sub.as_ref().map_or(0, |s| s.net.n());
        let nb = cfg.n_bands;
        let nf = cfg.n_features();
        let mut s = Self {
            game: PongGame::new(cfg.game.clone(), cfg.seed, 0xBA11),
            rng: SplitMix::new(cfg.seed, 0xE7E7),
            sub,
            agent,
            log: HitLog::default(),
            step: 0,
            training: cfg.ablation != Ablation::Frozen,
            bump: vec![0.0; nb],
            x: vec![0.0; nf],
            slow: vec![0.0; nb],
            activity: vec![0.0; nb],
            extra: vec![0.0; n],
            pending: Pending::None,
            frame_spikes: 0,
            pulse_phase: 0.0,
            motor_drive: vec![0.0; nb],
            last_target: 0.5,
            reward_ring: Vec::new(),
            wall_s: 0.0,
            trained_steps_before: 0,
            trained_steps: 0,
            prior_counts: (0, 0),
            cfg,
        };
        s.sync_weights();
        s.apply_training_mode();
        Ok(s)
    }

    /// The configuration.
    pub fn config(&self) -> &PongConfig {
        &self.cfg
    }

    /// The hit/miss log.
    pub fn log(&self) -> &HitLog {
        &self.log
    }

    /// Frames played in this session.
    pub fn steps(&self) -> u64 {
        self.step
    }

    /// Frames trained before this session (from a loaded brain).
    pub fn steps_trained_before(&self) -> u64 {
        self.trained_steps_before
    }

    /// The game (ball, paddle).
    pub fn game(&self) -> &PongGame {
        &self.game
    }

    /// Neurons in the substrate (0 for the baselines).
    pub fn n_neurons(&self) -> usize {
        self.sub.as_ref().map_or(0, |s| s.net.n())
    }

    /// Synapses in the substrate.
    pub fn n_synapses(&self) -> usize {
        self.sub.as_ref().map_or(0, |s| s.net.n_synapses())
    }

    /// The network (None for the baselines), e.g. for a raster in the cockpit.
    pub fn network(&self) -> Option<&dishloop_core::Network> {
        self.sub.as_ref().map(|s| &s.net)
    }

    /// Wall seconds spent in [`Self::step`] so far.
    pub fn wall_s(&self) -> f64 {
        self.wall_s
    }

    /// Whether the agent is learning (training) or frozen with exploration off (evaluation).
    pub fn training(&self) -> bool {
        self.training
    }

    /// Switches between training (learning, exploring) and held-out evaluation (frozen,
    /// exploration off). An `Ablation::Frozen` session never learns.
    pub fn set_training(&mut self, on: bool) {
        self.training = on && self.cfg.ablation != Ablation::Frozen;
        self.apply_training_mode();
    }

    fn apply_training_mode(&mut self) {
        if let Agent::Readout { readout, .. } = &mut self.agent {
            readout.explore = self.training;
        }
    }

    /// Switches paddle control on the fly (the learned agent is kept; saved brains record
    /// the new mode).
    pub fn set_paddle(&mut self, mode: PaddleMode) {
        self.cfg.paddle = mode;
        self.game.paddle_vel = 0.0;
    }

    /// The readout weights and bias (pursuit, reservoir).
    pub fn readout(&self) -> Option<&GaussianReadout> {
        match &self.agent {
            Agent::Readout { readout, .. } => Some(readout),
            _ => None,
        }
    }

    /// The R-STDP learner (rstdp).
    pub fn rstdp(&self) -> Option<&ThreeFactorStdp> {
        match &self.agent {
            Agent::Rstdp { learner, .. } => Some(learner),
            _ => None,
        }
    }

    /// Hit rate over the events of the last [`RECENT_STEPS`] frames.
    pub fn recent_hit_rate(&self) -> f64 {
        self.log
            .hit_rate_in(self.step.saturating_sub(RECENT_STEPS), u64::MAX)
    }

    fn sync_weights(&mut self) {
        if let (Agent::Rstdp { learner, .. }, Some(sub)) = (&self.agent, &mut self.sub) {
            learner.write_weights(sub.net.csr_mut().weights_mut());
        }
    }

    /// Observe.
    fn observe_(&self) -> PongObs {
        PongObs {
            ball: self.game.ball,
            vel: self.game.vel,
            paddle: self.game.paddle,
        }
    }

    /// Encode: the place-code bump (and the x code) per sensory band.
    fn encode_(&mut self, obs: &PongObs) {
        let nb = self.cfg.n_bands;
        let c = obs.ball[1].clamp(0.0, 1.0) * (nb - 1) as f64;
        let s2 = 2.0 * self.cfg.bump_sigma_bands * self.cfg.bump_sigma_bands;
        let mut amp = self.cfg.input_amp * (1.0 + self.cfg.x_rate_gain * (obs.ball[0] - 0.5));
        let [f0, f1] = self.cfg.x_pulse_hz;
        if f1 > 0.0 {
            // Frequency code of the ball's distance (BL-1's closed loop, after Kagan 2022):
            // a phase accumulator at f0 + (f1 − f0)·x Hz; the place code is delivered only
            // in frames where it wraps.
            let frame_s = self.cfg.frame_steps as f64 * self.cfg.culture.simulation.dt_ms / 1000.0;
            self.pulse_phase += (f0 + (f1 - f0) * obs.ball[0].clamp(0.0, 1.0)) * frame_s;
            if self.pulse_phase >= 1.0 {
                self.pulse_phase -= self.pulse_phase.floor();
            } else {
                amp = 0.0;
            }
        }
        for (b, v) in self.bump.iter_mut().enumerate() {
            let d = b as f64 - c;
            *v = (amp * (-d * d / s2).exp()) as f32;
        }
    }

    /// Stimulate and record: one frame of culture time.
    fn stimulate_(&mut self) {
        let Some(sub) = &mut self.sub else { return };
        // Feedback currents from the last event (drawn now, held for the first steps).
        let fb = &self.cfg.feedback_params;
        let mut fb_on = false;
        match self.pending {
            Pending::None => {}
            Pending::Predictable => {
                for band in &sub.sensory {
                    for &i in band {
                        self.extra[i as usize] = fb.hit_amp;
                    }
                }
                fb_on = true;
            }
            Pending::Unpredictable => {
                for band in &sub.sensory {
                    let on = self.rng.uniform() < 0.5;
                    for &i in band {
                        self.extra[i as usize] = if on {
                            self.rng
                                .range(fb.miss_range[0] as f64, fb.miss_range[1] as f64)
                                as f32
                        } else {
                            0.0
                        };
                    }
                }
                fb_on = true;
            }
            Pending::OpenLoop => {
                for band in &sub.sensory {
                    for &i in band {
                        self.extra[i as usize] = self
                            .rng
                            .range(fb.open_loop_range[0] as f64, fb.open_loop_range[1] as f64)
                            as f32;
                    }
                }
                fb_on = true;
            }
        }
        self.pending = Pending::None;
        if !sub.motor.is_empty() {
            let sd = if self.training {
                self.cfg.rstdp.explore.at(self.trained_steps)
            } else {
                0.0
            };
            let bias = self.cfg.rstdp.motor_bias;
            for m in &mut self.motor_drive {
                *m = bias
                    + if sd > 0.0 {
                        (sd * self.rng.normal()) as f32
                    } else {
                        0.0
                    };
            }
            substrate::set_currents(&mut sub.net, &sub.motor, &self.motor_drive, None);
        }
        substrate::set_currents(
            &mut sub.net,
            &sub.sensory,
            &self.bump,
            fb_on.then_some(&self.extra[..]),
        );
        sub.readout.clear();
        let mut spikes = 0u64;
        let learner = match &mut self.agent {
            Agent::Rstdp { learner, .. } if self.training => Some(learner),
            _ => None,
        };
        let fb_steps = if fb_on {
            fb.steps.min(self.cfg.frame_steps)
        } else {
            0
        };
        let mut learner = learner;
        for k in 0..self.cfg.frame_steps {
            if fb_on && k == fb_steps {
                substrate::set_currents(&mut sub.net, &sub.sensory, &self.bump, None);
            }
            let s = sub.net.step();
            spikes += s.len() as u64;
            sub.readout.add_spikes(s);
            if let Some(l) = learner.as_deref_mut() {
                l.on_step(s);
            }
        }
        if fb_on && fb_steps >= self.cfg.frame_steps {
            substrate::set_currents(&mut sub.net, &sub.sensory, &self.bump, None);
        }
        self.frame_spikes = spikes;
        sub.readout.band_means(&mut self.activity);
    }

    /// Decode a paddle target.
    fn decode_(&mut self, obs: &PongObs) -> PongAction {
        match &self.agent {
            Agent::Static => PongAction {
                target: 0.5,
                ..Default::default()
            },
            Agent::Random => PongAction {
                target: self.rng.uniform(),
                ..Default::default()
            },
            Agent::Reflex => {
                let nb = self.cfg.n_bands;
                let half = nb / 2;
                let window_s =
                    self.cfg.frame_steps as f64 * self.cfg.culture.simulation.dt_ms / 1000.0;
                let Some(sub) = &self.sub else {
                    return PongAction {
                        target: obs.paddle,
                        ..Default::default()
                    };
                };
                let sizes = sub.readout.sizes();
                let counts = sub.readout.counts();
                let rate = |r: std::ops::Range<usize>| {
                    let c: u64 = counts[r.clone()].iter().map(|&c| c as u64).sum();
                    let n: u64 = sizes[r].iter().map(|&c| c as u64).sum();
                    c as f64 / n.max(1) as f64 / window_s
                };
                let (down, up) = (rate(0..half), rate(half..nb));
                let p = &self.cfg.reflex;
                let target = if up > down + p.margin_hz {
                    obs.paddle + p.step
                } else if down > up + p.margin_hz {
                    obs.paddle - p.step
                } else {
                    obs.paddle
                };
                PongAction {
                    target,
                    ..Default::default()
                }
            }
            Agent::Readout { readout, .. } => {
                let nb = self.cfg.n_bands;
                let Some(sub) = &self.sub else {
                    return PongAction::default();
                };
                sub.readout.features_sum1(&mut self.x[..nb]);
                if self.cfg.slow_features > 0.0 {
                    let d = self.cfg.slow_features;
                    for (s, &f) in self.slow.iter_mut().zip(&self.x[..nb]) {
                        *s = d * *s + (1.0 - d) * f;
                    }
                    self.x[nb..].copy_from_slice(&self.slow);
                }
                let xi = if readout.explore {
                    self.rng.normal()
                } else {
                    0.0
                };
                let a = readout.act(&self.x, xi);
                PongAction {
                    target: a.a,
                    readout: a,
                }
            }
            Agent::Rstdp { .. } => {
                let Some(sub) = &self.sub else {
                    return PongAction::default();
                };
                let nb = sub.readout.n_bands();
                let d = self.cfg.rstdp.motor_smoothing;
                for (s, &a) in self.slow.iter_mut().zip(&self.activity) {
                    *s = d * *s + (1.0 - d) * a;
                }
                // Centre of mass of the activity above the band mean (a population vector
                // that ignores activity spread evenly over all bands).
                let mean = self.slow.iter().sum::<f64>() / nb as f64;
                let above = |a: f64| {
                    if self.cfg.rstdp.decode_above_mean {
                        (a - mean).max(0.0)
                    } else {
                        a
                    }
                };
                let total: f64 = self.slow.iter().map(|&a| above(a)).sum();
                let target = if total > 0.0 {
                    self.slow
                        .iter()
                        .enumerate()
                        .map(|(b, &a)| above(a) * (b as f64 + 0.5) / nb as f64)
                        .sum::<f64>()
                        / total
                } else {
                    self.last_target
                };
                PongAction {
                    target,
                    ..Default::default()
                }
            }
        }
    }

    /// Act: move the paddle and the ball; returns (reward, event).
    fn act_(&mut self, obs: &PongObs, action: &PongAction) -> (f64, Option<GameEvent>) {
        self.game.move_paddle(action.target, self.cfg.paddle);
        self.last_target = action.target;
        let at = match self.cfg.reward_on {
            RewardOn::Paddle => self.game.paddle,
            RewardOn::Target => action.target.clamp(0.0, 1.0),
        };
        let reward = 1.0 - 2.0 * (at - obs.ball[1]).abs();
        let paddle = self.game.paddle;
        let ev = self.game.step_ball();
        if let Some(e) = ev {
            self.log
                .push(self.step, e, self.game.last_cross_y, paddle, self.training);
        }
        (reward, ev)
    }

    /// Feedback: learning and the feedback stimulation of the next frame.
    fn feedback_(
        &mut self,
        obs: &PongObs,
        action: &PongAction,
        reward: f64,
        ev: Option<GameEvent>,
    ) {
        // The reward the learner sees (shuffled-reward ablation: a random earlier frame's).
        let mut r_learn = reward;
        if self.cfg.ablation == Ablation::ShuffledReward {
            const RING: usize = 4096;
            if self.reward_ring.len() < RING {
                self.reward_ring.push(reward);
            } else {
                let k = (self.step as usize) % RING;
                self.reward_ring[k] = reward;
            }
            let j = self.rng.below(self.reward_ring.len() as u64) as usize;
            r_learn = self.reward_ring[j];
        }
        // Feedback stimulation for the next frame.
        if let Some(e) = ev {
            self.pending = match (self.cfg.feedback, e) {
                (FeedbackMode::Silent, _) => Pending::None,
                (FeedbackMode::Fep, GameEvent::Hit) => Pending::Predictable,
                (FeedbackMode::Fep, GameEvent::Miss) => Pending::Unpredictable,
                (FeedbackMode::OpenLoop, _) => Pending::OpenLoop,
            };
        }
        if !self.training {
            return;
        }
        let y = obs.ball[1];
        match &mut self.agent {
            Agent::Readout { readout, baseline } => {
                let bin = baseline.bin_of(y);
                let adv = baseline.advantage(bin, r_learn);
                readout.learn(&self.x, &action.readout, adv);
                if ev.is_some() && readout.cfg.trace_decay > 0.0 {
                    readout.reset_traces();
                }
            }
            Agent::Rstdp { learner, baseline } => {
                let d = match self.cfg.rstdp.modulator {
                    Modulator::Tracking => {
                        let bin = baseline.bin_of(y);
                        baseline.advantage(bin, r_learn)
                    }
                    Modulator::Feedback => {
                        // The sign the feedback carries: +1 predictable, -1 unpredictable,
                        // random for open-loop stimulation, nothing when silent; minus its
                        // expectation at this crossing height (a prediction error).
                        let s = match (self.cfg.feedback, ev) {
                            (_, None) | (FeedbackMode::Silent, _) => None,
                            (FeedbackMode::Fep, Some(GameEvent::Hit)) => Some(1.0),
                            (FeedbackMode::Fep, Some(GameEvent::Miss)) => Some(-1.0),
                            (FeedbackMode::OpenLoop, Some(_)) => {
                                Some(if self.rng.uniform() < 0.5 { 1.0 } else { -1.0 })
                            }
                        };
                        match s {
                            Some(s) => {
                                let bin = baseline.bin_of(self.game.last_cross_y);
                                baseline.advantage(bin, s)
                            }
                            None => 0.0,
                        }
                    }
                };
                if d != 0.0 {
                    learner.reinforce(self.cfg.rstdp.gain.at(self.trained_steps) * d);
                    if let Some(sub) = &mut self.sub {
                        learner.write_weights(sub.net.csr_mut().weights_mut());
                    }
                }
                if self.cfg.rstdp.consume_eligibility
                    && self.cfg.rstdp.modulator == Modulator::Tracking
                {
                    learner.clear_eligibility();
                }
            }
            _ => {}
        }
    }

    /// Plays one frame: observe → encode → stimulate → decode → act → feedback.
    pub fn step(&mut self) -> StepInfo {
        let t0 = Instant::now();
        let obs = self.observe_();
        self.encode_(&obs);
        self.stimulate_();
        let action = self.decode_(&obs);
        let (reward, ev) = self.act_(&obs, &action);
        self.feedback_(&obs, &action, reward, ev);
        let info = StepInfo {
            step: self.step,
            ball: obs.ball,
            paddle: self.game.paddle,
            target: action.target,
            reward,
            event: ev,
            hits: self.log.hits,
            misses: self.log.misses,
            rally: self.log.rally,
            recent_hit_rate: f64::NAN,
            stim_bump: self.bump.clone(),
            band_activity: self.activity.clone(),
            spikes: self.frame_spikes,
            sigma: action.readout.sigma,
            training: self.training,
        };
        self.trained_steps += self.training as u64;
        self.step += 1;
        let mut info = info;
        info.recent_hit_rate = self.recent_hit_rate();
        self.wall_s += t0.elapsed().as_secs_f64();
        info
    }

    /// Plays `n` frames without building per-frame [`StepInfo`]s (fast path for benchmarks
    /// and long training).
    pub fn run(&mut self, n: u64) {
        let t0 = Instant::now();
        for _ in 0..n {
            let obs = self.observe_();
            self.encode_(&obs);
            self.stimulate_();
            let action = self.decode_(&obs);
            let (reward, ev) = self.act_(&obs, &action);
            self.feedback_(&obs, &action, reward, ev);
            self.trained_steps += self.training as u64;
            self.step += 1;
        }
        self.wall_s += t0.elapsed().as_secs_f64();
    }

    /// Summary of the training events so far plus an evaluation hit rate (NaN if none).
    pub fn summary(&self, train_steps: u64, eval: Option<(u64, f64)>) -> PongSummary {
        let l = &self.log;
        let first = l.hit_rate_in(0, 1000.min(train_steps));
        let last = l.hit_rate_in(train_steps.saturating_sub(1000), train_steps);
        let (rally_mean, rally_max) = l.rally_stats_before(train_steps);
        let (hits, misses) =
            l.events
                .iter()
                .filter(|e| e.step < train_steps)
                .fold((0, 0), |(h, m), e| match e.event {
                    GameEvent::Hit => (h + 1, m),
                    GameEvent::Miss => (h, m + 1),
                });
        PongSummary {
            agent: self.cfg.agent.name().into(),
            paddle: self.cfg.paddle.to_string(),
            feedback: self.cfg.feedback.to_string(),
            ablation: self.cfg.ablation.to_string(),
            seed: self.cfg.seed,
            neurons: self.n_neurons(),
            steps: train_steps,
            hits,
            misses,
            hit_rate_overall: if hits + misses > 0 {
                hits as f64 / (hits + misses) as f64
            } else {
                f64::NAN
            },
            hit_rate_first_1000: first,
            hit_rate_last_1000: last,
            improvement: last - first,
            mean_rally: rally_mean,
            max_rally: rally_max,
            eval_steps: eval.map_or(0, |e| e.0),
            eval_hit_rate: eval.map_or(f64::NAN, |e| e.1),
            wall_s: self.wall_s,
            steps_per_s: self.step as f64 / self.wall_s.max(1e-9),
        }
    }
}

impl crate::Experiment for PongSession {
    type Observation = PongObs;
    type Action = PongAction;
    type Outcome = (f64, Option<GameEvent>);
    type Info = StepInfo;

    fn observe(&mut self) -> PongObs {
        self.observe_()
    }
    fn encode(&mut self, obs: &PongObs) {
        self.encode_(obs)
    }
    fn stimulate(&mut self) {
        self.stimulate_()
    }
    fn decode(&mut self, obs: &PongObs) -> PongAction {
        self.decode_(obs)
    }
    fn act(&mut self, obs: &PongObs, action: &PongAction) -> (f64, Option<GameEvent>) {
        self.act_(obs, action)
    }
    fn feedback(&mut self, obs: &PongObs, action: &PongAction, outcome: &(f64, Option<GameEvent>)) {
        self.feedback_(obs, action, outcome.0, outcome.1)
    }
    fn step(&mut self) -> StepInfo {
        PongSession::step(self)
    }
}
