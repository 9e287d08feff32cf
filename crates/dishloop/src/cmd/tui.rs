//! `dishloop tui`: the terminal cockpit (Dashboard, Simulate, Train, Science, Results).
//! `--headless` prints the Dashboard / Science content of one preview run instead.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use dishloop_tui::preview::{DEFAULT_DURATION_MS, DEFAULT_NEURON_CAP, PreviewParams};
use dishloop_tui::train::{SPEEDS, TrainSetup};
use dishloop_tui::{AppOptions, View};

/// Flags of `dishloop tui`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print the Dashboard and Science content of one preview run as text (no terminal needed).
    #[arg(long)]
    pub headless: bool,
    /// With --headless: print one JSON object as the last line.
    #[arg(long)]
    pub json: bool,
    /// Config selected at start: embedded name (wagenaar_calibrated, default, dishbrain_pong, …) or YAML path.
    #[arg(long, default_value = "wagenaar_calibrated")]
    pub config: String,
    /// Folder with extra *.yaml configs listed in Simulate.
    #[arg(long, default_value = "configs")]
    pub configs: PathBuf,
    /// Neuron cap of previews (density kept).
    #[arg(long, default_value_t = DEFAULT_NEURON_CAP)]
    pub neurons: usize,
    /// Preview duration in seconds.
    #[arg(long, default_value_t = DEFAULT_DURATION_MS / 1000.0)]
    pub duration_s: f64,
    /// Seed of previews and training.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// View shown first (dashboard, simulate, train, science, results).
    #[arg(long, default_value = "dashboard")]
    pub view: String,
    /// Pong agent at start (pursuit, reservoir, rstdp, reflex, static, random).
    #[arg(long, default_value = "pursuit")]
    pub agent: String,
    /// Start training immediately.
    #[arg(long)]
    pub train: bool,
    /// Training speed at start: frames per UI tick, or "max".
    #[arg(long)]
    pub speed: Option<String>,
    /// Where `e` writes the session CSV.
    #[arg(long, default_value = "results/session_runs.csv")]
    pub results: PathBuf,
    /// Brain file of `w` / `o`.
    #[arg(long, default_value = "brains/pong_brain.yaml")]
    pub brain: PathBuf,
    /// Benchmark: train at full speed for this many seconds, alternating 1 s blocks with and
    /// without drawing, then print UI fps and both training speeds to stderr (with --headless:
    /// training speed without a UI, to stdout).
    #[arg(long)]
    pub bench_s: Option<f64>,
}

impl Default for Args {
    fn default() -> Self {
        Self {
            headless: false,
            json: false,
            config: "wagenaar_calibrated".into(),
            configs: PathBuf::from("configs"),
            neurons: DEFAULT_NEURON_CAP,
            duration_s: DEFAULT_DURATION_MS / 1000.0,
            seed: 1,
            view: "dashboard".into(),
            agent: "pursuit".into(),
            train: false,
            speed: None,
            results: PathBuf::from("results/session_runs.csv"),
            brain: PathBuf::from("brains/pong_brain.yaml"),
            bench_s: None,
        }
    }
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    let params = PreviewParams {
        neuron_cap: args.neurons,
        duration_ms: args.duration_s * 1000.0,
        seed: args.seed,
    };
    params.validate()?;
    let agent = args.agent.parse().map_err(anyhow::Error::msg)?;
    let setup = TrainSetup {
        agent,
        seed: args.seed,
        ..Default::default()
    };
    let speed = match args.speed.as_deref() {
        None => None,
        Some("max") => Some(SPEEDS.len() - 1),
        Some(s) => {
            let n: u64 = s
                .parse()
                .with_context(|| format!("--speed {s}: a number of frames or `max`"))?;
            Some(
                SPEEDS
                    .iter()
                    .position(|v| v.is_some_and(|v| v >= n))
                    .unwrap_or(SPEEDS.len() - 1),
            )
        }
    };
    let configs_dir = args.configs.is_dir().then(|| args.configs.clone());
    if args.headless {
        if let Some(secs) = args.bench_s {
            let (frames, wall) = dishloop_tui::headless::train_speed(&setup, secs)?;
            println!(
                "headless training: {} · {frames} frames in {wall:.2} s = {:.0} frames/s",
                setup.label(),
                frames as f64 / wall
            );
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({"mode": "headless", "agent": setup.agent.name(), "frames": frames,
                        "seconds": wall, "frames_per_s": frames as f64 / wall})
                );
            }
            return Ok(());
        }
        let p =
            dishloop_tui::headless::headless_preview(&args.config, configs_dir.as_deref(), params)?;
        print!("{}", dishloop_tui::headless::text(&p));
        if args.json {
            println!(
                "{}",
                serde_json::to_string(&dishloop_tui::headless::report(&p))?
            );
        }
        return Ok(());
    }
    if !std::io::stdout().is_terminal() {
        bail!("stdout is not a terminal: use `dishloop tui --headless` for text output");
    }
    let view =
        View::parse(&args.view).with_context(|| format!("--view {}: unknown view", args.view))?;
    let opts = AppOptions {
        configs_dir,
        config: Some(args.config.clone()),
        params,
        results_csv: args.results,
        brain_path: args.brain,
        train: setup,
        start_view: view,
        autostart_training: args.train,
        speed,
        ..Default::default()
    };
    if let Some(secs) = args.bench_s {
        let b = dishloop_tui::terminal::bench(opts, secs)?;
        eprintln!(
            "ui: {} frames in {:.2} s = {:.1} fps ({:.2} ms per draw) · training with UI {:.0} frames/s, without drawing {:.0} frames/s (interleaved 1 s blocks) = {:.1} %",
            b.ui.frames,
            b.ui.seconds,
            b.ui.fps(),
            b.ui.draw_ms(),
            b.ui.train_frames_per_s(),
            b.headless_frames_per_s(),
            100.0 * b.ratio()
        );
        if args.json {
            eprintln!(
                "{}",
                serde_json::json!({"mode": "ui", "frames": b.ui.frames, "seconds": b.ui.seconds, "fps": b.ui.fps(), "draw_ms": b.ui.draw_ms(),
                    "train_frames": b.ui.train_frames, "frames_per_s": b.ui.train_frames_per_s(),
                    "headless_frames_per_s": b.headless_frames_per_s(), "ratio": b.ratio()})
            );
        }
        return Ok(());
    }
    dishloop_tui::terminal::run(opts, None)?;
    Ok(())
}
