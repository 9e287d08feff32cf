//! `dishloop tui --headless`: the Dashboard and Science content of one preview run as plain
//! text (and JSON), for scripts and machines without a terminal; and the headless side of
//! the training-speed benchmark.

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use serde::Serialize;

use crate::TuiError;
use crate::configs::ConfigList;
use crate::preview::{Preview, PreviewParams, run_preview};
use crate::science::{science_items, score};
use crate::train::{ExperimentsPong, PongBackend, TrainSetup};

/// One science item in the JSON report.
#[derive(Debug, Clone, Serialize)]
pub struct ScienceJson {
    /// Title.
    pub title: String,
    /// Value text.
    pub value: String,
    /// Verdict label.
    pub verdict: String,
    /// Range and source.
    pub reference: String,
    /// Why (may be empty).
    pub why: String,
}

/// The headless report (the `--json` object).
#[derive(Debug, Clone, Serialize)]
pub struct HeadlessReport {
    /// Config name.
    pub config: String,
    /// Seed.
    pub seed: u64,
    /// Neurons.
    pub n_neurons: usize,
    /// Excitatory neurons.
    pub n_exc: usize,
    /// Synapses.
    pub n_synapses: usize,
    /// Simulated seconds.
    pub duration_s: f64,
    /// Spikes.
    pub n_spikes: usize,
    /// Mean rate per neuron (Hz).
    pub mean_rate_hz: Option<f64>,
    /// Simulated / wall seconds.
    pub realtime_factor: f64,
    /// Science items matching living cortex.
    pub science_matches: usize,
    /// Science items with a verdict.
    pub science_judged: usize,
    /// The items.
    pub science: Vec<ScienceJson>,
    /// The full analysis summary.
    pub summary: dishloop_analysis::Summary,
}

/// Runs one preview of `config` (embedded name, label in `configs_dir`, or YAML path).
pub fn headless_preview(
    config: &str,
    configs_dir: Option<&std::path::Path>,
    params: PreviewParams,
) -> Result<Preview, TuiError> {
    let mut list = ConfigList::discover(configs_dir);
    let i = list.add(config)?;
    let e = &list.entries[i];
    run_preview(&e.label, &e.config, params, &AtomicBool::new(false), |_| {})
}

/// The report of a preview.
pub fn report(p: &Preview) -> HeadlessReport {
    let items = science_items(&p.summary);
    let (ok, judged) = score(&items);
    HeadlessReport {
        config: p.config_name.clone(),
        seed: p.params.seed,
        n_neurons: p.n_neurons,
        n_exc: p.n_exc,
        n_synapses: p.n_synapses,
        duration_s: p.trains.duration_s(),
        n_spikes: p.trains.n_spikes(),
        mean_rate_hz: p.summary.mean_rate_hz,
        realtime_factor: p.realtime_factor(),
        science_matches: ok,
        science_judged: judged,
        science: items
            .iter()
            .map(|i| ScienceJson {
                title: i.title.into(),
                value: i.value.clone(),
                verdict: i.verdict.label().into(),
                reference: i.reference.clone(),
                why: i.why.clone(),
            })
            .collect(),
        summary: p.summary.clone(),
    }
}

/// The Dashboard and Science content as plain text.
pub fn text(p: &Preview) -> String {
    let mut out = String::new();
    let rate = p
        .summary
        .mean_rate_hz
        .map(|r| format!("{r:.2} Hz"))
        .unwrap_or_else(|| "n/a".into());
    out.push_str("== Dashboard ==\n");
    out.push_str(&format!("config      {}\n", p.config_name));
    out.push_str(&format!("seed        {}\n", p.params.seed));
    out.push_str(&format!(
        "neurons     {} ({} E / {} I), substrate {:.0} x {:.0} um\n",
        p.n_neurons,
        p.n_exc,
        p.n_neurons - p.n_exc,
        p.substrate_um[0],
        p.substrate_um[1]
    ));
    out.push_str(&format!(
        "synapses    {} ({:.1} per neuron)\n",
        p.n_synapses,
        p.n_synapses as f64 / p.n_neurons.max(1) as f64
    ));
    out.push_str(&format!(
        "simulated   {:.1} s, {} spikes, mean rate {rate}\n",
        p.trains.duration_s(),
        p.trains.n_spikes()
    ));
    out.push_str(&format!(
        "speed       {:.1}x real time (build {:.2} s, run {:.2} s, analysis {:.2} s)\n",
        p.realtime_factor(),
        p.build_s,
        p.sim_s,
        p.analysis_s
    ));
    out.push_str("\n== Science ==\n");
    for line in crate::ui::science_lines(p) {
        let s: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
        out.push_str(&s);
        out.push('\n');
    }
    out
}

/// Headless training speed: Pong frames per wall second of `setup` over about `seconds`
/// (after building the session), stepping in chunks of 100 frames.
pub fn train_speed(setup: &TrainSetup, seconds: f64) -> Result<(u64, f64), TuiError> {
    let mut b = ExperimentsPong::new(setup)?;
    let t0 = Instant::now();
    let mut frames = 0;
    while t0.elapsed().as_secs_f64() < seconds {
        b.advance(100);
        frames += 100;
    }
    Ok((frames, t0.elapsed().as_secs_f64()))
}
