//! Benchmarks of the video-protocol server (entry point of `dishloop serve-cl1 --bench`).
//!
//! 1. **Latency beyond the windows** (wall clock, default 1 kHz): a client sends one stim at a
//!    time, after a random 0–2 ms pause so packets land at every phase of the device tick, and
//!    waits for the reply. The protocol's own windows are the wait for the first tick boundary
//!    at or after the arrival (the device reads once per tick) plus artifact + collect + 1 ticks
//!    (61 ms at 1 kHz). Reported: (a) the server's latency ([`ServerSummary::latency_p50_ms`]:
//!    kernel receive timestamp → `sendto` returned, minus those windows); (b) the client's
//!    round trip minus the same windows (the pickup wait computed from the server's tick grid),
//!    which adds the client's own wake-up and the loopback hops; and the split of (a) into the
//!    loop's lateness at the reply tick and its own work.
//! 2. **Accelerated packet rate**: the same server with simulated time advancing per packet; a
//!    client keeps `pipeline_depth` packets in flight for `accelerated_seconds`. Compared with the
//!    real device's rate, one packet per 62 ticks (≈ 16.1 packets/s at 1 kHz).

use crate::backend::Backend;
use crate::client::VideoClient;
use crate::device::{Clock, Device, DeviceOptions};
use crate::server::video::{VideoConfig, VideoServer};
use crate::server::{CommonConfig, ServerError, ServerSummary};
use crate::wire::video::VideoStim;
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// What to measure.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchOptions {
    /// Packets in the wall-clock latency run (each takes ≈ 62 ms at 1 kHz; 0 skips the run).
    pub latency_packets: usize,
    /// Device tick rate, Hz.
    pub tick_rate_hz: u32,
    /// Wall seconds of the accelerated run (0 skips it).
    pub accelerated_seconds: f64,
    /// Packets kept in flight during the accelerated run.
    pub pipeline_depth: usize,
    /// Encoder channels stimulated per packet (plus the 16 neutral feedback channels).
    pub stimulated_channels: usize,
    /// Seed of the client's stimulus values.
    pub seed: u64,
    /// Run the servers with [`CommonConfig::busy_poll`].
    pub busy_poll: bool,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            latency_packets: 200,
            tick_rate_hz: 1000,
            accelerated_seconds: 5.0,
            pipeline_depth: 4,
            stimulated_channels: 21,
            seed: 0,
            busy_poll: false,
        }
    }
}

/// Results of the wall-clock run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LatencyReport {
    /// Replies received.
    pub packets: usize,
    /// Artifact + collect + send ticks, in ms.
    pub windows_ms: f64,
    /// The server busy-polled (`--busy-poll`).
    pub busy_poll: bool,
    /// Arrival timestamps: "kernel" or "user".
    pub rx_timestamps: &'static str,
    /// (a) Server latency beyond the windows (arrival at the host → reply handed to the kernel,
    /// minus pickup wait and 61 ticks), median, ms.
    pub server_latency_p50_ms: f64,
    /// Same, 99th percentile, ms.
    pub server_latency_p99_ms: f64,
    /// Same, maximum, ms.
    pub server_latency_max_ms: f64,
    /// Server overhead beyond the tick at which the reply is due, median, ms.
    pub server_overhead_p50_ms: f64,
    /// Same, 99th percentile, ms.
    pub server_overhead_p99_ms: f64,
    /// The server's own work per reply (tick handed over → reply sent), median, ms.
    pub server_processing_p50_ms: f64,
    /// Same, 99th percentile, ms.
    pub server_processing_p99_ms: f64,
    /// Server-side arrival → reply send, 99th percentile, ms (windows included).
    pub server_arrival_to_reply_p99_ms: f64,
    /// (b) Client round trip minus the pickup wait (from the server's tick grid) and
    /// `windows_ms`, median, ms. Slightly negative when the loop woke late and still took a
    /// datagram that arrived after its boundary.
    pub client_beyond_windows_p50_ms: f64,
    /// Same, 99th percentile, ms.
    pub client_beyond_windows_p99_ms: f64,
    /// Client round trip minus `windows_ms` only (the pickup wait left in), median, ms.
    pub client_rtt_minus_ticks_p50_ms: f64,
    /// Same, 99th percentile, ms.
    pub client_rtt_minus_ticks_p99_ms: f64,
    /// 1-minute load average before and after the run (`/proc/loadavg`; Linux).
    pub load_avg_1m: Option<(f64, f64)>,
    /// Tick overruns during the run.
    pub tick_overruns: u64,
}

