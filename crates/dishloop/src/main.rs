//! `dishloop`: the command-line front end. Each subcommand lives in its own module under
//! `cmd/` and owns its flags; `main` only dispatches.

use clap::{Parser, Subcommand};

mod cmd;

/// A fast in-silico neural culture on a virtual MEA, and the closed loops that run on it.
#[derive(Parser, Debug)]
#[command(name = "dishloop", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the main job (Pong `pursuit` on the default Pong culture).
    Run(cmd::run::Args),
    /// Simulate a culture with spontaneous background drive; write spikes and a raster.
    Simulate(cmd::simulate::Args),
    /// Benchmarks: throughput, realtime factors, and (with --peers) Brian2/NEST side by side.
    Bench(cmd::bench::Args),
    /// Analyse a spike file: bursts, avalanches, branching ratio, rates.
    Analyze(cmd::analyze::Args),
    /// Run a culture and write a readable science report against the literature.
    Science(cmd::science::Args),
    /// Serve a virtual CL1 over UDP (video or doom protocol).
    #[command(name = "serve-cl1")]
    ServeCl1(cmd::serve_cl1::Args),
    /// Closed-loop Pong (DishBrain).
    Pong(cmd::pong::Args),
    /// Several seeds x configs of Pong in parallel, ranked by learning improvement.
    #[command(name = "pong-sweep")]
    PongSweep(cmd::pong_sweep::Args),
    /// Terminal cockpit.
    Tui(cmd::tui::Args),
    /// Phosphene (visual prosthesis) simulator and closed loops.
    Phosphene(cmd::phosphene::Args),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli
        .command
        .unwrap_or(Command::Run(cmd::run::Args::default()))
    {
        Command::Run(a) => cmd::run::run(a),
        Command::Simulate(a) => cmd::simulate::run(a),
        Command::Bench(a) => cmd::bench::run(a),
        Command::Analyze(a) => cmd::analyze::run(a),
        Command::Science(a) => cmd::science::run(a),
        Command::ServeCl1(a) => cmd::serve_cl1::run(a),
        Command::Pong(a) => cmd::pong::run(a),
        Command::PongSweep(a) => cmd::pong_sweep::run(a),
        Command::Tui(a) => cmd::tui::run(a),
        Command::Phosphene(a) => cmd::phosphene::run(a),
    }
}
