//! `dishloop science`: run a culture under the virtual CL1 MEA and write a readable report
//! (Markdown + PNG figures) that says, metric by metric, whether it behaves like living cortical
//! cultures: spontaneous bursting against Wagenaar, Pine & Potter 2006, avalanches and
//! branching ratio on the electrode-level spikes against Beggs & Plenz 2003, the evoked
//! response to a stimulation pulse, and optionally the five drug presets. With `--json` the
//! last stdout line is one JSON object with the headline metrics.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use dishloop_analysis::SpikeTrains;
use dishloop_analysis::bursts::BurstStats;
use dishloop_analysis::criticality::{AvalancheParams, AvalancheThreshold, avalanches};
use dishloop_analysis::summary::{Summary, SummaryParams, Verdict, summarize};
use dishloop_culture::{Culture, CultureConfig, Drug};
use dishloop_mea::{BurstDesign, Layout, Mea, MeaConfig, StimDesign};
use dishloop_plot::{RasterOptions, Series};
use serde::Serialize;

use super::culture_args::CultureArgs;
use super::simulate::progress;

/// Flags of `dishloop science`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Culture, spontaneous duration, seed, threads, neuron cap.
    #[command(flatten)]
    pub culture: CultureArgs,
    /// Output directory for report.md and the figures.
    #[arg(long, default_value = "out/science")]
    pub out: PathBuf,
    /// Apply this drug (ttx, cnqx, apv, bicuculline, carbamazepine) from the start.
    #[arg(long)]
    pub drug: Option<String>,
    /// Also run every drug preset on a fresh copy of the culture and compare with the baseline.
    #[arg(long)]
    pub drugs: bool,
    /// Length of each drug run, s.
    #[arg(long, default_value_t = 20.0)]
    pub drug_duration_s: f64,
    /// Stimulation trials after the spontaneous recording (0 skips the evoked-response probe).
    #[arg(long, default_value_t = 30)]
    pub evoked_trials: u32,
    /// Stimulation current of the probe pulse, µA (cathodic-first biphasic, 200 µs phases).
    #[arg(long, default_value_t = 2.0)]
    pub evoked_ua: f32,
    /// Bootstrap repetitions for the avalanche power-law p-values (0 skips them).
    #[arg(long, default_value_t = 50)]
    pub bootstrap: usize,
    /// Print the headline metrics as one JSON object on the last line.
    #[arg(long)]
    pub json: bool,
}

impl Default for Args {
    fn default() -> Self {
        Self {
            culture: CultureArgs::new("wagenaar_calibrated", None),
            out: PathBuf::from("out/science"),
            drug: None,
            drugs: false,
            drug_duration_s: 20.0,
            evoked_trials: 30,
            evoked_ua: 2.0,
            bootstrap: 50,
            json: false,
        }
    }
}

/// The `--json` object.
#[derive(Serialize, Debug)]
pub struct ScienceJson {
    /// Config name.
    pub config: String,
    /// Seed.
    pub seed: u64,
    /// Neurons.
    pub n_neurons: usize,
    /// Spontaneous recording, s.
    pub duration_s: f64,
    /// Drug applied from the start, if any.
    pub drug: Option<String>,
    /// Mean firing rate per neuron, Hz.
    pub mean_rate_hz: Option<f64>,
    /// Network bursts per minute (Wagenaar 2006 detector on the neurons).
    pub bursts_per_min: Option<f64>,
    /// Mean inter-burst interval, s.
    pub mean_ibi_s: Option<f64>,
    /// CV of the inter-burst intervals.
    pub ibi_cv: Option<f64>,
    /// Mean burst duration, ms.
    pub burst_duration_ms: Option<f64>,
    /// Mean fraction of neurons recruited per burst.
    pub recruitment: Option<f64>,
    /// Fraction of spikes inside bursts.
    pub fraction_spikes_in_bursts: Option<f64>,
    /// Branching ratio (multiple regression, 4 ms bins) of the electrode-level spikes.
    pub branching_ratio: Option<f64>,
    /// Avalanche size exponent of the electrode-level spikes (positive: P(s) ~ s^-alpha).
    pub avalanche_size_exponent: Option<f64>,
    /// KS p-value of the size power law (p ≤ 0.1 rejects it).
    pub avalanche_size_ks_p: Option<f64>,
    /// Avalanche duration exponent of the electrode-level spikes.
    pub avalanche_duration_exponent: Option<f64>,
    /// Shew et al. 2009 κ of the electrode-level avalanche sizes (≈ 1 critical).
    pub avalanche_kappa: Option<f64>,
    /// Mean spike rate per recording electrode, Hz.
    pub electrode_rate_hz: f64,
    /// Network bursts per minute detected on the 59 electrodes (Wagenaar's own setting).
    pub mea_bursts_per_min: Option<f64>,
    /// Probability that the stimulated electrode records a spike within 5 ms of a pulse.
    pub evoked_p_stimulated: Option<f64>,
    /// Same within 200 µm (the 4 nearest electrodes).
    pub evoked_p_neighbours: Option<f64>,
    /// Same at ≥ 600 µm.
    pub evoked_p_far: Option<f64>,
    /// Spontaneous spike probability in a 5 ms window on the stimulated electrode.
    pub baseline_p_stimulated: Option<f64>,
    /// Metrics in their literature range / metrics defined.
    pub in_range: usize,
    /// Metrics with a value.
    pub defined: usize,
    /// Drug comparisons: name, burst rate and firing rate relative to baseline, verdict.
    pub drugs: Vec<DrugResult>,
    /// The undrugged run the drugs are compared with (same seed and window).
    pub drug_control: Option<DrugResult>,
    /// Simulated seconds per wall second of the spontaneous run.
    pub realtime_factor: f64,
    /// Report path.
    pub report: String,
}

