//! `dishloop serve-cl1`: a virtual CL1 that the public client programs talk to unchanged over
//! UDP (diffusion-neuron's video protocol, doom-neuron's protocol). See `dishloop_cl1` for the
//! protocols, timing and device semantics, and `crates/dishloop-cl1/BENCHMARKS.md` for numbers.
//!
//! Examples:
//! ```text
//! dishloop serve-cl1 --protocol video                       # wagenaar_calibrated culture
//! dishloop serve-cl1 --protocol video --config default --seed 3 --accelerated
//! dishloop serve-cl1 --protocol video --ablation random
//! dishloop serve-cl1 --protocol doom --training-host 127.0.0.1 --ablation random --tick-rate 10
//! dishloop serve-cl1 --protocol doom --training-host 127.0.0.1 --stats-port 12351  # + BL-1 stats
//! dishloop serve-cl1 --protocol video --ablation zero --accelerated --max-runtime-s 60 --json
//! dishloop serve-cl1 --bench --json                        # culture; or --ablation random
//! dishloop serve-cl1 --bench --busy-poll --ablation random  # spinning loop, no OS wake-ups
//! ```
//!
//! Ctrl-C or SIGTERM stops the loop cleanly and prints the exit summary (with `--json`, as the
//! last stdout line).

use anyhow::Context;
use dishloop_cl1::bench::{BenchOptions, bench_video};
use dishloop_cl1::culture::MeaCulture;
use dishloop_cl1::server::doom::{DoomConfig, DoomServer};
use dishloop_cl1::server::video::{VideoConfig, VideoServer};
use dishloop_cl1::server::{CommonConfig, ServerSummary, stop_on_signals};
use dishloop_cl1::{Ablation, Backend, Clock, Device, DeviceOptions};

/// Which client program's protocol to serve.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Protocol {
    /// diffusion-neuron: 520-byte stim, 264-byte reply to the sender, 1 kHz tick.
    #[default]
    Video,
    /// doom-neuron: 72-byte stim, 40-byte replies to --training-host, feedback and events, 10 Hz.
    Doom,
}

/// Spike sources that need no culture (doom-neuron's `--spike-ablation`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AblationArg {
    /// Poisson spikes at --ablation-rate-hz on every recording channel, ignoring stimulation.
    Random,
    /// No spikes.
    Zero,
}

/// Flags of this subcommand (named after the device-side scripts' flags).
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Protocol to serve.
    #[arg(long, value_enum, default_value_t = Protocol::Video)]
    pub protocol: Protocol,
    /// Replace the culture by an ablation spike source.
    #[arg(long, value_enum)]
    pub ablation: Option<AblationArg>,
    /// Rate of `--ablation random`, Hz per channel (doom-neuron's default: 5).
    #[arg(long, default_value_t = 5.0)]
    pub ablation_rate_hz: f64,
    /// Culture config: an embedded name or a YAML path (used unless --ablation is given).
    #[arg(long, default_value = "wagenaar_calibrated")]
    pub config: String,
    /// Shrink the culture to at most this many neurons, keeping its density.
    #[arg(long)]
    pub max_neurons: Option<usize>,
    /// Threads simulating the culture (default: all cores; 1 is faster for a 5 000-neuron
    /// culture on a small, busy machine).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Seed of the culture / ablation spikes.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Run simulated time as fast as possible (it advances per packet) instead of wall-clock.
    #[arg(long)]
    pub accelerated: bool,
    /// Address to bind the listening sockets to.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port the device listens on for stim packets.
    #[arg(long, default_value_t = 12345)]
    pub stim_port: u16,
    /// Port spike replies go to (video: only with --reply-host; doom: on --training-host).
    #[arg(long, default_value_t = 12346)]
    pub spike_port: u16,
    /// doom: event port the device listens on.
    #[arg(long, default_value_t = 12347)]
    pub event_port: u16,
    /// doom: feedback port the device listens on.
    #[arg(long, default_value_t = 12348)]
    pub feedback_port: u16,
    /// doom: also send BL-1's 356-byte statistics packet to --training-host at this port once per
    /// tick (BL-1 uses 12351; burst flag = population rate above EMA mean + 1.5 SD).
    #[arg(long)]
    pub stats_port: Option<u16>,
    /// Device ticks per second (default: video 1000, doom 10; at most 25000).
    #[arg(long = "tick-rate")]
    pub tick_rate_hz: Option<u32>,
    /// video: send every reply to this host's --spike-port instead of the sender's address.
    #[arg(long)]
    pub reply_host: Option<String>,
    /// doom: host that receives the spike replies (required for --protocol doom).
    #[arg(long)]
    pub training_host: Option<String>,
    /// video: ticks during which spikes are discarded after a stim.
    #[arg(long, default_value_t = 10)]
    pub artifact_ticks: u32,
    /// video: ticks during which spikes are counted.
    #[arg(long, default_value_t = 50)]
    pub collect_ticks: u32,
    /// doom: artifact wait, ms (artifact ticks = ceil(wait · tick rate)).
    #[arg(long, default_value_t = 50.0)]
    pub artifact_wait_ms: f64,
    /// doom: collect window, ms (collect ticks = max(1, ceil(window · tick rate))).
    #[arg(long, default_value_t = 50.0)]
    pub collect_window_ms: f64,
    /// End the run cleanly after this many seconds.
    #[arg(long)]
    pub max_runtime_s: Option<f64>,
    /// Seconds between status lines on stderr (0: none).
    #[arg(long, default_value_t = 10.0)]
    pub status_every_s: f64,
    /// Also refuse what the real device accepts: oversize datagrams (truncated by the OS) and
    /// values outside the client programs' protocol ranges.
    #[arg(long)]
    pub strict: bool,
    /// Spin instead of sleeping: busy-wait for each tick boundary and poll the sockets from the
    /// loop, so no OS wake-up delays a reply. Uses one core at 100 % for the whole run; give the
    /// server a dedicated core (e.g. `taskset -c 1`).
    #[arg(long)]
    pub busy_poll: bool,
    /// Print the exit summary (or benchmark report) as one JSON object on the last line.
    #[arg(long)]
    pub json: bool,
    /// Benchmark the video server instead of serving: wall-clock latency beyond the windows and
    /// accelerated packet rate.
    #[arg(long)]
    pub bench: bool,
    /// --bench: packets in the wall-clock latency run (≈ 62 ms each at 1 kHz).
    #[arg(long, default_value_t = 200)]
    pub bench_packets: usize,
    /// --bench: seconds of the accelerated run.
    #[arg(long, default_value_t = 5.0)]
    pub bench_seconds: f64,
}

