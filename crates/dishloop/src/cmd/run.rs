//! `dishloop run` (also what a bare `dishloop` runs): the main job. Closed-loop Pong with the
//! `pursuit` agent on the default Pong culture (the embedded `dishbrain_pong` config, BL-1's
//! DishBrain culture, capped to 512 neurons at its density so the job takes seconds): 8000
//! training frames with a live hit rate, 2000 held-out frames, statistics, a sparkline and
//! `out/pong/pursuit_seed1.png`.

/// Flags of `dishloop run` (those of `dishloop pong`, same defaults).
#[derive(clap::Args, Debug, Default)]
pub struct Args {
    #[command(flatten)]
    pong: super::pong::Args,
}

/// Runs the main job.
pub fn run(args: Args) -> anyhow::Result<()> {
    super::pong::run(args.pong)
}
