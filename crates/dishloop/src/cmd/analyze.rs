//! `dishloop analyze`: read a spike file (the NPY + JSON set written by `simulate`, see
//! crates/dishloop-analysis/FORMAT.md, or a `time_ms,neuron` CSV), print a summary table with
//! verdicts against the literature (Wagenaar et al. 2006, Beggs & Plenz 2003) and, with
//! `--json`, the summary as one JSON object on the last stdout line.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use dishloop_analysis::SpikeTrains;
use dishloop_analysis::spikes::{CsvOptions, read_csv, read_spikes};
use dishloop_analysis::summary::{Summary, SummaryParams, Verdict, summarize};

/// Flags of this subcommand.
#[derive(clap::Args, Debug, Default)]
pub struct Args {
    /// Spikes: a stem (`out/spikes`), any of its files (`out/spikes.json`,
    /// `out/spikes_steps.npy`, `out/spikes_neurons.npy`), or a CSV of `time_ms,neuron`.
    #[arg(long)]
    pub spikes: PathBuf,
    /// Bin in ms for avalanches and branching ratios [default: the mean inter-event interval
    /// for avalanches (Beggs & Plenz 2003), 4 ms for branching ratios].
    #[arg(long)]
    pub bin_ms: Option<f64>,
    /// Also print the summary as one JSON object on the last line of stdout.
    #[arg(long)]
    pub json: bool,
    /// CSV only: step in ms to which spike times are quantised [default: 0.1].
    #[arg(long)]
    pub dt_ms: Option<f64>,
    /// CSV only: recording length in s [default: up to the last spike].
    #[arg(long)]
    pub duration_s: Option<f64>,
    /// Bootstrap repetitions for the power-law p-values (0 skips them) [default: 100].
    #[arg(long)]
    pub bootstrap: Option<usize>,
    /// Seed of the bootstrap [default: 42].
    #[arg(long)]
    pub seed: Option<u64>,
}

fn is_csv(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
}

fn load(args: &Args) -> anyhow::Result<SpikeTrains> {
    let path = &args.spikes;
    if path.as_os_str().is_empty() {
        bail!("--spikes PATH is required (a stem, one of its .npy/.json files, or a .csv)");
    }
    if is_csv(path) {
        let dt_ms = args.dt_ms.unwrap_or(0.1);
        if !(dt_ms.is_finite() && dt_ms > 0.0) {
            bail!("--dt-ms must be > 0, got {dt_ms}");
        }
        let n_steps = match args.duration_s {
            Some(d) if d.is_finite() && d > 0.0 => Some((d * 1000.0 / dt_ms).round() as u64),
            Some(d) => bail!("--duration-s must be > 0, got {d}"),
            None => None,
        };
        let opts = CsvOptions {
            dt_ms,
            n_neurons: None,
            n_steps,
        };
        read_csv(path, &opts).with_context(|| format!("reading CSV spikes {}", path.display()))
    } else {
        if args.dt_ms.is_some() || args.duration_s.is_some() {
            eprintln!(
                "note: --dt-ms and --duration-s apply to CSV input only; using the JSON header"
            );
        }
        Ok(read_spikes(path)
            .with_context(|| format!("reading spike files for {}", path.display()))?
            .trains)
    }
}

fn fmt(v: Option<f64>, digits: usize) -> String {
    match v {
        Some(x) => format!("{x:.digits$}"),
        None => "—".to_string(),
    }
}

fn mark(v: Verdict) -> &'static str {
    match v {
        Verdict::InRange => "✓ in range",
        Verdict::Below => "✗ below",
        Verdict::Above => "✗ above",
        Verdict::Undefined => "· undefined",
    }
}

fn label(metric: &str) -> &str {
    match metric {
        "bursts_per_min" => "network bursts",
        "mean_rate_hz" => "mean firing rate",
        "mean_ibi_s" => "inter-burst interval",
        "ibi_cv" => "IBI CV",
        "burst_duration_ms" => "burst duration",
        "recruitment" => "recruitment",
        "branching_ratio" => "branching ratio (MR)",
        "avalanche_size_exponent" => "avalanche size exponent",
        "avalanche_duration_exponent" => "avalanche duration exp.",
        other => other,
    }
}