/// One drug run compared with the baseline.
#[derive(Serialize, Debug, Clone)]
pub struct DrugResult {
    /// Drug name.
    pub drug: String,
    /// Firing rate, Hz.
    pub mean_rate_hz: f64,
    /// Bursts per minute.
    pub bursts_per_min: f64,
    /// Spikes per burst (NaN without bursts).
    pub spikes_per_burst: f64,
    /// Published direction.
    pub expected: String,
    /// Whether the change has the published direction.
    pub matches: bool,
}

/// Runs the subcommand.
pub fn run(args: Args) -> Result<()> {
    args.culture.in_pool(|_| science(&args))
}

/// What one run of a culture under the MEA produced.
struct RunOut {
    net: dishloop_core::Network,
    mea: Mea,
    steps: u64,
    wall_s: f64,
}

fn build(
    cfg: &CultureConfig,
    seed: u64,
    drug: Option<Drug>,
) -> Result<(dishloop_core::Network, Mea)> {
    let mut net = Culture::network(cfg, seed).context("building the culture")?;
    if let Some(d) = drug {
        d.apply(&mut net);
    }
    let layout = Layout::cl1([0.0, 0.0]).centered_on_substrate(cfg.culture.substrate_um);
    let mea = Mea::new(
        layout,
        &net,
        MeaConfig {
            seed,
            ..Default::default()
        },
    )
    .context("attaching the MEA")?;
    Ok((net, mea))
}

fn run_spontaneous(
    cfg: &CultureConfig,
    seed: u64,
    drug: Option<Drug>,
    secs: f64,
    quiet: bool,
) -> Result<RunOut> {
    let (mut net, mut mea) = build(cfg, seed, drug)?;
    let steps = (secs * 1000.0 / cfg.simulation.dt_ms).round() as u64;
    let bar = progress(steps, quiet);
    let tick = (steps / 200).max(1);
    let t = Instant::now();
    mea.run(&mut net, steps, |k, _| {
        if k % tick == 0
            && let Some(b) = &bar
        {
            b.set_position(k);
        }
    });
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    Ok(RunOut {
        net,
        mea,
        steps,
        wall_s: t.elapsed().as_secs_f64(),
    })
}

fn neuron_trains(r: &RunOut, dt_ms: f64) -> Result<SpikeTrains> {
    let rec = r.mea.recording();
    let k = rec.steps.partition_point(|&s| (s as u64) < r.steps);
    SpikeTrains::new(
        r.net.n() as u32,
        dt_ms,
        r.steps,
        rec.steps[..k].to_vec(),
        rec.neurons[..k].to_vec(),
    )
    .context("collecting neuron spikes")
}

/// Spikes fired inside network bursts per minute of recording.
fn burst_spikes_per_min(st: &BurstStats, secs: f64) -> f64 {
    if secs <= 0.0 || st.n_bursts == 0 {
        return 0.0;
    }
    st.mean_spikes_per_burst.max(0.0) * st.n_bursts as f64 * 60.0 / secs
}

fn electrode_trains(r: &RunOut, dt_ms: f64) -> Result<SpikeTrains> {
    let pairs: Vec<(u32, u32)> = r
        .mea
        .recording()
        .electrode_pairs()
        .into_iter()
        .filter(|&(s, _)| (s as u64) < r.steps)
        .collect();
    SpikeTrains::from_unsorted(r.mea.layout().len() as u32, dt_ms, r.steps, pairs)
        .context("collecting electrode spikes")
}

/// One electrode's response to the probe pulses.
#[derive(Debug, Clone, Copy)]
struct Response {
    electrode: u32,
    /// Distance to the stimulated electrode, µm.
    distance_um: f32,
    /// P(spike within 5 ms after a pulse).
    p_evoked: f64,
    /// P(spike in a 5 ms window 40–35 ms before a pulse).
    p_baseline: f64,
    /// Median first-spike latency over responding trials, ms.
    median_latency_ms: Option<f64>,
}

/// Evoked-response probe results.
struct Evoked {
    design: String,
    channel: u32,
    trials: usize,
    /// Per recording electrode.
    per_electrode: Vec<Response>,
    /// PSTH per distance group: label, points (ms, spikes per electrode per trial per ms).
    psth: Vec<(String, Vec<(f64, f64)>)>,
    /// First pulse onset step (for the raw-trace figure).
    first_onset_step: u64,
}