impl Default for Args {
    /// The same values as the flags' defaults.
    fn default() -> Self {
        Self {
            protocol: Protocol::Video,
            ablation: None,
            ablation_rate_hz: 5.0,
            config: "wagenaar_calibrated".into(),
            max_neurons: None,
            threads: None,
            seed: 0,
            accelerated: false,
            host: "127.0.0.1".into(),
            stim_port: 12345,
            spike_port: 12346,
            event_port: 12347,
            feedback_port: 12348,
            stats_port: None,
            tick_rate_hz: None,
            reply_host: None,
            training_host: None,
            artifact_ticks: 10,
            collect_ticks: 50,
            artifact_wait_ms: 50.0,
            collect_window_ms: 50.0,
            max_runtime_s: None,
            status_every_s: 10.0,
            strict: false,
            busy_poll: false,
            json: false,
            bench: false,
            bench_packets: 200,
            bench_seconds: 5.0,
        }
    }
}

fn backend(args: &Args) -> anyhow::Result<Backend> {
    match args.ablation {
        Some(AblationArg::Zero) => Ok(Backend::ablation(Ablation::Zero, args.seed)?),
        Some(AblationArg::Random) => Ok(Backend::ablation(
            Ablation::Random {
                rate_hz: args.ablation_rate_hz,
            },
            args.seed,
        )?),
        None => {
            let culture = MeaCulture::build(&args.config, args.seed, args.max_neurons)
                .with_context(|| format!("building culture `{}`", args.config))?;
            Ok(Backend::Culture(Box::new(culture)))
        }
    }
}

