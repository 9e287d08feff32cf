//! Peak memory of building the embedded `default` culture (100 000 neurons, ~48 M synapses,
//! a 369 MiB matrix). Building every row first and then the matrix peaked at 1171 MiB here
//! (commit 4c7d64a); wiring in batches straight into the matrix peaks at ~415 MiB. Linux only (reads VmHWM from /proc/self/status). Ignored: seconds of wiring and a
//! process-wide measurement; run alone with
//! `cargo test -p dishloop-culture --test build_memory -- --ignored --nocapture`.

use dishloop_culture::{Culture, load_config};

/// (VmHWM, VmRSS) in MiB, or None off Linux.
fn vm_mib() -> Option<(f64, f64)> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| -> Option<f64> {
        let line = s.lines().find(|l| l.starts_with(name))?;
        let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb / 1024.0)
    };
    Some((field("VmHWM:")?, field("VmRSS:")?))
}

#[test]
#[ignore]
fn building_default_peaks_near_the_networks_own_footprint() {
    let Some(start) = vm_mib() else {
        return;
    };
    println!("start: hwm {:.0} MiB rss {:.0} MiB", start.0, start.1);
    let cfg = load_config("default").unwrap();
    let t0 = std::time::Instant::now();
    let cult = Culture::build(&cfg, 1).unwrap();
    let build_s = t0.elapsed().as_secs_f64();
    let built = vm_mib().unwrap();
    let (csr_bytes, _) = cult.spec.csr.memory_bytes();
    let csr_mib = csr_bytes as f64 / (1 << 20) as f64;
    println!(
        "built in {build_s:.2} s: {} synapses, CSR {csr_mib:.0} MiB; hwm {:.0} MiB rss {:.0} MiB",
        cult.n_synapses(),
        built.0,
        built.1
    );
    // The matrix plus one batch of rows, positions, cell parameters and allocator slack.
    let limit_mib = csr_mib * 1.1 + 100.0;
    assert!(
        built.0 <= limit_mib,
        "building peaked at {:.0} MiB, more than {limit_mib:.0} MiB for a {csr_mib:.0} MiB matrix",
        built.0
    );
    let mut net = cult.into_network().unwrap();
    let netted = vm_mib().unwrap();
    println!(
        "network: state {:.0} MiB; hwm {:.0} MiB rss {:.0} MiB",
        net.memory_bytes() as f64 / (1 << 20) as f64,
        netted.0,
        netted.1
    );
    net.run(200, |_, _| {});
    let ran = vm_mib().unwrap();
    println!("ran 200 steps: hwm {:.0} MiB rss {:.0} MiB", ran.0, ran.1);
}