fn evoked_probe(r: &mut RunOut, trials: u32, amp_ua: f32) -> Result<Evoked> {
    let ch = 27u32; // column 3, row 3, next to the centre of the array
    let design =
        StimDesign::cathodic_first(200, amp_ua).context("probe pulse outside the CL1 envelope")?;
    let dt_ms = r.mea.dt_ms() as f64;
    let period = (500.0 / dt_ms) as u64;
    let mut onsets = Vec::new();
    let mut onsets_us = Vec::new();
    for _ in 0..trials {
        let start_us = r.mea.stim(&[ch], design, BurstDesign::single())?;
        onsets.push(start_us / (dt_ms * 1000.0) as u64);
        onsets_us.push(start_us as f64);
        r.mea.run(&mut r.net, period, |_, _| {});
    }
    let layout = r.mea.layout().clone();
    let rec = r.mea.recording();
    let win = (5.0 / dt_ms) as i64;
    let mut per = Vec::new();
    for e in layout.recording() {
        let d = layout
            .distance_um(e as usize, ch as usize)
            .unwrap_or(f32::NAN);
        let (mut hit, mut base) = (0usize, 0usize);
        let mut lats = Vec::new();
        for (&o, &o_us) in onsets.iter().zip(&onsets_us) {
            let o = o as i64;
            let resp = rec.electrode_range(o as u64, (o + win) as u64);
            let first = resp.clone().find(|&i| rec.e_electrodes[i] == e);
            if let Some(i) = first {
                hit += 1;
                // Sub-step spike time; a spike in the pulse's own step counts from the pulse.
                let t = rec.spike_time_us(rec.e_steps[i], rec.e_neurons[i]);
                lats.push(((t - o_us) / 1000.0).max(0.0));
            }
            let pre = rec.electrode_range((o - 8 * win).max(0) as u64, (o - 7 * win).max(0) as u64);
            if rec.e_electrodes[pre].contains(&e) {
                base += 1;
            }
        }
        lats.sort_by(f64::total_cmp);
        let med = (!lats.is_empty()).then(|| lats[lats.len() / 2]);
        let n = onsets.len().max(1) as f64;
        per.push(Response {
            electrode: e,
            distance_um: d,
            p_evoked: hit as f64 / n,
            p_baseline: base as f64 / n,
            median_latency_ms: med,
        });
    }
    // PSTH in 1 ms bins from −20 to +50 ms by distance group.
    let groups: [(&str, f32, f32); 4] = [
        ("stimulated electrode", -1.0, 1.0),
        ("200–290 µm", 150.0, 300.0),
        ("400–450 µm", 350.0, 460.0),
        ("≥ 600 µm", 590.0, 1e9),
    ];
    let bin = (1.0 / dt_ms) as i64;
    let mut psth = Vec::new();
    for (label, lo, hi) in groups {
        let members: Vec<u32> = per
            .iter()
            .filter(|p| p.distance_um > lo && p.distance_um <= hi)
            .map(|p| p.electrode)
            .collect();
        if members.is_empty() {
            continue;
        }
        let mut pts = Vec::new();
        for b in -20i64..50 {
            let mut c = 0usize;
            for &o in &onsets {
                let a = (o as i64 + b * bin).max(0) as u64;
                let z = (o as i64 + (b + 1) * bin).max(0) as u64;
                c += rec.e_electrodes[rec.electrode_range(a, z)]
                    .iter()
                    .filter(|e| members.contains(e))
                    .count();
            }
            pts.push((
                b as f64,
                c as f64 / (members.len() * onsets.len()).max(1) as f64,
            ));
        }
        psth.push((label.to_string(), pts));
    }
    Ok(Evoked {
        design: format!("cathodic-first biphasic, 200 µs + 200 µs at {amp_ua} µA"),
        channel: ch,
        trials: onsets.len(),
        per_electrode: per,
        psth,
        first_onset_step: onsets.first().copied().unwrap_or(0),
    })
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:.digits$}"),
        _ => "—".into(),
    }
}

/// A plain-language verdict for one check.
fn verdict_words(v: Verdict) -> &'static str {
    match v {
        Verdict::InRange => "**yes** — within the range living cultures show",
        Verdict::Below => "**no** — lower than living cultures",
        Verdict::Above => "**no** — higher than living cultures",
        Verdict::Undefined => "undefined for this recording",
    }
}

