//! Preview runs: a capped culture simulated for a short window on a background thread,
//! then summarised (rate trace, MEA map, literature checks).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError, channel};
use std::thread::JoinHandle;
use std::time::Instant;

use dishloop_analysis::SpikeTrains;
use dishloop_analysis::summary::{Summary, SummaryParams, summarize};
use dishloop_culture::{Culture, CultureConfig};

use crate::TuiError;
use crate::mea::{MeaMap, cl1_under, mea_map};

/// Neuron caps offered by the `[-][+]` buttons (BL-1 starts at 400).
pub const NEURON_CAPS: [usize; 12] = [
    50, 100, 200, 400, 800, 1_600, 3_200, 5_000, 10_000, 20_000, 50_000, 100_000,
];
/// Preview durations offered by the buttons, in ms (BL-1 starts at 2 s).
pub const DURATIONS_MS: [f64; 9] = [
    500.0, 1_000.0, 2_000.0, 5_000.0, 10_000.0, 20_000.0, 60_000.0, 120_000.0, 300_000.0,
];
/// Default neuron cap: the calibrated culture's full size. BL-1 starts at 400 neurons for 2 s,
/// but a 400-cell piece of `wagenaar_calibrated` is silent (its bursts start from rare
/// spontaneous spikes amplified by a 5 000-cell network), so the first preview would be empty.
pub const DEFAULT_NEURON_CAP: usize = 5_000;
/// Default preview duration in ms: long enough for the calibrated culture's first bursts
/// (inter-burst interval ~6 s); 0.1–0.3 s of wall time at 5 000 neurons.
pub const DEFAULT_DURATION_MS: f64 = 10_000.0;
/// Bin of the population-rate trace in ms.
pub const RATE_BIN_MS: f64 = 10.0;

/// What to simulate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PreviewParams {
    /// At most this many neurons (the substrate shrinks to keep the density).
    pub neuron_cap: usize,
    /// Simulated time in ms.
    pub duration_ms: f64,
    /// Seed of placement, wiring and noise.
    pub seed: u64,
}

impl Default for PreviewParams {
    fn default() -> Self {
        Self {
            neuron_cap: DEFAULT_NEURON_CAP,
            duration_ms: DEFAULT_DURATION_MS,
            seed: 1,
        }
    }
}

fn ladder_step<T: PartialOrd + Copy>(ladder: &[T], value: T, up: bool) -> T {
    if up {
        ladder.iter().copied().find(|&x| x > value).unwrap_or(value)
    } else {
        ladder
            .iter()
            .rev()
            .copied()
            .find(|&x| x < value)
            .unwrap_or(value)
    }
}

impl PreviewParams {
    /// Next (or previous) neuron cap on [`NEURON_CAPS`].
    pub fn step_cap(&mut self, up: bool) {
        self.neuron_cap = ladder_step(&NEURON_CAPS, self.neuron_cap, up);
    }
    /// Next (or previous) duration on [`DURATIONS_MS`].
    pub fn step_duration(&mut self, up: bool) {
        self.duration_ms = ladder_step(&DURATIONS_MS, self.duration_ms, up);
    }
    /// Seed plus or minus one (never below 0).
    pub fn step_seed(&mut self, up: bool) {
        self.seed = if up {
            self.seed.saturating_add(1)
        } else {
            self.seed.saturating_sub(1)
        };
    }
    /// Checks the ranges (1 … 2 000 000 neurons, 1 ms … 1 h).
    pub fn validate(&self) -> Result<(), TuiError> {
        if !(1..=2_000_000).contains(&self.neuron_cap) {
            return Err(TuiError::Param {
                name: "neuron cap",
                value: self.neuron_cap.to_string(),
                allowed: "1 ..= 2 000 000",
            });
        }
        if !(self.duration_ms.is_finite() && (1.0..=3_600_000.0).contains(&self.duration_ms)) {
            return Err(TuiError::Param {
                name: "duration (ms)",
                value: self.duration_ms.to_string(),
                allowed: "1 ..= 3 600 000",
            });
        }
        Ok(())
    }
}

