//! Scratch probe: runs a culture under the CL1 MEA and prints electrode-level statistics.
//! `cargo run --release -p dishloop-mea --example probe -- [g_exc_scale] [seconds] [seed]`
use dishloop_analysis::SpikeTrains;
use dishloop_analysis::summary::{SummaryParams, summarize};
use dishloop_mea::{Layout, Mea, MeaConfig};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let scale: f64 = args.get(1).map_or(Ok(1.0), |s| s.parse())?;
    let secs: f64 = args.get(2).map_or(Ok(30.0), |s| s.parse())?;
    let seed: u64 = args.get(3).map_or(Ok(1), |s| s.parse())?;
    let mut cfg = dishloop_culture::load_config("wagenaar_calibrated")?;
    cfg.culture.g_exc *= scale;
    let t0 = Instant::now();
    let mut net = dishloop_culture::Culture::network(&cfg, seed)?;
    let layout = Layout::cl1([0.0, 0.0]).centered_on_substrate(cfg.culture.substrate_um);
    let mut mea = Mea::new(layout, &net, MeaConfig::default())?;
    let build = t0.elapsed().as_secs_f64();
    let steps = (secs * 1000.0 / 0.5) as u64;
    let t1 = Instant::now();
    mea.run(&mut net, steps, |_, _| {});
    let wall = t1.elapsed().as_secs_f64();
    let rec = mea.recording();
    let neur = SpikeTrains::new(
        net.n() as u32,
        0.5,
        steps,
        rec.steps.clone(),
        rec.neurons.clone(),
    )?;
    let el = SpikeTrains::from_unsorted(64, 0.5, steps, rec.electrode_pairs())?;
    let p = SummaryParams {
        n_bootstrap: 0,
        ..Default::default()
    };
    let sn = summarize(&neur, &p);
    let se = summarize(&el, &p);
    let det: usize = mea.detected_neurons().iter().map(|v| v.len()).sum();
    println!(
        "scale {scale} seed {seed} {secs}s build {build:.2}s wall {wall:.2}s detected-neuron-slots {det}"
    );
    println!(
        "neurons: rate {:?} bursts/min {:?} ibi {:?} dur {:?} MR {:?} harris {:?}",
        sn.mean_rate_hz,
        sn.bursts_per_min,
        sn.mean_ibi_s,
        sn.burst_duration_ms,
        sn.branching_ratio,
        sn.branching_ratio_harris
    );
    println!(
        "electrodes: rate/el {:.2} bursts/min {:?} ibi {:?} MR {:?} harris {:?} naive {:?}",
        el.n_spikes() as f64 / 59.0 / secs,
        se.bursts_per_min,
        se.mean_ibi_s,
        se.branching_ratio,
        se.branching_ratio_harris,
        se.branching_ratio_naive
    );
    println!(
        "  avalanches bin {:?} thr {} frac {:?} n {} size_exp {:?} xmin {:?} dur_exp {:?}",
        se.avalanche_bin_ms,
        se.avalanche_threshold,
        se.avalanche_fraction_active,
        se.n_avalanches,
        se.avalanche_size_exponent,
        se.avalanche_size_xmin,
        se.avalanche_duration_exponent
    );
    for n in &se.notes {
        println!("  note: {n}");
    }
    Ok(())
}