fn science(args: &Args) -> Result<()> {
    let (cfg, secs) = args.culture.load()?;
    if !(secs.is_finite() && (1.0..=1e5).contains(&secs)) {
        bail!("--duration-s = {secs} is out of range (1 <= s <= 1e5)");
    }
    if !(args.drug_duration_s.is_finite()
        && args.drug_duration_s >= 1.0
        && args.drug_duration_s <= 1e4)
    {
        bail!(
            "--drug-duration-s = {} is out of range (1 <= s <= 1e4)",
            args.drug_duration_s
        );
    }
    let drug = match &args.drug {
        Some(name) => Some(Drug::parse(name).with_context(|| {
            format!("unknown drug `{name}` (ttx, cnqx, apv, bicuculline, carbamazepine)")
        })?),
        None => None,
    };
    let dt = cfg.simulation.dt_ms;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let quiet = args.json;
    if !quiet {
        eprintln!(
            "dishloop science: {} (seed {}), {secs} s of spontaneous activity…",
            cfg.name, args.culture.seed
        );
    }
    let mut r = run_spontaneous(&cfg, args.culture.seed, drug, secs, quiet)?;
    let neur = neuron_trains(&r, dt)?;
    let el = electrode_trains(&r, dt)?;
    let n = r.net.n();
    let n_exc = r.net.n_exc();

    // Neuron-level summary (rates, bursts) and electrode-level summary (avalanches and branching
    // ratio as Beggs & Plenz measured them: on what the electrodes see).
    let neuron_sum = summarize(
        &neur,
        &SummaryParams {
            n_bootstrap: 0,
            ..Default::default()
        },
    );
    let el_sum = summarize(
        &el,
        &SummaryParams {
            n_bootstrap: args.bootstrap,
            seed: args.culture.seed,
            ..Default::default()
        },
    );
    let n_rec = r.mea.layout().recording().len().max(1);
    let electrode_rate_hz = el.n_spikes() as f64 / n_rec as f64 / neur.duration_s();

    let evoked = if args.evoked_trials > 0 {
        if !quiet {
            eprintln!("  evoked-response probe: {} pulses…", args.evoked_trials);
        }
        Some(evoked_probe(&mut r, args.evoked_trials, args.evoked_ua)?)
    } else {
        None
    };

    let mut drug_results = Vec::new();
    let mut control: Option<DrugResult> = None;
    if args.drugs {
        // One window of `drug_duration_s` with or without a drug: (rate Hz, burst statistics,
        // spikes fired in bursts per minute).
        let window = |drug: Option<Drug>| -> Result<(f64, BurstStats, f64)> {
            if !quiet {
                let name = drug.map_or("vehicle control", |d| d.name());
                eprintln!("  {name}: {} s…", args.drug_duration_s);
            }
            let run = run_spontaneous(&cfg, args.culture.seed, drug, args.drug_duration_s, true)?;
            let t = neuron_trains(&run, dt)?;
            let b = dishloop_analysis::bursts::wagenaar_bursts(&t, &Default::default());
            let rate = t.n_spikes() as f64 / n as f64 / t.duration_s();
            let bspm = burst_spikes_per_min(&b.stats, t.duration_s());
            Ok((rate, b.stats, bspm))
        };
        // Vehicle control: the same culture, seed and window length without a drug, so that
        // every drug run is compared with an undrugged run that starts from the same state
        // (a fresh culture's first burst comes early; comparing a 20 s drug window with the
        // long spontaneous run would mix that start-up into the effect).
        let (base_rate, base, base_bspm) = window(None)?;
        control = Some(DrugResult {
            drug: "control".into(),
            mean_rate_hz: base_rate,
            bursts_per_min: base.bursts_per_min,
            spikes_per_burst: base.mean_spikes_per_burst,
            expected: "vehicle control (no drug), same window".into(),
            matches: true,
        });
        for d in Drug::ALL {
            let (rate, st, bspm) = window(Some(d))?;
            let (bpm, spb) = (st.bursts_per_min, st.mean_spikes_per_burst);
            let matches = match d {
                Drug::Ttx => rate == 0.0,
                // Bursting abolished or strongly reduced: at most a quarter of the control's
                // bursts, or of its spikes fired in bursts per minute (residual NMDA events
                // that recruit ~1 % of the cells are not network bursts).
                Drug::Cnqx => bpm <= 0.25 * base.bursts_per_min || bspm <= 0.25 * base_bspm,
                Drug::Apv => {
                    bpm <= base.bursts_per_min
                        || st.mean_duration_ms < base.mean_duration_ms
                        || base.mean_duration_ms.is_nan()
                }
                Drug::Bicuculline => {
                    bpm >= base.bursts_per_min
                        && (spb > base.mean_spikes_per_burst || base.mean_spikes_per_burst.is_nan())
                        && rate > base_rate
                }
                Drug::Carbamazepine => rate < base_rate && bpm <= base.bursts_per_min,
            };
            drug_results.push(DrugResult {
                drug: d.name().into(),
                mean_rate_hz: rate,
                bursts_per_min: bpm,
                spikes_per_burst: spb,
                expected: d.expected_effect().into(),
                matches,
            });
        }
    }

    // Checks: bursts and rates from the neurons (as the calibration), criticality from the
    // electrodes.
    let mut checks = Vec::new();
    for c in &neuron_sum.checks {
        let electrode_metric =
            c.metric.starts_with("branching") || c.metric.starts_with("avalanche");
        let duplicate_rate = c.metric == "mean_rate_hz" && c.source.contains("Beggs");
        if !(electrode_metric || duplicate_rate) {
            checks.push(c.clone());
        }
    }
    for c in &el_sum.checks {
        if c.metric.starts_with("branching") || c.metric.starts_with("avalanche") {
            checks.push(c.clone());
        }
    }
    let defined = checks
        .iter()
        .filter(|c| c.verdict != Verdict::Undefined)
        .count();
    let in_range = checks
        .iter()
        .filter(|c| c.verdict == Verdict::InRange)
        .count();

    let figures = draw_figures(
        args,
        &cfg,
        &r,
        &neur,
        &el,
        &el_sum,
        evoked.as_ref(),
        n as u32,
        n_exc as u32,
    )?;

    let report_path = args.out.join("report.md");
    let md = report(
        args,
        &cfg,
        &r,
        secs,
        drug,
        &neuron_sum,
        &el_sum,
        &checks,
        electrode_rate_hz,
        evoked.as_ref(),
        &control
            .iter()
            .chain(drug_results.iter())
            .cloned()
            .collect::<Vec<_>>(),
        &figures,
    );
    std::fs::write(&report_path, md)
        .with_context(|| format!("writing {}", report_path.display()))?;

    let ev = |f: &dyn Fn(&Response) -> bool| -> Option<f64> {
        let e = evoked.as_ref()?;
        let v: Vec<f64> = e
            .per_electrode
            .iter()
            .filter(|p| f(p))
            .map(|p| p.p_evoked)
            .collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    };
    let json = ScienceJson {
        config: cfg.name.clone(),
        seed: args.culture.seed,
        n_neurons: n,
        duration_s: secs,
        drug: drug.map(|d| d.name().to_string()),
        mean_rate_hz: neuron_sum.mean_rate_hz,
        bursts_per_min: neuron_sum.bursts_per_min,
        mean_ibi_s: neuron_sum.mean_ibi_s,
        ibi_cv: neuron_sum.ibi_cv,
        burst_duration_ms: neuron_sum.burst_duration_ms,
        recruitment: neuron_sum.recruitment,
        fraction_spikes_in_bursts: neuron_sum.fraction_spikes_in_bursts,
        branching_ratio: el_sum.branching_ratio,
        avalanche_size_exponent: el_sum.avalanche_size_exponent,
        avalanche_size_ks_p: el_sum.avalanche_size_ks_p,
        avalanche_duration_exponent: el_sum.avalanche_duration_exponent,
        avalanche_kappa: el_sum.avalanche_kappa,
        electrode_rate_hz,
        mea_bursts_per_min: el_sum.bursts_per_min,
        evoked_p_stimulated: ev(&|p| p.distance_um < 1.0),
        evoked_p_neighbours: ev(&|p| p.distance_um > 1.0 && p.distance_um <= 201.0),
        evoked_p_far: ev(&|p| p.distance_um >= 600.0),
        baseline_p_stimulated: evoked.as_ref().and_then(|e| {
            e.per_electrode
                .iter()
                .find(|p| p.distance_um < 1.0)
                .map(|p| p.p_baseline)
        }),
        in_range,
        defined,
        drugs: drug_results,
        drug_control: control,
        realtime_factor: secs / r.wall_s.max(1e-9),
        report: report_path.display().to_string(),
    };
    println!(
        "dishloop science — {} (seed {}, {} neurons, {secs} s)",
        cfg.name, args.culture.seed, n
    );
    for c in &checks {
        println!(
            "  {:<28} {:>10}   [{} – {}]   {}",
            c.metric,
            fmt_opt(c.value, 3),
            c.lo,
            c.hi,
            match c.verdict {
                Verdict::InRange => "matches",
                Verdict::Below => "below",
                Verdict::Above => "above",
                Verdict::Undefined => "undefined",
            }
        );
    }
    println!(
        "  {in_range}/{defined} metrics within the literature ranges; report: {}",
        report_path.display()
    );
    if args.json {
        println!("{}", serde_json::to_string(&json)?);
    }
    Ok(())
}