/// A finished preview run.
#[derive(Debug, Clone)]
pub struct Preview {
    /// Config name (the config's own `name`, or the list label).
    pub config_name: String,
    /// Parameters it ran with.
    pub params: PreviewParams,
    /// Neurons simulated.
    pub n_neurons: usize,
    /// Excitatory neurons, `[0, n_exc)`.
    pub n_exc: usize,
    /// Synapses.
    pub n_synapses: usize,
    /// Substrate after capping (µm).
    pub substrate_um: [f64; 2],
    /// Every spike.
    pub trains: SpikeTrains,
    /// Population rate per neuron (Hz) in [`RATE_BIN_MS`] bins.
    pub rate_hz: Vec<f64>,
    /// CL1 8×8 electrode rates (recorded by `dishloop-mea`).
    pub mea: MeaMap,
    /// Analysis summary with literature checks.
    pub summary: Summary,
    /// Culture build time (s).
    pub build_s: f64,
    /// Simulation wall time (s).
    pub sim_s: f64,
    /// Analysis wall time (s).
    pub analysis_s: f64,
}

impl Preview {
    /// Simulated seconds per wall second.
    pub fn realtime_factor(&self) -> f64 {
        self.trains.duration_s() / self.sim_s.max(1e-9)
    }
}

/// Progress of a running preview.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Progress {
    /// Steps simulated so far.
    pub steps_done: u64,
    /// Steps in the run.
    pub steps_total: u64,
    /// Spikes so far.
    pub spikes: u64,
    /// Neurons (0 while the culture is being built).
    pub n_neurons: usize,
    /// Step in ms.
    pub dt_ms: f64,
}

impl Progress {
    /// Fraction done, 0 … 1.
    pub fn fraction(&self) -> f64 {
        if self.steps_total == 0 {
            0.0
        } else {
            self.steps_done as f64 / self.steps_total as f64
        }
    }
    /// Mean rate per neuron so far (Hz), once something ran.
    pub fn mean_rate_hz(&self) -> Option<f64> {
        let t_s = self.steps_done as f64 * self.dt_ms / 1000.0;
        (self.n_neurons > 0 && t_s > 0.0)
            .then(|| self.spikes as f64 / (self.n_neurons as f64 * t_s))
    }
}

/// Analysis settings of previews: the defaults of `summarize` with a shorter bootstrap
/// (20 repetitions instead of 100) so a preview stays interactive.
pub fn preview_summary_params() -> SummaryParams {
    SummaryParams {
        n_bootstrap: 20,
        ..Default::default()
    }
}

