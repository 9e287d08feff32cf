//! `dishloop run` (also what a bare `dishloop` runs): the main job. Until the Pong experiment
//! lands it simulates the embedded `wagenaar_calibrated` culture for 5 s.

/// Flags of `dishloop run`.
#[derive(clap::Args, Debug, Default)]
pub struct Args {}

/// Runs the main job.
pub fn run(_args: Args) -> anyhow::Result<()> {
    super::simulate::run(super::simulate::Args::default())
}
