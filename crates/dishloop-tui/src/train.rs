//! The Train view's engine: a Pong session behind a small trait ([`PongBackend`]), time-sliced
//! stepping so the UI keeps its frame rate, and the learning history the view draws.
//!
//! The cockpit only talks to [`PongBackend`]; [`ExperimentsPong`] adapts
//! `dishloop_experiments::pong::PongSession` to it. Another closed loop can be shown in the
//! same view by implementing the trait.

use std::path::Path;
use std::time::{Duration, Instant};

use dishloop_experiments::pong::{AgentKind, GameEvent, PaddleMode, PongConfig, PongSession};

use crate::TuiError;

/// What the view draws of a game at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct PongSnapshot {
    /// Frames played in this session (one frame = 20 ms of culture time by default).
    pub frames: u64,
    /// Ball `[x, y]` on the unit square; the paddle lives at `x = 1`.
    pub ball: [f64; 2],
    /// Paddle centre (y).
    pub paddle: f64,
    /// Paddle height (field units).
    pub paddle_height: f64,
    /// Hits so far.
    pub hits: u64,
    /// Misses so far.
    pub misses: u64,
    /// Current rally (consecutive hits).
    pub rally: u32,
    /// Stimulation current per sensory band in the last frame (the place-code bump).
    pub stim_bump: Vec<f64>,
    /// Exploration σ of the last frame (NaN when the agent has none).
    pub sigma: f64,
    /// Neurons in the substrate.
    pub n_neurons: usize,
    /// Synapses in the substrate.
    pub n_synapses: usize,
    /// Mean firing rate of the substrate since the session started (Hz per neuron).
    pub mean_rate_hz: Option<f64>,
    /// Frames trained before this session (from a loaded brain).
    pub frames_before: u64,
    /// Culture time per frame (ms).
    pub frame_ms: f64,
}

/// One hit or miss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Frame at which it happened.
    pub frame: u64,
    /// Hit (true) or miss.
    pub hit: bool,
}

/// A closed-loop game the Train view can drive.
pub trait PongBackend {
    /// Plays `frames` frames as fast as possible.
    fn advance(&mut self, frames: u64);
    /// Plays one frame and keeps what the view shows of it (the sensory bump).
    fn advance_observed(&mut self);
    /// The state to draw.
    fn snapshot(&self) -> PongSnapshot;
    /// Number of hit/miss events so far.
    fn n_outcomes(&self) -> usize;
    /// Event `i` (0-based, oldest first).
    fn outcome(&self, i: usize) -> Option<Outcome>;
    /// Saves the learned state to `path`.
    fn save_brain(&self, path: &Path) -> Result<(), TuiError>;
    /// Replaces the session by one loaded from `path`; returns the set-up it carries.
    fn load_brain(&mut self, path: &Path) -> Result<TrainSetup, TuiError>;
}

/// The agent, paddle and seed of a training session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrainSetup {
    /// Agent (its substrate follows: pursuit = feed-forward bank, reservoir/reflex = recurrent
    /// culture, rstdp = plastic sensorimotor network).
    pub agent: AgentKind,
    /// Paddle control.
    pub paddle: PaddleMode,
    /// Seed.
    pub seed: u64,
}

impl Default for TrainSetup {
    fn default() -> Self {
        Self {
            agent: AgentKind::Pursuit,
            paddle: PaddleMode::Direct,
            seed: 1,
        }
    }
}

/// Agents in the order `a` cycles through them.
pub const AGENT_CYCLE: [AgentKind; 6] = [
    AgentKind::Pursuit,
    AgentKind::Reservoir,
    AgentKind::Rstdp,
    AgentKind::Reflex,
    AgentKind::Static,
    AgentKind::Random,
];

