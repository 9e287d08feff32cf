//! The same benchmark as `dishloop serve-cl1 --bench`, without building the whole CLI:
//! `cargo run --release -p dishloop-cl1 --example bench_video -- [random|zero|CONFIG] [latency_packets] [accelerated_s] [seed] [busy]`
//! (`busy` as the fifth argument runs the servers with `busy_poll`).

use dishloop_cl1::bench::{BenchOptions, bench_video};
use dishloop_cl1::culture::MeaCulture;
use dishloop_cl1::server::ServerError;
use dishloop_cl1::{Ablation, Backend};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<String> = std::env::args().collect();
    let source = a
        .get(1)
        .cloned()
        .unwrap_or_else(|| "wagenaar_calibrated".into());
    let latency_packets: usize = a.get(2).map_or(Ok(200), |s| s.parse())?;
    let accelerated_seconds: f64 = a.get(3).map_or(Ok(5.0), |s| s.parse())?;
    let seed: u64 = a.get(4).map_or(Ok(0), |s| s.parse())?;
    let busy_poll = a.get(5).is_some_and(|s| s == "busy");
    let mut make = || -> Result<Backend, ServerError> {
        let cfg = |e: &dyn std::fmt::Display| ServerError::Config(e.to_string());
        match source.as_str() {
            "random" => {
                Backend::ablation(Ablation::Random { rate_hz: 5.0 }, seed).map_err(|e| cfg(&e))
            }
            "zero" => Ok(Backend::Zero),
            name => Ok(Backend::Culture(Box::new(
                MeaCulture::build(name, seed, None).map_err(|e| cfg(&e))?,
            ))),
        }
    };
    let opts = BenchOptions {
        latency_packets,
        accelerated_seconds,
        seed,
        busy_poll,
        ..BenchOptions::default()
    };
    let report = bench_video(&mut make, &opts)?;
    print!("{report}");
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