/// Paths of the figures, relative to the output directory.
struct Figures {
    list: Vec<(String, String)>,
}

#[allow(clippy::too_many_arguments)]
fn draw_figures(
    args: &Args,
    cfg: &CultureConfig,
    r: &RunOut,
    neur: &SpikeTrains,
    el: &SpikeTrains,
    el_sum: &Summary,
    evoked: Option<&Evoked>,
    n: u32,
    n_exc: u32,
) -> Result<Figures> {
    let dir = &args.out;
    let dt = neur.dt_ms;
    let mut list = Vec::new();
    let mut add = |file: &str, caption: &str| list.push((file.to_string(), caption.to_string()));
    let title = format!("{} — seed {} — {} neurons", cfg.name, args.culture.seed, n);

    // Raster of the first 30 s (neurons) and of the electrodes.
    let shown = neur.n_steps.min((30_000.0 / dt) as u64);
    let k = neur.steps.partition_point(|&s| (s as u64) < shown);
    dishloop_plot::raster_with(
        &dir.join("raster.png"),
        &title,
        &neur.steps[..k],
        &neur.neurons[..k],
        dt,
        n,
        n_exc,
        shown as f64 * dt,
        &RasterOptions::default(),
    )
    .context("drawing the raster")?;
    add(
        "raster.png",
        "Spike raster (400 neurons shown, blue excitatory, red inhibitory) and population rate, first 30 s.",
    );
    let ke = el.steps.partition_point(|&s| (s as u64) < shown);
    dishloop_plot::raster_with(
        &dir.join("raster_electrodes.png"),
        &format!("{title} — what the 64 electrodes see"),
        &el.steps[..ke],
        &el.neurons[..ke],
        dt,
        el.n_neurons,
        el.n_neurons,
        shown as f64 * dt,
        &RasterOptions {
            max_neurons: 64,
            ..Default::default()
        },
    )
    .context("drawing the electrode raster")?;
    add(
        "raster_electrodes.png",
        "Electrode-level raster: spikes detected on each CL1 channel (rows 0–63), first 30 s.",
    );

    // Population rate, 50 ms bins.
    let bin_ms = 50.0;
    let counts = neur.population_counts(bin_ms).context("binning")?;
    let pts: Vec<(f64, f64)> = counts
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            (
                i as f64 * bin_ms / 1000.0,
                c as f64 / n as f64 / (bin_ms / 1000.0),
            )
        })
        .collect();
    let ecounts = el.population_counts(bin_ms).context("binning")?;
    let n_rec = r.mea.layout().recording().len().max(1) as f64;
    let epts: Vec<(f64, f64)> = ecounts
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            (
                i as f64 * bin_ms / 1000.0,
                c as f64 / n_rec / (bin_ms / 1000.0) / 10.0,
            )
        })
        .collect();
    dishloop_plot::line_chart(
        &dir.join("rate.png"),
        "Population firing rate (50 ms bins)",
        "time (s)",
        "rate (Hz)",
        &[
            Series::new("per neuron", &pts),
            Series::new("per electrode ÷ 10", &epts),
        ],
        &[],
    )
    .context("drawing the rate")?;
    add(
        "rate.png",
        "Population rate per neuron and per electrode (÷ 10 to share the axis); network bursts are the peaks.",
    );

    // MEA heat map.
    let rates = r.mea.electrode_rates_hz();
    if let Some((vals, rows, cols)) = r.mea.layout().grid_values(&rates) {
        dishloop_plot::heatmap(
            &dir.join("mea_heatmap.png"),
            "Spike rate per electrode (CL1 8×8, channel = 8·column + row)",
            &vals,
            rows,
            cols,
            "Hz",
        )
        .context("drawing the heat map")?;
        add(
            "mea_heatmap.png",
            "Spike rate per electrode over the whole session; grey: grounded corners and reference (channel 4).",
        );
    }

    // Avalanche sizes (electrode level, Beggs & Plenz binning).
    if let Ok(a) = avalanches(
        el,
        &AvalancheParams {
            bin_ms: el_sum.avalanche_bin_ms,
            threshold: AvalancheThreshold::Count(el_sum.avalanche_threshold),
        },
    ) {
        let sizes: Vec<f64> = a.sizes.iter().map(|&s| s as f64).collect();
        let fit = el_sum
            .avalanche_size_exponent
            .zip(el_sum.avalanche_size_xmin.map(|x| x as f64));
        dishloop_plot::loglog_distribution(
            &dir.join("avalanches.png"),
            &format!("Avalanche sizes, electrode level ({:.1} ms bins)", a.bin_ms),
            "size (electrode events)",
            &sizes,
            fit,
        )
        .context("drawing avalanches")?;
        add(
            "avalanches.png",
            "Complementary CDF of avalanche sizes on the electrode-level spikes with the power-law fit (a critical network gives slope 1 − 1.5 = −0.5).",
        );
    }

    // ISI distribution (log10 ms), up to 200 000 intervals.
    let mut isi = Vec::new();
    for t in neur.per_neuron_steps() {
        for w in t.windows(2) {
            isi.push(((w[1] - w[0]) as f64 * dt).log10());
        }
        if isi.len() > 200_000 {
            break;
        }
    }
    dishloop_plot::histogram(
        &dir.join("isi.png"),
        "Inter-spike intervals",
        "log10 ISI (ms)",
        &isi,
        80,
    )
    .context("drawing the ISI histogram")?;
    add(
        "isi.png",
        "Inter-spike interval distribution (log10 ms): short intervals inside bursts, long ones between them.",
    );

    if let Some(e) = evoked {
        let series: Vec<Series> = e.psth.iter().map(|(l, p)| Series::new(l, p)).collect();
        dishloop_plot::line_chart(
            &dir.join("evoked.png"),
            &format!("Response to {} pulses on channel {}", e.trials, e.channel),
            "time from pulse (ms)",
            "spikes per electrode per trial per ms",
            &series,
            &[],
        )
        .context("drawing the evoked response")?;
        add(
            "evoked.png",
            "Post-stimulus time histogram by distance from the stimulated electrode (1 ms bins).",
        );
        // Raw trace around the first pulse: stimulated channel and a neighbour.
        let mea = &r.mea;
        let f0 = ((e.first_onset_step as f64 * dt - 5.0) * 25.0).max(0.0) as u64;
        let nf = 25 * 30;
        // The artefact is clipped at ±1 mV in the figure so spikes stay visible.
        let clip = |v: f64| v.clamp(-1000.0, 1000.0);
        let chans = [e.channel, e.channel + 8];
        if let Ok(raw) = mea.raw_samples(&chans, f0, nf) {
            let uv = mea.config().raw.uv_per_unit as f64;
            let pts: Vec<Vec<(f64, f64)>> = (0..2)
                .map(|j| {
                    (0..nf)
                        .map(|f| {
                            (
                                (f0 + f as u64) as f64 / 25.0 - e.first_onset_step as f64 * dt,
                                clip(raw[f * 2 + j] as f64 * uv),
                            )
                        })
                        .collect()
                })
                .collect();
            let l0 = format!("channel {} (stimulated)", chans[0]);
            let l1 = format!("channel {} (200 µm)", chans[1]);
            dishloop_plot::line_chart(
                &dir.join("raw_trace.png"),
                "Raw samples at 25 kHz around a pulse (artefact clipped at ±1 mV)",
                "time from pulse (ms)",
                "µV",
                &[Series::new(&l0, &pts[0]), Series::new(&l1, &pts[1])],
                &[],
            )
            .context("drawing the raw trace")?;
            add(
                "raw_trace.png",
                "Raw int16 samples (×0.195 µV) rendered on demand around the first pulse: the artefact (saturating the stimulated channel; clipped at ±1 mV here) and its recovery, then the evoked spikes.",
            );
        }
    }
    // LFP of three electrodes over the first 10 s.
    let to_ms = (neur.duration_ms()).min(10_000.0);
    let chans = [27u32, 29, 45];
    if let Ok(lfp) = r.mea.lfp(&chans, 0.0, to_ms) {
        let sm = r.mea.config().lfp.sample_ms as f64;
        let pts: Vec<Vec<(f64, f64)>> = lfp
            .iter()
            .map(|row| {
                row.iter()
                    .enumerate()
                    .map(|(k, &v)| (k as f64 * sm / 1000.0, v as f64))
                    .collect()
            })
            .collect();
        let labels: Vec<String> = chans.iter().map(|c| format!("channel {c}")).collect();
        let series: Vec<Series> = labels
            .iter()
            .zip(&pts)
            .map(|(l, p)| Series::new(l, p))
            .collect();
        dishloop_plot::line_chart(
            &dir.join("lfp.png"),
            "LFP estimate (kernel method), first 10 s",
            "time (s)",
            "µV",
            &series,
            &[],
        )
        .context("drawing the LFP")?;
        add(
            "lfp.png",
            "Kernel-method LFP estimate (Teleńczuk et al. 2020) on three electrodes: qualitative, not calibrated in µV.",
        );
    }
    Ok(Figures { list })
}