impl TrainSetup {
    /// The substrate in words.
    pub fn substrate_name(&self) -> &'static str {
        match self.agent {
            AgentKind::Pursuit => "feed-forward bank",
            AgentKind::Reservoir | AgentKind::Reflex => "recurrent reservoir",
            AgentKind::Rstdp => "plastic sensorimotor net",
            AgentKind::Static | AgentKind::Random => "none (baseline)",
        }
    }

    /// How the agent learns, in words.
    pub fn agent_hint(&self) -> &'static str {
        match self.agent {
            AgentKind::Pursuit => "linear readout learns by node perturbation",
            AgentKind::Reservoir => "readout learns; recurrent weights stay fixed",
            AgentKind::Rstdp => "reward-modulated STDP on the culture's synapses",
            AgentKind::Reflex => "up/down band comparison, no learning",
            AgentKind::Static => "paddle stays in the middle",
            AgentKind::Random => "paddle jumps at random",
        }
    }

    /// Switches the substrate: the feed-forward bank (pursuit) ↔ the recurrent reservoir.
    pub fn toggle_substrate(&mut self) {
        self.agent = if self.agent == AgentKind::Pursuit {
            AgentKind::Reservoir
        } else {
            AgentKind::Pursuit
        };
    }

    /// Next agent of [`AGENT_CYCLE`].
    pub fn cycle_agent(&mut self) {
        let i = AGENT_CYCLE
            .iter()
            .position(|a| *a == self.agent)
            .unwrap_or(0);
        self.agent = AGENT_CYCLE[(i + 1) % AGENT_CYCLE.len()];
    }

    /// Direct ↔ smooth paddle.
    pub fn toggle_paddle(&mut self) {
        self.paddle = match self.paddle {
            PaddleMode::Direct => PaddleMode::Smooth,
            PaddleMode::Smooth => PaddleMode::Direct,
        };
    }

    /// `"pursuit · direct"`.
    pub fn label(&self) -> String {
        format!("{} · {}", self.agent, self.paddle)
    }
}

/// Builds a back end for a set-up.
pub type BackendFactory = fn(&TrainSetup) -> Result<Box<dyn PongBackend>, TuiError>;

/// [`PongBackend`] over `dishloop_experiments::pong::PongSession`.
pub struct ExperimentsPong {
    session: PongSession,
    last_bump: Vec<f64>,
    last_sigma: f64,
}

fn pong_err(e: impl std::fmt::Display) -> TuiError {
    TuiError::Train(e.to_string())
}

impl ExperimentsPong {
    /// A fresh session of the agent's default size on the `dishbrain_pong` culture.
    pub fn new(setup: &TrainSetup) -> Result<Self, TuiError> {
        let mut cfg = PongConfig::new(setup.agent, None, setup.seed).map_err(pong_err)?;
        cfg.paddle = setup.paddle;
        let session = PongSession::new(cfg).map_err(pong_err)?;
        Ok(Self::wrap(session))
    }

    fn wrap(session: PongSession) -> Self {
        Self {
            last_bump: vec![0.0; session.config().n_bands],
            last_sigma: f64::NAN,
            session,
        }
    }

    /// The factory the cockpit uses by default.
    pub fn factory(setup: &TrainSetup) -> Result<Box<dyn PongBackend>, TuiError> {
        Ok(Box::new(Self::new(setup)?))
    }
}

impl PongBackend for ExperimentsPong {
    fn advance(&mut self, frames: u64) {
        self.session.run(frames);
    }

    fn advance_observed(&mut self) {
        let info = self.session.step();
        self.last_bump = info.stim_bump.iter().map(|&x| x as f64).collect();
        self.last_sigma = info.sigma;
    }

    fn snapshot(&self) -> PongSnapshot {
        let s = &self.session;
        let g = s.game();
        let log = s.log();
        let mean_rate_hz = s.network().and_then(|net| {
            let t_s = net.time_ms() / 1000.0;
            (net.n() > 0 && t_s > 0.0).then(|| net.total_spikes() as f64 / (net.n() as f64 * t_s))
        });
        PongSnapshot {
            frames: s.steps(),
            ball: g.ball,
            paddle: g.paddle,
            paddle_height: g.params.paddle_height,
            hits: log.hits,
            misses: log.misses,
            rally: log.rally,
            stim_bump: self.last_bump.clone(),
            sigma: self.last_sigma,
            n_neurons: s.n_neurons(),
            n_synapses: s.n_synapses(),
            mean_rate_hz,
            frames_before: s.steps_trained_before(),
            frame_ms: s.config().frame_steps as f64 * s.config().culture.simulation.dt_ms,
        }
    }

