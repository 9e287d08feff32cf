//! `dishloop simulate`: run a culture with its spontaneous background drive, write the spike
//! trains (NPY + JSON sidecar, see crates/dishloop-analysis/FORMAT.md) and a raster PNG, print
//! a summary.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use dishloop_analysis::spikes::{SpikeFileMeta, SpikeTrains, write_spikes};
use dishloop_culture::Culture;

use super::culture_args::CultureArgs;
use serde::Serialize;

/// Flags of `dishloop simulate`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Culture, duration, seed, threads, neuron cap.
    #[command(flatten)]
    pub culture: CultureArgs,
    /// Output directory for spikes and figures.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the summary as one JSON object on the last line.
    #[arg(long)]
    pub json: bool,
}

impl Default for Args {
    fn default() -> Self {
        Self {
            culture: CultureArgs::new("wagenaar_calibrated", Some(5.0)),
            out: Some(PathBuf::from("out/simulate")),
            json: false,
        }
    }
}

/// Summary of a run (the `--json` object).
#[derive(Serialize, Debug)]
pub struct Summary {
    /// Config name.
    pub config: String,
    /// Seed.
    pub seed: u64,
    /// Threads used.
    pub threads: usize,
    /// Neurons.
    pub n_neurons: usize,
    /// Synapses.
    pub n_synapses: usize,
    /// Simulated seconds.
    pub duration_s: f64,
    /// Spikes.
    pub n_spikes: u64,
    /// Mean rate per neuron (Hz).
    pub mean_rate_hz: f64,
    /// Network bursts per minute (Wagenaar 2006 detector).
    pub bursts_per_min: f64,
    /// Culture build time (s).
    pub build_s: f64,
    /// Simulation wall time (s).
    pub wall_s: f64,
    /// Simulated seconds per wall second.
    pub realtime_factor: f64,
    /// Synaptic events per wall second.
    pub synaptic_events_per_s: f64,
    /// Output directory, if any.
    pub out: Option<String>,
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    args.culture.in_pool(|threads| simulate(&args, threads))
}

fn simulate(args: &Args, threads: usize) -> Result<()> {
    let (cfg, duration_s) = args.culture.load()?;
    if !(duration_s.is_finite() && duration_s > 0.0 && duration_s <= 1e6) {
        bail!("--duration-s = {duration_s} is out of range (0 < s <= 1e6)");
    }
    let t0 = Instant::now();
    let culture = Culture::build(&cfg, args.culture.seed).context("building the culture")?;
    let (n, n_syn, n_exc) = (culture.n(), culture.n_synapses(), culture.n_exc);
    let mut net = culture.into_network()?;
    let build_s = t0.elapsed().as_secs_f64();
    let dt = cfg.simulation.dt_ms;
    let steps = (duration_s * 1000.0 / dt).round() as u64;
    if steps > u32::MAX as u64 {
        bail!(
            "--duration-s = {duration_s} needs {steps} steps, more than the spike format's u32 step index"
        );
    }
    let bar = progress(steps, args.json);
    let (mut st, mut ni) = (Vec::new(), Vec::new());
    let t1 = Instant::now();
    let tick = (steps / 200).max(1);
    net.run(steps, |t, s| {
        st.extend(std::iter::repeat_n(t as u32, s.len()));
        ni.extend_from_slice(s);
        if t % tick == 0
            && let Some(b) = &bar
        {
            b.set_position(t);
        }
    });
    let wall_s = t1.elapsed().as_secs_f64();
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let trains = SpikeTrains::new(n as u32, dt, steps, st, ni).context("collecting spikes")?;
    let bursts = dishloop_analysis::bursts::wagenaar_bursts(&trains, &Default::default());
    let bursts_per_min = bursts.stats.bursts_per_min;
    let summary = Summary {
        config: cfg.name.clone(),
        seed: args.culture.seed,
        threads,
        n_neurons: n,
        n_synapses: n_syn,
        duration_s,
        n_spikes: net.total_spikes(),
        mean_rate_hz: net.total_spikes() as f64 / n as f64 / duration_s,
        bursts_per_min,
        build_s,
        wall_s,
        realtime_factor: duration_s / wall_s,
        synaptic_events_per_s: net.synaptic_events() as f64 / wall_s,
        out: args.out.as_ref().map(|p| p.display().to_string()),
    };
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut meta = SpikeFileMeta {
            n_exc: Some(n_exc as u32),
            ..Default::default()
        };
        meta.metadata
            .insert("config".into(), cfg.name.clone().into());
        meta.metadata
            .insert("seed".into(), args.culture.seed.into());
        meta.metadata.insert(
            "generator".into(),
            format!("dishloop {}", env!("CARGO_PKG_VERSION")).into(),
        );
        write_spikes(&dir.join("spikes"), &trains, &meta).context("writing spikes")?;
        let shown = steps.min((10_000.0 / dt) as u64); // raster of the first 10 s at most
        let k = trains.steps.partition_point(|&s| (s as u64) < shown);
        dishloop_plot::raster(
            &dir.join("raster.png"),
            &format!("{} — seed {} — {} neurons", cfg.name, args.culture.seed, n),
            &trains.steps[..k],
            &trains.neurons[..k],
            dt,
            n as u32,
            n_exc as u32,
            shown as f64 * dt,
        )
        .context("drawing the raster")?;
    }
    println!(
        "dishloop simulate — {} (seed {}, {} thread(s))",
        cfg.name, args.culture.seed, threads
    );
    println!(
        "  neurons {:>10}   synapses {:>12} ({:.1} per neuron)",
        n,
        n_syn,
        n_syn as f64 / n as f64
    );
    println!(
        "  simulated {:>8.2} s   spikes {:>14}   mean rate {:.2} Hz",
        duration_s, summary.n_spikes, summary.mean_rate_hz
    );
    println!("  network bursts {:.1} /min", bursts_per_min);
    println!(
        "  build {:.2} s   run {:.2} s   realtime factor {:.2}x   {:.3e} synaptic events/s",
        build_s, wall_s, summary.realtime_factor, summary.synaptic_events_per_s
    );
    if let Some(dir) = &args.out {
        println!(
            "  wrote {0}/spikes_steps.npy, {0}/spikes_neurons.npy, {0}/spikes.json, {0}/raster.png",
            dir.display()
        );
    }
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    }
    Ok(())
}

/// A progress bar on stderr when it is a terminal and JSON is not requested.
pub fn progress(len: u64, quiet: bool) -> Option<indicatif::ProgressBar> {
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let b = indicatif::ProgressBar::new(len);
    b.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {wide_bar} {percent}% ETA {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(b)
}