fn print_table(name: &str, s: &Summary) {
    println!(
        "dishloop analyze: {name}\n  {} neurons, {:.1} s at {} ms steps, {} spikes\n",
        s.n_neurons, s.duration_s, s.dt_ms, s.n_spikes
    );
    println!(
        "  {:<26} {:>10}  {:<6} {:>15}  {:<26} verdict",
        "metric", "value", "unit", "range", "source"
    );
    for c in &s.checks {
        let digits = if c.metric == "bursts_per_min" || c.metric == "mean_ibi_s" {
            2
        } else {
            3
        };
        let source = if c.source.starts_with("Wagenaar") {
            "Wagenaar et al. 2006"
        } else {
            "Beggs & Plenz 2003"
        };
        println!(
            "  {:<26} {:>10}  {:<6} {:>15}  {:<26} {}",
            label(&c.metric),
            fmt(c.value, digits),
            c.unit,
            format!("{}–{}", c.lo, c.hi),
            source,
            mark(c.verdict)
        );
    }
    let (w_ok, w_def) = s.score("Wagenaar");
    let (b_ok, b_def) = s.score("Beggs");
    println!(
        "\n  matches living cortex?  Wagenaar 2006: {w_ok}/{w_def} in range   Beggs & Plenz 2003: {b_ok}/{b_def} in range"
    );
    println!("  (Wagenaar ranges are wide hand-set envelopes, as catalogued by BL-1)\n");
    println!("  more:");
    println!(
        "    bursts {}   spikes/burst {}   with a burstlet {}   spikes in bursts {}   (Wagenaar 2006 detector)",
        s.n_bursts,
        fmt(s.spikes_per_burst, 1),
        fmt(s.bursting_fraction.map(|f| 100.0 * f), 1) + " %",
        fmt(s.fraction_spikes_in_bursts.map(|f| 100.0 * f), 1) + " %"
    );
    println!(
        "    CV of ISI {}   Fano factor {} ({} ms windows)   (Poisson: 1, 1)",
        fmt(s.cv_isi, 3),
        fmt(s.fano, 3),
        s.fano_window_ms
    );
    println!(
        "    branching at {} ms: MR {}   Harris ratio of sums {}   naive mean of ratios {} (BL-1)",
        fmt(s.branching_bin_ms, 2),
        fmt(s.branching_ratio, 3),
        fmt(s.branching_ratio_harris, 3),
        fmt(s.branching_ratio_naive, 3)
    );
    println!(
        "    avalanches: {} at {} ms bins, threshold {}, {} of bins active",
        s.n_avalanches,
        fmt(s.avalanche_bin_ms, 2),
        s.avalanche_threshold,
        fmt(s.avalanche_fraction_active.map(|f| 100.0 * f), 1) + " %"
    );
    println!(
        "    size exponent {} (x_min {}, KS p {})   duration exponent {} (x_min {}, KS p {})   p <= 0.1 rejects a power law",
        fmt(s.avalanche_size_exponent, 3),
        s.avalanche_size_xmin.map_or("—".into(), |x| x.to_string()),
        fmt(s.avalanche_size_ks_p, 2),
        fmt(s.avalanche_duration_exponent, 3),
        s.avalanche_duration_xmin
            .map_or("—".into(), |x| x.to_string()),
        fmt(s.avalanche_duration_ks_p, 2),
    );
    for n in &s.notes {
        println!("  note: {n}");
    }
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<()> {
    if let Some(b) = args.bin_ms
        && !(b.is_finite() && b > 0.0)
    {
        bail!("--bin-ms must be > 0, got {b}");
    }
    let t0 = Instant::now();
    let trains = load(&args)?;
    let params = SummaryParams {
        bin_ms: args.bin_ms,
        n_bootstrap: args.bootstrap.unwrap_or(100),
        seed: args.seed.unwrap_or(42),
        ..Default::default()
    };
    let summary = summarize(&trains, &params);
    print_table(&args.spikes.display().to_string(), &summary);
    eprintln!("  analysed in {:.2} s", t0.elapsed().as_secs_f64());
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&summary).context("serialising the summary")?
        );
    }
    Ok(())
}