    fn n_outcomes(&self) -> usize {
        self.session.log().events.len()
    }

    fn outcome(&self, i: usize) -> Option<Outcome> {
        self.session.log().events.get(i).map(|e| Outcome {
            frame: e.step,
            hit: e.event == GameEvent::Hit,
        })
    }

    fn save_brain(&self, path: &Path) -> Result<(), TuiError> {
        self.session.save_brain(path).map_err(pong_err)
    }

    fn load_brain(&mut self, path: &Path) -> Result<TrainSetup, TuiError> {
        let s = PongSession::load_brain(path).map_err(pong_err)?;
        let cfg = s.config();
        let setup = TrainSetup {
            agent: cfg.agent,
            paddle: cfg.paddle,
            seed: cfg.seed,
        };
        *self = Self::wrap(s);
        Ok(setup)
    }
}

/// Frames per UI frame offered by `+`/`-`; `None` = as many as fit in the frame's time
/// budget ("max").
pub const SPEEDS: [Option<u64>; 9] = [
    Some(1),
    Some(2),
    Some(5),
    Some(10),
    Some(20),
    Some(50),
    Some(100),
    Some(500),
    None,
];
/// Default speed index (5 frames per UI frame, ~3× real time at 30 fps).
pub const DEFAULT_SPEED: usize = 2;
/// Events in the "recent" hit rate of the chart and gauges.
pub const RECENT_EVENTS: usize = 50;
/// Most frames run between clock checks.
const MAX_CHUNK: u64 = 8;

/// Training state of the cockpit.
pub struct TrainState {
    /// Current set-up (applied on reset).
    pub setup: TrainSetup,
    backend: Option<Box<dyn PongBackend>>,
    factory: BackendFactory,
    /// Last error (building or stepping).
    pub error: Option<String>,
    /// Playing or paused.
    pub running: bool,
    /// Index into [`SPEEDS`].
    pub speed: usize,
    /// Latest snapshot.
    pub snapshot: Option<PongSnapshot>,
    /// Every outcome seen so far.
    pub outcomes: Vec<Outcome>,
    /// `(frame, hit rate over the last RECENT_EVENTS events)` after each event.
    pub curve: Vec<(f64, f64)>,
    /// Wall seconds spent stepping.
    pub busy_s: f64,
    /// Frames stepped while timed.
    pub busy_frames: u64,
    /// Index of this session's row in the Results list.
    pub result_row: Option<usize>,
}

impl TrainState {
    /// A paused, not yet built session.
    pub fn new(setup: TrainSetup, factory: BackendFactory) -> Self {
        Self {
            setup,
            backend: None,
            factory,
            error: None,
            running: false,
            speed: DEFAULT_SPEED,
            snapshot: None,
            outcomes: Vec::new(),
            curve: Vec::new(),
            busy_s: 0.0,
            busy_frames: 0,
            result_row: None,
        }
    }

    /// Whether a session exists.
    pub fn is_built(&self) -> bool {
        self.backend.is_some()
    }

    /// Builds the session if needed; false (with `error` set) on failure.
    pub fn ensure_built(&mut self) -> bool {
        if self.backend.is_none() {
            match (self.factory)(&self.setup) {
                Ok(b) => {
                    self.snapshot = Some(b.snapshot());
                    self.backend = Some(b);
                    self.error = None;
                }
                Err(e) => {
                    self.error = Some(e.to_string());
                    self.running = false;
                }
            }
        }
        self.backend.is_some()
    }

    /// Drops the session and its history (the set-up is kept); the next start builds anew.
    pub fn reset(&mut self) {
        self.backend = None;
        self.running = false;
        self.snapshot = None;
        self.outcomes.clear();
        self.curve.clear();
        self.busy_s = 0.0;
        self.busy_frames = 0;
        self.result_row = None;
        self.error = None;
    }