/// Runs the subcommand.
pub fn run(args: Args) -> anyhow::Result<()> {
    let threads = match args.threads {
        Some(0) => anyhow::bail!("--threads must be at least 1"),
        Some(t) => t,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    // Global, so the benchmark's server threads use it too.
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .context("building the simulation thread pool")?;
    serve(args)
}

fn serve(args: Args) -> anyhow::Result<()> {
    let common = CommonConfig {
        host: args.host.clone(),
        max_runtime_s: args.max_runtime_s,
        status_every_s: args.status_every_s,
        strict: args.strict,
        busy_poll: args.busy_poll,
    };
    if args.bench {
        let opts = BenchOptions {
            latency_packets: args.bench_packets,
            tick_rate_hz: args.tick_rate_hz.unwrap_or(1000),
            accelerated_seconds: args.bench_seconds,
            seed: args.seed,
            busy_poll: args.busy_poll,
            ..BenchOptions::default()
        };
        let report = bench_video(
            &mut || {
                backend(&args).map_err(|e| dishloop_cl1::server::ServerError::Config(e.to_string()))
            },
            &opts,
        )?;
        print!("{report}");
        if args.json {
            println!("{}", serde_json::to_string(&report)?);
        }
        return Ok(());
    }
    let backend = backend(&args)?;
    let clock = if args.accelerated {
        Clock::Accelerated
    } else {
        Clock::WallClock
    };
    let mut dev = Device::open(
        backend,
        DeviceOptions {
            clock,
            raw_seed: args.seed,
            ..DeviceOptions::default()
        },
    );
    // Ctrl-C / SIGTERM end the run cleanly (the loop polls the flag at least every 50 ms), so
    // the summary is still printed; a second signal exits at once.
    let stop = stop_on_signals().context("installing the SIGINT/SIGTERM handler")?;
    let mut on_status = |s: &dishloop_cl1::server::StatusLine| eprintln!("{s}");
    let summary = match args.protocol {
        Protocol::Video => {
            let server = VideoServer::bind(VideoConfig {
                common,
                stim_port: args.stim_port,
                spike_port: args.spike_port,
                reply_host: args.reply_host.clone(),
                tick_rate_hz: args.tick_rate_hz.unwrap_or(1000),
                artifact_ticks: args.artifact_ticks,
                collect_ticks: args.collect_ticks,
            })?;
            eprintln!(
                "serve-cl1 video: listening on {} ({}; {}), replies to {}",
                server.local_addr()?,
                dev.describe_backend(),
                clock_name(clock),
                args.reply_host
                    .as_deref()
                    .map(|h| format!("{h}:{}", args.spike_port))
                    .unwrap_or_else(|| "the sender".into())
            );
            server.run(&mut dev, &stop, &mut on_status)?
        }
        Protocol::Doom => {
            let training_host = args
                .training_host
                .clone()
                .context("--protocol doom needs --training-host (where spike replies go)")?;
            let server = DoomServer::bind(DoomConfig {
                common,
                training_host: training_host.clone(),
                stim_port: args.stim_port,
                spike_port: args.spike_port,
                event_port: args.event_port,
                feedback_port: args.feedback_port,
                tick_rate_hz: args.tick_rate_hz.unwrap_or(10),
                artifact_wait_ms: args.artifact_wait_ms,
                collect_window_ms: args.collect_window_ms,
                stats_port: args.stats_port,
            })?;
            let a = server.local_addrs()?;
            eprintln!(
                "serve-cl1 doom: stim {} event {} feedback {} ({}; {}), replies to {}:{}",
                a.stim,
                a.event,
                a.feedback,
                dev.describe_backend(),
                clock_name(clock),
                training_host,
                args.spike_port
            );
            server.run(&mut dev, &stop, &mut on_status)?
        }
    };
    print_summary(&summary);
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    }
    Ok(())
}

fn clock_name(c: Clock) -> &'static str {
    match c {
        Clock::WallClock => "wall clock",
        Clock::Accelerated => "accelerated",
    }
}

fn print_summary(s: &ServerSummary) {
    let ms = |v: Option<f64>| v.map_or("-".to_owned(), |x| format!("{x:.3}"));
    println!(
        "serve-cl1 {} done ({:?}): {:.1} s wall, {:.1} s simulated, {} packets in, {} replies out, \
         {} rejected {:?}, {} oversize truncated, channels skipped {:?}, {} out of protocol range, \
         {} ticks ({} overruns, max late {:.2} ms), {} pulses, mean rate {:.2} Hz/channel, \
         latency beyond windows p50 {} ms p99 {} ms ({} rx timestamps{}), arrival to reply \
         p50 {} ms p99 {} ms",
        s.protocol,
        s.stop_reason,
        s.wall_s,
        s.sim_s,
        s.packets_in,
        s.replies_out,
        s.rejected,
        s.rejected_by_reason,
        s.oversize_truncated,
        s.channels_skipped,
        s.channels_out_of_protocol_range,
        s.ticks,
        s.tick_overruns,
        s.max_late_ms,
        s.pulses_delivered,
        s.mean_rate_hz,
        ms(s.latency_p50_ms),
        ms(s.latency_p99_ms),
        s.rx_timestamps,
        if s.busy_poll { ", busy poll" } else { "" },
        ms(s.arrival_to_reply_p50_ms),
        ms(s.arrival_to_reply_p99_ms),
    );
    if let Some(d) = &s.doom {
        println!(
            "  doom: {} replies dropped by re-arm, {} feedback bursts, {} feedback interrupts, events {:?}, {} stats packets",
            d.replies_dropped_by_rearm,
            d.feedback_stims,
            d.feedback_interrupts,
            d.events,
            d.stats_packets
        );
    }
}
