//! Calibration probe: `cargo run -p dishloop-culture --release --example probe -- CONFIG SECONDS SEED [key=value ...]`
use dishloop_culture::*;
fn main() {
    let a: Vec<String> = std::env::args().collect();
    let mut cfg = load_config(&a[1]).unwrap();
    let secs: f64 = a[2].parse().unwrap();
    let seed: u64 = a[3].parse().unwrap();
    for kv in &a[4..] {
        let (k, v) = kv.split_once('=').unwrap();
        let x: f64 = v.parse().unwrap();
        match k {
            "n" => cfg.culture.n_neurons = x as usize,
            "ge" => cfg.culture.g_exc = x,
            "gi" => cfg.culture.g_inh = x,
            "mean" => cfg.background.mean = x,
            "std" => cfg.background.std = x,
            "U" => cfg.stp.excitatory.u = x as f32,
            "nmda" => cfg.synapses.nmda_ratio = x as f32,
            "pmax" => cfg.culture.p_max = x,
            "legacy" => {
                cfg.culture.wiring = if x > 0.0 {
                    Wiring::LegacyBl1
                } else {
                    Wiring::Dale
                }
            }
            "trec" => cfg.stp.excitatory.tau_rec_ms = x as f32,
            "jit" => cfg.culture.param_jitter = x,
            "mongillo" => {
                cfg.stp.variant = if x > 0.0 {
                    dishloop_core::StpVariant::Mongillo2008
                } else {
                    dishloop_core::StpVariant::Markram1998
                }
            }
            "euler" => {
                cfg.simulation.izh_scheme = if x > 0.0 {
                    dishloop_core::IzhScheme::Euler
                } else {
                    dishloop_core::IzhScheme::HalfStep
                }
            }
            "vel" => cfg.culture.axon_velocity_um_per_ms = x,
            "cut" => cfg.culture.cutoff_lambdas = x,
            _ => panic!("unknown key {k}"),
        }
    }
    let t0 = std::time::Instant::now();
    let c = Culture::build(&cfg, seed).unwrap();
    let (n, nsyn) = (c.n(), c.n_synapses());
    let mut net = c.into_network().unwrap();
    let build = t0.elapsed().as_secs_f64();
    let steps = (secs * 1000.0 / cfg.simulation.dt_ms) as u64;
    let bin = (10.0 / cfg.simulation.dt_ms) as u64; // 10 ms bins
    let mut counts = vec![0u32; (steps / bin + 1) as usize];
    let t1 = std::time::Instant::now();
    net.run(steps, |t, s| counts[(t / bin) as usize] += s.len() as u32);
    let wall = t1.elapsed().as_secs_f64();
    let total: u64 = counts.iter().map(|&c| c as u64).sum();
    let rate = total as f64 / n as f64 / secs;
    // crude burst count: 10 ms bins with > 5x mean and > 2% of cells, merged if < 100 ms apart
    let mean = total as f64 / counts.len() as f64;
    let thr = (mean * 5.0).max(n as f64 * 0.02);
    let mut bursts = 0;
    let mut last = -1000i64;
    let mut on = false;
    for (k, &c) in counts.iter().enumerate() {
        if c as f64 > thr {
            if !on && (k as i64 - last) > 10 {
                bursts += 1;
            }
            on = true;
            last = k as i64;
        } else {
            on = false;
        }
    }
    println!(
        "n={n} syn={nsyn} ({:.1}/neuron) build={build:.2}s rate={rate:.2}Hz bursts/min={:.1} wall={wall:.2}s rtf={:.1}",
        nsyn as f64 / n as f64,
        bursts as f64 / secs * 60.0,
        secs / wall
    );
}