/// Results of the accelerated run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RateReport {
    /// Replies received.
    pub packets: u64,
    /// Wall seconds.
    pub wall_s: f64,
    /// Replies per wall second.
    pub packets_per_s: f64,
    /// Simulated seconds per wall second.
    pub sim_speed: f64,
    /// The real device's rate at this tick rate (one packet per artifact + collect + 2 ticks).
    pub device_packets_per_s: f64,
    /// `packets_per_s / device_packets_per_s`.
    pub speedup_vs_device: f64,
}

/// Both results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchReport {
    /// Backend description.
    pub backend: String,
    /// Device tick rate, Hz.
    pub tick_rate_hz: u32,
    /// Wall-clock latency run.
    pub latency: Option<LatencyReport>,
    /// Accelerated rate run.
    pub accelerated: Option<RateReport>,
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * v.len() as f64).ceil() as usize;
    v[rank.clamp(1, v.len()) - 1]
}

fn stim(rng: &mut Xoshiro256PlusPlus, n: usize) -> VideoStim {
    let active: Vec<usize> = (0..64)
        .filter(|c| !crate::wire::video::is_dead(*c))
        .collect();
    let mut s = VideoStim::silent(crate::wire::now_us());
    for &ch in active.iter().take(n.min(42)) {
        s.freq_hz[ch] = rng.random_range(4.0..40.0);
        s.amp_ua[ch] = rng.random_range(1.0..2.5);
    }
    for &ch in &active[42..58] {
        s.amp_ua[ch] = 1.0;
    }
    s
}

/// A server running in a thread: its address, stop flag and join handle.
type Serving = (
    std::net::SocketAddr,
    Arc<AtomicBool>,
    std::thread::JoinHandle<Result<ServerSummary, ServerError>>,
);

fn serve(
    backend: Backend,
    clock: Clock,
    tick_rate_hz: u32,
    busy_poll: bool,
) -> Result<(Serving, Arc<OnceLock<Instant>>), ServerError> {
    let server = VideoServer::bind(VideoConfig {
        stim_port: 0,
        tick_rate_hz,
        common: CommonConfig {
            status_every_s: 0.0,
            busy_poll,
            ..CommonConfig::default()
        },
        ..VideoConfig::default()
    })?;
    let addr = server.local_addr()?;
    let grid = server.tick_grid();
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let h = std::thread::spawn(move || {
        let mut dev = Device::open(
            backend,
            DeviceOptions {
                clock,
                ..DeviceOptions::default()
            },
        );
        server.run(&mut dev, &s2, &mut |_| {})
    });
    Ok(((addr, stop, h), grid))
}

/// The 1-minute load average (Linux `/proc/loadavg`).
pub fn load_avg_1m() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn join(
    stop: &AtomicBool,
    h: std::thread::JoinHandle<Result<ServerSummary, ServerError>>,
) -> Result<ServerSummary, ServerError> {
    stop.store(true, Ordering::Relaxed);
    h.join()
        .map_err(|_| ServerError::Config("server thread panicked".into()))?
}

fn client_err(e: crate::client::ClientError) -> ServerError {
    ServerError::Io {
        context: "bench client".into(),
        source: std::io::Error::other(e.to_string()),
    }
}