/// Runs a preview in the calling thread. `on_progress` is called every ~1 % of the steps;
/// `cancel` is polled as often and aborts the run with [`TuiError::Cancelled`].
pub fn run_preview(
    label: &str,
    config: &CultureConfig,
    params: PreviewParams,
    cancel: &AtomicBool,
    mut on_progress: impl FnMut(Progress),
) -> Result<Preview, TuiError> {
    params.validate()?;
    let mut cfg = config.clone();
    cfg.cap_neurons(params.neuron_cap)?;
    let t0 = Instant::now();
    let culture = Culture::build(&cfg, params.seed)?;
    let (n, n_exc, n_syn) = (culture.n(), culture.n_exc, culture.n_synapses());
    let mut net = culture.into_network()?;
    let mut mea = cl1_under(&net, cfg.culture.substrate_um)?;
    let build_s = t0.elapsed().as_secs_f64();
    let dt = cfg.simulation.dt_ms;
    let steps_total = (params.duration_ms / dt).round().max(1.0) as u64;
    if steps_total > u32::MAX as u64 {
        return Err(TuiError::Param {
            name: "duration (ms)",
            value: params.duration_ms.to_string(),
            allowed: "at most 2^32 steps",
        });
    }
    let tick = (steps_total / 100).max(1);
    let mut progress = Progress {
        steps_done: 0,
        steps_total,
        spikes: 0,
        n_neurons: n,
        dt_ms: dt,
    };
    on_progress(progress);
    let (mut st, mut ni) = (Vec::new(), Vec::new());
    let t1 = Instant::now();
    for t in 0..steps_total {
        let s = mea.step(&mut net);
        st.extend(std::iter::repeat_n(t as u32, s.len()));
        ni.extend_from_slice(s);
        if (t + 1) % tick == 0 {
            if cancel.load(Ordering::Relaxed) {
                return Err(TuiError::Cancelled);
            }
            progress.steps_done = t + 1;
            progress.spikes = st.len() as u64;
            on_progress(progress);
        }
    }
    let sim_s = t1.elapsed().as_secs_f64();
    let t2 = Instant::now();
    let trains = SpikeTrains::new(n as u32, dt, steps_total, st, ni)?;
    let rate_hz = rate_trace(&trains, RATE_BIN_MS);
    let mea = mea_map(&mea);
    let summary = summarize(&trains, &preview_summary_params());
    let analysis_s = t2.elapsed().as_secs_f64();
    let config_name = if cfg.name.is_empty() {
        label.to_string()
    } else {
        cfg.name.clone()
    };
    Ok(Preview {
        config_name,
        params,
        n_neurons: n,
        n_exc,
        n_synapses: n_syn,
        substrate_um: cfg.culture.substrate_um,
        trains,
        rate_hz,
        mea,
        summary,
        build_s,
        sim_s,
        analysis_s,
    })
}

/// Population rate per neuron (Hz) in bins of `bin_ms` (the last partial bin is dropped).
pub fn rate_trace(trains: &SpikeTrains, bin_ms: f64) -> Vec<f64> {
    let bin_steps = (bin_ms / trains.dt_ms).round().max(1.0) as u64;
    let counts = trains.population_counts_steps(bin_steps);
    let n = trains.n_neurons.max(1) as f64;
    let bin_s = bin_steps as f64 * trains.dt_ms / 1000.0;
    counts.iter().map(|&c| c as f64 / (n * bin_s)).collect()
}

/// Name of preview threads (the panic hook recognises them).
pub const PREVIEW_THREAD: &str = "dishloop-preview";

/// Messages from a preview thread.
#[derive(Debug)]
pub enum PreviewMsg {
    /// Progress so far.
    Progress(Progress),
    /// The run ended.
    Done(Box<Result<Preview, TuiError>>),
}

/// A preview running on a background thread.
#[derive(Debug)]
pub struct PreviewJob {
    rx: Receiver<PreviewMsg>,
    cancel: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
    /// When it started.
    pub started: Instant,
    /// Latest progress.
    pub progress: Progress,
    /// Config label.
    pub label: String,
}

impl PreviewJob {
    /// Starts a preview of `config` on a new thread.
    pub fn spawn(label: &str, config: &CultureConfig, params: PreviewParams) -> Self {
        let (tx, rx) = channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let (c2, cfg, lbl) = (cancel.clone(), config.clone(), label.to_string());
        let handle = std::thread::Builder::new()
            .name(PREVIEW_THREAD.into())
            .spawn(move || {
                let tx2 = tx.clone();
                // A panic in a preview (a bug) becomes an error in the status bar; the
                // cockpit's panic hook leaves the terminal alone for this thread.
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    run_preview(&lbl, &cfg, params, &c2, |p| {
                        let _ = tx2.send(PreviewMsg::Progress(p));
                    })
                }))
                .unwrap_or_else(|payload| {
                    let msg = payload
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| payload.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    Err(TuiError::Train(format!("the preview panicked: {msg}")))
                });
                let _ = tx.send(PreviewMsg::Done(Box::new(r)));
            })
            .ok();
        Self {
            rx,
            cancel,
            handle,
            started: Instant::now(),
            progress: Progress::default(),
            label: label.to_string(),
        }
    }

    /// Drains messages; returns the result once the run has ended.
    pub fn poll(&mut self) -> Option<Result<Preview, TuiError>> {
        loop {
            match self.rx.try_recv() {
                Ok(PreviewMsg::Progress(p)) => self.progress = p,
                Ok(PreviewMsg::Done(r)) => {
                    if let Some(h) = self.handle.take() {
                        let _ = h.join();
                    }
                    return Some(*r);
                }
                Err(TryRecvError::Empty) => return None,
                Err(TryRecvError::Disconnected) => {
                    return Some(Err(TuiError::Train(
                        "the preview thread stopped without a result".into(),
                    )));
                }
            }
        }
    }

    /// Blocks until the run ends.
    pub fn wait(mut self) -> Result<Preview, TuiError> {
        loop {
            match self.rx.recv() {
                Ok(PreviewMsg::Progress(p)) => self.progress = p,
                Ok(PreviewMsg::Done(r)) => return *r,
                Err(_) => {
                    return Err(TuiError::Train(
                        "the preview thread stopped without a result".into(),
                    ));
                }
            }
        }
    }

    /// Asks the thread to stop at its next progress point.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