    /// Frames per UI frame, `None` = max.
    pub fn frames_per_tick(&self) -> Option<u64> {
        SPEEDS[self.speed.min(SPEEDS.len() - 1)]
    }

    /// Speed in words.
    pub fn speed_label(&self) -> String {
        match self.frames_per_tick() {
            Some(n) => format!("{n}/tick"),
            None => "max".into(),
        }
    }

    /// Runs this tick's frames, stopping at `deadline` whatever the speed. Returns frames run.
    pub fn tick(&mut self, deadline: Instant) -> u64 {
        if !self.running || !self.ensure_built() {
            return 0;
        }
        let want = self.frames_per_tick();
        let Some(b) = self.backend.as_mut() else {
            return 0;
        };
        let t0 = Instant::now();
        // One observed frame per tick (for the sensory bump), the rest on the fast path.
        b.advance_observed();
        let mut done = 1u64;
        // Chunks sized to the time left, from the measured cost of a frame, so a slow agent
        // (R-STDP: ~2 ms a frame) does not overshoot the deadline by a whole chunk.
        let cost_s = if self.busy_frames > 0 {
            self.busy_s / self.busy_frames as f64
        } else {
            1e-3
        };
        loop {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            let left_s = (deadline - now).as_secs_f64();
            let fit = (left_s / cost_s.max(1e-6)).floor() as u64;
            if fit == 0 && left_s < 0.5 * cost_s {
                break;
            }
            let chunk = match want {
                Some(n) => (n - done).min(fit.clamp(1, MAX_CHUNK)),
                None => fit.clamp(1, MAX_CHUNK),
            };
            if chunk == 0 {
                break;
            }
            b.advance(chunk);
            done += chunk;
        }
        self.busy_s += t0.elapsed().as_secs_f64();
        self.busy_frames += done;
        self.refresh();
        done
    }

    /// Trains on the fast path (chunks of 100 frames, no drawing) for about `dur`; returns the
    /// frames run (benchmarks).
    pub fn run_for(&mut self, dur: Duration) -> u64 {
        if !self.ensure_built() {
            return 0;
        }
        let Some(b) = self.backend.as_mut() else {
            return 0;
        };
        let t0 = Instant::now();
        let mut done = 0;
        while t0.elapsed() < dur {
            b.advance(100);
            done += 100;
        }
        self.refresh();
        done
    }

    /// Runs exactly `frames` frames (tests, benchmarks).
    pub fn run_frames(&mut self, frames: u64) -> Result<(), TuiError> {
        if !self.ensure_built() {
            return Err(TuiError::Train(self.error.clone().unwrap_or_default()));
        }
        if let Some(b) = self.backend.as_mut()
            && frames > 0
        {
            let t0 = Instant::now();
            b.advance(frames - 1);
            b.advance_observed();
            self.busy_s += t0.elapsed().as_secs_f64();
            self.busy_frames += frames;
        }
        self.refresh();
        Ok(())
    }

    /// Pulls the snapshot and new outcomes from the back end.
    pub fn refresh(&mut self) {
        let Some(b) = self.backend.as_ref() else {
            return;
        };
        self.snapshot = Some(b.snapshot());
        let n = b.n_outcomes();
        for i in self.outcomes.len()..n {
            if let Some(o) = b.outcome(i) {
                self.outcomes.push(o);
                let k = self.outcomes.len();
                let recent = &self.outcomes[k.saturating_sub(RECENT_EVENTS)..];
                let rate = recent.iter().filter(|o| o.hit).count() as f64 / recent.len() as f64;
                push_bounded(&mut self.curve, (o.frame as f64, rate), CURVE_CAP);
            }
        }
    }

    /// Hit rate of the last `n` events (None before the first).
    pub fn recent_hit_rate(&self, n: usize) -> Option<f64> {
        let k = self.outcomes.len();
        (k > 0).then(|| {
            let r = &self.outcomes[k.saturating_sub(n)..];
            r.iter().filter(|o| o.hit).count() as f64 / r.len() as f64
        })
    }

