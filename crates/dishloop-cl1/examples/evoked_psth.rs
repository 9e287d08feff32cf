//! Post-stimulus time histogram of a culture behind the device API: how many spikes per channel
//! per ms follow a pulse on the stimulated channels versus unstimulated control channels, and how
//! much of it falls inside the video protocol's 10 ms artifact blank and 10–60 ms count window.
//!
//! `cargo run --release -p dishloop-cl1 --example evoked_psth -- [config] [neurons] [trials] [amp_ua] [seed]`

use dishloop_cl1::culture::MeaCulture;
use dishloop_cl1::{Backend, BurstDesign, ChannelSet, Clock, Device, DeviceOptions, StimDesign};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a: Vec<String> = std::env::args().collect();
    let config = a.get(1).map_or("wagenaar_calibrated", |s| s.as_str());
    let neurons: usize = a.get(2).map_or(Ok(5000), |s| s.parse())?;
    let trials: usize = a.get(3).map_or(Ok(100), |s| s.parse())?;
    let amp: f32 = a.get(4).map_or(Ok(2.5), |s| s.parse())?;
    let seed: u64 = a.get(5).map_or(Ok(1), |s| s.parse())?;
    let culture = MeaCulture::build(config, seed, Some(neurons))?;
    println!("{}", culture.inner().net.n());
    let mut dev = Device::open(
        Backend::Culture(Box::new(culture)),
        DeviceOptions {
            clock: Clock::Accelerated,
            ..DeviceOptions::default()
        },
    );
    let set_a = [9u8, 10, 11, 12, 17, 18, 19, 20];
    let set_b = [41u8, 42, 43, 44, 49, 50, 51, 52];
    let pulse = StimDesign::cathodic_first(200, amp)?;
    const BINS: usize = 150; // ms after the stim
    let mut stim_hist = [0u64; BINS];
    let mut ctrl_hist = [0u64; BINS];
    let mut lp = dev.loop_(1000)?;
    // 2 s of spontaneous activity first.
    for _ in 0..2000 {
        lp.next_tick()?;
    }
    let period_ms = 300;
    for t in 0..trials {
        let (s, c) = if t % 2 == 0 {
            (&set_a, &set_b)
        } else {
            (&set_b, &set_a)
        };
        lp.device()
            .stim(ChannelSet::try_from(&s[..])?, pulse, BurstDesign::single())?;
        for k in 0..period_ms {
            let tick = lp.next_tick()?.ok_or("loop stopped")?;
            if k < BINS {
                for sp in &tick.analysis.spikes {
                    if s.contains(&sp.channel) {
                        stim_hist[k] += 1;
                    } else if c.contains(&sp.channel) {
                        ctrl_hist[k] += 1;
                    }
                }
            }
        }
    }
    let norm = (trials * 8) as f64;
    println!("ms_after_stim  stimulated  control   (spikes per channel per trial per 1 ms bin)");
    for k in 0..BINS {
        if k < 20 || k % 10 == 0 {
            println!(
                "{k:>4} {:>10.3} {:>9.3}",
                stim_hist[k] as f64 / norm,
                ctrl_hist[k] as f64 / norm
            );
        }
    }
    let sum = |h: &[u64; BINS], r: std::ops::Range<usize>| h[r].iter().sum::<u64>() as f64 / norm;
    println!(
        "0-10 ms (artifact blank): stimulated {:.2} control {:.2}; 10-60 ms (count window): stimulated {:.2} control {:.2}; 60-150 ms: stimulated {:.2} control {:.2}",
        sum(&stim_hist, 0..11),
        sum(&ctrl_hist, 0..11),
        sum(&stim_hist, 11..61),
        sum(&ctrl_hist, 11..61),
        sum(&stim_hist, 61..150),
        sum(&ctrl_hist, 61..150)
    );
    Ok(())
}