/// Runs the benchmark; `make_backend` is called once per run.
pub fn bench_video(
    make_backend: &mut dyn FnMut() -> Result<Backend, ServerError>,
    opts: &BenchOptions,
) -> Result<BenchReport, ServerError> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(opts.seed);
    let cfg = VideoConfig::default();
    let tick_ms = 1000.0 / opts.tick_rate_hz as f64;
    let windows_ticks = (cfg.artifact_ticks + cfg.collect_ticks + 1) as f64;
    let mut backend_name = String::new();
    let latency = if opts.latency_packets > 0 {
        let backend = make_backend()?;
        backend_name = backend.describe();
        let load_before = load_avg_1m();
        let ((addr, stop, h), grid) =
            serve(backend, Clock::WallClock, opts.tick_rate_hz, opts.busy_poll)?;
        let c = VideoClient::bind("127.0.0.1:0", addr, Duration::from_secs(5)).map_err(|e| {
            ServerError::Io {
                context: "bench client".into(),
                source: e,
            }
        })?;
        let tick = Duration::from_secs_f64(tick_ms / 1e3);
        let mut beyond = Vec::with_capacity(opts.latency_packets);
        let mut rtt_minus_ticks = Vec::with_capacity(opts.latency_packets);
        for _ in 0..opts.latency_packets {
            std::thread::sleep(Duration::from_micros(rng.random_range(0..2000)));
            let bytes = stim(&mut rng, opts.stimulated_channels).encode();
            let sent = Instant::now();
            c.send_raw(&bytes).map_err(|e| ServerError::Io {
                context: "bench client".into(),
                source: e,
            })?;
            c.recv().map_err(client_err)?;
            let got = Instant::now();
            let rtt_ms = (got - sent).as_secs_f64() * 1e3;
            rtt_minus_ticks.push(rtt_ms - windows_ticks * tick_ms);
            if let Some(&g0) = grid.get() {
                // First tick boundary at or after the send.
                let k = (sent.saturating_duration_since(g0).as_nanos()).div_ceil(tick.as_nanos());
                let boundary = g0 + tick * k as u32;
                let wait_ms = boundary.saturating_duration_since(sent).as_secs_f64() * 1e3;
                beyond.push(rtt_ms - wait_ms - windows_ticks * tick_ms);
            }
        }
        let sum = join(&stop, h)?;
        let load_after = load_avg_1m();
        Some(LatencyReport {
            packets: rtt_minus_ticks.len(),
            windows_ms: windows_ticks * tick_ms,
            busy_poll: sum.busy_poll,
            rx_timestamps: sum.rx_timestamps,
            server_latency_p50_ms: sum.latency_p50_ms.unwrap_or(f64::NAN),
            server_latency_p99_ms: sum.latency_p99_ms.unwrap_or(f64::NAN),
            server_latency_max_ms: sum.latency_max_ms.unwrap_or(f64::NAN),
            server_overhead_p50_ms: sum.overhead_p50_ms.unwrap_or(f64::NAN),
            server_overhead_p99_ms: sum.overhead_p99_ms.unwrap_or(f64::NAN),
            server_processing_p50_ms: sum.processing_p50_ms.unwrap_or(f64::NAN),
            server_processing_p99_ms: sum.processing_p99_ms.unwrap_or(f64::NAN),
            server_arrival_to_reply_p99_ms: sum.arrival_to_reply_p99_ms.unwrap_or(f64::NAN),
            client_beyond_windows_p50_ms: percentile(&mut beyond, 50.0),
            client_beyond_windows_p99_ms: percentile(&mut beyond, 99.0),
            client_rtt_minus_ticks_p50_ms: percentile(&mut rtt_minus_ticks, 50.0),
            client_rtt_minus_ticks_p99_ms: percentile(&mut rtt_minus_ticks, 99.0),
            load_avg_1m: load_before.zip(load_after),
            tick_overruns: sum.tick_overruns,
        })
    } else {
        None
    };
    let accelerated = if opts.accelerated_seconds > 0.0 {
        let backend = make_backend()?;
        backend_name = backend.describe();
        let ((addr, stop, h), _) = serve(
            backend,
            Clock::Accelerated,
            opts.tick_rate_hz,
            opts.busy_poll,
        )?;
        let c = VideoClient::bind("127.0.0.1:0", addr, Duration::from_secs(30)).map_err(|e| {
            ServerError::Io {
                context: "bench client".into(),
                source: e,
            }
        })?;
        let depth = opts.pipeline_depth.max(1);
        let t0 = Instant::now();
        let end = t0 + Duration::from_secs_f64(opts.accelerated_seconds);
        let mut in_flight = 0usize;
        let mut received = 0u64;
        while Instant::now() < end || in_flight > 0 {
            while in_flight < depth && Instant::now() < end {
                c.send(&stim(&mut rng, opts.stimulated_channels))
                    .map_err(|e| ServerError::Io {
                        context: "bench client".into(),
                        source: e,
                    })?;
                in_flight += 1;
            }
            c.recv().map_err(client_err)?;
            in_flight -= 1;
            received += 1;
        }
        let wall_s = t0.elapsed().as_secs_f64();
        let sum = join(&stop, h)?;
        let device_rate = opts.tick_rate_hz as f64 / (windows_ticks + 1.0);
        let rate = received as f64 / wall_s;
        Some(RateReport {
            packets: received,
            wall_s,
            packets_per_s: rate,
            sim_speed: sum.sim_s / wall_s,
            device_packets_per_s: device_rate,
            speedup_vs_device: rate / device_rate,
        })
    } else {
        None
    };
    Ok(BenchReport {
        backend: backend_name,
        tick_rate_hz: opts.tick_rate_hz,
        latency,
        accelerated,
    })
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "backend: {}  tick: {} Hz",
            self.backend, self.tick_rate_hz
        )?;
        if let Some(l) = &self.latency {
            writeln!(
                f,
                "latency ({} packets, windows: pickup wait + {:.1} ms; {} rx timestamps{}): \
                 (a) server rx->send beyond windows p50 {:.3} ms p99 {:.3} ms max {:.3} ms; \
                 (b) client RTT beyond windows p50 {:.3} ms p99 {:.3} ms",
                l.packets,
                l.windows_ms,
                l.rx_timestamps,
                if l.busy_poll { ", busy poll" } else { "" },
                l.server_latency_p50_ms,
                l.server_latency_p99_ms,
                l.server_latency_max_ms,
                l.client_beyond_windows_p50_ms,
                l.client_beyond_windows_p99_ms,
            )?;
            writeln!(
                f,
                "  loop lateness+work at the reply tick p50 {:.3} ms p99 {:.3} ms (own work p50 \
                 {:.3} ms p99 {:.3} ms); client RTT - ticks (pickup wait left in) p50 {:.3} ms \
                 p99 {:.3} ms; overruns {}; load avg {}",
                l.server_overhead_p50_ms,
                l.server_overhead_p99_ms,
                l.server_processing_p50_ms,
                l.server_processing_p99_ms,
                l.client_rtt_minus_ticks_p50_ms,
                l.client_rtt_minus_ticks_p99_ms,
                l.tick_overruns,
                l.load_avg_1m
                    .map_or("-".to_owned(), |(a, b)| format!("{a:.2} -> {b:.2}")),
            )?;
        }
        if let Some(a) = &self.accelerated {
            writeln!(
                f,
                "accelerated: {} packets in {:.2} s = {:.0} packets/s ({:.1}x the device's {:.1}/s), \
                 simulated time {:.1}x real time",
                a.packets,
                a.wall_s,
                a.packets_per_s,
                a.speedup_vs_device,
                a.device_packets_per_s,
                a.sim_speed
            )?;
        }
        Ok(())
    }
}
