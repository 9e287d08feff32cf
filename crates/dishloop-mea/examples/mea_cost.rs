//! Cost of the MEA (recording + stimulation) relative to the simulation it records, on the
//! 5 000-neuron `wagenaar_calibrated` culture under the 64-channel CL1 layout.
//!
//! `cargo run --release -p dishloop-mea --example mea_cost -- [seconds] [threads]`
//!
//! Three runs of the same culture (seed 1), each `seconds` long:
//! 1. bare network (`Network::step` only);
//! 2. MEA recording only (identical dynamics: recording does not perturb the network);
//! 3. MEA recording + stimulation: every 100 ms a synchronised 2 µA biphasic pulse on 8
//!    electrodes, and every second a 20-pulse 100 Hz train on 4 more (160 pulses/s).
//!
//! For 2 and 3 the MEA also times itself (`Mea::timings`: time inside `Network::step` vs its
//! own work), which separates its cost from changes in the dynamics that stimulation causes.
//! Finally it times rendering 1 s of raw 64-channel samples and 1 s of LFP on demand.
use std::time::Instant;

use dishloop_mea::{BurstDesign, Layout, Mea, MeaConfig, StimDesign};

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let args: Vec<String> = std::env::args().collect();
    let secs: f64 = args.get(1).map_or(Ok(20.0), |s| s.parse())?;
    let threads: usize = args.get(2).map_or(Ok(1), |s| s.parse())?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    pool.install(|| bench(secs))
}

fn bench(secs: f64) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let cfg = dishloop_culture::load_config("wagenaar_calibrated")?;
    let steps = (secs * 1000.0 / cfg.simulation.dt_ms) as u64;
    let layout = Layout::cl1([0.0, 0.0]).centered_on_substrate(cfg.culture.substrate_um);

    let mut net = dishloop_culture::Culture::network(&cfg, 1)?;
    let t = Instant::now();
    net.run(steps, |_, _| {});
    let bare = t.elapsed().as_secs_f64();
    let bare_spikes = net.total_spikes();

    let mut net = dishloop_culture::Culture::network(&cfg, 1)?;
    let mut mea = Mea::new(layout.clone(), &net, MeaConfig::default())?;
    let t = Instant::now();
    mea.run(&mut net, steps, |_, _| {});
    let rec_wall = t.elapsed().as_secs_f64();
    assert_eq!(
        net.total_spikes(),
        bare_spikes,
        "recording must not perturb the network"
    );
    let (n1, m1) = mea.timings();
    let t = Instant::now();
    let raw = mea.raw_samples(&(0..64).collect::<Vec<u32>>(), 0, 25_000)?;
    let raw_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let lfp = mea.lfp(&layout.recording(), 0.0, 1000.0)?;
    let lfp_s = t.elapsed().as_secs_f64();

    let mut net = dishloop_culture::Culture::network(&cfg, 1)?;
    let mut mea = Mea::new(layout, &net, MeaConfig::default())?;
    let pulse = StimDesign::cathodic_first(200, 2.0)?;
    let group_a = [10u32, 18, 26, 34, 42, 50, 21, 45];
    let group_b = [12u32, 20, 43, 51];
    let t = Instant::now();
    for k in 0..steps {
        if k % 200 == 0 {
            mea.stim(&group_a, pulse, BurstDesign::single())?;
        }
        if k % 2000 == 0 {
            mea.stim(&group_b, pulse, BurstDesign::new(20, 100.0)?)?;
        }
        mea.step(&mut net);
    }
    let stim_wall = t.elapsed().as_secs_f64();
    let (n2, m2) = mea.timings();
    let pulses = mea.recording().pulses.len();

    println!("wagenaar_calibrated, 5000 neurons, {secs} s simulated, CL1 64 channels");
    println!(
        "bare network:            {bare:.3} s wall ({:.2} s per simulated s)",
        bare / secs
    );
    println!(
        "MEA recording:           {rec_wall:.3} s wall ({:+.1} % vs bare); self-timed MEA work {:.4} s = {:.2} % of network time",
        100.0 * (rec_wall / bare - 1.0),
        m1.as_secs_f64(),
        100.0 * m1.as_secs_f64() / n1.as_secs_f64()
    );
    println!(
        "MEA recording + {pulses} pulses: {stim_wall:.3} s wall; self-timed MEA work {:.4} s = {:.2} % of network time",
        m2.as_secs_f64(),
        100.0 * m2.as_secs_f64() / n2.as_secs_f64()
    );
    println!(
        "on demand: 1 s of raw 64-ch samples in {raw_s:.3} s ({} samples); 1 s of 59-ch LFP in {lfp_s:.3} s ({} rows)",
        raw.len(),
        lfp.len()
    );
    Ok(())
}