    /// Overall hit rate (None before the first event).
    pub fn overall_hit_rate(&self) -> Option<f64> {
        let s = self.snapshot.as_ref()?;
        let n = s.hits + s.misses;
        (n > 0).then(|| s.hits as f64 / n as f64)
    }

    /// Frames per wall second while stepping.
    pub fn frames_per_s(&self) -> Option<f64> {
        (self.busy_s > 0.05).then(|| self.busy_frames as f64 / self.busy_s)
    }

    /// Saves the brain.
    pub fn save_brain(&self, path: &Path) -> Result<(), TuiError> {
        match self.backend.as_ref() {
            Some(b) => b.save_brain(path),
            None => Err(TuiError::Train(
                "nothing to save yet: start training first".into(),
            )),
        }
    }

    /// Loads a brain into a fresh session (history is cleared, the set-up follows the file).
    pub fn load_brain(&mut self, path: &Path) -> Result<(), TuiError> {
        let mut b = match self.backend.take() {
            Some(b) => b,
            None => (self.factory)(&self.setup)?,
        };
        let setup = match b.load_brain(path) {
            Ok(s) => s,
            Err(e) => {
                self.backend = Some(b);
                return Err(e);
            }
        };
        let running = self.running;
        self.reset();
        self.setup = setup;
        self.backend = Some(b);
        self.running = running;
        self.refresh();
        Ok(())
    }

    /// A verdict on the play so far, against chance (a static paddle of height h catches
    /// about h of uniformly placed balls).
    pub fn verdict(&self) -> String {
        let Some(s) = self.snapshot.as_ref() else {
            return "press Space to start".into();
        };
        let chance = s.paddle_height;
        match self.recent_hit_rate(200) {
            None => "waiting for the first ball".into(),
            Some(_) if self.outcomes.len() < 40 => {
                format!("warming up ({} of 40 events)", self.outcomes.len())
            }
            Some(r) if r >= 0.7 => format!(
                "playing well: {:.0} % vs {:.0} % chance",
                100.0 * r,
                100.0 * chance
            ),
            Some(r) if r >= chance + 0.15 => {
                format!(
                    "getting the hang: {:.0} % vs {:.0} % chance",
                    100.0 * r,
                    100.0 * chance
                )
            }
            Some(r) => format!("near chance: {:.0} % vs {:.0} %", 100.0 * r, 100.0 * chance),
        }
    }
}

/// Most points kept in the hit-rate curve; beyond, every other point is dropped, so drawing
/// the chart costs the same after an hour of training as after a minute.
pub const CURVE_CAP: usize = 4096;

/// Pushes `p`; when `v` exceeds `cap`, keeps every other point (the first and the newest
/// are always kept).
pub fn push_bounded(v: &mut Vec<(f64, f64)>, p: (f64, f64), cap: usize) {
    v.push(p);
    if v.len() > cap.max(2) {
        let last = v.len() - 1;
        let mut i = 0;
        v.retain(|_| {
            let keep = i % 2 == 0 || i == last;
            i += 1;
            keep
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curve_stays_bounded_and_keeps_its_ends() {
        let mut v = Vec::new();
        for i in 0..10_000 {
            push_bounded(&mut v, (i as f64, 0.5), 100);
            assert!(v.len() <= 101);
        }
        assert_eq!(v[0].0, 0.0);
        assert_eq!(v.last().unwrap().0, 9999.0);
        assert!(v.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(v.len() >= 50, "{}", v.len());
    }

    #[test]
    fn setup_switches() {
        let mut s = TrainSetup::default();
        s.toggle_substrate();
        assert_eq!(s.agent, AgentKind::Reservoir);
        assert_eq!(s.substrate_name(), "recurrent reservoir");
        s.toggle_substrate();
        assert_eq!(s.substrate_name(), "feed-forward bank");
        let mut seen = std::collections::HashSet::new();
        for _ in 0..AGENT_CYCLE.len() {
            seen.insert(s.agent.name());
            s.cycle_agent();
        }
        assert_eq!(seen.len(), AGENT_CYCLE.len());
        assert_eq!(s.agent, AgentKind::Pursuit, "the cycle comes back");
    }
}
