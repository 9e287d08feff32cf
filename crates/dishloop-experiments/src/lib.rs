//! # dishloop-experiments
//!
//! Closed-loop experiments on a simulated culture, one module per loop (DESIGN.md layer
//! `dishloop-experiments`). Each implements [`Experiment`], the loop
//! observe → encode → stimulate → decode → act → feedback, so the CLI, the terminal cockpit
//! and the benchmarks drive them alike.
//!
//! ```
//! use dishloop_experiments::pong::{AgentKind, PongConfig, PongSession};
//! let cfg = PongConfig::new(AgentKind::Pursuit, Some(256), 1).unwrap();
//! let mut s = PongSession::new(cfg).unwrap();
//! let info = s.step();
//! assert_eq!(info.step, 0);
//! s.run(200);
//! assert_eq!(s.steps(), 201);
//! ```

pub mod pong;

/// One closed loop: a world, a culture and an agent, stepped frame by frame.
///
/// The phases are separate so a caller can inspect or replace one (the cockpit draws after
/// `decode`, a benchmark times `stimulate`); [`Experiment::step`] runs them in order.
pub trait Experiment {
    /// What the world shows the agent.
    type Observation;
    /// What the agent decides.
    type Action;
    /// What acting produced (reward, events).
    type Outcome;
    /// What one frame reports.
    type Info;

    /// Reads the world.
    fn observe(&mut self) -> Self::Observation;
    /// Turns the observation into a stimulation plan.
    fn encode(&mut self, obs: &Self::Observation);
    /// Runs the culture for one frame under the plan, recording its response.
    fn stimulate(&mut self);
    /// Reads the response into an action.
    fn decode(&mut self, obs: &Self::Observation) -> Self::Action;
    /// Applies the action to the world.
    fn act(&mut self, obs: &Self::Observation, action: &Self::Action) -> Self::Outcome;
    /// Learning and feedback stimulation.
    fn feedback(&mut self, obs: &Self::Observation, action: &Self::Action, outcome: &Self::Outcome);
    /// One frame, all phases in order.
    fn step(&mut self) -> Self::Info;
}