impl Drop for PreviewJob {
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ladders_clamp_at_the_ends() {
        let mut p = PreviewParams::default();
        p.step_cap(true);
        assert_eq!(p.neuron_cap, 10_000);
        p.step_cap(false);
        p.step_cap(false);
        assert_eq!(p.neuron_cap, 3_200);
        for _ in 0..20 {
            p.step_cap(false);
        }
        assert_eq!(p.neuron_cap, 50);
        for _ in 0..20 {
            p.step_duration(true);
        }
        assert_eq!(p.duration_ms, 300_000.0);
        p.seed = 0;
        p.step_seed(false);
        assert_eq!(p.seed, 0);
    }

    #[test]
    fn capping_keeps_density() {
        let mut cfg = dishloop_culture::load_config("wagenaar_calibrated").unwrap();
        let (n0, [w0, h0]) = (cfg.culture.n_neurons, cfg.culture.substrate_um);
        cfg.cap_neurons(400).unwrap();
        let [w, h] = cfg.culture.substrate_um;
        assert_eq!(cfg.culture.n_neurons, 400);
        let d0 = n0 as f64 / (w0 * h0);
        let d = 400.0 / (w * h);
        assert!((d / d0 - 1.0).abs() < 1e-9, "{d} vs {d0}");
    }

    #[test]
    fn preview_is_deterministic_and_consistent() {
        let cfg = dishloop_culture::load_config("wagenaar_calibrated").unwrap();
        let params = PreviewParams {
            neuron_cap: 200,
            duration_ms: 500.0,
            seed: 3,
        };
        let no = AtomicBool::new(false);
        let mut calls = 0;
        let a = run_preview("w", &cfg, params, &no, |_| calls += 1).unwrap();
        let b = run_preview("w", &cfg, params, &no, |_| {}).unwrap();
        assert_eq!(a.trains.steps, b.trains.steps);
        assert_eq!(a.trains.neurons, b.trains.neurons);
        assert_eq!(a.n_neurons, 200);
        assert_eq!(a.trains.n_steps, 1000); // 500 ms at 0.5 ms
        assert!(calls >= 100, "{calls}");
        // The rate trace integrates back to the spike count (50 full bins of 10 ms).
        assert_eq!(a.rate_hz.len(), 50);
        let from_trace: f64 = a.rate_hz.iter().map(|r| r * 200.0 * 0.01).sum();
        assert!((from_trace - a.trains.n_spikes() as f64).abs() < 1e-6);
        assert_eq!(a.summary.n_spikes, a.trains.n_spikes() as u64);
    }

    #[test]
    fn cancel_stops_a_run() {
        let cfg = dishloop_culture::load_config("wagenaar_calibrated").unwrap();
        let yes = AtomicBool::new(true);
        let r = run_preview("w", &cfg, PreviewParams::default(), &yes, |_| {});
        assert!(matches!(r, Err(TuiError::Cancelled)));
    }
}