#[allow(clippy::too_many_arguments)]
fn report(
    args: &Args,
    cfg: &CultureConfig,
    r: &RunOut,
    secs: f64,
    drug: Option<Drug>,
    ns: &Summary,
    es: &Summary,
    checks: &[dishloop_analysis::summary::Check],
    electrode_rate_hz: f64,
    evoked: Option<&Evoked>,
    drugs: &[DrugResult],
    figures: &Figures,
) -> String {
    let mut s = String::new();
    let n = r.net.n();
    let _ = writeln!(
        s,
        "# Science report — `{}`, seed {}\n",
        cfg.name, args.culture.seed
    );
    let _ = writeln!(
        s,
        "{} neurons ({} excitatory), {} synapses, {secs} s of spontaneous activity recorded on a virtual CL1 \
         (8×8 electrodes, 200 µm pitch, centred on the {}×{} µm culture){}. Simulated in {:.1} s ({:.2}× real time).\n",
        n,
        r.net.n_exc(),
        r.net.n_synapses(),
        cfg.culture.substrate_um[0],
        cfg.culture.substrate_um[1],
        drug.map_or(String::new(), |d| format!(
            ", with **{}** applied from the start",
            d.name()
        )),
        r.wall_s,
        secs / r.wall_s.max(1e-9),
    );
    let in_range = checks
        .iter()
        .filter(|c| c.verdict == Verdict::InRange)
        .count();
    let defined = checks
        .iter()
        .filter(|c| c.verdict != Verdict::Undefined)
        .count();
    let _ = writeln!(
        s,
        "## Does it behave like living cortex?\n\n**{in_range} of {defined}** measured metrics fall in the ranges reported for living cultures.\n"
    );
    let _ = writeln!(
        s,
        "| metric | measured | living cultures | source | matches living cortex? |\n|---|---|---|---|---|"
    );
    for c in checks {
        let _ = writeln!(
            s,
            "| {} | {} {} | {} – {} {} | {} | {} |",
            c.metric,
            fmt_opt(c.value, 3),
            c.unit,
            c.lo,
            c.hi,
            c.unit,
            c.source,
            verdict_words(c.verdict)
        );
    }
    let _ = writeln!(
        s,
        "\nBursts and rates are measured on every neuron's spikes (the Wagenaar et al. 2006 burst detector: \
         per-channel burstlets, then network bursts where ≥ 5 % of channels overlap). Avalanches and the branching \
         ratio are measured on the **electrode-level** spikes — what the 59 recording electrodes detect — as Beggs & \
         Plenz did on their 60-electrode arrays: on a full raster of thousands of noisy neurons almost no time bin \
         is empty and avalanches degenerate (reference study §6). The branching ratio is the multiple-regression \
         estimator of Wilting & Priesemann 2018 (4 ms bins), which, unlike the naive ratio, is not pulled towards 1 \
         by external drive.\n"
    );
    let _ = writeln!(s, "## Spontaneous activity\n");
    let _ = writeln!(
        s,
        "- Mean firing rate **{} Hz** per neuron; **{:.1} Hz** per recording electrode.\n\
         - **{}** network bursts: **{} /min**, mean inter-burst interval **{} s** (CV {}), duration **{} ms**, \
         recruitment {} of the neurons, {} spikes per burst, {} of all spikes inside bursts. The calibration target \
         (Wagenaar et al. 2006 mature dense cultures, BL-1) is about 8 bursts/min with an IBI of about 9 s.\n\
         - On the 59 electrodes alone the same detector finds **{} bursts/min** (Wagenaar's own setting).",
        fmt_opt(ns.mean_rate_hz, 2),
        electrode_rate_hz,
        ns.n_bursts,
        fmt_opt(ns.bursts_per_min, 1),
        fmt_opt(ns.mean_ibi_s, 2),
        fmt_opt(ns.ibi_cv, 2),
        fmt_opt(ns.burst_duration_ms, 0),
        fmt_opt(ns.recruitment, 2),
        fmt_opt(ns.spikes_per_burst, 0),
        fmt_opt(ns.fraction_spikes_in_bursts, 2),
        fmt_opt(es.bursts_per_min, 1),
    );
    let _ = writeln!(s, "\n## Criticality (electrode level)\n");
    let _ = writeln!(
        s,
        "- {} avalanches at {} ms bins (the mean inter-event interval, Beggs & Plenz 2003); {} of bins active.\n\
         - Size exponent **{}** (x_min {}, KS p = {}); duration exponent **{}**. A critical network gives 1.5 and 2 \
         (Beggs & Plenz 2003: 1.2–1.8 and 1.7–2.3); larger exponents mean activity dies out quickly (subcritical), \
         smaller ones that it runs away.\n\
         - Branching ratio (MR, 4 ms) **{}**; Harris estimate {}, naive mean-of-ratios {} (biased towards 1 by drive).\n\
         - κ (Shew et al. 2009) **{}**: the mean gap between the s^-1.5 CDF and the measured one up to the largest \
         avalanche; ≈ 1 critical, < 1 too few large avalanches (subcritical), > 1 an excess of system-size ones, as \
         with disinhibition (supercritical). The KS p-value tests a pure power law over the whole tail, bursts \
         included: network bursts sit at the system size, so p can be small (≤ 0.1 rejects) even where the bulk follows s^-α.",
        es.n_avalanches,
        fmt_opt(es.avalanche_bin_ms, 1),
        fmt_opt(es.avalanche_fraction_active, 2),
        fmt_opt(es.avalanche_size_exponent, 2),
        es.avalanche_size_xmin.map_or("—".into(), |x| x.to_string()),
        fmt_opt(es.avalanche_size_ks_p, 2),
        fmt_opt(es.avalanche_duration_exponent, 2),
        fmt_opt(es.branching_ratio, 3),
        fmt_opt(es.branching_ratio_harris, 3),
        fmt_opt(es.branching_ratio_naive, 3),
        fmt_opt(es.avalanche_kappa, 3),
    );
    if let (Some(fr), Some(a)) = (ns.fraction_spikes_in_bursts, es.avalanche_size_exponent)
        && a > 1.8
    {
        let _ = writeln!(
            s,
            "\n*Why the exponent is steep here:* {:.0} % of the spikes fall outside network bursts; that background \
             firing is driven by independent noise, so between bursts the electrodes see mostly uncorrelated events, \
             which form many small, short avalanches (an exponential rather than a power-law size distribution).",
            100.0 * (1.0 - fr)
        );
    }
    for note in es.notes.iter().chain(ns.notes.iter()) {
        let _ = writeln!(s, "- note: {note}");
    }
    if let Some(e) = evoked {
        let _ = writeln!(s, "\n## Evoked response\n");
        let _ = writeln!(
            s,
            "{} pulses ({}) on channel {}, 0.5 s apart, after the spontaneous recording. Probability that an electrode \
             records a spike within 5 ms of the pulse, against the same window 40–35 ms before it:\n",
            e.trials, e.design, e.channel
        );
        let _ = writeln!(
            s,
            "| distance from stimulated electrode | electrodes | P(spike ≤ 5 ms) | baseline | median latency |\n|---|---|---|---|---|"
        );
        let groups: [(&str, f32, f32); 5] = [
            ("0 µm (stimulated)", -1.0, 1.0),
            ("200 µm", 1.0, 201.0),
            ("283 µm", 201.0, 290.0),
            ("400–450 µm", 290.0, 460.0),
            ("≥ 600 µm", 590.0, 1e9),
        ];
        for (label, lo, hi) in groups {
            let m: Vec<&Response> = e
                .per_electrode
                .iter()
                .filter(|p| p.distance_um > lo && p.distance_um <= hi)
                .collect();
            if m.is_empty() {
                continue;
            }
            let k = m.len() as f64;
            let mut lats: Vec<f64> = m.iter().filter_map(|p| p.median_latency_ms).collect();
            lats.sort_by(f64::total_cmp);
            let _ = writeln!(
                s,
                "| {label} | {} | {:.2} | {:.2} | {} |",
                m.len(),
                m.iter().map(|p| p.p_evoked).sum::<f64>() / k,
                m.iter().map(|p| p.p_baseline).sum::<f64>() / k,
                if lats.is_empty() {
                    "—".into()
                } else {
                    format!("{:.1} ms", lats[lats.len() / 2])
                }
            );
        }
        let _ = writeln!(
            s,
            "\nOn real MEAs a biphasic pulse of a few µA evokes direct spikes near the electrode within a few ms and \
             synaptically relayed responses further away over tens of ms (Wagenaar, Pine & Potter 2004, J Neurosci \
             Methods 138:27)."
        );
    }
    if !drugs.is_empty() {
        let _ = writeln!(
            s,
            "\n## Pharmacology ({} s per drug, same culture and seed)\n",
            args.drug_duration_s
        );
        let _ = writeln!(
            s,
            "Spontaneous run: {} Hz, {} bursts/min. Each drug is compared with a vehicle control (first row): the \
             same culture and seed without a drug over the same window, since a fresh culture's first burst comes \
             early and a short window would otherwise mix that start-up into the effect.\n\n\
             | drug | rate (Hz) | bursts/min | spikes/burst | published effect | matches? |\n|---|---|---|---|---|---|",
            fmt_opt(ns.mean_rate_hz, 2),
            fmt_opt(ns.bursts_per_min, 1)
        );
        for d in drugs {
            let _ = writeln!(
                s,
                "| {} | {:.2} | {:.1} | {} | {} | {} |",
                d.drug,
                d.mean_rate_hz,
                d.bursts_per_min,
                fmt_opt(Some(d.spikes_per_burst), 0),
                d.expected,
                if d.drug == "control" {
                    "—"
                } else if d.matches {
                    "**yes**"
                } else {
                    "**no**"
                }
            );
        }
    }
    let _ = writeln!(s, "\n## Figures\n");
    for (file, caption) in &figures.list {
        let _ = writeln!(s, "![{caption}]({file})\n\n*{caption}*\n");
    }
    let _ = writeln!(s, "## The virtual MEA\n");
    let _ = writeln!(
        s,
        "Electrodes detect a neuron when its spike amplitude, 300 µV/(1 + (r/20 µm)²) × a per-cell gain, exceeds 5× \
         the 2.54 µV noise (≈ 95 µm); {} neuron–electrode pairs are detected. Stimulation: point-source field, \
         threshold current K·r² with K = 400 µA/mm² (200 µs phase), pulses delivered as effective charge per 0.5 ms \
         step; see crates/dishloop-mea and docs/VALIDATION.md.\n",
        r.mea.detected_neurons().iter().map(Vec::len).sum::<usize>()
    );
    let _ = writeln!(
        s,
        "Reproduce: `dishloop science --config {} --seed {} --duration-s {secs}{}{} --out {}`",
        args.culture.config,
        args.culture.seed,
        drug.map_or(String::new(), |d| format!(" --drug {}", d.name())),
        if args.drugs { " --drugs" } else { "" },
        args.out.display()
    );
    s
}
